"""Speech-to-speech services (OpenAI Realtime, Gemini Live, …): one LLM call per response.

These services have no ``_process_context``: the model streams over a socket for the whole session and
answers each user turn with a response, bracketed by ``LLMFullResponseStartFrame`` and
``LLMFullResponseEndFrame``, its text as ``LLMTextFrame``s and its usage through
``start_llm_usage_metrics``. :class:`RealtimeCalls` watches those on the service for the pipeline's
lifetime and makes each response a ``pipecat.llm_service`` span with its ``ChatCompletion`` child under
the current turn, as for any other LLM call. The user's words come from the ``TranscriptionFrame`` the
service pushes. Usage can arrive just after the response's end frame (Gemini sends it with the turn's
completion), so a response without usage waits up to :data:`USAGE_WAIT_S` for it before it ends. A
response that only calls tools has no start frame (OpenAI Realtime makes no assistant item for it): it
is traced when its usage comes, from the ``FunctionCallsStartedFrame`` that announced its calls.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from pipecat.frames.frames import (
    FunctionCallsStartedFrame,
    InterruptionFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMTextFrame,
    TranscriptionFrame,
)
from pipecat.services.llm_service import LLMService

from instrumentation.chat_span import ChatCall, emit_chat_span
from instrumentation.llm_span import LLMCallRecorder, LLMServiceSpan
from instrumentation.safety import contained
from instrumentation.services import model_of, provider_of
from instrumentation.session import with_session
from instrumentation.turns import Turn, TurnTracker

USAGE_WAIT_S = 1.0
_MISSING = object()
_WATCHED = ("push_frame", "start_llm_usage_metrics", "push_error_frame")
_EMPTY = otel_context.Context()


class _Response:
    """One response of the model and its spans."""

    def __init__(self, calls: RealtimeCalls, turn: Turn, started_ns: int | None = None) -> None:
        service = calls.service
        self.turn = turn
        self.usage_seen = False
        self.error: str | None = None
        self.cancelled = False
        self.timer: asyncio.TimerHandle | None = None
        model = model_of(service)
        self.span = LLMServiceSpan(
            type(service).__name__,
            model,
            user_message=calls.user_text,
            session=calls.tracker.session,
            turn_number=turn.number,
            parent=turn.context,
            provider=provider_of(service),
            make_current=False,  # it may end in another task
        )
        self.recorder: LLMCallRecorder = self.span.__enter__()
        messages = [{"role": "user", "content": calls.user_text}] if calls.user_text else []
        self.chat = ChatCall(started_ns or time.time_ns(), {"model": model, "messages": messages}, provider_of(service))

    def finish(self, tracker: TurnTracker) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        recorder = self.recorder
        error: BaseException | str | None = asyncio.CancelledError() if self.cancelled else self.error
        if recorder.span.is_recording():
            with contained("writing a realtime ChatCompletion span"):
                emit_chat_span(
                    self.chat,
                    trace.set_span_in_context(recorder.span, with_session(tracker.session, _EMPTY)),
                    text=recorder.text,
                    prompt_tokens=recorder.prompt_tokens,
                    completion_tokens=recorder.completion_tokens,
                    error=error,
                    end_ns=time.time_ns(),
                )
        self.span.close(error)
        tracker.end_llm_call(
            self.turn,
            prompt_tokens=recorder.prompt_tokens,
            completion_tokens=recorder.completion_tokens,
            ttfb_ms=recorder.ttfb_ms,
            error=self.error,
            cancelled=self.cancelled,
        )


class RealtimeCalls:
    """Traces the responses of one speech-to-speech service until :meth:`detach`."""

    def __init__(self, service: LLMService, tracker: TurnTracker) -> None:
        self.service = service
        self.tracker = tracker
        self.user_text: str | None = None
        self._response: _Response | None = None
        self._ending: _Response | None = None
        # Function calls announced outside any response, and when: the tool-only response that asked for them.
        self._announced: tuple[int, list[Any]] | None = None
        self._saved = {name: service.__dict__.get(name, _MISSING) for name in _WATCHED}
        push_frame = service.push_frame
        start_usage = service.start_llm_usage_metrics
        push_error_frame = service.push_error_frame

        async def watched_push_frame(frame: Any, *args: Any, **kwargs: Any) -> Any:
            with contained("watching a realtime service's frames"):
                self._on_frame(frame)
            return await push_frame(frame, *args, **kwargs)

        async def watched_start_usage(tokens: Any, *args: Any, **kwargs: Any) -> Any:
            with contained("reading a realtime service's usage"):
                self._on_usage(tokens.prompt_tokens, tokens.completion_tokens)
            return await start_usage(tokens, *args, **kwargs)

        async def watched_push_error_frame(error: Any, *args: Any, **kwargs: Any) -> Any:
            with contained("reading a realtime service's error"):
                response = self._response or self._ending
                if response is not None and response.error is None:
                    response.error = str(error.error)
            return await push_error_frame(error, *args, **kwargs)

        service.push_frame = watched_push_frame  # type: ignore[method-assign]
        service.start_llm_usage_metrics = watched_start_usage  # type: ignore[method-assign]
        service.push_error_frame = watched_push_error_frame  # type: ignore[method-assign]

    def detach(self) -> None:
        """Give the service its own methods back and end a response still open."""
        for name, value in self._saved.items():
            if value is _MISSING:
                self.service.__dict__.pop(name, None)
            else:
                setattr(self.service, name, value)
        self._end_pending()
        if self._response is not None:
            response, self._response = self._response, None
            response.finish(self.tracker)

    def _on_frame(self, frame: Any) -> None:
        if isinstance(frame, LLMTextFrame):
            if self._response is not None:
                self._response.recorder.add_text(frame.text)
        elif isinstance(frame, TranscriptionFrame):
            self.user_text = frame.text
        elif isinstance(frame, FunctionCallsStartedFrame):
            response = self._response or self._ending
            if response is not None:
                _add_tool_calls(response.chat, frame.function_calls)
            else:
                self._announced = (time.time_ns(), list(frame.function_calls))
        elif isinstance(frame, LLMFullResponseStartFrame):
            self._end_pending()
            if self._response is None:
                self._response = _Response(self, self.tracker.begin_llm_call())
        elif isinstance(frame, LLMFullResponseEndFrame):
            self._on_response_end()
        elif isinstance(frame, InterruptionFrame) and self._response is not None:
            self._response.cancelled = True
            self._on_response_end()

    def _on_usage(self, prompt_tokens: int | None, completion_tokens: int | None) -> None:
        response = self._response or self._ending
        if response is None:
            if self._announced is None:
                return
            (started_ns, function_calls), self._announced = self._announced, None
            response = _Response(self, self.tracker.begin_llm_call(), started_ns)
            _add_tool_calls(response.chat, function_calls)
            response.recorder.set_usage(prompt_tokens, completion_tokens)
            self.user_text = None
            response.finish(self.tracker)
            return
        response.recorder.set_usage(prompt_tokens, completion_tokens)
        response.usage_seen = True
        if response is self._ending:
            self._end_pending()

    def _on_response_end(self) -> None:
        response, self._response = self._response, None
        if response is None:
            return
        self.user_text = None
        if response.usage_seen or response.cancelled or response.error is not None:
            response.finish(self.tracker)
            return
        self._end_pending()
        self._ending = response
        response.timer = asyncio.get_running_loop().call_later(USAGE_WAIT_S, self._end_pending)

    def _end_pending(self) -> None:
        response, self._ending = self._ending, None
        if response is not None:
            with contained("ending a realtime response"):
                response.finish(self.tracker)


def _add_tool_calls(chat: ChatCall, function_calls: Sequence[Any]) -> None:
    for call in function_calls:
        chat.add_tool_call(call.tool_call_id, call.function_name, call.arguments)
