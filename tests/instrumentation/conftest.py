"""Fixtures for the instrumentation tests.

OpenTelemetry allows one global tracer provider per process, and Pipecat uses the global one, so the
whole test session shares one provider: an in-memory exporter (cleared between tests) plus our
OpenObserve export to a local OTLP receiver (the protobuf is decoded and kept).
"""

from __future__ import annotations

import base64
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from loguru import logger
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from instrumentation import setup_openobserve, uninstrument
from provision.demo.receiver import OTLPReceiver, ReceivedSpan

TOKEN = base64.b64encode(b"root@example.com:Complexpass#123").decode()
ORG = "testorg"
STREAM = "pipecat"

logger.remove()
logger.add(sys.stderr, level="WARNING")


@dataclass
class Tracing:
    """The session's provider, its in-memory spans and the OTLP receiver our exporter sends to."""

    provider: TracerProvider
    memory: InMemorySpanExporter
    receiver: OTLPReceiver

    def install(self) -> TracerProvider:
        """(Re)install our OpenObserve export, pointed at the receiver."""
        return setup_openobserve(
            tracer_provider=self.provider,
            url=self.receiver.url,
            org=ORG,
            stream=STREAM,
            auth_token=TOKEN,
            load_env_file=False,
        )

    def spans(self) -> list[ReadableSpan]:
        """Finished spans (in memory), oldest first."""
        self.provider.force_flush()
        return sorted(self.memory.get_finished_spans(), key=lambda s: s.start_time or 0)

    def exported(self) -> list[ReceivedSpan]:
        """Spans the receiver got over OTLP/HTTP, oldest first."""
        self.provider.force_flush()
        return sorted(self.receiver.spans(), key=lambda s: s.start_ns)

    def reset(self) -> None:
        self.provider.force_flush()
        self.memory.clear()
        self.receiver.clear()


@pytest.fixture(scope="session")
def tracing() -> Iterator[Tracing]:
    memory = InMemorySpanExporter()
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        provider = current
    else:
        provider = TracerProvider(resource=Resource.create({"service.name": "instrumentation-tests"}))
        trace.set_tracer_provider(provider)
    provider.add_span_processor(SimpleSpanProcessor(memory))
    receiver = OTLPReceiver().start()
    state = Tracing(provider, memory, receiver)
    state.install()
    yield state
    uninstrument()
    receiver.stop()


@pytest.fixture
def clean(tracing: Tracing) -> Tracing:
    """The shared tracing state, emptied for this test."""
    tracing.reset()
    return tracing


@pytest.fixture
def without_content(tracing: Tracing) -> Iterator[Tracing]:
    """Our export set up again with ``capture_content=False`` for this test, emptied."""
    uninstrument()
    setup_openobserve(
        tracer_provider=tracing.provider,
        url=tracing.receiver.url,
        auth_token=TOKEN,
        capture_content=False,
        load_env_file=False,
    )
    tracing.reset()
    try:
        yield tracing
    finally:
        uninstrument()
        tracing.install()
