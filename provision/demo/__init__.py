"""Offline demo parts: a real Pipecat bot and traffic for `o2-provision demo`; `fakes` holds the fake providers."""

from __future__ import annotations


def quiet_pipecat() -> None:
    """Keep Pipecat's own logging (an import banner, per-frame errors) out of the demo's output.

    Call it before anything imports Pipecat.
    """
    import logging
    import sys
    import warnings

    from loguru import logger

    logger.remove()
    logger.add(sys.stderr, level="CRITICAL")
    logging.getLogger("instrumentation").setLevel(logging.WARNING)
    # OpenInference's wrapper of the async TTS call leaves a coroutine un-awaited; that span is dropped.
    warnings.filterwarnings("ignore", message="coroutine 'AsyncAPIResponse.parse' was never awaited")
