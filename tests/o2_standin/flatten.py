"""Span → stored record, as OpenObserve flattens OTLP spans (§2.3–§2.5)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

RESERVED = {
    "trace_id",
    "span_id",
    "flags",
    "span_status",
    "span_kind",
    "operation_name",
    "start_time",
    "end_time",
    "duration",
    "service_name",
    "infer_service_name",
    "infer_service_type",
    "infer_service_system",
    "events",
    "links",
    "_timestamp",
}

GEN_AI_INT64_FIELDS = (
    "gen_ai_usage_input_tokens",
    "gen_ai_usage_output_tokens",
    "gen_ai_usage_total_tokens",
    "gen_ai_usage_cache_read_input_tokens",
    "gen_ai_usage_cache_creation_input_tokens",
)
GEN_AI_FLOAT64_FIELDS = (
    "gen_ai_response_time_to_first_chunk",
    "gen_ai_usage_cost",
    "gen_ai_usage_cost_input",
    "gen_ai_usage_cost_output",
    "gen_ai_usage_cost_cache_read_input",
    "gen_ai_usage_cost_cache_creation_input",
    "gen_ai_usage_cost_estimated_without_cache",
    "gen_ai_usage_cost_cache_read_savings",
    "gen_ai_usage_cost_net_cache_impact",
)


@dataclass
class Link:
    trace_id: bytes
    span_id: bytes
    trace_state: str
    flags: int
    attrs: list[tuple[str, Any]]
    dropped: int


@dataclass
class Event:
    name: str
    time_ns: int
    attrs: list[tuple[str, Any]]


@dataclass
class SpanIn:
    trace_id: bytes
    span_id: bytes
    parent_span_id: bytes
    name: str
    kind: int
    start_ns: int
    end_ns: int
    attrs: list[tuple[str, Any]]
    events: list[Event] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)
    status: tuple[int, str] | None = None
    scope_name: str = ""


def rust_f64(x: float) -> str:
    """Rust `f64` Display: shortest round-trip digits, never exponent notation."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    s = format(Decimal(repr(x)), "f")
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return s


def format_key(key: str) -> str:
    if all(
        ("a" <= c <= "z") or ("0" <= c <= "9") or c == "_" or (not c.isascii() and (c.islower() or c.isnumeric()))
        for c in key
    ):
        return key
    out = []
    for c in key:
        if c.isascii():
            if "A" <= c <= "Z":
                out.append(c.lower())
            elif ("a" <= c <= "z") or ("0" <= c <= "9") or c == "_":
                out.append(c)
            else:
                out.append("_")
        elif c.islower() or c.isnumeric():
            out.append(c)
        elif c.isupper():
            out.append(c.lower())
        else:
            out.append("_")
    return "".join(out)


def compact(v: Any) -> str:
    return json.dumps(v, separators=(",", ":"), ensure_ascii=False)


def flatten_into(out: dict[str, Any], key: str, v: Any) -> None:
    """Add `v` under formatted `key`; objects recurse with `_` joins, arrays become JSON strings."""
    k = format_key(key)
    if v is None:
        return
    if isinstance(v, dict):
        if not v:
            return
        for sk, sv in v.items():
            flatten_into(out, f"{k}_{sk}", sv)
        return
    if isinstance(v, list):
        if not v:
            return
        out[k] = compact(v)
        return
    out[k] = v


def coerce_gen_ai(rec: dict[str, Any]) -> None:
    """`normalize_llm_field_types` on every span (llm §3)."""
    for k in GEN_AI_INT64_FIELDS:
        if k in rec:
            v = rec[k]
            if isinstance(v, bool):
                rec[k] = 1 if v else 0
            elif isinstance(v, int):
                pass
            elif isinstance(v, float):
                rec[k] = int(v) if math.isfinite(v) else 0
            elif isinstance(v, str):
                try:
                    rec[k] = int(v.strip())
                except ValueError:
                    rec[k] = 0
            else:
                rec[k] = 0
    for k in GEN_AI_FLOAT64_FIELDS:
        if k in rec:
            v = rec[k]
            if isinstance(v, float) and not isinstance(v, bool):
                continue
            f = 0.0
            if isinstance(v, bool):
                f = 0.0
            elif isinstance(v, int):
                f = float(v)
            elif isinstance(v, str):
                try:
                    f = float(v.strip())
                except ValueError:
                    f = 0.0
            rec[k] = f if math.isfinite(f) else 0.0


def resource_columns(res_attrs: list[tuple[str, Any]]) -> tuple[str | None, dict[str, Any], set[str]]:
    """Return (service.name, flattened service_* columns, normalised resource keys)."""
    service_name: str | None = None
    cols: dict[str, Any] = {}
    norm: set[str] = set()
    for key, val in res_attrs:
        if key == "service.name":
            if isinstance(val, str):
                service_name = val
            elif val is not None:
                service_name = compact(val) if isinstance(val, list | dict) else str(val)
            continue
        full = f"service_{key}"
        if format_key(full) in RESERVED:
            full = f"service_attr_{key}"
        norm.add(format_key(full))
        flatten_into(cols, full, val)
    return service_name, cols, norm


def span_record(
    span: SpanIn, service_name: str, res_cols: dict[str, Any], res_norm: set[str], ingest_us: int
) -> dict[str, Any]:
    rec: dict[str, Any] = {}
    rec["trace_id"] = span.trace_id.hex()
    rec["span_id"] = span.span_id.hex()
    if len(span.parent_span_id) == 8:
        rec["reference_parent_span_id"] = span.parent_span_id.hex()
        rec["reference_parent_trace_id"] = span.trace_id.hex()
        rec["reference_ref_type"] = "ChildOf"
    rec["flags"] = 1
    code = span.status[0] if span.status else 0
    rec["span_status"] = {1: "OK", 2: "ERROR"}.get(code, "UNSET")
    rec["span_kind"] = str(span.kind)
    rec["operation_name"] = span.name
    rec["start_time"] = span.start_ns
    rec["end_time"] = span.end_ns
    rec["duration"] = max(span.end_ns - span.start_ns, 0) // 1000
    rec["service_name"] = service_name
    rec.update(res_cols)
    for key, val in span.attrs:
        nk = format_key(key)
        if nk in RESERVED or nk in res_norm:
            key = f"attr_{key}"
        flatten_into(rec, key, val)
    events = []
    for ev in span.events:
        e: dict[str, Any] = {"name": ev.name, "_timestamp": ev.time_ns}
        for k, v in ev.attrs:
            if v is not None:
                e[k] = v
        events.append(e)
    rec["events"] = compact(events)
    links = []
    for ln in span.links:
        if len(ln.trace_id) != 16 or len(ln.span_id) != 8:
            continue
        lk: dict[str, Any] = {
            "context": {
                "traceId": ln.trace_id.hex(),
                "spanId": ln.span_id.hex(),
                "traceFlags": ln.flags,
                "traceState": ln.trace_state,
            }
        }
        for k, v in ln.attrs:
            if v is not None:
                lk[k] = v
        lk["droppedAttributesCount"] = ln.dropped
        links.append(lk)
    rec["links"] = compact(links)
    if span.status is not None:
        rec["status_code"] = span.status[0]
        rec["status_message"] = span.status[1]
    rec["_timestamp"] = span.start_ns // 1000
    rec["_o2_ingest_ts"] = ingest_us
    coerce_gen_ai(rec)
    return rec
