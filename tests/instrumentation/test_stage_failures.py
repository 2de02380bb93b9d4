"""An STT or TTS failure in a real voice pipeline fails its turn at once, naming the stage and the error.

One session of three turns: the transcription of turn 2 fails (HTTP 500), and so does the speech request
of turn 3 (the second one: turn 2 never got to speak).
"""

from __future__ import annotations

import asyncio

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import StatusCode

from instrumentation import contract as c
from provision.demo.bot import run_session
from provision.demo.fakes.openai import FakeOpenAI
from tests.instrumentation.conftest import Tracing
from tests.instrumentation.spanutil import attrs, named


@pytest.fixture(scope="module")
def spans(tracing: Tracing) -> list[ReadableSpan]:
    tracing.reset()

    async def go() -> None:
        async with FakeOpenAI(ttft=0.05, fail_transcriptions=[2], fail_speeches=[2]) as fake:
            await run_session(fake.base_url, turns=3, turn_end_grace=0.3)

    asyncio.run(go())
    return tracing.spans()


def turn(spans: list[ReadableSpan], number: int) -> ReadableSpan:
    (found,) = [t for t in named(spans, c.TURN_SPAN) if attrs(t)[c.TURN_NUMBER] == number]
    return found


def llm_calls(spans: list[ReadableSpan], number: int) -> list[ReadableSpan]:
    return [s for s in named(spans, c.LLM_SPAN) if attrs(s)[c.TURN_NUMBER] == number]


def test_only_the_two_failed_turns_failed(spans: list[ReadableSpan]) -> None:
    status = {attrs(t)[c.TURN_NUMBER]: t.status.status_code for t in named(spans, c.TURN_SPAN)}
    assert status == {1: StatusCode.OK, 2: StatusCode.ERROR, 3: StatusCode.ERROR}


def test_a_failed_transcription_fails_its_turn_at_once(spans: list[ReadableSpan]) -> None:
    failed, following = turn(spans, 2), turn(spans, 3)
    assert attrs(failed)[c.FAILED_STAGE] == "stt" and "500" in attrs(failed)[c.ERROR]
    assert failed.status.description == attrs(failed)[c.ERROR]
    assert not llm_calls(spans, 2)
    # It ended at the failure, not at the user's next words (the driver waits seconds for an answer first).
    assert failed.end_time is not None and failed.start_time is not None
    assert (failed.end_time - failed.start_time) / 1e9 < 2.0
    assert ((following.start_time or 0) - failed.end_time) / 1e9 > 4.0


def test_a_failed_speech_request_fails_its_turn_with_the_tts_stage(spans: list[ReadableSpan]) -> None:
    failed = turn(spans, 3)
    assert attrs(failed)[c.FAILED_STAGE] == "tts" and attrs(failed)[c.ERROR]
    (llm,) = llm_calls(spans, 3)
    assert llm.status.status_code is StatusCode.OK  # the LLM answered; the bot could not say it
