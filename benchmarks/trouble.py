"""Benchmark 2: the bot while OpenObserve is in trouble.

Our instrumentation exports to an OTLP endpoint that is healthy, refuses connections, accepts and never
answers, or answers 503; an untraced run is there for reference. Per repetition every run is compared
with the healthy run of the same repetition: turn latency (median turn, and wall time per turn), peak
RSS, and the time ``uninstrument()`` takes at the end (flush and stop of the export). Enough turns are
run for the spans (3 a turn) to overflow the 2048-span export queue, so an unbounded queue would show.

``python -m benchmarks.trouble [--quick] [--reps N] [--sessions S] [--turns T]``
"""

from __future__ import annotations

import argparse
import random
from typing import Any

from benchmarks.driver import spawn
from benchmarks.servers import Servers
from benchmarks.stats import fmt, load, median, spread, table

ENDPOINTS = {
    "ok": "healthy (200)",
    "refused": "connection refused",
    "hang": "accepts, never answers",
    "unavailable": "answers 503",
}
TARGET_RATIO = 1.05


def measure(reps: int, sessions: int, turns: int) -> list[dict[str, Any]]:
    runs: list[dict[str, Any]] = []
    rng = random.Random(2)
    with Servers() as servers:
        for rep in range(reps):
            order = [*ENDPOINTS, "untraced"]
            rng.shuffle(order)
            for name in order:
                config, endpoint = ("none", "ok") if name == "untraced" else ("ours", name)
                result = spawn(config, servers.urls["llm"], servers.urls[endpoint], sessions, turns)
                result.update(rep=rep, endpoint=name)
                runs.append(result)
    return runs


def _p50(run: dict[str, Any]) -> float:
    return float(median(run["latencies_ms"]))


def _wall(run: dict[str, Any]) -> float:
    return float(run["wall_s"] * 1000 / run["turns"])


def report(runs: list[dict[str, Any]]) -> str:
    healthy = {r["rep"]: r for r in runs if r["endpoint"] == "ok"}
    rows = []
    worst = 0.0
    for name, label in [*ENDPOINTS.items(), ("untraced", "untraced (reference)")]:
        mine = [r for r in runs if r["endpoint"] == name and r["rep"] in healthy]
        if not mine:
            continue
        p50 = [_p50(r) for r in mine]
        r_p50 = [_p50(r) / _p50(healthy[r["rep"]]) for r in mine]
        r_wall = [_wall(r) / _wall(healthy[r["rep"]]) for r in mine]
        rss = [r["peak_rss_mb"] for r in mine]
        r_rss = [r["peak_rss_mb"] / healthy[r["rep"]]["peak_rss_mb"] for r in mine]
        shut = [r["shutdown_s"] for r in mine]
        if name != "untraced":
            worst = max(worst, median(r_p50), median(r_wall))
        rows.append(
            [
                label,
                f"{fmt(median(p50), 1)} ({spread(p50, 1)})",
                f"{fmt(median(r_p50), 3)} ({spread(r_p50, 3)})",
                f"{fmt(median(r_wall), 3)} ({spread(r_wall, 3)})",
                f"{median(rss):.0f} ({spread(rss, 0)})",
                f"{fmt(median(r_rss), 3)}",
                f"{fmt(median(shut), 3)} ({spread(shut, 3)})",
                str(median([r["stderr_lines"] for r in mine])),
            ]
        )
    turns = runs[0]["turns"] if runs else 0
    head = [
        "OTLP endpoint",
        "p50 turn ms",
        "p50 ratio to healthy",
        "wall/turn ratio",
        "peak RSS MB",
        "RSS ratio",
        "uninstrument() s",
        "stderr lines",
    ]
    verdict = (
        f"Target: turn latency within {TARGET_RATIO:.2f}× of healthy: worst median ratio {worst:.3f} → "
        f"{'met' if worst <= TARGET_RATIO else 'MISSED'}."
    )
    reps = len(healthy)
    title = f"## 2. Export under trouble ({reps} repetitions × {turns} turns, {3 * turns} spans a run; medians)"
    return "\n".join([title, "", table(head, rows), "", verdict])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.trouble")
    parser.add_argument("--quick", action="store_true", help="1 repetition of 3 × 10 turns")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--sessions", type=int, default=40)
    parser.add_argument("--turns", type=int, default=20)
    args = parser.parse_args(argv)
    reps, sessions, turns = (1, 3, 10) if args.quick else (args.reps, args.sessions, args.turns)
    print(f"[trouble] {load()}", flush=True)
    print(report(measure(reps, sessions, turns)))
    print(f"[trouble] after: {load()}")


if __name__ == "__main__":
    main()
