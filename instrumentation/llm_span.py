"""The ``pipecat.llm_service`` span: one per LLM inference, with what the call sent and produced."""

from __future__ import annotations

import asyncio
import time
from contextlib import AbstractContextManager
from types import TracebackType

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Span, Status, StatusCode

from instrumentation import contract as c
from instrumentation.chat_span import ChatCall, emit_chat_span
from instrumentation.runtime import clip, set_attributes, start_span
from instrumentation.safety import report
from instrumentation.session import SessionInfo, current_session, session_scope, with_session


class LLMCallRecorder:
    """Collects the outcome of one LLM call; written onto its ``pipecat.llm_service`` span at the end.

    Streaming code calls :meth:`add_text` per chunk (the first chunk also marks time to first token);
    code with the whole answer calls :meth:`set_response`. Token counts come from the provider's usage.
    """

    def __init__(self, span: Span) -> None:
        self.span = span
        self._started = time.perf_counter()
        self.first_token: float | None = None  # perf_counter() at the first token
        self._text: list[str] = []
        self.prompt_tokens: int | None = None
        self.completion_tokens: int | None = None

    def mark_first_token(self) -> None:
        """Record that the first token (or byte) of the answer arrived now; later calls are ignored."""
        if self.first_token is None:
            self.first_token = time.perf_counter()

    def add_text(self, text: str) -> None:
        """Append a streamed piece of the assistant's answer."""
        if self.first_token is None:
            self.first_token = time.perf_counter()
        self._text.append(text)

    def set_usage(self, prompt_tokens: int | None, completion_tokens: int | None) -> None:
        """Record the provider-reported token usage."""
        self.prompt_tokens = prompt_tokens
        self.completion_tokens = completion_tokens

    def set_response(
        self, text: str | None, *, prompt_tokens: int | None = None, completion_tokens: int | None = None
    ) -> None:
        """Record the whole answer and, if known, its token usage."""
        self.mark_first_token()
        self._text = [text] if text is not None else []
        if prompt_tokens is not None or completion_tokens is not None:
            self.set_usage(prompt_tokens, completion_tokens)

    @property
    def text(self) -> str | None:
        """The answer so far, whole (not cut to the content limit), if any arrived."""
        return "".join(self._text) if self._text else None

    @property
    def ttfb_ms(self) -> int | None:
        """Milliseconds from the start of the call to the first token, if one arrived."""
        if self.first_token is None:
            return None
        return round((self.first_token - self._started) * 1000)

    def finish(self, error: BaseException | str | None) -> None:
        """Write the outcome onto the span and end it.

        ``error``: what the call raised, or the message of an error the service reported instead of
        raising; a cancelled call (``CancelledError``) is neither OK nor failed.
        """
        span = self.span
        outcome: dict[str, str | int | float | bool] = {}
        assistant = clip(self.text)
        if assistant is not None:
            outcome[c.ASSISTANT_MESSAGE] = assistant
        if self.prompt_tokens is not None:
            outcome[c.PROMPT_TOKENS] = self.prompt_tokens
        if self.completion_tokens is not None:
            outcome[c.COMPLETION_TOKENS] = self.completion_tokens
        if self.prompt_tokens is not None or self.completion_tokens is not None:
            outcome[c.TOTAL_TOKENS] = (self.prompt_tokens or 0) + (self.completion_tokens or 0)
        ttfb_ms = self.ttfb_ms
        if ttfb_ms is not None:
            outcome[c.TTFB_MS] = ttfb_ms
        if outcome:
            set_attributes(span, outcome)
        if isinstance(error, Exception):
            span.record_exception(error)
            self._fail(f"{type(error).__name__}: {error}")
        elif isinstance(error, str):
            self._fail(error)
        elif isinstance(error, asyncio.CancelledError):
            span.set_attribute(c.CANCELLED, True)
        else:
            span.set_status(Status(StatusCode.OK))
        span.end()

    def _fail(self, message: str) -> None:
        message = message[: c.ERROR_LIMIT]
        self.span.set_attribute(c.ERROR, message)
        self.span.set_status(Status(StatusCode.ERROR, message))


class LLMServiceSpan:
    """Context manager (sync or async) around one LLM call; yields its :class:`LLMCallRecorder`.

    While the block runs the span is the current span (unless ``make_current=False``), so spans the call
    makes nest under it, with the session ids in their context too. ``write_llm_child`` writes the
    call's ``ChatCompletion`` child at the end, from what the recorder was told.
    """

    def __init__(
        self,
        service: str,
        model: str,
        *,
        user_message: str | None = None,
        session: SessionInfo | None = None,
        turn_number: int | None = None,
        parent: otel_context.Context | None = None,
        provider: str | None = None,
        make_current: bool = True,
        write_llm_child: bool = False,
    ) -> None:
        self._service = service
        self._provider = provider
        self._make_current = make_current
        self._write_llm_child = write_llm_child
        self._started_ns = 0
        self._model = model
        self._user_message = user_message
        self._session = session
        self._turn_number = turn_number
        self._parent = parent
        self._recorder: LLMCallRecorder | None = None
        self._token: object | None = None
        self._scope: AbstractContextManager[None] | None = None

    def __enter__(self) -> LLMCallRecorder:
        parent = self._parent if self._parent is not None else otel_context.get_current()
        attributes: dict[str, str | int | float | bool] = {c.SERVICE: self._service, c.MODEL: self._model}
        if self._provider is not None:
            attributes[c.PROVIDER] = self._provider
        user_message = clip(self._user_message)
        if user_message is not None:
            attributes[c.USER_MESSAGE] = user_message
        if self._session is not None:
            attributes.update(self._session.attributes())
            parent = with_session(self._session, parent)
            if self._make_current:
                self._scope = session_scope(self._session)
        if self._turn_number is not None:
            attributes[c.TURN_NUMBER] = self._turn_number
        self._started_ns = time.time_ns()
        span = start_span(c.LLM_SPAN, parent, attributes, self._started_ns)
        self._recorder = LLMCallRecorder(span)
        if self._make_current:
            self._token = otel_context.attach(trace.set_span_in_context(span, parent))
        if self._scope is not None:
            self._scope.__enter__()
        return self._recorder

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close(exc)

    def close(self, error: BaseException | str | None) -> None:
        """End the span with ``error`` as its outcome (see :meth:`LLMCallRecorder.finish`)."""
        try:
            if self._scope is not None:
                self._scope.__exit__(None, None, None)
            if self._token is not None:
                otel_context.detach(self._token)  # type: ignore[arg-type]
            if self._recorder is not None:
                if self._write_llm_child:
                    self._emit_llm_child(self._recorder, error)
                self._recorder.finish(error)
        except Exception as problem:
            report("ending the llm_service span", problem)

    def _session_context(self) -> otel_context.Context:
        empty = otel_context.Context()
        return with_session(self._session, empty) if self._session is not None else empty

    def _emit_llm_child(self, recorder: LLMCallRecorder, error: BaseException | str | None) -> None:
        messages = [{"role": "user", "content": self._user_message}] if self._user_message else []
        provider = self._provider or self._service.removesuffix("LLMService").lower() or "unknown"
        call = ChatCall(self._started_ns, {"model": self._model, "messages": messages}, provider)
        emit_chat_span(
            call,
            trace.set_span_in_context(recorder.span, self._session_context()),
            text=recorder.text,
            prompt_tokens=recorder.prompt_tokens,
            completion_tokens=recorder.completion_tokens,
            error=error,
            end_ns=time.time_ns(),
        )

    async def __aenter__(self) -> LLMCallRecorder:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, tb)

    def __repr__(self) -> str:
        return f"LLMServiceSpan(service={self._service!r}, model={self._model!r})"


def llm_service_span(
    service: str,
    model: str,
    user_message: str | None = None,
    session_id: str | None = None,
    turn_number: int | None = None,
    *,
    user_id: str | None = None,
) -> LLMServiceSpan:
    """Trace an LLM call made outside a Pipecat pipeline as a ``pipecat.llm_service`` span.

    Use as ``with`` or ``async with``; the block gets an :class:`LLMCallRecorder` to report the answer::

        async with llm_service_span("OpenAILLMService", "gpt-4o-mini", user_message=q,
                                    session_id=sid) as call:
            resp = await client.chat.completions.create(model="gpt-4o-mini", messages=msgs)
            call.set_response(resp.choices[0].message.content,
                              prompt_tokens=resp.usage.prompt_tokens,
                              completion_tokens=resp.usage.completion_tokens)

    The span nests under the current span and is current during the block. When the block ends, the
    call's ``ChatCompletion`` child (OpenInference's conventions: model, the user message, the answer,
    the tokens given to ``set_response``) is written under it, which O2's LLM views read. The span ends
    with status ERROR, exception recorded, if the block raises. Without
    ``session_id`` the session of an enclosing :func:`instrument_pipeline` turn, if any, is used.
    """
    session = SessionInfo(session_id, user_id) if session_id else current_session()
    return LLMServiceSpan(
        service, model, user_message=user_message, session=session, turn_number=turn_number, write_llm_child=True
    )
