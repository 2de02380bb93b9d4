"""The README's main job (`make demo`) on a machine with no OpenObserve configured."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path


def test_make_demo_main_job_runs_end_to_end_against_the_stand_in(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENOBSERVE_", "OTEL_"))}
    proc = subprocess.run(
        [sys.executable, "-m", "provision.demo.main_job"],
        cwd=tmp_path,  # no .env here
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout
    assert "No OpenObserve configured (OPENOBSERVE_URL is not set): using the local O2 stand-in" in out
    assert "$ o2-provision apply --yes --bootstrap-stream" in out
    assert "$ o2-provision demo --sessions 2 --turns 3 --slow 1 --fail 1" in out
    assert "== Pipecat · Turn latency ==" in out and "-- Slowest turns" in out
    assert "2 alert notification(s) received by the webhook:" in out
    assert re.search(r'"alert": "pipecat_failed_turns"', out) and re.search(r'"alert": "pipecat_slow_turns"', out)
    assert re.search(r'"rows": "session [0-9a-f]{32} turn \d: pipecat.llm_service failed', out)
    assert re.search(r'"rows": "session [0-9a-f]{32} turn \d: \d{4} ms', out)
