"""A real text pipeline around any Pipecat LLM service, with a scripted user, for the provider tests.

``user aggregator → LLM service → Speaker → assistant aggregator``: the Speaker stands in for TTS and
the output transport, saying ``BotStartedSpeakingFrame`` at the answer's first text and
``BotStoppedSpeakingFrame`` after its end, so turns end as they do in a voice bot. The user says each
line of the script (``UserStartedSpeakingFrame``, a final transcription, ``UserStoppedSpeakingFrame``)
and waits for the answer; a line marked ``barge_in`` is said while the LLM is still thinking about the
previous one.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    EndFrame,
    Frame,
    InterruptionFrame,
    InterruptionWorkerFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMTextFrame,
    TranscriptionFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
)
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import LLMContextAggregatorPair, LLMUserAggregatorParams
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.services.llm_service import LLMService
from pipecat.turns.user_turn_strategies import ExternalUserTurnStrategies
from pipecat.utils.time import time_now_iso8601
from pipecat.workers.runner import WorkerRunner

from instrumentation import instrument_pipeline
from provision.demo.bot import until

GRACE_S = 0.2
_ANSWER_TIMEOUT_S = 8.0


@dataclass
class Line:
    """One thing the user says; ``barge_in``: said while the LLM still thinks about the last one."""

    text: str
    barge_in: bool = False


class Speaker(FrameProcessor):
    """Speaks the LLM's answers (instantly): bot started / stopped speaking around each answer."""

    def __init__(self) -> None:
        super().__init__()
        self.started = 0
        self.ended = 0
        self._speaking = False

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        await self.push_frame(frame, direction)
        if isinstance(frame, LLMFullResponseStartFrame):
            self.started += 1
        if isinstance(frame, LLMTextFrame) and not self._speaking:
            self._speaking = True
            await self.push_frame(BotStartedSpeakingFrame())
        elif isinstance(frame, LLMFullResponseEndFrame):
            self.ended += 1
            if self._speaking:
                self._speaking = False
                await self.push_frame(BotStoppedSpeakingFrame())
        elif isinstance(frame, InterruptionFrame | LLMFullResponseStartFrame) and self._speaking:
            self._speaking = False
            await self.push_frame(BotStoppedSpeakingFrame())


@dataclass
class Conversation:
    """What one scripted conversation did."""

    session_id: str
    said_at: list[float] = field(default_factory=list)


async def converse(
    llm: LLMService,
    script: Sequence[Line],
    *,
    session_id: str,
    register: Callable[[LLMService], None] | None = None,
) -> Conversation:
    """Run ``script`` through a real pipeline around ``llm``, instrumented, and return what happened."""
    if register is not None:
        register(llm)
    context = LLMContext()
    aggregators = LLMContextAggregatorPair(
        context, user_params=LLMUserAggregatorParams(user_turn_strategies=ExternalUserTurnStrategies())
    )
    speaker = Speaker()
    worker = PipelineWorker(
        Pipeline([aggregators.user(), llm, speaker, aggregators.assistant()]),
        params=PipelineParams(enable_metrics=True, enable_usage_metrics=True),
        enable_rtvi=False,
        idle_timeout_secs=None,
    )
    instrument_pipeline(worker, session_id, turn_end_grace=GRACE_S)
    ready = asyncio.Event()

    @worker.event_handler("on_pipeline_started")  # type: ignore[untyped-decorator]
    async def _started(_worker: PipelineWorker, _frame: Frame) -> None:
        ready.set()

    done = Conversation(session_id)

    async def user() -> None:
        try:
            await asyncio.wait_for(ready.wait(), 10)
            for index, line in enumerate(script):
                if line.barge_in:
                    # What the user aggregator does when the user speaks over the bot.
                    await worker.queue_frame(InterruptionWorkerFrame())
                    await asyncio.sleep(0.2)
                ended_before, started_before = speaker.ended, speaker.started
                done.said_at.append(time.time())
                await worker.queue_frames(
                    [
                        UserStartedSpeakingFrame(),
                        TranscriptionFrame(line.text, "user", time_now_iso8601(), finalized=True),
                        UserStoppedSpeakingFrame(),
                    ]
                )
                next_barges_in = index + 1 < len(script) and script[index + 1].barge_in
                if next_barges_in:
                    await until(lambda before=started_before: speaker.started > before, _ANSWER_TIMEOUT_S)
                    await asyncio.sleep(0.1)
                    continue
                await until(lambda before=ended_before: speaker.ended > before, _ANSWER_TIMEOUT_S)
                await asyncio.sleep(GRACE_S + 0.3)
        finally:
            await worker.queue_frame(EndFrame())

    runner = WorkerRunner(handle_sigint=False)
    await runner.add_workers(worker)
    await asyncio.gather(runner.run(), user())
    return done
