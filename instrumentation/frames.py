"""Seeing the frames that mark turns as processors push them: :class:`FrameTap`.

A Pipecat observer would do, but every observer gets its own queue and task and is sent every frame at
every processor: a task switch per frame per hop, the largest cost of tracing a turn. The tap instead
sees each push where it happens (:mod:`instrumentation.pushes`; on a Pipecat that does not allow that,
through a wrapper around each processor's ``push_frame``) and, for the few types that matter, tells the
:class:`~instrumentation.turns.TurnTracker` and Pipecat's latency observer, inline, before the frame
moves on. Each frame counts once (its first push downstream), as an observer with
``observe_every_push=False`` would see it. Of the frames pushed upstream only ``ErrorFrame`` matters:
the stage of the service that pushed it failed. Audio frames cost nothing once the latency observer has
had the first chunk of a reply: the tap stops asking for them until something else happens.
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
    ClientConnectedFrame,
    EndFrame,
    ErrorFrame,
    Frame,
    FunctionCallCancelFrame,
    FunctionCallInProgressFrame,
    FunctionCallResultFrame,
    InterruptionFrame,
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

from instrumentation import pushes
from instrumentation.safety import contained, report
from instrumentation.turns import TurnTracker

PushFrame = Callable[..., Awaitable[None]]

_MISSING = object()
# The frame types Pipecat's latency observer reacts to are the ones its module imports; reading them
# from there keeps the tap in step with the Pipecat release installed.
_LATENCY_FRAMES: tuple[type[Frame], ...] = tuple(
    v for v in vars(user_bot_latency_observer).values() if isinstance(v, type) and issubclass(v, Frame)
)
# The latency observer marks only the first of these in a cycle; later ones change nothing until a frame
# that starts or ends a cycle (_NEW_CYCLE) arrives, so after the first the tap stops asking for them.
_FIRST_ONLY: tuple[type[Frame], ...] = (LLMTextFrame, TTSAudioRawFrame)
_NEW_CYCLE: tuple[type[Frame], ...] = (
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
    BotStartedSpeakingFrame,
    InterruptionFrame,
    ClientConnectedFrame,
)
# Ids of frames already seen (by the push_frame wrappers); frame ids only grow, so a short memory is enough.
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


class _TypeSet(dict[type, bool]):
    """Whether a type is a subclass of ``bases``: one look-up once the type has been asked about."""

    def __init__(self, bases: tuple[type, ...]) -> None:
        super().__init__()
        self._bases = bases

    def __missing__(self, frame_type: type) -> bool:
        found = self[frame_type] = issubclass(frame_type, self._bases)
        return found


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
        self._muted: set[type] = set()  # first-only types not asked for until the latency observer may care again
        self._muted_by = _TypeSet(_NEW_CYCLE)
        self._seen: tuple[dict[int, None], dict[int, None]] = ({}, {})  # (downstream, upstream)
        self._watched: list[weakref.ref[FrameProcessor]] = []
        self._restore: list[tuple[weakref.ref[FrameProcessor], object]] = []

    def attach(self, processors: list[FrameProcessor]) -> None:
        """Start watching what ``processors`` push."""
        if pushes.available():
            pushes.watch(processors, self)
            self._watched = [weakref.ref(processor) for processor in processors]
            return
        for processor in processors:
            previous = processor.__dict__.get("push_frame", _MISSING)
            processor.push_frame = self._hook(processor, processor.push_frame)  # type: ignore[method-assign,assignment]
            self._restore.append((weakref.ref(processor), previous))

    def detach(self) -> None:
        """Stop watching and give the processors their own ``push_frame`` back."""
        self._enabled = False
        if self._watched:
            pushes.unwatch([p for p in (ref() for ref in self._watched) if p is not None], self)
            self._watched = []
        for processor_ref, previous in self._restore:
            processor = processor_ref()
            if processor is None:
                continue
            if previous is _MISSING:
                processor.__dict__.pop("push_frame", None)
            else:
                processor.push_frame = previous  # type: ignore[method-assign,assignment]
        self._restore.clear()

    # -- pushes.Watcher --------------------------------------------------------------------------
    def wants(self, frame_type: type, downstream: bool) -> bool:
        """Whether the tap is to see pushes of ``frame_type`` in that direction, now."""
        if not self._enabled:
            return False
        if not downstream:
            return issubclass(frame_type, ErrorFrame)
        route = self._routes.get(frame_type) or self._route_for(frame_type)
        return route is not _IGNORED and frame_type not in self._muted

    def pushed(self, data: FramePushed) -> None:
        """The first push of a frame the tap wants, before the frame moves on."""
        try:
            frame = data.frame
            if data.direction is not FrameDirection.DOWNSTREAM:
                if isinstance(frame, ErrorFrame):
                    self._on_error(frame)
                return
            frame_type = type(frame)
            route = self._routes.get(frame_type) or self._route_for(frame_type)
            # The latency observer sees BotStartedSpeaking before the tracker could end the turn.
            if route.latency:
                if self._muted_by[frame_type]:
                    if self._muted:
                        pushes.reconsider(self, self._muted)
                        self._muted.clear()
                elif route.turn is None and issubclass(frame_type, _FIRST_ONLY):
                    self._muted.add(frame_type)  # not armed for the bot's first output: the next ones can wait
                    pushes.reconsider(self, (frame_type,))
                coroutine = self._latency.on_push_frame(data)
                try:
                    yielded = coroutine.send(None)  # it does not wait on anything: its handlers are synchronous
                except StopIteration:
                    pass
                else:
                    pushes.finish_later(coroutine, yielded)
            if route.turn is not None:
                route.turn(frame)
        except Exception as error:
            report("watching the pipeline's frames", error)

    def _hook(self, processor: FrameProcessor, push_frame: PushFrame) -> PushFrame:
        """A ``push_frame`` that shows the tap what it wants, where :mod:`instrumentation.pushes` cannot."""
        source = weakref.ref(processor)  # weak: the processor holds this function, and the registry holds us

        def tapped_push_frame(frame: Frame, direction: FrameDirection = FrameDirection.DOWNSTREAM) -> Awaitable[None]:
            downstream = direction is FrameDirection.DOWNSTREAM
            seen = self._seen[0 if downstream else 1]
            pusher = source()
            if pusher is not None and frame.id not in seen and self.wants(type(frame), downstream):
                seen[frame.id] = None
                if len(seen) > _SEEN_LIMIT:
                    del seen[next(iter(seen))]
                self.pushed(FramePushed(pusher, pusher, frame, direction, time.monotonic_ns()))
            return push_frame(frame, direction)

        return tapped_push_frame

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
        if awaiting:
            output = {t for t in self._muted if issubclass(t, self._output_types)}
            self._muted -= output
            pushes.reconsider(self, output)

    def _on_error(self, frame: ErrorFrame) -> None:
        with contained("reading an error frame"):
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
                pushes.reconsider(self, self._muted)
                self._muted.clear()
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
