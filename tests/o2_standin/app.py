"""Shared context handed to every handler."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from .clock import Clock
from .faults import Faults
from .store import Store


@dataclass
class RequestRecord:
    method: str
    path: str
    query: str
    status: int


@dataclass
class Notification:
    alert_name: str
    destination: str
    url: str
    method: str
    headers: dict[str, str]
    body: str
    status_code: int | None = None
    error: str | None = None


@dataclass
class Config:
    root_email: str
    root_password: str
    allow_loopback: bool
    skip_ssrf_checks: bool
    instance: str = "o2-standin"
    web_url: str = "http://127.0.0.1"


@dataclass
class App:
    config: Config
    store: Store = field(default_factory=Store)
    clock: Clock = field(default_factory=Clock)
    faults: Faults = field(default_factory=Faults)
    requests: list[RequestRecord] = field(default_factory=list)
    notifications: list[Notification] = field(default_factory=list)
    log_lock: threading.Lock = field(default_factory=threading.Lock)
    extra: dict[str, Any] = field(default_factory=dict)

    def record_request(self, rec: RequestRecord) -> None:
        with self.log_lock:
            self.requests.append(rec)

    def record_notification(self, n: Notification) -> None:
        with self.log_lock:
            self.notifications.append(n)
