"""A stream that holds only the schema marker (instrumentation/schema.py): every query already runs.

The marker goes the way a bot sends it (our OTLP/HTTP protobuf export) into the O2 stand-in, whose
ingestion flattens, coerces and enriches as O2 does; then every panel of both dashboards and every
alert query runs through its ``_search``. Without the marker each of them fails with 20004.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from instrumentation import contract
from instrumentation.otlp import encode_spans
from instrumentation.otlp_http import OTLPSender
from instrumentation.schema import MARKER_SPAN, marker_span
from provision.kinds import Kind
from provision.panels import panel_queries
from provision.render import Bundle
from tests.conftest import ROOT_EMAIL, ROOT_PASSWORD, TOKEN
from tests.o2_standin import StandIn
from tests.templates.conftest import render

AUTH = {"Authorization": f"Basic {TOKEN}"}


@pytest.fixture(scope="module")
def bundle() -> Bundle:
    """Both dashboards and both alerts (alerts render only with a destination)."""
    return render({"webhook_url": "https://hooks.example.com/o2"})


@pytest.fixture
def standin() -> Iterator[StandIn]:
    server = StandIn(root_email=ROOT_EMAIL, root_password=ROOT_PASSWORD)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def send_marker(server: StandIn, stream: str = "default") -> None:
    endpoint = f"{server.url}/api/default/v1/traces"
    sender = OTLPSender(endpoint, {"Authorization": f"Basic {TOKEN}", "stream-name": stream}, 5.0)
    try:
        assert sender.send(encode_spans([marker_span()])).ok
    finally:
        sender.close()


def queries(bundle: Bundle) -> list[tuple[str, str]]:
    """(name, SQL) of every panel query and every SQL alert, variables at their defaults."""
    named = [(q.panel_id, q.sql) for d in bundle.of(Kind.DASHBOARD) for q in panel_queries(d.payload)]
    alerts = [a.payload["query_condition"] for a in bundle.of(Kind.ALERT)]
    assert len(alerts) == 2
    return named + [("alert", c["sql"]) for c in alerts if c["type"] == "sql"]


def run(server: StandIn, sql: str) -> httpx.Response:
    now = int(time.time() * 1_000_000)
    body = {"query": {"sql": sql, "start_time": now - 3_600_000_000, "end_time": now + 60_000_000}}
    return httpx.post(f"{server.url}/api/default/_search", params={"type": "traces"}, json=body, headers=AUTH)


def test_every_panel_and_alert_query_runs_on_a_stream_holding_only_the_marker(standin: StandIn, bundle: Bundle) -> None:
    send_marker(standin)
    answers = {name: run(standin, sql) for name, sql in queries(bundle)}
    failed = {name: r.json() for name, r in answers.items() if r.status_code != 200}
    assert failed == {}
    hits: dict[str, list[dict[str, Any]]] = {name: r.json()["hits"] for name, r in answers.items()}
    # the marker is counted nowhere: zero where zero is true, nothing elsewhere
    assert hits["turns_total"] == [{"turns": 0}]
    assert hits["sessions_total"] == [{"sessions": 0}]
    assert hits["alert"] == []
    assert all(value == 0 for rows in hits.values() for row in rows for value in row.values()), hits


def test_the_same_queries_fail_on_that_stream_without_the_marker(standin: StandIn, bundle: Bundle) -> None:
    """The guard itself: on a stream made by a span with none of our columns, the queries fail."""
    now_ns = time.time_ns()
    span = {
        "traceId": "ab" * 16,
        "spanId": "cd" * 8,
        "name": "other",
        "startTimeUnixNano": str(now_ns),
        "endTimeUnixNano": str(now_ns + 1000),
    }
    payload = {"resourceSpans": [{"resource": {}, "scopeSpans": [{"spans": [span]}]}]}
    assert httpx.post(f"{standin.url}/api/default/v1/traces", json=payload, headers=AUTH).status_code == 200
    codes = {name: run(standin, sql).json().get("code") for name, sql in queries(bundle)}
    failing = {name for name, code in codes.items() if code == 20004}
    # The ones that still run read only server-made columns once O2 turns the "all" filters into true.
    assert {"stage_breakdown", "latency_percentiles", "cost_total", "slowest_turns", "tokens_total", "alert"} <= failing
    assert len(failing) >= len(codes) - 5


def test_the_marker_triggers_no_llm_rewrite_and_keeps_o2s_sessions_view_working(standin: StandIn) -> None:
    send_marker(standin)
    (record,) = standin.records("default", "default")
    assert (record["operation_name"], record["service_name"]) == (MARKER_SPAN, "o2-provision")
    assert "gen_ai_operation_name" not in record and "session_id" not in record
    assert record["reference_parent_span_id"]
    assert (record["gen_ai_usage_cost"], record["gen_ai_usage_input_tokens"]) == (0.0, 0)
    assert record[contract.column(contract.VOICE_TO_VOICE_MS)] == "0"
    now = int(time.time() * 1_000_000)
    listed = httpx.get(
        f"{standin.url}/api/default/default/traces/session",
        params={"start_time": now - 3_600_000_000, "end_time": now + 60_000_000},
        headers=AUTH,
    )
    assert listed.status_code == 200, listed.text
    assert listed.json()["hits"] == []
