"""Seeing a pipeline's frame pushes without a Python call for the frames nobody watches: :func:`watch`.

Pipecat builds a ``FramePushed`` record for every push a processor makes (for the worker's observers)
before the frame moves on. While any pipeline is watched, the ``FramePushed`` name that Pipecat's frame
processor module builds them from points at :class:`_Seen`, a subclass whose ``__init__`` stands in for
the generated one: it fills in the same fields and, for the first push downstream of a frame of a type
a watcher wants (and for an upstream push of one it wants upstream: errors), calls that watcher, inline.
Every other push (audio above all: hundreds a turn, at every processor) costs a few dictionary look-ups
and no Python call more than before; a wrapper around each processor's ``push_frame`` would cost one
call a push.

A watcher says which frame types it wants with :meth:`Watcher.wants`; its answer is remembered per type,
for that watcher alone (pipelines running side by side each have their own), until it calls
:func:`reconsider` (it may stop wanting a type for a while, such as audio once its first chunk was seen).
:func:`available` says whether the installed Pipecat builds its records that way; where it does not,
the frame tap wraps ``push_frame`` instead.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable, Generator, Iterable
from typing import Any, Protocol

from pipecat.frames.frames import Frame
from pipecat.observers.base_observer import FramePushed
from pipecat.processors import frame_processor
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from instrumentation.safety import report


class Watcher(Protocol):
    def wants(self, frame_type: type, downstream: bool) -> bool:
        """Whether pushes of ``frame_type`` in that direction are to be shown to :meth:`pushed` now."""

    def pushed(self, data: FramePushed) -> None:
        """A watched processor pushed a frame this watcher wants, for the first time in that direction."""


_DOWNSTREAM = FrameDirection.DOWNSTREAM
_ORIGINAL = FramePushed


class _Watching:
    """One watcher, with its remembered answers: frame type -> whether it wants it now, per direction."""

    __slots__ = ("down", "processors", "pushed", "up", "watcher")

    def __init__(self, watcher: Watcher) -> None:
        self.watcher = watcher
        self.pushed = watcher.pushed
        self.down: dict[type, bool] = {}
        self.up: dict[type, bool] = {}
        self.processors = 0  # how many of the watched processors are this watcher's


# id(processor) -> (the processor, weakly; the watching of its pipeline's watcher)
_watched: dict[int, tuple[weakref.ref[FrameProcessor], _Watching]] = {}
_watchers: dict[int, _Watching] = {}  # id(watcher) -> its watching, while it watches something
# Ids of frames shown already, per direction; frame ids only grow, so a short memory is enough.
_shown_down: dict[int, None] = {}
_shown_up: dict[int, None] = {}
_SHOWN_LIMIT = 512
_running: set[asyncio.Future[None]] = set()  # the rests of suspended coroutines, kept until they end


class _Seen(FramePushed):
    """A ``FramePushed`` that shows the first push of a wanted frame to its pipeline's watcher."""

    def __init__(
        self,
        source: FrameProcessor,
        destination: FrameProcessor,
        frame: Frame,
        direction: FrameDirection,
        timestamp: int,
        first_push: bool = True,
    ) -> None:
        self.source = source
        self.destination = destination
        self.frame = frame
        self.direction = direction
        self.timestamp = timestamp
        self.first_push = first_push
        entry = _watched.get(id(source))
        if entry is None:
            return
        watching = entry[1]
        downstream = direction is _DOWNSTREAM
        wanted = (watching.down if downstream else watching.up).get(type(frame))
        if wanted is None:
            wanted = _settle(watching, type(frame), downstream)
        if not wanted or entry[0]() is not source:
            return
        shown = _shown_down if downstream else _shown_up
        if frame.id in shown:
            return
        shown[frame.id] = None
        if len(shown) > _SHOWN_LIMIT:
            del shown[next(iter(shown))]
        watching.pushed(self)


def _settle(watching: _Watching, frame_type: type, downstream: bool) -> bool:
    try:
        wanted = bool(watching.watcher.wants(frame_type, downstream))
    except Exception as error:
        report("watching the pipeline's frames", error)
        wanted = False
    (watching.down if downstream else watching.up)[frame_type] = wanted
    return wanted


def available() -> bool:
    """Whether this Pipecat builds a ``FramePushed`` from its frame processor module on every push."""
    push = getattr(FrameProcessor, "_FrameProcessor__internal_push_frame", None)
    code = getattr(push, "__code__", None)
    return (
        code is not None
        and "FramePushed" in code.co_names
        and getattr(frame_processor, "FramePushed", None) in (_ORIGINAL, _Seen)
    )


def watch(processors: Iterable[FrameProcessor], watcher: Watcher) -> None:
    """Show ``watcher`` what ``processors`` push (call only when :func:`available`).

    It watches until :func:`unwatch`, or until its processors are gone.
    """
    watching = _watchers.get(id(watcher)) or _Watching(watcher)
    for processor in processors:
        key = id(processor)
        previous = _watched.get(key)
        if previous is not None:
            previous[1].processors -= 1
        _watched[key] = (weakref.ref(processor, _forgetter(key)), watching)
        watching.processors += 1
    _watchers[id(watcher)] = watching
    reconsider(watcher)
    setattr(frame_processor, "FramePushed", _Seen)  # noqa: B010 (a module attribute Pipecat reads at each push)


def unwatch(processors: Iterable[FrameProcessor], watcher: Watcher) -> None:
    """Stop showing what ``processors`` push; Pipecat's own records come back once nothing is watched."""
    for processor in processors:
        entry = _watched.pop(id(processor), None)
        if entry is not None:
            entry[1].processors -= 1
    _release(id(watcher))


def is_watched(processor: FrameProcessor) -> bool:
    """Whether what ``processor`` pushes is shown to a watcher."""
    entry = _watched.get(id(processor))
    return entry is not None and entry[0]() is processor


def _forgetter(key: int) -> Callable[[weakref.ref[FrameProcessor]], None]:
    def forget(_gone: weakref.ref[FrameProcessor]) -> None:
        _forget(key)

    return forget


def _forget(key: int) -> None:
    entry = _watched.pop(key, None)
    if entry is None:
        return
    entry[1].processors -= 1
    if not entry[1].processors:
        _release(id(entry[1].watcher))


def _release(owner: int) -> None:
    _watchers.pop(owner, None)
    if not _watchers:
        setattr(frame_processor, "FramePushed", _ORIGINAL)  # noqa: B010


def reconsider(watcher: Watcher, frame_types: Iterable[type] | None = None) -> None:
    """Ask ``watcher`` again whether it wants ``frame_types`` (default: every type)."""
    watching = _watchers.get(id(watcher))
    if watching is None:
        return
    if frame_types is None:
        watching.down.clear()
        watching.up.clear()
        return
    for frame_type in frame_types:
        watching.down.pop(frame_type, None)
        watching.up.pop(frame_type, None)


def finish_later(coroutine: Any, yielded: Any) -> None:
    """Let a task run the rest of ``coroutine``, which suspended on ``yielded`` (what its ``send`` returned)."""
    task = asyncio.ensure_future(_Rest(coroutine, yielded))
    _running.add(task)
    task.add_done_callback(_running.discard)


class _Rest:
    """The rest of a coroutine that suspended on ``yielded``, as an awaitable a task can drive."""

    def __init__(self, coroutine: Any, yielded: Any) -> None:
        self._coroutine = coroutine
        self._yielded = yielded

    def __await__(self) -> Generator[Any, Any, None]:
        coroutine, value = self._coroutine, self._yielded
        while True:
            try:
                sent = yield value
            except BaseException as error:  # thrown in by the task: pass it on
                try:
                    value = coroutine.throw(error)
                except StopIteration:
                    return
            else:
                try:
                    value = coroutine.send(sent)
                except StopIteration:
                    return
