"""Alert templates (§6.2) and the org-`default` system seeds (§6.3)."""

from __future__ import annotations

import copy
import json
from typing import Any

from . import bulk
from .app import App
from .httpio import Request, Response, json_resp, msg
from .ids import ksuid
from .jsonbody import DeserError, as_enum, as_map, as_str, parse_json_body, unprocessable
from .names import bad_resource_name
from .router import Router

PREBUILT = ["slack", "msteams", "pagerduty", "discord", "webhook", "opsgenie", "servicenow", "email"]
DEFAULT_CONTENT = "o2_default_content"
NAME_MSG = "Template name cannot contain ':', '#', '?', '&', '%', '/', quotes and space characters"

_SEED_BODIES: dict[str, str] = {
    "slack": '{"text": "*{alert_name}* is {alert_level}\\nStream: {stream_name}\\nCount: {alert_count}\\n{alert_url}"}',
    "msteams": (
        '{"@type": "MessageCard", "summary": "{alert_name}", "text": "{alert_name} is {alert_level}: {alert_url}"}'
    ),
    "pagerduty": (
        '{"event_action": "trigger", "payload": {"summary": "{alert_name}", "severity": "critical", '
        '"source": "{stream_name}"}}'
    ),
    "discord": '{"content": "{alert_name} is {alert_level}: {alert_url}"}',
    "webhook": (
        '{"alert_name": "{alert_name}", "stream_name": "{stream_name}", "alert_count": "{alert_count}", '
        '"alert_url": "{alert_url}"}'
    ),
    "opsgenie": '{"message": "{alert_name}", "description": "{alert_description}", "priority": "P3"}',
    "servicenow": '{"short_description": "{alert_name}", "description": "{alert_description}"}',
    "email": (
        '<h3>{alert_name}</h3><p>Stream {stream_name}: {alert_count} rows</p><p><a href="{alert_url}">Open</a></p>'
    ),
}
_DEFAULT_CONTENT_BODY = json.dumps(
    {
        "title": "[{alert_level}] {alert_name}",
        "body_markdown": "Alert **{alert_name}** on `{stream_name}` matched {alert_count} rows.",
        "fields": ["alert_name", "stream_name", "alert_count", "alert_start_time", "alert_end_time"],
    }
)


def seed_default_templates(app: App) -> None:
    tm = app.store.template_map.setdefault("default", {})
    for t in PREBUILT:
        name = f"prebuilt_{t}"
        tm[name] = {
            "name": name,
            "body": _SEED_BODIES[t],
            "type": "email" if t == "email" else "http",
            "title": "{alert_name}" if t == "email" else "",
            "isDefault": None,
            "isPrebuilt": True,
            "kind": "custom",
            "_system": True,
        }
    tm[DEFAULT_CONTENT] = {
        "name": DEFAULT_CONTENT,
        "body": _DEFAULT_CONTENT_BODY,
        "type": "http",
        "title": "",
        "isDefault": None,
        "isPrebuilt": False,
        "kind": "content",
        "_system": True,
    }


def is_reserved(name: str) -> bool:
    return name == DEFAULT_CONTENT or name in {f"prebuilt_{t}" for t in PREBUILT}


def public(t: dict[str, Any]) -> dict[str, Any]:
    return {k: copy.deepcopy(v) for k, v in t.items() if not k.startswith("_")}


def find_template(app: App, org: str, name: str) -> dict[str, Any] | None:
    tm = app.store.template_map
    return tm.get(org, {}).get(name) or tm.get("default", {}).get(name)


def parse_template(req: Request) -> dict[str, Any]:
    body, pos = parse_json_body(req)
    try:
        as_map(body, (), "struct Template")
        t: dict[str, Any] = {}
        t["name"] = (as_str(body.get("name", ""), ("name",), optional=True) or "").strip()
        t["body"] = as_str(body.get("body", ""), ("body",), optional=True) or ""
        t["type"] = as_enum(body.get("type", "http"), ("type",), ["http", "email", "sns"], optional=True) or "http"
        t["title"] = as_str(body.get("title", ""), ("title",), optional=True) or ""
        kind = body.get("kind")
        t["kind"] = None if kind is None else as_str(kind, ("kind",))
        return t
    except DeserError as e:
        raise unprocessable(e, pos) from None


def validate(t: dict[str, Any], kind: str) -> Response | None:
    if not t["body"]:
        return msg(400, "Template body cannot be empty")
    if not t["name"]:
        return msg(400, "Template name cannot be empty")
    if bad_resource_name(t["name"]):
        return msg(400, NAME_MSG)
    if kind not in ("custom", "content"):
        return msg(400, f"invalid template kind: {kind}")
    if kind == "content":
        try:
            spec = json.loads(t["body"])
            if not isinstance(spec, dict):
                raise ValueError("not an object")
        except ValueError as e:
            return msg(400, f"invalid content spec: {e}")
    if t["type"] == "email" and kind == "custom" and not t["title"].strip():
        return msg(400, "Email Template cannot have empty title")
    return None


def create(app: App, req: Request) -> Response:
    t = parse_template(req)
    kind = t["kind"] or "custom"
    err = validate(t, kind)
    if err:
        return err
    with app.store.lock:
        if is_reserved(t["name"]):
            return msg(400, f"Template name '{t['name']}' is reserved for system templates")
        if find_template(app, req.org, t["name"]) is not None:
            return msg(400, "Template with the same name already exists")
        t.update(kind=kind, isDefault=True if req.org == "default" else None, isPrebuilt=False, _id=ksuid())
        app.store.template_map.setdefault(req.org, {})[t["name"]] = t
    return msg(200, "Template saved", id=t["_id"], name=t["name"])


def update(app: App, req: Request) -> Response:
    t = parse_template(req)
    t["name"] = req.params["name"]
    with app.store.lock:
        old = app.store.template_map.get(req.org, {}).get(t["name"])
        if old is None:
            return msg(404, "Template not found")
        if old.get("_system") and req.user != app.config.root_email.lower():
            return msg(403, f"Template '{t['name']}' is a system prebuilt template and cannot be modified or deleted")
        kind = old.get("kind") or "custom"
        err = validate(t, kind)
        if err:
            return err
        t.update(kind=kind, isDefault=old.get("isDefault"), isPrebuilt=old.get("isPrebuilt", False), _id=old.get("_id"))
        if old.get("_system"):
            t["_system"] = True
        app.store.template_map[req.org][t["name"]] = t
    return msg(200, "Template updated")


def get(app: App, req: Request) -> Response:
    with app.store.lock:
        t = find_template(app, req.org, req.params["name"])
        if t is None:
            return msg(404, "Template not found")
        return json_resp(200, public(t))


def list_templates(app: App, req: Request) -> Response:
    with app.store.lock:
        merged: dict[str, dict[str, Any]] = {}
        for org in ("default", req.org):
            for name, t in app.store.template_map.get(org, {}).items():
                merged[name] = public(t)
    return json_resp(200, sorted(merged.values(), key=lambda t: t["name"]))


def _delete_one(app: App, org: str, name: str) -> Response:
    own = app.store.template_map.get(org, {})
    t = own.get(name)
    if t is None:
        return msg(404, "Template not found")
    if t.get("_system") and app.extra.get("acting_user_non_root"):
        return msg(403, f"Template '{name}' is a system prebuilt template and cannot be modified or deleted")
    for d in app.store.destination_map.get(org, {}).values():
        if d.get("template") == name:
            return msg(409, f"Template is in use for destination {d['name']}")
    for a in app.store.alert_map.get(org, {}).values():
        if a.get("template") == name:
            return msg(400, f"Template is in use for alert {a['name']}")
    del own[name]
    return msg(200, "Template deleted")


def delete(app: App, req: Request) -> Response:
    with app.store.lock:
        return _delete_one(app, req.org, req.params["name"])


def bulk_delete(app: App, req: Request) -> Response:
    return bulk.bulk_delete(app, req, _delete_one)


def system_prebuilt(app: App, req: Request) -> Response:
    with app.store.lock:
        items = [public(t) for t in app.store.template_map.get("default", {}).values() if t.get("isPrebuilt")]
    return json_resp(200, items)


def register(r: Router) -> None:
    base = "/api/{org}/alerts/templates"
    r.add("POST", base, create)
    r.add("GET", base, list_templates)
    r.add("DELETE", base + "/bulk", bulk_delete)
    r.add("GET", base + "/system/prebuilt", system_prebuilt)
    r.add("GET", base + "/{name}", get)
    r.add("PUT", base + "/{name}", update)
    r.add("DELETE", base + "/{name}", delete)
