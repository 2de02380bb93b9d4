"""Notification body rendering: custom-template placeholders (§6.3) and the content envelope (§5.6)."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

from .flatten import rust_f64


@dataclass
class Ctx:
    org: str
    alert: dict[str, Any]
    rows: list[dict[str, Any]]
    manual: bool
    window: tuple[int, int]  # µs
    trigger_us: int
    alert_count: str
    agg_value: str
    level: str
    alert_url: str
    metadata: dict[str, str] = field(default_factory=dict)


def esc(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)[1:-1]


def val_str(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return rust_f64(v) if math.isfinite(v) else "null"
    if v is None:
        return ""
    if isinstance(v, list | dict):
        return json.dumps(v, separators=(",", ":"))
    return str(v)


def fmt_local(us: int) -> str:
    import datetime

    return datetime.datetime.fromtimestamp(us / 1_000_000).strftime("%Y-%m-%dT%H:%M:%S")


def _time_bounds(c: Ctx) -> tuple[int, int]:
    raw_min = [r.get("zo_sql_min_time", r.get("_timestamp")) for r in c.rows]
    raw_max = [r.get("zo_sql_max_time", r.get("_timestamp")) for r in c.rows]
    mins: list[int] = [m for m in raw_min if isinstance(m, int)]
    maxs: list[int] = [m for m in raw_max if isinstance(m, int)]
    if mins and maxs:
        return min(mins), max(maxs) + 60_000_000
    return c.window


def alert_vars(c: Ctx) -> list[tuple[str, str]]:
    a = c.alert
    tc = a["trigger_condition"]
    qc = a["query_condition"]
    start, end = _time_bounds(c)
    pc = qc.get("promql_condition") or {}
    warn = "" if tc.get("warning_threshold") is None else str(tc["warning_threshold"])
    return [
        ("{org_name}", c.org),
        ("{stream_type}", a["stream_type"]),
        ("{stream_name}", a["stream_name"]),
        ("{alert_name}", a["name"]),
        ("{alert_type}", "realtime" if a["is_real_time"] else "scheduled"),
        ("{alert_period}", str(tc["period"])),
        ("{alert_operator}", tc["operator"]),
        ("{alert_threshold_crit}", str(tc["threshold"])),
        ("{alert_threshold_warn}", warn),
        ("{alert_warning_threshold}", warn),
        ("{alert_threshold}", str(tc["threshold"])),
        ("{alert_count}", c.alert_count),
        ("{alert_agg_value}", c.agg_value),
        ("{alert_level}", c.level),
        ("{alert_priority}", "" if a.get("priority") is None else str(a["priority"])),
        ("{alert_tags}", ",".join(a.get("tags") or [])),
        ("{alert_start_time}", fmt_local(start)),
        ("{alert_end_time}", fmt_local(end)),
        ("{alert_url}", c.alert_url),
        ("{alert_trigger_time_millis}", str(c.trigger_us // 1000)),
        ("{alert_trigger_time_seconds}", str(c.trigger_us // 1_000_000)),
        ("{alert_trigger_time_str}", fmt_local(c.trigger_us)),
        ("{alert_trigger_time}", str(c.trigger_us)),
        ("{alert_time}", fmt_local(c.trigger_us)),
        ("{alert_description}", a.get("description") or ""),
        ("{alert_promql_operator}", str(pc.get("operator", ""))),
        ("{alert_promql_value}", val_str(pc.get("value", ""))),
    ]


def _row_strings(c: Ctx) -> tuple[list[str], list[Any] | None]:
    """Each row through row_template; also the parsed JSON rows when every row is JSON."""
    tmpl = c.alert.get("row_template") or ""
    if not tmpl:
        return [], None
    out: list[str] = []
    for row in c.rows:
        s = tmpl
        for k, v in row.items():
            s = s.replace("{" + k + "}", esc(val_str(v)))
        for ph, val in alert_vars(c):
            s = s.replace(ph, val)
        out.append(s)
    parsed: list[Any] | None = None
    if c.alert.get("row_template_type") == "Json":
        try:
            parsed = [json.loads(s) for s in out]
        except ValueError:
            parsed = None
    return out, parsed


_ROWS_RE = re.compile(r'"\{(\.\.\.)?rows(?::(\d+))?\}"|\{(\.\.\.)?rows(?::(\d+))?\}')


def _apply_rows(body: str, c: Ctx, sep: str) -> str:
    strs, parsed = _row_strings(c)
    has_tmpl = bool(c.alert.get("row_template"))
    as_json = has_tmpl and (parsed is not None or (c.manual and not c.rows))

    def repl(m: re.Match[str]) -> str:
        quoted = m.group(0).startswith('"')
        spread = bool(m.group(1) or m.group(3))
        n_s = m.group(2) or m.group(4)
        n = int(n_s) if n_s else None
        if quoted and as_json:
            arr = parsed or []
            text = json.dumps(arr[:n] if n is not None else arr, separators=(",", ":"), ensure_ascii=False)
            return text[1:-1] if spread else text
        chosen = strs[:n] if n is not None else strs
        joined = sep.join(esc(s) for s in chosen)
        return f'"{joined}"' if quoted else joined

    return _ROWS_RE.sub(repl, body)


def _apply_columns(body: str, c: Ctx) -> str:
    cols: dict[str, list[str]] = {}
    for r in c.rows:
        for k, v in r.items():
            s = val_str(v)
            lst = cols.setdefault(k, [])
            if s not in lst:
                lst.append(s)

    def repl(m: re.Match[str]) -> str:
        name, n = m.group(1), m.group(2)
        if name not in cols:
            return m.group(0)
        text = ", ".join(cols[name])
        if n:
            text = text[: int(n)]
        return esc(text)

    return re.sub(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::(\d+))?\}", repl, body)


def render_custom(template_body: str, c: Ctx, *, sep: str = "\\n") -> str:
    body = template_body
    for ph, val in alert_vars(c):
        body = body.replace(ph, val)
    body = _apply_rows(body, c, sep)
    body = _apply_columns(body, c)
    for k, v in (c.alert.get("context_attributes") or {}).items():
        body = body.replace("{" + k + "}", esc(v))
    for k, v in c.metadata.items():
        body = body.replace("{" + k + "}", v)
    return body


def render_content(spec_text: str, c: Ctx) -> str:
    try:
        spec = json.loads(spec_text)
    except ValueError:
        spec = {}
    a = c.alert
    title = str(spec.get("title") or "[{alert_level}] {alert_name}")
    md = str(spec.get("body_markdown") or spec.get("body") or "")
    for ph, val in alert_vars(c):
        title = title.replace(ph, val)
        md = md.replace(ph, val)
    fields = {ph[1:-1]: val for ph, val in alert_vars(c) if ph[1:-1] in (spec.get("fields") or [])}
    env = {
        "version": 1,
        "title": title,
        "body_markdown": md,
        "fields": fields,
        "rows": c.rows,
        "links": {"alert_url": c.alert_url},
        "severity": c.level or "info",
        "chart_url": None,
        "context": {
            "org": c.org,
            "alert_name": a["name"],
            "stream_type": a["stream_type"],
            "stream_name": a["stream_name"],
            "alert_count": c.alert_count,
            **(a.get("context_attributes") or {}),
        },
    }
    return json.dumps(env, separators=(",", ":"), ensure_ascii=False)
