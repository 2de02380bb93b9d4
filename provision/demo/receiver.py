"""A local OTLP/HTTP trace receiver on 127.0.0.1 that decodes protobuf and keeps every span.

It runs its own thread: the OTLP exporter is synchronous (it is driven from the batch processor's
thread or ``force_flush``), so serving it from the asyncio loop that runs Pipecat would deadlock.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

_STATUS_NAMES = {0: "UNSET", 1: "OK", 2: "ERROR"}


@dataclass(frozen=True)
class ReceivedSpan:
    """One decoded span."""

    name: str
    trace_id: str
    span_id: str
    parent_span_id: str | None
    scope: str
    status: str
    start_ns: int
    end_ns: int
    attributes: dict[str, Any]
    resource: dict[str, Any]
    events: tuple[str, ...] = ()


@dataclass(frozen=True)
class ReceivedRequest:
    """One export request: path, headers (lower-cased names), its spans and when it arrived."""

    path: str
    headers: dict[str, str]
    spans: list[ReceivedSpan] = field(default_factory=list)
    received_at: float = field(default_factory=time.time)


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _value(kv.value) for kv in value.kvlist_value.values}
    return getattr(value, kind) if kind else None


def decode(body: bytes) -> list[ReceivedSpan]:
    """The spans of a protobuf ``ExportTraceServiceRequest``."""
    request = ExportTraceServiceRequest()
    request.ParseFromString(body)
    spans = []
    for resource_spans in request.resource_spans:
        resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                spans.append(
                    ReceivedSpan(
                        name=span.name,
                        trace_id=span.trace_id.hex(),
                        span_id=span.span_id.hex(),
                        parent_span_id=span.parent_span_id.hex() or None,
                        scope=scope_spans.scope.name,
                        status=_STATUS_NAMES.get(span.status.code, str(span.status.code)),
                        start_ns=span.start_time_unix_nano,
                        end_ns=span.end_time_unix_nano,
                        attributes={a.key: _value(a.value) for a in span.attributes},
                        resource=resource,
                        events=tuple(e.name for e in span.events),
                    )
                )
    return spans


class OTLPReceiver:
    """The receiver. ``status`` / ``delay`` shape its answers (e.g. 401, 503, a slow server)."""

    def __init__(self, *, status: int = 200, delay: float = 0.0) -> None:
        self.status = status
        self.delay = delay
        self.requests: list[ReceivedRequest] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if receiver.delay:
                    time.sleep(receiver.delay)
                headers = {k.lower(): v for k, v in self.headers.items()}
                spans = decode(body) if receiver.status == 200 else []
                with receiver._lock:
                    receiver.requests.append(ReceivedRequest(self.path, headers, spans))
                self.send_response(receiver.status)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """Base URL to use as ``OPENOBSERVE_URL``."""
        return f"http://127.0.0.1:{self._server.server_port}"

    def start(self) -> OTLPReceiver:
        """Start serving in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()

    def spans(self) -> list[ReceivedSpan]:
        """Every span received so far."""
        with self._lock:
            return [span for request in self.requests for span in request.spans]

    def clear(self) -> None:
        """Forget what was received."""
        with self._lock:
            self.requests.clear()

    def __enter__(self) -> OTLPReceiver:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


_SHOWN_KEYS = ("pipecat.", "session.id", "user.id", "llm.model_name", "llm.token_count.")


def describe(span: ReceivedSpan) -> str:
    """One line per span: name, trace, parent, status and the key attributes."""
    attrs = {k: v for k, v in sorted(span.attributes.items()) if k.startswith(_SHOWN_KEYS)}
    shown = " ".join(f"{k}={v!r}" for k, v in attrs.items() if k != "pipecat.session_id")
    parent = span.parent_span_id or "-"
    ids = f"trace={span.trace_id[:12]} span={span.span_id[:8]} parent={parent[:8]:<8}"
    return f"{span.name:<20} {ids} {span.status:<5} {shown}"
