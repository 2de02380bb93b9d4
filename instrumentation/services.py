"""What a Pipecat service is: the provider it talks to and the model it runs."""

from __future__ import annotations

from pipecat.processors.frame_processor import FrameProcessor


def provider_of(service: FrameProcessor) -> str:
    """The provider a Pipecat service talks to: its ``pipecat.services.<provider>`` package."""
    for cls in type(service).__mro__:
        parts = cls.__module__.split(".")
        if len(parts) > 2 and parts[:2] == ["pipecat", "services"]:
            return parts[2]
    return type(service).__name__.removesuffix("LLMService").lower() or "unknown"


def model_of(service: FrameProcessor) -> str:
    """The model the service is set to use, or ``unknown``."""
    settings_model = getattr(getattr(service, "_settings", None), "model", None)
    name = settings_model or getattr(service, "model_name", None)
    return str(name) if name else "unknown"
