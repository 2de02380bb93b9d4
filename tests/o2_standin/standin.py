"""The public `StandIn` object: lifecycle plus test-facing accessors."""

from __future__ import annotations

import os
import threading
from types import TracebackType
from typing import Any

from .app import App, Config, Notification, RequestRecord
from .clock import Clock
from .faults import Faults
from .routes import build_router
from .server import Server, make_handler
from .store import Store


def _env_bool(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


class StandIn:
    def __init__(
        self,
        root_email: str | None = None,
        root_password: str | None = None,
        allow_loopback: bool | None = None,
        skip_ssrf_checks: bool | None = None,
        port: int = 0,
    ) -> None:
        cfg = Config(
            root_email=root_email
            if root_email is not None
            else os.environ.get("ZO_ROOT_USER_EMAIL", "root@example.com"),
            root_password=(
                root_password
                if root_password is not None
                else os.environ.get("ZO_ROOT_USER_PASSWORD", "Complexpass#123")
            ),
            allow_loopback=allow_loopback if allow_loopback is not None else _env_bool("ZO_SSRF_ALLOW_LOOPBACK"),
            skip_ssrf_checks=skip_ssrf_checks if skip_ssrf_checks is not None else _env_bool("ZO_SKIP_SSRF_CHECKS"),
        )
        self.app = App(cfg)
        self._port = port
        self._server: Server | None = None
        self._thread: threading.Thread | None = None
        self.url = ""
        from .templates import seed_default_templates

        seed_default_templates(self.app)

    # ----- lifecycle -----
    def start(self) -> str:
        if self._server is not None:
            return self.url
        router = build_router()
        self._server = Server(("127.0.0.1", self._port), make_handler(self.app, router))
        port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{port}"
        self.app.config.web_url = self.url
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name="o2-standin", daemon=True)
        self._thread.start()
        return self.url

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> StandIn:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # ----- accessors -----
    @property
    def requests(self) -> list[RequestRecord]:
        return self.app.requests

    def clear_requests(self) -> None:
        with self.app.log_lock:
            self.app.requests.clear()

    @property
    def faults(self) -> Faults:
        return self.app.faults

    @property
    def store(self) -> Store:
        return self.app.store

    @property
    def clock(self) -> Clock:
        return self.app.clock

    @property
    def notifications(self) -> list[Notification]:
        return self.app.notifications

    def records(self, org: str, stream: str, stream_type: str = "traces") -> list[dict[str, Any]]:
        s = self.app.store.stream(org, stream_type, stream)
        return [dict(r) for r in s.records] if s else []

    def run_scheduler(self) -> list[dict[str, Any]]:
        from .evaluate import run_scheduler

        return run_scheduler(self.app)
