"""Real Pipecat speech-to-speech bots, run offline against :mod:`provision.demo.fakes.realtime`.

The pipeline is ``LLMUserAggregator → OpenAIRealtimeLLMService | GeminiLiveLLMService → NullOutputTransport →
LLMAssistantAggregator``. :func:`run_conversation` plays the user as a microphone would: it streams 20 ms
``InputAudioRawFrame``\\ s all the time (a tone while the user speaks, silence otherwise), kicks the bot off
with an ``LLMRunFrame`` (the bot greets), then speaks once per exchange and waits for the bot's answer.

OpenAI Realtime decides the user's turns with its server VAD (the service turns its events into
``UserStarted/StoppedSpeakingFrame`` through the external turn strategies it recommends). Gemini Live emits
no turn frames, so for it the driver also sends what a transport's local VAD would
(``VADUserStarted/StoppedSpeakingFrame``), as Pipecat's supplemental-VAD example does.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from pipecat.adapters.llm.schemas.tools_schema import ToolsSchema
from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    EndFrame,
    ErrorFrame,
    Frame,
    InputAudioRawFrame,
    LLMRunFrame,
    OutputAudioRawFrame,
    TTSAudioRawFrame,
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
from pipecat.processors.frame_processor import FrameDirection
from pipecat.services.llm_service import LLMService
from pipecat.services.openai.realtime.events import (
    AudioConfiguration,
    AudioInput,
    InputAudioTranscription,
    SessionProperties,
)
from pipecat.services.openai.realtime.llm import OpenAIRealtimeLLMService
from pipecat.transports.base_transport import TransportParams
from pipecat.turns.user_stop import SpeechTimeoutUserTurnStopStrategy
from pipecat.turns.user_turn_strategies import UserTurnStrategies
from pipecat.workers.runner import WorkerRunner

from provision.demo.bot import INPUT_SAMPLE_RATE, NullOutputTransport, until
from provision.demo.fakes.openai import sine_pcm
from provision.demo.fakes.realtime import OUTPUT_SAMPLE_RATE, ExchangeScript, FakeGeminiLive, FakeOpenAIRealtime

INSTRUCTIONS = "You are a friendly voice assistant. Keep answers short."
# The context starts with a user message so that the LLMRunFrame has both services greet (Gemini Live takes
# a leading system or developer message as its system instruction and would have nothing to answer).
KICKOFF = "Please greet the user."
_SAMPLES_20MS = INPUT_SAMPLE_RATE // 50
# 250 Hz: five whole periods per chunk, and low enough to survive resampling to 24 kHz.
_SPEECH_20MS = sine_pcm(0.02, INPUT_SAMPLE_RATE, 250.0)
_SILENCE_20MS = bytes(_SAMPLES_20MS * 2)
_ANSWER_TIMEOUT_S = 6.0
_AUDIO_FRAMES = (InputAudioRawFrame, OutputAudioRawFrame, TTSAudioRawFrame)


@dataclass
class S2SBot:
    """A speech-to-speech pipeline and the parts a test or the instrumentation reaches for.

    Attributes:
        pipeline: ``user aggregator → llm → output transport → assistant aggregator``.
        llm: The speech-to-speech service (register tool handlers on it).
        context: The conversation's context.
        local_vad: Whether the user's turns come from local VAD frames (Gemini Live) rather than the
            service's own server VAD (OpenAI Realtime).
    """

    pipeline: Pipeline
    llm: LLMService[Any]
    context: LLMContext
    local_vad: bool


def _assemble(llm: LLMService[Any], user_params: LLMUserAggregatorParams, local_vad: bool) -> S2SBot:
    context = LLMContext([{"role": "user", "content": KICKOFF}])
    aggregators = LLMContextAggregatorPair(context, user_params=user_params)
    # No end silence: the transport would play 2 s of it after the EndFrame.
    params = TransportParams(
        audio_out_enabled=True, audio_out_sample_rate=OUTPUT_SAMPLE_RATE, audio_out_end_silence_secs=0
    )
    output = NullOutputTransport(params)
    pipeline = Pipeline([aggregators.user(), llm, output, aggregators.assistant()])
    return S2SBot(pipeline, llm, context, local_vad)


def openai_realtime_bot(url: str, *, tools: ToolsSchema | None = None, instructions: str = INSTRUCTIONS) -> S2SBot:
    """An ``OpenAIRealtimeLLMService`` bot against the Realtime API at ``url`` (a ``ws://…/v1/realtime``)."""
    properties = SessionProperties(audio=AudioConfiguration(input=AudioInput(transcription=InputAudioTranscription())))
    if tools is not None:
        properties.tools = tools
    llm = OpenAIRealtimeLLMService(
        api_key="sk-fake",
        base_url=url,
        settings=OpenAIRealtimeLLMService.Settings(system_instruction=instructions, session_properties=properties),
    )
    # No turn strategies of our own: the service recommends external ones driven by its server VAD.
    return _assemble(llm, LLMUserAggregatorParams(), local_vad=False)


def gemini_live_bot(http_options: Any, *, tools: ToolsSchema | None = None, instructions: str = INSTRUCTIONS) -> S2SBot:
    """A ``GeminiLiveLLMService`` bot whose google-genai client uses ``http_options`` (see ``FakeGeminiLive``)."""
    from pipecat.services.google.gemini_live.llm import GeminiLiveLLMService

    llm = GeminiLiveLLMService(
        api_key="fake-google-key",
        http_options=http_options,
        tools=tools,
        settings=GeminiLiveLLMService.Settings(system_instruction=instructions),
    )
    strategies = UserTurnStrategies(stop=[SpeechTimeoutUserTurnStopStrategy(user_speech_timeout=0.1)])
    return _assemble(llm, LLMUserAggregatorParams(user_turn_strategies=strategies), local_vad=True)


@asynccontextmanager
async def serve(
    kind: str, script: Sequence[ExchangeScript], *, tools: ToolsSchema | None = None, **options: Any
) -> AsyncIterator[tuple[FakeOpenAIRealtime | FakeGeminiLive, S2SBot]]:
    """``async with serve("openai" | "gemini", script) as (fake, bot)``: a started fake and a bot aimed at it."""
    fake: FakeOpenAIRealtime | FakeGeminiLive
    if kind == "openai":
        fake = FakeOpenAIRealtime(script=script, **options)
        await fake.start()
        bot = openai_realtime_bot(fake.url, tools=tools)
    else:
        fake = FakeGeminiLive(script=script, **options)
        await fake.start()
        bot = gemini_live_bot(fake.http_options(), tools=tools)
    try:
        yield fake, bot
    finally:
        await fake.stop()


@dataclass(frozen=True)
class FrameEvent:
    """One push of a (non-audio) frame from one processor to the next."""

    at: float
    frame: Frame
    direction: FrameDirection
    source: str
    destination: str

    @property
    def name(self) -> str:
        """The frame's class name."""
        return type(self.frame).__name__


class FrameLog(BaseObserver):
    """Records every push of every frame but audio, in order."""

    def __init__(self) -> None:
        super().__init__(observe_every_push=True)
        self.events: list[FrameEvent] = []

    async def on_push_frame(self, data: FramePushed) -> None:
        if isinstance(data.frame, _AUDIO_FRAMES):
            return
        self.events.append(
            FrameEvent(time.monotonic(), data.frame, data.direction, data.source.name, data.destination.name)
        )

    def count(self, kind: type[Frame], direction: FrameDirection = FrameDirection.DOWNSTREAM) -> int:
        """How many distinct frames of ``kind`` were pushed in ``direction``."""
        return len({e.frame.id for e in self.events if isinstance(e.frame, kind) and e.direction == direction})

    def first_pushes(self, kind: type[Frame] = Frame) -> list[FrameEvent]:
        """The first push of each distinct frame of ``kind``, in order."""
        seen: set[int] = set()
        firsts = []
        for event in self.events:
            if isinstance(event.frame, kind) and event.frame.id not in seen:
                seen.add(event.frame.id)
                firsts.append(event)
        return firsts


@dataclass
class ConversationResult:
    """What one :func:`run_conversation` saw."""

    frames: FrameLog
    seconds: float
    exchange_starts: list[float] = field(default_factory=list)

    def exchange_of(self, event: FrameEvent) -> int:
        """The exchange an event happened in (0: before the user first spoke), by when the user began."""
        return sum(1 for start in self.exchange_starts if start <= event.at)


class _Microphone:
    """Streams the user's audio in real time: a tone while speaking, silence otherwise."""

    def __init__(self, worker: PipelineWorker) -> None:
        self._worker = worker
        self.speaking = False

    async def run(self) -> None:
        while True:
            audio = _SPEECH_20MS if self.speaking else _SILENCE_20MS
            await self._worker.queue_frame(
                InputAudioRawFrame(audio=audio, sample_rate=INPUT_SAMPLE_RATE, num_channels=1)
            )
            await asyncio.sleep(0.02)


async def run_conversation(
    bot: S2SBot,
    *,
    exchanges: int,
    barge_in: int | None = None,
    speech_seconds: float = 0.4,
    end_wait: float = 0.3,
    before_run: Callable[[PipelineWorker], None] | None = None,
    enable_tracing: bool = False,
) -> ConversationResult:
    """Run a greeting and ``exchanges`` user exchanges through ``bot``; return the frames seen.

    ``barge_in=k`` starts the user's exchange ``k+1`` while the bot still speaks its answer to ``k``.
    ``before_run`` gets the worker before it runs (for ``instrument_pipeline``). An exchange whose answer
    never comes (a failure) is waited for until an ``ErrorFrame`` appears or a few seconds pass.
    """
    started = time.monotonic()
    worker = PipelineWorker(
        bot.pipeline,
        params=PipelineParams(
            enable_metrics=True,
            enable_usage_metrics=True,
            audio_in_sample_rate=INPUT_SAMPLE_RATE,
            audio_out_sample_rate=OUTPUT_SAMPLE_RATE,
        ),
        enable_tracing=enable_tracing,
        enable_rtvi=False,
        idle_timeout_secs=None,
    )
    log = FrameLog()
    worker.add_observer(log)
    if before_run is not None:
        before_run(worker)
    ready = asyncio.Event()

    @worker.event_handler("on_pipeline_started")  # type: ignore[untyped-decorator]
    async def _on_started(_worker: PipelineWorker, _frame: Frame) -> None:
        ready.set()

    result = ConversationResult(log, 0.0)
    microphone = _Microphone(worker)

    def bot_started() -> int:
        return log.count(BotStartedSpeakingFrame)

    def bot_stopped() -> int:
        return log.count(BotStoppedSpeakingFrame)

    def errors() -> int:
        return log.count(ErrorFrame, FrameDirection.UPSTREAM)

    async def wait_for_answer(started_before: int, errors_before: int) -> None:
        answered = await until(lambda: bot_started() > started_before or errors() > errors_before, _ANSWER_TIMEOUT_S)
        if answered and errors() == errors_before:
            await until(lambda: bot_stopped() >= bot_started(), _ANSWER_TIMEOUT_S)

    async def wait_until_bot_speaks(started_before: int) -> None:
        await until(lambda: bot_started() > started_before, _ANSWER_TIMEOUT_S)

    async def speak() -> None:
        result.exchange_starts.append(time.monotonic())
        microphone.speaking = True
        if bot.local_vad:
            await worker.queue_frame(VADUserStartedSpeakingFrame(start_secs=0.2))
        await asyncio.sleep(speech_seconds)
        microphone.speaking = False
        if bot.local_vad:
            await worker.queue_frame(VADUserStoppedSpeakingFrame(stop_secs=0.2))

    async def drive() -> None:
        mic = asyncio.create_task(microphone.run())
        try:
            await asyncio.wait_for(ready.wait(), 10)
            await worker.queue_frame(LLMRunFrame())
            await wait_for_answer(0, 0)
            for number in range(1, exchanges + 1):
                started_before, errors_before = bot_started(), errors()
                await speak()
                if number == barge_in and number < exchanges:
                    await wait_until_bot_speaks(started_before)
                    await asyncio.sleep(0.1)
                    continue
                await wait_for_answer(started_before, errors_before)
            await asyncio.sleep(end_wait)
        finally:
            mic.cancel()
            await worker.queue_frame(EndFrame())

    runner = WorkerRunner(handle_sigint=False)
    await runner.add_workers(worker)
    await asyncio.gather(runner.run(), drive())
    result.seconds = time.monotonic() - started
    return result
