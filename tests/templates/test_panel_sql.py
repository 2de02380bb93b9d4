"""Every panel query runs in DataFusion over spans laid out as O2 stores them, and its numbers are right.

Expected values are computed here in plain Python from the synthetic rows (percentiles with a restated
t-digest, see synthetic.tdigest_quantile), never by running SQL.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

import pytest

from provision.panels import panel_queries
from provision.render import Bundle

from .conftest import OTHER, dashboards
from .synthetic import TURNS, O2Sql, bucket, spans, tdigest_quantile

ROWS = spans()
Q = (0.5, 0.95, 0.99)
Run = Callable[..., list[dict[str, Any]]]


def of(operation: str, rows: Iterable[dict[str, Any]] = ROWS) -> list[dict[str, Any]]:
    return [r for r in rows if r["operation_name"] == operation]


TURN = of("pipecat.turn")
LLM = of("pipecat.llm_service")
CHAT = of("ChatCompletion")


def num(row: dict[str, Any], column: str) -> float | None:
    value = row.get(column)
    return None if value is None else float(value)


def percentiles(
    rows: list[dict[str, Any]], value: Callable[[dict[str, Any]], float | None], key: Callable[[dict[str, Any]], Any]
) -> dict[Any, tuple[float | None, ...]]:
    """Per group: (p50, p95, p99) of the non-null values, None where the group has none."""
    groups: dict[Any, list[float]] = defaultdict(list)
    for row in rows:
        groups[key(row)]
        v = value(row)
        if v is not None:
            groups[key(row)].append(v)
    return {k: tuple(tdigest_quantile(vs, q) if vs else None for q in Q) for k, vs in groups.items()}


def ts_bucket(row: dict[str, Any]) -> datetime:
    return bucket(row["_timestamp"])


def v2v(row: dict[str, Any]) -> float | None:
    return num(row, "pipecat_voice_to_voice_ms")


def llm_ms(row: dict[str, Any]) -> float:
    return float(row["duration"]) / 1000.0


def sums(rows: list[dict[str, Any]], key: str, columns: tuple[str, ...]) -> dict[str, tuple[float, ...]]:
    out: dict[str, list[float]] = defaultdict(lambda: [0.0] * len(columns))
    for row in rows:
        acc = out[row[key]]
        for i, column in enumerate(columns):
            acc[i] += num(row, column) or 0
    return {k: tuple(v) for k, v in out.items()}


@pytest.fixture(
    params=[("default", True), ("default", False), ("pipecat-prod", True)],
    ids=["o2-rewrite", "no-server-rewrite", "other-stream"],
)
def run(request: pytest.FixtureRequest) -> Run:
    """run(panel_id, **variables) → the panel's rows."""
    stream, server_rewrite = request.param
    bundle: Bundle = request.getfixturevalue("default_bundle" if stream == "default" else "other_bundle")
    assert stream in ("default", OTHER["stream"])
    o2 = O2Sql(stream.replace("-", "_"), server_all_rewrite=server_rewrite)  # the name O2 stores it under
    found = dashboards(bundle)

    def go(panel_id: str, **variables: str | list[str]) -> list[dict[str, Any]]:
        for dashboard in found.values():
            for query in panel_queries(dashboard, variables):
                if query.panel_id == panel_id:
                    return o2.run(query.sql)
        raise KeyError(panel_id)

    return go


def test_every_panel_query_runs_and_returns_its_declared_aliases(default_bundle: Bundle) -> None:
    o2 = O2Sql("default")
    count = 0
    for dashboard in dashboards(default_bundle).values():
        for query in panel_queries(dashboard):
            assert o2.columns(query.sql) == [*query.x_aliases, *query.y_aliases], query.panel_id
            assert o2.run(query.sql), f"{query.panel_id} returned no rows"
            count += 1
    assert count == 25


# --- turn latency --------------------------------------------------------------------------------------


def test_voice_to_voice_p50_and_p95_over_the_range(run: Run) -> None:
    values = [v for r in TURN if (v := v2v(r)) is not None]
    assert len(values) == 9
    assert run("latency_p50_total") == [{"p50_ms": pytest.approx(tdigest_quantile(values, 0.5))}]
    assert run("latency_p95_total") == [{"p95_ms": pytest.approx(tdigest_quantile(values, 0.95))}]
    assert run("latency_p95_total")[0]["p95_ms"] == 2950  # the slow turn


def test_voice_to_voice_percentiles_over_time(run: Run) -> None:
    expected = percentiles(TURN, v2v, ts_bucket)
    got = {r["time_bucket"]: (r["p50"], r["p95"], r["p99"]) for r in run("latency_percentiles")}
    assert got == {k: tuple(pytest.approx(x) if x is not None else None for x in v) for k, v in expected.items()}
    assert len(got) >= 5
    assert [r["time_bucket"] for r in run("latency_percentiles")] == sorted(expected)


def test_llm_call_latency_over_time_and_by_model(run: Run) -> None:
    expected = percentiles(LLM, llm_ms, ts_bucket)
    got = {r["time_bucket"]: (r["p50"], r["p95"], r["p99"]) for r in run("llm_latency_percentiles")}
    assert got == {k: tuple(pytest.approx(x) for x in v) for k, v in expected.items()}

    by_model = percentiles(LLM, llm_ms, lambda r: r["pipecat_model"])
    rows = run("llm_latency_by_model")
    assert {r["model"]: (r["p50"], r["p95"], r["p99"]) for r in rows} == {
        k: tuple(pytest.approx(x) for x in v) for k, v in by_model.items()
    }
    assert [r["p95"] for r in rows] == sorted((r["p95"] for r in rows), reverse=True)


def _column(column: str) -> Callable[[dict[str, Any]], float | None]:
    return lambda row: num(row, column)


def test_stage_breakdown_is_the_median_of_each_stage(run: Run) -> None:
    columns = {"stt_ms": "pipecat_stt_ms", "llm_ttft_ms": "pipecat_llm_ttfb_ms", "tts_ttfb_ms": "pipecat_tts_ttfb_ms"}
    rows = run("stage_breakdown")
    for alias, column in columns.items():
        expected = percentiles(TURN, _column(column), ts_bucket)
        got = {r["time_bucket"]: r[alias] for r in rows}
        assert got == {k: pytest.approx(v[0]) if v[0] is not None else None for k, v in expected.items()}, alias


def test_turn_counts_and_failed_share(run: Run) -> None:
    failed = [r for r in TURN if r["span_status"] == "ERROR"]
    assert len(TURN) == 11 and len(failed) == 1
    assert run("turns_total") == [{"turns": 11}]
    assert run("failed_pct_total") == [{"failed_pct": pytest.approx(100.0 * 1 / 11)}]

    per_bucket: dict[datetime, list[int]] = defaultdict(lambda: [0, 0])
    for row in TURN:
        per_bucket[ts_bucket(row)][0] += row["span_status"] == "ERROR"
        per_bucket[ts_bucket(row)][1] += 1
    got = {r["time_bucket"]: r["failed_pct"] for r in run("failed_pct")}
    assert got == {k: pytest.approx(100.0 * e / n) for k, (e, n) in per_bucket.items()}
    assert 100.0 in got.values()  # the bucket holding only the failed turn


def test_turns_per_minute(run: Run) -> None:
    minutes: dict[datetime, int] = defaultdict(int)
    for row in TURN:
        minutes[bucket(row["_timestamp"], 60)] += 1
    rows = run("turns_per_minute")
    assert {r["time_bucket"]: r["turns"] for r in rows} == dict(minutes)
    assert dict(minutes) == {
        datetime(2026, 8, 21, 10, 0): 7,
        datetime(2026, 8, 21, 10, 1): 3,
        datetime(2026, 8, 21, 10, 2): 1,
    }


def test_voice_to_voice_by_service(run: Run) -> None:
    expected = percentiles(TURN, v2v, lambda r: r["service_name"])
    got = {r["service"]: (r["p50"], r["p95"], r["p99"]) for r in run("latency_by_service")}
    assert got == {k: tuple(pytest.approx(x) for x in v) for k, v in expected.items()}


def test_slowest_turns_have_the_model_and_message_of_their_first_llm_call(run: Run) -> None:
    rows = run("slowest_turns")
    measured = sorted((t for t in TURNS if t.v2v_ms is not None), key=lambda t: -(t.v2v_ms or 0))
    assert [(r["session"], r["turn"], r["latency_ms"]) for r in rows] == [
        (t.session, t.number, t.v2v_ms) for t in measured
    ]  # one row per turn, even for the turn with two LLM calls
    by_key = {(r["session"], r["turn"]): r for r in rows}
    for t in measured:
        row = by_key[(t.session, t.number)]
        assert (row["model"], row["user_message"]) == (t.calls[0].model, t.calls[0].user_message)
    slow = rows[0]
    assert (slow["session"], slow["turn"], slow["latency_ms"], slow["status"]) == ("sess-c", 3, 2950, "OK")
    assert slow["started_at"] == datetime(2026, 8, 21, 10, 1, 28, 800000)


# --- tokens and sessions -------------------------------------------------------------------------------

TOKEN_COLUMNS = ("pipecat_prompt_tokens", "pipecat_completion_tokens", "pipecat_total_tokens")


def test_tokens_per_session_equal_the_sums_of_the_llm_calls(run: Run) -> None:
    expected = sums(LLM, "pipecat_session_id", TOKEN_COLUMNS)
    calls: dict[str, int] = defaultdict(int)
    for row in LLM:
        calls[row["pipecat_session_id"]] += 1
    rows = run("tokens_per_session_table")
    assert {r["session"]: (r["prompt_tokens"], r["completion_tokens"], r["total_tokens"]) for r in rows} == expected
    assert {r["session"]: r["llm_calls"] for r in rows} == dict(calls)
    assert [r["total_tokens"] for r in rows] == sorted(
        expected_totals := [v[2] for v in expected.values()], reverse=True
    )
    assert sum(expected_totals) == 2839

    bar = run("tokens_per_session_bar")
    assert [r["session"] for r in bar] == [r["session"] for r in rows]
    assert {r["session"]: (r["prompt_tokens"], r["completion_tokens"]) for r in bar} == {
        k: v[:2] for k, v in expected.items()
    }
    assert run("tokens_total") == [{"total_tokens": sum(expected_totals)}]


def test_prompt_and_completion_tokens_by_model(run: Run) -> None:
    expected = sums(LLM, "pipecat_model", TOKEN_COLUMNS[:2])
    got = {r["model"]: (r["prompt_tokens"], r["completion_tokens"]) for r in run("tokens_by_model")}
    assert got == expected


def test_cumulative_tokens_is_the_running_total(run: Run) -> None:
    per_bucket: dict[datetime, float] = defaultdict(float)
    for row in LLM:
        per_bucket[ts_bucket(row)] += num(row, "pipecat_total_tokens") or 0
    running, expected = 0.0, []
    for key in sorted(per_bucket):
        running += per_bucket[key]
        expected.append((key, running))
    assert [(r["time_bucket"], r["cumulative_tokens"]) for r in run("cumulative_tokens")] == expected
    assert expected[-1][1] == 2839


def test_turns_and_sessions(run: Run) -> None:
    turns: dict[str, int] = defaultdict(int)
    for row in TURN:
        turns[row["pipecat_session_id"]] += 1
    assert dict(turns) == {"sess-a": 4, "sess-b": 3, "sess-c": 3, "sess-d": 1}
    rows = run("turns_per_session")
    assert {r["session"]: r["turns"] for r in rows} == dict(turns)
    assert [r["turns"] for r in rows] == sorted(turns.values(), reverse=True)
    assert run("sessions_total") == [{"sessions": 4}]
    assert run("turns_per_session_avg") == [{"turns_per_session": pytest.approx(11 / 4)}]

    active: dict[datetime, set[str]] = defaultdict(set)
    for row in TURN:
        active[ts_bucket(row)].add(row["pipecat_session_id"])
    got = {r["time_bucket"]: r["sessions"] for r in run("sessions_over_time")}
    assert got == {k: len(v) for k, v in active.items()}
    assert max(got.values()) == 2


def test_cost_per_session_is_the_sum_of_gen_ai_usage_cost(run: Run) -> None:
    expected = sums(CHAT, "pipecat_session_id", ("gen_ai_usage_cost",))
    rows = run("cost_per_session")
    assert {r["session"]: r["cost_usd"] for r in rows} == {
        k: pytest.approx(v[0], rel=1e-12) for k, v in expected.items()
    }
    assert rows[0]["session"] == "sess-b"  # gpt-4o, and a tool call
    # the tokens O2 priced agree with the tokens our spans report
    ours = sums(LLM, "pipecat_session_id", TOKEN_COLUMNS[:2])
    assert {r["session"]: (r["input_tokens"], r["output_tokens"]) for r in rows} == ours
    # the failed LLM call has no ChatCompletion span: 3 calls priced for sess-c's 3 turns minus 1
    assert {r["session"]: r["llm_calls"] for r in rows}["sess-c"] == 2
    total = sum(v[0] for v in expected.values())
    assert run("cost_total") == [{"cost_usd": pytest.approx(total, rel=1e-12)}]


def test_cost_by_model_and_over_time(run: Run) -> None:
    by_model = sums(CHAT, "gen_ai_response_model", ("gen_ai_usage_cost",))
    got = {r["model"]: r["cost_usd"] for r in run("cost_by_model")}
    assert got == {k: pytest.approx(v[0], rel=1e-12) for k, v in by_model.items()}
    assert set(got) == {"gpt-4o-2024-08-06", "gpt-4o-mini-2024-07-18"}

    per_bucket: dict[datetime, float] = defaultdict(float)
    for row in CHAT:
        per_bucket[ts_bucket(row)] += row["gen_ai_usage_cost"]
    got_t = [(r["time_bucket"], r["cost_usd"]) for r in run("cost_over_time")]
    assert got_t == [(k, pytest.approx(per_bucket[k], rel=1e-12)) for k in sorted(per_bucket)]


# --- variables -----------------------------------------------------------------------------------------


def test_service_variable_filters_every_kind_of_span(run: Run) -> None:
    beta_turns = [r for r in TURN if r["service_name"] == "bot-beta"]
    assert run("turns_total", service="bot-beta") == [{"turns": len(beta_turns)}]
    assert run("turns_total", service=["bot-alpha", "bot-beta"]) == [{"turns": 11}]
    tokens = sum(num(r, "pipecat_total_tokens") or 0 for r in LLM if r["service_name"] == "bot-beta")
    assert run("tokens_total", service="bot-beta") == [{"total_tokens": tokens}]
    cost = sum(r["gen_ai_usage_cost"] for r in CHAT if r["service_name"] == "bot-beta")
    assert run("cost_total", service="bot-beta") == [{"cost_usd": pytest.approx(cost, rel=1e-12)}]


def test_model_variable_reaches_turns_and_chat_completions_through_the_llm_span(run: Run) -> None:
    gpt4o_traces = {r["trace_id"] for r in LLM if r["pipecat_model"] == "gpt-4o"}
    assert run("turns_total", model="gpt-4o") == [{"turns": len(gpt4o_traces)}] == [{"turns": 3}]
    values = [v for r in TURN if r["trace_id"] in gpt4o_traces and (v := v2v(r)) is not None]
    assert run("latency_p50_total", model="gpt-4o") == [{"p50_ms": pytest.approx(tdigest_quantile(values, 0.5))}]
    cost = sum(r["gen_ai_usage_cost"] for r in CHAT if r["gen_ai_response_model"].startswith("gpt-4o-2024"))
    assert run("cost_total", model="gpt-4o") == [{"cost_usd": pytest.approx(cost, rel=1e-12)}]
    assert {r["model"] for r in run("cost_by_model", model="gpt-4o")} == {"gpt-4o-2024-08-06"}
    assert {r["model"] for r in run("tokens_by_model", model="gpt-4o-mini")} == {"gpt-4o-mini"}


def test_session_variable(run: Run) -> None:
    assert run("turns_total", session="sess-c") == [{"turns": 3}]
    assert run("turns_total", session=["sess-a", "sess-d"]) == [{"turns": 5}]
    assert [r["session"] for r in run("cost_per_session", session="sess-a")] == ["sess-a"]
    assert run("sessions_total", session="nobody") == [{"sessions": 0}]
    assert run("turns_total", service="bot-alpha", session="sess-c") == [{"turns": 0}]
