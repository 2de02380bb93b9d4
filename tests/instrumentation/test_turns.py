"""Turn boundaries and ordering, on an LLM-only pipeline driven by injected frames (fast)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from opentelemetry.trace import StatusCode
from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    EndFrame,
    Frame,
    TranscriptionFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
)
from pipecat.pipeline.task import PipelineTask
from pipecat.pipeline.worker import PipelineWorker
from pipecat.utils.time import time_now_iso8601
from pipecat.workers.runner import WorkerRunner

from instrumentation import contract as c
from instrumentation import instrument_pipeline, uninstrument_pipeline
from provision.demo.bot import build_pipeline, run_session
from provision.demo.fakes.openai import FakeOpenAI
from tests.instrumentation.conftest import Tracing
from tests.instrumentation.spanutil import attrs, named, parent_of, trace_id


def test_llm_call_joins_the_turn_its_user_frames_opened_even_when_injected_back_to_back(
    clean: Tracing,
) -> None:
    async def go() -> list[int]:
        async with FakeOpenAI(ttft=0.01) as fake:
            result = await run_session(fake.base_url, turns=4, llm_only=True, turn_end_grace=0.3)
            return [t.prompt_tokens for t in result.turns]

    prompt_tokens = asyncio.run(go())
    spans = clean.spans()
    turns = sorted(named(spans, c.TURN_SPAN), key=lambda s: attrs(s)[c.TURN_NUMBER])
    assert [attrs(t)[c.TURN_NUMBER] for t in turns] == [1, 2, 3, 4]
    for turn, expected in zip(turns, prompt_tokens, strict=True):
        (llm,) = [s for s in named(spans, c.LLM_SPAN) if parent_of(s, spans) is turn]
        assert attrs(llm)[c.TURN_NUMBER] == attrs(turn)[c.TURN_NUMBER]
        assert attrs(llm)[c.USER_MESSAGE] == f"User utterance number {attrs(turn)[c.TURN_NUMBER]}."
        assert attrs(turn)[c.PROMPT_TOKENS] == attrs(llm)[c.PROMPT_TOKENS] == expected
        assert attrs(turn)[c.INTERRUPTED] is False
        # No VAD, STT or TTS in this pipeline: the LLM latency is known, and the response latency from the
        # user's text to the LLM's first text, which takes in the call's time to first token.
        assert c.LLM_TTFB_MS in attrs(turn)
        assert not {c.VOICE_TO_VOICE_MS, c.STT_MS, c.TTS_TTFB_MS} & set(attrs(turn))
        assert attrs(turn)[c.RESPONSE_MS] >= attrs(turn)[c.LLM_TTFB_MS] - 1  # each rounded to the ms


Step = Callable[[PipelineWorker], Awaitable[None]]


def frames(*items: Frame, pause: float = 0.0) -> Step:
    async def step(worker: PipelineWorker) -> None:
        await worker.queue_frames(list(items))
        await asyncio.sleep(pause)

    return step


def utterance(text: str | None) -> list[Frame]:
    said = [TranscriptionFrame(text, "user", time_now_iso8601(), finalized=True)] if text else []
    return [UserStartedSpeakingFrame(), *said, UserStoppedSpeakingFrame()]


async def drive(base_url: str, steps: list[Step], *, grace: float = 0.2, task_alias: bool = False) -> str:
    worker_class = PipelineTask if task_alias else PipelineWorker
    worker = worker_class(build_pipeline(base_url, "gpt-4o-mini", llm_only=True), enable_rtvi=False)
    session_id = instrument_pipeline(worker, turn_end_grace=grace)
    ready = asyncio.Event()

    @worker.event_handler("on_pipeline_started")  # type: ignore[untyped-decorator]
    async def _started(_worker: PipelineWorker, _frame: Frame) -> None:
        ready.set()

    async def script() -> None:
        await ready.wait()
        for step in steps:
            await step(worker)
        await worker.queue_frame(EndFrame())

    runner = WorkerRunner(handle_sigint=False)
    await runner.add_workers(worker)
    await asyncio.gather(runner.run(), script())
    uninstrument_pipeline(worker)
    return session_id


def test_turn_without_llm_call_ends_after_bot_speech_and_grace(clean: Tracing) -> None:
    async def go() -> str:
        async with FakeOpenAI() as fake:
            steps = [
                frames(*utterance(None), pause=0.1),  # nothing transcribed: no LLM call
                frames(BotStartedSpeakingFrame(), pause=0.05),
                frames(BotStoppedSpeakingFrame(), pause=0.4),  # > grace: the turn ends here
                frames(*utterance("And now a real question."), pause=0.5),
                frames(BotStartedSpeakingFrame(), BotStoppedSpeakingFrame(), pause=0.4),
            ]
            return await drive(fake.base_url, steps)

    session_id = asyncio.run(go())
    spans = clean.spans()
    first, second = sorted(named(spans, c.TURN_SPAN), key=lambda s: attrs(s)[c.TURN_NUMBER])
    assert not [s for s in spans if parent_of(s, spans) is first]
    assert attrs(first)[c.PROMPT_TOKENS] == 0 and first.status.status_code is StatusCode.OK
    assert first.end_time is not None and second.start_time is not None
    assert first.end_time <= second.start_time
    assert 0.15 <= (first.end_time - (first.start_time or 0)) / 1e9 - 0.15 < 0.6  # bot stop + 0.2 s grace
    (llm,) = named(spans, c.LLM_SPAN)
    assert parent_of(llm, spans) is second
    assert {attrs(s)[c.SESSION_ID] for s in spans if c.SESSION_ID in attrs(s)} == {session_id}
    assert len(session_id) == 32


def test_pause_mid_reply_shorter_than_grace_does_not_split_the_turn(clean: Tracing) -> None:
    async def go() -> None:
        async with FakeOpenAI() as fake:
            steps = [
                frames(*utterance("Tell me two things."), pause=0.4),
                frames(BotStartedSpeakingFrame(), BotStoppedSpeakingFrame(), pause=0.1),  # pause < grace
                frames(BotStartedSpeakingFrame(), BotStoppedSpeakingFrame(), pause=0.5),
            ]
            await drive(fake.base_url, steps, task_alias=True)

    asyncio.run(go())
    spans = clean.spans()
    (turn,) = named(spans, c.TURN_SPAN)
    (llm,) = named(spans, c.LLM_SPAN)
    assert parent_of(llm, spans) is turn and trace_id(llm) == trace_id(turn)


def test_greeting_llm_call_without_user_speech_opens_its_own_turn(clean: Tracing) -> None:
    from pipecat.frames.frames import LLMRunFrame

    async def go() -> None:
        async with FakeOpenAI() as fake:
            steps = [
                frames(LLMRunFrame(), pause=0.4),
                frames(BotStartedSpeakingFrame(), BotStoppedSpeakingFrame(), pause=0.05),
                frames(*utterance("Hello bot."), pause=1.2),
            ]
            await drive(fake.base_url, steps)

    asyncio.run(go())
    spans = clean.spans()
    turns = sorted(named(spans, c.TURN_SPAN), key=lambda s: attrs(s)[c.TURN_NUMBER])
    assert len(turns) == 2
    for turn in turns:
        assert len([s for s in named(spans, c.LLM_SPAN) if parent_of(s, spans) is turn]) == 1
    assert c.USER_MESSAGE not in attrs(named(spans, c.LLM_SPAN)[0])


def test_llm_call_that_starts_before_the_observer_sees_the_user_is_adopted_by_that_turn(clean: Tracing) -> None:
    from instrumentation.session import SessionInfo
    from instrumentation.turns import Stages, TurnTracker

    tracker = TurnTracker(SessionInfo("sess-order"), Stages(), grace=0.5)
    turn = tracker.begin_llm_call()  # the LLM's task got there first
    tracker.on_user_started()  # the observer catches up with the user's turn start
    assert tracker.current is turn and turn.opened_by_user
    tracker.end_llm_call(turn, prompt_tokens=3, completion_tokens=2, ttfb_ms=5)
    tracker.on_pipeline_end()
    (span,) = named(clean.spans(), c.TURN_SPAN)
    assert attrs(span)[c.TURN_NUMBER] == 1 and attrs(span)[c.PROMPT_TOKENS] == 3


def test_turn_ending_waits_for_its_llm_call_in_flight(clean: Tracing) -> None:
    from instrumentation.session import SessionInfo
    from instrumentation.turns import Stages, TurnTracker

    tracker = TurnTracker(SessionInfo("sess-inflight"), Stages(), grace=0.5)
    tracker.on_user_started()
    turn = tracker.begin_llm_call()
    tracker.on_bot_started()
    tracker.on_user_started()  # barge-in while the first call is still streaming
    assert not named(clean.spans(), c.TURN_SPAN)
    tracker.end_llm_call(turn, prompt_tokens=7, completion_tokens=1, ttfb_ms=9)
    (first,) = named(clean.spans(), c.TURN_SPAN)
    assert attrs(first)[c.INTERRUPTED] is True and attrs(first)[c.PROMPT_TOKENS] == 7
    tracker.close()
    assert len(named(clean.spans(), c.TURN_SPAN)) == 2
