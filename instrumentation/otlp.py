"""OTLP/protobuf encoding of finished spans: :func:`encode_spans`.

Writes the ``ExportTraceServiceRequest`` wire format (opentelemetry-proto ``trace.proto``) directly:
the same bytes the OpenTelemetry exporter's encoder builds out of protobuf objects, at about half the
CPU (``python -m benchmarks.spancost``). The export thread shares the interpreter lock with the bot's
event loop, so its CPU is the bot's too.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanContext, Status

_FIXED32 = struct.Struct("<I").pack
_FIXED64 = struct.Struct("<Q").pack
_DOUBLE = struct.Struct("<d").pack
_SMALL = [bytes((i,)) for i in range(128)]
# SpanFlags: whether the parent is remote is known (0x100), and it is (0x200).
_HAS_IS_REMOTE = 0x100
_IS_REMOTE = 0x200
# Encoded ``KeyValue.key`` fields, per key; attribute keys repeat on every span.
_KEYS: dict[str, bytes] = {}
_MAX_KEYS = 4096


def _varint(value: int) -> bytes:
    if 0 <= value < 0x80:
        return _SMALL[value]
    value &= (1 << 64) - 1  # negative int64: two's complement, ten bytes
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _len_field(tag: bytes, data: bytes) -> bytes:
    return tag + _varint(len(data)) + data


def _text(tag: bytes, text: str) -> bytes:
    return _len_field(tag, text.encode("utf-8", "surrogatepass"))


_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1


def _any_value(value: Any) -> bytes | None:
    """The body of an ``AnyValue``; None for a value OTLP cannot carry (the attribute is left out)."""
    kind = type(value)
    if kind is str:
        return _text(b"\x0a", value)
    if kind is bool:
        return b"\x10\x01" if value else b"\x10\x00"
    if kind is int:
        return b"\x18" + _varint(value) if _INT64_MIN <= value <= _INT64_MAX else None
    if kind is float:
        return b"\x21" + _DOUBLE(value)
    if value is None:
        return b""
    if isinstance(value, str):  # subclasses: str enums and the like
        return _text(b"\x0a", str.__str__(value))
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


def _key(key: str) -> bytes:
    encoded = _KEYS.get(key)
    if encoded is None:
        encoded = _text(b"\x0a", key)
        if len(_KEYS) < _MAX_KEYS:
            _KEYS[key] = encoded
    return encoded


def _attributes(tag: bytes, attributes: Mapping[str, Any] | None) -> bytes:
    """Repeated ``KeyValue`` fields under ``tag``."""
    if not attributes:
        return b""
    parts = []
    for key, value in attributes.items():
        encoded = _any_value(value)
        if encoded is not None:
            parts.append(_len_field(tag, _key(key) + _len_field(b"\x12", encoded)))
    return b"".join(parts)


# Proto3 leaves out scalar fields at their default (0, ""); the helpers below do the same.
def _count(tag: bytes, value: int) -> bytes:
    return tag + _varint(value) if value else b""


def _time(tag: bytes, nanoseconds: int | None) -> bytes:
    return tag + _FIXED64(nanoseconds) if nanoseconds else b""


def _name(tag: bytes, text: str) -> bytes:
    return _text(tag, text) if text else b""


def _flags(tag: bytes, parent: SpanContext | None) -> bytes:
    return tag + _FIXED32(_HAS_IS_REMOTE | (_IS_REMOTE if parent is not None and parent.is_remote else 0))


def _trace_state(context: SpanContext) -> bytes:
    return _text(b"\x1a", context.trace_state.to_header()) if context.trace_state else b""


def _status(status: Status) -> bytes:
    body = _name(b"\x12", status.description or "")
    return _len_field(b"\x7a", body + _count(b"\x18", status.status_code.value))


def _span(span: ReadableSpan) -> bytes:
    context = span.get_span_context()
    if context is None:
        return b""
    parent = span.parent
    parts = [
        b"\x0a\x10" + context.trace_id.to_bytes(16, "big"),
        b"\x12\x08" + context.span_id.to_bytes(8, "big"),
        _trace_state(context),
        b"\x22\x08" + parent.span_id.to_bytes(8, "big") if parent is not None else b"",
        _name(b"\x2a", span.name),
        b"\x30" + _SMALL[span.kind.value + 1],  # SDK INTERNAL=0 … CONSUMER=4; OTLP INTERNAL=1 … CONSUMER=5
        _time(b"\x39", span.start_time),
        _time(b"\x41", span.end_time),
        _attributes(b"\x4a", span.attributes),
        _count(b"\x50", span.dropped_attributes),
    ]
    for event in span.events:
        body = _time(b"\x09", event.timestamp) + _name(b"\x12", event.name)
        body += _attributes(b"\x1a", event.attributes) + _count(b"\x20", event.dropped_attributes)
        parts.append(_len_field(b"\x5a", body))
    parts.append(_count(b"\x60", span.dropped_events))
    for link in span.links:
        body = b"\x0a\x10" + link.context.trace_id.to_bytes(16, "big")
        body += b"\x12\x08" + link.context.span_id.to_bytes(8, "big")  # no trace state, as the SDK's encoder
        body += _attributes(b"\x22", link.attributes) + _count(b"\x28", link.dropped_attributes)
        parts.append(_len_field(b"\x6a", body + _flags(b"\x35", link.context)))
    parts += [_count(b"\x70", span.dropped_links), _status(span.status), _flags(b"\x85\x01", parent)]
    return b"".join(parts)


def encode_spans(spans: Sequence[ReadableSpan]) -> bytes:
    """The serialized ``ExportTraceServiceRequest`` for ``spans``, grouped by resource, then scope."""
    groups: dict[Any, dict[Any, list[bytes]]] = {}
    for span in spans:
        groups.setdefault(span.resource, {}).setdefault(span.instrumentation_scope, []).append(
            _len_field(b"\x12", _span(span))
        )
    request = []
    for resource, scopes in groups.items():
        body = [_len_field(b"\x0a", _attributes(b"\x0a", resource.attributes))]
        for scope, encoded in scopes.items():
            scope_spans = b"\x0a\x00"  # an empty InstrumentationScope, as the SDK's encoder writes it
            if scope is not None:
                header = _name(b"\x0a", scope.name) + _name(b"\x12", scope.version or "")
                scope_spans = _len_field(b"\x0a", header + _attributes(b"\x1a", scope.attributes))
            scope_spans += b"".join(encoded)
            if scope is not None and scope.schema_url:
                scope_spans += _text(b"\x1a", scope.schema_url)
            body.append(_len_field(b"\x12", scope_spans))
        if resource.schema_url:
            body.append(_text(b"\x1a", resource.schema_url))
        request.append(_len_field(b"\x0a", b"".join(body)))
    return b"".join(request)
