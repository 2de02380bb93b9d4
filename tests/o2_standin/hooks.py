"""Test-only HTTP hooks under /_standin (no auth, not logged)."""

from __future__ import annotations

import dataclasses
import json

from .app import App
from .httpio import Request, Response, json_resp
from .router import Router


def scheduler_run(app: App, req: Request) -> Response:
    from .evaluate import run_scheduler

    adv = req.q("advance_seconds")
    if adv:
        app.clock.advance(float(adv))
    return json_resp(200, {"outcomes": run_scheduler(app), "now_us": app.clock.now_us()})


def get_requests(app: App, req: Request) -> Response:
    with app.log_lock:
        return json_resp(200, [dataclasses.asdict(r) for r in app.requests])


def get_notifications(app: App, req: Request) -> Response:
    with app.log_lock:
        return json_resp(200, [dataclasses.asdict(n) for n in app.notifications])


def add_fault(app: App, req: Request) -> Response:
    try:
        spec = json.loads(req.body or b"{}")
        path_regex = spec.pop("path_regex")
        app.faults.add(path_regex, **spec)
    except (ValueError, KeyError, TypeError) as e:
        return json_resp(400, {"error": str(e)})
    return json_resp(200, {"ok": True})


def clear_faults(app: App, req: Request) -> Response:
    app.faults.clear()
    return json_resp(200, {"ok": True})


def clear_requests(app: App, req: Request) -> Response:
    with app.log_lock:
        app.requests.clear()
    return json_resp(200, {"ok": True})


def set_clock(app: App, req: Request) -> Response:
    spec = json.loads(req.body or b"{}")
    if "epoch_seconds" in spec:
        app.clock.set(float(spec["epoch_seconds"]))
    if "advance_seconds" in spec:
        app.clock.advance(float(spec["advance_seconds"]))
    return json_resp(200, {"now_us": app.clock.now_us()})


def register(r: Router) -> None:
    r.add("POST", "/_standin/scheduler/run", scheduler_run, auth=False)
    r.add("GET", "/_standin/requests", get_requests, auth=False)
    r.add("DELETE", "/_standin/requests", clear_requests, auth=False)
    r.add("GET", "/_standin/notifications", get_notifications, auth=False)
    r.add("POST", "/_standin/faults", add_fault, auth=False)
    r.add("DELETE", "/_standin/faults", clear_faults, auth=False)
    r.add("POST", "/_standin/clock", set_clock, auth=False)
