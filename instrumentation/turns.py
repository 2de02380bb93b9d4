"""Conversational turns: when they start and end, and the ``pipecat.turn`` span of each.

A turn starts when the user starts speaking (``UserStartedSpeakingFrame``, back-dated to the VAD's
speech onset when a ``VADUserStartedSpeakingFrame`` says when that was), or when an LLM call starts
while no turn is open (a greeting). It ends

* ``grace`` seconds after ``BotStoppedSpeakingFrame`` unless the bot starts speaking again (a pause
  mid-reply does not split the turn),
* when the user starts speaking while the bot speaks (``pipecat.interrupted=true``), or after the bot
  has spoken or an LLM call has answered (a plain new turn; speech before any answer continues the turn),
* at once when a stage failed (an LLM call raised, or a service pushed an ``ErrorFrame``) and nothing of
  the turn is still running or speaking: the bot will not answer, so the turn is over (status ERROR),
* at ``EndFrame`` / ``CancelFrame`` or pipeline clean-up.

An ending turn waits for its LLM calls still in flight, so their tokens are in its sums. Each turn is
the root of its own trace and is exported as soon as it ends. Each function call the LLM asks for is a
TOOL span under its turn, from ``FunctionCallInProgressFrame`` to its result (or cancellation).

Response latency (``pipecat.response_ms``), on every turn that answers the user's input, whatever the bot:
from the end of that input to the bot's first output. The input ends where the user stopped speaking
(local VAD, the instant Pipecat times voice-to-voice from; without local VAD a speech-to-speech service's
own "user stopped speaking"), else, for a bot that hears no speech, where the user's text arrived (each
``TranscriptionFrame``: the last one before the answer counts). The first output is the first TTS audio
where the pipeline speaks (a TTS service or a speech-to-speech one), else the first LLM text. A bot that
speaks has voice-to-voice too: it ends when the output transport starts playing that first audio, so
``voice_to_voice_ms = response_ms + the output transport's start-up`` (one audio chunk, a few ms), and
``response_ms <= voice_to_voice_ms``. A greeting answers no input and has neither.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Span, Status, StatusCode
from pipecat.frames.frames import VADUserStartedSpeakingFrame, VADUserStoppedSpeakingFrame
from pipecat.observers.user_bot_latency_observer import LatencyBreakdown

from instrumentation import contract as c
from instrumentation.runtime import content_json, set_attributes, start_span
from instrumentation.safety import report
from instrumentation.session import SessionInfo, with_session

DEFAULT_TURN_END_GRACE_S = 0.5
# A VAD onset older than this is not the start of the turn being opened.
_MAX_BACKDATE_S = 30.0


@dataclass(frozen=True)
class Stages:
    """Names of the pipeline's STT and TTS processors (as they appear in Pipecat's metrics), and whether
    a speech-to-speech service hears and speaks instead."""

    stt: frozenset[str] = frozenset()
    tts: frozenset[str] = frozenset()
    speech_to_speech: bool = False


@dataclass
class Turn:
    """One turn's span and what has been learned about it so far."""

    number: int
    span: Span
    context: otel_context.Context
    opened_by_user: bool
    bot_spoke: bool = False
    interrupted: bool = False
    failed_stage: str | None = None
    error: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latencies: dict[str, int] = field(default_factory=dict)
    calls_in_flight: int = 0
    calls_answered: int = 0
    tool_calls: int = 0
    tool_ms: int = 0
    ending: bool = False
    ended: bool = False

    @property
    def failed(self) -> bool:
        """Whether a stage of the turn failed."""
        return self.failed_stage is not None

    def fail(self, stage: str, error: str | None) -> None:
        """Record a failed stage; the first failure is the one the turn reports."""
        if self.failed_stage is None:
            self.failed_stage = stage
            self.error = error[: c.ERROR_LIMIT] if error else None


@dataclass
class _ToolCall:
    span: Span
    turn: Turn
    started: float


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
        self._user_stopped: float | None = None
        self._grace_timer: asyncio.TimerHandle | None = None
        self._tools: dict[str, _ToolCall] = {}
        # The end of the user's latest input (wall clock), until the bot's first output answers it.
        self._input_end: float | None = None
        self._input_is_speech = False
        self._vad_seen = False
        # Told True when an input awaits its answer and False once answered: the frame tap then watches
        # the output frames (audio included) only while there is something to time.
        self.awaiting_output: Callable[[bool], None] = lambda _awaiting: None

    # -- turn lifecycle -------------------------------------------------------------------------
    def _open(self, *, by_user: bool, start_time: float | None = None) -> Turn:
        self._count += 1
        attributes: dict[str, str | int | float | bool] = {c.TURN_NUMBER: self._count, c.SCHEMA: c.SCHEMA_VERSION}
        attributes.update(self.session.attributes())
        start_ns = int(start_time * 1e9) if start_time is not None else None
        span = start_span(c.TURN_SPAN, otel_context.Context(), attributes, start_ns)
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
        try:
            span = turn.span
            outcome: dict[str, str | int | float | bool] = {
                c.INTERRUPTED: turn.interrupted,
                c.PROMPT_TOKENS: turn.prompt_tokens,
                c.COMPLETION_TOKENS: turn.completion_tokens,
                c.TOOL_CALLS: turn.tool_calls,
                c.TOOL_MS: turn.tool_ms,
                **turn.latencies,
            }
            status = Status(StatusCode.OK)
            if turn.failed_stage is not None:
                message = turn.error or f"the {turn.failed_stage} stage of this turn failed"
                outcome[c.FAILED_STAGE] = turn.failed_stage
                outcome[c.ERROR] = message
                status = Status(StatusCode.ERROR, message)
            set_attributes(span, outcome)
            span.set_status(status)
            span.end()
        except Exception as problem:
            report("ending a turn span", problem)

    def _end_if_failed(self, turn: Turn) -> None:
        """End a failed turn now unless part of it still runs or the bot is answering."""
        busy = turn.calls_in_flight or self._bot_speaking or any(tool.turn is turn for tool in self._tools.values())
        if turn.failed and not turn.ending and not busy:
            self._end(turn)

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
        error: str | None = None,
        cancelled: bool = False,
    ) -> None:
        """Fold a finished call into its turn (``error``: why it failed) and end the turn if that is due."""
        turn.calls_in_flight -= 1
        if not cancelled:
            turn.calls_answered += 1
        turn.prompt_tokens += prompt_tokens or 0
        turn.completion_tokens += completion_tokens or 0
        if error is not None:
            turn.fail("llm", error)
        if ttfb_ms is not None:
            turn.latencies.setdefault(c.LLM_TTFB_MS, ttfb_ms)
        if turn.ending and turn.calls_in_flight == 0:
            self._finish(turn)
        else:
            self._end_if_failed(turn)

    # -- errors and tool calls (from the frame tap) ----------------------------------------------
    def on_error(self, stage: str, error: str) -> None:
        """A service of ``stage`` (stt, llm, tts) reported an error: the current turn failed there."""
        turn = self.current
        if turn is not None:
            turn.fail(stage, error)
            self._end_if_failed(turn)

    def on_tool_started(self, call_id: str, name: str, arguments: object) -> None:
        """The LLM's function call ``call_id`` started running."""
        turn = self.current
        if turn is None or call_id in self._tools:
            return
        attributes: dict[str, str | int | float | bool] = {
            c.OI_SPAN_KIND: "TOOL",
            c.OI_TOOL_NAME: name,
            c.OI_TOOL_CALL_ID: call_id,
            c.TURN_NUMBER: turn.number,
            c.OI_INPUT: content_json(arguments),
            c.OI_INPUT_MIME: "application/json",
        }
        attributes.update(self.session.attributes())
        span = start_span(c.TOOL_SPAN, turn.context, attributes)
        self._tools[call_id] = _ToolCall(span, turn, time.perf_counter())

    def on_tool_finished(self, call_id: str, result: object, *, error: str | None, cancelled: bool) -> None:
        """The function call ``call_id`` returned ``result`` (or failed, or was cancelled)."""
        call = self._tools.pop(call_id, None)
        if call is None:
            return
        turn, span = call.turn, call.span
        elapsed = _ms(time.perf_counter() - call.started)
        turn.tool_calls += 1
        turn.tool_ms += elapsed
        if cancelled:
            span.set_attribute(c.CANCELLED, True)
        else:
            span.set_attributes({c.OI_OUTPUT: content_json(result), c.OI_OUTPUT_MIME: "application/json"})
        if error is not None:
            span.set_attribute(c.ERROR, error[: c.ERROR_LIMIT])
            span.set_status(Status(StatusCode.ERROR, error[: c.ERROR_LIMIT]))
            turn.fail("tool", error)
        elif not cancelled:
            span.set_status(Status(StatusCode.OK))
        span.end()
        if not turn.ended:
            self._end_if_failed(turn)

    # -- frames (called by the frame tap as they are pushed, in push order) ------------------
    def on_vad_started(self, frame: VADUserStartedSpeakingFrame) -> None:
        self._vad_onset = frame.timestamp - frame.start_secs
        self._vad_seen = True
        self._set_input_end(None, speech=False)

    def on_vad_stopped(self, frame: VADUserStoppedSpeakingFrame) -> None:
        # As Pipecat's latency observer: the VAD decided stop_secs after the speech ended.
        self._set_input_end(frame.timestamp - frame.stop_secs, speech=True)

    def on_transcription(self) -> None:
        """The user's words as text: the end of their input unless it was speech, whose end came first."""
        if not self._input_is_speech:
            self._set_input_end(time.time(), speech=False)

    def on_first_output(self) -> None:
        """The bot's first output since the user's input ended (TTS audio, or LLM text without TTS)."""
        turn, ended = self.current, self._input_end
        self._set_input_end(None, speech=False)
        if turn is not None and ended is not None:
            turn.latencies.setdefault(c.RESPONSE_MS, _ms(time.time() - ended))

    def _set_input_end(self, at: float | None, *, speech: bool) -> None:
        awaiting = self._input_end is not None
        self._input_end, self._input_is_speech = at, speech
        if (at is not None) != awaiting:
            self.awaiting_output(at is not None)

    def on_user_started(self) -> None:
        if not self._vad_seen:
            # No local VAD: this frame starts the user's input (text, or a speech-to-speech service's VAD).
            self._set_input_end(None, speech=False)
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

    def on_user_stopped(self) -> None:
        self._user_stopped = time.time()
        if self.stages.speech_to_speech and not self._input_is_speech:
            self._set_input_end(self._user_stopped, speech=True)

    def on_bot_started(self) -> None:
        self._bot_speaking = True
        self._cancel_grace()
        turn = self.current
        if turn is not None:
            turn.bot_spoke = True
            # Pipecat's latency observer times from the local VAD's stop; without local VAD (a
            # speech-to-speech service's server VAD) it says nothing, so time from the user's stop.
            stopped, self._user_stopped = self._user_stopped, None
            if self.stages.speech_to_speech and stopped is not None and c.VOICE_TO_VOICE_MS not in turn.latencies:
                turn.latencies[c.VOICE_TO_VOICE_MS] = _ms(time.time() - stopped)

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
        """End every open turn and tool call now, calls in flight or not (pipeline clean-up)."""
        self._cancel_grace()
        self.current = None
        for call_id in list(self._tools):
            self.on_tool_finished(call_id, None, error=None, cancelled=True)
        for turn in list(self._unfinished):
            self._finish(turn)

    def _grace_expired(self, turn: Turn) -> None:
        try:
            self._grace_timer = None
            if self.current is turn and not self._bot_speaking:
                self._end(turn)
        except Exception as problem:
            report("ending a turn after the bot stopped speaking", problem)

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
