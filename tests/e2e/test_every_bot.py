"""Every panel and alert works for every kind of bot, from its first turn (issue 15).

Real Pipecat pipelines of each kind (voice, text only, no STT, no TTS, capture off, an unpriced model)
run against the fake OpenAI server, and a speech-to-speech bot (OpenAI Realtime) against the fake
Realtime server, each alone into a fresh stream of one stand-in, then all of them into one shared
stream. On every stream, ``o2-provision report`` and every panel and alert query run through ``_search``
without an error, and the numbers are the fakes': turns (a speech-to-speech bot's greeting is a turn
too), sessions, token sums. A speech-to-speech bot has no STT or TTS stage but its LLM stage and its
voice-to-voice latency show; O2 does not price its model.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from pipecat.pipeline.worker import PipelineWorker

from instrumentation import instrument_pipeline
from provision.demo.bot import run_session
from provision.demo.fakes.openai import ChatCall, FakeOpenAI
from provision.demo.fakes.realtime import ExchangeScript, FakeOpenAIRealtime
from provision.demo.s2s_bot import openai_realtime_bot, run_conversation
from provision.kinds import Kind
from provision.panels import panel_queries
from provision.render import builtin_templates, load_values, render_bundle
from tests.conftest import Webhook
from tests.e2e.conftest import AUTH, Export, cli_for, search, start_standin
from tests.o2_standin import StandIn

pytestmark = pytest.mark.filterwarnings("ignore:coroutine 'AsyncAPIResponse.parse' was never awaited")

TTFT_S, SLOW_TTFT_S, STT_DELAY_S, TTS_DELAY_S = 0.1, 2.0, 0.05, 0.05
UNPRICED = "acme-voice-1"
# the fake Realtime server answers this long after the user stops speaking: above the panels' voice-to-voice
# floor (TTFT_S), far below SLOW_MS
S2S_REPLY_DELAY_S = 0.15
# stt / tts / capture / model per kind of bot; s2s: speech-to-speech, against the fake Realtime server
KINDS: dict[str, dict[str, Any]] = {
    "voice": {},
    "text": {"stt": False, "tts": False},
    "no_stt": {"stt": False},
    "no_tts": {"tts": False},
    "capture_off": {"capture": False},
    "unpriced": {"stt": False, "tts": False, "model": UNPRICED},
    "s2s": {"stt": False, "tts": False, "s2s": True},
}
# the kinds whose bots call the fake OpenAI server
CHAT_KINDS = [k for k in KINDS if not KINDS[k].get("s2s")]
MIXED = "mixed"
SLOW_MS = 1500


@dataclass
class Stream:
    """What the fakes did for the sessions traced into one stream."""

    name: str
    kinds: list[str]
    calls: list[ChatCall] = field(default_factory=list)
    s2s_usages: list[dict[str, int]] = field(default_factory=list)  # one per speech-to-speech response
    s2s_turns: int = 0
    sessions: int = 0

    @property
    def turns(self) -> int:
        return len(self.calls) + self.s2s_turns

    @property
    def total_tokens(self) -> int:
        return sum(c.usage["total_tokens"] for c in self.calls if c.usage) + sum(
            u["total_tokens"] for u in self.s2s_usages
        )

    def has(self, option: str) -> bool:
        return any(KINDS[k].get(option, True) for k in self.kinds)

    def voice_kinds(self) -> list[str]:
        """Its bots voice-to-voice latency is measured for: speech-to-speech ones, and those with STT and TTS."""
        return [
            k for k in self.kinds if KINDS[k].get("s2s") or (KINDS[k].get("stt", True) and KINDS[k].get("tts", True))
        ]


@dataclass
class Bots:
    server: StandIn
    streams: dict[str, Stream]
    start_us: int
    end_us: int
    cli_dir: Path
    hook: Webhook


async def _play_s2s(export: Export, server: StandIn, realtime: FakeOpenAIRealtime, stream: Stream) -> None:
    """One speech-to-speech session: the bot's greeting, then one user exchange."""
    export.to(server, stream.name)
    before = len(realtime.sessions)
    bot = openai_realtime_bot(realtime.url)
    session_id = f"e2e-s2s-{uuid.uuid4().hex[:12]}"

    def instrument(worker: PipelineWorker) -> None:
        instrument_pipeline(worker, session_id)

    await run_conversation(bot, exchanges=1, before_run=instrument)
    export.flush()
    (session,) = realtime.sessions[before:]
    assert [e.number for e in session.exchanges] == [0, 1], "a greeting and one exchange"
    stream.s2s_turns += len(session.exchanges)
    stream.s2s_usages += [r.usage for e in session.exchanges for r in e.responses]
    stream.sessions += 1


async def _play(export: Export, server: StandIn, fake: FakeOpenAI, stream: Stream, kind: str, turns: int) -> None:
    options = KINDS[kind]
    export.to(server, stream.name, capture_content=options.get("capture", True))
    before = len(fake.chat_calls)
    await run_session(
        fake.base_url,
        turns=turns,
        model=options.get("model", "gpt-4o-mini"),
        stt=options.get("stt", True),
        tts=options.get("tts", True),
        speech_seconds=0.2,
        turn_end_grace=0.2,
    )
    export.flush()
    stream.calls += [c for c in fake.chat_calls[before:] if c.retry == 0]
    stream.sessions += 1


@pytest.fixture(scope="module")
def bots(export: Export, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bots]:
    """Each kind of bot alone into its own fresh stream (one turn; a speech-to-speech bot greets first),
    then all of them into one stream."""
    server = start_standin()
    hook = Webhook()
    streams = {k: Stream(f"bot_{k}", [k]) for k in KINDS}
    streams[MIXED] = Stream(MIXED, list(KINDS))
    start_us = int((time.time() - 5) * 1_000_000)
    # the voice bot's second turn in the mixed stream is slow: one call per chat kind alone comes first
    slow_call = len(CHAT_KINDS) + 2
    script = [ExchangeScript("Hi there, who are you?", "I am a test voice bot.", reply_delay=S2S_REPLY_DELAY_S)]

    async def go() -> None:
        async with (
            FakeOpenAI(
                ttft=TTFT_S, slow_calls=[slow_call], slow_ttft=SLOW_TTFT_S, stt_delay=STT_DELAY_S, tts_delay=TTS_DELAY_S
            ) as fake,
            FakeOpenAIRealtime(script=script) as realtime,
        ):

            async def play(stream: Stream, kind: str, turns: int) -> None:
                if KINDS[kind].get("s2s"):
                    await _play_s2s(export, server, realtime, stream)
                else:
                    await _play(export, server, fake, stream, kind, turns)

            for kind in KINDS:
                await play(streams[kind], kind, 1)
            for kind in KINDS:
                await play(streams[MIXED], kind, 2 if kind == "voice" else 1)

    try:
        asyncio.run(go())
    finally:
        export.release()
    end_us = int(time.time() * 1_000_000) + 1_000_000
    yield Bots(server, streams, start_us, end_us, tmp_path_factory.mktemp("bots"), hook)
    hook.stop()
    server.stop()


def bundle_for(stream: str) -> Any:
    root = builtin_templates()
    return render_bundle(root, load_values(root, [], {"stream": stream, "webhook_url": "https://hooks.example.com/x"}))


def panels(bots: Bots, stream: str) -> dict[str, list[dict[str, Any]]]:
    """Every panel of both dashboards for that stream: panel id → rows (an error fails the test)."""
    return {
        q.panel_id: search(bots.server, q.sql, bots.start_us, bots.end_us)
        for d in bundle_for(stream).of(Kind.DASHBOARD)
        for q in panel_queries(d.payload)
    }


def one(rows: list[dict[str, Any]]) -> dict[str, Any]:
    assert len(rows) == 1, rows
    return rows[0]


@pytest.mark.parametrize("name", [*KINDS, MIXED])
def test_every_panel_runs_and_shows_the_fakes_numbers(bots: Bots, name: str) -> None:
    stream = bots.streams[name]
    rows = panels(bots, stream.name)
    assert one(rows["turns_total"])["turns"] == stream.turns
    assert one(rows["sessions_total"])["sessions"] == stream.sessions
    assert one(rows["tokens_total"])["total_tokens"] == stream.total_tokens
    stages = rows["stage_breakdown"]
    assert stages, "the LLM stage shows for every bot"
    ttfts = [r["llm_ttft_ms"] for r in stages]
    # the fake Realtime server streams a response's first words at once: only the chat bots' LLM stage
    # takes the fake OpenAI server's time to first token
    assert min(ttfts) >= (TTFT_S * 1000 if stream.s2s_turns == 0 else 0)
    assert (max(ttfts) >= TTFT_S * 1000) == bool(stream.calls)
    # a stage the bot does not have is empty; a voice bot shows both. (Pipecat's latency observer, where
    # the stage values come from, reports them only for a turn the bot speaks after the user's speech.)
    assert any("stt_ms" in r for r in stages) <= stream.has("stt")
    assert any("tts_ttfb_ms" in r for r in stages) <= stream.has("tts")
    if "voice" in stream.kinds:
        assert any("stt_ms" in r and "tts_ttfb_ms" in r for r in stages)
    assert all(r["stt_ms"] >= STT_DELAY_S * 1000 for r in stages if "stt_ms" in r)
    assert all(r["tts_ttfb_ms"] >= TTS_DELAY_S * 1000 for r in stages if "tts_ttfb_ms" in r)
    speaks = bool(stream.voice_kinds())
    assert ("p50_ms" in one(rows["v2v_p50_total"])) if speaks else rows["v2v_p50_total"] in ([], [{}])
    assert bool(rows["slowest_turns"]) == speaks
    if speaks:
        assert min(r["voice_to_voice_ms"] for r in rows["slowest_turns"]) >= TTFT_S * 1000
        with_message = [r for r in rows["slowest_turns"] if "user_message" in r]
        assert bool(with_message) == any(KINDS[k].get("capture", True) for k in stream.voice_kinds())
    if name == "s2s":
        # timed from the service's "user stopped speaking" to the bot's answer: the greeting has none
        assert [r["turn"] for r in rows["slowest_turns"]] == [2]
        assert rows["slowest_turns"][0]["voice_to_voice_ms"] >= S2S_REPLY_DELAY_S * 1000
    cost = one(rows["cost_total"])["cost_usd"]
    priced = [c for c in stream.calls if c.model != UNPRICED and c.usage]
    assert (cost > 0) == bool(priced)
    if name in ("unpriced", "s2s"):
        assert cost == 0.0


def test_report_answers_every_panel(bots: Bots) -> None:
    cli = cli_for(bots.server, bots.cli_dir)
    for stream in (bots.streams[k] for k in (MIXED, "text", "unpriced", "capture_off", "s2s")):
        result = cli("report", "--since", "15m", "--set", f"stream={stream.name}", "--output", "json")
        assert result.code == 0, result.err
        report = {p["panel"]: p for p in json.loads(result.out)["panels"]}
        assert [p["error"] for p in report.values() if p["error"]] == []
        assert report["Turns"]["rows"] == [{"turns": stream.turns}]


def test_doctor_finds_every_query_runs_on_the_streams(bots: Bots) -> None:
    cli = cli_for(bots.server, bots.cli_dir)
    for stream in (bots.streams[k] for k in (MIXED, "text", "s2s")):
        result = cli(
            "doctor",
            "--set",
            f"stream={stream.name}",
            "--set",
            "webhook_url=https://hooks.example.com/x",
            "--output",
            "json",
        )
        checks = {c["name"]: c for c in json.loads(result.out)["checks"]}
        assert checks["panel and alert queries"]["status"] == "ok", checks


def test_doctor_names_the_queries_a_stream_without_the_columns_would_fail(bots: Bots) -> None:
    now_ns = time.time_ns()
    span = {
        "traceId": "ab" * 16,
        "spanId": "cd" * 8,
        "name": "other",
        "startTimeUnixNano": str(now_ns),
        "endTimeUnixNano": str(now_ns + 1000),
    }
    payload = {"resourceSpans": [{"resource": {}, "scopeSpans": [{"spans": [span]}]}]}
    sent = httpx.post(f"{bots.server.url}/api/default/v1/traces", json=payload, headers={**AUTH, "stream-name": "bare"})
    assert sent.status_code == 200
    result = cli_for(bots.server, bots.cli_dir)(
        "doctor", "--set", "stream=bare", "--set", "webhook_url=https://hooks.example.com/x", "--output", "json"
    )
    assert result.code == 1
    failed = {c["name"]: c for c in json.loads(result.out)["checks"] if c["status"] == "fail"}
    stages = failed["panel Pipecat · Turn latency / Stage latency (p50): STT, LLM first token, TTS first byte"]
    assert "unknown field 'pipecat_" in stages["detail"]
    assert "setup_openobserve()" in stages["fix"]
    assert "alert pipecat_slow_turns" in failed


def test_slow_turn_alert_fires_for_the_voice_bot_beside_a_text_bot_and_stays_quiet_otherwise(bots: Bots) -> None:
    cli = cli_for(bots.server, bots.cli_dir)
    for stream in (MIXED, "text", "voice", "s2s"):
        applied = cli(
            "apply",
            "--yes",
            "--set",
            f"stream={bots.streams[stream].name}",
            "--set",
            f"folder=Pipecat {stream}",
            "--set",
            f"webhook_url={bots.hook.url}",
            "--set",
            "slow_turn_threshold=1",
            "--set",
            f"slow_turn_ms={SLOW_MS}",
        )
        assert applied.code == 0, applied.err
    outcomes = [o for o in bots.server.run_scheduler() if o["alert_name"] == "pipecat_slow_turns"]
    assert len(outcomes) == 4
    assert [o["error"] for o in outcomes if o["error"]] == []
    fired = {o["sql"].split('FROM "')[1].split('"')[0] for o in outcomes if o["notified"]}
    assert fired == {MIXED}
    slow = [json.loads(r["body"]) for r in bots.hook.received if "slow" in r["body"].lower()]
    assert slow, bots.hook.received
