"""Seeing the frames that mark turns as processors push them: :class:`FrameTap`.

A Pipecat observer would do, but every observer gets its own queue and task and is sent every frame at
every processor: a task switch per frame per hop, the largest cost of tracing a turn. The tap instead
replaces ``push_frame`` on each processor of the pipeline with a function that looks at the frame's type
and, for the few types that matter, tells the :class:`~instrumentation.turns.TurnTracker` and Pipecat's
latency observer, inline, before the frame moves on. Each frame counts once (its first push downstream),
as an observer with ``observe_every_push=False`` would see it. Of the frames pushed upstream only
``ErrorFrame`` matters: the stage of the service that pushed it failed.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    CancelFrame,
    EndFrame,
    ErrorFrame,
    Frame,
    FunctionCallCancelFrame,
    FunctionCallInProgressFrame,
    FunctionCallResultFrame,
    LLMTextFrame,
    TranscriptionFrame,
    TTSAudioRawFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.observers import user_bot_latency_observer
from pipecat.observers.base_observer import FramePushed
from pipecat.observers.user_bot_latency_observer import LatencyBreakdown, UserBotLatencyObserver
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.services.llm_service import LLMService
from pipecat.services.stt_service import STTService
from pipecat.services.tts_service import TTSService

from instrumentation.safety import contained, report
from instrumentation.turns import TurnTracker

PushFrame = Callable[..., Awaitable[None]]

_MISSING = object()
# The frame types Pipecat's latency observer reacts to are the ones its module imports; reading them
# from there keeps the tap in step with the Pipecat release installed.
_LATENCY_FRAMES: tuple[type[Frame], ...] = tuple(
    v for v in vars(user_bot_latency_observer).values() if isinstance(v, type) and issubclass(v, Frame)
)
# Ids of frames already seen; frame ids only grow, so a short memory is enough.
_SEEN_LIMIT = 256
# The stage an ErrorFrame fails, by the kind of service that pushed it (other processors' errors do not).
_ERROR_STAGES: tuple[tuple[type[FrameProcessor], str], ...] = (
    (STTService, "stt"),
    (LLMService, "llm"),
    (TTSService, "tts"),
)


class _LatencyProbe(UserBotLatencyObserver):
    """Pipecat's latency observer, fed by the tap; its events run inline instead of as tasks.

    Inline, each measurement lands on the turn that was current when the bot started speaking.
    """

    def _register_event_handler(self, event_name: str, sync: bool = False) -> None:
        super()._register_event_handler(event_name, sync=True)


class _Route:
    """What to do with frames of one type."""

    __slots__ = ("latency", "turn")

    def __init__(self, turn: Callable[[Frame], None] | None, latency: bool) -> None:
        self.turn = turn
        self.latency = latency


_IGNORED = _Route(None, False)


class FrameTap:
    """Watches the pushes of a pipeline's processors and feeds a :class:`TurnTracker`."""

    def __init__(self, tracker: TurnTracker) -> None:
        self._tracker = tracker
        self._enabled = True
        self._latency = _LatencyProbe()
        self._latency.add_event_handler("on_latency_measured", self._on_latency)
        self._latency.add_event_handler("on_latency_breakdown", self._on_breakdown)
        self._turn_handlers: tuple[tuple[type[Frame], Callable[[Frame], None]], ...] = (
            (VADUserStartedSpeakingFrame, self._on_vad_started),
            (VADUserStoppedSpeakingFrame, self._on_vad_stopped),
            (TranscriptionFrame, lambda _frame: tracker.on_transcription()),
            (UserStartedSpeakingFrame, lambda _frame: tracker.on_user_started()),
            (UserStoppedSpeakingFrame, lambda _frame: tracker.on_user_stopped()),
            (BotStartedSpeakingFrame, lambda _frame: tracker.on_bot_started()),
            (BotStoppedSpeakingFrame, lambda _frame: tracker.on_bot_stopped()),
            (EndFrame, lambda _frame: tracker.on_pipeline_end()),
            (CancelFrame, lambda _frame: tracker.on_pipeline_end()),
            (FunctionCallInProgressFrame, self._on_tool_started),
            (FunctionCallResultFrame, self._on_tool_result),
            (FunctionCallCancelFrame, self._on_tool_cancelled),
        )
        self._routes: dict[type, _Route] = {}
        # The bot's first output of a turn: its first audio where it speaks, else the LLM's first text.
        # While no input awaits an answer these frames take their plain route, so an audio frame costs
        # nothing more than the route look-up; armed, their route also tells the tracker (then disarms).
        speaks = bool(tracker.stages.tts) or tracker.stages.speech_to_speech
        self._output_types: tuple[type[Frame], ...] = (TTSAudioRawFrame,) if speaks else (LLMTextFrame,)
        self._output_routes: dict[type, tuple[_Route, _Route]] = {}
        self._armed = False
        tracker.awaiting_output = self._arm
        self._seen: dict[int, None] = {}
        self._restore: list[tuple[weakref.ref[FrameProcessor], object]] = []

    def attach(self, processors: list[FrameProcessor]) -> None:
        """Start watching what ``processors`` push."""
        for processor in processors:
            previous = processor.__dict__.get("push_frame", _MISSING)
            processor.push_frame = self._hook(processor, processor.push_frame)  # type: ignore[method-assign,assignment]
            self._restore.append((weakref.ref(processor), previous))

    def detach(self) -> None:
        """Stop watching and give the processors their own ``push_frame`` back."""
        self._enabled = False
        for processor_ref, previous in self._restore:
            processor = processor_ref()
            if processor is None:
                continue
            if previous is _MISSING:
                processor.__dict__.pop("push_frame", None)
            else:
                processor.push_frame = previous  # type: ignore[method-assign,assignment]
        self._restore.clear()

    def _hook(self, processor: FrameProcessor, push_frame: PushFrame) -> PushFrame:
        # The source is held weakly: the processor holds this function, and the registry holds us.
        source = weakref.ref(processor)

        # Not a coroutine function: for the frames that do not matter (nearly all, audio included) it
        # hands back push_frame's own coroutine, so those pay for one dictionary look-up only.
        def tapped_push_frame(frame: Frame, direction: FrameDirection = FrameDirection.DOWNSTREAM) -> Awaitable[None]:
            if self._enabled:
                if direction is FrameDirection.DOWNSTREAM:
                    route = self._routes.get(type(frame)) or self._route_for(type(frame))
                    if route is not _IGNORED and frame.id not in self._seen:
                        return self._observe_then_push(source(), route, frame, push_frame, direction)
                elif isinstance(frame, ErrorFrame) and frame.id not in self._seen:
                    self._on_error(frame)
            return push_frame(frame, direction)

        return tapped_push_frame

    async def _observe_then_push(
        self,
        source: FrameProcessor | None,
        route: _Route,
        frame: Frame,
        push_frame: PushFrame,
        direction: FrameDirection,
    ) -> None:
        try:
            self._remember(frame)
            # The latency observer sees BotStartedSpeaking before the tracker could end the turn.
            if route.latency and source is not None:
                pushed = FramePushed(source, source, frame, direction, time.monotonic_ns())
                await self._latency.on_push_frame(pushed)
            if route.turn is not None:
                route.turn(frame)
        except Exception as error:
            report("watching the pipeline's frames", error)
        await push_frame(frame, direction)

    def _remember(self, frame: Frame) -> None:
        self._seen[frame.id] = None
        if len(self._seen) > _SEEN_LIMIT:
            del self._seen[next(iter(self._seen))]

    def _route_for(self, frame_type: type) -> _Route:
        turn = next((handler for cls, handler in self._turn_handlers if issubclass(frame_type, cls)), None)
        latency = issubclass(frame_type, _LATENCY_FRAMES)
        route = _Route(turn, latency) if turn is not None or latency else _IGNORED
        if issubclass(frame_type, self._output_types):
            armed = _Route(lambda _frame: self._tracker.on_first_output(), latency)
            self._output_routes[frame_type] = (route, armed)
            route = armed if self._armed else route
        self._routes[frame_type] = route
        return route

    def _arm(self, awaiting: bool) -> None:
        self._armed = awaiting
        for frame_type, (plain, armed) in self._output_routes.items():
            self._routes[frame_type] = armed if awaiting else plain

    def _on_error(self, frame: ErrorFrame) -> None:
        with contained("reading an error frame"):
            self._remember(frame)
            processor = frame.processor
            stage = next((name for cls, name in _ERROR_STAGES if isinstance(processor, cls)), None)
            if stage is not None:
                self._tracker.on_error(stage, str(frame.error))

    def _on_tool_started(self, frame: Frame) -> None:
        if isinstance(frame, FunctionCallInProgressFrame):
            self._tracker.on_tool_started(frame.tool_call_id, frame.function_name, frame.arguments)

    def _on_tool_result(self, frame: Frame) -> None:
        if isinstance(frame, FunctionCallResultFrame):
            self._tracker.on_tool_finished(frame.tool_call_id, frame.result, error=frame.error, cancelled=False)

    def _on_tool_cancelled(self, frame: Frame) -> None:
        if isinstance(frame, FunctionCallCancelFrame):
            self._tracker.on_tool_finished(frame.tool_call_id, None, error=None, cancelled=True)

    def _on_vad_started(self, frame: Frame) -> None:
        if isinstance(frame, VADUserStartedSpeakingFrame):
            self._tracker.on_vad_started(frame)

    def _on_vad_stopped(self, frame: Frame) -> None:
        if isinstance(frame, VADUserStoppedSpeakingFrame):
            self._tracker.on_vad_stopped(frame)

    async def on_pipeline_started(self, *_args: Any) -> None:
        """Tell the latency observer the pipeline is up (a greeting is timed from here)."""
        if self._enabled:
            with contained("watching the pipeline's frames"):
                await self._latency.on_pipeline_started()  # type: ignore[no-untyped-call]

    async def on_pipeline_finished(self, *_args: Any) -> None:
        """End every open turn (the pipeline reached a terminal state)."""
        if self._enabled:
            with contained("closing turns at the end of the pipeline"):
                self._tracker.close()

    async def _on_latency(self, _observer: UserBotLatencyObserver, seconds: float) -> None:
        self._tracker.on_latency(seconds)

    async def _on_breakdown(self, _observer: UserBotLatencyObserver, breakdown: LatencyBreakdown) -> None:
        self._tracker.on_breakdown(breakdown)
