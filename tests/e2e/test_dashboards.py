"""Proof 1: the dashboards show true numbers.

Three real Pipecat sessions (STT → LLM → TTS against the fake OpenAI server) are traced over OTLP into
the stand-in, ``o2-provision apply`` provisions the dashboards, and every panel query of both
dashboards *as stored on O2* runs through ``_search`` over the run's time range. Each expected number
is computed here from what the fake LLM did (its calls, the usage it reported, its delays), never
from O2.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

import pytest

from provision.panels import panel_queries
from tests.e2e.conftest import (
    FAILED_CALL,
    PRICES,
    SLOW_CALL,
    SLOW_TTFT_S,
    STT_DELAY_S,
    TTFT_S,
    TTS_DELAY_S,
    Played,
    Traffic,
    applied_dashboards,
    panel_rows,
    search,
)

pytestmark = pytest.mark.filterwarnings("ignore:coroutine 'AsyncAPIResponse.parse' was never awaited")

TTFT_MS = TTFT_S * 1000
SLOW_MS = SLOW_TTFT_S * 1000
# A turn without the slow call answers in ~0.6 s here (speech timeout + STT + TTFT + TTS first byte);
# anything under the slow call's TTFT is a sane ceiling for it even on a loaded 2-core machine.
NORMAL_CEILING_MS = SLOW_MS
# The slow turn: its TTFT plus the same overheads.
SLOW_CEILING_MS = SLOW_MS + 3000


Rows = dict[str, list[dict[str, Any]]]


@pytest.fixture(scope="module")
def panels(traffic: Traffic) -> Rows:
    return panel_rows(traffic.server, traffic.run.start_us, traffic.run.end_us)


def sessions(traffic: Traffic) -> list[Played]:
    return traffic.run.sessions


def all_calls(traffic: Traffic) -> list[tuple[Played, int, Any]]:
    """(session, turn number, chat call) for every LLM call of the run, in call order."""
    return [(p, i + 1, c) for p in sessions(traffic) for i, c in enumerate(p.calls)]


def cost_of(model: str, prompt: int, completion: int) -> float:
    price_in, price_out = PRICES[model]
    return prompt * price_in / 1e6 + completion * price_out / 1e6


def expected_cost(p: Played) -> float:
    return sum(cost_of(p.model, c.usage["prompt_tokens"], c.usage["completion_tokens"]) for c in p.calls if c.usage)


def one(rows: list[dict[str, Any]]) -> dict[str, Any]:
    assert len(rows) == 1, rows
    return rows[0]


def test_the_run_went_as_planned(traffic: Traffic) -> None:
    """The fixture itself: the fake answered every turn once, the planned calls were slow / failed."""
    calls = all_calls(traffic)
    assert [c.number for _, _, c in calls] == list(range(1, len(calls) + 1))
    assert [c.number for _, _, c in calls if c.status != 200] == [FAILED_CALL]
    assert all(c.usage for _, _, c in calls if c.status == 200)
    assert [len(p.calls) for p in sessions(traffic)] == [p.turns for p in sessions(traffic)]


def test_every_panel_of_both_dashboards_answers(traffic: Traffic, panels: Rows) -> None:
    dashboards = applied_dashboards(traffic.server)
    assert set(dashboards) == {"Pipecat · Turn latency", "Pipecat · Tokens and sessions"}
    declared = {p["id"] for d in dashboards.values() for t in d["tabs"] for p in t["panels"]}
    assert set(panels) == declared
    empty = sorted(pid for pid, rows in panels.items() if not rows)
    assert empty == [], f"panels without data: {empty}"


def test_turn_counts_total_and_per_session(traffic: Traffic, panels: Rows) -> None:
    total = sum(p.turns for p in sessions(traffic))
    assert one(panels["turns_total"])["turns"] == total
    assert {r["session"]: r["turns"] for r in panels["turns_per_session"]} == {
        p.session_id: p.turns for p in sessions(traffic)
    }
    assert [r["turns"] for r in panels["turns_per_session"]] == sorted(
        (p.turns for p in sessions(traffic)), reverse=True
    )
    assert sum(r["turns"] for r in panels["turns_per_minute"]) == total
    assert one(panels["sessions_total"])["sessions"] == len(sessions(traffic))
    assert one(panels["turns_per_session_avg"])["turns_per_session"] == pytest.approx(total / len(sessions(traffic)))
    for bucket in panels["sessions_over_time"]:
        assert 1 <= bucket["sessions"] <= len(sessions(traffic))


def test_tokens_per_session_are_the_fake_llms_usage(traffic: Traffic, panels: Rows) -> None:
    expected = {
        p.session_id: {
            "llm_calls": p.turns,  # the failed call is an LLM call too (with no tokens)
            "prompt_tokens": p.prompt_tokens,
            "completion_tokens": p.completion_tokens,
            "total_tokens": p.total_tokens,
        }
        for p in sessions(traffic)
    }
    table = panels["tokens_per_session_table"]
    assert {r["session"]: {k: r[k] for k in expected[r["session"]]} for r in table} == expected
    assert [r["total_tokens"] for r in table] == sorted((e["total_tokens"] for e in expected.values()), reverse=True)
    bar = {r["session"]: (r["prompt_tokens"], r["completion_tokens"]) for r in panels["tokens_per_session_bar"]}
    assert bar == {sid: (e["prompt_tokens"], e["completion_tokens"]) for sid, e in expected.items()}
    grand_total = sum(p.total_tokens for p in sessions(traffic))
    assert one(panels["tokens_total"])["total_tokens"] == grand_total
    cumulative = [r["cumulative_tokens"] for r in panels["cumulative_tokens"]]
    assert cumulative == sorted(cumulative) and cumulative[-1] == grand_total


def test_prompt_and_completion_tokens_by_model(traffic: Traffic, panels: Rows) -> None:
    expected: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for p in sessions(traffic):
        expected[p.model][0] += p.prompt_tokens
        expected[p.model][1] += p.completion_tokens
    got = {r["model"]: [r["prompt_tokens"], r["completion_tokens"]] for r in panels["tokens_by_model"]}
    assert got == dict(expected)


def test_failed_turn_share(traffic: Traffic, panels: Rows) -> None:
    turns = sum(p.turns for p in sessions(traffic))
    failed = sum(len(p.failed_turns()) for p in sessions(traffic))
    assert failed == 1
    assert one(panels["failed_pct_total"])["failed_pct"] == pytest.approx(100.0 * failed / turns)
    series = [r["failed_pct"] for r in panels["failed_pct"]]
    # One failed turn: exactly one interval shows failures, at a share no higher than 100 %.
    assert sum(1 for v in series if v > 0) == 1
    assert all(0 <= v <= 100 for v in series)


def test_voice_to_voice_percentiles_within_what_the_fake_allows(traffic: Traffic, panels: Rows) -> None:
    # A turn's voice-to-voice time contains the LLM's time to first token (and STT, TTS first byte).
    # Five of the six answered turns are fast, so the median is a fast turn's; p95 sits towards the slow one.
    p50 = one(panels["latency_p50_total"])["p50_ms"]
    p95 = one(panels["latency_p95_total"])["p95_ms"]
    assert TTFT_MS + TTS_DELAY_S * 1000 <= p50 < NORMAL_CEILING_MS
    assert p50 <= p95 <= SLOW_CEILING_MS
    for bucket in panels["latency_percentiles"]:
        assert TTFT_MS <= bucket["p50"] <= bucket["p95"] <= bucket["p99"] <= SLOW_CEILING_MS
    (service,) = panels["latency_by_service"]
    assert service["service"] == traffic.service_name
    assert service["p50"] == pytest.approx(p50) and service["p95"] == pytest.approx(p95)


def test_llm_latency_percentiles_at_least_the_fake_ttft(traffic: Traffic, panels: Rows) -> None:
    by_model = {r["model"]: r for r in panels["llm_latency_by_model"]}
    assert set(by_model) == {p.model for p in sessions(traffic)}
    for model, row in by_model.items():
        # gpt-4o-mini: five calls, one of them failed at once (no TTFT): the median is still a real answer.
        assert TTFT_MS <= row["p50"] <= row["p95"] <= row["p99"] <= SLOW_CEILING_MS, model
    slow_model = next(p.model for p, _, c in all_calls(traffic) if c.number == SLOW_CALL)
    assert by_model[slow_model]["p99"] > by_model[slow_model]["p50"]
    for bucket in panels["llm_latency_percentiles"]:
        assert 0 <= bucket["p50"] <= bucket["p95"] <= bucket["p99"] <= SLOW_CEILING_MS
    assert max(b["p99"] for b in panels["llm_latency_percentiles"]) >= TTFT_MS
    for bucket in panels["stage_breakdown"]:
        assert bucket["llm_ttft_ms"] >= TTFT_MS
        assert bucket["stt_ms"] >= STT_DELAY_S * 1000
        assert bucket["tts_ttfb_ms"] >= TTS_DELAY_S * 1000


def test_slowest_turns_table(traffic: Traffic, panels: Rows) -> None:
    table = panels["slowest_turns"]
    answered = {(p.session_id, n) for p, n, c in all_calls(traffic) if c.status == 200}
    # The failed turn never reached the bot's voice: it has no voice-to-voice time and is not listed.
    assert {(r["session"], r["turn"]) for r in table} == answered
    assert len(table) == len(answered)
    latencies = [r["latency_ms"] for r in table]
    assert latencies == sorted(latencies, reverse=True)
    slow_session, slow_turn, slow_call = next((p, n, c) for p, n, c in all_calls(traffic) if c.number == SLOW_CALL)
    top = table[0]
    assert (top["session"], top["turn"]) == (slow_session.session_id, slow_turn)
    assert SLOW_MS <= top["latency_ms"] <= SLOW_CEILING_MS
    assert all(TTFT_MS <= r["latency_ms"] < NORMAL_CEILING_MS for r in table[1:])
    assert top["model"] == slow_session.model
    assert top["user_message"] == slow_call.messages[-1]["content"]
    assert top["status"] == "OK"
    models = Counter(r["model"] for r in table)
    assert models == Counter(p.model for p, _, c in all_calls(traffic) if c.status == 200)


def test_cost_panels_price_the_fake_usage(traffic: Traffic, panels: Rows) -> None:
    total = sum(expected_cost(p) for p in sessions(traffic))
    assert one(panels["cost_total"])["cost_usd"] == pytest.approx(total, abs=1e-12)
    assert sum(r["cost_usd"] for r in panels["cost_over_time"]) == pytest.approx(total, abs=1e-12)
    by_model: dict[str, float] = defaultdict(float)
    for p in sessions(traffic):
        by_model[p.model] += expected_cost(p)
    rows = panels["cost_by_model"]
    # The failed call's ChatCompletion span has no response model (no response): O2 stores it without
    # gen_ai_response_model and with cost 0, so it can only add a zero-cost row without a model.
    priced = {r["model"]: r["cost_usd"] for r in rows if r.get("model") is not None}
    assert priced == pytest.approx(dict(by_model), abs=1e-12)
    assert all(r["cost_usd"] == 0 for r in rows if r.get("model") is None)


def test_report_json_shows_the_same_numbers(traffic: Traffic, panels: Rows) -> None:
    result = traffic.cli("report", "-o", "json", "--since", "15m", "--set", f"webhook_url={traffic.hook.url}")
    assert result.code == 0, result.err
    report = {(p["dashboard"], p["panel"]): p for p in result.json()["panels"]}
    assert all(p["error"] is None for p in report.values())
    turns = report[("Pipecat · Turn latency", "Turns")]["rows"]
    assert one(turns)["turns"] == sum(p.turns for p in sessions(traffic))
    per_session = report[("Pipecat · Tokens and sessions", "Tokens per session")]["rows"]
    assert {r["session"]: r["total_tokens"] for r in per_session} == {
        p.session_id: p.total_tokens for p in sessions(traffic)
    }
    failed = report[("Pipecat · Turn latency", "Failed turns")]["rows"]
    assert one(failed)["failed_pct"] == pytest.approx(100.0 / sum(p.turns for p in sessions(traffic)))


def filtered(traffic: Traffic, variables: dict[str, list[str]], wanted: set[str]) -> Rows:
    """The panels in ``wanted``, with the dashboard variables set as a user would select them."""
    rows: Rows = {}
    for dashboard in applied_dashboards(traffic.server).values():
        for q in panel_queries(dashboard, variables):
            if q.panel_id in wanted:
                rows[q.panel_id] = search(traffic.server, q.sql, traffic.run.start_us, traffic.run.end_us)
    assert set(rows) == wanted
    return rows


WANTED = {"turns_total", "tokens_total", "cost_total", "sessions_total", "failed_pct_total"}


@pytest.mark.parametrize("pick", ["session", "model"])
def test_dashboard_variables_narrow_every_number(traffic: Traffic, pick: str) -> None:
    if pick == "session":
        chosen = [p for p in sessions(traffic) if p.failed_turns()]
        variables = {"session": [chosen[0].session_id]}
    else:
        model = sessions(traffic)[-1].model
        chosen = [p for p in sessions(traffic) if p.model == model]
        variables = {"model": [model]}
    assert chosen and len(chosen) < len(sessions(traffic))
    rows = filtered(traffic, variables, WANTED)
    turns = sum(p.turns for p in chosen)
    failed = sum(len(p.failed_turns()) for p in chosen)
    assert one(rows["turns_total"])["turns"] == turns
    assert one(rows["sessions_total"])["sessions"] == len(chosen)
    assert one(rows["tokens_total"])["total_tokens"] == sum(p.total_tokens for p in chosen)
    assert one(rows["cost_total"])["cost_usd"] == pytest.approx(sum(expected_cost(p) for p in chosen), abs=1e-12)
    assert one(rows["failed_pct_total"])["failed_pct"] == pytest.approx(100.0 * failed / turns)
