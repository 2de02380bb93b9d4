"""Benchmark 1: instrumentation overhead per turn of a real Pipecat pipeline, per LLM provider.

The same LLM-only pipeline (``LLMUserAggregator → <LLM service> → LLMAssistantAggregator``, the provider's
fake answering at once) runs in a fresh process per configuration (one global tracer provider per
process), several repetitions in a shuffled order, for ``OpenAILLMService`` and ``AnthropicLLMService``.
Per provider and repetition the untraced run is the baseline: every ratio and delta is taken against the
untraced run of the same provider and repetition, then the median and the min–max over repetitions are
printed, one table per provider.

``python -m benchmarks.overhead [--quick] [--reps N] [--sessions S] [--turns T] [--providers openai,anthropic]``
"""

from __future__ import annotations

import argparse
import importlib.util
import random
from collections.abc import Sequence
from typing import Any

from benchmarks.driver import CONFIGS, PROVIDER_CONFIGS, PROVIDERS, spawn
from benchmarks.servers import Servers
from benchmarks.stats import fmt, load, median, spread, table

LABELS = {
    "none": "no tracing (baseline)",
    "pipecat": "Pipecat enable_tracing=True",
    "oi-pipecat": "openinference-instrumentation-pipecat",
    "ours": "ours (setup_openobserve + instrument_pipeline)",
    "ours-no-sdk-span": "ours, Anthropic client's own span off",
    "noop-observer": "no tracing + one no-op observer",
}
PROVIDER_LABELS = {
    "openai": "OpenAI pipeline (OpenAILLMService)",
    "anthropic": "Anthropic pipeline (AnthropicLLMService)",
}
SERVER_URL = {"openai": "llm", "anthropic": "anthropic"}
TARGET_CPU_MS = 0.5


def measure(
    reps: int, sessions: int, turns: int, configs: Sequence[str] = CONFIGS, providers: Sequence[str] = PROVIDERS
) -> list[dict[str, Any]]:
    """Every provider's configurations ``reps`` times, shuffled per repetition, against one set of servers."""
    runs: list[dict[str, Any]] = []
    rng = random.Random(1)
    with Servers() as servers:
        for rep in range(reps):
            order = [(p, c) for p in providers for c in configs if c in PROVIDER_CONFIGS[p]]
            rng.shuffle(order)
            for provider, config in order:
                url = servers.urls[SERVER_URL[provider]]
                result = spawn(config, url, servers.urls["ok"], sessions, turns, provider)
                result["rep"] = rep
                result["provider"] = provider
                runs.append(result)
    return runs


def per_turn(run: dict[str, Any]) -> tuple[float, float, float]:
    """CPU ms, wall ms and median turn latency ms per turn."""
    turns = run["turns"]
    latencies = sorted(run["latencies_ms"])
    return run["cpu_s"] * 1000 / turns, run["wall_s"] * 1000 / turns, latencies[len(latencies) // 2]


def report(runs: list[dict[str, Any]], providers: Sequence[str] = PROVIDERS) -> str:
    """One table per provider, each against its own untraced runs."""
    reps = len({r["rep"] for r in runs})
    turns = runs[0]["turns"] if runs else 0
    lines = [f"## 1. Instrumentation overhead per turn ({reps} repetitions × {turns} turns, medians (min–max))"]
    for provider in providers:
        mine = [r for r in runs if r["provider"] == provider]
        lines += ["", f"### {PROVIDER_LABELS[provider]}", "", provider_report(mine)]
    return "\n".join(lines)


def provider_report(runs: list[dict[str, Any]]) -> str:
    base = {r["rep"]: per_turn(r) for r in runs if r["config"] == "none"}
    rows = []
    for config in CONFIGS:
        mine = [r for r in runs if r["config"] == config and r["rep"] in base]
        if not mine:
            continue
        cpu = [per_turn(r)[0] for r in mine]
        wall = [per_turn(r)[1] for r in mine]
        lat = [per_turn(r)[2] for r in mine]
        d_cpu = [per_turn(r)[0] - base[r["rep"]][0] for r in mine]
        r_cpu = [per_turn(r)[0] / base[r["rep"]][0] for r in mine]
        d_wall = [per_turn(r)[1] - base[r["rep"]][1] for r in mine]
        r_wall = [per_turn(r)[1] / base[r["rep"]][1] for r in mine]
        rows.append(
            [
                LABELS[config],
                f"{fmt(median(cpu))} ({spread(cpu)})",
                f"{median(d_cpu):+.2f} ({spread(d_cpu)})",
                f"{fmt(median(r_cpu), 3)} ({spread(r_cpu, 3)})",
                f"{fmt(median(wall), 1)} ({spread(wall, 1)})",
                f"{median(d_wall):+.1f} ({spread(d_wall, 1)})",
                f"{fmt(median(r_wall), 3)}",
                f"{fmt(median(lat), 1)}",
                f"{median([r['peak_rss_mb'] for r in mine]):.0f}",
            ]
        )
    head = [
        "configuration",
        "CPU ms/turn",
        "Δ CPU ms/turn",
        "CPU ratio",
        "wall ms/turn",
        "Δ wall ms/turn",
        "wall ratio",
        "p50 turn ms",
        "peak RSS MB",
    ]
    return "\n".join([table(head, rows), "", verdict(runs, base)])


def verdict(runs: list[dict[str, Any]], base: dict[int, tuple[float, float, float]]) -> str:
    def delta(config: str, index: int) -> float:
        return median([per_turn(r)[index] - base[r["rep"]][index] for r in runs if r["config"] == config])

    ours, pipecat = delta("ours", 0), delta("pipecat", 0)
    if ours != ours or pipecat != pipecat:  # NaN: a configuration was not run
        return ""
    ok_abs = ours < TARGET_CPU_MS
    ok_rel = ours < pipecat / 2
    return (
        f"Targets: ours < {TARGET_CPU_MS} ms CPU/turn: {fmt(ours)} ms → {'met' if ok_abs else 'MISSED'}; "
        f"less than half of Pipecat's own tracing ({fmt(pipecat)} ms): {'met' if ok_rel else 'MISSED'}; "
        f"wall Δ {delta('ours', 1):+.1f} ms/turn vs Pipecat's {delta('pipecat', 1):+.1f}."
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.overhead")
    parser.add_argument("--quick", action="store_true", help="1 repetition of 2 × 10 turns")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--turns", type=int, default=20, help="turns per session (a realistic call length)")
    parser.add_argument("--configs", default=",".join(CONFIGS), help="comma-separated subset (none is always run)")
    parser.add_argument(
        "--providers", default=",".join(PROVIDERS), help="comma-separated subset of " + ",".join(PROVIDERS)
    )
    args = parser.parse_args(argv)
    reps, sessions, turns = (1, 2, 10) if args.quick else (args.reps, args.sessions, args.turns)
    configs = ["none", *(c for c in args.configs.split(",") if c in CONFIGS and c != "none")]
    providers = [p for p in PROVIDERS if p in args.providers.split(",")]
    print(f"[overhead] {load()}", flush=True)
    if "oi-pipecat" in configs and importlib.util.find_spec("openinference.instrumentation.pipecat") is None:
        configs.remove("oi-pipecat")
        print("[overhead] openinference-instrumentation-pipecat is not installed (bench extra): its row is left out")
    print(report(measure(reps, sessions, turns, configs, providers), providers))
    print(f"[overhead] after: {load()}")


if __name__ == "__main__":
    main()
