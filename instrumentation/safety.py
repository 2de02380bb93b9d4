"""Keeping instrumentation failures away from the bot: catch, log once per place, carry on."""

from __future__ import annotations

import logging
from types import TracebackType

logger = logging.getLogger("instrumentation")

_reported: set[str] = set()


def report(where: str, error: Exception) -> None:
    """Log an instrumentation error caught in ``where`` (once per place); for ``try``/``except`` on hot paths."""
    if where not in _reported:
        _reported.add(where)
        logger.warning(
            "instrumentation error in %s; tracing continues without it",
            where,
            exc_info=(type(error), error, error.__traceback__),
        )


class contained:  # lower case: it reads as a function at its call sites, ``with contained("where"):``
    """Run a block of instrumentation code; an exception in it is logged (once per ``where``) and dropped.

    Three Python calls a block: code that runs on every frame uses ``try``/``except`` and :func:`report`.
    """

    __slots__ = ("_where",)

    def __init__(self, where: str) -> None:
        self._where = where

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool:
        if exc_type is None or not issubclass(exc_type, Exception) or not isinstance(exc, Exception):
            return False
        report(self._where, exc)
        return True
