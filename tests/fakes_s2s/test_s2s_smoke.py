"""Each speech-to-speech service holds a conversation with its fake in a real pipeline."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    ErrorFrame,
    InterruptionFrame,
    TranscriptionFrame,
    TTSTextFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
)
from pipecat.processors.frame_processor import FrameDirection
from pipecat.services.llm_service import FunctionCallParams

from provision.demo.fakes.realtime import ExchangeScript, FakeGeminiLive, FakeOpenAIRealtime, ToolCall, response_usage
from provision.demo.s2s_bot import ConversationResult, S2SBot, gemini_live_bot, openai_realtime_bot, run_conversation
from tests.fakes_s2s.conftest import Fake, Pair, firsts, per_exchange, usages

GREETING = "Hello, how can I help you today?"
SCRIPT = [
    ExchangeScript("Hi there, who are you?", "I am a test voice bot."),
    ExchangeScript(
        "What is the weather in Paris?", "It is sunny in Paris.", tool_call=ToolCall("get_weather", {"city": "Paris"})
    ),
    ExchangeScript("Thank you, goodbye.", "Goodbye, have a nice day."),
]


def test_conversation_with_a_tool_call(fake_bot: Pair, kind: str) -> None:
    calls: list[dict[str, Any]] = []

    async def get_weather(params: FunctionCallParams) -> None:
        calls.append(dict(params.arguments))
        await params.result_callback({"conditions": "sunny"})

    async def go() -> tuple[Fake, S2SBot, ConversationResult, list[dict[str, Any]]]:
        async with fake_bot(SCRIPT, tools=True) as (fake, bot):
            bot.llm.register_function("get_weather", get_weather)
            result = await run_conversation(bot, exchanges=3)
            scheme, tls = ("https", fake.client_ssl_context()) if kind == "gemini" else ("http", None)
            url = f"{scheme}://127.0.0.1:{fake.port}/_fake/sessions"
            async with aiohttp.ClientSession() as http, http.get(url, ssl=tls) as response:
                return fake, bot, result, await response.json()

    fake, bot, result, listed = asyncio.run(go())

    service = type(bot.llm).__name__
    user_said = [e.frame.text for e in firsts(result, TranscriptionFrame) if e.source.startswith(service)]
    assert user_said == [s.user_transcript for s in SCRIPT]
    assert all(e.direction == FrameDirection.UPSTREAM for e in firsts(result, TranscriptionFrame))
    bot_said = ["", "", "", ""]
    for event in firsts(result, TTSTextFrame):
        bot_said[result.exchange_of(event)] += event.frame.text
    assert bot_said == [GREETING, *(s.reply for s in SCRIPT)]
    assert per_exchange(result, UserStartedSpeakingFrame, 3) == [0, 1, 1, 1]
    assert per_exchange(result, UserStoppedSpeakingFrame, 3) == [0, 1, 1, 1]
    assert per_exchange(result, BotStartedSpeakingFrame, 3) == [1, 1, 1, 1]
    assert per_exchange(result, BotStoppedSpeakingFrame, 3) == [1, 1, 1, 1]
    assert calls == [{"city": "Paris"}]

    session = fake.sessions[0]
    tool_output = session.exchange(2).tool_output
    assert tool_output == {"conditions": "sunny"}
    answer_after_tool = response_usage([SCRIPT[1].user_transcript, json.dumps(tool_output)], SCRIPT[1].reply)
    expected = [response_usage([], GREETING), response_usage([SCRIPT[0].user_transcript], SCRIPT[0].reply)]
    if kind == "openai":  # Gemini Live reports usage only with turnComplete, not with a toolCall
        expected.append(response_usage([SCRIPT[1].user_transcript], json.dumps({"city": "Paris"})))
    expected += [answer_after_tool, response_usage([SCRIPT[2].user_transcript], SCRIPT[2].reply)]
    assert [(u.prompt_tokens, u.completion_tokens, u.total_tokens) for u in usages(result)] == [
        (u["prompt_tokens"], u["completion_tokens"], u["total_tokens"]) for u in expected
    ]
    assert [e.user_transcript for e in session.exchanges] == ["", *(s.user_transcript for s in SCRIPT)]
    assert [[r["text"] for r in e["responses"]] for e in listed[0]["exchanges"]][3] == [SCRIPT[2].reply]
    assert result.seconds < 8


def test_barge_in_interrupts_the_bot(fake_bot: Pair, kind: str) -> None:
    script = [ExchangeScript("Tell me a long story.", "Once upon a time there was a bot.", audio_seconds=2.0)]

    async def go() -> tuple[Fake, ConversationResult]:
        # Replies stream in real time, so the user's speech reaches the fake while it still answers.
        async with fake_bot(script, chunk_interval=0.1) as (fake, bot):
            return fake, await run_conversation(bot, exchanges=2, barge_in=1)

    fake, result = asyncio.run(go())

    started = [e.at for e in firsts(result, BotStartedSpeakingFrame, FrameDirection.DOWNSTREAM)]
    stopped = [e.at for e in firsts(result, BotStoppedSpeakingFrame, FrameDirection.DOWNSTREAM)]
    assert len(started) == len(stopped) == 3
    assert stopped[1] - started[1] < 1.5  # the 2 s answer was cut short
    interruptions = [e.at for e in firsts(result, InterruptionFrame, FrameDirection.DOWNSTREAM)]
    assert any(started[1] < at <= stopped[1] for at in interruptions)
    assert per_exchange(result, UserStartedSpeakingFrame, 2) == [0, 1, 1]
    first, second = fake.sessions[0].exchange(1), fake.sessions[0].exchange(2)
    assert [r.status for r in first.responses] == ["cancelled"]
    assert [r.status for r in second.responses] == ["completed"]
    if kind == "openai":  # the service truncates the interrupted answer to what was played
        assert first.truncated_at_ms is not None and first.truncated_at_ms < 1500
    assert result.seconds < 8


def test_server_error_becomes_an_error_frame(fake_bot: Pair) -> None:
    script = [ExchangeScript("Hi there.", "Hello."), ExchangeScript("Are you there?", "", failure="fake outage")]

    async def go() -> tuple[Fake, S2SBot, ConversationResult]:
        async with fake_bot(script) as (fake, bot):
            return fake, bot, await run_conversation(bot, exchanges=2)

    fake, bot, result = asyncio.run(go())

    errors = firsts(result, ErrorFrame)
    assert errors, "no ErrorFrame"
    assert all(e.source.startswith(f"{type(bot.llm).__name__}#") for e in errors)
    assert all(e.direction == FrameDirection.UPSTREAM for e in errors)
    assert all(result.exchange_of(e) == 2 for e in errors)
    assert "fake outage" in f"{errors[-1].frame.error} {errors[-1].frame.exception}"
    assert per_exchange(result, BotStartedSpeakingFrame, 2) == [1, 1, 0]
    assert fake.sessions[0].exchange(2).failed == "fake outage"
    assert result.seconds < 12


def test_concurrent_sessions_are_kept_apart(kind: str) -> None:
    script = [ExchangeScript("Hi there.", "Hello to you.")]

    async def go() -> tuple[Fake, list[ConversationResult]]:
        fake: Fake = FakeOpenAIRealtime(script=script) if kind == "openai" else FakeGeminiLive(script=script)
        async with fake:
            bots = [
                openai_realtime_bot(fake.url) if kind == "openai" else gemini_live_bot(fake.http_options())
                for _ in range(2)
            ]
            results = await asyncio.gather(*(run_conversation(bot, exchanges=1) for bot in bots))
        return fake, list(results)

    fake, results = asyncio.run(go())

    assert [[e.number for e in s.exchanges] for s in fake.sessions] == [[0, 1], [0, 1]]
    assert all(s.exchange(1).user_transcript == "Hi there." for s in fake.sessions)
    for result in results:
        assert [e.frame.text for e in firsts(result, TranscriptionFrame)] == ["Hi there."]
        assert per_exchange(result, BotStoppedSpeakingFrame, 1) == [1, 1]
