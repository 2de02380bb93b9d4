"""End-to-end fixtures: real Pipecat sessions traced over OTLP into the O2 stand-in, the CLI, a webhook.

OpenTelemetry allows one global tracer provider per process and Pipecat uses the global one, so the
e2e suite shares it with the rest of the test session (the same approach as
``tests/instrumentation/conftest.py``): it reuses the SDK provider already installed, or installs one,
and only re-points our OpenObserve export (``uninstrument`` + ``setup_openobserve``) at the stand-in of
each scenario. Whatever export was installed before is restored at the end.

Expected numbers are never taken from O2: :class:`Played` keeps what the fake OpenAI server did
(its chat calls and the usage it reported), attributed to sessions by wall-clock windows.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from loguru import logger
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider

import instrumentation.setup as instrumentation_setup
from instrumentation import setup_openobserve, uninstrument
from provision.demo.bot import run_session
from provision.demo.fakes.openai import ChatCall, FakeOpenAI
from provision.panels import panel_queries
from tests.conftest import ROOT_EMAIL, ROOT_PASSWORD, TOKEN, Cli, Webhook
from tests.o2_standin import StandIn

ORG = "default"
STREAM = "default"
AUTH = {"Authorization": f"Basic {TOKEN}"}
E2E_SERVICE = "pipecat-e2e-bot"

logger.remove()
logger.add(sys.stderr, level="WARNING")


# --------------------------------------------------------------------------- tracing


@dataclass
class Export:
    """The process's tracer provider and our OpenObserve export, re-pointable at a stand-in."""

    provider: TracerProvider
    previous: Any = None  # the export installed before the e2e suite took over, if any

    @property
    def service_name(self) -> str:
        return str(self.provider.resource.attributes.get("service.name"))

    def to(self, server: StandIn, stream: str = STREAM, *, capture_content: bool = True) -> None:
        """Send every span from now on to ``server`` (org ``default``), into ``stream``."""
        self.flush()
        uninstrument()
        setup_openobserve(
            tracer_provider=self.provider,
            url=server.url,
            org=ORG,
            stream=stream,
            auth_token=TOKEN,
            capture_content=capture_content,
            load_env_file=False,
        )

    def release(self) -> None:
        """Flush, stop our export, and give the rest of the test session back the export it had."""
        self.flush()
        uninstrument()
        if self.previous is not None:
            instrumentation_setup._install(self.previous.config, self.previous.provider)

    def flush(self) -> None:
        """Export every finished span now (the OTLP request returns once O2 has ingested it)."""
        # An export the provider could not be made to drop stays on it, shut, and reports False: flush the
        # provider, then require the live export to have flushed.
        self.provider.force_flush(30_000)
        installed = instrumentation_setup._installed
        if installed is not None:
            assert installed.processor.force_flush(30_000), "spans were not flushed"


@pytest.fixture(scope="session")
def export() -> Export:
    """The shared provider. Each scenario points the export at its stand-in with :meth:`Export.to`
    and hands it back with :meth:`Export.release` once its spans are in."""
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        provider = current
    else:
        provider = TracerProvider(resource=Resource.create({"service.name": E2E_SERVICE}))
        trace.set_tracer_provider(provider)
    return Export(provider, instrumentation_setup._installed)


# --------------------------------------------------------------------------- servers


def start_standin() -> StandIn:
    server = StandIn(root_email=ROOT_EMAIL, root_password=ROOT_PASSWORD, allow_loopback=True)
    server.start()
    return server


def cli_for(server: StandIn, cwd: Path) -> Cli:
    return Cli(cwd, {"OPENOBSERVE_URL": server.url, "OPENOBSERVE_AUTH_TOKEN": TOKEN})


def api(server: StandIn) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers=AUTH, timeout=30)


# --------------------------------------------------------------------------- the bot


@dataclass(frozen=True)
class SessionPlan:
    turns: int
    model: str = "gpt-4o-mini"


@dataclass
class Played:
    """One session as the fake LLM saw it."""

    session_id: str
    model: str
    turns: int
    calls: list[ChatCall]  # first attempts, in order; call i answers turn i + 1
    started: float
    ended: float

    @property
    def prompt_tokens(self) -> int:
        return sum((c.usage or {}).get("prompt_tokens", 0) for c in self.calls)

    @property
    def completion_tokens(self) -> int:
        return sum((c.usage or {}).get("completion_tokens", 0) for c in self.calls)

    @property
    def total_tokens(self) -> int:
        return sum((c.usage or {}).get("total_tokens", 0) for c in self.calls)

    def failed_turns(self) -> list[int]:
        return [i + 1 for i, c in enumerate(self.calls) if c.status != 200]

    def ok_calls(self) -> list[ChatCall]:
        return [c for c in self.calls if c.status == 200]


@dataclass
class Run:
    sessions: list[Played]
    fake: FakeOpenAI
    start_us: int
    end_us: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def by_id(self) -> dict[str, Played]:
        return {p.session_id: p for p in self.sessions}


def play(
    export: Export,
    plans: Sequence[SessionPlan],
    *,
    llm_only: bool = False,
    **fake_options: Any,
) -> Run:
    """Run the sessions one after another through real pipelines against one fake LLM; flush the spans."""
    options: dict[str, Any] = {"speech_seconds": 0.2, "stt_delay": 0.05, "tts_delay": 0.05, **fake_options}
    # A turn span starts when the user started speaking, which VAD reports after the fact (its
    # start_secs): it may predate the pipeline's own start. Each scenario has a fresh stand-in, so a
    # wide margin takes in nothing else.
    start_us = int((time.time() - 5) * 1_000_000)

    async def go() -> tuple[list[Played], FakeOpenAI]:
        played: list[Played] = []
        async with FakeOpenAI(**options) as fake:
            for plan in plans:
                session_id = f"e2e-{uuid.uuid4().hex[:12]}"
                before = len(fake.chat_calls)
                started = time.time()
                result = await run_session(
                    fake.base_url,
                    turns=plan.turns,
                    session_id=session_id,
                    user_id="e2e-user",
                    model=plan.model,
                    llm_only=llm_only,
                    speech_seconds=0.2,
                )
                ended = time.time()
                assert result.session_id == session_id
                calls = [c for c in fake.chat_calls[before:] if c.retry == 0]
                assert len(calls) == plan.turns, f"one LLM call per turn expected, got {len(calls)}"
                played.append(Played(session_id, plan.model, plan.turns, calls, started, ended))
        return played, fake

    sessions, fake = asyncio.run(go())
    export.flush()
    return Run(sessions, fake, start_us, int(time.time() * 1_000_000) + 1_000_000)


# --------------------------------------------------------------------------- O2 side


def search(server: StandIn, sql: str, start_us: int, end_us: int) -> list[dict[str, Any]]:
    """``POST /api/default/_search?type=traces``: the hits, as the dashboard viewer gets them."""
    body = {"query": {"sql": sql, "start_time": start_us, "end_time": end_us, "from": 0, "size": 1000}}
    with api(server) as client:
        response = client.post(f"/api/{ORG}/_search", params={"type": "traces"}, json=body)
    assert response.status_code == 200, f"{response.status_code} {response.text[:500]}\n{sql}"
    hits: list[dict[str, Any]] = response.json()["hits"]
    return hits


def applied_dashboards(server: StandIn) -> dict[str, dict[str, Any]]:
    """The v8 dashboards on O2 whose title starts with ``Pipecat``, by title."""
    with api(server) as client:
        response = client.get(f"/api/{ORG}/dashboards", params={"title": "Pipecat"})
    assert response.status_code == 200, response.text
    return {d["title"]: d["v8"] for d in response.json()["dashboards"]}


def panel_rows(
    server: StandIn, start_us: int, end_us: int, only: Collection[str] = ()
) -> dict[str, list[dict[str, Any]]]:
    """Every panel (or those named in ``only``) of every applied dashboard, run over the range: id → rows."""
    rows: dict[str, list[dict[str, Any]]] = {}
    for dashboard in applied_dashboards(server).values():
        for query in panel_queries(dashboard):
            assert query.panel_id not in rows, f"panel id {query.panel_id} used twice"
            if only and query.panel_id not in only:
                continue
            rows[query.panel_id] = search(server, query.sql, start_us, end_us)
    return rows


def webhook_bodies(hook: Webhook) -> list[dict[str, Any]]:
    return [json.loads(r["body"]) for r in hook.received]


# --------------------------------------------------------------------------- the shared traffic run

TTFT_S = 0.1
SLOW_TTFT_S = 2.0
STT_DELAY_S = 0.05
TTS_DELAY_S = 0.05
SLOW_CALL = 2  # session 1, turn 2
FAILED_CALL = 5  # session 2, turn 2
TRANSCRIPTS = (
    "Hi there, who are you?",
    "What is the weather like today?",
    "Tell me a joke please.",
    "Book a table for two.",
    "Cancel my last order.",
    "What time is it in Paris?",
    "Thanks, that is all.",
)
PLANS = (SessionPlan(3), SessionPlan(2), SessionPlan(2, "gpt-4.1-mini"))
# USD per 1M tokens (input, output): O2's built-in table (openobserve-llm.md §4).
PRICES = {"gpt-4o-mini": (0.15, 0.60), "gpt-4.1-mini": (0.40, 1.60)}


@dataclass
class Traffic:
    server: StandIn
    hook: Webhook
    run: Run
    cli: Cli
    service_name: str


@pytest.fixture(scope="session")
def traffic(export: Export, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Traffic]:
    """Three sessions (3 + 2 + 2 turns, the last on another model), one slow and one failed LLM call,
    traced into a fresh stand-in; then ``apply`` as a user would run it."""
    server = start_standin()
    hook = Webhook()
    try:
        export.to(server)
        try:
            run = play(
                export,
                PLANS,
                ttft=TTFT_S,
                slow_calls=[SLOW_CALL],
                slow_ttft=SLOW_TTFT_S,
                fail_calls=[FAILED_CALL],
                stt_delay=STT_DELAY_S,
                tts_delay=TTS_DELAY_S,
                transcripts=TRANSCRIPTS,
            )
        finally:
            export.release()
        cli = cli_for(server, tmp_path_factory.mktemp("traffic"))
        applied = cli("apply", "--yes", "--bootstrap-stream", "--set", f"webhook_url={hook.url}")
        assert applied.code == 0, applied.err
        run.end_us = int(time.time() * 1_000_000) + 1_000_000
        yield Traffic(server, hook, run, cli, export.service_name)
    finally:
        hook.stop()
        server.stop()
