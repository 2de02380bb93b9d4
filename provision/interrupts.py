"""Ctrl-C, the same at every moment of a command: it says what was changed so far, and a second one quits at once.

While changes are written, the first Ctrl-C only asks the writer to stop (requests in flight finish, none
starts); at any other moment it raises :class:`Interrupt`, which the CLI reports as one line. Once the
command has its outcome, a Ctrl-C is remembered and reported when it ends.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from types import FrameType


class Interrupt(BaseException):
    """Ctrl-C outside the writes. Not a KeyboardInterrupt: typer turns one into a silent exit 130."""


@dataclass
class _State:
    command: str = "apply"
    presses: int = 0
    stop: threading.Event | None = None  # while changes are written: what the first Ctrl-C sets
    settled: bool = False  # the command has its outcome: a Ctrl-C is only remembered
    outcome: tuple[int, int, int] | None = None  # changes made, not started, failed, once writing ended


_STATE = _State()


def _on_ctrl_c(signum: int, frame: FrameType | None) -> None:
    _STATE.presses += 1
    if _STATE.presses > 1:
        again = f"; running {_STATE.command} again converges" if _STATE.command in ("apply", "destroy") else ""
        sys.stderr.write(f"error: interrupted twice: quit without waiting{again}\n")
        sys.stderr.flush()
        os._exit(130)
    if _STATE.stop is not None:
        _STATE.stop.set()
    elif not _STATE.settled:
        raise Interrupt


@contextlib.contextmanager
def _handler() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, _on_ctrl_c)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@contextlib.contextmanager
def command(name: str) -> Iterator[None]:
    """Handle Ctrl-C for one run of command `name` (in the main thread; elsewhere, as Python does)."""
    global _STATE
    _STATE = _State(command=name)
    with _handler():
        yield


def settle() -> None:
    """The command has its outcome: from now on a Ctrl-C is remembered, not raised."""
    _STATE.settled = True


@contextlib.contextmanager
def writes(stop: threading.Event) -> Iterator[None]:
    """While changes are written, the first Ctrl-C sets `stop` instead of raising."""
    _STATE.stop = stop
    try:
        with _handler():
            yield
    finally:
        _STATE.stop = None


def record(made: int, not_started: int, failed: int) -> None:
    """What the writes did, for the line a later Ctrl-C prints (call it before `writes` ends)."""
    _STATE.outcome = (made, not_started, failed)


def pressed() -> bool:
    """Whether Ctrl-C was pressed during this command."""
    return _STATE.presses > 0


def report() -> tuple[str, str | None]:
    """The error line for an interrupted command, and its hint."""
    if _STATE.outcome is None:
        return "interrupted before any change was made", None
    made, not_started, failed = _STATE.outcome
    failures = f", {failed} failed" if failed else ""
    return (
        f"interrupted: {made} change(s) made, {not_started} not started{failures}",
        f"running {_STATE.command} again converges",
    )
