"""Pipecat's ``GoogleLLMService`` (Gemini) in a real pipeline against :class:`FakeGemini`."""

from __future__ import annotations

import json

from provision.demo.fakes.gemini import FakeGemini, gemini_llm
from tests.fakes.harness import (
    SYSTEM,
    USER_TEXT,
    prompt_tokens,
    refused_url,
    run_against,
    run_dropped,
    run_inference_against,
)

REPLY = "Sure, here you go."
WEATHER = {"forecast": "sunny", "city": "Paris"}


def test_the_reply_arrives_as_text_frames_and_the_usage_as_predicted() -> None:
    fake = FakeGemini(replies=[REPLY])
    outcome = run_against(fake, gemini_llm)
    assert outcome.text == REPLY and len(outcome.texts) == len(REPLY.split())
    (usage,) = outcome.usages
    assert (usage.prompt_tokens, usage.completion_tokens) == (prompt_tokens(SYSTEM, USER_TEXT), 4)
    assert usage.total_tokens == usage.prompt_tokens + 4 and not outcome.errors
    (call,) = fake.calls()
    assert call.usage == {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": 4,
        "total_tokens": usage.total_tokens,
    }
    assert call.messages == [{"role": "system", "content": SYSTEM}, {"role": "user", "content": USER_TEXT}]
    assert (call.number, call.model, call.status, call.reply) == (1, "gemini-2.5-flash", 200, REPLY)
    (request,) = fake.requests
    assert request.path == "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    assert outcome.seconds < 3


def test_an_unstreamed_call_answers_the_reply_in_one_response() -> None:
    fake = FakeGemini(replies=[REPLY])
    assert run_inference_against(fake, gemini_llm) == REPLY
    (call,) = fake.calls()
    assert call.usage == {"prompt_tokens": prompt_tokens(SYSTEM, USER_TEXT), "completion_tokens": 4, "total_tokens": 25}
    assert fake.requests[0].path == "/v1beta/models/gemini-2.5-flash:generateContent"


def test_a_tool_call_reaches_the_handler_and_a_second_call_carries_the_result() -> None:
    fake = FakeGemini(replies=["unused", REPLY], tool_calls={1: ("get_weather", {"city": "Paris"})})
    outcome = run_against(fake, gemini_llm, responses=2, tools=True)
    assert outcome.tool_results == [("get_weather", {"city": "Paris"})]
    assert outcome.text == REPLY and not outcome.errors
    first, second = fake.calls()
    assert first.reply == json.dumps({"city": "Paris"})
    asked, answered = fake.requests[1].body["contents"][-2:]
    assert asked["role"] == "model"
    assert asked["parts"][0]["functionCall"] == {"id": "call_fake_1", "name": "get_weather", "args": {"city": "Paris"}}
    response = answered["parts"][0]["functionResponse"]
    assert response["name"] == "get_weather" and response["response"] == WEATHER
    assert [(u.prompt_tokens, u.completion_tokens) for u in outcome.usages] == [
        (prompt_tokens(SYSTEM, USER_TEXT), 2),
        (prompt_tokens(SYSTEM, USER_TEXT, "", json.dumps(WEATHER)), 4),
    ]
    assert second.reply == REPLY and outcome.seconds < 3


def test_a_failing_call_is_one_request_and_an_error_frame() -> None:
    fake = FakeGemini(fail_calls=[1])
    outcome = run_against(fake, gemini_llm)
    (error,) = outcome.errors
    assert "500 INTERNAL" in error.error and "fake failure" in error.error
    assert outcome.texts == []
    # GoogleLLMService reports usage even for a failed call: all zeros.
    assert [(u.prompt_tokens, u.completion_tokens) for u in outcome.usages] == [(0, 0)]
    (call,) = fake.calls()
    assert (call.status, call.usage, call.reply) == (500, None, "")
    assert len(fake.requests) == 1 and outcome.seconds < 3


def test_a_refused_connection_is_an_error_frame_at_once() -> None:
    outcome = run_against(FakeGemini(), lambda _url: gemini_llm(refused_url()))
    (error,) = outcome.errors
    assert "Cannot connect" in error.error and outcome.seconds < 2


def test_a_dropped_connection_is_one_attempt_and_an_error_frame() -> None:
    outcome, attempts = run_dropped(gemini_llm)
    assert attempts == 1 and len(outcome.errors) == 1


def test_an_interrupted_call_hangs_up_without_an_error() -> None:
    fake = FakeGemini(replies=["one two three four five six"], ttft=0.2, word_delay=1.0)
    outcome = run_against(fake, gemini_llm, interrupt_at_first_word=True)
    (call,) = fake.calls()
    assert call.hung_up and call.status == 200 and not outcome.errors
    assert outcome.text == "one "
    # The usageMetadata of the last chunk received.
    assert [(u.prompt_tokens, u.completion_tokens) for u in outcome.usages] == [(prompt_tokens(SYSTEM, USER_TEXT), 1)]


def test_a_slow_call_waits_before_its_first_word() -> None:
    outcome = run_against(FakeGemini(slow_calls=[1], slow_ttft=0.6, ttft=0.0), gemini_llm)
    assert outcome.text and outcome.seconds >= 0.6
