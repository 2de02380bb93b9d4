"""Synthetic spans laid out as O2 stores them, and a DataFusion runner that plays O2's SQL rewrites.

Layout (openobserve-api.md §2.3–§2.5, openobserve-llm.md §2–§3): every attribute column is Utf8 (numbers
arrive as strings), `_timestamp` / `duration` are Int64 µs, the gen_ai_usage_* token columns Int64 and
gen_ai_usage_cost Float64, present only on the OpenInference ChatCompletion spans.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
from datafusion import SessionConfig, SessionContext

BASE = datetime(2026, 8, 21, 10, 0, 0, tzinfo=UTC)
BASE_US = int(BASE.timestamp()) * 1_000_000
BUCKET_SECONDS = 10  # what the tests make O2's automatic histogram interval
ORIGIN = datetime(2001, 1, 1)  # date_bin origin of O2's histogram() rewrite

# USD per token (O2's built-in table is per 1M tokens: gpt-4o-mini 0.15 / 0.60, gpt-4o 2.50 / 10.00).
PRICES = {"gpt-4o-mini": (0.15e-6, 0.60e-6), "gpt-4o": (2.50e-6, 10.00e-6)}
RESPONSE_MODEL = {"gpt-4o-mini": "gpt-4o-mini-2024-07-18", "gpt-4o": "gpt-4o-2024-08-06"}

STRING_COLUMNS = (
    "trace_id",
    "span_id",
    "reference_parent_span_id",
    "operation_name",
    "service_name",
    "span_status",
    "span_kind",
    "status_message",
    "pipecat_session_id",
    "session_id",
    "user_id",
    "pipecat_turn_number",
    "pipecat_voice_to_voice_ms",
    "pipecat_response_ms",
    "pipecat_stt_ms",
    "pipecat_llm_ttfb_ms",
    "pipecat_tts_ttfb_ms",
    "pipecat_interrupted",
    "pipecat_prompt_tokens",
    "pipecat_completion_tokens",
    "pipecat_total_tokens",
    "pipecat_service",
    "pipecat_model",
    "pipecat_user_message",
    "pipecat_assistant_message",
    "pipecat_ttfb_ms",
    "llm_model_name",
    "llm_token_count_prompt",
    "llm_token_count_completion",
    "openinference_span_kind",
    "gen_ai_operation_name",
    "gen_ai_response_model",
    "gen_ai_conversation_id",
)
INT_COLUMNS = (
    "_timestamp",
    "duration",
    "status_code",
    "gen_ai_usage_input_tokens",
    "gen_ai_usage_output_tokens",
    "gen_ai_usage_total_tokens",
)
FLOAT_COLUMNS = ("gen_ai_usage_cost",)


@dataclass(frozen=True)
class Call:
    """One LLM call of a turn."""

    model: str
    duration_ms: int
    ttfb_ms: int
    prompt: int | None
    completion: int | None
    user_message: str
    failed: bool = False


@dataclass(frozen=True)
class Turn:
    session: str
    service: str
    number: int
    offset_s: float  # start, seconds after BASE
    v2v_ms: int | None
    stt_ms: int | None
    llm_ttfb_ms: int | None
    tts_ttfb_ms: int | None
    calls: tuple[Call, ...]
    failed: bool = False


def _c(model: str, dur: int, ttfb: int, prompt: int, completion: int, msg: str) -> Call:
    return Call(model, dur, ttfb, prompt, completion, msg)


# Four sessions on two services and two models; sess-b turn 2 makes a tool call (two LLM calls);
# sess-c turn 2 failed (its LLM call raised: no tokens, no ChatCompletion span); sess-c turn 3 is the
# slow one; sess-d's only turn has no voice-to-voice measurement (the user hung up).
TURNS: tuple[Turn, ...] = (
    Turn("sess-a", "bot-alpha", 1, 0.5, 610, 180, 240, 120, (_c("gpt-4o-mini", 520, 240, 120, 30, "hi there"),)),
    Turn("sess-a", "bot-alpha", 2, 12.0, 705, 190, 310, 140, (_c("gpt-4o-mini", 640, 310, 160, 42, "book a table"),)),
    Turn("sess-a", "bot-alpha", 3, 25.2, 655, 170, 280, 130, (_c("gpt-4o-mini", 580, 280, 210, 25, "for two"),)),
    Turn("sess-a", "bot-alpha", 4, 37.9, 820, 200, 390, 150, (_c("gpt-4o-mini", 760, 390, 250, 18, "at eight"),)),
    Turn("sess-b", "bot-alpha", 1, 5.1, 930, 210, 450, 160, (_c("gpt-4o", 900, 450, 300, 60, "what's my balance"),)),
    Turn(
        "sess-b",
        "bot-alpha",
        2,
        18.4,
        1240,
        220,
        560,
        170,
        (
            _c("gpt-4o", 980, 560, 340, 22, "move 50 to savings"),
            _c("gpt-4o", 730, 300, 420, 35, "(tool result: done)"),
        ),
    ),
    Turn("sess-b", "bot-alpha", 3, 44.0, 875, 205, 420, 155, (_c("gpt-4o", 810, 420, 380, 40, "thanks"),)),
    Turn("sess-c", "bot-beta", 1, 61.3, 590, 160, 230, 110, (_c("gpt-4o-mini", 500, 230, 90, 20, "hello"),)),
    Turn(
        "sess-c",
        "bot-beta",
        2,
        75.0,
        None,
        165,
        None,
        None,
        (Call("gpt-4o-mini", 3000, 0, None, None, "are you there", failed=True),),
        failed=True,
    ),
    Turn(
        "sess-c",
        "bot-beta",
        3,
        88.8,
        2950,
        175,
        2400,
        180,
        (_c("gpt-4o-mini", 2700, 2400, 140, 55, "tell me a story"),),
    ),
    Turn("sess-d", "bot-beta", 1, 125.0, None, 150, 260, None, (_c("gpt-4o-mini", 450, 260, 70, 12, "bye"),)),
)


def cost(call: Call) -> float:
    p_in, p_out = PRICES[call.model]
    return (call.prompt or 0) * p_in + (call.completion or 0) * p_out


def _s(value: int | None) -> str | None:
    return None if value is None else str(value)


def spans() -> list[dict[str, Any]]:
    """One record per span, as O2 flattens it."""
    rows: list[dict[str, Any]] = []
    for t_index, turn in enumerate(TURNS):
        trace = f"{t_index + 1:032x}"
        start = BASE_US + int(turn.offset_s * 1_000_000)
        turn_span = f"{t_index + 1:08x}00000000"
        ok_calls = [c for c in turn.calls if not c.failed]
        common = {
            "trace_id": trace,
            "service_name": turn.service,
            "pipecat_session_id": turn.session,
            "session_id": turn.session,
            "pipecat_turn_number": str(turn.number),
        }
        rows.append(
            {
                **common,
                "_timestamp": start,
                "span_id": turn_span,
                "operation_name": "pipecat.turn",
                "span_kind": "1",
                "span_status": "ERROR" if turn.failed else "OK",
                "status_code": 2 if turn.failed else 1,
                "duration": (turn.v2v_ms or 3500) * 1000 + 900_000,
                "pipecat_voice_to_voice_ms": _s(turn.v2v_ms),
                # a voice turn's response latency runs to the first TTS audio, a few ms before it plays
                "pipecat_response_ms": _s(turn.v2v_ms - 15 if turn.v2v_ms is not None else None),
                "pipecat_stt_ms": _s(turn.stt_ms),
                "pipecat_llm_ttfb_ms": _s(turn.llm_ttfb_ms),
                "pipecat_tts_ttfb_ms": _s(turn.tts_ttfb_ms),
                "pipecat_interrupted": "false",
                "pipecat_prompt_tokens": _s(sum(c.prompt or 0 for c in ok_calls)) if ok_calls else None,
                "pipecat_completion_tokens": _s(sum(c.completion or 0 for c in ok_calls)) if ok_calls else None,
            }
        )
        # Spans of other names in the same trace: the operation_name filters must keep them out.
        rows.append(
            {
                **common,
                "_timestamp": start + 1_000,
                "span_id": f"{t_index + 1:08x}000000ff",
                "reference_parent_span_id": turn_span,
                "operation_name": "stt",
                "span_kind": "1",
                "span_status": "UNSET",
                "status_code": 0,
                "duration": 99_000_000,
                "pipecat_voice_to_voice_ms": "99999",
                "pipecat_response_ms": "99999",
            }
        )
        call_start = start + (turn.stt_ms or 0) * 1000
        for c_index, call in enumerate(turn.calls):
            llm_span = f"{t_index + 1:08x}{c_index + 1:04x}0000"
            rows.append(
                {
                    **common,
                    "_timestamp": call_start,
                    "span_id": llm_span,
                    "reference_parent_span_id": turn_span,
                    "operation_name": "pipecat.llm_service",
                    "span_kind": "3",
                    "span_status": "ERROR" if call.failed else "OK",
                    "status_code": 2 if call.failed else 1,
                    "duration": call.duration_ms * 1000,
                    "pipecat_service": "OpenAILLMService",
                    "pipecat_model": call.model,
                    "pipecat_user_message": call.user_message,
                    "pipecat_assistant_message": None if call.failed else f"answer to {call.user_message}",
                    "pipecat_prompt_tokens": _s(call.prompt),
                    "pipecat_completion_tokens": _s(call.completion),
                    "pipecat_total_tokens": None if call.failed else _s((call.prompt or 0) + (call.completion or 0)),
                    "pipecat_ttfb_ms": None if call.failed else _s(call.ttfb_ms),
                }
            )
            if not call.failed:
                rows.append(
                    {
                        **common,
                        "_timestamp": call_start + 2_000,
                        "span_id": f"{t_index + 1:08x}{c_index + 1:04x}00cc",
                        "reference_parent_span_id": llm_span,
                        "operation_name": "ChatCompletion",
                        "span_kind": "1",
                        "span_status": "OK",
                        "status_code": 1,
                        "duration": (call.duration_ms - 5) * 1000,
                        "openinference_span_kind": "LLM",
                        "llm_model_name": RESPONSE_MODEL[call.model],
                        "llm_token_count_prompt": _s(call.prompt),
                        "llm_token_count_completion": _s(call.completion),
                        "gen_ai_operation_name": "chat",
                        "gen_ai_response_model": RESPONSE_MODEL[call.model],
                        "gen_ai_conversation_id": turn.session,
                        "gen_ai_usage_input_tokens": call.prompt,
                        "gen_ai_usage_output_tokens": call.completion,
                        "gen_ai_usage_total_tokens": (call.prompt or 0) + (call.completion or 0),
                        "gen_ai_usage_cost": cost(call),
                    }
                )
            call_start += call.duration_ms * 1000 + 50_000
    return rows


def table(rows: list[dict[str, Any]]) -> pa.Table:
    columns: dict[str, pa.Array] = {}
    for name in STRING_COLUMNS:
        columns[name] = pa.array([r.get(name) for r in rows], pa.string())
    for name in INT_COLUMNS:
        columns[name] = pa.array([r.get(name) for r in rows], pa.int64())
    for name in FLOAT_COLUMNS:
        columns[name] = pa.array([r.get(name) for r in rows], pa.float64())
    return pa.table(columns)


# --- O2's rewrites ---------------------------------------------------------------------------------

_HISTOGRAM = re.compile(r"(?i)\bhistogram\(\s*([\w.\"]+)\s*(?:,\s*'([^']*)'\s*)?\)")
_ALL_IN_LIST = re.compile(r"(?:'[^']*'|[\w.\"]+)\s+IN\s*\([^()]*'_o2_all_'[^()]*\)")


def rewrite_histogram(sql: str, seconds: int = BUCKET_SECONDS) -> str:
    """histogram(f) → date_bin(<auto interval>, …); an explicit interval goes to date_bin verbatim."""

    def repl(m: re.Match[str]) -> str:
        interval = m.group(2) or f"{seconds} second"
        return (
            f"date_bin(interval '{interval}', to_timestamp_micros({m.group(1)}), to_timestamp('2001-01-01T00:00:00'))"
        )

    return _HISTOGRAM.sub(repl, sql)


def rewrite_dashboard_all(sql: str) -> str:
    """O2's RemoveDashboardAllVisitor for the form our panels use: `x IN (…'_o2_all_'…)` → true."""
    return _ALL_IN_LIST.sub("true", sql)


@dataclass
class O2Sql:
    """Runs panel SQL over the synthetic spans in DataFusion, the way O2's search would."""

    stream: str
    rows: list[dict[str, Any]] = field(default_factory=spans)
    server_all_rewrite: bool = True

    def __post_init__(self) -> None:
        config = SessionConfig().set("datafusion.sql_parser.dialect", "PostgreSQL")
        self.ctx = SessionContext(config)
        self.ctx.register_record_batches(self.stream, [table(self.rows).to_batches()])

    def run(self, sql: str) -> list[dict[str, Any]]:
        assert "histogram(" in sql.lower() or "$" not in sql, f"unsubstituted variable in {sql}"
        rewritten = rewrite_histogram(sql)
        if self.server_all_rewrite:
            rewritten = rewrite_dashboard_all(rewritten)
        rows: list[dict[str, Any]] = self.ctx.sql(rewritten).to_pylist()
        return rows

    def columns(self, sql: str) -> list[str]:
        sql = rewrite_dashboard_all(rewrite_histogram(sql))
        return [f.name for f in self.ctx.sql(sql).schema()]


# --- independent expected values -------------------------------------------------------------------


def tdigest_quantile(values: list[float], q: float) -> float:
    """DataFusion's approx_percentile_cont for fewer than 100 distinct values (one centroid each):
    TDigest::estimate_quantile in datafusion/functions-aggregate-common/src/tdigest.rs, restated."""
    c = sorted(values)
    n = len(c)
    assert n and len(set(c)) == n, "the reference needs distinct values"
    if q <= 0:
        return c[0]
    if q >= 1:
        return c[-1]
    rank = q * n
    if q > 0.5:
        t = float(n)
        pos = 0
        for k in range(n - 1, -1, -1):
            t -= 1
            if rank >= t:
                pos = k
                break
    else:
        t = 0.0
        pos = n - 1
        for k in range(n):
            if rank < t + 1:
                pos = k
                break
            t += 1
    lo, hi, delta = c[0], c[-1], 0.0
    if n > 1:
        if pos == 0:
            delta, hi = c[1] - c[0], c[1]
        elif pos == n - 1:
            delta, lo = c[-1] - c[-2], c[-2]
        else:
            delta, lo, hi = (c[pos + 1] - c[pos - 1]) / 2, c[pos - 1], c[pos + 1]
    value = c[pos] + ((rank - t) - 0.5) * delta
    return min(max(value, lo), hi)


def bucket(ts_us: int, seconds: int = BUCKET_SECONDS) -> datetime:
    """The start of the histogram bucket of a µs timestamp (naive UTC, as DataFusion returns it)."""
    at = datetime(1970, 1, 1) + timedelta(microseconds=ts_us)
    step = timedelta(seconds=seconds)
    return ORIGIN + ((at - ORIGIN) // step) * step
