"""Synthetic spans that follow the span contract, shaped like the ones a real session exports.

:func:`capture` runs one real Pipecat session (STT → LLM → TTS against the fake OpenAI server), traced
by our instrumentation into the O2 stand-in, and returns the records it stored: one ``pipecat.turn``,
``pipecat.llm_service`` and ``ChatCompletion`` record per turn. :func:`synthesize` then appends turns
made from those records (every column a real span has, the measured ones varied: ids, sessions, times,
latencies, tokens, cost, errors) to the same stream as Arrow batches, in the stream's own column types
(the stand-in's ``Stream`` internals: going through ``Stream.append`` would keep a million dicts).
"""

from __future__ import annotations

import asyncio
import base64
import time
from typing import Any

import numpy as np
import pyarrow as pa

from benchmarks import standin

ORG, STREAM = "default", "default"
TURNS_PER_SESSION = 10
MODELS = ("gpt-4o-mini", "gpt-4o", "gpt-4.1-mini")


def capture(server: Any) -> dict[str, dict[str, Any]]:
    """One real traced session into ``server``; the stored record of each span kind, by operation name."""
    from loguru import logger

    from instrumentation import setup_openobserve
    from provision.demo.bot import run_session
    from provision.demo.fakes.openai import FakeOpenAI

    logger.remove()
    token = base64.b64encode(f"{standin.EMAIL}:{standin.PASSWORD}".encode()).decode()
    provider = setup_openobserve(url=server.url, auth_token=token, service_name="voice-bot", load_env_file=False)

    async def session() -> None:
        async with FakeOpenAI(ttft=0.05) as fake:
            await run_session(fake.base_url, turns=2, user_id="caller-1")

    asyncio.run(session())
    provider.force_flush()
    templates: dict[str, dict[str, Any]] = {}
    for record in server.records(ORG, STREAM):
        templates.setdefault(str(record["operation_name"]), record)
    missing = {"pipecat.turn", "pipecat.llm_service", "ChatCompletion"} - set(templates)
    if missing:
        raise RuntimeError(f"the real session produced no {sorted(missing)} span")
    return templates


def _hex(rng: np.random.Generator, n: int, words: int) -> pa.Array:
    parts = [np.char.mod("%016x", rng.integers(0, 2**63, n, dtype=np.int64)) for _ in range(words)]
    joined = parts[0] if words == 1 else np.char.add(parts[0], parts[1])
    return pa.array(joined.astype(object), pa.string())


def _unless(failed: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``values`` as objects, None where the turn failed (a failed call reports no usage)."""
    out = values.astype(object)
    out[failed] = None
    return out


def _text(values: np.ndarray) -> pa.Array:
    return pa.array(values).cast(pa.string())


def synthesize(server: Any, templates: dict[str, dict[str, Any]], spans: int, hours: float, seed: int = 7) -> int:
    """Append ``spans`` spans (3 a turn) spread over the last ``hours``; return the number appended."""
    stream = server.store.stream(ORG, "traces", STREAM)
    schema: dict[str, pa.DataType] = dict(stream.schema)
    rng = np.random.default_rng(seed)
    turns = spans // 3
    chunk = 50_000
    now_us = int(time.time() * 1e6)
    for first in range(0, turns, chunk):
        n = min(chunk, turns - first)
        index = np.arange(first, first + n)
        for table in _turn_chunk(rng, templates, schema, index, turns, now_us, hours):
            stream._batches.append(table)
    stream._table = None
    return turns * 3


def _turn_chunk(
    rng: np.random.Generator,
    templates: dict[str, dict[str, Any]],
    schema: dict[str, pa.DataType],
    index: np.ndarray,
    total: int,
    now_us: int,
    hours: float,
) -> list[pa.Table]:
    n = len(index)
    session = index // TURNS_PER_SESSION
    number = index % TURNS_PER_SESSION + 1
    sessions = max(total // TURNS_PER_SESSION, 1)
    span_us = int(hours * 3600e6)
    session_start = now_us - span_us + (session * (span_us // sessions))
    turn_start = session_start + (number - 1) * 6_000_000 + rng.integers(0, 500_000, n)
    v2v = np.clip(rng.lognormal(np.log(700), 0.35, n), 150, 20_000).astype(np.int64)
    slow = rng.random(n) < 0.02
    v2v[slow] += rng.integers(1_000, 4_000, int(slow.sum()))
    stt = np.clip(rng.lognormal(np.log(110), 0.3, n), 20, 2000).astype(np.int64)
    llm_ttfb = np.clip(rng.lognormal(np.log(320), 0.4, n), 50, 10_000).astype(np.int64)
    tts = np.clip(rng.lognormal(np.log(150), 0.3, n), 20, 3000).astype(np.int64)
    failed = rng.random(n) < 0.01
    prompt = 20 + 22 * number + rng.integers(0, 30, n)
    completion = rng.integers(5, 60, n)
    model = np.array(MODELS, dtype=object)[session % len(MODELS)]
    sid = np.char.mod("%032x", (session.astype(np.int64) * 2654435761) % (2**62)).astype(object)
    user = np.char.mod("caller-%d", session % 5000).astype(object)
    trace_id = _hex(rng, n, 2)
    ids = {op: _hex(rng, n, 1) for op in ("turn", "llm", "cc")}
    status = np.where(failed, "ERROR", "OK").astype(object)
    code = np.where(failed, 2, 1)
    llm_start = turn_start + stt * 1000 + 40_000
    llm_us = llm_ttfb * 1000 + rng.integers(100_000, 600_000, n)
    turn_us = (v2v + 1_500) * 1000 + rng.integers(0, 3_000_000, n)
    ok_prompt = _unless(failed, prompt)
    ok_completion = _unless(failed, completion)
    common = {
        "trace_id": trace_id,
        "span_status": pa.array(status, pa.string()),
        "status_code": pa.array(code, pa.int64()),
        "pipecat_session_id": pa.array(sid, pa.string()),
        "session_id": pa.array(sid, pa.string()),
        "user_id": pa.array(user, pa.string()),
    }
    turn = {
        **common,
        "span_id": ids["turn"],
        "pipecat_turn_number": _text(number),
        "pipecat_voice_to_voice_ms": _text(v2v),
        "pipecat_stt_ms": _text(stt),
        "pipecat_llm_ttfb_ms": _text(llm_ttfb),
        "pipecat_tts_ttfb_ms": _text(tts),
        "pipecat_prompt_tokens": _text(np.where(failed, 0, prompt)),
        "pipecat_completion_tokens": _text(np.where(failed, 0, completion)),
        "pipecat_interrupted": pa.array(np.where(rng.random(n) < 0.05, "true", "false").astype(object)),
    }
    llm = {
        **common,
        "span_id": ids["llm"],
        "reference_parent_span_id": ids["turn"],
        "reference_parent_trace_id": trace_id,
        "pipecat_turn_number": _text(number),
        "pipecat_model": pa.array(model, pa.string()),
        "pipecat_prompt_tokens": pa.array(ok_prompt, pa.int64()).cast(pa.string()),
        "pipecat_completion_tokens": pa.array(ok_completion, pa.int64()).cast(pa.string()),
        "pipecat_total_tokens": pa.array(_unless(failed, prompt + completion), pa.int64()).cast(pa.string()),
        "pipecat_ttfb_ms": _text(llm_ttfb),
    }
    cost_in = prompt * 1.5e-7
    cost_out = completion * 6e-7
    chat = {
        **common,
        "span_id": ids["cc"],
        "reference_parent_span_id": ids["llm"],
        "reference_parent_trace_id": trace_id,
        "llm_model_name": pa.array(model, pa.string()),
        "gen_ai_response_model": pa.array(model, pa.string()),
        "gen_ai_conversation_id": pa.array(sid, pa.string()),
        "llm_token_count_prompt": pa.array(ok_prompt, pa.int64()).cast(pa.string()),
        "llm_token_count_completion": pa.array(ok_completion, pa.int64()).cast(pa.string()),
        "llm_token_count_total": pa.array(_unless(failed, prompt + completion), pa.int64()).cast(pa.string()),
        "gen_ai_usage_input_tokens": pa.array(ok_prompt, pa.int64()),
        "gen_ai_usage_output_tokens": pa.array(ok_completion, pa.int64()),
        "gen_ai_usage_total_tokens": pa.array(_unless(failed, prompt + completion), pa.int64()),
        "gen_ai_usage_cost_input": pa.array(_unless(failed, cost_in), pa.float64()),
        "gen_ai_usage_cost_output": pa.array(_unless(failed, cost_out), pa.float64()),
        "gen_ai_usage_cost": pa.array(_unless(failed, cost_in + cost_out), pa.float64()),
    }
    timing = {
        "pipecat.turn": (turn_start, turn_us, turn),
        "pipecat.llm_service": (llm_start, llm_us, llm),
        "ChatCompletion": (llm_start + 2_000, llm_us - 4_000, chat),
    }
    tables = []
    for op, (start_us, duration_us, columns) in timing.items():
        columns["_timestamp"] = pa.array(start_us, pa.int64())
        columns["_o2_ingest_ts"] = pa.array(start_us + duration_us + 1_000_000, pa.int64())
        columns["start_time"] = pa.array(start_us * 1000, pa.uint64())
        columns["end_time"] = pa.array((start_us + duration_us) * 1000, pa.uint64())
        columns["duration"] = pa.array(duration_us, pa.int64())
        tables.append(_table(templates[op], columns, schema, n))
    return tables


def _table(template: dict[str, Any], columns: dict[str, pa.Array], schema: dict[str, pa.DataType], n: int) -> pa.Table:
    """Every stream column: generated, else the real span's value repeated, else null."""
    arrays = []
    for name, kind in schema.items():
        if name in columns:
            arrays.append(columns[name].cast(kind))
        elif template.get(name) is not None:
            arrays.append(pa.repeat(pa.scalar(template[name]).cast(kind), n))
        else:
            arrays.append(pa.nulls(n, kind))
    return pa.Table.from_arrays(arrays, schema=pa.schema(list(schema.items())))
