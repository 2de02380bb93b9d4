"""Pipecat's ``AWSBedrockLLMService`` in a real pipeline against :class:`FakeBedrock` (ConverseStream)."""

from __future__ import annotations

import json

from botocore.eventstream import EventStreamBuffer

from provision.demo.fakes.bedrock import FakeBedrock, bedrock_llm, converse_event
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


def test_events_are_framed_as_botocore_decodes_them() -> None:
    delta = {"contentBlockIndex": 0, "delta": {"text": "Hé "}}
    buffer = EventStreamBuffer()
    buffer.add_data(converse_event("contentBlockDelta", delta) + converse_event("messageStop", {"stopReason": "x"}))
    first, second = list(buffer)  # botocore checks both CRCs and the lengths
    assert first.headers == {
        ":event-type": "contentBlockDelta",
        ":content-type": "application/json",
        ":message-type": "event",
    }
    assert json.loads(first.payload) == delta and second.headers[":event-type"] == "messageStop"


def test_the_reply_arrives_as_text_frames_and_the_usage_as_predicted() -> None:
    fake = FakeBedrock(replies=[REPLY])
    outcome = run_against(fake, bedrock_llm)
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
    assert (call.number, call.model, call.status, call.reply) == (1, "us.amazon.nova-lite-v1:0", 200, REPLY)
    (request,) = fake.requests
    assert request.path == "/model/us.amazon.nova-lite-v1%3A0/converse-stream"
    assert outcome.seconds < 3


def test_an_unstreamed_call_answers_the_reply_in_one_response() -> None:
    fake = FakeBedrock(replies=[REPLY])
    assert run_inference_against(fake, bedrock_llm) == REPLY
    (call,) = fake.calls()
    assert call.usage == {"prompt_tokens": prompt_tokens(SYSTEM, USER_TEXT), "completion_tokens": 4, "total_tokens": 25}
    assert fake.requests[0].path == "/model/us.amazon.nova-lite-v1%3A0/converse"


def test_a_tool_call_reaches_the_handler_and_a_second_call_carries_the_result() -> None:
    fake = FakeBedrock(replies=["unused", REPLY], tool_calls={1: ("get_weather", {"city": "Paris"})})
    outcome = run_against(fake, bedrock_llm, responses=2, tools=True)
    assert outcome.tool_results == [("get_weather", {"city": "Paris"})]
    assert outcome.text == REPLY and not outcome.errors
    first, second = fake.calls()
    assert first.reply == json.dumps({"city": "Paris"})
    asked, answered = fake.requests[1].body["messages"][-2:]
    assert asked["content"] == [
        {"toolUse": {"toolUseId": "tooluse_fake_1", "name": "get_weather", "input": {"city": "Paris"}}}
    ]
    (result,) = answered["content"]
    assert result["toolResult"]["toolUseId"] == "tooluse_fake_1"
    assert result["toolResult"]["content"] == [{"json": WEATHER}]
    assert [(u.prompt_tokens, u.completion_tokens) for u in outcome.usages] == [
        (prompt_tokens(SYSTEM, USER_TEXT), 2),
        (prompt_tokens(SYSTEM, USER_TEXT, "", json.dumps(WEATHER)), 4),
    ]
    assert second.reply == REPLY and outcome.seconds < 3


def test_a_failing_call_is_one_request_and_an_error_frame() -> None:
    fake = FakeBedrock(fail_calls=[1])
    outcome = run_against(fake, bedrock_llm)
    (error,) = outcome.errors
    assert "InternalServerException" in error.error and "fake failure" in error.error
    assert outcome.texts == [] and outcome.usages == []
    (call,) = fake.calls()
    assert (call.status, call.usage, call.reply) == (500, None, "")
    assert len(fake.requests) == 1 and outcome.seconds < 3


def test_a_refused_connection_is_an_error_frame_at_once() -> None:
    outcome = run_against(FakeBedrock(), lambda _url: bedrock_llm(refused_url()))
    (error,) = outcome.errors
    assert "Could not connect" in error.error and outcome.seconds < 2


def test_a_dropped_connection_is_one_attempt_and_an_error_frame() -> None:
    outcome, attempts = run_dropped(bedrock_llm)
    assert attempts == 1 and len(outcome.errors) == 1


def test_an_interrupted_call_hangs_up_without_an_error() -> None:
    fake = FakeBedrock(replies=["one two three four five six"], ttft=0.2, word_delay=1.0)
    outcome = run_against(fake, bedrock_llm, interrupt_at_first_word=True)
    (call,) = fake.calls()
    assert call.hung_up and call.status == 200 and not outcome.errors
    # Bedrock reports usage only at the end: no prompt tokens, Pipecat's estimate of the output.
    assert [u.prompt_tokens for u in outcome.usages] in ([], [0])


def test_a_slow_call_waits_before_its_first_word() -> None:
    outcome = run_against(FakeBedrock(slow_calls=[1], slow_ttft=0.6, ttft=0.0), bedrock_llm)
    assert outcome.text and outcome.seconds >= 0.6
