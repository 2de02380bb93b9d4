"""Speech-to-speech bots traced: OpenAI Realtime and Gemini Live against local websocket fakes.

A real pipeline per service (``provision.demo.s2s_bot``), instrumented: one ``pipecat.turn`` per exchange
with voice-to-voice latency, one ``pipecat.llm_service`` per response with its ``ChatCompletion`` child
carrying the tokens the service reported, the user's and the bot's words, tool calls, failures, barge-ins.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import StatusCode
from pipecat.adapters.llm.schemas.function_schema import FunctionSchema
from pipecat.adapters.llm.schemas.tools_schema import ToolsSchema
from pipecat.services.llm_service import FunctionCallParams

from instrumentation import contract as c
from instrumentation import instrument_pipeline
from provision.demo import s2s_bot
from provision.demo.fakes.realtime import ExchangeScript, ToolCall, response_usage
from provision.demo.s2s_bot import KICKOFF, run_conversation
from tests.instrumentation.conftest import Tracing
from tests.instrumentation.spanutil import attrs, named, parent_of

GREETING = "Hello, how can I help you today?"
WEATHER = FunctionSchema(
    name="get_weather", description="The weather.", properties={"city": {"type": "string"}}, required=["city"]
)
PROVIDER = {"openai": "openai", "gemini": "google"}


@pytest.fixture(params=["openai", "gemini"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def converse(kind: str, script: Sequence[ExchangeScript], session: str, **args: Any) -> None:
    tools = args.pop("tools", False)
    handler = args.pop("handler", None)
    options = args.pop("fake_options", {})

    async def go() -> None:
        schema = ToolsSchema(standard_tools=[WEATHER]) if tools else None
        async with s2s_bot.serve(kind, script, tools=schema, **options) as (_fake, bot):
            if handler is not None:
                bot.llm.register_function("get_weather", handler)
            await run_conversation(bot, before_run=lambda w: instrument_pipeline(w, session), **args)

    asyncio.run(go())


def turns(spans: list[ReadableSpan]) -> list[ReadableSpan]:
    return sorted(named(spans, c.TURN_SPAN), key=lambda s: attrs(s)[c.TURN_NUMBER])


def under(parent: ReadableSpan, spans: list[ReadableSpan], name: str) -> list[ReadableSpan]:
    return sorted((s for s in named(spans, name) if parent_of(s, spans) is parent), key=lambda s: s.start_time or 0)


def test_each_exchange_is_a_turn_with_latency_words_and_the_reported_tokens(clean: Tracing, kind: str) -> None:
    script = [
        ExchangeScript("Hi there, who are you?", "I am a test voice bot."),
        ExchangeScript("Bye now.", "Goodbye."),
    ]
    converse(kind, script, f"s2s-{kind}", exchanges=2)
    spans = clean.spans()
    greeting, *exchanges = turns(spans)
    assert len(exchanges) == 2
    for turn, (prompt, reply) in zip(
        [greeting, *exchanges], [([], GREETING), *(([s.user_transcript], s.reply) for s in script)], strict=True
    ):
        (llm,) = under(turn, spans, c.LLM_SPAN)
        (chat,) = under(llm, spans, c.CHAT_SPAN)
        usage = response_usage(prompt, reply)
        a, ca = attrs(llm), attrs(chat)
        assert (ca[c.OI_PROMPT_TOKENS], ca[c.OI_COMPLETION_TOKENS]) == (
            usage["prompt_tokens"],
            usage["completion_tokens"],
        )
        assert (attrs(turn)[c.PROMPT_TOKENS], attrs(turn)[c.COMPLETION_TOKENS]) == (
            usage["prompt_tokens"],
            usage["completion_tokens"],
        )
        assert a[c.ASSISTANT_MESSAGE] == reply and a[c.PROVIDER] == PROVIDER[kind] == ca[c.OI_PROVIDER]
        assert json.loads(ca[c.OI_OUTPUT])["choices"][0]["message"]["content"] == reply
        assert ca[c.OTEL_SESSION_ID] == f"s2s-{kind}" and ca[c.OI_SPAN_KIND] == "LLM"
        assert turn.status.status_code is StatusCode.OK
        if prompt:
            assert a[c.USER_MESSAGE] == prompt[0]
            assert json.loads(ca[c.OI_INPUT])["messages"] == [{"role": "user", "content": prompt[0]}]
            # The fake answers 50 ms after the user's speech ends; the bot then speaks. The response latency
            # runs to the service's first audio, which the output transport then starts playing.
            assert 0 < attrs(turn)[c.VOICE_TO_VOICE_MS] < 2000
            assert 0 < attrs(turn)[c.RESPONSE_MS] <= attrs(turn)[c.VOICE_TO_VOICE_MS]
        else:
            # a greeting answers no input of the user's
            assert c.RESPONSE_MS not in attrs(turn) and c.VOICE_TO_VOICE_MS not in attrs(turn)
    assert KICKOFF not in attrs(under(greeting, spans, c.LLM_SPAN)[0]).get(c.USER_MESSAGE, "")


def test_a_tool_call_is_a_tool_span_under_its_turn(clean: Tracing, kind: str) -> None:
    async def get_weather(params: FunctionCallParams) -> None:
        await asyncio.sleep(0.05)
        await params.result_callback({"conditions": "sunny"})

    script = [
        ExchangeScript(
            "Weather in Paris?", "It is sunny in Paris.", tool_call=ToolCall("get_weather", {"city": "Paris"})
        )
    ]
    converse(kind, script, f"s2s-{kind}-tool", exchanges=1, tools=True, handler=get_weather)
    spans = clean.spans()
    tools = named(spans, c.TOOL_SPAN)
    assert len(tools) == 1
    (tool,) = tools
    turn = parent_of(tool, spans)
    assert turn is not None and turn.name == c.TURN_SPAN and attrs(turn)[c.TURN_NUMBER] == 2
    assert attrs(tool)[c.OI_TOOL_NAME] == "get_weather" and json.loads(attrs(tool)[c.OI_INPUT]) == {"city": "Paris"}
    assert json.loads(attrs(tool)[c.OI_OUTPUT]) == {"conditions": "sunny"}
    assert attrs(turn)[c.TOOL_CALLS] == 1 and attrs(turn)[c.TOOL_MS] >= 50


def test_a_failed_exchange_fails_its_turn_at_once(clean: Tracing, kind: str) -> None:
    script = [ExchangeScript("Hi there.", "Hello."), ExchangeScript("Are you there?", "", failure="fake outage")]
    converse(kind, script, f"s2s-{kind}-fail", exchanges=2, end_wait=1.5)
    finished = time.time()
    spans = clean.spans()
    failed = [t for t in turns(spans) if t.status.status_code is StatusCode.ERROR]
    assert len(failed) == 1
    (turn,) = failed
    assert attrs(turn)[c.FAILED_STAGE] == "llm" and "fake outage" in attrs(turn)[c.ERROR]
    # Ended when the service gave up, not at the pipeline's end 1.5 s later.
    assert turn.end_time is not None and finished - turn.end_time / 1e9 > 1.4


def test_a_barge_in_marks_the_turn_interrupted_and_the_response_cancelled(clean: Tracing, kind: str) -> None:
    script = [ExchangeScript("Tell me a long story.", "Once upon a time there was a bot.", audio_seconds=2.0)]
    converse(kind, script, f"s2s-{kind}-barge", exchanges=2, barge_in=1, fake_options={"chunk_interval": 0.1})
    spans = clean.spans()
    interrupted = [t for t in turns(spans) if attrs(t)[c.INTERRUPTED] is True]
    assert [attrs(t)[c.TURN_NUMBER] for t in interrupted] == [2]
    assert all(t.status.status_code is not StatusCode.ERROR for t in turns(spans))
    (llm,) = under(interrupted[0], spans, c.LLM_SPAN)
    assert llm.status.status_code is not StatusCode.ERROR
