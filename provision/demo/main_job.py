"""`make demo`: the whole flow on this machine, as a user would run it.

apply the dashboards and alerts, send real bot traffic (one slow turn, one failed turn), print what the
dashboards show (`o2-provision report`) and the alert notifications a local webhook received.
With `OPENOBSERVE_URL` set (environment or `.env`) it runs against that OpenObserve; without it, it starts
the project's O2 stand-in (`tests/o2_standin`, from a checkout of this repository) on 127.0.0.1 and says so.
"""

from __future__ import annotations

import base64
import json
import os
import shlex
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from dotenv import find_dotenv, load_dotenv

from provision.demo.webhook import WebhookReceiver

ROOT_EMAIL = "root@example.com"
ROOT_PASSWORD = "Complexpass#123"
REPO = Path(__file__).resolve().parents[2]


def start_standin() -> tuple[subprocess.Popen[str], str]:
    """Start the O2 stand-in as a process and return it with its URL."""
    if not (REPO / "tests" / "o2_standin").is_dir():
        sys.exit("error: no OPENOBSERVE_URL and no stand-in (it lives in tests/ of a checkout of this repository)")
    env = {
        **os.environ,
        "ZO_ROOT_USER_EMAIL": ROOT_EMAIL,
        "ZO_ROOT_USER_PASSWORD": ROOT_PASSWORD,
        "ZO_SSRF_ALLOW_LOOPBACK": "true",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.o2_standin", "--port", "0"], cwd=REPO, env=env, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if "http://" not in line:
        proc.kill()
        sys.exit(f"error: the stand-in did not start: {line!r}")
    return proc, line[line.index("http://") :]


def run(*args: str, env: dict[str, str]) -> int:
    """Run one o2-provision command as a user would, showing it first."""
    print(f"\n$ o2-provision {shlex.join(args)}", flush=True)
    return subprocess.call([sys.executable, "-m", "provision", *args], env=env)


def main() -> int:
    load_dotenv(find_dotenv(usecwd=True), override=False)
    env = dict(os.environ)
    standin: subprocess.Popen[str] | None = None
    webhook = WebhookReceiver("/alerts")
    values = ["--set", f"webhook_url={webhook.url}", "--set", "slow_turn_threshold=1"]
    try:
        if env.get("OPENOBSERVE_URL"):
            # A real O2 refuses a loopback webhook (SSRF guard): alerts go where the user's values say.
            values = ["-f", "o2-values.yaml"] if Path("o2-values.yaml").is_file() else []
            print(
                f"Using the OpenObserve at {env['OPENOBSERVE_URL']} (OPENOBSERVE_URL), with "
                f"{'o2-values.yaml' if values else 'the default values (no alert destination: alerts are left out)'}."
            )
        else:
            standin, url = start_standin()
            env["OPENOBSERVE_URL"] = url
            env["OPENOBSERVE_ORG"] = "default"
            env["OPENOBSERVE_AUTH_TOKEN"] = base64.b64encode(f"{ROOT_EMAIL}:{ROOT_PASSWORD}".encode()).decode()
            print(
                f"No OpenObserve configured (OPENOBSERVE_URL is not set): using the local O2 stand-in at {url}\n"
                "(tests/o2_standin: OpenObserve's API, ingestion, SQL and alert evaluation, re-implemented for tests)."
            )
        if standin is not None:
            print(f"Alert notifications go to a local webhook at {webhook.url}.")
        steps = [
            ["apply", "--yes", "--bootstrap-stream", *values],
            ["demo", "--sessions", "2", "--turns", "3", "--slow", "1", "--fail", "1", *values],
        ]
        for step in steps:
            if run(*step, env=env) != 0:
                return 1
        time.sleep(1.0)  # let the last spans be ingested
        if standin is not None:
            print("\nFast-forwarding the stand-in's alert scheduler by one minute (O2 evaluates every minute).")
            with urllib.request.urlopen(
                urllib.request.Request(f"{env['OPENOBSERVE_URL']}/_standin/scheduler/run?advance_seconds=60", b"")
            ) as answer:
                answer.read()
        if run("report", "--since", "15m", "--rows", "5", *values, env=env) != 0:
            return 1
        if standin is None:
            return 0
        time.sleep(0.5)
        print(f"\n{len(webhook.received)} alert notification(s) received by the webhook:")
        for body in (delivery["body"] for delivery in webhook.received):
            try:
                print(json.dumps(json.loads(body), indent=2))
            except json.JSONDecodeError:
                print(body)
        return 0
    finally:
        webhook.stop()
        if standin is not None:
            standin.terminate()
            standin.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main())
