"""``llm_service_span`` used as in OpenObserve's Pipecat guide (``pipeline_turn()``), against the fake."""

from __future__ import annotations

import asyncio

import pytest
from openai import AsyncOpenAI, InternalServerError
from opentelemetry.trace import StatusCode

from instrumentation import contract as c
from instrumentation import llm_service_span
from instrumentation.runtime import RUNTIME
from provision.demo.fakes.openai import FakeOpenAI, usage_for
from tests.instrumentation.conftest import Tracing
from tests.instrumentation.spanutil import attrs, forbidden_keys, named, parent_of, trace_id

QUESTION = "What can you do for me today, little voice bot?"


async def pipeline_turn(fake: FakeOpenAI, session_id: str, turn_number: int) -> str:
    client = AsyncOpenAI(api_key="sk-fake", base_url=fake.base_url)
    messages = [{"role": "user", "content": QUESTION}]
    async with llm_service_span(
        "OpenAILLMService", "gpt-4o-mini", QUESTION, session_id=session_id, turn_number=turn_number
    ) as call:
        resp = await client.chat.completions.create(model="gpt-4o-mini", messages=messages)  # type: ignore[arg-type]
        text = resp.choices[0].message.content or ""
        assert resp.usage is not None
        call.set_response(text, prompt_tokens=resp.usage.prompt_tokens, completion_tokens=resp.usage.completion_tokens)
    await client.close()
    return text


def test_guide_pipeline_turn_nests_the_openai_span_and_records_usage(clean: Tracing) -> None:
    async def go() -> tuple[str, list[dict[str, object]]]:
        async with FakeOpenAI(ttft=0.05) as fake:
            text = await pipeline_turn(fake, "sess-guide", 3)
            return text, [call.usage or {} for call in fake.chat_calls]

    text, usages = asyncio.run(go())
    spans = clean.spans()
    (llm,) = named(spans, c.LLM_SPAN)
    (chat,) = named(spans, "ChatCompletion")
    assert parent_of(chat, spans) is llm and trace_id(chat) == trace_id(llm)
    expected = usage_for([{"role": "user", "content": QUESTION}], text)
    assert usages == [expected]
    a = attrs(llm)
    assert a[c.SERVICE] == "OpenAILLMService" and a[c.MODEL] == "gpt-4o-mini"
    assert a[c.USER_MESSAGE] == QUESTION and a[c.ASSISTANT_MESSAGE] == text
    assert (a[c.PROMPT_TOKENS], a[c.COMPLETION_TOKENS], a[c.TOTAL_TOKENS]) == (
        expected["prompt_tokens"],
        expected["completion_tokens"],
        expected["total_tokens"],
    )
    assert isinstance(a[c.TTFB_MS], int) and 50 <= a[c.TTFB_MS] < 1000
    assert a[c.SESSION_ID] == a[c.OTEL_SESSION_ID] == "sess-guide" and a[c.TURN_NUMBER] == 3
    assert attrs(chat)["session.id"] == attrs(chat)[c.SESSION_ID] == "sess-guide"
    assert forbidden_keys(a) == set()
    assert llm.status.status_code is StatusCode.OK


def test_failing_call_raises_through_and_marks_the_span_error(clean: Tracing) -> None:
    async def go() -> None:
        async with FakeOpenAI(fail_calls=[1]) as fake:
            await pipeline_turn(fake, "sess-fail", 1)

    with pytest.raises(InternalServerError):
        asyncio.run(go())
    spans = clean.spans()
    (llm,) = named(spans, c.LLM_SPAN)
    assert llm.status.status_code is StatusCode.ERROR
    (event,) = llm.events
    assert event.name == "exception" and (event.attributes or {})["exception.type"] == "openai.InternalServerError"
    (chat,) = named(spans, "ChatCompletion")
    assert parent_of(chat, spans) is llm and chat.status.status_code is StatusCode.ERROR


def test_content_is_cut_to_the_limit(clean: Tracing, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(RUNTIME, "content_limit", 12)
    with llm_service_span("MyLLM", "m", "x" * 500) as call:
        call.set_response("y" * 300, prompt_tokens=1, completion_tokens=2)
    (llm,) = named(clean.spans(), c.LLM_SPAN)
    assert attrs(llm)[c.USER_MESSAGE] == "x" * 12 and attrs(llm)[c.ASSISTANT_MESSAGE] == "y" * 12


def test_default_limit_is_200_characters(clean: Tracing) -> None:
    with llm_service_span("MyLLM", "m", "x" * 500) as call:
        call.set_response("y" * 300)
    (llm,) = named(clean.spans(), c.LLM_SPAN)
    assert len(attrs(llm)[c.USER_MESSAGE]) == len(attrs(llm)[c.ASSISTANT_MESSAGE]) == 200
    assert c.PROMPT_TOKENS not in attrs(llm) and c.SESSION_ID not in attrs(llm)


def test_capture_content_false_leaves_messages_out(clean: Tracing, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(RUNTIME, "capture_content", False)
    with llm_service_span("MyLLM", "m", "secret question", session_id="s") as call:
        call.set_response("secret answer", prompt_tokens=4, completion_tokens=2)
    (llm,) = named(clean.spans(), c.LLM_SPAN)
    a = attrs(llm)
    assert c.USER_MESSAGE not in a and c.ASSISTANT_MESSAGE not in a
    assert a[c.TOTAL_TOKENS] == 6 and "secret" not in repr(a)


def test_sync_block_exception_is_recorded_and_reraised(clean: Tracing) -> None:
    with pytest.raises(RuntimeError, match="boom"), llm_service_span("MyLLM", "m", session_id="s"):
        raise RuntimeError("boom")
    (llm,) = named(clean.spans(), c.LLM_SPAN)
    assert llm.status.status_code is StatusCode.ERROR and llm.events[0].name == "exception"
