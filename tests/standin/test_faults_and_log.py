"""The stand-in's test hooks: fault injection, the request log, process mode."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.o2_standin import StandIn

REPO = Path(__file__).resolve().parents[2]


def logged(standin: Any, n: int, timeout: float = 30.0) -> list[Any]:
    """The request log once it holds n records (the stand-in may append a record just after answering)."""
    deadline = time.monotonic() + timeout
    while len(standin.requests) < n and time.monotonic() < deadline:
        time.sleep(0.01)
    return list(standin.requests)


def test_fault_latency(standin: Any, anon: httpx.Client) -> None:
    standin.faults.add(r"^/healthz$", kind="latency", seconds=0.4)
    t = time.monotonic()
    r = anon.get("/healthz")
    elapsed = time.monotonic() - t
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}
    assert elapsed >= 0.4


def test_fault_status(standin: Any, anon: httpx.Client) -> None:
    standin.faults.add(r"^/healthz$", kind="status", status=503)
    assert anon.get("/healthz").status_code == 503
    assert anon.get("/healthz").status_code == 503
    standin.faults.clear()
    assert anon.get("/healthz").status_code == 200


def test_fault_status_default_is_503(standin: Any, anon: httpx.Client) -> None:
    standin.faults.add(r"^/healthz$", kind="status")
    assert anon.get("/healthz").status_code == 503


def test_fault_times_limits_applications(standin: Any, anon: httpx.Client) -> None:
    standin.faults.add(r"^/healthz$", kind="status", status=500, times=2)
    assert [anon.get("/healthz").status_code for _ in range(4)] == [500, 500, 200, 200]


def test_fault_drop_closes_connection(standin: Any, anon: httpx.Client) -> None:
    standin.faults.add(r"^/healthz$", kind="drop", times=1)
    with pytest.raises(httpx.TransportError):
        anon.get("/healthz")
    assert anon.get("/healthz").status_code == 200


def test_fault_method_filter(standin: Any, client: httpx.Client) -> None:
    standin.faults.add(r"^/api/default/dashboards$", method="POST", kind="status", status=502)
    assert client.get("/api/default/dashboards").status_code == 200
    assert client.post("/api/default/dashboards", json={"title": "x"}).status_code == 502


def test_fault_regex_matches_path_only(standin: Any, client: httpx.Client) -> None:
    standin.faults.add(r"/alerts/destinations", kind="status", status=504)
    assert client.get("/api/default/alerts/destinations").status_code == 504
    assert client.get("/api/default/alerts/templates").status_code == 200


def test_request_log_records_method_path_query_status(standin: Any, client: httpx.Client) -> None:
    standin.clear_requests()
    client.get("/api/default/dashboards", params={"folder": "default"})
    client.get("/api/nosuchorg/dashboards")
    client.post("/api/default/dashboards", json={"title": ""})
    recs = [(r.method, r.path, r.status) for r in logged(standin, 3)]
    assert recs == [
        ("GET", "/api/default/dashboards", 200),
        ("GET", "/api/nosuchorg/dashboards", 404),
        ("POST", "/api/default/dashboards", 500),
    ]
    assert "folder" in str(standin.requests[0].query)
    assert "default" in str(standin.requests[0].query)


def test_request_log_records_fault_status(standin: Any, anon: httpx.Client) -> None:
    standin.clear_requests()
    standin.faults.add(r"^/healthz$", kind="status", status=503, times=1)
    anon.get("/healthz")
    anon.get("/healthz")
    assert [(r.path, r.status) for r in logged(standin, 2)] == [("/healthz", 503), ("/healthz", 200)]


def test_request_log_clear(standin: Any, anon: httpx.Client) -> None:
    anon.get("/healthz")
    assert logged(standin, 1)
    standin.clear_requests()
    assert standin.requests == []


def test_request_log_http_hook(standin: Any, anon: httpx.Client) -> None:
    standin.clear_requests()
    anon.get("/healthz")
    logged(standin, 1)
    r = anon.get("/_standin/requests")
    assert r.status_code == 200
    assert "/healthz" in r.text
    r = anon.get("/_standin/notifications")
    assert r.status_code == 200
    assert r.json() == []


def test_context_manager_starts_and_stops() -> None:
    with StandIn(root_email="root@example.com", root_password="Complexpass#123") as s:
        url = s.url
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url)
        assert httpx.get(url + "/healthz").status_code == 200
    with pytest.raises(httpx.TransportError):
        httpx.get(url + "/healthz", timeout=2)


def test_process_mode_prints_url_and_serves() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.o2_standin", "--port", "0"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        m = re.fullmatch(r"O2 stand-in listening on (http://127\.0\.0\.1:(\d+))", line)
        assert m, line
        url = m.group(1)
        assert int(m.group(2)) > 0
        assert httpx.get(url + "/healthz").json() == {"status": "ok"}
        r = httpx.post(url + "/_standin/scheduler/run", params={"advance_seconds": 60})
        assert r.status_code == 200
        r = httpx.get(url + "/_standin/requests")
        assert r.status_code == 200
        assert "/healthz" in r.text
        assert httpx.get(url + "/_standin/notifications").json() == []
    finally:
        proc.terminate()
        proc.wait(timeout=10)
