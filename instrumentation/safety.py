"""Keeping instrumentation failures away from the bot: catch, log once per place, carry on."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

logger = logging.getLogger("instrumentation")

_reported: set[str] = set()


@contextmanager
def contained(where: str) -> Iterator[None]:
    """Run a block of instrumentation code; an exception in it is logged (once per ``where``) and dropped."""
    try:
        yield
    except Exception:
        if where not in _reported:
            _reported.add(where)
            logger.warning("instrumentation error in %s; tracing continues without it", where, exc_info=True)
