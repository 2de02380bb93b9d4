"""Benchmark 4: ``o2-provision apply`` against the O2 stand-in.

1. The built-in bundle: a first apply, then an apply with nothing changed: wall time and the requests
   the stand-in saw (reads vs writes). Target: the no-change apply only reads (the lists, plus at most
   one read per managed resource).
2. 200 generated dashboards + 200 alerts (copies of the built-in ones under new names) with 50 ms of
   latency injected into every request: ``--concurrency 1`` vs the default (8), interleaved, a fresh
   stand-in each run. Target: the default is ≥ 5× faster than sequential.

Every apply is the console script in a fresh process, as a user runs it (its ~0.5 s start-up included).
The stand-in runs with Nagle's algorithm off (see :mod:`benchmarks.standin`).

``python -m benchmarks.apply [--quick] [--reps N] [--count N]``
"""

from __future__ import annotations

import argparse
import base64
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from benchmarks import standin
from benchmarks.stats import fmt, load, median, spread, table

CLI = str(Path(sys.executable).parent / "o2-provision")
EMAIL, PASSWORD = standin.EMAIL, standin.PASSWORD
WEBHOOK = "webhook_url=http://127.0.0.1:9/hook"
LATENCY_S = 0.05
TARGET_SPEEDUP = 5.0


def _standin() -> Any:
    return standin.start()


def _env(url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENOBSERVE_", "OTEL_"))}
    env.update(OPENOBSERVE_URL=url, OPENOBSERVE_AUTH_TOKEN=base64.b64encode(f"{EMAIL}:{PASSWORD}".encode()).decode())
    return env


def _cli(url: str, cwd: str, *args: str, cache: str | None = None) -> float:
    started = time.perf_counter()
    env = _env(url)
    env["XDG_CACHE_HOME"] = cache or str(Path(cwd) / "cache")  # the CLI's compiled-template cache
    proc = subprocess.run([CLI, *args], env=env, cwd=cwd, capture_output=True, text=True, check=False, timeout=900)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"{args[0]} failed ({proc.returncode}): {proc.stderr[-1500:]}")
    return elapsed


def _apply(url: str, cwd: str, *extra: str) -> float:
    return _cli(url, cwd, "apply", "--yes", "--bootstrap-stream", "--set", WEBHOOK, *extra)


def _managed_count() -> int:
    """Resources of the built-in bundle other than folders (each may be read once)."""
    from provision.bundle import Sources, load_bundle
    from provision.kinds import Kind

    bundle = load_bundle(Sources(templates=None, values_files=[], assignments=[WEBHOOK]))
    return len([r for r in bundle.resources if r.kind is not Kind.FOLDER])


def _is_list(path: str, query: str) -> bool:
    lists = ("/folders/dashboards", "/folders/alerts", "/alerts/destinations", "/alerts/templates", "/llm/models")
    return path.endswith(lists) or (path.endswith(("/alerts", "/dashboards")) and "folder=" in query)


def _requests(server: Any) -> Counter[str]:
    """Requests by class: GET / _search (reads), other methods (writes), ingestion."""
    counts: Counter[str] = Counter()
    for r in server.requests:
        if r.path.endswith("/v1/traces"):
            counts["ingest"] += 1
        elif r.method in ("GET", "HEAD") or r.path.endswith("/_search"):
            counts["read"] += 1
            counts["list" if _is_list(r.path, r.query) else "item read"] += 1
        else:
            counts["write"] += 1
        counts[r.method] += 1
    return counts


def generated_templates(root: Path, count: int) -> Path:
    """The built-in templates plus ``count`` copies of each built-in dashboard and alert, renamed."""
    from provision.render import builtin_templates

    target = root / "templates"
    shutil.copytree(builtin_templates(), target, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    dashboard = (target / "dashboards" / "turn_latency.json.j2").read_text()
    alert = (target / "alerts" / "pipecat_slow_turns.json.j2").read_text()
    for i in range(count):
        title = f'"title": "Bench {i:03d} · Turn latency"'
        (target / "dashboards" / f"bench_{i:03d}.json.j2").write_text(
            dashboard.replace('"title": "Pipecat · Turn latency"', title)
        )
        (target / "alerts" / f"bench_{i:03d}.json.j2").write_text(
            alert.replace('"name": "pipecat_slow_turns"', f'"name": "bench_slow_turns_{i:03d}"')
        )
    return target


def builtin(reps: int) -> list[list[str]]:
    rows: list[tuple[float, Counter[str], float, Counter[str]]] = []
    for _ in range(reps):
        server = _standin()
        try:
            with tempfile.TemporaryDirectory() as cwd:
                first = _apply(server.url, cwd)
                first_requests = _requests(server)
                server.clear_requests()
                again = _apply(server.url, cwd)
                again_requests = _requests(server)
        finally:
            server.stop()
        rows.append((first, first_requests, again, again_requests))
    firsts = [r[0] for r in rows]
    agains = [r[2] for r in rows]
    fr, ar = rows[-1][1], rows[-1][3]
    managed = _managed_count()
    only_reads = all(r[3]["write"] == 0 and r[3]["ingest"] == 0 and r[3]["item read"] <= managed for r in rows)
    return [
        [
            "first apply",
            f"{fmt(median(firsts), 3)} ({spread(firsts, 3)})",
            str(fr["read"]),
            str(fr["write"]),
            str(fr["ingest"]),
            "",
        ],
        [
            "no-change apply",
            f"{fmt(median(agains), 3)} ({spread(agains, 3)})",
            str(ar["read"]),
            str(ar["write"]),
            str(ar["ingest"]),
            f"{ar['list']} lists + {ar['item read']} item reads for {managed} managed resources; "
            + ("only reads: met" if only_reads else "MISSED"),
        ],
    ]


def many(reps: int, count: int) -> tuple[list[list[str]], float, float]:
    times: dict[int, list[float]] = {-1: [], 0: [], 1: [], 8: []}
    requests: dict[int, Counter[str]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        templates = generated_templates(Path(tmp), count)
        _cli("http://127.0.0.1:9", tmp, "render", "--set", WEBHOOK, "--templates", str(templates))  # fill the cache
        for rep in range(reps):
            render = ("render", "--set", WEBHOOK, "--templates", str(templates))
            with tempfile.TemporaryDirectory() as cold:
                times[-1].append(_cli("http://127.0.0.1:9", tmp, *render, cache=cold))
            times[0].append(_cli("http://127.0.0.1:9", tmp, *render))  # warm: the applies below use this cache
            for concurrency in (1, 8) if rep % 2 == 0 else (8, 1):
                server = _standin()
                try:
                    server.faults.add(".*", kind="latency", seconds=LATENCY_S)
                    times[concurrency].append(
                        _apply(server.url, tmp, "--templates", str(templates), "--concurrency", str(concurrency))
                    )
                    requests[concurrency] = _requests(server)
                finally:
                    server.stop()
    speedups = [a / b for a, b in zip(times[1], times[8], strict=True)]
    network = [(a - r) / (b - r) for a, b, r in zip(times[1], times[8], times[0], strict=True)]
    rows = [
        [label, f"{fmt(median(times[k]), 2)} ({spread(times[k], 2)})", "0", "0", "-", "-"]
        for k, label in ((-1, "render only, cold template cache"), (0, "render only, warm cache (as below)"))
    ]
    for c in (1, 8):
        requests_made = requests[c]["read"] + requests[c]["write"]
        minus = [t - r for t, r in zip(times[c], times[0], strict=True)]
        rows.append(
            [
                f"apply --concurrency {c}" + (" (default)" if c == 8 else ""),
                f"{fmt(median(times[c]), 2)} ({spread(times[c], 2)})",
                str(requests[c]["read"]),
                str(requests[c]["write"]),
                f"{fmt(median(minus), 2)} ({spread(minus, 2)})",
                fmt(median(minus) / max(requests_made, 1) * 1000, 1),
            ]
        )
    return rows, median(speedups), median(network)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.apply")
    parser.add_argument("--quick", action="store_true", help="1 repetition, 20 + 20 generated resources")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--count", type=int, default=200)
    args = parser.parse_args(argv)
    reps, count = (1, 20) if args.quick else (args.reps, args.count)
    print(f"[apply] {load()}", flush=True)
    head = ["built-in bundle", "wall s", "reads", "writes", "ingest", "target"]
    print(f"## 4. Apply\n\nBuilt-in bundle ({reps} repetitions, fresh stand-in each, medians (min–max)):\n")
    print(table(head, builtin(reps)))
    rows, speedup, network = many(reps, count)
    print(
        f"\n{count} dashboards + {count} alerts (+ the built-in bundle), {LATENCY_S * 1000:.0f} ms latency "
        f"injected per request, {reps} repetitions:\n"
    )
    head = ["run", "wall s", "reads", "writes", "minus render s", "ms per request (minus render)"]
    print(table(head, rows))
    verdict = "met" if speedup >= TARGET_SPEEDUP else "MISSED"
    print(
        f"\nSpeed-up of the default over sequential: {speedup:.1f}× end to end (target ≥ {TARGET_SPEEDUP:.0f}×: "
        f"{verdict}); {network:.1f}× for the part after rendering."
    )


if __name__ == "__main__":
    main()
