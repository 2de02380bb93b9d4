"""Trace Pipecat voice bots into OpenObserve.

``setup_openobserve()`` (alias ``openobserve_init``) sends spans to OpenObserve, ``instrument_pipeline``
traces a pipeline's turns and LLM calls, ``llm_service_span`` traces an LLM call made by hand, and
``uninstrument`` undoes it all. The span names and attribute keys are in :mod:`instrumentation.contract`.

Each name is imported on first use: importing a light submodule (``instrumentation.envfile``, the
``.env`` reader the CLI shares) does not load Pipecat or the OpenTelemetry SDK.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from instrumentation.config import ConfigurationError
    from instrumentation.hooks import instrument_pipeline, uninstrument_pipeline
    from instrumentation.llm_span import LLMCallRecorder, LLMServiceSpan, llm_service_span
    from instrumentation.setup import openobserve_init, setup_openobserve, uninstrument

_HOME = {
    "ConfigurationError": "instrumentation.config",
    "LLMCallRecorder": "instrumentation.llm_span",
    "LLMServiceSpan": "instrumentation.llm_span",
    "instrument_pipeline": "instrumentation.hooks",
    "llm_service_span": "instrumentation.llm_span",
    "openobserve_init": "instrumentation.setup",
    "setup_openobserve": "instrumentation.setup",
    "uninstrument": "instrumentation.setup",
    "uninstrument_pipeline": "instrumentation.hooks",
}

__all__ = [
    "ConfigurationError",
    "LLMCallRecorder",
    "LLMServiceSpan",
    "instrument_pipeline",
    "llm_service_span",
    "openobserve_init",
    "setup_openobserve",
    "uninstrument",
    "uninstrument_pipeline",
]


def __getattr__(name: str) -> Any:
    """The public name, imported from its module the first time it is asked for."""
    if name not in _HOME:
        raise AttributeError(f"module 'instrumentation' has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOME[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
