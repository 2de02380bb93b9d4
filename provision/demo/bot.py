"""A real Pipecat voice bot, run offline against :mod:`provision.demo.fakes.openai`.

The pipeline is ``OpenAISTTService → LLMUserAggregator → OpenAILLMService → OpenAITTSService →
NullOutputTransport → LLMAssistantAggregator`` (or, with ``llm_only=True``, just the aggregators
around the LLM; ``stt=False`` / ``tts=False`` leave out that stage: text in, or text out).
:func:`run_session` plays the user: it injects what a transport with VAD would produce
(``VADUserStartedSpeakingFrame``, 20 ms ``InputAudioRawFrame``\\ s, ``VADUserStoppedSpeakingFrame``),
waits for the bot's answer and, for ``interrupt_turn``, starts the next utterance while the bot speaks.
"""

from __future__ import annotations

import asyncio
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    EndFrame,
    Frame,
    InputAudioRawFrame,
    LLMFullResponseEndFrame,
    OutputAudioRawFrame,
    StartFrame,
    TranscriptionFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.observers.base_observer import BaseObserver, FramePushed
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import (
    LLMContextAggregatorPair,
    LLMUserAggregatorParams,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.services.openai.llm import OpenAILLMService
from pipecat.services.openai.stt import OpenAISTTService
from pipecat.services.openai.tts import OpenAITTSService
from pipecat.transports.base_output import BaseOutputTransport
from pipecat.transports.base_transport import TransportParams
from pipecat.turns.user_stop import SpeechTimeoutUserTurnStopStrategy
from pipecat.turns.user_turn_strategies import ExternalUserTurnStrategies, UserTurnStrategies
from pipecat.utils.time import time_now_iso8601
from pipecat.workers.runner import WorkerRunner

from instrumentation import instrument_pipeline
from instrumentation.turns import DEFAULT_TURN_END_GRACE_S
from provision.demo.fakes.openai import SPEECH_SAMPLE_RATE

INPUT_SAMPLE_RATE = 16000
_CHUNK_20MS = struct.pack("<320h", *([900, -900] * 160))
_REPLY_TIMEOUT_S = 8.0


class NullOutputTransport(BaseOutputTransport):
    """An output transport that plays audio into the void in real time (so the bot 'speaks')."""

    async def start(self, frame: StartFrame) -> None:
        await super().start(frame)
        await self.set_transport_ready(frame)

    async def write_audio_frame(self, frame: OutputAudioRawFrame) -> bool:
        await asyncio.sleep(len(frame.audio) / (frame.sample_rate * 2 * frame.num_channels))
        return True


class _Progress(BaseObserver):
    """Counts the frames the driver waits on."""

    def __init__(self) -> None:
        super().__init__(observe_every_push=False)
        self.bot_started = 0
        self.bot_stopped = 0
        self.llm_ended = 0

    async def on_push_frame(self, data: FramePushed) -> None:
        if data.direction != FrameDirection.DOWNSTREAM:
            return
        if isinstance(data.frame, BotStartedSpeakingFrame):
            self.bot_started += 1
        elif isinstance(data.frame, BotStoppedSpeakingFrame):
            self.bot_stopped += 1
        elif isinstance(data.frame, LLMFullResponseEndFrame):
            self.llm_ended += 1


@dataclass
class TurnResult:
    """One driven user turn and the chat calls the fake server answered during it."""

    number: int
    chat_calls: list[dict[str, Any]] = field(default_factory=list)
    interrupted: bool = False

    @property
    def prompt_tokens(self) -> int:
        """Prompt tokens the fake server reported for this turn's calls."""
        return sum((c["usage"] or {}).get("prompt_tokens", 0) for c in self.chat_calls)

    @property
    def completion_tokens(self) -> int:
        """Completion tokens the fake server reported for this turn's calls."""
        return sum((c["usage"] or {}).get("completion_tokens", 0) for c in self.chat_calls)

    @property
    def failed(self) -> bool:
        """Whether a chat call of this turn was answered with an HTTP error."""
        return any(c["status"] != 200 for c in self.chat_calls)


@dataclass
class SessionResult:
    """What happened in one :func:`run_session`."""

    session_id: str | None
    turns: list[TurnResult]
    seconds: float

    @property
    def failures(self) -> list[int]:
        """Numbers of the turns whose LLM call failed."""
        return [t.number for t in self.turns if t.failed]


def build_pipeline(
    base_url: str, model: str, *, llm_only: bool = False, stt: bool = True, tts: bool = True
) -> Pipeline:
    """The bot's pipeline, every service pointed at ``base_url`` (an OpenAI-compatible ``…/v1``)."""
    stt, tts = stt and not llm_only, tts and not llm_only
    llm = OpenAILLMService(
        api_key="sk-fake",
        base_url=base_url,
        settings=OpenAILLMService.Settings(
            model=model, system_instruction="You are a friendly voice assistant. Keep answers short."
        ),
    )
    strategies = (
        ExternalUserTurnStrategies()
        if not stt
        else UserTurnStrategies(stop=[SpeechTimeoutUserTurnStopStrategy(user_speech_timeout=0.1)])
    )
    aggregators = LLMContextAggregatorPair(
        LLMContext(), user_params=LLMUserAggregatorParams(user_turn_strategies=strategies)
    )
    stages: list[FrameProcessor] = [OpenAISTTService(api_key="sk-fake", base_url=base_url)] if stt else []
    stages += [aggregators.user(), llm]
    if tts:
        stages += [
            OpenAITTSService(api_key="sk-fake", base_url=base_url, sample_rate=SPEECH_SAMPLE_RATE),
            NullOutputTransport(TransportParams(audio_out_enabled=True, audio_out_sample_rate=SPEECH_SAMPLE_RATE)),
        ]
    stages.append(aggregators.assistant())
    return Pipeline(stages)


async def run_session(
    base_url: str,
    *,
    turns: int,
    session_id: str | None = None,
    user_id: str | None = None,
    model: str = "gpt-4o-mini",
    interrupt_turn: int | None = None,
    enable_pipecat_tracing: bool = False,
    enable_metrics: bool = True,
    llm_only: bool = False,
    stt: bool = True,
    tts: bool = True,
    instrument: bool = True,
    turn_end_grace: float = DEFAULT_TURN_END_GRACE_S,
    speech_seconds: float = 0.3,
    before_run: Callable[[PipelineWorker], None] | None = None,
) -> SessionResult:
    """Run one conversation of ``turns`` user turns through a real pipeline; return what happened.

    With ``instrument`` the worker is passed to :func:`instrumentation.instrument_pipeline` (the
    session id is the one it returns). ``interrupt_turn=k`` starts the user's turn ``k+1`` while the
    bot is still speaking its answer to turn ``k``. The session ends with an ``EndFrame`` after the
    last answer (and the turn-end grace) is over. ``stt=False`` sends the user's words as text;
    ``tts=False`` leaves the answer as text, so the bot never speaks (unlike ``llm_only``, which
    stands in for a transport reporting the bot's speech).
    """
    started = time.monotonic()
    worker = PipelineWorker(
        build_pipeline(base_url, model, llm_only=llm_only, stt=stt, tts=tts),
        params=PipelineParams(
            enable_metrics=enable_metrics,
            enable_usage_metrics=enable_metrics,
            audio_in_sample_rate=INPUT_SAMPLE_RATE,
            audio_out_sample_rate=SPEECH_SAMPLE_RATE,
        ),
        enable_tracing=enable_pipecat_tracing,
        conversation_id=session_id,
        enable_rtvi=False,
        idle_timeout_secs=None,
    )
    progress = _Progress()
    worker.add_observer(progress)
    resolved_session = (
        instrument_pipeline(worker, session_id, user_id, turn_end_grace=turn_end_grace) if instrument else session_id
    )
    if before_run is not None:
        before_run(worker)
    ready = asyncio.Event()

    @worker.event_handler("on_pipeline_started")  # type: ignore[untyped-decorator]
    async def _on_started(_worker: PipelineWorker, _frame: Frame) -> None:
        ready.set()

    user = _User(worker, progress, speech_seconds, llm_only, text_in=llm_only or not stt, speaks=tts)
    windows: list[float] = []

    async def drive() -> None:
        try:
            await asyncio.wait_for(ready.wait(), 10)
            for number in range(1, turns + 1):
                windows.append(time.time())
                await user.speak(number)
                if number == interrupt_turn and number < turns:
                    await user.wait_until_bot_speaks()
                    await asyncio.sleep(0.1)
                    continue
                await user.wait_for_answer()
            await asyncio.sleep(turn_end_grace + 0.2)
        finally:
            await worker.queue_frame(EndFrame())

    runner = WorkerRunner(handle_sigint=False)
    await runner.add_workers(worker)
    await asyncio.gather(runner.run(), drive())
    calls = await _chat_calls(base_url)
    results = [TurnResult(n, interrupted=n == interrupt_turn) for n in range(1, turns + 1)]
    for call in calls:
        index = sum(1 for w in windows if w <= call["started_at"]) - 1
        if index >= 0 and call["retry"] == 0:
            results[index].chat_calls.append(call)
    return SessionResult(resolved_session, results, time.monotonic() - started)


class _User:
    """Plays the user's side of the conversation."""

    def __init__(
        self,
        worker: PipelineWorker,
        progress: _Progress,
        speech_seconds: float,
        llm_only: bool,
        *,
        text_in: bool,
        speaks: bool,
    ) -> None:
        self._worker = worker
        self._progress = progress
        self._speech_seconds = speech_seconds
        self._llm_only = llm_only
        self._text_in = text_in
        self._speaks = speaks
        self._started_before = 0
        self._llm_ended_before = 0

    async def speak(self, number: int) -> None:
        self._llm_ended_before = self._progress.llm_ended
        if self._text_in:
            text = f"User utterance number {number}."
            await self._worker.queue_frames(
                [
                    UserStartedSpeakingFrame(),
                    TranscriptionFrame(text, "user", time_now_iso8601(), finalized=True),
                    UserStoppedSpeakingFrame(),
                ]
            )
        else:
            await self._worker.queue_frame(VADUserStartedSpeakingFrame(start_secs=0.2))
            for _ in range(round(self._speech_seconds / 0.02)):
                frame = InputAudioRawFrame(audio=_CHUNK_20MS, sample_rate=INPUT_SAMPLE_RATE, num_channels=1)
                await self._worker.queue_frame(frame)
                await asyncio.sleep(0.02)
            await self._worker.queue_frame(VADUserStoppedSpeakingFrame(stop_secs=0.2))
        self._started_before = self._progress.bot_started

    async def wait_until_bot_speaks(self) -> None:
        await until(lambda: self._progress.bot_started > self._started_before, _REPLY_TIMEOUT_S)

    async def wait_for_answer(self) -> None:
        """Wait for the LLM to finish and the bot to say it (a failed call leaves the bot silent)."""
        progress = self._progress
        await until(lambda: progress.llm_ended > self._llm_ended_before, _REPLY_TIMEOUT_S)
        if self._llm_only:
            stopped_before = progress.bot_stopped
            await self._worker.queue_frames([BotStartedSpeakingFrame(), BotStoppedSpeakingFrame()])
            await until(lambda: progress.bot_stopped > stopped_before, 1.0)
            return
        if not self._speaks:
            return
        if await until(lambda: progress.bot_started > self._started_before, 1.0):
            await until(lambda: progress.bot_stopped >= progress.bot_started, _REPLY_TIMEOUT_S)


async def until(condition: Callable[[], bool], timeout: float) -> bool:
    """Wait until ``condition()`` holds (True) or ``timeout`` seconds pass (False), polling every 10 ms."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.01)
    return True


async def _chat_calls(base_url: str) -> list[dict[str, Any]]:
    url = base_url.removesuffix("/v1") + "/_fake/chat_calls"
    try:
        async with aiohttp.ClientSession() as http, http.get(url) as response:
            calls: list[dict[str, Any]] = await response.json()
            return calls
    except aiohttp.ClientError:
        return []
