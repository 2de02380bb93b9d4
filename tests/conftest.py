"""Shared fixtures: the O2 stand-in as a real server, the CLI as a user runs it, a webhook receiver."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from provision.demo.webhook import WebhookReceiver as Webhook
from tests.o2_standin import StandIn

ROOT_EMAIL = "root@example.com"
ROOT_PASSWORD = "Complexpass#123"
TOKEN = base64.b64encode(f"{ROOT_EMAIL}:{ROOT_PASSWORD}".encode()).decode()
CLI = [sys.executable, "-m", "provision"]

# The tests' exports go where each test says, whatever the developer's shell sets for other exporters.
for _name in [n for n in os.environ if n.startswith("OTEL_EXPORTER_OTLP_")]:
    del os.environ[_name]

# Every property test draws the same examples on every machine, in CI and on a developer's alike: the examples come
# from a hash of the test (not a random seed), no local database replays examples another run never drew, and the
# example count is each test's own. No deadline: a loaded CI core makes any per-example time limit flaky. A failure
# prints its reproduction blob; a failure found is kept as an explicit @example on its test.
settings.register_profile("reproducible", derandomize=True, database=None, deadline=None, print_blob=True)
settings.load_profile("reproducible")


@pytest.fixture
def o2() -> Iterator[StandIn]:
    """A fresh O2 stand-in on 127.0.0.1 that allows loopback destinations."""
    server = StandIn(root_email=ROOT_EMAIL, root_password=ROOT_PASSWORD, allow_loopback=True)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


@dataclass
class Cli:
    """Runs `o2-provision` in a subprocess, in a clean folder, pointed at a server."""

    cwd: Path
    env: dict[str, str] = field(default_factory=dict)

    def __call__(self, *args: str, env: dict[str, str] | None = None, stdin: str | None = None) -> Result:
        full_env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENOBSERVE_", "OTEL_"))}
        full_env.update(self.env)
        full_env.update(env or {})
        proc = subprocess.run(
            [*CLI, *args],
            cwd=self.cwd,
            env=full_env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
        )
        return Result(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture
def cli(tmp_path: Path, o2: StandIn) -> Cli:
    return Cli(tmp_path, {"OPENOBSERVE_URL": o2.url, "OPENOBSERVE_AUTH_TOKEN": TOKEN})


@pytest.fixture
def offline_cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path, {"OPENOBSERVE_URL": "http://127.0.0.1:9", "OPENOBSERVE_AUTH_TOKEN": TOKEN})


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    """A local alert destination recording every request, for one test."""
    receiver = Webhook()
    try:
        yield receiver
    finally:
        receiver.stop()
