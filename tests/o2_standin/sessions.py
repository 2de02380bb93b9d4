"""LLM sessions API `/api/{org}/{stream}/traces/session[/details]` (openobserve-llm.md §6)."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from .app import App
from .httpio import Request, Response, json_resp, msg
from .router import Router

NEW_FIELDS = ("gen_ai_usage_output_tokens", "gen_ai_usage_cost", "gen_ai_response_model")
LEGACY_FIELDS = ("llm_usage_tokens_input", "llm_usage_tokens_output", "llm_usage_cost_total", "llm_model_name")
SUM_FIELDS = (
    "gen_ai_usage_input_tokens",
    "gen_ai_usage_output_tokens",
    "gen_ai_usage_total_tokens",
    "gen_ai_usage_cost",
    "gen_ai_usage_cache_read_input_tokens",
    "gen_ai_usage_cache_creation_input_tokens",
    "gen_ai_usage_cost_cache_read_input",
    "gen_ai_usage_cost_cache_creation_input",
    "gen_ai_usage_cost_estimated_without_cache",
    "gen_ai_usage_cost_cache_read_savings",
    "gen_ai_usage_cost_net_cache_impact",
)
SESSION_ID_COLUMNS = ("session_id", "gen_ai_conversation_id", "llm_session_id", "gen_ai.conversation.id")


def _int_q(req: Request, name: str, default: int) -> int:
    v = req.q(name)
    try:
        return int(v) if v not in (None, "") else default
    except ValueError:
        return default


def _schema_error(schema: dict[str, Any], stream: str) -> str | None:
    if "gen_ai_usage_input_tokens" in schema:
        needed: tuple[str, ...] = NEW_FIELDS
    else:
        needed = LEGACY_FIELDS
    for f in needed:
        if f not in schema:
            return f"Missing required LLM field '{f}' in stream '{stream}'"
    return None


def _indexed_session(rec: dict[str, Any]) -> Any:
    """The trace time index's session of a span: its first non-empty `SESSION_ID_COLUMNS` value."""
    return next((rec[c] for c in SESSION_ID_COLUMNS if rec.get(c) not in (None, "")), None)


def first_user_message(raw: Any) -> str | None:
    if raw is None or raw == "":
        return None
    try:
        val = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        return str(raw)[:400]
    msgs = None
    if isinstance(val, dict):
        msgs = val.get("messages") or val.get("contents")
    elif isinstance(val, list):
        msgs = val
    if isinstance(msgs, list):
        for m in msgs:
            m = m.get("message", m) if isinstance(m, dict) else m
            if isinstance(m, dict) and str(m.get("role", "")).lower() in ("user", "human"):
                c = m.get("content", m.get("text", m.get("parts")))
                if c is None:
                    continue
                text = c if isinstance(c, str) else json.dumps(c, separators=(",", ":"))
                return text[:400]
        if isinstance(val, list):
            return json.dumps(val, separators=(",", ":"))[:400]
    return None


def _records(app: App, org: str, stream: str, start: int, end: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    st = app.store.stream(org, "traces", stream)
    if st is None:
        return {}, []
    recs = [r for r in st.records if (start == 0 and end == 0) or start <= r.get("_timestamp", 0) < end]
    return dict(st.schema), recs


def _filter_ids(app: App, org: str, stream: str, flt: str, start: int, end: int) -> set[str] | Response:
    from .search import SearchError, execute

    sql = (
        f'SELECT gen_ai_conversation_id AS sid FROM "{stream}" WHERE gen_ai_conversation_id IS NOT NULL '
        f"GROUP BY gen_ai_conversation_id HAVING max(CASE WHEN {flt} THEN 1 ELSE 0 END)=1"
    )
    try:
        res = execute(app, org, "traces", sql, start, end, size=1_000_000, add_defaults=False)
    except SearchError as e:
        return json_resp(e.status, e.body)
    return {h["sid"] for h in res.hits if "sid" in h}


def sessions(app: App, req: Request) -> Response:
    t0 = time.time()
    start, end = _int_q(req, "start_time", 0), _int_q(req, "end_time", 0)
    if start == 0:
        return msg(400, "start_time is empty")
    if end == 0:
        return msg(400, "end_time is empty")
    frm = max(0, _int_q(req, "from", 0))
    size = max(1, _int_q(req, "size", 10))
    stream = req.params["stream"]
    schema, recs = _records(app, req.org, stream, start, end)
    err = _schema_error(schema, stream)
    if err:
        return msg(400, err)
    out: dict[str, Any] = {"took": 0, "total": 0, "from": frm, "size": size, "hits": [], "trace_id": uuid.uuid4().hex}
    if "gen_ai_conversation_id" not in schema:
        out.update(has_more=False, total_is_exact=True)
        return json_resp(200, out)
    allowed: set[str] | None = None
    flt = req.q("filter")
    if flt:
        ids = _filter_ids(app, req.org, stream, flt, start, end)
        if isinstance(ids, Response):
            return ids
        allowed = ids
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in recs:
        sid = r.get("gen_ai_conversation_id")
        if sid is None or (allowed is not None and sid not in allowed):
            continue
        groups.setdefault(str(sid), []).append(r)
    ordered = sorted(groups, key=lambda s: max(int(x.get("end_time", 0)) for x in groups[s]), reverse=True)
    page = ordered[frm : frm + size + 1]
    has_more = len(page) > size
    page = page[:size]
    hits = []
    for sid in page:
        spans = groups[sid]
        st = min(int(s.get("start_time", 0)) for s in spans)
        en = max(int(s.get("end_time", 0)) for s in spans)
        hit: dict[str, Any] = {
            "session_id": sid,
            "start_time": st,
            "end_time": en,
            "duration": max(en - st, 0),
            "trace_count": len({s.get("trace_id") for s in spans}),
        }
        for f in SUM_FIELDS:
            vals = [s[f] for s in spans if isinstance(s.get(f), int | float)]
            hit[f] = (sum(vals) if vals else None) if f in schema else 0
        hit["error_count"] = sum(1 for s in spans if s.get("span_status") == "ERROR")
        hit["user_ids"] = sorted({str(s["user_id"]) for s in spans if s.get("user_id")})
        msgs = sorted(
            (int(s.get("start_time", 0)), s["gen_ai_input_messages"]) for s in spans if s.get("gen_ai_input_messages")
        )
        hit["first_user_message"] = first_user_message(msgs[0][1]) if msgs else None
        hits.append(hit)
    out.update(
        took=int((time.time() - t0) * 1000),
        total=frm + len(hits) + (1 if has_more else 0),
        hits=hits,
        has_more=has_more,
        total_is_exact=not has_more,
    )
    return json_resp(200, out)


def session_details(app: App, req: Request) -> Response:
    t0 = time.time()
    sid = req.q("session_id")
    if not sid:
        return msg(400, "session_id is empty")
    raw_s, raw_e = req.q("start_time"), req.q("end_time")
    if (raw_s is None) != (raw_e is None):
        return msg(400, "start_time and end_time must be provided together")
    try:
        start = int(raw_s) if raw_s is not None else 0
    except ValueError:
        return msg(400, "Invalid start_time parameter")
    try:
        end = int(raw_e) if raw_e is not None else 0
    except ValueError:
        return msg(400, "Invalid end_time parameter")
    if (start == 0) != (end == 0):
        return msg(400, "start_time and end_time must both be zero or non-zero")
    if start > end:
        return msg(400, "start_time must not be greater than end_time")
    frm = max(0, _int_q(req, "from", 0))
    size = max(0, _int_q(req, "size", 1000))
    stream = req.params["stream"]
    schema, recs = _records(app, req.org, stream, start, end)
    err = _schema_error(schema, stream)
    if err:
        return msg(400, err)
    if start == 0 and not any(_indexed_session(r) == sid for r in recs):
        return msg(400, "A caller time range is required when the session time index has no result")
    cols = [c for c in SESSION_ID_COLUMNS if c in schema]
    member = {r.get("trace_id") for r in recs if any(r.get(c) == sid for c in cols)}
    traces: dict[str, list[dict[str, Any]]] = {}
    for r in recs:
        if r.get("trace_id") in member:
            traces.setdefault(str(r["trace_id"]), []).append(r)
    order = sorted(traces, key=lambda t: (-min(int(s.get("start_time", 0)) for s in traces[t]), t))
    hits = []
    for tid in order[frm : frm + size]:
        spans = traces[tid]
        st = min(int(s.get("start_time", 0)) for s in spans)
        en = max(int(s.get("end_time", 0)) for s in spans)
        services: dict[str, dict[str, Any]] = {}
        for s in spans:
            svc = services.setdefault(
                str(s.get("service_name", "")), {"service_name": s.get("service_name", ""), "count": 0, "duration": 0}
            )
            svc["count"] += 1
            svc["duration"] += int(s.get("duration", 0))
        roots = [s for s in spans if not s.get("reference_parent_span_id")]
        first = min(roots or spans, key=lambda s: int(s.get("start_time", 0)))
        hit: dict[str, Any] = {
            "trace_id": tid,
            "start_time": st,
            "end_time": en,
            "duration": max(en - st, 0) // 1000,
            "spans": [len(spans), sum(1 for s in spans if s.get("span_status") == "ERROR")],
            "service_name": list(services.values()),
            "first_event": {"service_name": first.get("service_name"), "operation_name": first.get("operation_name")},
        }
        for f in SUM_FIELDS:
            hit[f] = sum(s[f] for s in spans if isinstance(s.get(f), int | float))
        msgs = sorted(
            (int(s.get("start_time", 0)), s["gen_ai_input_messages"]) for s in spans if s.get("gen_ai_input_messages")
        )
        hit["gen_ai_input_messages"] = msgs[0][1] if msgs else None
        models: list[str] = []
        for s in spans:
            m = s.get("gen_ai_response_model")
            if m and m not in models:
                models.append(m)
        hit["models"] = models
        hits.append(hit)
    return json_resp(
        200,
        {
            "took": int((time.time() - t0) * 1000),
            "total": len(hits),
            "from": frm,
            "size": size,
            "hits": hits,
            "trace_id": uuid.uuid4().hex,
        },
    )


def register(r: Router) -> None:
    r.add("GET", "/api/{org}/{stream}/traces/session", sessions)
    r.add("GET", "/api/{org}/{stream}/traces/session/details", session_details)
