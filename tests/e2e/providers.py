"""Every LLM family a voice bot can use, played against its local fake into one O2 stream.

A family is a Pipecat service and the fake of its provider's wire API: the text families (OpenAI,
Anthropic, Gemini, Bedrock) run :func:`tests.instrumentation.textbot.converse`, the speech-to-speech
ones (OpenAI Realtime, Gemini Live) :func:`provision.demo.s2s_bot.run_conversation`. :func:`play` runs,
at the same time, a healthy session (two turns, the first with a tool call) and a failing one (its
failed turn, then the user stays silent for a few seconds), and keeps what the fakes did: the calls or
responses they answered, with the model and the usage they reported. Expected numbers come from there,
never from O2.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from pipecat.adapters.llm.schemas.function_schema import FunctionSchema
from pipecat.adapters.llm.schemas.tools_schema import ToolsSchema
from pipecat.pipeline.worker import PipelineWorker
from pipecat.services.llm_service import FunctionCallParams, LLMService
from pipecat.services.openai.llm import OpenAILLMService

from instrumentation import instrument_pipeline
from provision.demo import s2s_bot
from provision.demo.fakes.anthropic import FakeAnthropic, anthropic_llm
from provision.demo.fakes.bedrock import FakeBedrock, bedrock_llm
from provision.demo.fakes.gemini import FakeGemini, gemini_llm
from provision.demo.fakes.openai import FakeOpenAI
from provision.demo.fakes.realtime import ExchangeScript, FakeGeminiLive, FakeOpenAIRealtime, RealtimeSession, ToolCall
from provision.demo.webhook import WebhookReceiver
from tests.instrumentation import textbot
from tests.instrumentation.textbot import Line, converse

TOOL = "get_weather"
TOOL_ARGS = {"city": "Paris"}
TOOL_RESULT = {"forecast": "sunny", "city": "Paris"}
WEATHER = "It is sunny in Paris today."
BYE = "Goodbye, have a nice day."
OUTAGE = "fake outage"
# After its failure the failing session's user stays silent this long: a failed turn that waited for
# the user's next words (or the session's end) would end after it.
AFTER_FAILURE_S = 2.0
# How long after the failure the failed-turn alert may take: the turn ends at once, then one export
# interval (1 s) and ingestion.
ALERT_WITHIN_S = 2.0
# USD per 1M tokens for the models O2's table does not price, as `model_prices` entries.
CUSTOM_PRICES: tuple[dict[str, Any], ...] = (
    {"name": "e2e-gemini-flash", "match_pattern": "^gemini-2\\.5-flash$", "input_per_1m": 0.3, "output_per_1m": 2.5},
    {"name": "e2e-nova-lite", "match_pattern": "^us\\.amazon\\.nova-lite", "input_per_1m": 0.06, "output_per_1m": 0.24},
    {"name": "e2e-gpt-realtime", "match_pattern": "^gpt-realtime", "input_per_1m": 4.0, "output_per_1m": 16.0},
    {"name": "e2e-gemini-live", "match_pattern": "^models/gemini-.*-live", "input_per_1m": 0.5, "output_per_1m": 2.0},
)
# USD per 1M tokens in O2's hard-coded table (openobserve-llm.md §4), first match wins.
O2_TABLE = {"gpt-4o-mini": (0.15, 0.60), "claude-sonnet-4-6": (3.00, 15.00)}


def o2_cost(model: str, prompt: int, completion: int) -> float:
    """What O2 prices one LLM span at, computed the way it does (openobserve-llm.md §4)."""
    for price in CUSTOM_PRICES:
        if re.search(price["match_pattern"], model):
            # An org definition: USD per token as the template renders it; tokens × price, summed.
            per_token = [float("%.12g" % (price[k] / 1_000_000)) for k in ("input_per_1m", "output_per_1m")]
            return sum(t * p for t, p in zip((prompt, completion), per_token, strict=True) if t > 0)
    price_in, price_out = O2_TABLE[model]
    return prompt / 1e6 * price_in + completion / 1e6 * price_out


@dataclass(frozen=True)
class Answer:
    """One LLM call (or speech-to-speech response) as the fake answered it."""

    model: str
    prompt_tokens: int
    completion_tokens: int

    @property
    def cost(self) -> float:
        return o2_cost(self.model, self.prompt_tokens, self.completion_tokens)


@dataclass
class Played:
    """One session as its fake saw it."""

    session_id: str
    turns: int
    answers: list[Answer] = field(default_factory=list)
    failed_turn: int | None = None
    failed_at: float | None = None  # when the fake failed the call (s since the epoch)
    ended_at: float = 0.0

    @property
    def prompt_tokens(self) -> int:
        return sum(a.prompt_tokens for a in self.answers)

    @property
    def completion_tokens(self) -> int:
        return sum(a.completion_tokens for a in self.answers)

    @property
    def models(self) -> set[str]:
        return {a.model for a in self.answers}


@dataclass
class FamilyRun:
    """What one family's sessions did, and when the failed-turn alert reached the webhook."""

    healthy: Played
    failing: Played
    notified_at: float | None


@dataclass(frozen=True)
class Family:
    """A Pipecat LLM service family and how to play its two sessions against its fake."""

    name: str
    provider: str  # what pipecat.provider / llm.provider say
    play: Callable[[str, str], Awaitable[tuple[Played, Played]]]


async def _tool(params: FunctionCallParams) -> None:
    await asyncio.sleep(0.05)
    await params.result_callback(TOOL_RESULT)


# --------------------------------------------------------------------------- text pipelines


def _text_family(name: str, provider: str, fake: Callable[..., Any], llm: Callable[[str], LLMService[Any]]) -> Family:
    async def session(fake_server: Any, session_id: str, script: list[Line]) -> Played:
        service = llm(fake_server.base_url)
        service.register_function(TOOL, _tool)
        await converse(service, script, session_id=session_id)
        played = Played(session_id, len(script), ended_at=time.time())
        for call in fake_server.chat_calls:
            if call.usage is not None:
                played.answers.append(Answer(call.model, call.usage["prompt_tokens"], call.usage["completion_tokens"]))
            elif played.failed_at is None:
                played.failed_turn, played.failed_at = 1, call.started_at
        return played

    async def play_both(healthy_id: str, failing_id: str) -> tuple[Played, Played]:
        # Call 1 asks for the tool, call 2 answers with its result: turn 1; call 3 is turn 2.
        healthy_fake = fake(replies=["unused", WEATHER, BYE], tool_calls={1: (TOOL, TOOL_ARGS)}, ttft=0.05)
        failing_fake = fake(fail_calls=[1], ttft=0.05)
        with pytest.MonkeyPatch.context() as patch:
            # The scripted user pauses about this long after each answer (and a turn ends this long
            # after the bot's): a failed turn that waited for the user's next words would end late.
            patch.setattr(textbot, "GRACE_S", AFTER_FAILURE_S)
            async with healthy_fake, failing_fake:
                healthy, failing = await asyncio.gather(
                    session(healthy_fake, healthy_id, [Line("What is the weather in Paris?"), Line("Thanks, bye.")]),
                    session(failing_fake, failing_id, [Line("Hello, are you there?"), Line("Hello again?")]),
                )
        return healthy, failing

    return Family(name, provider, play_both)


def _openai(url: str) -> LLMService[Any]:
    return OpenAILLMService(api_key="sk-fake", base_url=url, settings=OpenAILLMService.Settings(model="gpt-4o-mini"))


# --------------------------------------------------------------------------- speech-to-speech

_WEATHER_SCHEMA = ToolsSchema(
    standard_tools=[
        FunctionSchema(
            name=TOOL, description="The weather.", properties={"city": {"type": "string"}}, required=["city"]
        )
    ]
)


def _s2s_answers(sessions: list[RealtimeSession]) -> list[Answer]:
    return [
        Answer(s.model, r.usage["prompt_tokens"], r.usage["completion_tokens"])
        for s in sessions
        for e in s.exchanges
        for r in e.responses
    ]


def _s2s_family(name: str, provider: str, kind: str) -> Family:
    def fake_for(script: list[ExchangeScript]) -> FakeOpenAIRealtime | FakeGeminiLive:
        return FakeOpenAIRealtime(script=script) if kind == "openai" else FakeGeminiLive(script=script)

    def bot_for(fake: FakeOpenAIRealtime | FakeGeminiLive) -> s2s_bot.S2SBot:
        if isinstance(fake, FakeOpenAIRealtime):
            return s2s_bot.openai_realtime_bot(fake.url, tools=_WEATHER_SCHEMA)
        return s2s_bot.gemini_live_bot(fake.http_options(), tools=_WEATHER_SCHEMA)

    async def session(
        fake: FakeOpenAIRealtime | FakeGeminiLive, session_id: str, *, end_wait: float
    ) -> tuple[float, list[RealtimeSession]]:
        bot = bot_for(fake)
        bot.llm.register_function(TOOL, _tool)

        def instrument(worker: PipelineWorker) -> None:
            instrument_pipeline(worker, session_id)

        await s2s_bot.run_conversation(bot, exchanges=1, end_wait=end_wait, before_run=instrument)
        return time.time(), fake.sessions

    async def play_both(healthy_id: str, failing_id: str) -> tuple[Played, Played]:
        # Turn 1 is the bot's greeting, turn 2 the user's exchange.
        healthy_fake = fake_for([ExchangeScript("Weather in Paris?", WEATHER, tool_call=ToolCall(TOOL, TOOL_ARGS))])
        failing_fake = fake_for([ExchangeScript("Are you there?", "", failure=OUTAGE)])
        await healthy_fake.start()
        await failing_fake.start()
        try:
            (healthy_end, healthy_sessions), (failing_end, failing_sessions) = await asyncio.gather(
                session(healthy_fake, healthy_id, end_wait=0.3),
                session(failing_fake, failing_id, end_wait=AFTER_FAILURE_S),
            )
        finally:
            await healthy_fake.stop()
            await failing_fake.stop()
        healthy = Played(healthy_id, 2, _s2s_answers(healthy_sessions), ended_at=healthy_end)
        failing = Played(failing_id, 2, _s2s_answers(failing_sessions), ended_at=failing_end)
        failing.failed_turn = 2
        failing.failed_at = next(
            e.speech_stopped_at for s in failing_sessions for e in s.exchanges if e.failed and e.speech_stopped_at
        )
        return healthy, failing

    return Family(name, provider, play_both)


FAMILIES = (
    _text_family("openai", "openai", FakeOpenAI, _openai),
    _text_family("anthropic", "anthropic", FakeAnthropic, anthropic_llm),
    _text_family("gemini", "google", FakeGemini, gemini_llm),
    _text_family("bedrock", "aws", FakeBedrock, bedrock_llm),
    _s2s_family("openai-realtime", "openai", "openai"),
    _s2s_family("gemini-live", "google", "gemini"),
)


def play(family: Family, hook: WebhookReceiver) -> FamilyRun:
    """Play the family's two sessions at once; wait for the failed-turn alert (a few seconds at most)."""
    suffix = uuid.uuid4().hex[:8]

    async def go() -> FamilyRun:
        notified: list[float] = []

        async def watch() -> None:
            while not hook.received:
                await asyncio.sleep(0.02)
            notified.append(time.time())

        watcher = asyncio.create_task(watch())
        healthy, failing = await family.play(f"{family.name}-ok-{suffix}", f"{family.name}-fail-{suffix}")
        assert failing.failed_at is not None, "the failing session did not fail"
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(watcher, max(0.1, failing.failed_at + ALERT_WITHIN_S + 1 - time.time()))
        return FamilyRun(healthy, failing, notified[0] if notified else None)

    return asyncio.run(go())
