"""Benchmark 1b: what ``instrument_pipeline`` costs per turn, measured in one process, session by session.

Process-to-process noise on a shared machine (±2 ms of CPU per turn between runs of the same
configuration) is larger than the cost being measured, so this runs both sides in one bot process:
``setup_openobserve`` once, then sessions alternately traced (``instrument_pipeline``, spans exported to
a local OTLP endpoint) and untraced (no hooks; OpenInference's OpenAI wrapper suppressed, so it costs a
context look-up), in ABBA order. Each side's CPU is the whole process's (export thread included) over the
session's turns plus a flush of its spans. The figure is the median of the paired differences.

``python -m benchmarks.paired [--pairs N] [--turns T]``; the child process is
``python -m benchmarks.paired --child LLM_URL OTLP_URL --pairs N --turns T``.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import json
import pstats
import subprocess
import sys
import time
from typing import Any

from benchmarks.driver import TOKEN, Measured, _quiet, _session
from benchmarks.servers import Servers
from benchmarks.stats import fmt, load, median, spread, table

TARGET_CPU_MS = 0.5


class _GCClock:
    """CPU time spent in the garbage collector (any generation)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._started = 0.0
        gc.callbacks.append(self._on_gc)

    def _on_gc(self, phase: str, _info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.process_time()
        else:
            self.seconds += time.process_time() - self._started


async def _child(llm: str, otlp: str, pairs: int, turns: int) -> dict[str, list[float]]:
    from opentelemetry import context as otel_context
    from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY

    from instrumentation import setup_openobserve

    provider = setup_openobserve(url=otlp, auth_token=TOKEN, service_name="bench-bot", load_env_file=False)
    clock = _GCClock()
    result: dict[str, list[float]] = {"on": [], "off": [], "gc_on": [], "gc_off": [], "calls_on": [], "calls_off": []}

    async def one(side: str, measured: bool, profile: cProfile.Profile | None = None) -> None:
        token = otel_context.attach(otel_context.set_value(_SUPPRESS_INSTRUMENTATION_KEY, side == "off"))
        try:
            out = Measured(side)
            gc_before = clock.seconds
            if profile is not None:
                profile.enable()
            await _session("ours" if side == "on" else "none", llm, turns, out)
            if profile is not None:
                profile.disable()
                result[f"calls_{side}"].append(pstats.Stats(profile).total_calls / turns)  # type: ignore[attr-defined]
                return
            cpu = time.process_time()
            provider.force_flush()
            out.cpu_s += time.process_time() - cpu
        finally:
            otel_context.detach(token)
        if measured:
            result[side].append(out.cpu_s * 1000 / out.turns)
            result[f"gc_{side}"].append((clock.seconds - gc_before) * 1000 / out.turns)

    for side in ("on", "off"):
        await one(side, measured=False)  # warm-up
    for pair in range(pairs):
        for side in ("on", "off") if pair % 2 == 0 else ("off", "on"):
            await one(side, measured=True)
    # Deterministic, unlike CPU time: how many Python function calls a turn makes on the event loop's thread.
    for side in ("on", "off"):
        await one(side, measured=False, profile=cProfile.Profile())
    return result


def measure(pairs: int, turns: int) -> dict[str, list[float]]:
    with Servers() as servers:
        cmd = [sys.executable, "-m", "benchmarks.paired", "--child", servers.urls["llm"], servers.urls["ok"]]
        cmd += ["--pairs", str(pairs), "--turns", str(turns)]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=3600, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"paired run failed ({proc.returncode}): {proc.stderr[-2000:]}")
    result: dict[str, list[float]] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def report(result: dict[str, list[float]], turns: int) -> str:
    deltas = [a - b for a, b in zip(result["on"], result["off"], strict=True)]
    gc_deltas = [a - b for a, b in zip(result["gc_on"], result["gc_off"], strict=True)]
    quartiles = sorted(deltas)[len(deltas) // 4], sorted(deltas)[(3 * len(deltas)) // 4]
    rows = [
        ["untraced session", f"{fmt(median(result['off']))} ({spread(result['off'])})", "", ""],
        ["instrument_pipeline session", f"{fmt(median(result['on']))} ({spread(result['on'])})", "", ""],
        [
            "paired difference",
            "",
            f"{median(deltas):+.2f} (IQR {quartiles[0]:+.2f}…{quartiles[1]:+.2f})",
            f"{median(gc_deltas):+.2f}",
        ],
    ]
    calls_on, calls_off = result["calls_on"][0], result["calls_off"][0]
    calls = (
        f"Python function calls per turn on the event loop's thread (counted, not timed): untraced {calls_off:,.0f}, "
        f"traced {calls_on:,.0f} ({calls_on - calls_off:+,.0f}, {100 * (calls_on / calls_off - 1):+.1f} %)."
    )
    verdict = "met" if median(deltas) < TARGET_CPU_MS else "MISSED"
    return "\n".join(
        [
            f"## 1b. Ours, paired in one process ({len(deltas)} pairs of {turns}-turn sessions, ABBA order)",
            "",
            table(["session", "CPU ms/turn (median, min–max)", "Δ CPU ms/turn (median)", "of which GC ms/turn"], rows),
            "",
            calls,
            "",
            f"Target: < {TARGET_CPU_MS} ms CPU/turn: {median(deltas):.2f} ms → {verdict}.",
        ]
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.paired")
    parser.add_argument("--pairs", type=int, default=30)
    parser.add_argument("--turns", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="6 pairs of 10 turns")
    parser.add_argument("--child", nargs=2, metavar=("LLM_URL", "OTLP_URL"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    pairs, turns = (6, 10) if args.quick else (args.pairs, args.turns)
    if args.child:
        _quiet()
        print(json.dumps(asyncio.run(_child(*args.child, pairs, turns))), flush=True)
        return
    print(f"[paired] {load()}", flush=True)
    print(report(measure(pairs, turns), turns))
    print(f"[paired] after: {load()}")


if __name__ == "__main__":
    main()
