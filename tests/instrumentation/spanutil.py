"""Small helpers to look at finished spans."""

from __future__ import annotations

from typing import Any

from opentelemetry.sdk.trace import ReadableSpan

from instrumentation.contract import LLM_SPAN, TURN_SPAN

# Keys that make OpenObserve rewrite a span as an LLM span (openobserve-llm.md §1).
O2_TRIGGER_KEYS = {
    "gen_ai.operation.name", "gen_ai.request.model", "gen_ai.input.messages", "gen_ai.agent.name",
    "gen_ai.agent.id", "llm.request.type", "ai.model.id", "ai.prompt", "ai.prompt.messages",
    "llm.model_name", "langfuse.observation.type", "openinference.span.kind", "agent.name", "tool.name",
    "tool_call.function.name", "gcp.vertex.agent.name", "crewai.task.agent", "crewai.task.tools",
    "langchain.tool.name", "gcp.vertex.agent.llm_request", "prompt", "mlflow.spanInputs",
    "traceloop.span.kind", "input", "input.value",
}  # fmt: skip


def named(spans: list[ReadableSpan], name: str) -> list[ReadableSpan]:
    return [s for s in spans if s.name == name]


def attrs(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


def parent_of(span: ReadableSpan, spans: list[ReadableSpan]) -> ReadableSpan | None:
    if span.parent is None:
        return None
    return next((s for s in spans if s.context is not None and s.context.span_id == span.parent.span_id), None)


def trace_id(span: ReadableSpan) -> int:
    assert span.context is not None
    return span.context.trace_id


def ours(spans: list[ReadableSpan]) -> list[ReadableSpan]:
    return [s for s in spans if s.name in (TURN_SPAN, LLM_SPAN)]


def forbidden_keys(attributes: dict[str, Any]) -> set[str]:
    """Keys on one of our spans that OpenObserve would treat as LLM data."""
    return {k for k in attributes if k in O2_TRIGGER_KEYS or k.startswith(("gen_ai.", "llm."))}
