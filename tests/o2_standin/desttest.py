"""`POST /alerts/destinations/test`, `/{name}/test_send` and `POST /alerts/templates/preview` (§6.1–§6.2)."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx

from .app import App
from .httpio import Request, Response, json_resp, msg
from .jsonbody import DeserError, as_map, as_str, parse_json_body, unprocessable
from .render import Ctx, render_content, render_custom
from .router import Router
from .ssrf import send_time_reason
from .templates import find_template

_rate_lock = threading.Lock()
_sends: dict[str, list[float]] = {}
PER_MINUTE = 6


def _sample_alert(name: str = "test_alert") -> dict[str, Any]:
    return {
        "id": "",
        "name": name,
        "stream_type": "logs",
        "stream_name": "default",
        "is_real_time": False,
        "query_condition": {"type": "custom"},
        "trigger_condition": {"period": 10, "operator": ">=", "threshold": 1, "frequency": 1},
        "description": "test notification",
        "row_template": "",
        "destinations": [],
    }


def _http(
    url: str, method: str, headers: dict[str, str], body: str, verify: bool
) -> tuple[int | None, str, str | None]:
    try:
        with httpx.Client(timeout=5.0, verify=verify) as c:
            r = c.request(
                method.upper(), url, headers=headers, content=None if method.lower() == "get" else body.encode()
            )
        return r.status_code, r.text, None if 200 <= r.status_code < 300 else f"http status {r.status_code}"
    except httpx.HTTPError as e:
        return None, "", f"{type(e).__name__}: {e}"


def test_destination(app: App, req: Request) -> Response:
    body, pos = parse_json_body(req)
    try:
        as_map(body, ())
        url = as_str(body.get("url", ""), ("url",), optional=True) or ""
        dtype = as_str(body.get("type", "http"), ("type",), optional=True) or "http"
    except DeserError as e:
        raise unprocessable(e, pos) from None
    if dtype not in ("http", "email"):
        return json_resp(
            200, {"success": False, "statusCode": None, "responseBody": None, "error": f"unsupported type {dtype}"}
        )
    if dtype == "email":
        return json_resp(
            200, {"success": False, "statusCode": None, "responseBody": None, "error": "SMTP is not configured"}
        )
    reason = send_time_reason(url, allow_loopback=app.config.allow_loopback, skip=app.config.skip_ssrf_checks)
    if reason:
        return json_resp(200, {"success": False, "statusCode": None, "responseBody": None, "error": reason})
    headers = {str(k): str(v) for k, v in (body.get("headers") or {}).items() if k and v}
    if not any(k.lower() == "content-type" for k in headers):
        headers["Content-type"] = "application/json"
    status, text, err = _http(
        url, str(body.get("method") or "post"), headers, str(body.get("body") or "{}"), not body.get("skipTlsVerify")
    )
    return json_resp(200, {"success": err is None, "statusCode": status, "responseBody": text, "error": err})


def test_send(app: App, req: Request) -> Response:
    body, pos = parse_json_body(req)
    try:
        as_map(body, ())
    except DeserError as e:
        raise unprocessable(e, pos) from None
    has_def = body.get("definition") is not None
    has_name = body.get("template_name") is not None
    if has_def == has_name:
        return msg(400, "Exactly one of definition or template_name must be provided")
    with app.store.lock:
        dest = app.store.destination_map.get(req.org, {}).get(req.params["name"])
        if dest is None:
            return msg(404, "Destination not found")
        dest = dict(dest)
        if has_name:
            t = find_template(app, req.org, str(body["template_name"]))
            if t is None:
                return msg(404, f"Template {body['template_name']} not found")
            tmpl = dict(t)
        else:
            d = body["definition"] if isinstance(body["definition"], dict) else {"body": str(body["definition"])}
            tmpl = {"body": str(d.get("body", "")), "kind": d.get("kind") or "custom", "title": str(d.get("title", ""))}
    key = f"{req.org}/{req.params['name']}"
    now = time.time()
    with _rate_lock:
        recent = [t for t in _sends.get(key, []) if now - t < 60]
        if len(recent) >= PER_MINUTE:
            return msg(429, "Too many test sends, try again later")
        recent.append(now)
        _sends[key] = recent
    us = app.clock.now_us()
    ctx = Ctx(
        org=req.org,
        alert=_sample_alert("[TEST] test_alert"),
        rows=[],
        manual=True,
        window=(us - 600_000_000, us),
        trigger_us=us,
        alert_count="0",
        agg_value="",
        level="",
        alert_url=f"{app.config.web_url}/web/alerts?org_identifier={req.org}",
        metadata=dict(dest.get("metadata") or {}),
    )
    rendered = render_content(tmpl["body"], ctx) if tmpl.get("kind") == "content" else render_custom(tmpl["body"], ctx)
    reason = send_time_reason(
        dest.get("url", ""), allow_loopback=app.config.allow_loopback, skip=app.config.skip_ssrf_checks
    )
    if reason:
        return json_resp(200, {"success": False, "message": f"Destination URL blocked by SSRF guard: {reason}"})
    headers = {k: v for k, v in (dest.get("headers") or {}).items() if k and v}
    if not any(k.lower() == "content-type" for k in headers):
        headers["Content-type"] = "application/json"
    status, _, err = _http(
        dest.get("url", ""), dest.get("method", "post"), headers, rendered, not dest.get("skip_tls_verify")
    )
    return json_resp(200, {"success": err is None, "message": err or f"Test notification sent (status {status})"})


def preview(app: App, req: Request) -> Response:
    body, pos = parse_json_body(req)
    try:
        as_map(body, ())
    except DeserError as e:
        raise unprocessable(e, pos) from None
    us = app.clock.now_us()
    ctx = Ctx(req.org, _sample_alert(), [], True, (us - 600_000_000, us), us, "0", "", "", app.config.web_url)
    text = str(body.get("body", ""))
    rendered = render_content(text, ctx) if body.get("kind") == "content" else render_custom(text, ctx)
    return json_resp(200, {"body": rendered, "title": str(body.get("title", ""))})


def register(r: Router) -> None:
    r.add("POST", "/api/{org}/alerts/destinations/test", test_destination)
    r.add("POST", "/api/{org}/alerts/destinations/{name}/test_send", test_send)
    r.add("POST", "/api/{org}/alerts/templates/preview", preview)
