"""The ``ChatCompletion`` span our pipeline hooks write, checked against what the fake server saw.

Inside an instrumented pipeline the span is ours (OpenInference's OpenAI wrapper is installed but
suppressed during the call), with OpenInference's attribute names and values: the request JSON the
server received, the answer, the usage the server reported, the response model.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

from openinference.instrumentation.openai import OpenAIInstrumentor
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import StatusCode
from pipecat.pipeline.worker import PipelineWorker
from pipecat.processors.frame_processor import FrameProcessor
from pipecat.services.llm_service import FunctionCallParams
from pipecat.services.openai.llm import OpenAILLMService

from instrumentation import contract as c
from instrumentation.runtime import RUNTIME, TRACER_NAME
from provision.demo.bot import SessionResult, run_session
from provision.demo.fakes.openai import FakeOpenAI
from tests.instrumentation.conftest import Tracing
from tests.instrumentation.spanutil import attrs, named, parent_of

WEATHER_REPLY = "It is sunny in Paris today."


def processors(processor: FrameProcessor) -> Iterator[FrameProcessor]:
    yield processor
    for child in processor.processors:
        yield from processors(child)


def chats_under_llm_spans(spans: list[ReadableSpan]) -> list[tuple[ReadableSpan, ReadableSpan]]:
    """(pipecat.llm_service, its ChatCompletion) pairs, oldest first; each llm span has exactly one."""
    pairs = []
    for llm in named(spans, c.LLM_SPAN):
        (chat,) = [s for s in named(spans, c.CHAT_SPAN) if parent_of(s, spans) is llm]
        pairs.append((llm, chat))
    return pairs


def run(fake_args: dict[str, Any], **session_args: Any) -> SessionResult:
    async def go() -> SessionResult:
        async with FakeOpenAI(**fake_args) as fake:
            return await run_session(fake.base_url, **session_args)

    return asyncio.run(go())


def test_each_call_has_one_chat_completion_carrying_what_the_server_received(clean: Tracing) -> None:
    assert not OpenAIInstrumentor().is_instrumented_by_opentelemetry  # nothing of ours wraps the client
    result = run({"replies": ["Sure, here you go."], "fail_calls": [3]}, turns=3, session_id="sess-chat", llm_only=True)
    spans = clean.spans()
    pairs = chats_under_llm_spans(spans)
    assert len(pairs) == len(named(spans, c.CHAT_SPAN)) == 3
    for (llm, chat), turn in zip(pairs, result.turns, strict=True):
        (sent,) = turn.chat_calls
        a = attrs(chat)
        assert chat.instrumentation_scope is not None
        assert chat.instrumentation_scope.name == TRACER_NAME  # ours: OpenInference's wrapper made no span
        assert a[c.OI_SPAN_KIND] == "LLM" and a[c.OI_SYSTEM] == "openai"
        request = json.loads(a[c.OI_INPUT])
        assert request["messages"] == sent["messages"] and request["model"] == sent["model"] == "gpt-4o-mini"
        assert request["stream"] is True and "frequency_penalty" not in request  # the client's NOT_GIVEN left out
        assert json.loads(a[c.OI_INVOCATION_PARAMETERS]) == {k: v for k, v in request.items() if k != "messages"}
        assert a[c.OI_INPUT_MIME] == "application/json"
        assert a[c.SESSION_ID] == a[c.OTEL_SESSION_ID] == "sess-chat"
        assert llm.start_time is not None and chat.start_time is not None and chat.end_time is not None
        assert llm.end_time is not None and llm.start_time <= chat.start_time <= chat.end_time <= llm.end_time
        if sent["status"] == 200:
            usage = sent["usage"]
            assert a[c.OI_MODEL] == "gpt-4o-mini"
            assert (a[c.OI_PROMPT_TOKENS], a[c.OI_COMPLETION_TOKENS], a[c.OI_TOTAL_TOKENS]) == (
                usage["prompt_tokens"],
                usage["completion_tokens"],
                usage["total_tokens"],
            )
            response = json.loads(a[c.OI_OUTPUT])
            assert response["choices"][0]["message"] == {"role": "assistant", "content": "Sure, here you go."}
            assert response["usage"] == usage and a[c.OI_OUTPUT_MIME] == "application/json"
            assert chat.status.status_code is StatusCode.OK
        else:
            # As OpenInference's own span of a failed call: no model, no answer, the error recorded.
            assert c.OI_MODEL not in a and c.OI_OUTPUT not in a and c.OI_PROMPT_TOKENS not in a
            assert chat.status.status_code is StatusCode.ERROR and "500" in (chat.status.description or "")
            assert [e.name for e in chat.events] == ["exception"]


def test_a_tool_call_turn_has_two_calls_and_the_first_answer_is_the_tool_call(clean: Tracing) -> None:
    ran_at: list[int] = []

    def register(worker: PipelineWorker) -> None:
        (llm,) = [p for p in processors(worker.pipeline) if isinstance(p, OpenAILLMService)]

        async def get_weather(params: FunctionCallParams) -> None:
            ran_at.append(time.time_ns())
            await asyncio.sleep(0.05)
            await params.result_callback({"forecast": "sunny", "city": params.arguments["city"]})

        llm.register_function("get_weather", get_weather)

    result = run(
        {"replies": ["unused", WEATHER_REPLY], "tool_calls": {1: ("get_weather", {"city": "Paris"})}},
        turns=1,
        session_id="sess-tools",
        before_run=register,
    )
    spans = clean.spans()
    (turn_span,) = named(spans, c.TURN_SPAN)
    (first_llm, first_chat), (second_llm, second_chat) = chats_under_llm_spans(spans)
    assert parent_of(first_llm, spans) is turn_span and parent_of(second_llm, spans) is turn_span
    first_sent, second_sent = result.turns[0].chat_calls
    asked = json.loads(attrs(first_chat)[c.OI_OUTPUT])["choices"][0]["message"]
    assert asked["content"] is None
    (tool_call,) = asked["tool_calls"]
    assert tool_call["id"] == "call_fake_1" and tool_call["function"]["name"] == "get_weather"
    assert json.loads(tool_call["function"]["arguments"]) == {"city": "Paris"}
    # The first ChatCompletion is the model's answer, not the tool running after it.
    (tool_ran,) = ran_at
    assert first_chat.end_time is not None and first_chat.end_time <= tool_ran
    assert attrs(first_chat)[c.OI_COMPLETION_TOKENS] == first_sent["usage"]["completion_tokens"]
    request = json.loads(attrs(second_chat)[c.OI_INPUT])
    assert request["messages"] == second_sent["messages"]
    assert [m["role"] for m in request["messages"]][-2:] == ["assistant", "tool"]
    assert json.loads(request["messages"][-1]["content"]) == {"forecast": "sunny", "city": "Paris"}
    answer = json.loads(attrs(second_chat)[c.OI_OUTPUT])["choices"][0]["message"]
    assert answer == {"role": "assistant", "content": WEATHER_REPLY}
    assert attrs(turn_span)[c.PROMPT_TOKENS] == sum(s["usage"]["prompt_tokens"] for s in (first_sent, second_sent))


def test_capture_content_false_redacts_the_request_and_answer_but_keeps_the_usage(without_content: Tracing) -> None:
    assert RUNTIME.capture_content is False
    result = run({"replies": ["A private answer."]}, turns=1, session_id="sess-private", llm_only=True)
    ((_llm, chat),) = chats_under_llm_spans(without_content.spans())
    a = attrs(chat)
    assert a[c.OI_INPUT] == a[c.OI_OUTPUT] == c.REDACTED
    assert "utterance" not in repr(a) and "private answer" not in repr(a)
    (sent,) = result.turns[0].chat_calls
    assert a[c.OI_PROMPT_TOKENS] == sent["usage"]["prompt_tokens"] and a[c.OI_MODEL] == "gpt-4o-mini"


def test_long_inline_media_is_redacted_in_the_request_and_the_call_left_untouched(clean: Tracing) -> None:
    from opentelemetry import trace

    from instrumentation.chat_span import ChatCall, emit_chat_span

    image = "data:image/png;base64," + "A" * 40_000
    link = "https://example.com/cat.png"
    content = [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": image}},
        {"type": "image_url", "image_url": {"url": link}},
    ]
    params = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": content}]}
    call = ChatCall(time.time_ns(), params)
    parent = trace.set_span_in_context(trace.NonRecordingSpan(trace.INVALID_SPAN_CONTEXT))
    emit_chat_span(call, parent, text="A cat.", prompt_tokens=9, completion_tokens=2, error=None, end_ns=time.time_ns())
    (chat,) = named(clean.spans(), c.CHAT_SPAN)
    sent = json.loads(attrs(chat)[c.OI_INPUT])["messages"][0]["content"]
    assert [part.get("image_url", {}).get("url") for part in sent] == [None, c.REDACTED, link]
    assert sent[0] == content[0] and params["messages"][0]["content"][1]["image_url"]["url"] == image  # type: ignore[index]
