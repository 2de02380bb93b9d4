"""Shared fixtures: the O2 stand-in as a real server, the CLI as a user runs it, a webhook receiver."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.o2_standin import StandIn

ROOT_EMAIL = "root@example.com"
ROOT_PASSWORD = "Complexpass#123"
TOKEN = base64.b64encode(f"{ROOT_EMAIL}:{ROOT_PASSWORD}".encode()).decode()
CLI = [sys.executable, "-m", "provision"]


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


@dataclass
class Webhook:
    """A local HTTP receiver that records every request body."""

    url: str
    received: list[dict[str, Any]]


class WebhookServer:
    """A local HTTP receiver that records every request body, for as long as it runs."""

    def __init__(self) -> None:
        received: list[dict[str, Any]] = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode("utf-8", "replace")
                received.append({"path": self.path, "headers": dict(self.headers), "body": body})
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.hook = Webhook(f"http://127.0.0.1:{self._server.server_address[1]}/hook", received)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    server = WebhookServer()
    try:
        yield server.hook
    finally:
        server.stop()
