"""Our spans alongside Pipecat's own tracing (``enable_tracing=True``) on the full voice pipeline."""

from __future__ import annotations

import asyncio

from instrumentation import contract as c
from provision.demo.bot import SessionResult, run_session
from provision.demo.fakes.openai import FakeOpenAI
from tests.instrumentation.conftest import Tracing
from tests.instrumentation.spanutil import attrs, named, ours, parent_of, trace_id


def test_pipecat_tracing_on_still_one_llm_service_span_per_call_in_our_per_turn_traces(clean: Tracing) -> None:
    async def go() -> SessionResult:
        async with FakeOpenAI() as fake:
            return await run_session(fake.base_url, turns=2, session_id="sess-both", enable_pipecat_tracing=True)

    result = asyncio.run(go())
    spans = clean.spans()
    pipecat_trace = {trace_id(s) for s in named(spans, "conversation")}
    assert len(pipecat_trace) == 1, "Pipecat's own conversation trace is still made"
    assert len(named(spans, "llm")) == 2 and len(named(spans, "turn")) >= 2

    llm_spans = named(spans, c.LLM_SPAN)
    assert len(llm_spans) == sum(len(t.chat_calls) for t in result.turns) == 2
    for span in ours(spans):
        assert trace_id(span) not in pipecat_trace
    for turn in named(spans, c.TURN_SPAN):
        assert turn.parent is None
    for llm in llm_spans:
        turn = parent_of(llm, spans)
        assert turn is not None and turn.name == c.TURN_SPAN
        (chat,) = [s for s in named(spans, "ChatCompletion") if parent_of(s, spans) is llm]
        assert attrs(chat)["session.id"] == "sess-both"
        assert attrs(llm)[c.PROMPT_TOKENS] == attrs(chat)["llm.token_count.prompt"]
    # Pipecat's llm span still records the call (its tokens, in its own trace).
    for pipecat_llm in named(spans, "llm"):
        assert trace_id(pipecat_llm) in pipecat_trace
        assert attrs(pipecat_llm)["gen_ai.usage.input_tokens"] > 0
    assert [attrs(t)[c.TURN_NUMBER] for t in named(spans, c.TURN_SPAN)] == [1, 2]
