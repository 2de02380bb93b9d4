"""OTLP/HTTP traces ingestion (§2): decode, validate, flatten, store, answer."""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.common.v1 import common_pb2

from . import llm
from .app import App
from .flatten import Event, Link, SpanIn, resource_columns, rust_f64, span_record
from .httpio import Request, Response, json_resp, msg
from .router import Router

ALLOWED_UPTO_US = 5 * 3600 * 1_000_000
ALLOWED_FUTURE_US = 24 * 3600 * 1_000_000
PARTIAL_MSG = "Some spans were rejected due to exceeding the allowed retention period"

_STREAM_RE = re.compile(r"[^a-zA-Z0-9_]+")


def format_stream_name(name: str) -> str:
    return _STREAM_RE.sub("_", name).lower()


class InvalidPayload(Exception):
    pass


# ----- protobuf -----


def _pb_val(v: common_pb2.AnyValue) -> Any:
    which = v.WhichOneof("value")
    if which is None:
        return None
    if which == "string_value":
        return v.string_value
    if which == "bool_value":
        return "true" if v.bool_value else "false"
    if which == "int_value":
        return str(v.int_value)
    if which == "double_value":
        return rust_f64(v.double_value)
    if which == "bytes_value":
        try:
            return v.bytes_value.decode("utf-8")
        except UnicodeDecodeError:
            return ""
    if which == "array_value":
        return [x for x in (_pb_val(e) for e in v.array_value.values) if x is not None]
    if which == "kvlist_value":
        return {kv.key: _pb_val(kv.value) for kv in v.kvlist_value.values}
    return None


def _pb_attrs(attrs: Any) -> list[tuple[str, Any]]:
    return [(kv.key, _pb_val(kv.value)) for kv in attrs]


def decode_proto(body: bytes) -> list[tuple[list[tuple[str, Any]], list[SpanIn]]]:
    try:
        req = trace_service_pb2.ExportTraceServiceRequest.FromString(body)
    except DecodeError as e:
        raise InvalidPayload(f"Invalid proto: {e}") from None
    out = []
    for rs in req.resource_spans:
        spans: list[SpanIn] = []
        for ss in rs.scope_spans:
            for sp in ss.spans:
                spans.append(
                    SpanIn(
                        trace_id=sp.trace_id,
                        span_id=sp.span_id,
                        parent_span_id=sp.parent_span_id,
                        name=sp.name,
                        kind=int(sp.kind),
                        start_ns=sp.start_time_unix_nano,
                        end_ns=sp.end_time_unix_nano,
                        attrs=_pb_attrs(sp.attributes),
                        events=[Event(e.name, e.time_unix_nano, _pb_attrs(e.attributes)) for e in sp.events],
                        links=[
                            Link(
                                ln.trace_id,
                                ln.span_id,
                                ln.trace_state,
                                ln.flags,
                                _pb_attrs(ln.attributes),
                                ln.dropped_attributes_count,
                            )
                            for ln in sp.links
                        ],
                        status=(int(sp.status.code), sp.status.message) if sp.HasField("status") else None,
                        scope_name=ss.scope.name,
                    )
                )
        out.append((_pb_attrs(rs.resource.attributes), spans))
    return out


# ----- OTLP/JSON -----


class _Frac(str):
    """A JSON number written with a fraction or exponent."""


def _line_col(doc: str, idx: int) -> tuple[int, int]:
    line = doc.count("\n", 0, idx) + 1
    return line, idx - (doc.rfind("\n", 0, idx) + 1) + 1


def _bad_double_position(doc: str) -> tuple[int, int]:
    for m in re.finditer(r'"doubleValue"\s*:\s*("(?:[^"\\]|\\.)*"|[-0-9.eE+]+)', doc):
        tok = m.group(1)
        if tok.startswith('"') or re.search(r"[.eE]", tok):
            return _line_col(doc, m.end() - 1)
    return _line_col(doc, max(len(doc) - 1, 0))


def _json_val(v: Any, doc: str) -> Any:
    if not isinstance(v, dict) or not v:
        return None
    if "stringValue" in v:
        return v["stringValue"] if isinstance(v["stringValue"], str) else str(v["stringValue"])
    if "boolValue" in v:
        return "true" if v["boolValue"] else "false"
    if "intValue" in v:
        return str(int(v["intValue"]))
    if "doubleValue" in v:
        d = v["doubleValue"]
        if isinstance(d, str | float):
            line, col = _bad_double_position(doc)
            raise InvalidPayload(f"Invalid json: invalid type: map, expected f64 at line {line} column {col}")
        return rust_f64(float(d))
    if "bytesValue" in v:
        try:
            return base64.b64decode(v["bytesValue"]).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, TypeError):
            return ""
    if "arrayValue" in v:
        vals = (v["arrayValue"] or {}).get("values") or []
        return [x for x in (_json_val(e, doc) for e in vals) if x is not None]
    if "kvlistValue" in v:
        vals = (v["kvlistValue"] or {}).get("values") or []
        return {kv.get("key", ""): _json_val(kv.get("value"), doc) for kv in vals}
    return None


def _json_attrs(attrs: Any, doc: str) -> list[tuple[str, Any]]:
    return [(kv.get("key", ""), _json_val(kv.get("value"), doc)) for kv in attrs or []]


def _hex(s: Any) -> bytes:
    if not s:
        return b""
    try:
        return bytes.fromhex(str(s))
    except ValueError:
        raise InvalidPayload(f"Invalid json: invalid hex string {json.dumps(s)}") from None


def _u64(v: Any) -> int:
    if v is None:
        return 0
    if isinstance(v, bool | float):
        raise InvalidPayload("Invalid json: invalid type: expected u64")
    try:
        n = int(v)
    except (TypeError, ValueError):
        raise InvalidPayload("Invalid json: invalid digit found in string") from None
    if n < 0:
        raise InvalidPayload("Invalid json: invalid digit found in string")
    return n


def decode_json(body: bytes) -> list[tuple[list[tuple[str, Any]], list[SpanIn]]]:
    try:
        doc = body.decode("utf-8")
        data = json.loads(doc, parse_float=_Frac)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        if isinstance(e, json.JSONDecodeError):
            raise InvalidPayload(f"Invalid json: {e.msg.lower()} at line {e.lineno} column {e.colno}") from None
        raise InvalidPayload("Invalid json: invalid unicode") from None
    if not isinstance(data, dict):
        raise InvalidPayload("Invalid json: invalid type: expected struct ExportTraceServiceRequest at line 1 column 1")
    if "resourceSpans" not in data:
        line, col = _line_col(doc, max(len(doc.rstrip()) - 1, 0))
        raise InvalidPayload(f"Invalid json: missing field `resourceSpans` at line {line} column {col}")
    out = []
    try:
        for rs in data["resourceSpans"] or []:
            spans: list[SpanIn] = []
            for ss in rs.get("scopeSpans") or []:
                scope = (ss.get("scope") or {}).get("name", "")
                for sp in ss.get("spans") or []:
                    st = sp.get("status")
                    spans.append(
                        SpanIn(
                            trace_id=_hex(sp.get("traceId")),
                            span_id=_hex(sp.get("spanId")),
                            parent_span_id=_hex(sp.get("parentSpanId")),
                            name=sp.get("name", ""),
                            kind=int(sp.get("kind", 0) or 0),
                            start_ns=_u64(sp.get("startTimeUnixNano")),
                            end_ns=_u64(sp.get("endTimeUnixNano")),
                            attrs=_json_attrs(sp.get("attributes"), doc),
                            events=[
                                Event(
                                    e.get("name", ""),
                                    _u64(e.get("timeUnixNano")),
                                    _json_attrs(e.get("attributes"), doc),
                                )
                                for e in sp.get("events") or []
                            ],
                            links=[
                                Link(
                                    _hex(ln.get("traceId")),
                                    _hex(ln.get("spanId")),
                                    ln.get("traceState", ""),
                                    int(ln.get("flags", 0) or 0),
                                    _json_attrs(ln.get("attributes"), doc),
                                    int(ln.get("droppedAttributesCount", 0) or 0),
                                )
                                for ln in sp.get("links") or []
                            ],
                            status=(int(st.get("code", 0) or 0), st.get("message", ""))
                            if isinstance(st, dict)
                            else None,
                            scope_name=scope,
                        )
                    )
            out.append((_json_attrs((rs.get("resource") or {}).get("attributes"), doc), spans))
    except InvalidPayload:
        raise
    except (AttributeError, TypeError, ValueError) as e:
        raise InvalidPayload(f"Invalid json: {e}") from None
    return out


# ----- handler -----


def build_records(
    app: App, stream: str, decoded: list[tuple[list[tuple[str, Any]], list[SpanIn]]], org: str
) -> tuple[list[dict[str, Any]], int]:
    now_us = app.clock.now_us()
    lo, hi = now_us - ALLOWED_UPTO_US, now_us + ALLOWED_FUTURE_US
    records: list[dict[str, Any]] = []
    rejected = 0
    service_name = stream
    for res_attrs, spans in decoded:
        sn, res_cols, res_norm = resource_columns(res_attrs)
        if sn is not None:
            service_name = sn
        for sp in spans:
            if len(sp.trace_id) != 16 or len(sp.span_id) != 8:
                rejected += 1
                continue
            ts = sp.start_ns // 1000
            if ts < lo or ts > hi:
                rejected += 1
                continue
            try:
                attrs = llm.process_span(app, org, sp, res_attrs)
                sp.attrs = attrs
                records.append(span_record(sp, service_name, res_cols, res_norm, now_us))
            except (ValueError, TypeError):
                rejected += 1
    return records, rejected


def traces_write(app: App, req: Request) -> Response:
    ct = req.content_type
    stream = format_stream_name(req.headers.get("stream-name", "") or "default") or "default"
    is_proto = ct == "application/x-protobuf"
    if not is_proto and not ct.startswith("application/json"):
        return msg(400, "Bad Request")
    try:
        decoded = decode_proto(req.body) if is_proto else decode_json(req.body)
    except InvalidPayload as e:
        return msg(400, str(e))
    records, rejected = build_records(app, stream, decoded, req.org)
    if records:
        existing = app.store.stream(req.org, "traces", stream, create=False)
        columns = set(existing.schema) if existing is not None else set()
        for record in records:
            columns.update(record)
        if len(columns) > COLUMN_LIMIT:  # ZO_COLS_PER_RECORD_LIMIT, over the batch's union schema (§2.5)
            return msg(
                400,
                f"error while writing trace data: Got {len(columns)} columns for stream {req.org}/traces/{stream}, "
                f"only {COLUMN_LIMIT} columns accept. Data discarded. You can set the environment variable "
                "ZO_COLS_PER_RECORD_LIMIT to increase the limit.",
            )
        st = app.store.stream(req.org, "traces", stream, create=True)
        assert st is not None
        st.append(records)
        if any("gen_ai_operation_name" in r for r in records):
            st.ensure_columns(llm.GEN_AI_SCHEMA_FIELDS)
            st.settings["is_llm_stream"] = True
        from .evaluate import realtime_on_ingest

        realtime_on_ingest(app, req.org, "traces", stream, records)
    if is_proto:
        resp = trace_service_pb2.ExportTraceServiceResponse()
        if rejected:
            resp.partial_success.rejected_spans = rejected
            resp.partial_success.error_message = PARTIAL_MSG
        return Response(200, resp.SerializeToString(), "application/x-protobuf")
    if rejected:
        return json_resp(206, {"partialSuccess": {"rejectedSpans": rejected, "errorMessage": PARTIAL_MSG}})
    return json_resp(200, {"partialSuccess": None})


COLUMN_LIMIT = 1000


def register(r: Router) -> None:
    for p in ("/api/{org}/v1/traces", "/api/{org}/traces", "/api/{org}/otel/v1/traces"):
        r.add("POST", p, traces_write, ingestion=True)
