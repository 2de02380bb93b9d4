"""Fault injection rules applied before a request is handled."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Literal

FaultKind = Literal["latency", "status", "drop"]


@dataclass
class Fault:
    path_regex: str
    method: str | None
    kind: FaultKind
    seconds: float
    status: int
    times: int | None


class Faults:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[Fault] = []

    def add(
        self,
        path_regex: str,
        *,
        method: str | None = None,
        kind: FaultKind = "status",
        seconds: float = 0,
        status: int = 503,
        times: int | None = None,
    ) -> None:
        if kind not in ("latency", "status", "drop"):
            raise ValueError(f"unknown fault kind {kind!r}")
        re.compile(path_regex)
        with self._lock:
            self._rules.append(Fault(path_regex, method.upper() if method else None, kind, seconds, status, times))

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def match(self, method: str, path: str) -> list[Fault]:
        """Return the faults that apply to this request, consuming one use of each."""
        hits: list[Fault] = []
        with self._lock:
            for f in list(self._rules):
                if f.method and f.method != method.upper():
                    continue
                if not re.search(f.path_regex, path):
                    continue
                hits.append(f)
                if f.times is not None:
                    f.times -= 1
                    if f.times <= 0:
                        self._rules.remove(f)
        return hits
