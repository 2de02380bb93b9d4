"""People and processes: two applies at once, Ctrl-C mid-apply, a resource deleted by hand during destroy."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import CLI, TOKEN, Cli
from tests.o2_standin import StandIn
from tests.provision.misbehaving import (
    DEADLINE,
    Holding,
    Misbehaving,
    Request,
    sigint_delivered,
    threads_taking_ctrl_c,
    until,
)

HOOK = "--set=webhook_url=http://127.0.0.1:9/hook"


def start(cli: Cli, *args: str, url: str | None = None) -> subprocess.Popen[str]:
    """`o2-provision *args --yes` in the background, pointed at O2 (or at `url`, a proxy in front of it)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENOBSERVE_", "OTEL_"))}
    env.update(cli.env, PYTHONUNBUFFERED="1")  # progress lines as they happen
    if url is not None:
        env["OPENOBSERVE_URL"] = url
    return subprocess.Popen(
        [*CLI, *(args or ("apply",)), "--yes", HOOK],
        cwd=cli.cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_of_two_applies_at_once_the_loser_gets_the_conflict_code(cli: Cli, o2: StandIn) -> None:
    # Both read an empty server, then both create the same folders: O2 refuses the second.
    o2.faults.add(r"^/api/v2/default/folders/", method="POST", kind="latency", seconds=0.5)
    first, second = start(cli, "apply", "--bootstrap-stream"), start(cli, "apply", "--bootstrap-stream")
    results = [(p.wait(timeout=60), p.communicate()[1]) for p in (first, second)]
    codes = sorted(code for code, _ in results)
    assert codes[0] == 0 and codes[1] == 5, results
    loser = next(err for code, err in results if code == 5)
    # (--bootstrap-stream sends its span through Pipecat's tracing, which logs a banner line.)
    errors = [line for line in loser.splitlines() if "| INFO " not in line]
    assert len(errors) == 1 and errors[0].startswith("error: "), loser
    assert "already exists" in errors[0] and "run apply again" in errors[0]
    again = cli("plan", "--detailed-exitcode", HOOK)
    assert again.code == 0, again.out + again.err


def main_thread_waits(pid: int) -> bool:
    """Whether the process's main thread is asleep (back in its wait, once a signal handler has run)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat[stat.rindex(")") + 2] == "S"


def a_dashboard_write(request: Request) -> bool:
    return request.method == "POST" and request.path == "/api/default/dashboards"


@pytest.fixture
def holding_a_dashboard(o2: StandIn) -> Iterator[tuple[Holding, str]]:
    """A proxy in front of O2 that holds the first dashboard write until the test releases it; and its URL."""
    holding = Holding(o2.url, a_dashboard_write)
    with Misbehaving(holding) as proxy:
        try:
            yield holding, proxy.url
        finally:
            holding.release.set()


def test_ctrl_c_during_apply_stops_cleanly_says_what_was_done_and_a_rerun_converges(
    cli: Cli, o2: StandIn, holding_a_dashboard: tuple[Holding, str]
) -> None:
    cli("apply", "--yes", "--bootstrap-stream", HOOK, "--set=folder=Other")  # the stream exists from now on
    o2.clear_requests()
    holding, url = holding_a_dashboard
    proc = start(cli, url=url)
    # Ctrl-C while the first wave (folders, templates) is written and a dashboard write is in flight.
    assert holding.held.wait(DEADLINE), "no dashboard write came"
    proc.send_signal(signal.SIGINT)
    until(lambda: sigint_delivered(proc.pid))
    holding.release.set()
    out, err = proc.communicate(timeout=DEADLINE)
    assert proc.returncode == 130, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: interrupted: "), err
    assert "not started" in lines[0] and "running apply again converges" in lines[0]
    assert "Apply interrupted:" in out
    assert "Traceback" not in out + err
    assert not [r for r in o2.requests if r.path.startswith("/api/v2/default/alerts") and r.method == "POST"]
    assert cli("apply", "--yes", HOOK).code == 0
    assert cli("plan", "--detailed-exitcode", HOOK).code == 0


def test_only_the_main_thread_can_take_a_ctrl_c_while_writes_are_in_flight(
    cli: Cli, o2: StandIn, holding_a_dashboard: tuple[Holding, str]
) -> None:
    """A Ctrl-C handed to a writer thread would wait for the held write's timeout before anything happened."""
    cli("apply", "--yes", "--bootstrap-stream", HOOK, "--set=folder=Other")
    holding, url = holding_a_dashboard
    proc = start(cli, url=url)
    try:
        assert holding.held.wait(DEADLINE), "no dashboard write came"
        assert len(list(Path(f"/proc/{proc.pid}/task").iterdir())) > 1, "the writes run on worker threads"
        assert threads_taking_ctrl_c(proc.pid) == []
    finally:
        holding.release.set()
        proc.communicate(timeout=DEADLINE)
    assert proc.returncode == 0


def test_a_second_ctrl_c_quits_at_once(cli: Cli, o2: StandIn, holding_a_dashboard: tuple[Holding, str]) -> None:
    cli("apply", "--yes", "--bootstrap-stream", HOOK, "--set=folder=Other")
    holding, url = holding_a_dashboard
    proc = start(cli, url=url)
    assert holding.held.wait(DEADLINE), "no dashboard write came"
    # Two Ctrl-Cs while the dashboard write stays held: the command must quit without waiting for it. The second
    # goes once the first was handled (delivered, and the main thread waits again): two pending would be one.
    proc.send_signal(signal.SIGINT)
    until(lambda: sigint_delivered(proc.pid) and main_thread_waits(proc.pid))
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=DEADLINE)
    assert not holding.release.is_set()
    assert proc.returncode == 130
    assert err.strip().splitlines() == ["error: interrupted twice: quit without waiting; running apply again converges"]


def test_destroy_counts_a_resource_deleted_meanwhile_as_gone(cli: Cli, o2: StandIn) -> None:
    assert cli("apply", "--yes", "--bootstrap-stream", HOOK).code == 0
    # Alerts are deleted first; while one of them is held, someone deletes the dashboards by hand.
    holding = Holding(o2.url, lambda r: r.method == "DELETE" and r.path.startswith("/api/v2/default/alerts/"))
    with Misbehaving(holding) as proxy:
        proc = start(cli, "destroy", url=proxy.url)
        try:
            assert holding.held.wait(DEADLINE), "destroy deleted no alert"
            with httpx.Client(base_url=o2.url, headers={"Authorization": f"Basic {TOKEN}"}) as http:
                for folder in http.get("/api/v2/default/folders/dashboards").json()["list"]:
                    listing = http.get("/api/default/dashboards", params={"folder": folder["folderId"]}).json()
                    for board in listing["dashboards"]:
                        params = {"folder": folder["folderId"]}
                        http.delete(f"/api/default/dashboards/{board['dashboard_id']}", params=params)
        finally:
            holding.release.set()
        out, err = proc.communicate(timeout=DEADLINE)
    assert proc.returncode == 0, err
    assert "0 failed" in out
    deletes = [r for r in o2.requests if r.method == "DELETE" and r.path.startswith("/api/default/dashboards/")]
    assert 404 in [r.status for r in deletes]  # destroy's own delete found it gone
    assert o2.store.folders("default", "dashboards") == [] or all(
        f["name"] != "Pipecat" for f in o2.store.folders("default", "dashboards")
    )
