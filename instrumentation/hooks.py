"""Hooking a Pipecat pipeline: :func:`instrument_pipeline` and its undo.

Turns are tracked by a :class:`~instrumentation.turns.TurnObserver` added to the worker. Each LLM
service's ``_process_context`` (the coroutine that makes one inference and awaits its whole stream) is
replaced on the instance by a wrapper that runs it inside a ``pipecat.llm_service`` span, child of the
current turn and current while the OpenAI client call runs.

When Pipecat's own tracing is switched on (``enable_tracing=True``), ``_process_context`` is Pipecat's
``@traced_llm`` wrapper. We then apply ``traced_llm`` to our wrapper of the undecorated function, so
Pipecat's ``llm`` span stays in Pipecat's conversation trace and ours, inside it, is the current span
during the call: the OpenInference ``ChatCompletion`` span lands under ``pipecat.llm_service`` in our
per-turn trace either way, and each call still makes exactly one ``pipecat.llm_service`` span.
"""

from __future__ import annotations

import asyncio
import types
import uuid
import weakref
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

from pipecat.frames.frames import LLMTextFrame
from pipecat.pipeline.worker import PipelineWorker
from pipecat.processors.frame_processor import FrameProcessor
from pipecat.services.llm_service import LLMService
from pipecat.services.stt_service import STTService
from pipecat.services.tts_service import TTSService
from pipecat.utils.tracing.service_decorators import traced_llm

from instrumentation.llm_span import LLMCallRecorder, LLMServiceSpan
from instrumentation.safety import contained
from instrumentation.session import SessionInfo
from instrumentation.turns import DEFAULT_TURN_END_GRACE_S, Stages, Turn, TurnObserver, TurnTracker

ProcessContext = Callable[..., Awaitable[Any]]

_MISSING = object()
# The coroutine Pipecat's LLM services run one inference in (and Pipecat's @traced_llm wraps).
_TARGET = "_process_context"
# Methods the service calls during one inference that we watch for the duration of that inference.
_WATCHED = ("push_frame", "stop_ttfb_metrics", "start_llm_usage_metrics")


async def _probe(self: object, context: object) -> None:
    """Only its decorated form is used: to recognise Pipecat's ``traced_llm`` wrapper."""


_TRACED_LLM_CODE = getattr(traced_llm(_probe), "__code__", None)


@dataclass
class _Instrumented:
    session_id: str
    observer: TurnObserver
    tracker: TurnTracker
    # Weak: the registry is keyed weakly by the worker, and a service refers back to its worker.
    restore: list[tuple[weakref.ref[LLMService], object]]


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
    existing = _pipelines.get(worker)
    if existing is not None:
        return existing.session_id
    session = SessionInfo(session_id or uuid.uuid4().hex, user_id)
    processors = list(_walk(worker.pipeline))
    stages = Stages(
        stt=frozenset(p.name for p in processors if isinstance(p, STTService)),
        tts=frozenset(p.name for p in processors if isinstance(p, TTSService)),
    )
    tracker = TurnTracker(session, stages, turn_end_grace)
    observer = TurnObserver(tracker)
    worker.add_observer(observer)
    restore = [(weakref.ref(llm), _wrap(llm, tracker)) for llm in processors if isinstance(llm, LLMService)]
    _pipelines[worker] = _Instrumented(session.session_id, observer, tracker, restore)
    return session.session_id


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
    instrumented.observer.disable()
    instrumented.tracker.close()
    for service_ref, previous in instrumented.restore:
        service = service_ref()
        if service is None:
            continue
        if previous is _MISSING:
            service.__dict__.pop(_TARGET, None)
        else:
            setattr(service, _TARGET, previous)


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
        # Observers run on their own tasks: one yield lets the turn observer take in the frames
        # pushed before this call (the user's turn start), so the call joins the right turn.
        await asyncio.sleep(0)
        inference: _Inference | None = None
        with contained("starting an llm_service span"):
            inference = _Inference(service, tracker, context)
        if inference is None:
            return await call(service, context, *args, **kwargs)
        error: BaseException | None = None
        try:
            return await call(service, context, *args, **kwargs)
        except BaseException as exc:
            error = exc
            raise
        finally:
            with contained("ending an llm_service span"):
                inference.finish(error)

    return process_context


class _Inference:
    """One ``_process_context`` run: its span, and the service methods watched while it runs."""

    def __init__(self, service: LLMService, tracker: TurnTracker, context: Any) -> None:
        self._service = service
        self._tracker = tracker
        self._turn: Turn = tracker.begin_llm_call()
        try:
            self._span = LLMServiceSpan(
                type(service).__name__,
                _model_name(service),
                user_message=_last_user_text(context),
                session=tracker.session,
                turn_number=self._turn.number,
                parent=self._turn.context,
            )
            self._recorder = self._span.__enter__()
        except BaseException:
            tracker.end_llm_call(self._turn, prompt_tokens=None, completion_tokens=None, ttfb_ms=None, failed=False)
            raise
        self._saved = {name: service.__dict__.get(name, _MISSING) for name in _WATCHED}
        try:
            self._watch(self._recorder)
        except BaseException:
            self.finish(None)
            raise

    def _watch(self, recorder: LLMCallRecorder) -> None:
        service = self._service
        push_frame = service.push_frame
        stop_ttfb = service.stop_ttfb_metrics
        start_usage = service.start_llm_usage_metrics

        async def watched_push_frame(frame: Any, *args: Any, **kwargs: Any) -> Any:
            if isinstance(frame, LLMTextFrame):
                with contained("reading the LLM's text"):
                    recorder.add_text(frame.text)
            return await push_frame(frame, *args, **kwargs)

        async def watched_stop_ttfb(*args: Any, **kwargs: Any) -> Any:
            recorder.mark_first_token()
            return await stop_ttfb(*args, **kwargs)

        async def watched_start_usage(tokens: Any, *args: Any, **kwargs: Any) -> Any:
            with contained("reading the LLM's token usage"):
                recorder.set_usage(tokens.prompt_tokens, tokens.completion_tokens)
            return await start_usage(tokens, *args, **kwargs)

        service.push_frame = watched_push_frame  # type: ignore[method-assign]
        service.stop_ttfb_metrics = watched_stop_ttfb  # type: ignore[method-assign]
        service.start_llm_usage_metrics = watched_start_usage  # type: ignore[method-assign]

    def finish(self, error: BaseException | None) -> None:
        for name, value in self._saved.items():
            if value is _MISSING:
                self._service.__dict__.pop(name, None)
            else:
                setattr(self._service, name, value)
        self._span.__exit__(type(error) if error else None, error, None)
        self._tracker.end_llm_call(
            self._turn,
            prompt_tokens=self._recorder.prompt_tokens,
            completion_tokens=self._recorder.completion_tokens,
            ttfb_ms=self._recorder.ttfb_ms,
            failed=isinstance(error, Exception),
            cancelled=isinstance(error, asyncio.CancelledError),
        )


def _model_name(service: LLMService) -> str:
    settings_model = getattr(getattr(service, "_settings", None), "model", None)
    name = settings_model or getattr(service, "model_name", None)
    return str(name) if name else "unknown"


def _last_user_text(context: Any) -> str | None:
    with contained("reading the user's message"):
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
    return None
