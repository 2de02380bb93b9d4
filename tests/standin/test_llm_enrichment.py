"""§2.7 of the reference (with the worked example of openobserve-llm.md §2c): LLM span enrichment."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from .helpers import ORG, ingest, otlp_request, otlp_span

INPUT = json.dumps({"messages": [{"role": "user", "content": "hi"}], "model": "gpt-4o-mini"})
OUTPUT = json.dumps({"choices": [{"message": {"role": "assistant", "content": "hello"}}]})


def chat_span(**extra: Any) -> dict[str, Any]:
    attrs: dict[str, Any] = {
        "openinference.span.kind": "LLM",
        "llm.model_name": "gpt-4o-mini-2024-07-18",
        "llm.provider": "openai",
        "llm.token_count.prompt": 120,
        "llm.token_count.completion": 30,
        "llm.token_count.total": 150,
        "llm.invocation_parameters": '{"model": "gpt-4o-mini", "temperature": 0.7}',
        "llm.input_messages.0.message.role": "user",
        "llm.input_messages.0.message.content": "hi",
        "llm.output_messages.0.message.content": "hello",
        "input.value": INPUT,
        "input.mime_type": "application/json",
        "output.value": OUTPUT,
        "session.id": "sess-1",
        "user.id": "user-7",
    }
    attrs.update(extra)
    return otlp_span("ChatCompletion", kind=3, attrs=attrs)


def test_llm_openinference_span_is_rewritten(client: httpx.Client, standin: Any) -> None:
    r = ingest(client, otlp_request([chat_span()], service="pipecat-bot"))
    assert r.status_code == 200, r.text
    (rec,) = standin.records(ORG, "default")
    # kept as ordinary string columns
    assert rec["openinference_span_kind"] == "LLM"
    assert rec["llm_model_name"] == "gpt-4o-mini-2024-07-18"
    assert rec["llm_token_count_prompt"] == "120"
    assert rec["llm_token_count_total"] == "150"
    assert rec["session_id"] == "sess-1"
    assert rec["input_mime_type"] == "application/json"
    # added
    assert rec["gen_ai_operation_name"] == "chat"
    assert rec["gen_ai_response_model"] == "gpt-4o-mini-2024-07-18"
    assert rec["gen_ai_input_messages"] == INPUT
    assert rec["gen_ai_output_messages"] == OUTPUT
    assert rec["gen_ai_request_temperature"] == "0.7"
    assert rec["gen_ai_usage_input_tokens"] == 120
    assert rec["gen_ai_usage_output_tokens"] == 30
    assert rec["gen_ai_usage_total_tokens"] == 150
    assert rec["gen_ai_usage_cost_input"] == pytest.approx(1.8e-05)
    assert rec["gen_ai_usage_cost_output"] == pytest.approx(1.8e-05)
    assert isinstance(rec["gen_ai_usage_cost"], float)
    assert rec["gen_ai_usage_cost"] == pytest.approx(3.6e-05)
    assert rec["gen_ai_conversation_id"] == "sess-1"
    assert rec["user_id"] == "user-7"
    # removed / never added
    for gone in (
        "input_value",
        "output_value",
        "llm_input_messages_0_message_role",
        "llm_input_messages_0_message_content",
        "llm_output_messages_0_message_content",
        "gen_ai_provider_name",
        "gen_ai_request_model",
    ):
        assert gone not in rec, gone
    assert rec["operation_name"] == "ChatCompletion"
    assert rec["service_name"] == "pipecat-bot"


def test_llm_unpriced_model_cost_is_zero(client: httpx.Client, standin: Any) -> None:
    r = ingest(client, [chat_span(**{"llm.model_name": "GPT-4o-mini"})])  # patterns are case-sensitive
    assert r.status_code == 200
    (rec,) = standin.records(ORG, "default")
    assert rec["gen_ai_usage_cost"] == 0.0
    assert "gen_ai_usage_cost_input" not in rec
    assert rec["gen_ai_usage_input_tokens"] == 120


def test_llm_pipecat_only_span_not_rewritten(client: httpx.Client, standin: Any) -> None:
    span = otlp_span("llm", attrs={"pipecat.prompt_tokens": 42, "session.id": "s"})
    assert ingest(client, [span]).status_code == 200
    (rec,) = standin.records(ORG, "default")
    assert rec["pipecat_prompt_tokens"] == "42"
    assert rec["session_id"] == "s"
    for k in ("gen_ai_usage_cost", "gen_ai_usage_input_tokens", "gen_ai_operation_name", "gen_ai_conversation_id"):
        assert k not in rec, k


def test_llm_gen_ai_usage_columns_coerced_on_any_span(client: httpx.Client, standin: Any) -> None:
    span = otlp_span("parent", attrs={"gen_ai.usage.input_tokens": 42, "gen_ai.usage.cost": "0.01"})
    assert ingest(client, [span]).status_code == 200
    (rec,) = standin.records(ORG, "default")
    assert rec["gen_ai_usage_input_tokens"] == 42
    assert rec["gen_ai_usage_cost"] == 0.01
    assert "gen_ai_operation_name" not in rec
