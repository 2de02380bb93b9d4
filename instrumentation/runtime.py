"""Process-wide instrumentation settings shared by the span builders.

``setup_openobserve`` fills these in; without it the spans go to the global tracer provider with the
default content settings, so ``instrument_pipeline`` also works with an application's own OTel set-up.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from opentelemetry import trace

from instrumentation.contract import DEFAULT_CONTENT_LIMIT, REDACTED

# Longer JSON content (a tool's result, say) is cut: O2 keeps it in one string column.
CONTENT_JSON_LIMIT = 32_000

TRACER_NAME = "o2_provision.instrumentation"


@dataclass
class Runtime:
    """What the span builders read at span time."""

    tracer_provider: trace.TracerProvider | None = None
    capture_content: bool = True
    content_limit: int = DEFAULT_CONTENT_LIMIT


RUNTIME = Runtime()


_last: tuple[trace.TracerProvider, trace.Tracer] | None = None


def tracer() -> trace.Tracer:
    """Our tracer, from the provider ``setup_openobserve`` installed, else the global one."""
    global _last
    provider = RUNTIME.tracer_provider or trace.get_tracer_provider()
    # Kept for the provider last used: each get_tracer call builds a new tracer and instrumentation scope.
    if _last is None or _last[0] is not provider:
        _last = (provider, trace.get_tracer(TRACER_NAME, tracer_provider=provider))
    return _last[1]


def clip(text: str | None) -> str | None:
    """``text`` cut to the content limit, or None when content capture is off."""
    if text is None or not RUNTIME.capture_content:
        return None
    return text[: RUNTIME.content_limit]


def content_json(value: Any) -> str:
    """``value`` as the JSON an ``input.value`` / ``output.value`` holds, within the content settings."""
    if not RUNTIME.capture_content:
        return REDACTED
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text[:CONTENT_JSON_LIMIT]
