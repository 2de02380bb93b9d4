"""Ctrl-C at any moment of `apply --yes`: one line saying what was changed, exit 130, and a rerun converges.

A proxy in front of the stand-in holds one request until the test has sent SIGINT and the kernel has
delivered it, so each case interrupts at exactly its moment, however slow the machine.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator

import pytest

from tests.conftest import CLI, Cli
from tests.o2_standin import StandIn
from tests.provision.misbehaving import DEADLINE, Holding, Misbehaving, Request, sigint_delivered, until

HOOK = "--set=webhook_url=http://127.0.0.1:9/hook"
CHANGES = 8  # a full apply: 2 folders, an alert template, a destination, 2 dashboards, 2 alerts
WRITES = ("POST", "PUT", "DELETE")


@pytest.fixture
def stream_ready(cli: Cli) -> None:
    """O2 has the traces stream and nothing managed: the apply under test makes every change."""
    assert cli("apply", "--yes", "--bootstrap-stream", HOOK).code == 0
    assert cli("destroy", "--yes", HOOK).code == 0


@pytest.fixture
def interrupt(
    cli: Cli, o2: StandIn, stream_ready: None
) -> Iterator[Callable[[Callable[[Request], bool]], tuple[int, str, str]]]:
    proxies: list[Misbehaving] = []

    def run(matches: Callable[[Request], bool]) -> tuple[int, str, str]:
        holding = Holding(o2.url, matches)
        proxy = Misbehaving(holding).__enter__()
        proxies.append(proxy)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENOBSERVE_", "OTEL_"))}
        env.update(cli.env, OPENOBSERVE_URL=proxy.url)
        o2.clear_requests()
        proc = subprocess.Popen(
            [*CLI, "apply", "--yes", HOOK],
            cwd=cli.cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert holding.held.wait(DEADLINE), "the request to hold never came"
            proc.send_signal(signal.SIGINT)
            until(lambda: sigint_delivered(proc.pid))
        finally:
            holding.release.set()
        out, err = proc.communicate(timeout=DEADLINE)
        return proc.returncode, out, err

    yield run
    for proxy in proxies:
        proxy.__exit__()


def writes_made(o2: StandIn) -> int:
    return sum(
        1
        for r in o2.requests
        if r.method in WRITES and 200 <= r.status < 300 and not r.path.endswith(("/_search", "/v1/traces"))
    )


def assert_converges(cli: Cli) -> None:
    assert cli("apply", "--yes", HOOK).code == 0
    assert cli("plan", "--detailed-exitcode", HOOK).code == 0


@pytest.mark.parametrize(
    "matches",
    [
        lambda r: r.method == "GET",  # the first read of the server
        lambda r: r.path.endswith("/_search"),  # the check that the stream exists, after the plan
    ],
    ids=["first-read", "stream-check"],
)
def test_ctrl_c_before_any_write_says_none_was_made(
    matches: Callable[[Request], bool], interrupt: Callable[..., tuple[int, str, str]], cli: Cli, o2: StandIn
) -> None:
    code, out, err = interrupt(matches)
    assert code == 130, err
    assert err.splitlines() == ["error: interrupted before any change was made"]
    assert "Traceback" not in out + err
    assert writes_made(o2) == 0
    assert_converges(cli)


@pytest.mark.parametrize(
    "matches",
    [
        lambda r: r.method == "POST" and "/folders/" in r.path,  # the first write, in the first wave
        lambda r: r.method == "POST" and r.path.endswith("/alerts"),  # an alert, in the last wave
    ],
    ids=["first-write", "last-wave"],
)
def test_ctrl_c_during_the_writes_counts_what_was_made_and_what_not(
    matches: Callable[[Request], bool], interrupt: Callable[..., tuple[int, str, str]], cli: Cli, o2: StandIn
) -> None:
    code, out, err = interrupt(matches)
    assert code == 130, err
    lines = err.splitlines()
    assert len(lines) == 1, err
    said = re.fullmatch(
        r"error: interrupted: (\d+) change\(s\) made, (\d+) not started; running apply again converges", lines[0]
    )
    assert said, lines[0]
    made, not_started = int(said.group(1)), int(said.group(2))
    assert made == writes_made(o2) >= 1  # the held write finished: requests in flight are not abandoned
    assert made + not_started <= CHANGES and (not_started >= 1 or made == CHANGES)
    assert "Apply interrupted:" in out and "Traceback" not in out + err
    assert_converges(cli)


# Two Ctrl-Cs while the main thread is busy in C code that does not look at signals (as it may be while it waits
# for the interpreter lock): the kernel delivers both, Python runs its handler once.
BUSY_WRITER = """
import sys, threading
from provision import interrupts
with interrupts.command("apply"), interrupts.writes(threading.Event()):
    print("ready", flush=True)
    sum(range(2 * 10**8))  # about 2 s
print("one press", flush=True)
"""


def test_two_ctrl_cs_that_python_sees_at_once_still_quit_at_once() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", BUSY_WRITER], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
        proc.send_signal(signal.SIGINT)
        until(lambda: sigint_delivered(proc.pid))
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=DEADLINE)
    finally:
        proc.kill()
    assert proc.returncode == 130, out + err
    assert err.splitlines() == ["error: interrupted twice: quit without waiting; running apply again converges"]
    assert out == ""
