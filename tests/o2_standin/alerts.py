"""Alerts v2 (§5.1–§5.4): routes, validation order, storage."""

from __future__ import annotations

import base64
import binascii
import copy
import re
from typing import Any

from .alertmodel import parse_alert_body
from .app import App
from .httpio import HttpError, Request, Response, fail, json_resp, msg, text_resp
from .ids import is_ksuid, ksuid
from .jsonbody import DeserError, as_list, as_map, as_str, parse_json_body, unprocessable
from .names import FORBIDDEN
from .router import Router

_TAG_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_\-./:]*$")
_SELECT_STAR = re.compile(r"(?i)select[ ]+\*")


def _alerts(app: App, org: str) -> dict[str, dict[str, Any]]:
    return app.store.alert_map.setdefault(org, {})


def _cron_error(expr: str) -> str | None:
    fields = expr.split()
    if len(fields) not in (6, 7):
        return f"Invalid cron expression: {expr}"
    if not all(re.fullmatch(r"[0-9A-Za-z*/,\-?LW#]+", f) for f in fields):
        return f"Invalid cron expression: {expr}"
    return None


def _vrl(v: str | None) -> str | None:
    if v is None:
        return None
    try:
        text = base64.urlsafe_b64decode(v + "=" * (-len(v) % 4)).decode("utf-8")
    except (binascii.Error, ValueError, UnicodeDecodeError) as e:
        raise fail(400, f"Invalid symbol in base64 vrl_function: {e}") from None
    if not text.strip() or text.strip() == ".":
        return None
    if not text.rstrip().endswith("."):
        text = text + "\n."
    return base64.urlsafe_b64encode(text.encode()).decode()


def _norm_tags(tags: list[str]) -> list[str]:
    out: list[str] = []
    if len(tags) > 64:
        raise fail(400, "Invalid tag: too many tags (max 64)")
    for t in tags:
        n = t.strip().lower()
        if not n or len(n) > 200 or not _TAG_RE.match(n):
            raise fail(400, f"Invalid tag: {t}")
        if n not in out:
            out.append(n)
    return out


def _is_numeric(v: Any) -> bool:
    if isinstance(v, bool):
        return False
    if isinstance(v, int | float):
        return True
    if isinstance(v, str):
        try:
            float(v)
            return True
        except ValueError:
            return False
    return False


def prepare(app: App, org: str, a: dict[str, Any], *, creating: bool, overwrite: bool) -> None:
    """Validation of §5.3, in order; raises HttpError. Mutates `a` into its stored form."""
    a["name"] = a["name"].strip()
    name = a["name"]
    if FORBIDDEN.search(name):
        raise fail(400, "Alert name cannot contain ':', '#', '?', '&', '%', quotes and space characters")
    if creating and a.get("id") and not overwrite and a["id"] in _alerts(app, org):
        raise fail(409, "Alert already exists")
    tc = a["trigger_condition"]
    qc = a["query_condition"]
    if tc["frequency_type"] == "cron":
        err = _cron_error(tc["cron"])
        if err:
            raise fail(400, err)
    else:
        tc["cron"] = ""
    is_slo = qc["type"] == "slo"
    if not name or (not a["stream_name"] and not is_slo):
        raise fail(400, "Alert name is required")
    if "/" in name:
        raise fail(400, "Alert name cannot contain '/'")
    qc["vrl_function"] = _vrl(qc.get("vrl_function"))
    if a.get("template"):
        from .templates import find_template

        if find_template(app, org, a["template"]) is None:
            raise fail(404, f"Alert template {a['template']} not found")
    if not a["destinations"] and not a["workflows"]:
        raise fail(400, "Alert destination or workflows is required")
    dests = app.store.destination_map.get(org, {})
    for d in a["destinations"]:
        if d not in dests:
            raise fail(404, f"Alert destination {d} not found")
        if dests[d].get("_module") == "pipeline":
            raise fail(403, "Not support save destination pipeline type for alert so far")
    a["tags"] = _norm_tags(a["tags"])
    if not is_slo:
        st = app.store.stream(org, a["stream_type"], a["stream_name"])
        if st is None or not st.schema:
            raise fail(404, f"Stream {a['stream_name']} not found")
        mqr = int(st.settings.get("max_query_range", 0) or 0)
        if mqr > 0 and not a["is_real_time"] and tc["period"] > mqr * 60:
            raise fail(
                400, f'Alert period is greater than max query range of {mqr} hours for stream "{a["stream_name"]}"'
            )
    if a["is_real_time"] and qc["type"] != "custom":
        raise fail(400, "Realtime alert should use Custom query type")
    if a["is_real_time"] and (
        "warning_threshold" in tc or (qc.get("aggregation") or {}).get("warning_value") is not None
    ):
        raise fail(400, "Warning thresholds are not supported on real-time alerts")
    if "warning_threshold" in tc and (qc.get("aggregation") is not None or qc["type"] == "promql"):
        raise fail(
            400, "warning_threshold is not supported on aggregation alerts: use aggregation.warning_value instead"
        )
    agg = qc.get("aggregation")
    if agg is not None and not _is_numeric(agg["having"]["value"]):
        raise fail(400, "Invalid aggregation warning value: aggregation threshold (having.value) is not numeric")
    if qc["type"] == "sql":
        sql = qc.get("sql")
        if not sql or not sql.strip():
            raise fail(400, "Alert with SQL mode should have a query")
        if _SELECT_STAR.search(sql):
            raise fail(400, "Alert with SQL can not contain SELECT * in the SQL query")
        err = _sql_parse_error(sql)
        if err:
            raise fail(500, f"Error resolving stream names in SQL query: {err}")
    if qc["type"] == "promql" and (not qc.get("promql") or qc.get("promql_condition") is None):
        raise fail(400, "Alert with PromQL mode should have a query")
    if tc["frequency"] <= 0:
        tc["frequency"] = 1
    if a.get("context_attributes") is not None:
        a["context_attributes"] = {k.strip(): v for k, v in a["context_attributes"].items() if k.strip()}
    a["row_template"] = a["row_template"].strip()


def _sql_parse_error(sql: str) -> str | None:
    from datafusion import SessionConfig, SessionContext

    try:
        SessionContext(SessionConfig().set("datafusion.sql_parser.dialect", "PostgreSQL")).sql(sql)
    except Exception as e:
        text = str(e)
        if "ParserError" in text:
            return text
    return None


_STORED_KEYS = [
    "id",
    "name",
    "org_id",
    "stream_type",
    "stream_name",
    "is_real_time",
    "query_condition",
    "trigger_condition",
    "destinations",
    "template",
    "context_attributes",
    "row_template",
    "row_template_type",
    "description",
    "enabled",
    "tz_offset",
    "last_triggered_at",
    "last_satisfied_at",
    "owner",
    "updated_at",
    "last_edited_by",
    "deduplication",
    "creates_incident",
    "workflows",
    "priority",
    "tags",
]


def public(a: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k in _STORED_KEYS:
        v = a.get(k)
        if k in ("template", "context_attributes", "deduplication", "priority") and v is None:
            continue
        if k == "tags" and not v:
            continue
        out[k] = copy.deepcopy(v)
    return out


def _parse(req: Request) -> dict[str, Any]:
    body, pos = parse_json_body(req)
    try:
        return parse_alert_body(body)
    except DeserError as e:
        raise unprocessable(e, pos) from None


def _schedule_now(app: App, a: dict[str, Any]) -> None:
    a["_next_run_at"] = app.clock.now_us()
    a["_silenced_until"] = 0


def create(app: App, req: Request) -> Response:
    a = _parse(req)
    folder = req.q("folder") or "default"
    overwrite = (req.q("overwrite") or "").lower() == "true"
    with app.store.lock:
        if folder == "default":
            app.store.ensure_default_folder(req.org, "alerts")
        elif folder not in app.store.folders_of(req.org, "alerts"):
            return msg(404, "Error creating alert in folder that cannot be found")
        prepare(app, req.org, a, creating=True, overwrite=overwrite)
        aid = a["id"] if (overwrite and a.get("id") and is_ksuid(a["id"])) else ksuid()
        a["id"] = aid
        a["org_id"] = req.org
        a["owner"] = a.get("owner") or req.user
        a["last_edited_by"] = req.user
        a["updated_at"] = int(app.clock.now())
        a["last_triggered_at"] = None
        a["last_satisfied_at"] = None
        a["_folder_id"] = folder
        _schedule_now(app, a)
        _alerts(app, req.org)[aid] = a
    return msg(200, "Alert saved", id=aid, name=a["name"])


def _get(app: App, org: str, aid: str) -> dict[str, Any]:
    if not is_ksuid(aid):
        raise fail(404, f"invalid alert id {aid}")
    a = _alerts(app, org).get(aid)
    if a is None:
        raise fail(404, f"alert {aid} not found")
    return a


def get(app: App, req: Request) -> Response:
    with app.store.lock:
        return json_resp(200, public(_get(app, req.org, req.params["alert_id"])))


def update(app: App, req: Request) -> Response:
    aid = req.params["alert_id"]
    a = _parse(req)
    with app.store.lock:
        old = _get(app, req.org, aid)
        prepare(app, req.org, a, creating=False, overwrite=False)
        a["id"] = aid
        a["org_id"] = req.org
        a["owner"] = old.get("owner")
        a["last_edited_by"] = req.user
        a["updated_at"] = int(app.clock.now())
        a["last_triggered_at"] = old.get("last_triggered_at")
        a["last_satisfied_at"] = old.get("last_satisfied_at")
        a["_folder_id"] = old["_folder_id"]
        _schedule_now(app, a)
        _alerts(app, req.org)[aid] = a
    return msg(200, "Alert Updated")


def delete(app: App, req: Request) -> Response:
    with app.store.lock:
        _get(app, req.org, req.params["alert_id"])
        del _alerts(app, req.org)[req.params["alert_id"]]
    return msg(200, "Alert deleted")


def _ids_body(req: Request, key: str = "ids") -> list[str]:
    body, pos = parse_json_body(req)
    try:
        as_map(body, ())
        if key not in body:
            raise DeserError((), f"missing field `{key}`")
        return [as_str(x, (key, i)) or "" for i, x in enumerate(as_list(body[key], (key,)) or [])]
    except DeserError as e:
        raise unprocessable(e, pos) from None


def bulk_delete(app: App, req: Request) -> Response:
    ids = _ids_body(req)
    ok: list[str] = []
    bad: list[str] = []
    with app.store.lock:
        for i in ids:
            if _alerts(app, req.org).pop(i, None) is not None:
                ok.append(i)
            else:
                bad.append(i)
    return json_resp(200, {"successful": ok, "unsuccessful": bad, "err": None, "conflicts": []})


def _value_param(req: Request) -> bool:
    v = req.q("value")
    if v is None:
        raise HttpError(text_resp(400, "Failed to deserialize query string: missing field `value`"))
    if v not in ("true", "false"):
        raise HttpError(
            text_resp(400, "Failed to deserialize query string: value: provided string was not `true` or `false`")
        )
    return v == "true"


def enable(app: App, req: Request) -> Response:
    value = _value_param(req)
    with app.store.lock:
        a = _get(app, req.org, req.params["alert_id"])
        a["enabled"] = value
        _schedule_now(app, a)
    return json_resp(200, {"enabled": value})


def bulk_enable(app: App, req: Request) -> Response:
    value = _value_param(req)
    ids = _ids_body(req)
    ok: list[str] = []
    bad: list[str] = []
    with app.store.lock:
        for i in ids:
            a = _alerts(app, req.org).get(i)
            if a is None:
                bad.append(i)
                continue
            a["enabled"] = value
            _schedule_now(app, a)
            ok.append(i)
    return json_resp(200, {"successful": ok, "unsuccessful": bad, "err": None})


def trigger(app: App, req: Request) -> Response:
    from .notify import send_alert

    with app.store.lock:
        a = copy.deepcopy(_get(app, req.org, req.params["alert_id"]))
    now = app.clock.now_us()
    period_us = int(a["trigger_condition"]["period"]) * 60_000_000
    res = send_alert(app, req.org, a, rows=[], manual=True, window=(now - period_us, now), trigger_us=now)
    if res.template_missing:
        return msg(404, res.template_missing)
    if res.ok_count > 0:
        return msg(200, "Alert triggered")
    return msg(500, res.error or "all destinations failed")


def move(app: App, req: Request) -> Response:
    body, pos = parse_json_body(req)
    try:
        as_map(body, ())
        for k in ("alert_ids", "dst_folder_id"):
            if k not in body:
                raise DeserError((), f"missing field `{k}`")
        ids = [
            as_str(x, ("alert_ids", i)) or "" for i, x in enumerate(as_list(body["alert_ids"], ("alert_ids",)) or [])
        ]
        dst = as_str(body["dst_folder_id"], ("dst_folder_id",)) or ""
    except DeserError as e:
        raise unprocessable(e, pos) from None
    with app.store.lock:
        if dst == "default":
            app.store.ensure_default_folder(req.org, "alerts")
        elif dst not in app.store.folders_of(req.org, "alerts"):
            return msg(404, "Folder not found")
        for i in ids:
            _get(app, req.org, i)["_folder_id"] = dst
    return msg(200, "Alerts moved")


def clone(app: App, req: Request) -> Response:
    body: dict[str, Any] = {}
    if req.body:
        b, _ = parse_json_body(req)
        body = b if isinstance(b, dict) else {}
    with app.store.lock:
        src = _get(app, req.org, req.params["alert_id"])
        a = copy.deepcopy(src)
        a["id"] = ksuid()
        a["name"] = body.get("name") or f"{src['name']}_copy"
        a["_folder_id"] = body.get("folder_id") or src["_folder_id"]
        a["owner"] = req.user
        _schedule_now(app, a)
        _alerts(app, req.org)[a["id"]] = a
    return msg(200, "Alert saved", id=a["id"], name=a["name"])


def export(app: App, req: Request) -> Response:
    with app.store.lock:
        return json_resp(200, public(_get(app, req.org, req.params["alert_id"])))


def list_item(app: App, org: str, a: dict[str, Any]) -> dict[str, Any]:
    from .folders import folder_name

    item: dict[str, Any] = {
        "alert_id": a["id"],
        "folder_id": a["_folder_id"],
        "folder_name": folder_name(app, org, "alerts", a["_folder_id"]),
        "name": a["name"],
        "owner": a.get("owner"),
        "description": a.get("description") or None,
        "alert_type": "realtime" if a["is_real_time"] else "scheduled",
        "condition": copy.deepcopy(a["query_condition"]),
        "trigger_condition": copy.deepcopy(a["trigger_condition"]),
        "enabled": a["enabled"],
        "last_triggered_at": a.get("last_triggered_at"),
        "last_satisfied_at": a.get("last_satisfied_at"),
        "is_real_time": a["is_real_time"],
        "destinations": list(a.get("destinations") or []),
    }
    if a.get("_last_outcome"):
        item["last_outcome"] = a["_last_outcome"]
        item["last_outcome_at"] = a.get("_last_outcome_at")
    if a.get("priority") is not None:
        item["priority"] = a["priority"]
    if a.get("tags"):
        item["tags"] = list(a["tags"])
    if a.get("template"):
        item["template"] = a["template"]
    return item


def _priorities(req: Request) -> set[int]:
    out: set[int] = set()
    for raw in req.qs("priority"):
        for p in raw.split(","):
            p = p.strip().upper().lstrip("P")
            if p.isdigit():
                out.add(int(p))
    return out


def list_alerts(app: App, req: Request) -> Response:
    folder = req.q("folder")
    stype = req.q("stream_type")
    sname = req.q("stream_name")
    sub = (req.q("alert_name_substring") or "").lower()
    owner = req.q("owner")
    enabled = req.q("enabled")
    atype = req.q("alert_type") or "all"
    prios = _priorities(req)
    tags = [t.strip().lower() for t in (req.q("tags") or "").split(",") if t.strip()]
    with app.store.lock:
        items = []
        for a in _alerts(app, req.org).values():
            if folder is not None and a["_folder_id"] != folder:
                continue
            if stype is not None and a["stream_type"] != stype:
                continue
            if stype is not None and sname is not None and a["stream_name"] != sname:
                continue
            if sub and sub not in a["name"].lower():
                continue
            if owner is not None and a.get("owner") != owner:
                continue
            if enabled is not None and a["enabled"] != (enabled.lower() == "true"):
                continue
            if atype == "scheduled" and a["is_real_time"]:
                continue
            if atype == "realtime" and not a["is_real_time"]:
                continue
            if atype in ("anomaly_detection", "slo", "composite"):
                continue
            if prios and a.get("priority") not in prios:
                continue
            if tags and not all(t in (a.get("tags") or []) for t in tags):
                continue
            items.append(list_item(app, req.org, a))
    sort_by = req.q("sort_by")
    desc = (req.q("sort_order") or "") == "desc"
    if sort_by == "priority":
        items.sort(key=lambda i: (i.get("priority") or 99, i["name"]), reverse=desc)
    else:
        items.sort(key=lambda i: i["name"], reverse=desc and sort_by == "name")
    ps, pi = req.q("page_size"), req.q("page_idx")
    if ps and ps.isdigit() and int(ps) > 0:
        start = int(pi or 0) * int(ps) if (pi or "0").isdigit() else 0
        items = items[start : start + int(ps)]
    return json_resp(200, {"list": items})


def register(r: Router) -> None:
    base = "/api/v2/{org}/alerts"
    r.add("POST", base, create)
    r.add("GET", base, list_alerts)
    r.add("DELETE", base + "/bulk", bulk_delete)
    r.add("POST", base + "/bulk/enable", bulk_enable)
    r.add("PATCH", base + "/move", move)
    r.add("GET", base + "/{alert_id}", get)
    r.add("PUT", base + "/{alert_id}", update)
    r.add("DELETE", base + "/{alert_id}", delete)
    r.add("PATCH", base + "/{alert_id}/enable", enable)
    r.add("PATCH", base + "/{alert_id}/trigger", trigger)
    r.add("POST", base + "/{alert_id}/clone", clone)
    r.add("POST", base + "/{alert_id}/export", export)
