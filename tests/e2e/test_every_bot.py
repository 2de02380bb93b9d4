"""Every panel and alert works for every kind of bot, from its first turn (issues 15 and 22).

Real Pipecat pipelines of each kind (voice, text only, no STT, no TTS, capture off, an unpriced model)
run against the fake OpenAI server, and a speech-to-speech bot (OpenAI Realtime) against the fake
Realtime server, each alone into a fresh stream of one stand-in, then all of them into one shared
stream. Beside them: a text bot with one slow turn; a fresh stream that only ``apply --bootstrap-stream``
primed; a bot on its own OpenTelemetry set-up (``instrument_pipeline`` without ``setup_openobserve``, in
its own process); and a bot written as O2's Pipecat guide shows (OpenInference's OpenAI instrumentor,
``openobserve_init()`` and a hand-made ``pipecat.llm_service`` span per call, no turns, no session), in
its own process too. On every stream ``o2-provision report`` and every panel and alert query run through
``_search`` without an error, and the numbers are the fakes': turns (a speech-to-speech bot's greeting is
a turn too), sessions, tokens, and each turn's latency on one scale (voice-to-voice, else response
latency). The dashboard variables list the bots' services, models and sessions, never the schema
marker's or a blank one.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
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
from tests.conftest import TOKEN, Webhook
from tests.e2e.conftest import AUTH, Export, cli_for, search, start_standin
from tests.o2_standin import StandIn

pytestmark = pytest.mark.filterwarnings("ignore:coroutine 'AsyncAPIResponse.parse' was never awaited")

ROOT = Path(__file__).resolve().parents[2]
TTFT_S, SLOW_TTFT_S, STT_DELAY_S, TTS_DELAY_S = 0.1, 2.0, 0.05, 0.05
UNPRICED = "acme-voice-1"
# the fake Realtime server answers this long after the user stops speaking: above the panels' latency
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
SLOW_TEXT = "text_slow"  # a text bot, two turns, the second slow
FRESH = "fresh"  # primed by apply --bootstrap-stream, nothing else
OWN_OTEL = "own_otel"  # a text bot on its own OpenTelemetry set-up, in its own process
GUIDE = "guide"  # the O2 Pipecat guide's example, in its own process
GUIDE_QUESTIONS = (
    "Explain distributed tracing in one sentence.",
    "What is a span?",
    "Why sample traces?",
)
# the fake's chat calls are numbered across the whole run: alone (one call each), then mixed (the voice
# bot's second turn is the slow one), then the slow text bot's second turn
SLOW_CALLS = [len(CHAT_KINDS) + 2, 2 * len(CHAT_KINDS) + 1 + 2]
SLOW_MS = 1500
V2V, RESPONSE = "voice-to-voice", "response"
MARKER_SERVICE = "o2-provision"

# instrument_pipeline without setup_openobserve: the application's own provider and OTLP exporter.
OWN_OTEL_BOT = """
import asyncio, sys
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from provision.demo.bot import run_session

url, token, stream, llm = sys.argv[1:5]
provider = TracerProvider(resource=Resource.create({"service.name": "own-otel-bot"}))
exporter = OTLPSpanExporter(
    endpoint=f"{url}/api/default/v1/traces", headers={"Authorization": f"Basic {token}", "stream-name": stream}
)
provider.add_span_processor(BatchSpanProcessor(exporter))
trace.set_tracer_provider(provider)
asyncio.run(run_session(llm, turns=1, stt=False, tts=False, speech_seconds=0.2, turn_end_grace=0.2))
provider.shutdown()
"""

# O2's Pipecat guide (openobserve.ai/docs/integration/ai/frameworks/pipecat), as written: only the
# openobserve_init import is ours, and main() asks three questions. Settings come from the environment.
GUIDE_BOT = """
from dotenv import load_dotenv
load_dotenv()

from openinference.instrumentation.openai import OpenAIInstrumentor
from instrumentation import openobserve_init

OpenAIInstrumentor().instrument()
openobserve_init()

from opentelemetry import trace
import os
import asyncio
from openai import AsyncOpenAI

tracer = trace.get_tracer(__name__)
client = AsyncOpenAI(api_key=os.environ["OPENAI_API_KEY"])

async def pipeline_turn(user_message: str) -> str:
    with tracer.start_as_current_span("pipecat.llm_service") as span:
        span.set_attribute("pipecat.service", "OpenAILLMService")
        span.set_attribute("pipecat.model", "gpt-4o-mini")
        span.set_attribute("pipecat.user_message", user_message[:200])
        response = await client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": user_message}],
            max_tokens=200,
        )
        reply = response.choices[0].message.content
        span.set_attribute("pipecat.assistant_message", reply[:200])
        span.set_attribute("pipecat.prompt_tokens", response.usage.prompt_tokens)
        span.set_attribute("pipecat.completion_tokens", response.usage.completion_tokens)
        return reply

async def main():
    for question in QUESTIONS:
        reply = await pipeline_turn(question)
        print(reply)

asyncio.run(main())
"""


@dataclass
class Stream:
    """What the fakes did for the sessions traced into one stream."""

    name: str
    kinds: list[str]
    calls: list[ChatCall] = field(default_factory=list)
    turnless_calls: list[ChatCall] = field(default_factory=list)  # the guide's: LLM calls, no turns
    s2s_usages: list[dict[str, int]] = field(default_factory=list)  # one per speech-to-speech response
    s2s_turns: int = 0
    sessions: int = 0

    @property
    def turns(self) -> int:
        return len(self.calls) + self.s2s_turns

    @property
    def total_tokens(self) -> int:
        return sum(c.usage["total_tokens"] for c in [*self.calls, *self.turnless_calls] if c.usage) + sum(
            u["total_tokens"] for u in self.s2s_usages
        )

    def has(self, option: str) -> bool:
        return any(KINDS[k].get(option, True) for k in self.kinds)

    def voice_kinds(self) -> list[str]:
        """Its bots voice-to-voice latency is measured for: speech-to-speech ones, and those with STT and TTS."""
        return [
            k for k in self.kinds if KINDS[k].get("s2s") or (KINDS[k].get("stt", True) and KINDS[k].get("tts", True))
        ]

    def measures(self) -> set[str]:
        """The latency measure of its turns that answered the user: voice-to-voice where the bot spoke after
        the user's speech, the response latency for every other kind."""
        return {V2V if k in self.voice_kinds() else RESPONSE for k in self.kinds}


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


async def _run_bot_process(code: str, *args: str, env: dict[str, str], cwd: Path) -> None:
    """``code`` in a fresh Python process of its own (its own tracer provider, its own once-per-process
    state); it exports what it traced before it exits."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        code,
        *args,
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 0, (out + err).decode()[-3000:]


@pytest.fixture(scope="module")
def bots(export: Export, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bots]:
    """Each kind of bot alone into its own fresh stream (one turn; a speech-to-speech bot greets first),
    then all of them into one stream; a slow text bot, a fresh stream, a bot on its own OpenTelemetry
    set-up and the O2 guide's bot, each into a stream of its own."""
    server = start_standin()
    hook = Webhook()
    cli_dir = tmp_path_factory.mktemp("bots")
    streams = {k: Stream(f"bot_{k}", [k]) for k in KINDS}
    streams[MIXED] = Stream(MIXED, list(KINDS))
    streams[SLOW_TEXT] = Stream(SLOW_TEXT, ["text"])
    streams[FRESH] = Stream(FRESH, [])
    streams[OWN_OTEL] = Stream(OWN_OTEL, ["text"])
    streams[GUIDE] = Stream(GUIDE, [])
    start_us = int((time.time() - 5) * 1_000_000)
    script = [ExchangeScript("Hi there, who are you?", "I am a test voice bot.", reply_delay=S2S_REPLY_DELAY_S)]

    async def go() -> None:
        async with (
            FakeOpenAI(
                ttft=TTFT_S, slow_calls=SLOW_CALLS, slow_ttft=SLOW_TTFT_S, stt_delay=STT_DELAY_S, tts_delay=TTS_DELAY_S
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
            await play(streams[SLOW_TEXT], "text", 2)
            export.release()

            before = len(fake.chat_calls)
            await _run_bot_process(OWN_OTEL_BOT, server.url, TOKEN, OWN_OTEL, fake.base_url, env={}, cwd=cli_dir)
            streams[OWN_OTEL].calls += fake.chat_calls[before:]
            streams[OWN_OTEL].sessions += 1

            before = len(fake.chat_calls)
            guide_env = {
                "OPENOBSERVE_URL": server.url,
                "OPENOBSERVE_AUTH_TOKEN": f"Basic {TOKEN}",
                "OPENOBSERVE_STREAM": GUIDE,
                "OTEL_SERVICE_NAME": "guide-bot",
                "OPENAI_API_KEY": "sk-fake",
                "OPENAI_BASE_URL": fake.base_url,
            }
            guide = f"QUESTIONS = {GUIDE_QUESTIONS!r}\n{GUIDE_BOT}"
            await _run_bot_process(guide, env=guide_env, cwd=cli_dir)
            streams[GUIDE].turnless_calls += fake.chat_calls[before:]
            assert len(streams[GUIDE].turnless_calls) == len(GUIDE_QUESTIONS)

    try:
        asyncio.run(go())
    finally:
        export.release()
    primed = cli_for(server, cli_dir)(
        "apply", "--yes", "--bootstrap-stream", *values_for(FRESH, hook), "--set", "slow_turn_threshold=1"
    )
    assert primed.code == 0, primed.err
    end_us = int(time.time() * 1_000_000) + 1_000_000
    yield Bots(server, streams, start_us, end_us, cli_dir, hook)
    hook.stop()
    server.stop()


def values_for(stream: str, hook: Webhook) -> list[str]:
    """The values an apply for that stream takes: its own folder, the webhook, slow turns as the tests count them."""
    return [
        *("--set", f"stream={stream}", "--set", f"folder=Pipecat {stream}", "--set", f"webhook_url={hook.url}"),
        *("--set", f"slow_turn_ms={SLOW_MS}"),
    ]


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


def variable_choices(bots: Bots, stream: str) -> dict[str, list[Any]]:
    """What each dashboard variable offers to pick, per dashboard: the values of its field among the rows
    its filter keeps, most frequent first, as O2 lists a field's values (``_values``) for the viewer."""
    choices: dict[str, list[Any]] = {}
    for dashboard in bundle_for(stream).of(Kind.DASHBOARD):
        for variable in dashboard.payload["variables"]["list"]:
            query = variable["query_data"]
            where = " AND ".join(f"{f['name']} {f['operator']} '{f['value']}'" for f in query.get("filter") or [])
            sql = (
                f'SELECT {query["field"]} AS zo_sql_key, count(*) AS zo_sql_num FROM "{query["stream"]}"'
                + (f" WHERE {where}" if where else "")
                + f" GROUP BY zo_sql_key ORDER BY zo_sql_num DESC LIMIT {query['max_record_size']}"
            )
            rows = search(bots.server, sql, bots.start_us, bots.end_us)
            offered = [r.get("zo_sql_key") for r in rows]
            assert choices.setdefault(variable["name"], offered) == offered, "both dashboards offer the same"
    return choices


def one(rows: list[dict[str, Any]]) -> dict[str, Any]:
    assert len(rows) == 1, rows
    return rows[0]


ALL_STREAMS = [*KINDS, MIXED, SLOW_TEXT, FRESH, OWN_OTEL, GUIDE]


@pytest.mark.parametrize("name", [*KINDS, MIXED, SLOW_TEXT, OWN_OTEL])
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
    # every turn that answered the user has a latency, on one scale, whatever the bot: the latency panels
    # and the slowest turns show every kind
    slowest = rows["slowest_turns"]
    answered = stream.turns - stream.s2s_turns // 2  # a speech-to-speech bot's greeting answers nobody
    assert len(slowest) == answered
    assert {r["measure"] for r in slowest} == stream.measures()
    assert min(r["latency_ms"] for r in slowest) >= min(TTFT_S, S2S_REPLY_DELAY_S) * 1000
    assert [r["latency_ms"] for r in slowest] == sorted((r["latency_ms"] for r in slowest), reverse=True)
    assert one(rows["latency_p50_total"])["p50_ms"] >= TTFT_S * 1000
    assert one(rows["latency_p95_total"])["p95_ms"] >= one(rows["latency_p50_total"])["p50_ms"]
    assert rows["latency_percentiles"] and rows["latency_by_service"]
    slow = [r for r in slowest if r["latency_ms"] >= SLOW_MS]
    assert len(slow) == (1 if name in (MIXED, SLOW_TEXT) else 0)
    if name == SLOW_TEXT:
        # the slow LLM call's 2 s are in the text bot's response latency, its healthy turn well under
        assert (slow[0]["turn"], slow[0]["measure"]) == (2, RESPONSE)
        assert slow[0]["latency_ms"] >= SLOW_TTFT_S * 1000 and slowest[1]["latency_ms"] < SLOW_MS
    with_message = [r for r in slowest if "user_message" in r]
    assert bool(with_message) == any(KINDS[k].get("capture", True) for k in stream.kinds)
    if name == "s2s":
        # timed from the service's "user stopped speaking" to the bot's answer: the greeting has none
        assert [(r["turn"], r["measure"]) for r in slowest] == [(2, V2V)]
        assert slowest[0]["latency_ms"] >= S2S_REPLY_DELAY_S * 1000
    cost = one(rows["cost_total"])["cost_usd"]
    priced = [c for c in stream.calls if c.model != UNPRICED and c.usage]
    assert (cost > 0) == bool(priced)
    if name in ("unpriced", "s2s"):
        assert cost == 0.0


def test_a_fresh_stream_shows_zero_turns_and_sessions_and_nothing_else(bots: Bots) -> None:
    rows = panels(bots, FRESH)
    assert one(rows["turns_total"]) == {"turns": 0}
    assert one(rows["sessions_total"]) == {"sessions": 0}
    # every other panel runs (the marker has every column) and has nothing to show: no row, or one
    # aggregate row of nulls, which O2 sends as {} (it drops null values)
    others = {k: v for k, v in rows.items() if k not in ("turns_total", "sessions_total")}
    assert {k: v for k, v in others.items() if v not in ([], [{}])} == {}


def test_the_o2_guide_bot_gets_one_definition_of_tokens_and_no_blank_session(bots: Bots) -> None:
    stream = bots.streams[GUIDE]
    rows = panels(bots, GUIDE)
    usage = [c.usage for c in stream.turnless_calls if c.usage]
    prompt, completion = sum(u["prompt_tokens"] for u in usage), sum(u["completion_tokens"] for u in usage)
    assert one(rows["tokens_total"])["total_tokens"] == prompt + completion == stream.total_tokens > 0
    assert rows["tokens_by_model"] == [
        {"model": "gpt-4o-mini", "prompt_tokens": prompt, "completion_tokens": completion}
    ]
    cumulative = rows["cumulative_tokens"]
    assert cumulative and all("cumulative_tokens" in r for r in cumulative)
    assert cumulative[-1]["cumulative_tokens"] == prompt + completion
    # no session: in the totals, never a row of its own
    for per_session in ("tokens_per_session_table", "tokens_per_session_bar", "cost_per_session"):
        assert rows[per_session] == [], per_session
    assert one(rows["cost_total"])["cost_usd"] > 0  # O2 prices OpenInference's ChatCompletion spans
    # its LLM calls' durations show; no turn, so no turn latency
    assert sum(1 for r in rows["llm_latency_by_model"] if r["model"] == "gpt-4o-mini") == 1
    assert one(rows["turns_total"]) == {"turns": 0} and rows["slowest_turns"] == []


@pytest.mark.parametrize("name", ALL_STREAMS)
def test_the_dashboard_variables_offer_no_blank_and_no_marker_value(bots: Bots, name: str) -> None:
    stream = bots.streams[name]
    choices = variable_choices(bots, stream.name)
    assert set(choices) == {"service", "model", "session"}
    for variable, offered in choices.items():
        assert None not in offered and "" not in offered and MARKER_SERVICE not in offered, (variable, offered)
    assert len(choices["session"]) == stream.sessions
    makes_calls = bool(stream.calls or stream.turnless_calls or stream.s2s_turns)
    assert bool(choices["service"]) == bool(choices["model"]) == makes_calls
    if name == GUIDE:
        assert choices["service"] == ["guide-bot"] and choices["model"] == ["gpt-4o-mini"]


def test_report_answers_every_panel(bots: Bots) -> None:
    cli = cli_for(bots.server, bots.cli_dir)
    for name in (MIXED, "text", SLOW_TEXT, "unpriced", "capture_off", "s2s", FRESH, OWN_OTEL, GUIDE):
        stream = bots.streams[name]
        result = cli("report", "--since", "15m", "--set", f"stream={stream.name}", "--output", "json")
        assert result.code == 0, result.err
        report = {p["panel"]: p for p in json.loads(result.out)["panels"]}
        assert [p["error"] for p in report.values() if p["error"]] == []
        assert report["Turns"]["rows"] == [{"turns": stream.turns}]
        if name == SLOW_TEXT:
            # what the slow-turn alert reports, the report shows
            top = report["Slowest turns"]["rows"][0]
            assert (top["turn"], top["measure"]) == (2, RESPONSE) and top["latency_ms"] >= SLOW_MS


def doctor(bots: Bots, stream: str) -> dict[str, dict[str, Any]]:
    result = cli_for(bots.server, bots.cli_dir)(
        "doctor", "--set", f"stream={stream}", "--set", "webhook_url=https://hooks.example.com/x", "--output", "json"
    )
    return {c["name"]: c for c in json.loads(result.out)["checks"]}


def test_doctor_finds_every_query_runs_on_the_streams(bots: Bots) -> None:
    for name in (MIXED, "text", SLOW_TEXT, "s2s", FRESH, OWN_OTEL, GUIDE):
        checks = doctor(bots, bots.streams[name].name)
        assert checks["panel and alert queries"]["status"] == "ok", checks
        # only the guide's bot sends LLM calls that no turn holds
        assert ("LLM calls without turns" in checks) == (name == GUIDE), checks


def test_doctor_says_what_instrument_pipeline_adds_to_the_guide_bot(bots: Bots) -> None:
    check = doctor(bots, GUIDE)["LLM calls without turns"]
    assert check["status"] == "warn"
    without = f"{len(GUIDE_QUESTIONS)} LLM call(s) in the last hour came without a turn or a session"
    assert check["detail"].startswith(without)
    assert "instrument_pipeline(worker)" in check["fix"] and "latency" in check["fix"]


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


def test_slow_turn_alert_fires_for_a_slow_text_or_voice_turn_and_stays_quiet_otherwise(bots: Bots) -> None:
    cli = cli_for(bots.server, bots.cli_dir)
    applied_streams = [MIXED, "text", SLOW_TEXT, "voice", "s2s", OWN_OTEL]
    for name in applied_streams:
        values = values_for(bots.streams[name].name, bots.hook)
        applied = cli("apply", "--yes", *values, "--set", "slow_turn_threshold=1")
        assert applied.code == 0, applied.err
    outcomes = [o for o in bots.server.run_scheduler() if o["alert_name"] == "pipecat_slow_turns"]
    assert len(outcomes) == len(applied_streams) + 1  # and the fresh stream's, applied by the fixture
    assert [o["error"] for o in outcomes if o["error"]] == []
    fired = {o["sql"].split('FROM "')[1].split('"')[0] for o in outcomes if o["notified"]}
    assert fired == {MIXED, SLOW_TEXT}
    slow = [json.loads(r["body"]) for r in bots.hook.received if "slow" in r["body"].lower()]
    assert len(slow) == 2, bots.hook.received
    rows = " ".join(json.dumps(body) for body in slow)
    assert f"ms {V2V}" in rows and f"ms {RESPONSE}" in rows, rows
