"""A long conversation with OpenObserve down: nothing piles up, turns stay cheap, one warning."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

from tests.instrumentation.conftest import TOKEN, Tracing

# Runs in its own process: it needs a global tracer provider of its own, exporting to a dead port.
SCRIPT = """
import gc, json, logging, resource, sys, time
from opentelemetry.sdk.trace import ReadableSpan
from instrumentation import llm_service_span, setup_openobserve
from instrumentation.session import SessionInfo
from instrumentation.turns import Stages, Turn, TurnTracker

logging.basicConfig(level=logging.INFO, stream=sys.stderr)
provider = setup_openobserve(url=sys.argv[1], auth_token=sys.argv[2], export_timeout=0.2, load_env_file=False)
tracker = TurnTracker(SessionInfo("long-session"), Stages(), grace=0.1)

def turn(n):
    tracker.on_user_started()
    t = tracker.begin_llm_call()
    with llm_service_span("OpenAILLMService", "gpt-4o-mini", f"question {n}", session_id="long-session") as call:
        call.set_response("an answer", prompt_tokens=12, completion_tokens=4)
    tracker.end_llm_call(t, prompt_tokens=12, completion_tokens=4, ttfb_ms=3)
    tracker.on_bot_started()
    tracker.on_pipeline_end()

turns = int(sys.argv[3])
started = time.process_time()
for n in range(turns):
    turn(n)
cpu_ms = (time.process_time() - started) * 1000 / turns
provider.force_flush()
gc.collect()
alive = lambda kind: sum(1 for o in gc.get_objects() if isinstance(o, kind))
print(json.dumps({"spans": alive(ReadableSpan), "turns": alive(Turn), "cpu_ms": cpu_ms,
                  "rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def test_thousands_of_turns_with_openobserve_down_leave_nothing_behind() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, f"http://127.0.0.1:{port}", TOKEN, "5000"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    figures = json.loads(proc.stdout.strip().splitlines()[-1])
    # 10,000 spans were made; only the export queue (at most 2048) may still hold any, and no turn object.
    assert figures["spans"] <= 2048, figures
    assert figures["turns"] == 0, figures
    assert figures["cpu_ms"] < 5, figures
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("WARNING")]
    assert len(warnings) == 1, proc.stderr[-2000:]
    assert f"127.0.0.1:{port}" in warnings[0] and "Connection refused" in warnings[0]
    assert TOKEN not in proc.stderr + proc.stdout


def test_finished_sessions_leave_no_pipeline_behind(tracing: Tracing) -> None:
    import asyncio
    import gc
    import weakref

    from pipecat.pipeline.worker import PipelineWorker

    from provision.demo.bot import run_session
    from provision.demo.fakes.openai import FakeOpenAI

    # Weakly, and only these sessions' workers: another test file in the same process may keep its own.
    workers: list[weakref.ref[PipelineWorker]] = []

    async def sessions() -> None:
        async with FakeOpenAI(ttft=0.01) as fake:
            for _ in range(3):
                await run_session(
                    fake.base_url,
                    turns=1,
                    llm_only=True,
                    turn_end_grace=0.05,
                    before_run=lambda worker: workers.append(weakref.ref(worker)),
                )

    asyncio.run(sessions())
    gc.collect()
    assert len(workers) == 3
    assert [w() for w in workers] == [None, None, None]
