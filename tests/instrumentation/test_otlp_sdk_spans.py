"""Spans as the SDK makes them (bounded attributes, events and links, limits hit) encode as OpenTelemetry does."""

from __future__ import annotations

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans as reference_encode
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanLimits, SpanProcessor, TracerProvider
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags, TraceState

from instrumentation.otlp import encode_spans


class Keep(SpanProcessor):
    def __init__(self) -> None:
        self.spans: list[ReadableSpan] = []

    def on_end(self, span: ReadableSpan) -> None:
        self.spans.append(span)


def test_sdk_spans_with_limits_hit_encode_byte_for_byte_as_the_reference() -> None:
    provider = TracerProvider(
        resource=Resource.create({"service.name": "bot"}),
        span_limits=SpanLimits(max_span_attributes=4, max_events=1, max_links=1),
    )
    kept = Keep()
    provider.add_span_processor(kept)
    tracer = provider.get_tracer("o2_provision.instrumentation", "1.0")
    other = provider.get_tracer("openinference.instrumentation.openai")
    remote = SpanContext(7, 8, True, TraceFlags(1), TraceState([("vendor", "v")]))
    with tracer.start_as_current_span("pipecat.turn", attributes={"a": "x" * 300, "n": 2**40, "b": True}) as turn:
        turn.set_attribute("f", 1.5)
        turn.set_attribute("dropped", "over the limit")
        turn.add_event("first", {"k": "v"})
        turn.add_event("second")  # over the event limit
        child = other.start_span(
            "ChatCompletion",
            kind=SpanKind.CLIENT,
            links=[Link(remote, {"l": 1}), Link(remote)],
            attributes={"t": ("a",)},
        )
        child.set_status(Status(StatusCode.ERROR, "boom"))
        child.end()
        turn.set_status(Status(StatusCode.OK))
    assert len(kept.spans) == 2
    assert kept.spans[1].dropped_attributes == 1 and kept.spans[1].dropped_events == 1
    assert kept.spans[0].dropped_links == 1
    assert encode_spans(kept.spans) == reference_encode(kept.spans).SerializeToString()
