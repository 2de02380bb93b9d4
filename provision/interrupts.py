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
    # Python runs this once for presses that arrive before the main thread gets to it (waiting for the
    # interpreter lock, say); the wakeup pipe gets a byte for each, so two quick Ctrl-Cs still count as two.
    _STATE.presses += max(1, _presses_since_last())
    if _STATE.presses > 1:
        again = f"; running {_STATE.command} again converges" if _STATE.command in ("apply", "destroy") else ""
        sys.stderr.write(f"error: interrupted twice: quit without waiting{again}\n")
        sys.stderr.flush()
        os._exit(130)
    if _STATE.stop is not None:
        _STATE.stop.set()
    elif not _STATE.settled:
        raise Interrupt


_wakeups: list[int] = []  # the read ends of the wakeup pipes of the handlers installed, innermost last


def _presses_since_last() -> int:
    if not _wakeups:
        return 0
    try:
        return os.read(_wakeups[-1], 512).count(signal.SIGINT)
    except BlockingIOError:
        return 0


@contextlib.contextmanager
def _handler() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    read_end, write_end = os.pipe()
    os.set_blocking(read_end, False)
    os.set_blocking(write_end, False)
    previous_fd = signal.set_wakeup_fd(write_end, warn_on_full_buffer=False)
    _wakeups.append(read_end)
    previous = signal.signal(signal.SIGINT, _on_ctrl_c)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        signal.set_wakeup_fd(previous_fd)
        _wakeups.remove(read_end)
        os.close(read_end)
        os.close(write_end)


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
