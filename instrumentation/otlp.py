"""OTLP/protobuf encoding of finished spans: :func:`encode_spans`.

Writes the ``ExportTraceServiceRequest`` wire format (opentelemetry-proto ``trace.proto``) directly:
the same messages the OpenTelemetry exporter's encoder builds out of protobuf objects
(``tests/instrumentation/test_otlp_encoding.py`` checks it on random spans and on the SDK's own), for a
small fraction of the Python calls (``python -m benchmarks.spancost``). The export thread shares the
interpreter lock with the bot's event loop, so its CPU is the bot's too; hence the style of this module:
lengths below 128 are one byte looked up in a table, the common attribute types are encoded inline, a
short attribute that repeats (a session id, a model name) is encoded once, and a span's fields are read
in one go from the SDK's span (falling back to its public properties for any other ``ReadableSpan``).
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.util import BoundedList
from opentelemetry.trace import SpanKind, StatusCode
from opentelemetry.trace.span import DEFAULT_TRACE_STATE

_FIXED32 = struct.Struct("<I").pack
_FIXED64 = struct.Struct("<Q").pack
_DOUBLE = struct.Struct("<d").pack
_L = [bytes((i,)) for i in range(128)]  # the varint of each length below 128
# SpanFlags: whether the parent is remote is known (0x100), and it is (0x200).
_FLAGS_LOCAL = _FIXED32(0x100)
_FLAGS_REMOTE = _FIXED32(0x300)
_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1
_KINDS = {
    SpanKind.INTERNAL: b"\x30\x01",  # SDK INTERNAL=0 … CONSUMER=4; OTLP INTERNAL=1 … CONSUMER=5
    SpanKind.SERVER: b"\x30\x02",
    SpanKind.CLIENT: b"\x30\x03",
    SpanKind.PRODUCER: b"\x30\x04",
    SpanKind.CONSUMER: b"\x30\x05",
}
_STATUS_UNSET = b"\x7a\x00"
_STATUS_CODES = {StatusCode.UNSET: 0, StatusCode.OK: 1, StatusCode.ERROR: 2}
# Encoded ``KeyValue`` bodies of short attributes, by (key, value type, value): they repeat on every span.
_KEY_VALUES: dict[tuple[str, type, Any], bytes] = {}
_SHORT = 64  # characters
_MAX_CACHED = 8192


def _varint(value: int) -> bytes:
    if 0 <= value < 0x80:
        return _L[value]
    value &= (1 << 64) - 1  # negative int64: two's complement, ten bytes
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _len_field(tag: bytes, data: bytes) -> bytes:
    n = len(data)
    return tag + (_L[n] if n < 128 else _varint(n)) + data


def _any_value(value: Any) -> bytes | None:
    """The body of an ``AnyValue``; None for a value OTLP cannot carry (the attribute is left out)."""
    kind = type(value)
    if kind is str:
        return _len_field(b"\x0a", value.encode("utf-8", "surrogatepass"))
    if kind is bool:
        return b"\x10\x01" if value else b"\x10\x00"
    if kind is int:
        return b"\x18" + _varint(value) if _INT64_MIN <= value <= _INT64_MAX else None
    if kind is float:
        return b"\x21" + _DOUBLE(value)
    if value is None:
        return b""
    if isinstance(value, str):  # subclasses: str enums and the like
        return _any_value(str.__str__(value))
    if isinstance(value, int):
        return _any_value(int(value))
    if isinstance(value, float):
        return _any_value(float(value))
    if isinstance(value, bytes):
        return _len_field(b"\x3a", bytes(value))
    if isinstance(value, Sequence):
        items = [_any_value(v) for v in value]
        if any(item is None for item in items):
            return None
        return _len_field(b"\x2a", b"".join(_len_field(b"\x0a", item) for item in items if item is not None))
    if isinstance(value, Mapping):
        return _len_field(b"\x32", _attributes(b"\x0a", {str(k): v for k, v in value.items()}))
    return None


def _key_value(key: str, value: Any) -> bytes | None:
    """A ``KeyValue`` message body, or None when the value cannot be carried."""
    encoded: bytes
    kind = type(value)
    if kind is str:
        data = value.encode("utf-8", "surrogatepass")
        n = len(data)
        encoded = b"\x0a" + (_L[n] if n < 128 else _varint(n)) + data
    elif kind is int and 0 <= value < 0x80:
        encoded = b"\x18" + _L[value]
    else:
        found = _any_value(value)
        if found is None:
            return None
        encoded = found
    key_data = key.encode("utf-8", "surrogatepass")
    k, n = len(key_data), len(encoded)
    return (
        b"\x0a" + (_L[k] if k < 128 else _varint(k)) + key_data + b"\x12" + (_L[n] if n < 128 else _varint(n)) + encoded
    )


def _attributes(tag: bytes, attributes: Mapping[str, Any] | None) -> bytes:
    """Repeated ``KeyValue`` fields under ``tag``."""
    if not attributes:
        return b""
    if type(attributes) is BoundedAttributes:
        attributes = attributes._dict  # the same items without a Python call for each
    parts = []
    cache = _KEY_VALUES
    value: Any
    for key, value in attributes.items():
        kind = type(value)
        short = (kind is str and len(value) <= _SHORT) or kind is int or kind is bool
        body = cache.get((key, kind, value)) if short else None
        if body is None:
            body = _key_value(key, value)
            if body is None:
                continue
            if short:
                if len(cache) >= _MAX_CACHED:
                    cache.clear()
                cache[(key, kind, value)] = body
        n = len(body)
        parts.append(tag + (_L[n] if n < 128 else _varint(n)) + body)
    return b"".join(parts)


def _count(tag: bytes, value: int) -> bytes:
    # Proto3 leaves out scalar fields at their default (0, ""), as the helpers below do.
    return tag + _varint(value) if value else b""


def _text(tag: bytes, text: str) -> bytes:
    return _len_field(tag, text.encode("utf-8", "surrogatepass")) if text else b""


def _span(span: ReadableSpan) -> bytes:
    """One ``Span`` message (with its length prefix, as field 2 of ``ScopeSpans``)."""
    fields = span.__dict__
    try:
        name, context, parent = fields["_name"], fields["_context"], fields["_parent"]
        kind, start, end = fields["_kind"], fields["_start_time"], fields["_end_time"]
        attributes, events, links, status = (
            fields["_attributes"],
            fields["_events"],
            fields["_links"],
            fields["_status"],
        )
    except KeyError:  # a ReadableSpan of another make: its public properties
        name, context, parent = span.name, span.get_span_context(), span.parent
        kind, start, end, status = span.kind, span.start_time, span.end_time, span.status
        attributes, events, links = span.attributes, span.events, span.links
    if context is None:
        return b"\x12\x00"
    dropped_attributes = attributes.dropped if type(attributes) is BoundedAttributes else 0
    dropped_events, dropped_links = 0, 0
    if type(events) is BoundedList:
        dropped_events, events = events.dropped, events._dq  # type: ignore[attr-defined]
    if type(links) is BoundedList:
        dropped_links, links = links.dropped, links._dq  # type: ignore[attr-defined]
    # SpanContext is a tuple: (trace_id, span_id, is_remote, trace_flags, trace_state, is_valid).
    parts = [b"\x0a\x10" + context[0].to_bytes(16, "big"), b"\x12\x08" + context[1].to_bytes(8, "big")]
    trace_state = context[4]
    if trace_state is not DEFAULT_TRACE_STATE and trace_state:
        parts.append(_text(b"\x1a", trace_state.to_header()))
    if parent is not None:
        parts.append(b"\x22\x08" + parent[1].to_bytes(8, "big"))
    if name:
        parts.append(_text(b"\x2a", name))
    # Compared by identity: hashing an Enum member is a Python call.
    parts.append(b"\x30\x01" if kind is SpanKind.INTERNAL else _KINDS.get(kind) or b"\x30" + _varint(kind.value + 1))
    if start:
        parts.append(b"\x39" + _FIXED64(start))
    if end:
        parts.append(b"\x41" + _FIXED64(end))
    if attributes:
        parts.append(_attributes(b"\x4a", attributes))
    if dropped_attributes:
        parts.append(_count(b"\x50", dropped_attributes))
    for event in events:
        body = (b"\x09" + _FIXED64(event.timestamp) if event.timestamp else b"") + _text(b"\x12", event.name)
        body += _attributes(b"\x1a", event.attributes) + _count(b"\x20", event.dropped_attributes)
        parts.append(_len_field(b"\x5a", body))
    if dropped_events:
        parts.append(_count(b"\x60", dropped_events))
    for link in links:
        body = b"\x0a\x10" + link.context.trace_id.to_bytes(16, "big")
        body += b"\x12\x08" + link.context.span_id.to_bytes(8, "big")  # no trace state, as the SDK's encoder
        body += _attributes(b"\x22", link.attributes) + _count(b"\x28", link.dropped_attributes)
        parts.append(_len_field(b"\x6a", body + b"\x35" + (_FLAGS_REMOTE if link.context.is_remote else _FLAGS_LOCAL)))
    if dropped_links:
        parts.append(_count(b"\x70", dropped_links))
    status_fields = getattr(status, "__dict__", None) or {}
    code = status_fields.get("_status_code") or status.status_code
    description = status_fields["_description"] if "_description" in status_fields else status.description  # noqa: SIM401 (only read when absent)
    if code is StatusCode.UNSET and not description:
        parts.append(_STATUS_UNSET)
    else:
        number = 1 if code is StatusCode.OK else 2 if code is StatusCode.ERROR else _STATUS_CODES.get(code, 0)
        parts.append(_len_field(b"\x7a", _text(b"\x12", description or "") + _count(b"\x18", number)))
    parts.append(b"\x85\x01" + (_FLAGS_REMOTE if parent is not None and parent[2] else _FLAGS_LOCAL))
    return _len_field(b"\x12", b"".join(parts))


def _merge_equal(groups: dict[int, tuple[Any, list[Any]]]) -> list[tuple[Any, list[Any]]]:
    """Groups whose keys are equal but distinct objects, as one (hashing once per group, not per span)."""
    if len(groups) == 1:
        return list(groups.values())
    merged: dict[Any, tuple[Any, list[Any]]] = {}
    for key, members in groups.values():
        found = merged.get(key)
        if found is None:
            merged[key] = (key, list(members))
        else:
            found[1].extend(members)
    return list(merged.values())


def encode_spans(spans: Sequence[ReadableSpan]) -> bytes:
    """The serialized ``ExportTraceServiceRequest`` for ``spans``, grouped by resource, then scope."""
    # Grouped by identity first: hashing a Resource serialises its attributes to JSON.
    by_resource: dict[int, tuple[Any, list[ReadableSpan]]] = {}
    for span in spans:
        resource = span.resource
        group = by_resource.get(id(resource))
        if group is None:
            group = by_resource[id(resource)] = (resource, [])
        group[1].append(span)
    request = []
    for resource, members in _merge_equal(by_resource):
        by_scope: dict[int, tuple[Any, list[bytes]]] = {}
        for span in members:
            scope = span.instrumentation_scope
            encoded = by_scope.get(id(scope))
            if encoded is None:
                encoded = by_scope[id(scope)] = (scope, [])
            encoded[1].append(_span(span))
        body = [_len_field(b"\x0a", _attributes(b"\x0a", resource.attributes))]
        for scope, encoded_spans in _merge_equal(by_scope):
            scope_spans = b"\x0a\x00"  # an empty InstrumentationScope, as the SDK's encoder writes it
            if scope is not None:
                header = _text(b"\x0a", scope.name) + _text(b"\x12", scope.version or "")
                scope_spans = _len_field(b"\x0a", header + _attributes(b"\x1a", scope.attributes))
            scope_spans += b"".join(encoded_spans)
            if scope is not None and scope.schema_url:
                scope_spans += _text(b"\x1a", scope.schema_url)
            body.append(_len_field(b"\x12", scope_spans))
        if resource.schema_url:
            body.append(_text(b"\x1a", resource.schema_url))
        request.append(_len_field(b"\x0a", b"".join(body)))
    return b"".join(request)
