"""Getting spans to OpenObserve without ever slowing or flooding the bot.

* :class:`SessionSpanProcessor` stamps the session ids onto every span started inside a
  :func:`~instrumentation.session.session_scope`, OpenInference's included.
* :class:`OpenObserveSpanProcessor` queues finished spans (bounded) and ships them from its own thread,
  encoded by :mod:`instrumentation.otlp` and posted by :class:`~instrumentation.otlp_http.OTLPSender`.
  It leaves out a provider SDK's own span of an LLM call we trace when it carries token usage (the
  Anthropic SDK makes one): O2 sums tokens and cost over every span of a trace, so it would count the
  call twice. Other exporters of the application still get it.

Trouble costs one warning per episode, whatever the machine's speed: an episode starts at the first
failed export or the first span dropped from a full queue, and ends at the next successful export,
which logs (at INFO) how many spans were lost meanwhile; so does shutdown while an episode is open.
Dropping a span is counted, never logged, and costs the bot a length check.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import weakref
from collections import deque

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

from instrumentation.contract import LLM_SPAN
from instrumentation.otlp import encode_spans
from instrumentation.otlp_http import Delivery, OTLPSender
from instrumentation.runtime import TRACER_NAME
from instrumentation.session import current_session

logger = logging.getLogger(__name__)

# Keys from which O2 takes a span's tokens (openobserve-llm.md §2b, token rules).
_USAGE_KEYS = (
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.prompt_tokens",
    "gen_ai.usage.output_tokens",
    "gen_ai.usage.completion_tokens",
    "llm.token_count.prompt",
    "llm.token_count.completion",
)
# How many open pipecat.llm_service spans to remember (more than any process runs at once).
_OPEN_LLM_SPANS_LIMIT = 4096


class SessionSpanProcessor(SpanProcessor):
    """Adds ``pipecat.session_id`` / ``session.id`` / ``user.id`` to spans started in a session scope."""

    def __init__(self) -> None:
        self._active = True

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        if not self._active or _ours(span):  # ours carry the session ids from the start
            return
        info = current_session(parent_context) or current_session()
        if info is not None:
            span.set_attributes(info.attributes())

    def shutdown(self) -> None:
        # Where the provider cannot be made to drop it (see setup._detach), a shut one stays and does nothing.
        self._active = False


def _ours(span: ReadableSpan) -> bool:
    # The SDK's fields, read without its property calls (this runs twice for every span of the process).
    scope = getattr(span, "_instrumentation_scope", None) or span.instrumentation_scope
    return scope is not None and getattr(scope, "_name", None) == TRACER_NAME


class OpenObserveSpanProcessor(SpanProcessor):
    """Batches spans to OpenObserve off the event loop, minus second copies of an LLM call's tokens.

    The queue is shipped when ``max_batch_size`` spans are waiting, every ``schedule_delay`` seconds,
    and on :meth:`force_flush`, in batches of at most ``max_batch_size``. After a failed batch the rest
    waits for the next period: while OpenObserve is failing, one batch a period probes it.
    """

    def __init__(
        self,
        sender: OTLPSender,
        *,
        destination: str,
        max_queue_size: int = 2048,
        max_batch_size: int = 512,
        schedule_delay: float = 1.0,
    ) -> None:
        self._sender = sender
        self._destination = destination
        self._max_queue = max_queue_size
        self._max_batch = min(max_batch_size, max_queue_size)
        self._delay = schedule_delay
        self._queue: deque[ReadableSpan] = deque()
        self._dropped = 0  # spans refused by the full queue, not yet counted into an episode
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._flushes: list[threading.Event] = []
        self._shut = False
        self._stopping = False
        # Export thread only:
        self._failing = False  # the last export failed
        self._in_trouble = False  # an episode is open (warned once)
        self._lost = 0  # spans lost in this episode
        self._open_llm_spans: dict[int, None] = {}  # span ids of our pipecat.llm_service spans not yet ended
        self._thread = self._start_thread()
        own = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: _restart_in_child(own))

    def _start_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self._run, name="OpenObserveExport", daemon=True)
        thread.start()
        return thread

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        if span.name == LLM_SPAN and _ours(span):
            self._open_llm_spans[span.context.span_id] = None
            if len(self._open_llm_spans) > _OPEN_LLM_SPANS_LIMIT:
                self._open_llm_spans.pop(next(iter(self._open_llm_spans)), None)

    def on_end(self, span: ReadableSpan) -> None:
        if self._shut:
            return
        if _ours(span):
            if span.name == LLM_SPAN and span.context is not None:
                self._open_llm_spans.pop(span.context.span_id, None)
        elif self._duplicates_our_usage(span):
            return
        queue = self._queue
        queued = len(queue)
        if queued >= self._max_queue:
            with self._lock:
                self._dropped += 1
            return
        queue.append(span)
        if queued + 1 == self._max_batch:
            self._wake.set()

    def _duplicates_our_usage(self, span: ReadableSpan) -> bool:
        """A foreign span under one of our LLM calls that carries tokens: our LLM child already has them."""
        parent, attributes = span.parent, span.attributes
        return (
            parent is not None
            and parent.span_id in self._open_llm_spans
            and attributes is not None
            and any(key in attributes for key in _USAGE_KEYS)
        )

    # -- the export thread ------------------------------------------------------------------------
    def _run(self) -> None:
        if hasattr(signal, "pthread_sigmask"):  # the bot's Ctrl-C and SIGTERM are for its main thread, not ours
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        while True:
            self._wake.wait(self._delay)
            self._wake.clear()
            with self._lock:
                flushes, self._flushes = self._flushes, []
                stopping = self._stopping
            try:
                self._drain()
            except Exception:  # never let the thread die: the bot would silently stop being traced
                logger.exception("exporting spans to OpenObserve failed")
            for done in flushes:
                done.set()
            if stopping:
                return

    def _drain(self) -> None:
        queue = self._queue
        while queue:
            batch = [queue.popleft() for _ in range(min(self._max_batch, len(queue)))]
            delivery = self._sender.send(encode_spans(batch), retry=not self._failing and not self._stopping)
            self._record(delivery, len(batch))
            if not delivery.ok:
                break  # the rest waits for the next period: one probe a period while OpenObserve is failing
        self._record_drops()

    def _record(self, delivery: Delivery, spans: int) -> None:
        if not delivery.ok:
            self._failing = True
            self._lost += spans
            self._warn(delivery.reason or "unknown error")  # before the drops: the failure is why the queue filled
            self._record_drops()
            return
        self._failing = False
        if not self._record_drops() and self._in_trouble:
            self._in_trouble = False
            logger.info("OpenObserve export to %s recovered; %s lost meanwhile", self._destination, _spans(self._lost))
            self._lost = 0

    def _record_drops(self) -> int:
        with self._lock:
            dropped, self._dropped = self._dropped, 0
        if dropped:
            self._lost += dropped
            self._warn("the export queue is full: OpenObserve is slower than the spans arrive")
        return dropped

    def _warn(self, reason: str) -> None:
        if self._in_trouble:
            return
        self._in_trouble = True
        logger.warning(
            "Cannot export spans to OpenObserve at %s (%s); the bot is unaffected, spans are dropped "
            "until it is reachable again (logged once per outage)",
            self._destination,
            reason,
        )

    # -- flush and shutdown -----------------------------------------------------------------------
    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Export everything queued now; False if that did not finish within ``timeout_millis``."""
        done = threading.Event()
        with self._lock:
            if self._stopping or not self._thread.is_alive():
                return not self._queue
            self._flushes.append(done)
        self._wake.set()
        return done.wait(timeout_millis / 1000)

    def shutdown(self) -> None:
        """Flush what is queued (unless OpenObserve is failing), stop the export thread, report losses."""
        if self._shut:
            return
        self._shut = True
        if self._failing:
            self._discard_queue()
            self._sender.close()  # also cuts an export in progress
        with self._lock:
            self._stopping = True
        self._wake.set()
        self._thread.join()
        self._sender.close()
        self._discard_queue()  # what a failure during the last drain left behind
        self._record_drops()
        if self._in_trouble and self._lost:
            logger.info(
                "OpenObserve export to %s stopped; %s %s not delivered",
                self._destination,
                _spans(self._lost),
                "was" if self._lost == 1 else "were",
            )

    def _discard_queue(self) -> None:
        with self._lock:
            self._dropped += len(self._queue)
        self._queue.clear()


def _spans(count: int) -> str:
    return f"{count:,} span{'' if count == 1 else 's'}"


def _restart_in_child(own: weakref.ref[OpenObserveSpanProcessor]) -> None:
    processor = own()
    if processor is not None and not processor._shut:
        processor._queue.clear()
        processor._lock = threading.Lock()
        processor._wake = threading.Event()
        processor._flushes = []
        processor._thread = processor._start_thread()
