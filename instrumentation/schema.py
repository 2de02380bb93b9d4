"""Every column the dashboards and alerts read, in the stream's schema before the bot's first turn.

OpenObserve fails a whole query that names a column no record of the stream has ever had (400, code
20004), and a stream's schema only grows with the records it receives: a text bot never sends
``pipecat.stt_ms``, a bot with ``capture_content=False`` never sends ``pipecat.user_message``, and the
cost columns appear with O2's first LLM rewrite. So once per process and stream, the instrumentation
exports one marker span, :data:`MARKER_SPAN`, that has them all.

The marker changes no number on any panel, alert or O2 view:

* its ``operation_name`` is one that every panel and alert query filters out;
* it is its own trace, of its own service (``o2-provision``), with no ``session.id``, so no bot's
  traces, sessions or totals include it;
* it carries no key that triggers O2's LLM rewrite: ``gen_ai.usage.*`` are not triggers, and O2
  coerces them to numbers on any span (openobserve-llm.md §1, §3); the four columns O2's sessions
  API checks together are all there (§6);
* its numbers are ``"0"`` and its texts empty: a ``CAST`` runs over every row a query scans, those
  its filter drops included, and ``CAST('' AS BIGINT)`` fails the query;
* it has a parent span id (one that exists nowhere), so ``reference_parent_span_id`` exists too.

With ``setup_openobserve()`` it goes to OpenObserve only, through our export's queue, never to the
application's other exporters. A bot on its own OpenTelemetry set-up (``instrument_pipeline`` without
``setup_openobserve``) gets it too, once per process, at its first ``instrument_pipeline``: through the
provider its pipeline's spans use, so wherever they go it goes too, under the bot's own service name.
"""

from __future__ import annotations

import os
import threading
import time

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, Status, StatusCode, TraceFlags

from instrumentation import contract
from instrumentation.runtime import RUNTIME, TRACER_NAME, tracer

MARKER_SPAN = "pipecat.schema"
MARKER_SERVICE = "o2-provision"  # as `o2-provision apply --bootstrap-stream` sends it

# The text columns of the contract; every other pipecat.* key holds a number or a flag.
_TEXT_KEYS = frozenset(
    {
        contract.SESSION_ID,
        contract.SERVICE,
        contract.PROVIDER,
        contract.MODEL,
        contract.USER_MESSAGE,
        contract.ASSISTANT_MESSAGE,
        contract.FAILED_STAGE,
        contract.ERROR,
    }
)

# Columns O2 adds to the ChatCompletion spans it enriches, read by the cost panels.
O2_LLM_ATTRIBUTES: dict[str, str] = {
    "gen_ai.usage.input_tokens": "0",
    "gen_ai.usage.output_tokens": "0",
    "gen_ai.usage.total_tokens": "0",
    "gen_ai.usage.cost": "0",
    "gen_ai.response.model": "",
}

_primed: set[tuple[str, str | None]] = set()
_primed_pipeline_provider = False
_lock = threading.Lock()


def contract_keys() -> list[str]:
    """Every ``pipecat.*`` attribute key :mod:`instrumentation.contract` names (span names excluded)."""
    return sorted(
        value
        for name, value in vars(contract).items()
        if name.isupper() and not name.endswith("_SPAN") and isinstance(value, str) and value.startswith("pipecat.")
    )


def marker_attributes() -> dict[str, str]:
    """The marker's attributes: each contract key and each O2 LLM column, with a harmless value."""
    attributes = {key: "" if key in _TEXT_KEYS else "0" for key in contract_keys()}
    attributes[contract.SCHEMA] = contract.SCHEMA_VERSION
    return {**attributes, **O2_LLM_ATTRIBUTES}


def _ids() -> tuple[int, int]:
    return int.from_bytes(os.urandom(16), "big") or 1, int.from_bytes(os.urandom(8), "big") or 1


def marker_span() -> ReadableSpan:
    """A finished marker span of its own trace, from service ``o2-provision`` (not the bot's)."""
    trace_id, span_id = _ids()
    flags = TraceFlags(TraceFlags.SAMPLED)
    now = time.time_ns()
    return ReadableSpan(
        name=MARKER_SPAN,
        context=SpanContext(trace_id, span_id, is_remote=False, trace_flags=flags),
        parent=SpanContext(trace_id, _ids()[1], is_remote=True, trace_flags=flags),
        resource=Resource({"service.name": MARKER_SERVICE}),
        attributes=marker_attributes(),
        kind=SpanKind.INTERNAL,
        instrumentation_scope=InstrumentationScope(TRACER_NAME),
        status=Status(StatusCode.OK),
        start_time=now,
        end_time=now + 1_000,
    )


def prime_stream(processor: SpanProcessor, endpoint: str, stream: str | None) -> bool:
    """Queue the marker on our OpenObserve export, once per process for each (endpoint, stream)."""
    with _lock:
        if (endpoint, stream) in _primed:
            return False
        _primed.add((endpoint, stream))
    processor.on_end(marker_span())
    return True


def prime_pipeline_provider() -> bool:
    """Send the marker through the provider our pipeline spans use, once per process, unless
    ``setup_openobserve`` installed our export (which sends its own)."""
    global _primed_pipeline_provider
    with _lock:
        if _primed_pipeline_provider or RUNTIME.tracer_provider is not None:
            return False
        _primed_pipeline_provider = True
    trace_id, parent_id = _ids()
    parent = NonRecordingSpan(
        SpanContext(trace_id, parent_id, is_remote=True, trace_flags=TraceFlags(TraceFlags.SAMPLED))
    )
    span = tracer().start_span(
        MARKER_SPAN, context=trace.set_span_in_context(parent), kind=SpanKind.INTERNAL, attributes=marker_attributes()
    )
    span.set_status(Status(StatusCode.OK))
    span.end()
    return True
