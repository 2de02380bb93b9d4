"""Conversational turns: when they start and end, and the ``pipecat.turn`` span of each.

A turn starts when the user starts speaking (``UserStartedSpeakingFrame``, back-dated to the VAD's
speech onset when a ``VADUserStartedSpeakingFrame`` says when that was), or when an LLM call starts
while no turn is open (a greeting). It ends

* ``grace`` seconds after ``BotStoppedSpeakingFrame`` unless the bot starts speaking again (a pause
  mid-reply does not split the turn),
* when the user starts speaking while the bot speaks (``pipecat.interrupted=true``), or after the bot
  has spoken or an LLM call has answered (a plain new turn; speech before any answer continues the turn),
* at ``EndFrame`` / ``CancelFrame`` or pipeline clean-up.

An ending turn waits for its LLM calls still in flight, so their tokens are in its sums. Each turn is
the root of its own trace and is exported as soon as it ends.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Span, Status, StatusCode
from pipecat.frames.frames import VADUserStartedSpeakingFrame
from pipecat.observers.user_bot_latency_observer import LatencyBreakdown

from instrumentation import contract as c
from instrumentation.runtime import tracer
from instrumentation.safety import contained
from instrumentation.session import SessionInfo, with_session

DEFAULT_TURN_END_GRACE_S = 0.5
# A VAD onset older than this is not the start of the turn being opened.
_MAX_BACKDATE_S = 30.0


@dataclass(frozen=True)
class Stages:
    """Names of the pipeline's STT and TTS processors (as they appear in Pipecat's metrics)."""

    stt: frozenset[str] = frozenset()
    tts: frozenset[str] = frozenset()


@dataclass
class Turn:
    """One turn's span and what has been learned about it so far."""

    number: int
    span: Span
    context: otel_context.Context
    opened_by_user: bool
    bot_spoke: bool = False
    interrupted: bool = False
    failed: bool = False
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latencies: dict[str, int] = field(default_factory=dict)
    calls_in_flight: int = 0
    calls_answered: int = 0
    ending: bool = False
    ended: bool = False


def _ms(seconds: float) -> int:
    return max(0, round(seconds * 1000))


class TurnTracker:
    """The turn state machine of one session; every method is synchronous and never raises."""

    def __init__(self, session: SessionInfo, stages: Stages, grace: float) -> None:
        self.session = session
        self.stages = stages
        self.grace = grace
        self.current: Turn | None = None
        self._unfinished: list[Turn] = []
        self._count = 0
        self._bot_speaking = False
        self._vad_onset: float | None = None
        self._grace_timer: asyncio.TimerHandle | None = None

    # -- turn lifecycle -------------------------------------------------------------------------
    def _open(self, *, by_user: bool, start_time: float | None = None) -> Turn:
        self._count += 1
        attributes: dict[str, str | int] = {c.TURN_NUMBER: self._count, c.SCHEMA: c.SCHEMA_VERSION}
        attributes.update(self.session.attributes())
        start_ns = int(start_time * 1e9) if start_time is not None else None
        span = tracer().start_span(
            c.TURN_SPAN, context=otel_context.Context(), attributes=attributes, start_time=start_ns
        )
        ctx = trace.set_span_in_context(span, with_session(self.session, otel_context.Context()))
        self.current = Turn(self._count, span, ctx, opened_by_user=by_user)
        self._unfinished.append(self.current)
        return self.current

    def _end(self, turn: Turn, *, interrupted: bool = False) -> None:
        turn.interrupted = turn.interrupted or interrupted
        turn.ending = True
        if self.current is turn:
            self.current = None
            self._cancel_grace()
        if turn.calls_in_flight == 0:
            self._finish(turn)

    def _finish(self, turn: Turn) -> None:
        if turn.ended:
            return
        turn.ended = True
        self._unfinished.remove(turn)
        with contained("ending a turn span"):
            span = turn.span
            span.set_attributes(
                {
                    c.INTERRUPTED: turn.interrupted,
                    c.PROMPT_TOKENS: turn.prompt_tokens,
                    c.COMPLETION_TOKENS: turn.completion_tokens,
                    **turn.latencies,
                }
            )
            if turn.failed:
                span.set_status(Status(StatusCode.ERROR, "an LLM call of this turn failed"))
            else:
                span.set_status(Status(StatusCode.OK))
            span.end()

    # -- LLM calls (called from the LLM service's task) -----------------------------------------
    def begin_llm_call(self) -> Turn:
        """The turn a starting LLM call belongs to: the open one, or a new one."""
        turn = self.current if self.current is not None else self._open(by_user=False)
        turn.calls_in_flight += 1
        return turn

    def end_llm_call(
        self,
        turn: Turn,
        *,
        prompt_tokens: int | None,
        completion_tokens: int | None,
        ttfb_ms: int | None,
        failed: bool,
        cancelled: bool = False,
    ) -> None:
        """Fold a finished call into its turn (and finish the turn if it was only waiting for it)."""
        turn.calls_in_flight -= 1
        if not cancelled:
            turn.calls_answered += 1
        turn.prompt_tokens += prompt_tokens or 0
        turn.completion_tokens += completion_tokens or 0
        turn.failed = turn.failed or failed
        if ttfb_ms is not None:
            turn.latencies.setdefault(c.LLM_TTFB_MS, ttfb_ms)
        if turn.ending and turn.calls_in_flight == 0:
            self._finish(turn)

    # -- frames (called by the frame tap as they are pushed, in push order) ------------------
    def on_vad_started(self, frame: VADUserStartedSpeakingFrame) -> None:
        self._vad_onset = frame.timestamp - frame.start_secs

    def on_user_started(self) -> None:
        onset, self._vad_onset = self._vad_onset, None
        if onset is not None and not 0 <= time.time() - onset < _MAX_BACKDATE_S:
            onset = None
        turn = self.current
        if turn is not None:
            if self._bot_speaking:
                self._end(turn, interrupted=True)
            elif turn.bot_spoke or turn.calls_answered:
                self._end(turn)
            else:
                # Still the same turn: the user resumed before any answer, or an LLM call opened it
                # before the user's turn start was pushed (a processor may ask the LLM early).
                turn.opened_by_user = True
                return
        self._open(by_user=True, start_time=onset)

    def on_bot_started(self) -> None:
        self._bot_speaking = True
        self._cancel_grace()
        if self.current is not None:
            self.current.bot_spoke = True

    def on_bot_stopped(self) -> None:
        if not self._bot_speaking:
            return
        self._bot_speaking = False
        turn = self.current
        if turn is not None and turn.bot_spoke:
            self._cancel_grace()
            loop = asyncio.get_running_loop()
            self._grace_timer = loop.call_later(self.grace, self._grace_expired, turn)

    def on_pipeline_end(self) -> None:
        self._bot_speaking = False
        if self.current is not None:
            self._end(self.current)

    def close(self) -> None:
        """End every open turn now, calls in flight or not (pipeline clean-up)."""
        self._cancel_grace()
        self.current = None
        for turn in list(self._unfinished):
            self._finish(turn)

    def _grace_expired(self, turn: Turn) -> None:
        with contained("ending a turn after the bot stopped speaking"):
            self._grace_timer = None
            if self.current is turn and not self._bot_speaking:
                self._end(turn)

    def _cancel_grace(self) -> None:
        if self._grace_timer is not None:
            self._grace_timer.cancel()
            self._grace_timer = None

    # -- latency (from Pipecat's UserBotLatencyObserver, fed by the frame tap) -------------------
    def on_latency(self, seconds: float) -> None:
        if self.current is not None:
            self.current.latencies.setdefault(c.VOICE_TO_VOICE_MS, _ms(seconds))

    def on_breakdown(self, breakdown: LatencyBreakdown) -> None:
        turn = self.current
        if turn is None:
            return
        if self.stages.stt:
            stt = [x.duration_secs for x in breakdown.contributions if x.key == "transcription"]
            if stt:
                turn.latencies.setdefault(c.STT_MS, _ms(sum(stt)))
        if self.stages.tts:
            ttfb = [x.duration_secs for x in breakdown.ttfb if x.processor in self.stages.tts]
            synthesis = [x.duration_secs for x in breakdown.contributions if x.key == "speech_synthesis"]
            if ttfb or synthesis:
                turn.latencies.setdefault(c.TTS_TTFB_MS, _ms(ttfb[0] if ttfb else sum(synthesis)))
