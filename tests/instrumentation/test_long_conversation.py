"""A long conversation: the ChatCompletion's input.value keeps the system prompt and the latest messages.

The request grows with every turn; what we record of it does not, so the last turns of a long call cost
what its first ones cost (cut before serialising: ``benchmarks.calls --long``).
"""

from __future__ import annotations

import asyncio
import json

from instrumentation import contract as c
from provision.demo.bot import SessionResult, run_session
from provision.demo.fakes.openai import FakeOpenAI
from tests.instrumentation.conftest import Tracing
from tests.instrumentation.spanutil import attrs, named

TURNS = 30  # the system prompt and two messages a turn: the last requests hold more than the limit


def test_input_value_is_the_system_prompt_and_the_latest_messages_with_the_omitted_count(clean: Tracing) -> None:
    async def go() -> SessionResult:
        async with FakeOpenAI(ttft=0.0) as fake:
            return await run_session(fake.base_url, turns=TURNS, llm_only=True, turn_end_grace=0.05)

    result = asyncio.run(go())
    sent = [call["messages"] for turn in result.turns for call in turn.chat_calls]
    chats = sorted(named(clean.spans(), c.CHAT_SPAN), key=lambda s: s.start_time or 0)
    assert len(chats) == len(sent) == TURNS
    for messages, chat in zip(sent, chats, strict=True):
        recorded = json.loads(attrs(chat)[c.OI_INPUT])["messages"]
        if len(messages) <= c.INPUT_MESSAGES_LIMIT:
            assert recorded == messages and c.OMITTED_MESSAGES not in attrs(chat)
            continue
        assert messages[0]["role"] == "system"
        assert recorded == [messages[0], *messages[-c.INPUT_MESSAGES_LIMIT :]]
        assert attrs(chat)[c.OMITTED_MESSAGES] == len(messages) - len(recorded)
    assert len(sent[-1]) > c.INPUT_MESSAGES_LIMIT + 1  # the cut did happen
