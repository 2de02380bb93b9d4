"""Helpers shared by the stand-in tests: OTLP/JSON builders, a webhook receiver, request bodies."""

from __future__ import annotations

import base64
import copy
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

ROOT_EMAIL = "root@example.com"
ROOT_PASSWORD = "Complexpass#123"
ORG = "default"

TEXT_415 = "Expected request with `Content-Type: application/json`"
PREFIX_400_JSON = "Failed to parse the request body as JSON: "
PREFIX_422 = "Failed to deserialize the JSON body into the target type: "


def basic_header(email: str = ROOT_EMAIL, password: str = ROOT_PASSWORD) -> str:
    return "Basic " + base64.b64encode(f"{email}:{password}".encode()).decode()


def now_ns() -> int:
    return time.time_ns()


def trace_id() -> str:
    return secrets.token_hex(16)


def span_id() -> str:
    return secrets.token_hex(8)


# ---------------------------------------------------------------- OTLP/JSON


def any_value(v: Any) -> dict[str, Any]:
    """Python value -> OTLP/JSON AnyValue (ints as JSON numbers, like the upstream repo test)."""
    if isinstance(v, bool):
        return {"boolValue": v}
    if isinstance(v, int):
        return {"intValue": v}
    if isinstance(v, float):
        return {"doubleValue": v}
    if isinstance(v, str):
        return {"stringValue": v}
    if isinstance(v, list):
        return {"arrayValue": {"values": [any_value(x) for x in v]}}
    if isinstance(v, dict):
        return {"kvlistValue": {"values": kv(v)}}
    raise TypeError(v)


def kv(attrs: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"key": k, "value": any_value(v)} for k, v in attrs.items()]


def otlp_span(
    name: str = "span",
    *,
    start_ns: int | None = None,
    duration_us: int = 1000,
    end_ns: int | None = None,
    kind: int = 2,
    attrs: dict[str, Any] | None = None,
    raw_attrs: list[dict[str, Any]] | None = None,
    tid: str | None = None,
    sid: str | None = None,
    parent: str | None = None,
    status: dict[str, Any] | None = None,
    events: list[dict[str, Any]] | None = None,
    links: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    start = start_ns if start_ns is not None else now_ns() - 60_000_000_000
    end = end_ns if end_ns is not None else start + duration_us * 1000
    s: dict[str, Any] = {
        "traceId": tid or trace_id(),
        "spanId": sid or span_id(),
        "parentSpanId": parent or "",
        "name": name,
        "kind": kind,
        "startTimeUnixNano": str(start),
        "endTimeUnixNano": str(end),
        "attributes": (kv(attrs or {}) + (raw_attrs or [])),
        "events": events or [],
        "links": links or [],
    }
    if status is not None:
        s["status"] = status
    return s


def otlp_request(
    spans: list[dict[str, Any]], resource: dict[str, Any] | None = None, *, service: str | None = "bot"
) -> dict[str, Any]:
    res = dict(resource or {})
    if service is not None:
        res.setdefault("service.name", service)
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": kv(res)},
                "scopeSpans": [{"scope": {"name": "test", "version": "1"}, "spans": spans}],
            }
        ]
    }


def ingest(
    client: httpx.Client,
    payload: dict[str, Any] | list[dict[str, Any]],
    *,
    org: str = ORG,
    stream: str | None = None,
    path: str = "v1/traces",
) -> httpx.Response:
    if isinstance(payload, list):
        payload = otlp_request(payload)
    headers = {"Content-Type": "application/json"}
    if stream is not None:
        headers["stream-name"] = stream
    return client.post(f"/api/{org}/{path}", content=json.dumps(payload), headers=headers)


def ingest_ok(client: httpx.Client, spans: list[dict[str, Any]], **kw: Any) -> None:
    r = ingest(client, spans, **kw)
    assert r.status_code == 200, r.text


def search(
    client: httpx.Client,
    sql: str,
    start_us: int,
    end_us: int,
    *,
    org: str = ORG,
    type_: str | None = "traces",
    **query: Any,
) -> httpx.Response:
    params = {"type": type_} if type_ else {}
    body = {"query": {"sql": sql, "start_time": start_us, "end_time": end_us, **query}}
    return client.post(f"/api/{org}/_search", params=params, json=body)


def wide_window() -> tuple[int, int]:
    now_us = time.time_ns() // 1000
    return now_us - 4 * 3600 * 1_000_000, now_us + 3600 * 1_000_000


# ---------------------------------------------------------------- dashboards

_DASHBOARD: dict[str, Any] = {
    "version": 8,
    "title": "Pipecat",
    "description": "",
    "tabs": [
        {
            "tabId": "default",
            "name": "Default",
            "panels": [
                {
                    "id": "panel_1",
                    "type": "line",
                    "title": "p95 latency",
                    "description": "",
                    "config": {"show_legends": True, "legends_position": None},
                    "queryType": "sql",
                    "queries": [
                        {
                            "query": "SELECT histogram(_timestamp,'1 minute') AS ts, "
                            'approx_percentile_cont(duration,0.95) AS p95 FROM "default" '
                            "GROUP BY ts ORDER BY ts",
                            "vrlFunctionQuery": None,
                            "customQuery": True,
                            "fields": {
                                "stream": "default",
                                "stream_type": "traces",
                                "x": [{"label": "ts", "alias": "ts", "column": "ts", "color": None}],
                                "y": [{"label": "p95", "alias": "p95", "column": "p95", "color": None}],
                                "z": [],
                                "filter": {"filterType": "group", "logicalOperator": "AND", "conditions": []},
                            },
                            "config": {"promql_legend": ""},
                        }
                    ],
                    "layout": {"x": 0, "y": 0, "w": 96, "h": 18, "i": 1},
                }
            ],
        }
    ],
    "variables": {"list": [], "showDynamicFilters": True},
    "defaultDatetimeDuration": {"type": "relative", "relativeTimePeriod": "15m"},
}


def dashboard_body(title: str = "Pipecat", **extra: Any) -> dict[str, Any]:
    body = copy.deepcopy(_DASHBOARD)
    body["title"] = title
    body.update(extra)
    return body


def panel_body(panel_id: str = "panel_2", **extra: Any) -> dict[str, Any]:
    p = copy.deepcopy(_DASHBOARD["tabs"][0]["panels"][0])
    p["id"] = panel_id
    p.pop("layout")
    p.update(extra)
    return p


def create_dashboard(client: httpx.Client, title: str = "Pipecat", folder: str | None = None) -> dict[str, Any]:
    params = {"folder": folder} if folder else {}
    r = client.post(f"/api/{ORG}/dashboards", params=params, json=dashboard_body(title))
    assert r.status_code == 200, r.text
    return r.json()


def dash_id(wrapper: dict[str, Any]) -> str:
    return wrapper["v" + str(wrapper["version"])]["dashboardId"]


def create_folder(client: httpx.Client, name: str, folder_type: str = "dashboards", org: str = ORG) -> str:
    r = client.post(f"/api/v2/{org}/folders/{folder_type}", json={"name": name, "description": "d"})
    assert r.status_code == 200, r.text
    return r.json()["folderId"]


# ---------------------------------------------------------------- alerts, destinations, templates


def create_template(client: httpx.Client, name: str, body: str, org: str = ORG, **extra: Any) -> None:
    r = client.post(f"/api/{org}/alerts/templates", json={"name": name, "body": body, **extra})
    assert r.status_code == 200, r.text


def create_destination(client: httpx.Client, name: str, url: str, *, org: str = ORG, **extra: Any) -> httpx.Response:
    r = client.post(f"/api/{org}/alerts/destinations", json={"name": name, "url": url, **extra})
    assert r.status_code == 200, r.text
    return r


def alert_body(name: str = "slow_spans", **over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": name,
        "stream_type": "traces",
        "stream_name": "default",
        "is_real_time": False,
        "query_condition": {
            "type": "custom",
            "conditions": {
                "version": 2,
                "conditions": {
                    "filterType": "group",
                    "logicalOperator": "AND",
                    "conditions": [
                        {
                            "filterType": "condition",
                            "column": "duration",
                            "operator": ">",
                            "value": 2000000,
                            "logicalOperator": "AND",
                        }
                    ],
                },
            },
        },
        "trigger_condition": {
            "period": 10,
            "operator": ">=",
            "threshold": 1,
            "frequency": 5,
            "frequency_type": "minutes",
            "silence": 0,
            "timezone": "UTC",
        },
        "destinations": ["hook"],
        "enabled": True,
        "description": "d",
    }
    body.update(over)
    return body


def v2_conditions(*conds: tuple[str, str, Any], logical: str = "AND") -> dict[str, Any]:
    return {
        "version": 2,
        "conditions": {
            "filterType": "group",
            "logicalOperator": logical,
            "conditions": [
                {"filterType": "condition", "column": c, "operator": o, "value": v, "logicalOperator": logical}
                for c, o, v in conds
            ],
        },
    }


def create_alert(client: httpx.Client, body: dict[str, Any], folder: str | None = None) -> str:
    params = {"folder": folder} if folder else {}
    r = client.post(f"/api/v2/{ORG}/alerts", params=params, json=body)
    assert r.status_code == 200, r.text
    return r.json()["id"]


# ---------------------------------------------------------------- webhook receiver


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: str


@dataclass
class Receiver:
    """A threaded HTTP server on 127.0.0.1 that records every request and answers `status`."""

    status: int = 200
    received: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                n = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(n) if n else b""
                outer.received.append(
                    Received(
                        self.command,
                        self.path,
                        {k.lower(): v for k, v in self.headers.items()},
                        raw.decode("utf-8", "replace"),
                    )
                )
                self.send_response(outer.status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            do_POST = do_PUT = do_GET = _handle

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def wait_for(self, count: int, timeout: float = 30.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return list(self.received)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
