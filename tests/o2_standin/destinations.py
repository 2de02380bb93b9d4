"""Alert destinations (§6.1)."""

from __future__ import annotations

import copy
from typing import Any

from . import bulk
from .app import App
from .httpio import Request, Response, json_resp, msg
from .jsonbody import DeserError, as_bool, as_enum, as_list, as_map, as_str, parse_json_body, unprocessable
from .names import bad_resource_name
from .router import Router
from .ssrf import save_time_reason

PREBUILT_TYPES = [
    "slack",
    "msteams",
    "teams",
    "pagerduty",
    "discord",
    "webhook",
    "opsgenie",
    "servicenow",
    "email",
    "custom",
]
NAME_MSG = "Destination name cannot contain ':', '#', '?', '&', '%', '/', quotes and space characters"


def _str_map(v: Any, path: tuple[str | int, ...]) -> dict[str, str]:
    m = as_map(v, path) or {}
    return {k: as_str(x, (*path, k)) or "" for k, x in m.items()}


def parse_destination(req: Request) -> dict[str, Any]:
    body, pos = parse_json_body(req)
    try:
        as_map(body, (), "struct Destination")
        d: dict[str, Any] = {}
        d["name"] = (as_str(body.get("name", ""), ("name",), optional=True) or "").strip()
        d["type"] = as_enum(body.get("type", "http"), ("type",), ["http", "email", "sns"], optional=True) or "http"
        d["url"] = as_str(body.get("url", ""), ("url",), optional=True) or ""
        d["method"] = as_enum(body.get("method", "post"), ("method",), ["post", "put", "get"], optional=True) or "post"
        d["skip_tls_verify"] = bool(as_bool(body.get("skip_tls_verify", False), ("skip_tls_verify",), optional=True))
        if body.get("headers") is not None:
            d["headers"] = _str_map(body["headers"], ("headers",))
        if body.get("template") is not None:
            d["template"] = as_str(body["template"], ("template",))
        d["emails"] = [
            as_str(e, ("emails", i))
            for i, e in enumerate(as_list(body.get("emails", []), ("emails",), optional=True) or [])
        ]
        for k in ("sns_topic_arn", "aws_region", "destination_type_name"):
            if body.get(k) is not None:
                d[k] = as_str(body[k], (k,))
        if body.get("output_format") is not None:
            of = body["output_format"]
            if isinstance(of, str):
                as_enum(of, ("output_format",), ["json", "ndjson", "nestedevent"])
            d["output_format"] = of
        d["metadata"] = _str_map(body.get("metadata") or {}, ("metadata",))
        return d
    except DeserError as e:
        raise unprocessable(e, pos) from None


def public(d: dict[str, Any]) -> dict[str, Any]:
    out = {k: copy.deepcopy(v) for k, v in d.items() if not k.startswith("_")}
    if out.get("type") == "email":
        out["url"] = ""
        out["method"] = "post"
        out["skip_tls_verify"] = False
    out.setdefault("emails", [])
    out.setdefault("metadata", {})
    return out


def _dests(app: App, org: str) -> dict[str, dict[str, Any]]:
    return app.store.destination_map.setdefault(org, {})


def template_exists(app: App, org: str, name: str) -> bool:
    tm = app.store.template_map
    return name in tm.get(org, {}) or name in tm.get("default", {})


def validate(app: App, org: str, d: dict[str, Any], module: str) -> Response | None:
    t = d["type"]
    if t == "email":
        if not d["emails"]:
            return msg(400, "Email destination must have at least one email recipient")
        return msg(400, "Email destination must have SMTP configured")
    if t == "http" or module == "pipeline":
        if not d["url"]:
            return msg(400, "HTTP destination must have a url")
        reason = save_time_reason(d["url"], allow_loopback=app.config.allow_loopback, skip=app.config.skip_ssrf_checks)
        if reason:
            return msg(400, f"Destination URL blocked by SSRF guard: {reason}")
    if t == "sns" and (not d.get("sns_topic_arn") or not d.get("aws_region")):
        return msg(400, "SNS destination must have Topic ARN and Region")
    if not d["name"]:
        return msg(400, "Destination name cannot be empty")
    if bad_resource_name(d["name"]):
        return msg(400, NAME_MSG)
    dtn = d.get("destination_type_name")
    if dtn is not None and t != "email" and dtn not in PREBUILT_TYPES:
        return msg(400, f"Prebuilt template not found for type: {dtn}")
    return None


def _link_template(app: App, org: str, d: dict[str, Any]) -> None:
    tmpl = d.get("template")
    if tmpl is not None and (tmpl == "" or not template_exists(app, org, tmpl)):
        d.pop("template", None)
    dtn = d.get("destination_type_name")
    if dtn and dtn != "custom" and d["type"] != "email" and "template" not in d:
        key = "msteams" if dtn == "teams" else dtn
        if template_exists(app, org, f"prebuilt_{key}"):
            d["template"] = f"prebuilt_{key}"


def create(app: App, req: Request) -> Response:
    module = req.q("module", "alert") or "alert"
    d = parse_destination(req)
    err = validate(app, req.org, d, module)
    if err:
        return err
    with app.store.lock:
        dests = _dests(app, req.org)
        if d["name"] in dests:
            return msg(400, "Destination with the same name already exists")
        _link_template(app, req.org, d)
        d["_module"] = module
        from .ids import ksuid

        d["_id"] = ksuid()
        dests[d["name"]] = d
    return msg(200, "Destination saved", id=d["_id"], name=d["name"])


def update(app: App, req: Request) -> Response:
    module = req.q("module", "alert") or "alert"
    d = parse_destination(req)
    d["name"] = req.params["name"]
    err = validate(app, req.org, d, module)
    if err:
        return err
    with app.store.lock:
        dests = _dests(app, req.org)
        old = dests.get(d["name"])
        if old is None:
            return msg(404, "Destination not found")
        _link_template(app, req.org, d)
        d["_module"] = module
        d["_id"] = old.get("_id")
        dests[d["name"]] = d
    return msg(200, "Destination updated")


def get(app: App, req: Request) -> Response:
    with app.store.lock:
        d = _dests(app, req.org).get(req.params["name"])
        if d is None:
            return msg(404, "Destination not found")
        return json_resp(200, public(d))


def list_destinations(app: App, req: Request) -> Response:
    module = req.q("module")
    if module is not None and module not in ("alert", "pipeline"):
        return json_resp(200, [])
    with app.store.lock:
        items = [public(d) for d in _dests(app, req.org).values() if module is None or d.get("_module") == module]
    items.sort(key=lambda d: d["name"])
    return json_resp(200, items)


def _delete_one(app: App, org: str, name: str) -> Response:
    dests = _dests(app, org)
    if name not in dests:
        return msg(404, "Destination not found")
    for a in app.store.alert_map.get(org, {}).values():
        if name in a.get("destinations", []):
            return msg(409, f"Destination is currently used by alert: {a['name']}")
    del dests[name]
    return msg(200, "Alert destination deleted")


def delete(app: App, req: Request) -> Response:
    with app.store.lock:
        return _delete_one(app, req.org, req.params["name"])


def bulk_delete(app: App, req: Request) -> Response:
    return bulk.bulk_delete(app, req, _delete_one)


def prebuilt(app: App, req: Request) -> Response:
    items = [
        {"type": t, "name": t, "template": f"prebuilt_{t}"} for t in PREBUILT_TYPES if t not in ("teams", "custom")
    ]
    return json_resp(200, items)


def register(r: Router) -> None:
    base = "/api/{org}/alerts/destinations"
    r.add("POST", base, create)
    r.add("GET", base, list_destinations)
    r.add("GET", base + "/prebuilt", prebuilt)
    r.add("DELETE", base + "/bulk", bulk_delete)
    r.add("GET", base + "/{name}", get)
    r.add("PUT", base + "/{name}", update)
    r.add("DELETE", base + "/{name}", delete)
