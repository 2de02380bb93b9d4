"""Alert evaluation (§5.6): the scheduler for scheduled alerts, real-time matching at ingestion."""

from __future__ import annotations

import copy
import datetime
import random
from typing import Any

from .app import App
from .conditions import ConditionError, match_record, render_where
from .notify import send_alert

_AGG_SQL = {
    "avg": "avg({c})",
    "min": "min({c})",
    "max": "max({c})",
    "sum": "sum({c})",
    "count": "count({c})",
    "median": "median({c})",
    "p50": "approx_percentile_cont({c}, 0.5)",
    "p75": "approx_percentile_cont({c}, 0.75)",
    "p90": "approx_percentile_cont({c}, 0.9)",
    "p95": "approx_percentile_cont({c}, 0.95)",
    "p99": "approx_percentile_cont({c}, 0.99)",
}
MAX_ROWS = 100


def compare(op: str, a: float, b: float) -> bool:
    return {
        "=": a == b,
        "!=": a != b,
        ">": a > b,
        ">=": a >= b,
        "<": a < b,
        "<=": a <= b,
    }.get(op, False)


def _tz(alert: dict[str, Any]) -> datetime.tzinfo:
    name = alert["trigger_condition"].get("timezone")
    if name:
        try:
            import zoneinfo

            return zoneinfo.ZoneInfo(name)
        except Exception:
            pass
    return datetime.timezone(datetime.timedelta(minutes=int(alert.get("tz_offset") or 0)))


def align(alert: dict[str, Any], t_s: float) -> float:
    """Floor to the previous multiple of the frequency (minutes) within the hour, seconds 0."""
    freq_min = max(1, int(alert["trigger_condition"]["frequency"]))
    dt = datetime.datetime.fromtimestamp(t_s, _tz(alert))
    if freq_min < 60:
        dt = dt.replace(minute=(dt.minute // freq_min) * freq_min, second=0, microsecond=0)
    else:
        dt = dt.replace(minute=0, second=0, microsecond=0)
    return dt.timestamp()


def next_run(alert: dict[str, Any], now_s: float, step_s: float) -> int:
    tc = alert["trigger_condition"]
    jitter = random.randint(0, int(tc["tolerance_in_secs"])) if tc.get("tolerance_in_secs") else 0
    nxt = now_s + step_s + jitter
    if tc.get("align_time", True) and tc.get("frequency_type") != "cron":
        nxt = align(alert, nxt)
    return int(nxt * 1_000_000)


def build_sql(alert: dict[str, Any], schema: dict[str, Any]) -> str | None:
    qc = alert["query_condition"]
    stream = '"' + alert["stream_name"].replace('"', '""') + '"'
    if qc["type"] == "sql":
        return str(qc["sql"])
    fires, where = render_where(qc.get("conditions"), schema)
    agg = qc.get("aggregation")
    if agg is None:
        if not fires:
            return None
        return f"SELECT * FROM {stream}" + (f" WHERE {where}" if where else "")
    col = '"' + agg["having"]["column"].replace('"', '""') + '"'
    func = _AGG_SQL[agg["function"]].format(c=col)
    gb = [('"' + g.replace('"', '""') + '"') for g in (agg.get("group_by") or [])]
    hv = agg["having"]["value"]
    hop = agg["having"]["operator"]
    if hop in ("Contains", "NotContains"):
        hop = "="
    sel = ", ".join(
        [*gb, f"{func} AS alert_agg_value", "MIN(_timestamp) AS zo_sql_min_time", "MAX(_timestamp) AS zo_sql_max_time"]
    )
    sql = f"SELECT {sel} FROM {stream}"
    if where:
        sql += f" WHERE {where}"
    if gb:
        sql += " GROUP BY " + ", ".join(gb)
    sql += f" HAVING {func} {hop} {float(hv)}"
    return sql


def evaluate_one(app: App, org: str, alert: dict[str, Any], now_us: int) -> dict[str, Any]:
    from .search import SearchError, execute

    tc = alert["trigger_condition"]
    freq_us = max(1, int(tc["frequency"])) * 60_000_000
    due = int(alert.get("_next_run_at") or now_us)
    if tc.get("align_time", True) and tc.get("frequency_type") != "cron":
        slots = max(0, (now_us - due) // freq_us)
        end = due + slots * freq_us
    else:
        end = now_us
    start = end - int(tc["period"]) * 60_000_000
    outcome: dict[str, Any] = {
        "org": org,
        "alert_id": alert["id"],
        "alert_name": alert["name"],
        "start_time": start,
        "end_time": end,
        "evaluated_at": now_us,
        "matched": False,
        "row_count": 0,
        "notified": False,
        "error": None,
        "sql": None,
    }
    st = app.store.stream(org, alert["stream_type"], alert["stream_name"])
    schema = dict(st.schema) if st else {}
    try:
        sql = build_sql(alert, schema)
    except ConditionError as e:
        outcome["error"] = str(e)
        return outcome
    outcome["sql"] = sql
    if sql is None:
        return outcome
    try:
        res = execute(app, org, alert["stream_type"], sql, start, end + 1, size=MAX_ROWS)
    except SearchError as e:
        outcome["error"] = e.text
        return outcome
    rows = res.hits
    n = len(rows)
    if int(tc["threshold"]) >= MAX_ROWS:
        try:
            cnt = execute(
                app, org, alert["stream_type"], f"SELECT COUNT(*) AS zo_alert_count FROM ({sql})", start, end + 1
            )
            n = int(cnt.hits[0].get("zo_alert_count", 0)) if cnt.hits else 0
        except SearchError as e:
            outcome["error"] = e.text
            return outcome
    outcome["row_count"] = n
    qc = alert["query_condition"]
    sev = qc.get("search_event_type")
    matched = True if (sev and sev != "alerts") else compare(tc["operator"], float(n), float(tc["threshold"]))
    outcome["matched"] = matched
    if matched:
        alert["last_satisfied_at"] = now_us
    if matched and n >= 1:
        agg_value = str(n)
        if qc.get("aggregation") is not None:
            vals: list[float] = [
                float(r["alert_agg_value"]) for r in rows if isinstance(r.get("alert_agg_value"), int | float)
            ]
            if vals:
                from .render import val_str

                agg_value = val_str(max(vals))
        r = send_alert(
            app,
            org,
            copy.deepcopy(alert),
            rows=rows[:MAX_ROWS],
            window=(start, end),
            trigger_us=now_us,
            alert_count=str(n),
            agg_value=agg_value,
        )
        outcome["notified"] = r.ok_count > 0
        outcome["destinations_ok"] = r.ok_count
        outcome["destinations_failed"] = r.fail_count
        if r.ok_count:
            alert["last_triggered_at"] = now_us
    return outcome


def run_scheduler(app: App) -> list[dict[str, Any]]:
    now_us = app.clock.now_us()
    now_s = now_us / 1_000_000
    due: list[tuple[str, dict[str, Any]]] = []
    with app.store.lock:
        for org, alerts in app.store.alert_map.items():
            for a in alerts.values():
                if a["is_real_time"] or not a["enabled"]:
                    continue
                if int(a.get("_next_run_at") or 0) <= now_us:
                    due.append((org, a))
    outcomes = []
    for org, a in due:
        out = evaluate_one(app, org, a, now_us)
        tc = a["trigger_condition"]
        freq_s = max(1, int(tc["frequency"])) * 60
        step = freq_s
        if out["matched"] and int(tc.get("silence") or 0) > 0:
            step = max(freq_s, int(tc["silence"]) * 60)
        with app.store.lock:
            a["_next_run_at"] = next_run(a, now_s, step)
            a["_last_outcome"] = "error" if out["error"] else ("firing" if out["matched"] else "ok")
            a["_last_outcome_at"] = now_us
        out["next_run_at"] = a["_next_run_at"]
        outcomes.append(out)
    return outcomes


def realtime_on_ingest(app: App, org: str, stype: str, stream: str, records: list[dict[str, Any]]) -> None:
    now_us = app.clock.now_us()
    with app.store.lock:
        alerts = [
            a
            for a in app.store.alert_map.get(org, {}).values()
            if a["is_real_time"]
            and a["enabled"]
            and a["stream_type"] == stype
            and a["stream_name"] == stream
            and a["query_condition"]["type"] == "custom"
            and int(a.get("_silenced_until") or 0) <= now_us
        ]
    for a in alerts:
        conds = a["query_condition"].get("conditions")
        hit = next((r for r in records if match_record(conds, r)), None)
        if hit is None:
            continue
        res = send_alert(
            app,
            org,
            copy.deepcopy(a),
            rows=[hit],
            window=(now_us, now_us),
            trigger_us=now_us,
            alert_count="1",
            agg_value="1",
        )
        with app.store.lock:
            a["last_satisfied_at"] = now_us
            if res.ok_count:
                a["last_triggered_at"] = now_us
                silence_s = max(int(a["trigger_condition"].get("silence") or 0) * 60, 30)
                a["_silenced_until"] = now_us + silence_s * 1_000_000
