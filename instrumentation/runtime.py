"""Process-wide instrumentation settings shared by the span builders.

``setup_openobserve`` fills these in; without it the spans go to the global tracer provider with the
default content settings, so ``instrument_pipeline`` also works with an application's own OTel set-up.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.attributes import BoundedAttributes

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


_PLAIN = frozenset((str, int, float, bool))


def start_span(
    name: str,
    context: otel_context.Context,
    attributes: dict[str, str | int | float | bool],
    start_time: int | None = None,
) -> trace.Span:
    """Start one of our spans with ``attributes`` (see :func:`set_attributes`).

    They are set just after the start: the SDK's samplers and ``on_start`` processors see the span without
    them (ours do not read them; they are all there at the end).
    """
    span = tracer().start_span(name, context=context, start_time=start_time)
    set_attributes(span, attributes)
    return span


def set_attributes(span: trace.Span, attributes: dict[str, str | int | float | bool]) -> None:
    """``span.set_attributes(attributes)``, skipping the SDK's per-attribute cleaning where it would change nothing.

    The SDK cleans and checks each attribute in several Python calls. Ours are plain values (str, int,
    float, bool) with non-empty names; while the span has no value length limit and room for them all,
    they go straight into its attribute store, as the SDK would put them. Anything else takes the SDK's way.
    """
    fields = getattr(span, "__dict__", None)
    bounded = fields.get("_attributes") if fields is not None else None
    if (
        fields is None
        or type(bounded) is not BoundedAttributes
        or bounded.max_value_len is not None
        or bounded._immutable
        or fields.get("_end_time") is not None
        or (bounded.maxlen is not None and len(bounded._dict) + len(attributes) > bounded.maxlen)
    ):
        span.set_attributes(attributes)
        return
    for key, value in attributes.items():
        if type(value) not in _PLAIN or type(key) is not str or not key:
            span.set_attributes(attributes)
            return
    with fields["_lock"], bounded._lock:
        store = bounded._dict
        for key, value in attributes.items():
            store.pop(key, None)  # a key set again moves to the end, as the SDK does
            store[key] = value


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
