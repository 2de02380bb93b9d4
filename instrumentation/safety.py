"""Keeping instrumentation failures away from the bot: catch, log once per place, carry on."""

from __future__ import annotations

import logging
from types import TracebackType

logger = logging.getLogger("instrumentation")

_reported: set[str] = set()


class contained:  # lower case: it reads as a function at its call sites, ``with contained("where"):``
    """Run a block of instrumentation code; an exception in it is logged (once per ``where``) and dropped.

    A plain class rather than a ``@contextmanager`` generator: it runs on every frame the hooks see.
    """

    __slots__ = ("_where",)

    def __init__(self, where: str) -> None:
        self._where = where

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool:
        if exc_type is None or not issubclass(exc_type, Exception):
            return False
        if self._where not in _reported:
            _reported.add(self._where)
            logger.warning(
                "instrumentation error in %s; tracing continues without it",
                self._where,
                exc_info=(exc_type, exc, tb),  # type: ignore[arg-type]
            )
        return True
