"""Smoke tests for the stand-in's LLM rewrite, pricing API and sessions view (openobserve-llm.md)."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.o2_standin import StandIn

AUTH = {"Authorization": "Basic " + base64.b64encode(b"root@example.com:Complexpass#123").decode()}


@pytest.fixture
def client() -> Iterator[tuple[StandIn, httpx.Client]]:
    s = StandIn(root_email="root@example.com", root_password="Complexpass#123", allow_loopback=True)
    with s, httpx.Client(base_url=s.start(), headers=AUTH) as c:
        yield s, c


def _kv(k: str, v: Any) -> dict[str, Any]:
    if isinstance(v, int):
        return {"key": k, "value": {"intValue": v}}
    return {"key": k, "value": {"stringValue": v}}


def _chat_span(now: int) -> dict[str, Any]:
    attrs = {
        "openinference.span.kind": "LLM",
        "llm.model_name": "gpt-4o-mini-2024-07-18",
        "llm.token_count.prompt": 120,
        "llm.token_count.completion": 30,
        "llm.token_count.total": 150,
        "llm.invocation_parameters": '{"model": "gpt-4o-mini", "temperature": 0.7}',
        "llm.input_messages.0.message.role": "user",
        "llm.input_messages.0.message.content": "hi",
        "input.value": '{"messages":[{"role":"user","content":"hi"}]}',
        "output.value": '{"choices":[]}',
        "session.id": "sess-1",
        "user.id": "user-7",
    }
    return {
        "traceId": "99fbb827d84246cfb5113f2fbd8bcede",
        "spanId": "51ce5088d24241d8",
        "name": "ChatCompletion",
        "kind": 1,
        "startTimeUnixNano": str(now),
        "endTimeUnixNano": str(now + 10**9),
        "attributes": [_kv(k, v) for k, v in attrs.items()],
    }


def _ingest(c: httpx.Client, spans: list[dict[str, Any]]) -> httpx.Response:
    body = {
        "resourceSpans": [
            {
                "resource": {"attributes": [_kv("service.name", "bot")]},
                "scopeSpans": [{"scope": {"name": "openinference.instrumentation.openai"}, "spans": spans}],
            }
        ]
    }
    return c.post("/api/default/v1/traces", json=body)


def test_openinference_span_is_rewritten(client: tuple[StandIn, httpx.Client]) -> None:
    s, c = client
    assert _ingest(c, [_chat_span(time.time_ns())]).status_code == 200
    (rec,) = s.records("default", "default")
    assert rec["gen_ai_operation_name"] == "chat"
    assert rec["gen_ai_response_model"] == "gpt-4o-mini-2024-07-18"
    assert rec["gen_ai_usage_input_tokens"] == 120
    assert rec["gen_ai_usage_total_tokens"] == 150
    assert rec["gen_ai_usage_cost"] == pytest.approx(3.6e-05)
    assert rec["gen_ai_request_temperature"] == "0.7"
    assert rec["gen_ai_conversation_id"] == "sess-1"
    assert rec["llm_token_count_prompt"] == "120"
    assert "input_value" not in rec and "llm_input_messages_0_message_role" not in rec


def test_org_pricing_beats_hardcoded(client: tuple[StandIn, httpx.Client]) -> None:
    s, c = client
    r = c.post(
        "/api/default/llm/models",
        json={"name": "mini", "match_pattern": "gpt-4o-mini", "tiers": [{"name": "d", "prices": {"input": 1e-6}}]},
    )
    assert r.status_code == 201
    _ingest(c, [_chat_span(time.time_ns())])
    (rec,) = s.records("default", "default")
    assert rec["gen_ai_usage_cost"] == pytest.approx(120e-6)


def test_sessions_list(client: tuple[StandIn, httpx.Client]) -> None:
    _, c = client
    now = time.time_ns()
    _ingest(c, [_chat_span(now)])
    us = now // 1000
    r = c.get(f"/api/default/default/traces/session?start_time={us - 10**9}&end_time={us + 10**9}")
    assert r.status_code == 200
    (hit,) = r.json()["hits"]
    assert hit["session_id"] == "sess-1" and hit["first_user_message"] == "hi"
    assert (
        c.get("/api/default/default/traces/session?start_time=0&end_time=1").json()["message"] == "start_time is empty"
    )
