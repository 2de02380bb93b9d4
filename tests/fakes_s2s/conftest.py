"""A fake of each speech-to-speech protocol and a bot pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import pytest
from pipecat.adapters.llm.schemas.function_schema import FunctionSchema
from pipecat.adapters.llm.schemas.tools_schema import ToolsSchema
from pipecat.frames.frames import Frame, MetricsFrame
from pipecat.metrics.metrics import LLMTokenUsage, LLMUsageMetricsData
from pipecat.processors.frame_processor import FrameDirection

from provision.demo import s2s_bot
from provision.demo.fakes.realtime import ExchangeScript, FakeGeminiLive, FakeOpenAIRealtime
from provision.demo.s2s_bot import ConversationResult, S2SBot

WEATHER = FunctionSchema(
    name="get_weather",
    description="The current weather in a city.",
    properties={"city": {"type": "string"}},
    required=["city"],
)
KINDS = ["openai", "gemini"]

Fake = FakeOpenAIRealtime | FakeGeminiLive
Pair = Callable[..., Any]


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    """Which protocol: ``openai`` (Realtime) or ``gemini`` (Live)."""
    if request.param == "gemini":
        pytest.importorskip("pipecat.services.google.gemini_live.llm")
    return str(request.param)


@pytest.fixture
def fake_bot(kind: str) -> Pair:
    """``async with fake_bot(script, **fake_options) as (fake, bot)``: a started fake and a bot aimed at it."""

    @asynccontextmanager
    async def pair(
        script: Sequence[ExchangeScript], *, tools: bool = False, **options: Any
    ) -> AsyncIterator[tuple[Fake, S2SBot]]:
        schema = ToolsSchema(standard_tools=[WEATHER]) if tools else None
        async with s2s_bot.serve(kind, script, tools=schema, **options) as served:
            yield served

    return pair


def firsts(result: ConversationResult, kind: type[Frame], direction: FrameDirection | None = None) -> list[Any]:
    """The first push of each frame of ``kind`` (in ``direction``, when given), in order."""
    return [e for e in result.frames.first_pushes(kind) if direction is None or e.direction == direction]


def per_exchange(result: ConversationResult, kind: type[Frame], exchanges: int) -> list[int]:
    """How many ``kind`` frames went downstream in each exchange (index 0: the greeting)."""
    counts = [0] * (exchanges + 1)
    for event in firsts(result, kind, FrameDirection.DOWNSTREAM):
        counts[result.exchange_of(event)] += 1
    return counts


def usages(result: ConversationResult) -> list[LLMTokenUsage]:
    """The token usage of every ``LLMUsageMetricsData`` the pipeline carried, in order."""
    return [
        data.value
        for event in firsts(result, MetricsFrame)
        for data in event.frame.data
        if isinstance(data, LLMUsageMetricsData)
    ]
