"""Sending alert notifications to destinations over real HTTP (§5.6)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from .app import App, Notification
from .ids import ksuid
from .render import Ctx, render_content, render_custom
from .ssrf import send_time_reason
from .templates import DEFAULT_CONTENT, find_template

TIMEOUT = 5.0


@dataclass
class SendResult:
    ok_count: int = 0
    fail_count: int = 0
    error: str | None = None
    template_missing: str | None = None


def _resolve_template(app: App, org: str, alert: dict[str, Any], dest: dict[str, Any]) -> dict[str, Any] | None:
    for name in (alert.get("template"), dest.get("template"), DEFAULT_CONTENT):
        if name:
            t = find_template(app, org, name)
            if t is not None:
                return t
    return None


def send_alert(
    app: App,
    org: str,
    alert: dict[str, Any],
    *,
    rows: list[dict[str, Any]],
    manual: bool = False,
    window: tuple[int, int],
    trigger_us: int,
    alert_count: str | None = None,
    agg_value: str | None = None,
    level: str = "critical",
) -> SendResult:
    res = SendResult()
    with app.store.lock:
        if alert.get("template") and find_template(app, org, alert["template"]) is None:
            res.template_missing = f"Alert template {alert['template']} not found"
            return res
        dests = [dict(app.store.destination_map.get(org, {}).get(d) or {}) for d in alert.get("destinations", [])]
        templates = [_resolve_template(app, org, alert, d) if d else None for d in dests]
    url_base = f"{app.config.web_url}/web/short/{ksuid()[:16]}?org_identifier={org}"
    for dest, tmpl in zip(dests, templates, strict=True):
        if not dest:
            res.fail_count += 1
            continue
        ctx = Ctx(
            org=org,
            alert=alert,
            rows=rows,
            manual=manual,
            window=window,
            trigger_us=trigger_us,
            alert_count=("0" if manual else str(len(rows))) if alert_count is None else alert_count,
            agg_value=("" if manual else str(len(rows))) if agg_value is None else agg_value,
            level="" if manual else level,
            alert_url=url_base,
            metadata=dict(dest.get("metadata") or {}),
        )
        if tmpl is None or (tmpl.get("kind") or "custom") == "content":
            body = render_content(tmpl["body"] if tmpl else "{}", ctx)
        else:
            body = render_custom(tmpl["body"], ctx)
        n = _send_http(app, alert["name"], dest, body)
        if n.error is None and n.status_code is not None and 200 <= n.status_code < 300:
            res.ok_count += 1
        else:
            res.fail_count += 1
            res.error = n.error or f"destination {dest['name']} returned status {n.status_code}"
    return res


def _send_http(app: App, alert_name: str, dest: dict[str, Any], body: str) -> Notification:
    headers = {k: v for k, v in (dest.get("headers") or {}).items() if k and v}
    if not any(k.lower() == "content-type" for k in headers):
        headers["Content-type"] = "application/json"
    method = (dest.get("method") or "post").upper()
    url = dest.get("url", "")
    n = Notification(alert_name, dest.get("name", ""), url, method, headers, body)
    reason = send_time_reason(url, allow_loopback=app.config.allow_loopback, skip=app.config.skip_ssrf_checks)
    if reason:
        n.error = f"Destination URL blocked by SSRF guard: {reason}"
    else:
        try:
            with httpx.Client(timeout=TIMEOUT, verify=not dest.get("skip_tls_verify", False)) as client:
                if method == "GET":
                    r = client.request(method, url, headers=headers)
                else:
                    r = client.request(method, url, headers=headers, content=body.encode())
            n.status_code = r.status_code
            if not 200 <= r.status_code < 300:
                n.error = f"http status {r.status_code}: {r.text[:200]}"
        except httpx.HTTPError as e:
            n.error = f"{type(e).__name__}: {e}"
    app.record_notification(n)
    return n
