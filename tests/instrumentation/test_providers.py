"""Every LLM family traced alike: real Pipecat text pipelines against local fakes of each provider's API.

Per provider: plain turns, a tool call, a failing call (HTTP 500), a refused connection, a barge-in while
the LLM thinks, and two sessions at once. Each checks the spans a user would look at in O2: one
``pipecat.llm_service`` per call with exactly one LLM child carrying the provider's reported tokens, the
provider named, TOOL spans, failed turns ending at once with the error, cancelled calls saying so.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import StatusCode
from pipecat.services.fireworks.llm import FireworksLLMService
from pipecat.services.llm_service import FunctionCallParams, LLMService
from pipecat.services.openai.llm import OpenAILLMService

from instrumentation import contract as c
from provision.demo.fakes.anthropic import FakeAnthropic, anthropic_llm
from provision.demo.fakes.bedrock import FakeBedrock, bedrock_llm
from provision.demo.fakes.gemini import FakeGemini, gemini_llm
from provision.demo.fakes.openai import ChatCall, FakeOpenAI, usage_for
from provision.demo.receiver import ReceivedSpan
from tests.instrumentation.conftest import Tracing
from tests.instrumentation.spanutil import attrs, named, parent_of
from tests.instrumentation.textbot import Conversation, Line, converse

REPLY = "Sure, here is a short answer."
WEATHER = "It is sunny in Paris today."


@dataclass(frozen=True)
class Provider:
    """A provider's fake server and how to build its Pipecat service pointed at it."""

    name: str  # what llm.provider says
    fake: Callable[..., AbstractAsyncContextManager[Any]]
    llm: Callable[[str], LLMService]
    sdk_scope: str | None = None  # the provider SDK's own tracer, when it makes spans


PROVIDERS = [
    Provider(
        "openai",
        FakeOpenAI,
        lambda url: OpenAILLMService(
            api_key="sk-fake", base_url=url, settings=OpenAILLMService.Settings(model="gpt-4o-mini")
        ),
    ),
    Provider("anthropic", FakeAnthropic, lambda url: anthropic_llm(url, max_retries=0), "com.anthropic.sdk.python"),
    Provider("google", FakeGemini, gemini_llm),
    Provider("aws", FakeBedrock, bedrock_llm),
]


def _run(provider: Provider, script: list[Line], session: str, **fake_args: Any) -> tuple[Conversation, list[ChatCall]]:
    register: Callable[[LLMService], None] | None = fake_args.pop("register", None)

    async def go() -> tuple[Conversation, list[ChatCall]]:
        async with provider.fake(**fake_args) as fake:
            done = await converse(provider.llm(fake.base_url), script, session_id=session, register=register)
            return done, list(fake.chat_calls)

    return asyncio.run(go())


def _turns(spans: list[ReadableSpan]) -> list[ReadableSpan]:
    return sorted(named(spans, c.TURN_SPAN), key=lambda s: attrs(s)[c.TURN_NUMBER])


def _children(span: ReadableSpan, spans: list[ReadableSpan], name: str) -> list[ReadableSpan]:
    return [s for s in named(spans, name) if parent_of(s, spans) is span]


def _llm_children(llm: ReadableSpan, spans: list[ReadableSpan]) -> list[ReadableSpan]:
    return [s for s in spans if parent_of(s, spans) is llm]


def _tokens_carriers(exported: list[ReceivedSpan]) -> list[ReceivedSpan]:
    """Spans O2 would take tokens from (openobserve-llm.md §2b: llm.token_count.* or gen_ai.usage.*)."""
    keys = ("llm.token_count.prompt", "gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens")
    return [s for s in exported if any(k in s.attributes for k in keys)]


@pytest.fixture(params=PROVIDERS, ids=[p.name for p in PROVIDERS])
def provider(request: pytest.FixtureRequest) -> Provider:
    value: Provider = request.param
    return value


def test_plain_turns_have_one_llm_span_and_one_llm_child_with_the_reported_tokens(
    clean: Tracing, provider: Provider
) -> None:
    script = [Line("Hello there."), Line("Tell me more.")]
    done, calls = _run(provider, script, f"sess-{provider.name}", replies=[REPLY])
    spans = clean.spans()
    turns = _turns(spans)
    assert [attrs(t)[c.TURN_NUMBER] for t in turns] == [1, 2]
    assert len(calls) == 2
    for turn, call in zip(turns, calls, strict=True):
        (llm,) = _children(turn, spans, c.LLM_SPAN)
        (chat,) = _children(llm, spans, c.CHAT_SPAN)
        a, ca = attrs(llm), attrs(chat)
        assert a[c.PROVIDER] == provider.name and ca[c.OI_PROVIDER] == provider.name == ca[c.OI_SYSTEM]
        assert call.usage is not None
        reported = (call.usage["prompt_tokens"], call.usage["completion_tokens"])
        assert (a[c.PROMPT_TOKENS], a[c.COMPLETION_TOKENS]) == reported
        assert (ca[c.OI_PROMPT_TOKENS], ca[c.OI_COMPLETION_TOKENS]) == (a[c.PROMPT_TOKENS], a[c.COMPLETION_TOKENS])
        assert attrs(turn)[c.PROMPT_TOKENS] == call.usage["prompt_tokens"]
        assert ca[c.OI_SPAN_KIND] == "LLM" and ca[c.OTEL_SESSION_ID] == done.session_id
        assert json.loads(ca[c.OI_OUTPUT])["choices"][0]["message"]["content"] == REPLY
        sent = json.loads(ca[c.OI_INPUT])["messages"]
        assert sent[-1]["role"] == "user" and call.messages[-1]["content"] in json.dumps(sent[-1])
        assert turn.status.status_code is StatusCode.OK and llm.status.status_code is StatusCode.OK
    # O2 sums tokens over every span of a trace: exactly one span per call may carry them.
    carriers = _tokens_carriers(clean.exported())
    assert len(carriers) == len(calls)
    assert all(s.name == c.CHAT_SPAN for s in carriers)


def test_a_tool_call_is_a_tool_span_under_the_turn_and_the_turn_says_how_long_tools_took(
    clean: Tracing, provider: Provider
) -> None:
    def register(llm: LLMService) -> None:
        async def get_weather(params: FunctionCallParams) -> None:
            await asyncio.sleep(0.1)
            await params.result_callback({"forecast": "sunny", "city": params.arguments["city"]})

        llm.register_function("get_weather", get_weather)

    _done, calls = _run(
        provider,
        [Line("What is the weather in Paris?")],
        f"sess-{provider.name}-tool",
        replies=["unused", WEATHER],
        tool_calls={1: ("get_weather", {"city": "Paris"})},
        register=register,
    )
    spans = clean.spans()
    (turn,) = _turns(spans)
    assert len(calls) == 2 and len(_children(turn, spans, c.LLM_SPAN)) == 2
    (tool,) = _children(turn, spans, c.TOOL_SPAN)
    t = attrs(tool)
    assert t[c.OI_SPAN_KIND] == "TOOL" and t[c.OI_TOOL_NAME] == "get_weather"
    assert json.loads(t[c.OI_INPUT]) == {"city": "Paris"}
    assert json.loads(t[c.OI_OUTPUT]) == {"forecast": "sunny", "city": "Paris"}
    assert tool.status.status_code is StatusCode.OK
    assert tool.end_time is not None and tool.start_time is not None
    took_ms = (tool.end_time - tool.start_time) / 1e6
    assert took_ms >= 100
    assert attrs(turn)[c.TOOL_CALLS] == 1 and 100 <= attrs(turn)[c.TOOL_MS] <= took_ms + 5
    # The tool's name and arguments are in the first LLM call's answer too, for every provider.
    first_llm = min(_children(turn, spans, c.LLM_SPAN), key=lambda s: s.start_time or 0)
    (chat,) = _children(first_llm, spans, c.CHAT_SPAN)
    assert "get_weather" in attrs(chat)[c.OI_OUTPUT] and "Paris" in attrs(chat)[c.OI_OUTPUT]
    assert attrs(turn)[c.PROMPT_TOKENS] == sum(call.usage["prompt_tokens"] for call in calls if call.usage)


def test_a_failing_call_fails_its_turn_at_once_with_the_error(clean: Tracing, provider: Provider) -> None:
    done, _calls = _run(provider, [Line("Hello?"), Line("Are you there?")], f"sess-{provider.name}-500", fail_calls=[1])
    spans = clean.spans()
    first, second = _turns(spans)
    (llm,) = _children(first, spans, c.LLM_SPAN)
    assert llm.status.status_code is StatusCode.ERROR and attrs(llm)[c.ERROR]
    assert first.status.status_code is StatusCode.ERROR
    assert attrs(first)[c.FAILED_STAGE] == "llm" and attrs(first)[c.ERROR]
    assert "500" in attrs(first)[c.ERROR] or "rror" in attrs(first)[c.ERROR]
    # It ended when the call gave up, not at the user's next words.
    assert first.end_time is not None and llm.end_time is not None
    assert (first.end_time - llm.end_time) / 1e9 < 0.1
    assert first.end_time / 1e9 < done.said_at[1]
    assert second.status.status_code is StatusCode.OK


def test_a_refused_connection_fails_the_turn_at_once(clean: Tracing, provider: Provider) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    closed = f"http://127.0.0.1:{port}" + ("/v1" if provider.name == "openai" else "")

    async def go() -> Conversation:
        return await converse(provider.llm(closed), [Line("Hello?")], session_id=f"sess-{provider.name}-refused")

    asyncio.run(go())
    spans = clean.spans()
    (turn,) = _turns(spans)
    (llm,) = _children(turn, spans, c.LLM_SPAN)
    assert turn.status.status_code is StatusCode.ERROR and llm.status.status_code is StatusCode.ERROR
    assert attrs(turn)[c.FAILED_STAGE] == "llm"
    assert turn.end_time is not None and llm.end_time is not None and (turn.end_time - llm.end_time) / 1e9 < 0.1


def test_a_barge_in_while_the_llm_thinks_cancels_the_call_without_failing_the_turn(
    clean: Tracing, provider: Provider
) -> None:
    _done, calls = _run(
        provider,
        [Line("Tell me a long story."), Line("Actually, stop.", barge_in=True)],
        f"sess-{provider.name}-barge",
        replies=[REPLY],
        slow_calls=[1],
        slow_ttft=3.0,
    )
    spans = clean.spans()
    llms = sorted(named(spans, c.LLM_SPAN), key=lambda s: s.start_time or 0)
    cancelled = [s for s in llms if attrs(s).get(c.CANCELLED) is True]
    assert len(cancelled) == 1 and cancelled[0] is llms[0]
    assert cancelled[0].status.status_code is StatusCode.UNSET
    for chat in _llm_children(cancelled[0], spans):
        assert chat.status.status_code is not StatusCode.ERROR
    assert all(t.status.status_code is not StatusCode.ERROR for t in _turns(spans))
    assert len(calls) == 2
    assert attrs(llms[-1]).get(c.COMPLETION_TOKENS) == usage_for(calls[-1].messages, REPLY)["completion_tokens"]


def test_two_sessions_at_once_keep_their_own_spans(clean: Tracing, provider: Provider) -> None:
    async def go() -> list[Conversation]:
        async with provider.fake(replies=[REPLY]) as fake:
            script = [Line("Hi there."), Line("Bye.")]
            sessions = [converse(provider.llm(fake.base_url), script, session_id=f"s-{n}") for n in ("a", "b")]
            return list(await asyncio.gather(*sessions))

    asyncio.run(go())
    spans = clean.spans()
    for session in ("s-a", "s-b"):
        mine = [s for s in spans if attrs(s).get(c.SESSION_ID) == session]
        assert sorted(attrs(t)[c.TURN_NUMBER] for t in named(mine, c.TURN_SPAN)) == [1, 2]
        assert len(named(mine, c.LLM_SPAN)) == 2 and len(named(mine, c.CHAT_SPAN)) == 2
        for llm in named(mine, c.LLM_SPAN):
            turn = parent_of(llm, spans)
            assert turn is not None and attrs(turn)[c.SESSION_ID] == session


@pytest.mark.parametrize("sends_usage", [True, False], ids=["usage-unasked", "no-usage"])
def test_a_provider_that_is_not_asked_for_usage_gets_whatever_it_reports(clean: Tracing, sends_usage: bool) -> None:
    # Pipecat's Fireworks service drops stream_options, so usage comes only if the provider sends it unasked.
    def fireworks(url: str) -> LLMService:
        return FireworksLLMService(api_key="fw-fake", base_url=url, settings=FireworksLLMService.Settings(model="m"))

    provider = Provider("fireworks", FakeOpenAI, fireworks)
    _done, calls = _run(provider, [Line("Hello there.")], "sess-fireworks", replies=[REPLY], usage_unasked=sends_usage)
    spans = clean.spans()
    (turn,) = _turns(spans)
    (llm,) = _children(turn, spans, c.LLM_SPAN)
    (chat,) = _children(llm, spans, c.CHAT_SPAN)
    assert attrs(llm)[c.PROVIDER] == attrs(chat)[c.OI_PROVIDER] == "fireworks"
    (call,) = calls
    if sends_usage:
        assert call.usage is not None
        assert attrs(chat)[c.OI_PROMPT_TOKENS] == attrs(turn)[c.PROMPT_TOKENS] == call.usage["prompt_tokens"]
    else:
        assert call.usage is None
        assert c.OI_PROMPT_TOKENS not in attrs(chat) and c.PROMPT_TOKENS not in attrs(llm)
        assert attrs(turn)[c.PROMPT_TOKENS] == 0
    assert turn.status.status_code is StatusCode.OK
