"""Our OTLP encoder writes exactly what OpenTelemetry's own encoder writes, for any span."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans as reference_encode
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags, TraceState

from instrumentation.otlp import encode_spans

INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
TEXT = st.text(max_size=40)
PRIMITIVE = st.one_of(TEXT, st.booleans(), INT64, st.floats(allow_nan=False))
VALUE = st.one_of(
    PRIMITIVE,
    st.lists(TEXT, max_size=4).map(tuple),
    st.lists(INT64, max_size=4).map(tuple),
    st.lists(st.floats(allow_nan=False), max_size=4).map(tuple),
    st.lists(st.booleans(), max_size=4).map(tuple),
)
ATTRIBUTES = st.dictionaries(st.text(min_size=1, max_size=30), VALUE, max_size=8)
IDS = st.tuples(st.integers(1, 2**128 - 1), st.integers(1, 2**64 - 1))
TRACE_STATE = st.sampled_from([TraceState(), TraceState([("vendor", "value"), ("o2", "1")])])


@st.composite
def contexts(draw: st.DrawFn, remote: bool | None = None) -> SpanContext:
    trace_id, span_id = draw(IDS)
    is_remote = draw(st.booleans()) if remote is None else remote
    return SpanContext(trace_id, span_id, is_remote, TraceFlags(draw(st.sampled_from([0, 1]))), draw(TRACE_STATE))


@st.composite
def spans(draw: st.DrawFn) -> ReadableSpan:
    start = draw(st.integers(0, 2**63))
    scope = draw(
        st.sampled_from(
            [
                InstrumentationScope("o2_provision.instrumentation"),
                InstrumentationScope("openinference.instrumentation.openai", "0.1.66", "https://schema", {"a": 1}),
            ]
        )
    )
    resource = draw(
        st.sampled_from(
            [Resource.create({"service.name": "bot"}), Resource({"service.name": "other", "n": 3}, "https://s")]
        )
    )
    events = draw(st.lists(st.builds(Event, TEXT, ATTRIBUTES, st.integers(0, 2**63)), max_size=3))
    links = draw(st.lists(st.builds(Link, contexts(), ATTRIBUTES), max_size=2))
    status = draw(
        st.one_of(
            st.just(Status(StatusCode.UNSET)),
            st.just(Status(StatusCode.OK)),
            st.builds(lambda d: Status(StatusCode.ERROR, d), TEXT),
        )
    )
    return ReadableSpan(
        name=draw(TEXT),
        context=draw(contexts(remote=False)),
        parent=draw(st.one_of(st.none(), contexts())),
        resource=resource,
        attributes=draw(ATTRIBUTES),
        events=events,
        links=links,
        kind=draw(st.sampled_from(list(SpanKind))),
        status=status,
        start_time=start,
        end_time=start + draw(st.integers(0, 10**12)),
        instrumentation_scope=scope,
    )


@settings(max_examples=300, deadline=None)
@given(st.lists(spans(), min_size=1, max_size=6))
def test_same_bytes_as_opentelemetrys_encoder(batch: list[ReadableSpan]) -> None:
    ours = encode_spans(batch)
    reference = reference_encode(batch)
    assert ExportTraceServiceRequest.FromString(ours) == reference
    assert ours == reference.SerializeToString()


def test_values_otlp_cannot_carry_are_left_out_as_opentelemetry_does() -> None:
    too_big = 2**64
    span = ReadableSpan(
        name="s",
        context=SpanContext(1, 2, False),
        resource=Resource({}),
        attributes={"ok": 1, "too_big": too_big, "none": None, "mixed": ("a", 1)},
        instrumentation_scope=InstrumentationScope("x"),
        start_time=1,
        end_time=2,
    )
    decoded: Any = ExportTraceServiceRequest.FromString(encode_spans([span]))
    (sent,) = decoded.resource_spans[0].scope_spans[0].spans
    keys = [kv.key for kv in sent.attributes]
    assert "ok" in keys and "too_big" not in keys
    assert decoded == reference_encode([span])
