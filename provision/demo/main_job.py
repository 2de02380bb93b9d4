"""``python -m provision.demo.main_job`` (``make demo``): trace two real offline bot sessions.

Spans go to the OpenObserve named by ``OPENOBSERVE_URL`` / ``OPENOBSERVE_AUTH_TOKEN`` (environment or
``.env``). Without ``OPENOBSERVE_URL`` they go to a local OTLP receiver that prints each span.
The bot talks to a fake OpenAI server on 127.0.0.1, so no API key or network is needed.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import sys
import warnings

from dotenv import find_dotenv, load_dotenv
from loguru import logger as pipecat_logger

from instrumentation import ConfigurationError, setup_openobserve
from provision.demo.bot import SessionResult, run_session
from provision.demo.fake_openai import FakeOpenAI
from provision.demo.receiver import OTLPReceiver, describe

_LOCAL_TOKEN = base64.b64encode(b"demo@example.com:demo-password").decode()


async def _sessions() -> list[SessionResult]:
    async with FakeOpenAI(fail_calls=[5]) as fake:
        first = await run_session(fake.base_url, turns=3, interrupt_turn=2, user_id="demo-user")
        second = await run_session(fake.base_url, turns=2, user_id="demo-user")
    return [first, second]


def _report(results: list[SessionResult]) -> None:
    for result in results:
        print(f"session {result.session_id}: {len(result.turns)} turns in {result.seconds:.1f}s")
        for turn in result.turns:
            flags = " ".join(f for f, on in (("interrupted", turn.interrupted), ("LLM call failed", turn.failed)) if on)
            print(
                f"  turn {turn.number}: {turn.prompt_tokens} prompt + {turn.completion_tokens} completion tokens"
                + (f" ({flags})" if flags else "")
            )


def main() -> int:
    """Run the demo; return the process exit code."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("instrumentation").setLevel(logging.INFO)
    pipecat_logger.remove()
    pipecat_logger.add(sys.stderr, level="WARNING")
    # OpenInference's wrapper of the OpenAI TTS call leaves a coroutine un-awaited; the span is dropped.
    warnings.filterwarnings("ignore", message="coroutine 'AsyncAPIResponse.parse' was never awaited")
    load_dotenv(find_dotenv(usecwd=True), override=False)
    receiver: OTLPReceiver | None = None
    try:
        if os.environ.get("OPENOBSERVE_URL"):
            provider = setup_openobserve(service_name="o2-provision-demo")
        else:
            receiver = OTLPReceiver().start()
            print(
                "No OpenObserve configured (OPENOBSERVE_URL is not set): spans go to a local OTLP "
                f"receiver at {receiver.url} and are printed below."
            )
            provider = setup_openobserve(
                url=receiver.url, auth_token=_LOCAL_TOKEN, service_name="o2-provision-demo", load_env_file=False
            )
    except ConfigurationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    results = asyncio.run(_sessions())
    provider.force_flush()
    _report(results)
    if receiver is not None:
        spans = sorted(receiver.spans(), key=lambda s: s.start_ns)
        print(f"\n{len(spans)} spans received at {receiver.requests[0].path if receiver.requests else '-'}:")
        for span in spans:
            print(" ", describe(span))
        receiver.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
