"""Scheduler/server clock: real time until set or advanced."""

from __future__ import annotations

import threading
import time


class Clock:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._offset: float | None = None  # fixed epoch seconds when frozen

    def now(self) -> float:
        with self._lock:
            return time.time() if self._offset is None else self._offset

    def now_us(self) -> int:
        return int(self.now() * 1_000_000)

    def set(self, epoch_seconds: float) -> None:
        with self._lock:
            self._offset = float(epoch_seconds)

    def advance(self, seconds: float) -> None:
        with self._lock:
            base = time.time() if self._offset is None else self._offset
            self._offset = base + float(seconds)

    def reset(self) -> None:
        with self._lock:
            self._offset = None
