"""Hooking a Pipecat pipeline: :func:`instrument_pipeline` and its undo.

Turns are tracked by a :class:`~instrumentation.frames.FrameTap` on the pipeline's processors. Each LLM
service's ``_process_context`` (the coroutine that makes one inference and awaits its whole stream) is
replaced on the instance by a wrapper that runs it inside a ``pipecat.llm_service`` span, child of the
current turn and current while the call runs, and writes the OpenInference ``ChatCompletion`` child span
itself (:mod:`instrumentation.chat_span`) from what the service sees: for an OpenAI-compatible service
the exact request it builds, for the others (Anthropic, Gemini, Bedrock, …) the conversation in Pipecat's
context; the usage the service reports; an error it reports with ``push_error`` instead of raising.
Instrumentations are suppressed during an OpenAI client call so that OpenInference's OpenAI wrapper, if
installed, neither spends its time nor makes a second span. Speech-to-speech services, which have no
``_process_context``, are traced by :mod:`instrumentation.realtime`.

``instrument_pipeline`` never raises into the bot: a pipeline it cannot hook is left as it was, with one
warning.

When Pipecat's own tracing is switched on (``enable_tracing=True``), ``_process_context`` is Pipecat's
``@traced_llm`` wrapper. We then apply ``traced_llm`` to our wrapper of the undecorated function, so
Pipecat's ``llm`` span stays in Pipecat's conversation trace and ours, inside it, is the current span
during the call: the ``ChatCompletion`` span lands under ``pipecat.llm_service`` in our per-turn trace
either way, and each call still makes exactly one ``pipecat.llm_service`` span.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
import types
import uuid
import weakref
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY
from pipecat.frames.frames import LLMTextFrame
from pipecat.pipeline.worker import PipelineWorker
from pipecat.processors.frame_processor import FrameProcessor
from pipecat.services.llm_service import LLMService
from pipecat.services.stt_service import STTService
from pipecat.services.tts_service import TTSService
from pipecat.utils.tracing.service_decorators import traced_llm

from instrumentation.chat_span import ChatCall, emit_chat_span
from instrumentation.frames import FrameTap
from instrumentation.llm_span import LLMCallRecorder, LLMServiceSpan
from instrumentation.realtime import RealtimeCalls
from instrumentation.safety import contained, report
from instrumentation.schema import prime_pipeline_provider
from instrumentation.services import model_of, provider_of
from instrumentation.session import SessionInfo, with_session
from instrumentation.turns import DEFAULT_TURN_END_GRACE_S, Stages, Turn, TurnTracker

ProcessContext = Callable[..., Awaitable[Any]]

logger = logging.getLogger("instrumentation")

_MISSING = object()
# The coroutine Pipecat's LLM services run one inference in (and Pipecat's @traced_llm wraps).
_TARGET = "_process_context"
# Methods the service calls during one inference that we watch for the duration of that inference.
_WATCHED = ("push_frame", "stop_ttfb_metrics", "start_llm_usage_metrics", "push_error_frame", "run_function_calls")
# ... and, on an OpenAI-compatible service, the ones that show its exact request.
_WATCHED_OPENAI = ("get_chat_completions", "build_chat_completion_params")


async def _probe(self: object, context: object) -> None:
    """Only its decorated form is used: to recognise Pipecat's ``traced_llm`` wrapper."""


_TRACED_LLM_CODE = getattr(traced_llm(_probe), "__code__", None)


@dataclass
class _Instrumented:
    session_id: str
    tap: FrameTap
    tracker: TurnTracker
    # Weak: the registry is keyed weakly by the worker, and a service refers back to its worker.
    restore: list[tuple[weakref.ref[LLMService], object]]
    realtime: list[RealtimeCalls]


_pipelines: weakref.WeakKeyDictionary[PipelineWorker, _Instrumented] = weakref.WeakKeyDictionary()


def instrument_pipeline(
    worker: PipelineWorker,
    session_id: str | None = None,
    user_id: str | None = None,
    *,
    turn_end_grace: float = DEFAULT_TURN_END_GRACE_S,
) -> str:
    """Trace every turn of ``worker``'s conversation and every LLM call in it; return the session id.

    Call it before running the worker (``PipelineWorker``, or the deprecated ``PipelineTask`` alias).
    Each turn becomes a ``pipecat.turn`` root span (its own trace) with a ``pipecat.llm_service`` child
    per LLM inference, all tagged with the session id (a new uuid4 hex when none is given) and
    ``user_id``. A turn ends ``turn_end_grace`` seconds after the bot stops speaking, when the user
    barges in, or when the pipeline ends. Calling it again for the same worker changes nothing.
    """
    session = SessionInfo(session_id or uuid.uuid4().hex, user_id)
    try:
        existing = _pipelines.get(worker)
        if existing is not None:
            return existing.session_id
        _pipelines[worker] = _instrument(worker, session, turn_end_grace)
    except Exception as exc:
        logger.warning("cannot trace this pipeline (%s: %s); the bot runs untraced", type(exc).__name__, exc)
    return session.session_id


def _instrument(worker: PipelineWorker, session: SessionInfo, turn_end_grace: float) -> _Instrumented:
    """Hook every processor of ``worker``'s pipeline, all or nothing."""
    processors = list(_walk(worker.pipeline))
    llms = [p for p in processors if isinstance(p, LLMService)]
    stages = Stages(
        stt=frozenset(p.name for p in processors if isinstance(p, STTService)),
        tts=frozenset(p.name for p in processors if isinstance(p, TTSService)),
        speech_to_speech=not all(_has_process_context(llm) for llm in llms),
    )
    tracker = TurnTracker(session, stages, turn_end_grace)
    instrumented = _Instrumented(session.session_id, FrameTap(tracker), tracker, [], [])
    try:
        instrumented.tap.attach(processors)
        for llm in llms:
            if _has_process_context(llm):
                instrumented.restore.append((weakref.ref(llm), _wrap(llm, tracker)))
            else:
                instrumented.realtime.append(RealtimeCalls(llm, tracker))
        worker.add_event_handler("on_pipeline_started", instrumented.tap.on_pipeline_started)
        worker.add_event_handler("on_pipeline_finished", instrumented.tap.on_pipeline_finished)
    except BaseException:
        _undo(instrumented)
        raise
    with contained("adding the dashboards' columns to the stream"):
        prime_pipeline_provider()
    return instrumented


def uninstrument_pipeline(worker: PipelineWorker) -> None:
    """Undo :func:`instrument_pipeline`: restore the LLM services and end any open turn."""
    instrumented = _pipelines.pop(worker, None)
    if instrumented is not None:
        _undo(instrumented)


def uninstrument_all_pipelines() -> None:
    """Undo :func:`instrument_pipeline` for every worker."""
    while _pipelines:
        _undo(_pipelines.popitem()[1])


def _undo(instrumented: _Instrumented) -> None:
    for realtime in instrumented.realtime:
        realtime.detach()
    instrumented.tap.detach()
    instrumented.tracker.close()
    for service_ref, previous in instrumented.restore:
        service = service_ref()
        if service is None:
            continue
        if previous is _MISSING:
            service.__dict__.pop(_TARGET, None)
        else:
            setattr(service, _TARGET, previous)


def _has_process_context(service: LLMService) -> bool:
    return inspect.iscoroutinefunction(getattr(type(service), _TARGET, None))


def _walk(processor: FrameProcessor, seen: set[int] | None = None) -> Iterator[FrameProcessor]:
    seen = set() if seen is None else seen
    if id(processor) in seen:
        return
    seen.add(id(processor))
    yield processor
    for child in processor.processors:
        yield from _walk(child, seen)


def _wrap(service: LLMService, tracker: TurnTracker) -> object:
    previous = service.__dict__.get(_TARGET, _MISSING)
    class_method = getattr(type(service), _TARGET, None)
    undecorated = getattr(class_method, "__wrapped__", None)
    if previous is _MISSING and undecorated is not None and getattr(class_method, "__code__", None) is _TRACED_LLM_CODE:
        replacement = traced_llm(_traced_call(tracker, undecorated))
    else:
        bound: ProcessContext = getattr(service, _TARGET)

        async def call_bound(_service: LLMService, context: Any, *args: Any, **kwargs: Any) -> Any:
            return await bound(context, *args, **kwargs)

        replacement = _traced_call(tracker, call_bound)
    setattr(service, _TARGET, types.MethodType(replacement, service))
    return previous


def _traced_call(tracker: TurnTracker, call: ProcessContext) -> ProcessContext:
    async def process_context(service: LLMService, context: Any, *args: Any, **kwargs: Any) -> Any:
        inference: _Inference | None = None
        try:
            inference = _Inference(service, tracker, context)
        except Exception as problem:
            report("starting an llm_service span", problem)
        if inference is None:
            return await call(service, context, *args, **kwargs)
        error: BaseException | None = None
        try:
            return await call(service, context, *args, **kwargs)
        except BaseException as exc:
            error = exc
            raise
        finally:
            try:
                inference.finish(error)
            except Exception as problem:
                report("ending an llm_service span", problem)

    return process_context


class _Inference:
    """One ``_process_context`` run: its spans, and the service methods watched while it runs."""

    def __init__(self, service: LLMService, tracker: TurnTracker, context: Any) -> None:
        self._service = service
        self._tracker = tracker
        self._turn: Turn = tracker.begin_llm_call()
        self._chat: ChatCall | None = None
        self._reported_error: str | None = None
        self._provider = provider = provider_of(service)
        model = model_of(service)
        try:
            self._span = LLMServiceSpan(
                type(service).__name__,
                model,
                user_message=_last_user_text(context),
                session=tracker.session,
                turn_number=self._turn.number,
                parent=self._turn.context,
                provider=provider,
            )
            self._recorder = self._span.__enter__()
        except BaseException:
            tracker.end_llm_call(self._turn, prompt_tokens=None, completion_tokens=None, ttfb_ms=None)
            raise
        openai_compatible = all(callable(getattr(service, name, None)) for name in _WATCHED_OPENAI)
        watched = _WATCHED + _WATCHED_OPENAI if openai_compatible else _WATCHED
        self._saved = {name: service.__dict__.get(name, _MISSING) for name in watched}
        try:
            self._watch(self._recorder)
            if openai_compatible:
                self._watch_request()
            else:
                self._chat = ChatCall(time.time_ns(), {"model": model, **_conversation(context)}, provider)
        except BaseException:
            self.finish(None)
            raise

    def _watch(self, recorder: LLMCallRecorder) -> None:
        service = self._service
        push_frame = service.push_frame
        stop_ttfb = service.stop_ttfb_metrics
        start_usage = service.start_llm_usage_metrics
        push_error_frame = service.push_error_frame
        run_function_calls = service.run_function_calls

        # Not a coroutine function: it hands back push_frame's own coroutine (one call a frame).
        def watched_push_frame(frame: Any, *args: Any, **kwargs: Any) -> Any:
            if isinstance(frame, LLMTextFrame):
                try:
                    recorder.add_text(frame.text)
                except Exception as error:
                    report("reading the LLM's text", error)
            return push_frame(frame, *args, **kwargs)

        def watched_stop_ttfb(*args: Any, **kwargs: Any) -> Any:
            recorder.mark_first_token()
            service.stop_ttfb_metrics = stop_ttfb  # type: ignore[method-assign]  # the first call is the one
            return stop_ttfb(*args, **kwargs)

        async def watched_start_usage(tokens: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                recorder.set_usage(tokens.prompt_tokens, tokens.completion_tokens)
                # Usage comes once the stream is over, before any tool the model asked for runs.
                if self._chat is not None and self._chat.ended_ns is None:
                    self._chat.ended_ns = time.time_ns()
            except Exception as problem:
                report("reading the LLM's token usage", problem)
            return await start_usage(tokens, *args, **kwargs)

        async def watched_push_error_frame(error: Any, *args: Any, **kwargs: Any) -> Any:
            # Most services catch a failed request and report it as an ErrorFrame instead of raising.
            try:
                if self._reported_error is None:
                    self._reported_error = str(error.error)
            except Exception as problem:
                report("reading the LLM's error", problem)
            return await push_error_frame(error, *args, **kwargs)

        async def watched_run_function_calls(function_calls: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                if self._chat is not None:
                    for call in function_calls:
                        self._chat.add_tool_call(call.tool_call_id, call.function_name, call.arguments)
            except Exception as problem:
                report("reading the LLM's tool calls", problem)
            return await run_function_calls(function_calls, *args, **kwargs)

        service.push_frame = watched_push_frame  # type: ignore[method-assign]
        service.stop_ttfb_metrics = watched_stop_ttfb  # type: ignore[method-assign]
        service.start_llm_usage_metrics = watched_start_usage  # type: ignore[method-assign]
        service.push_error_frame = watched_push_error_frame  # type: ignore[method-assign]
        service.run_function_calls = watched_run_function_calls  # type: ignore[method-assign]

    def _watch_request(self) -> None:
        service: Any = self._service
        get_chat_completions = service.get_chat_completions
        build_params = service.build_chat_completion_params

        async def watched_get_chat_completions(*args: Any, **kwargs: Any) -> Any:
            self._chat = ChatCall(time.time_ns(), provider=self._provider)
            # We write the ChatCompletion span ourselves: OpenInference's wrapper skips suppressed calls.
            token = otel_context.attach(otel_context.set_value(_SUPPRESS_INSTRUMENTATION_KEY, True))
            try:
                return await get_chat_completions(*args, **kwargs)
            finally:
                otel_context.detach(token)

        def watched_build_params(*args: Any, **kwargs: Any) -> Any:
            params = build_params(*args, **kwargs)
            if self._chat is not None and isinstance(params, dict):
                self._chat.params = params
            return params

        service.get_chat_completions = watched_get_chat_completions
        service.build_chat_completion_params = watched_build_params

    def finish(self, raised: BaseException | None) -> None:
        for name, value in self._saved.items():
            if value is _MISSING:
                self._service.__dict__.pop(name, None)
            else:
                setattr(self._service, name, value)
        error = raised if raised is not None else self._reported_error
        if self._chat is not None and self._recorder.span.is_recording():
            try:
                self._chat.response_model = _full_model_name(self._service)
                emit_chat_span(
                    self._chat,
                    trace.set_span_in_context(self._recorder.span, with_session(self._tracker.session, _EMPTY)),
                    text=self._recorder.text,
                    prompt_tokens=self._recorder.prompt_tokens,
                    completion_tokens=self._recorder.completion_tokens,
                    error=error,
                    end_ns=time.time_ns(),
                )
            except Exception as problem:
                report("writing the ChatCompletion span", problem)
        self._span.close(error)
        failure = f"{type(error).__name__}: {error}" if isinstance(error, Exception) else error
        self._tracker.end_llm_call(
            self._turn,
            prompt_tokens=self._recorder.prompt_tokens,
            completion_tokens=self._recorder.completion_tokens,
            ttfb_ms=self._recorder.ttfb_ms,
            error=failure if isinstance(failure, str) else None,
            cancelled=isinstance(error, asyncio.CancelledError),
        )


_EMPTY = otel_context.Context()


def _full_model_name(service: LLMService) -> str | None:
    """The model the last response named (Pipecat's OpenAI services keep it), if the service says."""
    getter = getattr(service, "get_full_model_name", None)
    name = getter() if callable(getter) else None
    return str(name) if name else None


def _conversation(context: Any) -> dict[str, Any]:
    """The request of a non-OpenAI call as the context holds it: its messages and tools, OpenAI-style."""
    request: dict[str, Any] = {}
    try:
        request["messages"] = list(context.get_messages())
        tools = getattr(context, "tools", None)
        standard = getattr(tools, "standard_tools", None)
        if standard:
            request["tools"] = [_tool_schema(tool) for tool in standard]
    except Exception as problem:
        report("reading the LLM's context", problem)
    return request


def _tool_schema(tool: Any) -> Any:
    to_dict = getattr(tool, "to_default_dict", None)
    return to_dict() if callable(to_dict) else str(tool)


def _last_user_text(context: Any) -> str | None:
    try:
        for message in reversed(context.get_messages()):
            if not isinstance(message, dict) or message.get("role") != "user":
                continue
            content = message.get("content")
            if isinstance(content, str):
                return content
            if isinstance(content, list):
                texts = [p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text"]
                return " ".join(t for t in texts if t) or None
            return None
    except Exception as problem:
        report("reading the user's message", problem)
    return None
