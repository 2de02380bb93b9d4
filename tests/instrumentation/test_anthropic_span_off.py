"""On a tracer provider of its own, setup_openobserve turns the Anthropic SDK's own span off (unless told not to)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.instrumentation.conftest import TOKEN

# A fresh process: setup_openobserve makes the global provider only where none is installed yet.
SCRIPT = """
import json, os, sys
from instrumentation import setup_openobserve, uninstrument
setup_openobserve(url="http://127.0.0.1:9", auth_token=sys.argv[1], load_env_file=False)
during = os.environ.get("ANTHROPIC_OPEN_TELEMETRY")
uninstrument()
print(json.dumps({"during": during, "after": os.environ.get("ANTHROPIC_OPEN_TELEMETRY")}))
"""


def run(env: dict[str, str]) -> dict[str, str | None]:
    clean = {k: v for k, v in os.environ.items() if k != "ANTHROPIC_OPEN_TELEMETRY"}
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, TOKEN], env={**clean, **env}, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    answer: dict[str, str | None] = json.loads(proc.stdout.strip().splitlines()[-1])
    return answer


def test_set_while_tracing_to_a_provider_of_its_own_and_undone_after() -> None:
    assert run({}) == {"during": "false", "after": None}


@pytest.mark.parametrize("value", ["true", "false"])
def test_the_applications_own_choice_is_kept(value: str) -> None:
    assert run({"ANTHROPIC_OPEN_TELEMETRY": value}) == {"during": value, "after": value}
