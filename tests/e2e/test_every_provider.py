"""Issue 14's proof on the O2 side: what a user sees in O2 for a bot of every LLM family.

Per family (OpenAI, Anthropic, Gemini, Bedrock text pipelines; OpenAI Realtime and Gemini Live
speech-to-speech), ``o2-provision apply`` sets up a fresh stand-in for the family's stream (dashboards,
alerts, a webhook, prices for the models O2's table lacks), then a healthy session (two turns, the first
calling a tool) and a failing one run at once against the family's local fake (:mod:`tests.e2e.providers`).
O2's LLM sessions view, its session details, the tool span, every dashboard panel, ``o2-provision report``
and the failed-turn alert must then agree with what the fakes answered and reported.

One rule of O2's is not ours to change: a call whose provider reported 0 input tokens (the fakes' speech-to-
speech greeting, which has no user words) is counted by O2's tokenizer from its request instead
(openobserve-llm.md §2b). Those estimates are read from O2, as ``test_llm_views`` does for failed calls.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from instrumentation import contract
from provision.demo.webhook import WebhookReceiver as Webhook
from provision.panels import panel_queries
from tests.conftest import TOKEN
from tests.e2e.conftest import ORG, Export, api, applied_dashboards, search, start_standin
from tests.e2e.providers import (
    ALERT_WITHIN_S,
    CUSTOM_PRICES,
    FAMILIES,
    TOOL,
    Family,
    FamilyRun,
    Played,
    o2_cost,
    play,
)
from tests.o2_standin import StandIn
from tests.provision.hostile import Outcome
from tests.provision.hostile import run as o2_provision

pytestmark = pytest.mark.filterwarnings("ignore:coroutine 'AsyncAPIResponse.parse' was never awaited")

TURN_ENDS_WITHIN_S = 1.0
FAILED_ROW = re.compile(r"^session (\S+) turn (\d+): (pipecat\.\S+) failed \(trace ([0-9a-f]{32})\)$")
FAMILY_IDS = [f.name for f in FAMILIES]


@dataclass
class Observed:
    """One family's sessions, traced into their own stream of a fresh stand-in."""

    family: Family
    run: FamilyRun
    server: StandIn
    hook: Webhook
    folder: Path
    stream: str
    start_us: int
    end_us: int

    def cli(self, *args: str) -> Outcome:
        """``o2-provision *args`` against this stand-in, in this process (a subprocess costs 3 s)."""
        return cli_in(self.server, self.folder, *args)

    def records(self, operation: str, session_id: str) -> list[dict[str, Any]]:
        """The session's spans named ``operation`` as O2 stored them, oldest first."""
        mine = [
            r
            for r in self.server.records(ORG, self.stream)
            if r["operation_name"] == operation and r.get("pipecat_session_id") == session_id
        ]
        return sorted(mine, key=lambda r: int(r["start_time"]))

    def get(self, path: str, **params: Any) -> Any:
        with api(self.server) as client:
            response = client.get(f"/api/{ORG}/{self.stream}{path}", params=params)
        assert response.status_code == 200, response.text
        return response.json()


def cli_in(server: StandIn, folder: Path, *args: str) -> Outcome:
    return o2_provision(list(args), {"OPENOBSERVE_URL": server.url, "OPENOBSERVE_AUTH_TOKEN": TOKEN}, folder)


@pytest.fixture(scope="module")
def observed(
    request: pytest.FixtureRequest, export: Export, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Observed]:
    family: Family = request.param
    stream = "pipecat_" + family.name.replace("-", "_")  # O2 would turn "-" into "_" itself
    server = start_standin()
    hook = Webhook()
    try:
        folder = tmp_path_factory.mktemp(family.name)
        values = folder / "values.yaml"
        settings = {"stream": stream, "webhook_url": hook.url, "model_prices": list(CUSTOM_PRICES)}
        values.write_text(yaml.safe_dump(settings), encoding="utf-8")
        applied = cli_in(server, folder, "apply", "--yes", "--bootstrap-stream", "-f", str(values))
        assert applied.code == 0, applied.err
        start_us = int((time.time() - 5) * 1_000_000)
        export.to(server, stream)
        try:
            run = play(family, hook)
        finally:
            export.release()
        yield Observed(family, run, server, hook, folder, stream, start_us, int(time.time() * 1_000_000) + 1_000_000)
    finally:
        hook.stop()
        server.stop()


@dataclass(frozen=True)
class InO2:
    """A session's tokens and cost as O2 must show them: the fake's usage, each call counted once."""

    input_tokens: int
    output_tokens: int
    cost: float


def in_o2(o: Observed, played: Played) -> InO2:
    """The fake's figures, with O2's tokenizer estimate where the provider reported 0 input tokens."""
    unreported = [a for a in played.answers if a.prompt_tokens == 0 and a.completion_tokens > 0]
    estimated = [
        r
        for r in o.records(contract.CHAT_SPAN, played.session_id)
        if int(r.get(contract.column(contract.OI_PROMPT_TOKENS)) or 0) == 0
    ]
    assert len(estimated) == len(unreported), "a call without reported input tokens is not the fake's"
    estimates = [int(r["gen_ai_usage_input_tokens"]) for r in estimated]
    cost = sum(a.cost for a in played.answers if a.prompt_tokens > 0) + sum(
        o2_cost(a.model, e, a.completion_tokens) for a, e in zip(unreported, estimates, strict=True)
    )
    return InO2(played.prompt_tokens + sum(estimates), played.completion_tokens, cost)


def listed(o: Observed) -> dict[str, dict[str, Any]]:
    """O2's LLM sessions view (``/traces/session``), by session id."""
    body = o.get("/traces/session", start_time=o.start_us, end_time=o.end_us, size=100)
    assert body["has_more"] is False
    return {h["session_id"]: h for h in body["hits"]}


def every_panel(o: Observed) -> dict[str, list[dict[str, Any]]]:
    """Every panel of both applied dashboards, run over the run's range: id → rows (an error fails)."""
    dashboards = applied_dashboards(o.server)
    assert set(dashboards) == {"Pipecat · Turn latency", "Pipecat · Tokens and sessions"}
    queries = [q for d in dashboards.values() for q in panel_queries(d)]
    with ThreadPoolExecutor(4) as pool:
        rows = list(pool.map(lambda q: search(o.server, q.sql, o.start_us, o.end_us), queries))
    return {q.panel_id: r for q, r in zip(queries, rows, strict=True)}


@pytest.mark.parametrize("observed", FAMILIES, ids=FAMILY_IDS, indirect=True)
def test_the_sessions_view_shows_the_fakes_turns_tokens_and_cost(observed: Observed) -> None:
    healthy = observed.run.healthy
    assert healthy.answers, "the fake answered nothing"
    hit = listed(observed)[healthy.session_id]
    assert hit["trace_count"] == healthy.turns
    expected = in_o2(observed, healthy)
    # Counted once: neither our own spans nor a provider SDK's span add a second copy.
    assert (hit["gen_ai_usage_input_tokens"], hit["gen_ai_usage_output_tokens"]) == (
        expected.input_tokens,
        expected.output_tokens,
    )
    assert expected.cost > 0
    assert hit["gen_ai_usage_cost"] == pytest.approx(expected.cost, rel=1e-12)
    assert hit["error_count"] == 0


@pytest.mark.parametrize("observed", FAMILIES, ids=FAMILY_IDS, indirect=True)
def test_session_details_show_one_trace_per_turn_with_the_fakes_model(observed: Observed) -> None:
    healthy = observed.run.healthy
    body = observed.get(
        "/traces/session/details", session_id=healthy.session_id, start_time=observed.start_us, end_time=observed.end_us
    )
    traces = body["hits"]
    turns = {
        r["trace_id"]: int(r["pipecat_turn_number"]) for r in observed.records(contract.TURN_SPAN, healthy.session_id)
    }
    assert sorted(turns.values()) == list(range(1, healthy.turns + 1))
    assert sorted(t["trace_id"] for t in traces) == sorted(turns)
    assert all(set(t["models"]) == healthy.models for t in traces), [t["models"] for t in traces]
    chats = observed.records(contract.CHAT_SPAN, healthy.session_id)
    assert {r[contract.column(contract.OI_PROVIDER)] for r in chats} == {observed.family.provider}
    expected = in_o2(observed, healthy)
    assert sum(t["gen_ai_usage_input_tokens"] for t in traces) == expected.input_tokens
    assert sum(t["gen_ai_usage_output_tokens"] for t in traces) == expected.output_tokens


@pytest.mark.parametrize("observed", FAMILIES, ids=FAMILY_IDS, indirect=True)
def test_the_tool_call_is_an_execute_tool_span_without_tokens(observed: Observed) -> None:
    healthy = observed.run.healthy
    (tool,) = observed.records(contract.TOOL_SPAN, healthy.session_id)
    assert (tool["gen_ai_operation_name"], tool["gen_ai_tool_name"]) == ("execute_tool", TOOL)
    assert (tool["gen_ai_usage_input_tokens"], tool["gen_ai_usage_output_tokens"], tool["gen_ai_usage_cost"]) == (
        0,
        0,
        0.0,
    )
    assert tool["gen_ai_conversation_id"] == healthy.session_id
    (turn,) = [t for t in observed.records(contract.TURN_SPAN, healthy.session_id) if t["trace_id"] == tool["trace_id"]]
    assert turn["pipecat_tool_calls"] == "1"


@pytest.mark.parametrize("observed", FAMILIES, ids=FAMILY_IDS, indirect=True)
def test_every_panel_runs_and_counts_the_fakes_turns_and_tokens(observed: Observed) -> None:
    rows = every_panel(observed)
    healthy, failing = observed.run.healthy, observed.run.failing
    per_session = {r["session"]: r["turns"] for r in rows["turns_per_session"]}
    assert per_session == {healthy.session_id: healthy.turns, failing.session_id: failing.turns}
    (total,) = rows["turns_total"]
    assert total["turns"] == healthy.turns + failing.turns
    tokens = {r["session"]: r for r in rows["tokens_per_session_table"]}
    for played in (healthy, failing):
        row = tokens[played.session_id]
        assert (row["prompt_tokens"], row["completion_tokens"]) == (played.prompt_tokens, played.completion_tokens)
    (grand,) = rows["tokens_total"]
    assert grand["total_tokens"] == sum(p.prompt_tokens + p.completion_tokens for p in (healthy, failing))
    cost = {r["session"]: r["cost_usd"] for r in rows["cost_per_session"]}
    assert cost[healthy.session_id] == pytest.approx(in_o2(observed, healthy).cost, rel=1e-12)


@pytest.mark.parametrize("observed", FAMILIES, ids=FAMILY_IDS, indirect=True)
def test_report_answers_every_panel(observed: Observed) -> None:
    result = observed.cli("report", "--since", "15m", "--set", f"stream={observed.stream}", "--output", "json")
    assert result.code == 0, result.err
    result.assert_clean()
    report = {p["panel"]: p for p in json.loads(result.out)["panels"]}
    assert [(name, p["error"]) for name, p in report.items() if p["error"]] == []
    run = observed.run
    assert report["Turns"]["rows"] == [{"turns": run.healthy.turns + run.failing.turns}]


@pytest.mark.parametrize("observed", FAMILIES, ids=FAMILY_IDS, indirect=True)
def test_the_failed_turn_alert_notifies_within_seconds_naming_session_and_turn(observed: Observed) -> None:
    failing = observed.run.failing
    assert failing.failed_at is not None and failing.failed_turn is not None
    assert observed.run.notified_at is not None, "no notification reached the webhook"
    assert observed.run.notified_at - failing.failed_at < ALERT_WITHIN_S
    # … while the failing session still ran: the failed turn did not wait for the session's end.
    assert observed.run.notified_at < failing.ended_at
    (delivery,) = observed.hook.received
    sent = json.loads(delivery["body"])
    assert (sent["alert"], sent["count"]) == ("pipecat_failed_turns", "1")
    match = FAILED_ROW.match(sent["rows"])
    assert match, sent["rows"]
    assert (match.group(1), int(match.group(2))) == (failing.session_id, failing.failed_turn)
    assert match.group(3) in (contract.TURN_SPAN, contract.LLM_SPAN)
    (turn,) = [t for t in observed.records(contract.TURN_SPAN, failing.session_id) if t["trace_id"] == match.group(4)]
    assert (turn["pipecat_turn_number"], turn["span_status"]) == (str(failing.failed_turn), "ERROR")
    # The failed turn ended when the call gave up, not when the user next spoke or the session ended.
    assert int(turn["end_time"]) / 1e9 - failing.failed_at < TURN_ENDS_WITHIN_S
