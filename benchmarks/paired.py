"""Benchmark 1b: what ``instrument_pipeline`` costs per turn, measured in one process, session by session.

Process-to-process noise on a shared machine (±2 ms of CPU per turn between runs of the same
configuration) is larger than the cost being measured, so this runs every side in one bot process, per
provider (the OpenAI and the Anthropic pipeline of benchmark 1): ``setup_openobserve`` once, then
sessions alternately traced (``instrument_pipeline``, spans exported to a local OTLP endpoint) and
untraced (no hooks, instrumentations suppressed, and no span from the provider's client either: the
Anthropic client's own span is turned off, as in a process without tracing), in ABBA order. For
Anthropic a third side is traced with the client's own span off (what that span, which our exporter
leaves out, costs). Each side's CPU is the whole process's (export thread included) over the session's
turns plus a flush of its spans. The figure is the median of the paired differences.

``python -m benchmarks.paired [--pairs N] [--turns T] [--providers openai,anthropic]``; the child process is
``python -m benchmarks.paired --child PROVIDER LLM_URL OTLP_URL --pairs N --turns T``.
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

from benchmarks.driver import PROVIDERS, TOKEN, Measured, _quiet, _session
from benchmarks.overhead import PROVIDER_LABELS, SERVER_URL
from benchmarks.servers import Servers
from benchmarks.stats import fmt, load, median, spread, table

# Side → (driver configuration, the provider client's own span on).
SIDES = {"off": ("none", False), "on": ("ours", True), "on-no-sdk-span": ("ours", False)}
PROVIDER_SIDES = {"openai": ("on", "off"), "anthropic": ("on", "off", "on-no-sdk-span")}
SIDE_LABELS = {
    "off": "untraced session",
    "on": "instrument_pipeline session",
    "on-no-sdk-span": "instrument_pipeline, client's own span off",
}
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


async def _child(provider: str, llm: str, otlp: str, pairs: int, turns: int) -> dict[str, list[float]]:
    from opentelemetry import context as otel_context
    from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY

    from instrumentation import setup_openobserve

    provider_ = setup_openobserve(url=otlp, auth_token=TOKEN, service_name="bench-bot", load_env_file=False)
    clock = _GCClock()
    sides = PROVIDER_SIDES[provider]
    result: dict[str, list[float]] = {f"{k}{side}": [] for side in sides for k in ("", "gc_", "calls_")}

    async def one(side: str, measured: bool, profile: cProfile.Profile | None = None) -> None:
        config, sdk_span = SIDES[side]
        token = otel_context.attach(otel_context.set_value(_SUPPRESS_INSTRUMENTATION_KEY, side == "off"))
        try:
            out = Measured(side)
            gc_before = clock.seconds
            if profile is not None:
                profile.enable()
            await _session(config, llm, turns, out, provider, sdk_span)
            if profile is not None:
                profile.disable()
                result[f"calls_{side}"].append(pstats.Stats(profile).total_calls / turns)  # type: ignore[attr-defined]
                return
            cpu = time.process_time()
            provider_.force_flush()
            out.cpu_s += time.process_time() - cpu
        finally:
            otel_context.detach(token)
        if measured:
            result[side].append(out.cpu_s * 1000 / out.turns)
            result[f"gc_{side}"].append((clock.seconds - gc_before) * 1000 / out.turns)

    for side in sides:
        await one(side, measured=False)  # warm-up
    for pair in range(pairs):
        for side in sides if pair % 2 == 0 else tuple(reversed(sides)):
            await one(side, measured=True)
    # Deterministic, unlike CPU time: how many function calls (cProfile's count: C built-ins included) a turn
    # makes on the event loop's thread.
    for side in sides:
        await one(side, measured=False, profile=cProfile.Profile())
    return result


def measure(pairs: int, turns: int, providers: tuple[str, ...] = PROVIDERS) -> dict[str, dict[str, list[float]]]:
    """Per provider, the child's per-session figures, against one set of servers."""
    results: dict[str, dict[str, list[float]]] = {}
    with Servers() as servers:
        for provider in providers:
            cmd = [sys.executable, "-m", "benchmarks.paired", "--child", provider]
            cmd += [
                servers.urls[SERVER_URL[provider]],
                servers.urls["ok"],
                "--pairs",
                str(pairs),
                "--turns",
                str(turns),
            ]
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=3600, check=False)
            if proc.returncode != 0:
                raise RuntimeError(f"paired run failed ({proc.returncode}): {proc.stderr[-2000:]}")
            results[provider] = json.loads(proc.stdout.strip().splitlines()[-1])
    return results


def report(results: dict[str, dict[str, list[float]]], turns: int) -> str:
    pairs = len(next(iter(results.values()))["off"]) if results else 0
    lines = [f"## 1b. Ours, paired in one process ({pairs} rounds of {turns}-turn sessions, ABBA order)"]
    for provider, result in results.items():
        lines += ["", f"### {PROVIDER_LABELS[provider]}", "", provider_report(provider, result)]
    return "\n".join(lines)


def provider_report(provider: str, result: dict[str, list[float]]) -> str:
    sides = PROVIDER_SIDES[provider]
    in_order = ("off", *(side for side in sides if side != "off"))
    rows = [[SIDE_LABELS[side], f"{fmt(median(result[side]))} ({spread(result[side])})", "", ""] for side in in_order]
    calls_off = result["calls_off"][0]
    calls = [f"untraced {calls_off:,.0f}"]
    verdicts = []
    for side in in_order[1:]:
        deltas = [a - b for a, b in zip(result[side], result["off"], strict=True)]
        gc_deltas = [a - b for a, b in zip(result[f"gc_{side}"], result["gc_off"], strict=True)]
        quartiles = sorted(deltas)[len(deltas) // 4], sorted(deltas)[(3 * len(deltas)) // 4]
        rows.append(
            [
                f"paired difference: {SIDE_LABELS[side]} − untraced",
                "",
                f"{median(deltas):+.2f} (IQR {quartiles[0]:+.2f}…{quartiles[1]:+.2f})",
                f"{median(gc_deltas):+.2f}",
            ]
        )
        on = result[f"calls_{side}"][0]
        calls.append(f"{SIDE_LABELS[side]} {on:,.0f} ({on - calls_off:+,.0f}, {100 * (on / calls_off - 1):+.1f} %)")
        verdict = "met" if median(deltas) < TARGET_CPU_MS else "MISSED"
        verdicts.append(f"{SIDE_LABELS[side]}: {median(deltas):.2f} ms → {verdict}")
    head = ["session", "CPU ms/turn (median, min–max)", "Δ CPU ms/turn (median)", "of which GC ms/turn"]
    return "\n".join(
        [
            table(head, rows),
            "",
            "Function calls per turn on the event loop's thread, C built-ins included (cProfile's count, not timed; "
            "benchmark 1d counts Python calls in every thread): " + "; ".join(calls) + ".",
            "",
            f"Target: < {TARGET_CPU_MS} ms CPU/turn: " + "; ".join(verdicts) + ".",
        ]
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.paired")
    parser.add_argument("--pairs", type=int, default=30)
    parser.add_argument("--turns", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="4 pairs of 10 turns")
    parser.add_argument(
        "--providers", default=",".join(PROVIDERS), help="comma-separated subset of " + ",".join(PROVIDERS)
    )
    parser.add_argument("--child", nargs=3, metavar=("PROVIDER", "LLM_URL", "OTLP_URL"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    pairs, turns = (4, 10) if args.quick else (args.pairs, args.turns)
    if args.child:
        _quiet()
        provider, llm, otlp = args.child
        print(json.dumps(asyncio.run(_child(provider, llm, otlp, pairs, turns))), flush=True)
        return
    providers = tuple(p for p in PROVIDERS if p in args.providers.split(","))
    print(f"[paired] {load()}", flush=True)
    print(report(measure(pairs, turns, providers), turns))
    print(f"[paired] after: {load()}")


if __name__ == "__main__":
    main()
