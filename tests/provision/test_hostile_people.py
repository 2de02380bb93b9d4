"""People and processes: two applies at once, Ctrl-C mid-apply, a resource deleted by hand during destroy."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import httpx

from tests.conftest import CLI, TOKEN, Cli
from tests.o2_standin import StandIn

HOOK = "--set=webhook_url=http://127.0.0.1:9/hook"


def start(cli: Cli, *args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENOBSERVE_", "OTEL_"))}
    env.update(cli.env, PYTHONUNBUFFERED="1")  # progress lines as they happen
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


def test_ctrl_c_during_apply_stops_cleanly_says_what_was_done_and_a_rerun_converges(cli: Cli, o2: StandIn) -> None:
    cli("apply", "--yes", "--bootstrap-stream", HOOK, "--set=folder=Other")  # the stream exists from now on
    o2.clear_requests()
    o2.faults.add(r"^/api/default/dashboards$", method="POST", kind="latency", seconds=1.0)
    proc = start(cli)
    assert proc.stdout is not None
    for line in proc.stdout:  # the first wave (folders, templates) is written; dashboards are in flight
        if line.startswith("  created folder"):
            break
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: interrupted: "), err
    assert "not started" in lines[0] and "running apply again converges" in lines[0]
    assert "Apply interrupted:" in out
    assert "Traceback" not in out + err
    assert not [r for r in o2.requests if r.path.startswith("/api/v2/default/alerts") and r.method == "POST"]
    o2.faults.clear()
    assert cli("apply", "--yes", HOOK).code == 0
    assert cli("plan", "--detailed-exitcode", HOOK).code == 0


def test_a_second_ctrl_c_quits_at_once(cli: Cli, o2: StandIn) -> None:
    cli("apply", "--yes", "--bootstrap-stream", HOOK, "--set=folder=Other")
    o2.faults.add(r"^/api/default/dashboards$", method="POST", kind="latency", seconds=8.0)
    proc = start(cli)
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("  created folder"):
            break
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    time.sleep(0.2)
    started = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert time.monotonic() - started < 2
    assert proc.returncode == 130
    assert err.strip().splitlines() == ["error: interrupted twice: quit without waiting; running apply again converges"]


def test_destroy_counts_a_resource_deleted_meanwhile_as_gone(cli: Cli, o2: StandIn) -> None:
    assert cli("apply", "--yes", "--bootstrap-stream", HOOK).code == 0
    # Alerts are deleted first; while they are, someone deletes the dashboards by hand.
    o2.faults.add(r"^/api/v2/default/alerts/", method="DELETE", kind="latency", seconds=1.5, times=1)
    proc = start(cli, "destroy")
    deadline = time.monotonic() + 20
    # Wait until destroy is deleting the alerts (one of them held 1.5 s), whatever its start-up took.
    while not [r for r in o2.requests if r.method == "DELETE" and r.path.startswith("/api/v2/default/alerts/")]:
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.02)
    with httpx.Client(base_url=o2.url, headers={"Authorization": f"Basic {TOKEN}"}) as http:
        for folder in http.get("/api/v2/default/folders/dashboards").json()["list"]:
            listing = http.get("/api/default/dashboards", params={"folder": folder["folderId"]}).json()
            for board in listing["dashboards"]:
                http.delete(f"/api/default/dashboards/{board['dashboard_id']}", params={"folder": folder["folderId"]})
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "0 failed" in out
    deletes = [r for r in o2.requests if r.method == "DELETE" and r.path.startswith("/api/default/dashboards/")]
    assert 404 in [r.status for r in deletes]  # destroy's own delete found it gone
    assert o2.store.folders("default", "dashboards") == [] or all(
        f["name"] != "Pipecat" for f in o2.store.folders("default", "dashboards")
    )
