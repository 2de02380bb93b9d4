"""Offline demo parts: a real Pipecat bot and traffic for `o2-provision demo`; `fakes` holds the fake providers."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from loguru import Message


def quiet_pipecat(verbose: bool = False) -> None:
    """Keep Pipecat's own logging (an import banner, per-frame errors) out of the demo's output.

    With verbose, each of its records goes to stderr instead, on one line starting with `pipecat:`.
    Call it before anything imports Pipecat.
    """
    import logging
    import sys
    import warnings

    from loguru import logger

    from provision.scrub import one_line

    def to_stderr(message: Message) -> None:
        record = message.record
        sys.stderr.write(f"pipecat: {record['level'].name.lower()}: {one_line(record['message'])}\n")

    logger.remove()
    if verbose:
        logger.add(to_stderr, level="INFO")
    logging.getLogger("instrumentation").setLevel(logging.WARNING)
    # OpenInference's wrapper of the async TTS call leaves a coroutine un-awaited; that span is dropped.
    warnings.filterwarnings("ignore", message="coroutine 'AsyncAPIResponse.parse' was never awaited")
