"""Proof 4 (issue 9): O2's own LLM views agree with the fake LLM and with our dashboards.

The shared run (``traffic``) answers as ``gpt-4o-mini`` (and ``gpt-4.1-mini`` in its third session),
models O2's built-in table prices at $0.15 / $0.60 and $0.40 / $1.60 per 1M input / output tokens.
Then a custom model price applied by ``o2-provision`` prices the spans ingested after it, and only
those.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from instrumentation import contract
from tests.conftest import Cli
from tests.e2e.conftest import (
    ORG,
    PRICES,
    STREAM,
    Export,
    Played,
    Run,
    SessionPlan,
    Traffic,
    api,
    cli_for,
    panel_rows,
    play,
    start_standin,
)
from tests.o2_standin import StandIn

pytestmark = pytest.mark.filterwarnings("ignore:coroutine 'AsyncAPIResponse.parse' was never awaited")

COST_TOLERANCE = 1e-12
MANAGED = "Managed by o2-provision."


def session_list(server: StandIn, start_us: int, end_us: int) -> dict[str, dict[str, Any]]:
    """``GET /api/{org}/{stream}/traces/session``: O2's LLM sessions view, by session id."""
    with api(server) as client:
        response = client.get(
            f"/api/{ORG}/{STREAM}/traces/session",
            params={"start_time": start_us, "end_time": end_us, "size": 100},
        )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["has_more"] is False
    return {h["session_id"]: h for h in body["hits"]}


def priced(p: Played, price_in: float, price_out: float) -> float:
    return sum(
        c.usage["prompt_tokens"] * price_in / 1e6 + c.usage["completion_tokens"] * price_out / 1e6
        for c in p.calls
        if c.usage
    )


def failed_chat_estimates(server: StandIn) -> dict[str, int]:
    """Session id → input tokens O2 estimated for the session's failed ChatCompletion spans."""
    estimates: dict[str, int] = {}
    for r in server.records(ORG, STREAM):
        if r["operation_name"] == "ChatCompletion" and r.get("span_status") == "ERROR":
            sid = r["pipecat_session_id"]
            estimates[sid] = estimates.get(sid, 0) + int(r["gen_ai_usage_input_tokens"])
    return estimates


# --------------------------------------------------------------------------- the shared run


def test_every_span_of_a_session_carries_session_id_and_ours_no_gen_ai_column(traffic: Traffic) -> None:
    records = [r for r in traffic.server.records(ORG, STREAM) if r.get("service_name") == traffic.service_name]
    sessions = {p.session_id for p in traffic.run.sessions}
    assert {r.get("pipecat_session_id") for r in records} == sessions
    for r in records:
        assert r.get("session_id") == r.get("pipecat_session_id"), r["operation_name"]
    ours = [r for r in records if r["operation_name"] in (contract.TURN_SPAN, contract.LLM_SPAN)]
    turns = sum(p.turns for p in traffic.run.sessions)
    assert len(ours) == 2 * turns  # one turn span and one LLM span per turn (one LLM call each)
    leaked = sorted({k for r in ours for k in r if k.startswith("gen_ai_")})
    assert leaked == [], f"our spans carry {leaked}: O2 would sum them into its totals twice"
    chats = [r for r in records if r["operation_name"] == "ChatCompletion"]
    assert len(chats) == turns
    assert all(r["gen_ai_conversation_id"] == r["pipecat_session_id"] for r in chats)


def test_o2_sessions_view_matches_the_fake_llm(traffic: Traffic) -> None:
    listed = session_list(traffic.server, traffic.run.start_us, traffic.run.end_us)
    assert set(listed) == {p.session_id for p in traffic.run.sessions}
    estimates = failed_chat_estimates(traffic.server)
    assert set(estimates) == {p.session_id for p in traffic.run.sessions if p.failed_turns()}
    for p in traffic.run.sessions:
        hit = listed[p.session_id]
        assert hit["trace_count"] == p.turns
        # O2 (openobserve-llm.md §2b, token rules): a ChatCompletion without usage — the failed call,
        # which got no response — has its input counted by O2's tokenizer from the request text, and
        # no response model, so no price. Its session therefore shows more input tokens than the
        # provider reported, at the same cost.
        estimate = estimates.get(p.session_id, 0)
        if p.failed_turns():
            assert estimate > 0
        assert hit["gen_ai_usage_input_tokens"] == p.prompt_tokens + estimate
        assert hit["gen_ai_usage_output_tokens"] == p.completion_tokens
        assert hit["gen_ai_usage_cost"] == pytest.approx(priced(p, *PRICES[p.model]), abs=COST_TOLERANCE)
        # The view aggregates only spans with gen_ai_conversation_id: the ChatCompletion spans.
        assert hit["error_count"] == len(p.failed_turns())


def test_dashboards_show_the_same_cost_and_tokens_per_session(traffic: Traffic) -> None:
    listed = session_list(traffic.server, traffic.run.start_us, traffic.run.end_us)
    panels = panel_rows(
        traffic.server,
        traffic.run.start_us,
        traffic.run.end_us,
        only=("cost_per_session", "tokens_per_session_table", "cost_total"),
    )
    cost = {r["session"]: r for r in panels["cost_per_session"]}
    tokens = {r["session"]: r for r in panels["tokens_per_session_table"]}
    assert set(cost) == set(tokens) == set(listed)
    for p in traffic.run.sessions:
        row, hit = cost[p.session_id], listed[p.session_id]
        assert row["cost_usd"] == pytest.approx(hit["gen_ai_usage_cost"], abs=COST_TOLERANCE)
        assert row["cost_usd"] == pytest.approx(priced(p, *PRICES[p.model]), abs=COST_TOLERANCE)
        assert row["llm_calls"] == p.turns
        # "Cost per session" shows the tokens O2 priced: the same as O2's sessions view …
        assert (row["input_tokens"], row["output_tokens"]) == (
            hit["gen_ai_usage_input_tokens"],
            hit["gen_ai_usage_output_tokens"],
        )
        # … and "Tokens per session" the tokens the provider reported (a failed call reported none).
        t = tokens[p.session_id]
        assert (t["prompt_tokens"], t["completion_tokens"]) == (p.prompt_tokens, p.completion_tokens)
    total = sum(priced(p, *PRICES[p.model]) for p in traffic.run.sessions)
    (cost_total,) = panels["cost_total"]
    assert cost_total["cost_usd"] == pytest.approx(total, abs=COST_TOLERANCE)


# --------------------------------------------------------------------------- a custom model price

CUSTOM: dict[str, Any] = {"name": "my-llama", "match_pattern": "^my-llama", "input_per_1m": 1.0, "output_per_1m": 2.0}
CUSTOM_MODEL = "my-llama-3"


@dataclass
class Priced:
    server: StandIn
    cli: Cli
    before: Played  # ingested before the price existed
    after: Played  # ingested after `apply`
    run: Run
    values: Path
    no_prices: Path


@pytest.fixture(scope="module")
def custom_price(export: Export, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Priced]:
    server = start_standin()
    try:
        folder = tmp_path_factory.mktemp("prices")
        values = folder / "values.yaml"
        values.write_text(yaml.safe_dump({"model_prices": [CUSTOM]}), encoding="utf-8")
        no_prices = folder / "no-prices.yaml"
        no_prices.write_text(yaml.safe_dump({"model_prices": []}), encoding="utf-8")
        cli = cli_for(server, folder)
        export.to(server)
        try:
            first = play(export, [SessionPlan(1, CUSTOM_MODEL)], llm_only=True)
            applied = cli("apply", "--yes", "--bootstrap-stream", "-f", str(values))
            assert applied.code == 0, applied.err
            second = play(export, [SessionPlan(2, CUSTOM_MODEL)], llm_only=True)
        finally:
            export.release()
        run = Run([*first.sessions, *second.sessions], second.fake, first.start_us, second.end_us)
        yield Priced(server, cli, first.sessions[0], second.sessions[0], run, values, no_prices)
    finally:
        server.stop()


def org_prices(server: StandIn) -> dict[str, dict[str, Any]]:
    with api(server) as client:
        response = client.get(f"/api/{ORG}/llm/models")
    assert response.status_code == 200, response.text
    flat: list[dict[str, Any]] = []
    for item in response.json():
        flat += [item, *item.get("children", [])]
    return {m["name"]: m for m in flat if m.get("source") == "org"}


def writes(server: StandIn) -> list[str]:
    """Requests since the last clear that change something (searches and span ingestion excepted)."""
    return [
        f"{r.method} {r.path}"
        for r in server.requests
        if r.method != "GET" and not r.path.endswith(("/_search", "/v1/traces"))
    ]


def test_custom_price_applies_to_spans_ingested_after_it(custom_price: Priced) -> None:
    (price,) = org_prices(custom_price.server).values()
    assert price["name"] == CUSTOM["name"] and MANAGED in price.get("description", "")
    listed = session_list(custom_price.server, custom_price.run.start_us, custom_price.run.end_us)
    after, before = custom_price.after, custom_price.before
    assert after.prompt_tokens > 0 and before.prompt_tokens > 0
    expected = priced(after, CUSTOM["input_per_1m"], CUSTOM["output_per_1m"])
    assert listed[after.session_id]["gen_ai_usage_cost"] == pytest.approx(expected, abs=COST_TOLERANCE)
    assert listed[after.session_id]["gen_ai_usage_input_tokens"] == after.prompt_tokens
    # O2 prices at ingestion only: the session sent before the price existed stays at 0.
    assert listed[before.session_id]["gen_ai_usage_cost"] == 0
    assert listed[before.session_id]["gen_ai_usage_input_tokens"] == before.prompt_tokens
    # llm_only sessions have no voice-to-voice time (no audio), so only the cost panels are run here.
    panels = panel_rows(
        custom_price.server,
        custom_price.run.start_us,
        custom_price.run.end_us,
        only=("cost_per_session", "cost_by_model"),
    )
    cost = {r["session"]: r["cost_usd"] for r in panels["cost_per_session"]}
    assert cost[after.session_id] == pytest.approx(expected, abs=COST_TOLERANCE)
    assert cost[before.session_id] == 0
    by_model = {r["model"]: r["cost_usd"] for r in panels["cost_by_model"]}
    assert by_model == pytest.approx({CUSTOM_MODEL: expected}, abs=COST_TOLERANCE)


def test_price_lifecycle_apply_twice_prune_destroy(custom_price: Priced) -> None:
    server, cli = custom_price.server, custom_price.cli
    server.clear_requests()
    again = cli("apply", "--yes", "-f", str(custom_price.values))
    assert again.code == 0, again.err
    assert writes(server) == []

    pruned = cli("apply", "--yes", "--prune", "-f", str(custom_price.no_prices))
    assert pruned.code == 0, pruned.err
    assert CUSTOM["name"] not in org_prices(server)

    # Someone else's price and dashboard, then ours again: destroy takes only ours.
    with api(server) as client:
        foreign = {
            "name": "their-model",
            "match_pattern": "^their-model",
            "tiers": [{"name": "default", "prices": {"input": 1e-6, "output": 2e-6}}],
        }
        assert client.post(f"/api/{ORG}/llm/models", json=foreign).status_code == 201
        board = {"version": 8, "title": "Pipecat · theirs", "description": "", "tabs": []}
        assert client.post(f"/api/{ORG}/dashboards", json=board).status_code == 200
    reapplied = cli("apply", "--yes", "-f", str(custom_price.values))
    assert reapplied.code == 0, reapplied.err
    assert set(org_prices(server)) == {"their-model", CUSTOM["name"]}

    destroyed = cli("destroy", "--yes", "-f", str(custom_price.values))
    assert destroyed.code == 0, destroyed.err
    assert set(org_prices(server)) == {"their-model"}
    with api(server) as client:
        titles = [d["title"] for d in client.get(f"/api/{ORG}/dashboards", params={"title": ""}).json()["dashboards"]]
    assert titles == ["Pipecat · theirs"]
