"""Getting spans to OpenObserve without ever slowing or flooding the bot.

* :class:`SessionSpanProcessor` stamps the session ids onto every span started inside a
  :func:`~instrumentation.session.session_scope`, OpenInference's included.
* :class:`OpenObserveSpanProcessor` batches spans on the SDK's background thread (bounded queue) and
  leaves out a provider SDK's own span of an LLM call we trace when it carries token usage (the Anthropic
  SDK makes one): O2 sums tokens and cost over every span of a trace, so it would count the call twice.
  Other exporters of the application still get it.
* :class:`QuietExporter` wraps the OTLP exporter: one warning per outage instead of one error per
  failed batch, no retry back-off holding up shutdown once OpenObserve is known to be failing, and a
  total deadline per export (connection, retries and every read) that a trickling server cannot stretch.
* :class:`OTLPExporter` is OpenTelemetry's OTLP/HTTP exporter (HTTP client, retries, compression,
  ``OTEL_EXPORTER_OTLP_*`` settings) with the batch encoded by :mod:`instrumentation.otlp`. Redirects
  are never followed (so the ``Authorization`` header goes nowhere else) and a 3xx is a failed export.
"""

from __future__ import annotations

import logging
import re
import socket
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any

import requests
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from requests.adapters import HTTPAdapter
from urllib3 import HTTPConnectionPool, HTTPSConnectionPool, PoolManager, poolmanager
from urllib3.connection import HTTPConnection

from instrumentation.contract import LLM_SPAN
from instrumentation.otlp import encode_spans
from instrumentation.runtime import TRACER_NAME
from instrumentation.session import current_session

logger = logging.getLogger(__name__)

# Loggers the OTLP/HTTP exporter reports each failed batch and retry on.
_EXPORTER_LOGGERS = (
    "opentelemetry.exporter.otlp.proto.http.trace_exporter",
    "opentelemetry.exporter.otlp.common.http",
)
_ERRNO_REASON = re.compile(r"\[Errno -?\d+\] ([^'\")]+)")
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
        if not self._active:
            return
        info = current_session(parent_context) or current_session()
        if info is not None:
            span.set_attributes(info.attributes())

    def shutdown(self) -> None:
        # The SDK cannot remove a processor from a provider; a shut one stays and does nothing.
        self._active = False


def _ours(span: ReadableSpan) -> bool:
    scope = span.instrumentation_scope
    return scope is not None and scope.name == TRACER_NAME


class _CapturedFailures(logging.Filter):
    """Swallows the exporter's own log records while this thread runs :meth:`QuietExporter.export`."""

    def __init__(self) -> None:
        super().__init__()
        self._local = threading.local()
        self.first_message: str | None = None  # of the current export

    @contextmanager
    def active(self) -> Iterator[None]:
        self._local.active = True
        try:
            yield
        finally:
            self._local.active = False

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(self._local, "active", False):
            if self.first_message is None:
                self.first_message = record.getMessage()
            return False
        return True


def _describe(error: requests.RequestException) -> str:
    if isinstance(error, requests.Timeout):
        return "timed out"
    cause = _ERRNO_REASON.search(str(error))
    return f"connection failed: {cause.group(1)}" if cause else f"connection failed: {type(error).__name__}"


class _Deadline:
    """Cuts the connections of one export when its time is up.

    A socket timeout restarts on every byte received, so a server answering a byte a second would
    otherwise hold the export (and the shutdown waiting for it) for as long as it likes.
    """

    _current = threading.local()

    def __init__(self, seconds: float) -> None:
        self._connections: list[HTTPConnection] = []
        self._lock = threading.Lock()
        self.expired = False
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    @contextmanager
    def running(self) -> Iterator[_Deadline]:
        """Watch the connections this thread uses until the block ends."""
        self._current.deadline = self
        self._timer.start()
        try:
            yield self
        finally:
            self._timer.cancel()
            self._current.deadline = None

    @classmethod
    def watch(cls, connection: HTTPConnection) -> None:
        """Put a connection the current thread is about to use under its export's deadline, if any."""
        deadline: _Deadline | None = getattr(cls._current, "deadline", None)
        if deadline is None:
            return
        with deadline._lock:
            deadline._connections.append(connection)
            expired = deadline.expired
        if expired:
            _cut(connection)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            connections = list(self._connections)
        for connection in connections:
            _cut(connection)


def _cut(connection: HTTPConnection) -> None:
    # shutdown(), unlike close(), wakes a recv() blocked in another thread.
    sock = connection.sock
    if sock is not None:
        with suppress(OSError):  # already closed
            sock.shutdown(socket.SHUT_RDWR)


class _WatchedHTTPPool(HTTPConnectionPool):
    def _make_request(self, conn: HTTPConnection, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        _Deadline.watch(conn)
        return super()._make_request(conn, *args, **kwargs)


class _WatchedHTTPSPool(_WatchedHTTPPool, HTTPSConnectionPool):
    pass


_WATCHED_POOLS = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}


def _watch_pools(manager: PoolManager) -> PoolManager:
    # Only urllib3's default pools are swapped: a SOCKS proxy manager keeps its own.
    if manager.pool_classes_by_scheme is poolmanager.pool_classes_by_scheme:
        manager.pool_classes_by_scheme = _WATCHED_POOLS
    return manager


class _ReasonAdapter(HTTPAdapter):
    """Reports why a request failed before any response arrived; its connections obey :class:`_Deadline`."""

    def __init__(self, note: Callable[[str], None]) -> None:
        super().__init__()
        self._note = note

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        _watch_pools(self.poolmanager)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        return _watch_pools(super().proxy_manager_for(proxy, **proxy_kwargs))

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        try:
            return super().send(request, *args, **kwargs)
        except requests.RequestException as error:
            self._note(_describe(error))
            raise


class OTLPExporter(OTLPSpanExporter):
    """OpenTelemetry's OTLP/HTTP span exporter, encoding with :func:`~instrumentation.otlp.encode_spans`."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        # Sent by the exporter's own HTTP client (retries, compression, timeout); an exporter release
        # without that client falls back to encoding the batch its own way.
        client = getattr(self, "_client", None)
        if client is None or getattr(self, "_shutdown", True):
            return super().export(spans)
        result = client.export(encode_spans(spans))
        # The client counts any status below 400 as delivered; a redirect it does not follow delivered nothing.
        delivered = result.success and result.status_code is not None and result.status_code < 300
        return SpanExportResult.SUCCESS if delivered else SpanExportResult.FAILURE


class QuietExporter(SpanExporter):
    """Wraps a span exporter so an unreachable OpenObserve costs one warning and nothing else."""

    @classmethod
    def otlp_http(cls, endpoint: str, headers: dict[str, str], timeout: float) -> QuietExporter:
        """An OTLP/HTTP protobuf exporter to ``endpoint``, wrapped; the warning names the failure.

        ``timeout`` bounds each export as a whole, in seconds.
        """
        session = requests.Session()
        exporter = cls(
            OTLPExporter(endpoint=endpoint, headers=headers, timeout=timeout, session=session),
            destination=endpoint,
            deadline=timeout,
        )
        adapter = _ReasonAdapter(exporter._note)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        session.hooks["response"].append(exporter._note_response)
        return exporter

    def __init__(self, inner: SpanExporter, destination: str, deadline: float | None = None) -> None:
        self._inner = inner
        self._destination = destination
        self._deadline = deadline
        self._failures = _CapturedFailures()
        for name in _EXPORTER_LOGGERS:
            logging.getLogger(name).addFilter(self._failures)
        self._lock = threading.Lock()
        self._reason: str | None = None  # why the current export failed, first cause seen
        self._failing = False
        self._warned = False
        self._abandoned = False
        self._closing = False
        self._closed = False

    def _note(self, reason: str) -> None:
        if self._reason is None:
            self._reason = reason

    def _note_response(self, response: requests.Response, *args: object, **kwargs: object) -> None:
        if 300 <= response.status_code < 400:
            self._note(f"HTTP {response.status_code} {response.reason}: redirects are not followed")
        elif response.status_code >= 400:
            self._note(f"HTTP {response.status_code} {response.reason}")

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self._abandoned:
            return SpanExportResult.FAILURE
        self._reason = self._failures.first_message = None
        with self._failures.active():
            try:
                if self._deadline is None:
                    result = self._inner.export(spans)
                else:
                    with _Deadline(self._deadline).running() as deadline:
                        result = self._inner.export(spans)
                    if deadline.expired and result is not SpanExportResult.SUCCESS:
                        self._reason = f"no complete answer within {self._deadline:g} s"
            except Exception as exc:
                self._note(f"{type(exc).__name__}: {exc}")
                result = SpanExportResult.FAILURE
        self._record(result)
        return result

    def _record(self, result: SpanExportResult) -> None:
        with self._lock:
            if result is SpanExportResult.SUCCESS:
                if self._failing:
                    logger.info("OpenObserve export to %s recovered", self._destination)
                self._failing = self._warned = False
                return
            self._failing = True
            if self._closing:
                self._abandoned = True
            if self._warned:
                return
            self._warned = True
        logger.warning(
            "Cannot export spans to OpenObserve at %s (%s); the bot is unaffected, spans are dropped "
            "until it is reachable again (logged once per outage)",
            self._destination,
            self._reason or self._failures.first_message or "unknown error",
        )

    def begin_shutdown(self) -> None:
        """From now on a failure ends exporting at once instead of retrying batch after batch."""
        with self._lock:
            self._closing = True
            self._abandoned = self._failing
        if self._abandoned:
            self._close_inner()  # also cuts short a retry back-off in progress

    def shutdown(self) -> None:
        self._close_inner()
        for name in _EXPORTER_LOGGERS:
            logging.getLogger(name).removeFilter(self._failures)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._inner.force_flush(timeout_millis)

    def _close_inner(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        with self._failures.active():
            self._inner.shutdown()


class OpenObserveSpanProcessor(SpanProcessor):
    """Batches spans to OpenObserve off the event loop, minus second copies of an LLM call's tokens."""

    def __init__(
        self,
        exporter: QuietExporter,
        *,
        max_queue_size: int = 2048,
        schedule_delay_millis: int = 1000,
    ) -> None:
        self._exporter = exporter
        self._batch = BatchSpanProcessor(
            exporter,
            max_queue_size=max_queue_size,
            schedule_delay_millis=schedule_delay_millis,
            max_export_batch_size=min(512, max_queue_size),
        )
        self._shut = False
        self._open_llm_spans: dict[int, None] = {}  # span ids of our pipecat.llm_service spans not yet ended

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        if span.name == LLM_SPAN and _ours(span):
            self._open_llm_spans[span.context.span_id] = None
            if len(self._open_llm_spans) > _OPEN_LLM_SPANS_LIMIT:
                self._open_llm_spans.pop(next(iter(self._open_llm_spans)), None)
        self._batch.on_start(span, parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        if self._shut:
            return
        if _ours(span):
            if span.name == LLM_SPAN and span.context is not None:
                self._open_llm_spans.pop(span.context.span_id, None)
        elif self._duplicates_our_usage(span):
            return
        self._batch.on_end(span)

    def _duplicates_our_usage(self, span: ReadableSpan) -> bool:
        """A foreign span under one of our LLM calls that carries tokens: our LLM child already has them."""
        parent, attributes = span.parent, span.attributes
        return (
            parent is not None
            and parent.span_id in self._open_llm_spans
            and attributes is not None
            and any(key in attributes for key in _USAGE_KEYS)
        )

    def shutdown(self) -> None:
        """Flush what is queued (unless OpenObserve is failing) and stop the export thread."""
        if self._shut:
            return
        self._shut = True
        self._exporter.begin_shutdown()
        self._batch.shutdown()  # type: ignore[no-untyped-call]

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._batch.force_flush(timeout_millis)
