"""O2 failing in each way on purpose: bounded, idempotent-only retries, clear exits, clean recovery."""

from __future__ import annotations

import socket
import time
from pathlib import Path

from tests.conftest import TOKEN, Cli, Webhook
from tests.o2_standin import StandIn

WRITES = ("POST", "PUT", "DELETE", "PATCH")


def hook(webhook: Webhook) -> str:
    return f"--set=webhook_url={webhook.url}"


def test_unreachable_o2_is_a_network_error_quickly(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port with nobody listening
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cli = Cli(tmp_path, {"OPENOBSERVE_URL": f"http://127.0.0.1:{port}", "OPENOBSERVE_AUTH_TOKEN": TOKEN})
    started = time.monotonic()
    result = cli("plan")
    assert result.code == 6, result.err
    assert f"cannot reach O2 at http://127.0.0.1:{port}" in result.err
    assert time.monotonic() - started < 15


def test_slow_past_the_timeout_retries_a_bounded_number_of_times(cli: Cli, o2: StandIn) -> None:
    # Only the first four reads are slow: a fifth attempt would be answered at once, and the plan would not fail.
    o2.faults.add(r"^/api/v2/default/folders/dashboards$", method="GET", kind="latency", seconds=1.5, times=4)
    result = cli("plan", "--timeout", "0.5")
    assert result.code == 6, result.err
    assert "did not answer within 0.5s" in result.err

    def attempts() -> int:  # the server logs each attempt once its injected delay is over
        return len([r for r in o2.requests if r.path == "/api/v2/default/folders/dashboards"])

    deadline = time.monotonic() + 30
    while attempts() < 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert attempts() == 4  # the first try and three retries, then it gives up


def test_5xx_and_429_bursts_on_reads_are_retried(cli: Cli, o2: StandIn, webhook: Webhook) -> None:
    o2.faults.add(r"^/api/default/alerts/destinations$", method="GET", kind="status", status=503, times=2)
    o2.faults.add(r"^/api/default/alerts/templates$", method="GET", kind="status", status=429, times=2)
    result = cli("apply", "--yes", "--bootstrap-stream", hook(webhook))
    assert result.code == 0, result.err
    statuses = [r.status for r in o2.requests if r.method == "GET" and r.path == "/api/default/alerts/destinations"]
    assert statuses[:3] == [503, 503, 200]


def test_a_failing_create_is_not_retried_and_exits_as_a_server_error(cli: Cli, o2: StandIn, webhook: Webhook) -> None:
    o2.faults.add(r"^/api/default/alerts/destinations$", method="POST", kind="status", status=500)
    result = cli("apply", "--yes", "--bootstrap-stream", hook(webhook))
    assert result.code == 7, result.err
    assert "O2 failed on POST /api/default/alerts/destinations (500" in result.err
    posts = [r for r in o2.requests if r.method == "POST" and r.path == "/api/default/alerts/destinations"]
    assert len(posts) == 1  # POST is not idempotent: never retried
    assert not [r for r in o2.requests if r.path.startswith("/api/v2/default/alerts") and r.method == "POST"]


def test_a_401_in_the_middle_stops_with_an_auth_error_then_apply_converges(
    cli: Cli, o2: StandIn, webhook: Webhook
) -> None:
    o2.faults.add(r"^/api/default/dashboards$", method="POST", kind="status", status=401, times=1)
    first = cli("apply", "--yes", "--bootstrap-stream", hook(webhook))
    assert first.code == 3, first.err
    assert "refused the credentials" in first.err
    second = cli("apply", "--yes", hook(webhook))
    assert second.code == 0, second.err
    third = cli("plan", "--detailed-exitcode", hook(webhook))
    assert third.code == 0, third.out


def test_a_connection_dropped_mid_apply_then_a_clean_apply_has_no_duplicates(
    cli: Cli, o2: StandIn, webhook: Webhook
) -> None:
    o2.faults.add(r"^/api/v2/default/alerts$", method="POST", kind="drop", times=1)
    first = cli("apply", "--yes", "--bootstrap-stream", hook(webhook))
    assert first.code == 6, first.err
    second = cli("apply", "--yes", hook(webhook))
    assert second.code == 0, second.err
    names = sorted(a["name"] for a in o2.store.alerts("default"))
    assert names == ["pipecat_failed_turns", "pipecat_slow_turns"]


def test_continue_on_error_applies_everything_else(cli: Cli, o2: StandIn, webhook: Webhook) -> None:
    o2.faults.add(r"^/api/default/dashboards$", method="POST", kind="status", status=500)
    result = cli("apply", "--yes", "--bootstrap-stream", "--on-error", "continue", hook(webhook))
    assert result.code == 7
    assert sorted(a["name"] for a in o2.store.alerts("default")) == ["pipecat_failed_turns", "pipecat_slow_turns"]
    assert "2 failed" in result.out


def test_stop_on_error_skips_what_depends_on_the_failure(cli: Cli, o2: StandIn, webhook: Webhook) -> None:
    o2.faults.add(r"^/api/default/alerts/destinations$", method="POST", kind="status", status=500)
    result = cli("apply", "--yes", "--bootstrap-stream", hook(webhook))
    assert result.code == 7
    assert "skipped" in result.out
    # Alerts need the destination: none is written. Dashboards need only their folder: written alongside.
    assert not [r for r in o2.requests if r.method in WRITES and r.path.startswith("/api/v2/default/alerts")]
    assert [r for r in o2.requests if r.method == "POST" and r.path == "/api/default/dashboards"]
