"""Benchmark 3: CLI start-up.

Wall time of ``o2-provision --help``, ``o2-provision render`` and ``o2-provision plan`` (against the O2
stand-in) as a user runs them (the console script, a fresh process each time), next to ``python -c pass``
measured in the same run, interleaved; then ``python -X importtime`` shows whether ``render`` and ``plan``
import Pipecat or the OpenTelemetry SDK, and what their slowest imports are.

``python -m benchmarks.cli_startup [--quick] [--runs N]``
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
from pathlib import Path

from benchmarks import standin
from benchmarks.stats import fmt, load, median, spread, table

BIN = Path(sys.executable).parent
WEBHOOK = "webhook_url=http://127.0.0.1:9/hook"
FORBIDDEN = ("pipecat", "opentelemetry.sdk")
TARGETS = {"--help": 0.3, "render": 0.5, "render (cold template cache)": 0.5}


def _env(url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENOBSERVE_", "OTEL_"))}
    token = base64.b64encode(f"{standin.EMAIL}:{standin.PASSWORD}".encode()).decode()
    env.update(OPENOBSERVE_URL=url, OPENOBSERVE_AUTH_TOKEN=token)
    return env


def commands(url: str) -> dict[str, list[str]]:
    cli = str(BIN / "o2-provision")
    return {
        "python -c pass": [sys.executable, "-c", "pass"],
        "--help": [cli, "--help"],
        "render": [cli, "render", "--set", WEBHOOK],
        "render (cold template cache)": [cli, "render", "--set", WEBHOOK],
        "plan": [cli, "plan", "--set", WEBHOOK],
    }


def _time(cmd: list[str], env: dict[str, str], cwd: str, cold: bool = False) -> float:
    if cold:
        shutil.rmtree(Path(cwd) / "cache", ignore_errors=True)
    started = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, check=False)
    elapsed = time.perf_counter() - started
    if proc.returncode not in (0, 2):
        raise RuntimeError(f"{cmd} failed: {proc.stderr.decode()[-500:]}")
    return elapsed


def imports(args: list[str], env: dict[str, str], cwd: str) -> tuple[list[str], list[tuple[int, str]]]:
    """Forbidden top-level packages imported, and the 5 slowest imports (cumulative µs)."""
    cmd = [sys.executable, "-X", "importtime", "-m", "provision", *args]
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    modules: list[tuple[int, str]] = []
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name = line.split("|")
        if cumulative.strip().isdigit():
            modules.append((int(cumulative), name.strip()))
    names = {m for _, m in modules}
    bad = sorted(n for n in names if any(n == f or n.startswith(f + ".") for f in FORBIDDEN))
    top_level = sorted((m for m in modules if "." not in m[1]), reverse=True)[:6]
    return bad, top_level


def run(runs: int) -> str:
    o2 = standin.start()
    with tempfile.TemporaryDirectory() as cwd:
        env = {**_env(o2.url), "XDG_CACHE_HOME": str(Path(cwd) / "cache")}  # the CLI's compiled templates
        cmds = commands(o2.url)
        times: dict[str, list[float]] = {name: [] for name in cmds}
        for cmd in cmds.values():  # warm the file cache once
            _time(cmd, env, cwd)
        for _ in range(runs):
            for name, cmd in cmds.items():
                times[name].append(_time(cmd, env, cwd, cold="cold" in name))
        checks = {name: imports(cmds[name][1:], env, cwd) for name in ("render", "plan")}
    o2.stop()
    base = times["python -c pass"]
    rows = []
    for name, values in times.items():
        ratio = [v / b for v, b in zip(values, base, strict=True)]
        target = TARGETS.get(name)
        verdict = "" if target is None else f"< {target} s: {'met' if median(values) < target else 'MISSED'}"
        label = name if name.startswith("python") else f"o2-provision {name}"
        rows.append([label, f"{fmt(median(values), 3)} ({spread(values, 3)})", f"{fmt(median(ratio), 1)}×", verdict])
    lines = [
        f"## 3. CLI start-up (median of {runs} runs each, interleaved, (min–max))",
        "",
        table(["command", "wall s", "ratio to python -c pass", "target"], rows),
        "",
        "`render` and `plan` run with the CLI's compiled-template cache warm (the usual case after one run); "
        "the cold row empties it before each run.",
        "",
    ]
    for name, (bad, top) in checks.items():
        verdict = "none" if not bad else ", ".join(bad[:5]) + (" …" if len(bad) > 5 else "")
        slow = ", ".join(f"{m} {us / 1000:.0f} ms" for us, m in top)
        lines.append(f"- `{name}` imports of {' / '.join(FORBIDDEN)}: **{verdict}**; slowest: {slow}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.cli_startup")
    parser.add_argument("--quick", action="store_true", help="3 runs each")
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args(argv)
    print(f"[cli_startup] {load()}", flush=True)
    print(run(3 if args.quick else args.runs))


if __name__ == "__main__":
    main()
