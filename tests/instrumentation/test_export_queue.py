"""The export queue when OpenObserve falls behind: spans dropped quietly and counted, one warning, no SDK noise.

The endpoint here holds its answer until the test lets it go, so the export thread is held back on
purpose, not by the luck of the machine's speed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider

from instrumentation.export import OpenObserveSpanProcessor
from instrumentation.otlp_http import OTLPSender
from provision.demo.receiver import decode

WAIT = 30.0  # seconds: an upper bound for what happens at once, never reached when things work


class HeldEndpoint:
    """An OTLP endpoint that answers ``status``, but only once :meth:`release` is called (or at once if never held)."""

    def __init__(self) -> None:
        self.status = 200
        self.spans: list[str] = []
        self.arrived = threading.Event()
        self._go = threading.Event()
        self._go.set()
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                endpoint.spans += [span.name for span in decode(body)]
                endpoint.arrived.set()
                endpoint._go.wait(WAIT)
                self.send_response(endpoint.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}/api/default/v1/traces"

    def hold(self) -> None:
        self._go.clear()
        self.arrived.clear()

    def release(self) -> None:
        self._go.set()

    def __enter__(self) -> HeldEndpoint:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def endpoint() -> Iterator[HeldEndpoint]:
    with HeldEndpoint() as held:
        yield held


def fill_while_held(endpoint: HeldEndpoint) -> tuple[OpenObserveSpanProcessor, TracerProvider]:
    """A processor whose export thread waits on the held endpoint with a batch of 5 (``first-*``) while 30 more
    spans (``later-*``) end: 20 fit in its queue, 10 are dropped."""
    processor = OpenObserveSpanProcessor(
        OTLPSender(endpoint.url, {}, timeout=WAIT),
        destination=endpoint.url,
        max_queue_size=20,
        max_batch_size=5,
        schedule_delay=3600,  # only a full batch or a flush wakes the export thread
    )
    provider = TracerProvider()
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("test")
    endpoint.hold()
    for i in range(5):  # a full batch: the export thread takes it and waits for the held answer
        tracer.start_span(f"first-{i}").end()
    assert endpoint.arrived.wait(WAIT)
    for i in range(30):
        tracer.start_span(f"later-{i}").end()
    return processor, provider


def test_a_full_queue_drops_quietly_counts_and_says_how_many_once_openobserve_catches_up(
    endpoint: HeldEndpoint, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    processor, provider = fill_while_held(endpoint)
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []  # dropping logs nothing
    endpoint.release()
    assert processor.force_flush(int(WAIT * 1000))

    assert endpoint.spans == [f"first-{i}" for i in range(5)] + [f"later-{i}" for i in range(20)]
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "the export queue is full" in warnings[0], warnings
    recovered = [r.getMessage() for r in caplog.records if "recovered" in r.getMessage()]
    assert recovered == [f"OpenObserve export to {endpoint.url} recovered; 10 spans lost meanwhile"]
    # Nothing from OpenTelemetry's own processors or exporters, at any level.
    assert [r for r in caplog.records if r.name.startswith("opentelemetry")] == []
    provider.shutdown()


def test_an_export_that_fails_slowly_is_blamed_not_the_queue_it_filled(
    endpoint: HeldEndpoint, caplog: pytest.LogCaptureFixture
) -> None:
    """Spans dropped while the first failing export was still waiting come from that failure."""
    caplog.set_level(logging.INFO)
    processor, provider = fill_while_held(endpoint)
    endpoint.status = 400
    endpoint.release()
    processor.force_flush(int(WAIT * 1000))
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "(HTTP 400 Bad Request)" in warnings[0], warnings
    provider.shutdown()
    stopped = [r.getMessage() for r in caplog.records if "stopped" in r.getMessage()]
    assert stopped == [f"OpenObserve export to {endpoint.url} stopped; 35 spans were not delivered"]


@pytest.mark.parametrize(("later", "lost"), [(25, "26 spans were"), (0, "1 span was")])
def test_shutdown_during_an_outage_says_how_many_spans_were_not_delivered(
    caplog: pytest.LogCaptureFixture, later: int, lost: str
) -> None:
    caplog.set_level(logging.INFO)
    url = "http://127.0.0.1:9/api/default/v1/traces"  # the discard port: nobody listens
    processor = OpenObserveSpanProcessor(
        OTLPSender(url, {}, timeout=1.0), destination=url, max_queue_size=10, max_batch_size=4, schedule_delay=3600
    )
    provider = TracerProvider()
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("test")
    tracer.start_span("probe").end()
    processor.force_flush(int(WAIT * 1000))  # fails: the outage starts
    for i in range(later):  # of 25, 10 queued, 15 dropped
        tracer.start_span(f"s{i}").end()
    provider.shutdown()
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "connection failed: Connection refused" in warnings[0], warnings
    stopped = [r.getMessage() for r in caplog.records if "stopped" in r.getMessage()]
    assert stopped == [f"OpenObserve export to {url} stopped; {lost} not delivered"]
