"""Benchmark 1d: Python calls a turn in every thread, export included, and where ours go (deterministic).

CPU time on a shared 2-vCPU machine wanders by ±2 ms a turn; the number of Python function calls does
not (nearly: timers that poll run more often when a turn takes longer). Each configuration runs in its
own process (one global tracer provider per process), counting every ``call`` event of every thread
(``sys.setprofile`` on the event loop's thread, ``threading.setprofile`` for the export thread and any
other) over a measured session that follows a warm-up one, and ships its spans over OTLP/HTTP to the same
local endpoint, which counts requests and bytes. Three bots:

* ``openai`` / ``anthropic``: the LLM-only pipeline of benchmark 1 (zero time to first token);
* ``voice``: ``provision.demo.bot``'s real-time voice pipeline, STT → LLM → TTS → output transport, the
  user speaking 2 s of 20 ms ``InputAudioRawFrame``\\ s a turn, the bot's answer played as TTS audio.

For ours, the calls are split by part (frame tap, hooks and span building, the OpenTelemetry SDK,
OTLP encoding, the HTTP POST, Pipecat's latency observer that the tap feeds, the rest); the rest also
holds the polling noise. ``--long N`` runs one ``N``-turn OpenAI session and compares the calls of its
first and last fifth, for ours against untraced.

``python -m benchmarks.calls [--quick] [--turns T] [--voice-turns V] [--long N] [--bots openai,anthropic,voice]``
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import gc
import importlib.util
import json
import subprocess
import sys
import threading
import time
import urllib.request
from types import CodeType, FrameType
from typing import Any

from benchmarks.servers import Servers
from benchmarks.stats import load, table

BOTS = ("openai", "anthropic", "voice")
CONFIGS = ("none", "ours", "pipecat", "oi-pipecat")
LABELS = {
    "none": "untraced",
    "ours": "ours",
    "pipecat": "Pipecat's own tracing",
    "oi-pipecat": "Arize openinference-instrumentation-pipecat",
}
TARGET_CALLS = 600
# Where a call of ours goes, by the file its code is in (first match wins).
PARTS = (
    ("frame tap", ("instrumentation/frames.py", "instrumentation/pushes.py")),
    ("OTLP encoding", ("instrumentation/otlp.py",)),
    ("HTTP POST", ("instrumentation/otlp_http.py", "/http/client.py", "/socket.py", "/email/", "/ssl.py")),
    ("span queue", ("instrumentation/export.py",)),
    ("hooks and span building", ("/instrumentation/",)),
    ("OpenTelemetry SDK and API", ("opentelemetry/",)),
    ("Pipecat's latency observer (fed by the tap)", ("pipecat/observers/user_bot_latency_observer.py",)),
)


class Counter:
    """Counts Python function calls in every thread while :attr:`active`."""

    def __init__(self) -> None:
        self.codes: collections.Counter[CodeType] = collections.Counter()
        self.active = False
        threading.setprofile(self._profile)
        sys.setprofile(self._profile)

    def _profile(self, frame: FrameType, event: str, _arg: Any) -> None:
        if event == "call" and self.active:
            self.codes[frame.f_code] += 1

    def total(self) -> int:
        return sum(self.codes.values())

    def parts(self) -> dict[str, int]:
        split: collections.Counter[str] = collections.Counter()
        for code, calls in self.codes.items():
            name = code.co_filename
            split[next((part for part, marks in PARTS if any(m in name for m in marks)), "the rest")] += calls
        return dict(split)


def _sink_stats(otlp: str) -> dict[str, int]:
    with urllib.request.urlopen(f"{otlp}/stats", timeout=10) as answer:
        stats: dict[str, int] = json.load(answer)
    return stats


async def _child(bot: str, config: str, llm: str, otlp: str, turns: int, fifths: bool) -> dict[str, Any]:
    from benchmarks.driver import _session, _tracing

    counter = Counter()
    flush, _shutdown = _tracing(config, otlp)
    marks: list[int] = []

    async def session(n: int, record: bool) -> None:
        if bot == "voice":
            from provision.demo.bot import run_session

            await run_session(
                llm,
                turns=n,
                instrument=config == "ours",
                enable_pipecat_tracing=config == "pipecat",
                speech_seconds=2.0,
                turn_end_grace=0.1,
            )
        else:
            on_turn = (lambda _n: marks.append(counter.total())) if record else None
            await _session(config, llm, n, None, bot, on_turn=on_turn)

    await session(2 if bot == "voice" else 5, record=False)
    flush()
    before = _sink_stats(otlp)
    collections_before = sum(s["collections"] for s in gc.get_stats())
    counter.active = True
    await session(turns, record=fifths)
    flush()
    counter.active = False
    collections = sum(s["collections"] for s in gc.get_stats()) - collections_before
    after = _sink_stats(otlp)
    result: dict[str, Any] = {
        "calls": counter.total() / turns,
        "parts": {k: v / turns for k, v in counter.parts().items()},
        "requests": (after["requests"] - before["requests"]) / turns,
        "bytes": (after["bytes"] - before["bytes"]) / turns,
        "gc": collections / turns,
    }
    if fifths and len(marks) == turns:
        fifth = turns // 5
        result["first_fifth"] = marks[fifth - 1] / fifth
        result["last_fifth"] = (marks[-1] - marks[-fifth - 1]) / fifth
        # The same session again, not profiled: CPU time a turn (ms), first fifth against last.
        marks.clear()
        started = time.process_time()
        await _session(config, llm, turns, None, bot, on_turn=lambda _n: marks.append(round(time.process_time() * 1e6)))
        flush()
        cpu = [m - round(started * 1e6) for m in marks]
        result["cpu_first_fifth"] = cpu[fifth - 1] / fifth / 1000
        result["cpu_last_fifth"] = (cpu[-1] - cpu[-fifth - 1]) / fifth / 1000
    return result


def measure(bots: list[str], turns: int, voice_turns: int, long: int, voice_peers: bool = True) -> dict[str, Any]:
    installed = importlib.util.find_spec("openinference.instrumentation.pipecat") is not None
    configs = [c for c in CONFIGS if c != "oi-pipecat" or installed]
    results: dict[str, Any] = {"bots": {}, "long": {}}
    with Servers() as servers:
        urls = {"openai": servers.urls["llm"], "anthropic": servers.urls["anthropic"], "voice": servers.urls["llm"]}

        def run(bot: str, config: str, n: int, fifths: bool = False) -> dict[str, Any]:
            cmd = [sys.executable, "-m", "benchmarks.calls", "--child", bot, config, urls[bot], servers.urls["ok"]]
            cmd += ["--turns", str(n), *(["--fifths"] if fifths else [])]
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=3600, check=False)
            if proc.returncode != 0:
                raise RuntimeError(f"{bot}/{config} failed ({proc.returncode}): {proc.stderr[-2000:]}")
            answer: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
            return answer

        for bot in bots:
            n = voice_turns if bot == "voice" else turns
            # A voice session runs in real time (≈ 5 s a turn): the quick run leaves the peers' out.
            run_configs = configs if bot != "voice" or voice_peers else ["none", "ours"]
            results["bots"][bot] = {config: run(bot, config, n) for config in run_configs}
        if long:
            results["long"] = {config: run("openai", config, long, fifths=True) for config in ("none", "ours")}
            results["long_turns"] = long
    results["configs"] = configs
    return results


def report(results: dict[str, Any], turns: int, voice_turns: int) -> str:
    lines = [
        f"## 1d. Python calls a turn, every thread counted, export included ({turns} turns; voice {voice_turns} turns)",
    ]
    for bot, runs in results["bots"].items():
        base = runs["none"]
        rows = []
        for config in [c for c in results["configs"] if c in runs]:
            run = runs[config]
            added = run["calls"] - base["calls"]
            rows.append(
                [
                    LABELS[config],
                    f"{run['calls']:,.0f}",
                    "—" if config == "none" else f"{added:+,.0f}",
                    f"{run['requests']:.2f}",
                    f"{run['bytes']:,.0f}",
                    f"{run['gc'] - base['gc']:+.2f}" if config != "none" else f"{run['gc']:.2f}",
                ]
            )
        head = ["configuration", "calls/turn", "added", "OTLP requests/turn", "OTLP bytes/turn", "GC runs/turn"]
        ours = runs["ours"]["calls"] - base["calls"]
        verdict = f"ours adds {ours:,.0f} calls a turn: < {TARGET_CALLS} {'met' if ours < TARGET_CALLS else 'MISSED'}; "
        if "pipecat" in runs:
            pipecat = runs["pipecat"]["calls"] - base["calls"]
            verdict += f"at most half of Pipecat's own (+{pipecat:,.0f}): {'met' if ours <= pipecat / 2 else 'MISSED'}."
        else:
            verdict += "Pipecat's own tracing and Arize's are run beside it in the full run only."
        parts = runs["ours"]["parts"]
        split = [
            [part, f"{parts.get(part, 0):,.0f}", f"{parts.get(part, 0) - base['parts'].get(part, 0):+,.0f}"]
            for part in [p for p, _ in PARTS] + ["the rest"]
        ]
        lines += [
            "",
            f"### {bot}",
            "",
            table(head, rows),
            "",
            verdict,
            "",
            "Ours by part (calls a turn; 'added' against the untraced run, whose only entries here are Pipecat's):",
            "",
            table(["part", "calls/turn", "added"], split),
        ]
    long = results.get("long") or {}
    if long:
        none, ours = long["none"], long["ours"]
        first = ours["first_fifth"] - none["first_fifth"]
        last = ours["last_fifth"] - none["last_fifth"]
        ratio = last / first if first else float("nan")
        cpu_first = ours["cpu_first_fifth"] - none["cpu_first_fifth"]
        cpu_last = ours["cpu_last_fifth"] - none["cpu_last_fifth"]
        turns_long = results.get("long_turns", 0)
        lines += [
            "",
            f"### A long OpenAI session ({turns_long} turns): what ours adds, first fifth against last fifth",
            "",
            f"Calls: ours adds {first:,.0f} a turn in the first fifth and {last:,.0f} in the last: "
            f"{ratio:.2f}× (target ≤ 1.25×: {'met' if ratio <= 1.25 else 'MISSED'}); untraced turns go from "
            f"{none['first_fifth']:,.0f} to {none['last_fifth']:,.0f} calls as the context grows.",
            "",
            f"CPU (the same session again, not profiled; one run each, so ±1–2 ms of noise): ours adds "
            f"{cpu_first:+.2f} ms a turn in the first fifth and {cpu_last:+.2f} ms in the last; untraced "
            f"{none['cpu_first_fifth']:.2f} → {none['cpu_last_fifth']:.2f} ms.",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.calls")
    parser.add_argument(
        "--quick", action="store_true", help="10 turns, voice 3 turns (untraced and ours only), no long session"
    )
    parser.add_argument("--turns", type=int, default=40)
    parser.add_argument("--voice-turns", type=int, default=8)
    parser.add_argument("--long", type=int, default=200, help="turns of the long session (0: none)")
    parser.add_argument("--bots", default=",".join(BOTS))
    parser.add_argument("--child", nargs=4, metavar=("BOT", "CONFIG", "LLM_URL", "OTLP_URL"), help=argparse.SUPPRESS)
    parser.add_argument("--fifths", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        from benchmarks.driver import _quiet

        _quiet()
        bot, config, llm, otlp = args.child
        print(json.dumps(asyncio.run(_child(bot, config, llm, otlp, args.turns, args.fifths))), flush=True)
        return
    turns, voice_turns, long = (10, 3, 0) if args.quick else (args.turns, args.voice_turns, args.long)
    bots = [b for b in BOTS if b in args.bots.split(",")]
    print(f"[calls] {load()}", flush=True)
    print(report(measure(bots, turns, voice_turns, long, voice_peers=not args.quick), turns, voice_turns))
    print(f"[calls] after: {load()}")


if __name__ == "__main__":
    main()
