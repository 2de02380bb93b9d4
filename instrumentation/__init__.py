"""Trace Pipecat voice bots into OpenObserve.

``setup_openobserve()`` (alias ``openobserve_init``) sends spans to OpenObserve, ``instrument_pipeline``
traces a pipeline's turns and LLM calls, ``llm_service_span`` traces an LLM call made by hand, and
``uninstrument`` undoes it all. The span names and attribute keys are in :mod:`instrumentation.contract`.
"""

from instrumentation.config import ConfigurationError
from instrumentation.hooks import instrument_pipeline, uninstrument_pipeline
from instrumentation.llm_span import LLMCallRecorder, LLMServiceSpan, llm_service_span
from instrumentation.setup import openobserve_init, setup_openobserve, uninstrument

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
