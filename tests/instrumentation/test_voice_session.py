"""A real STT → LLM → TTS pipeline against the fake OpenAI server, traced end to end.

One session of four turns: the user barges in on the bot's first answer (turn 1 interrupted, the
barge-in is turn 2), turn 3 is plain, and the LLM call of turn 4 fails with HTTP 500.
"""

from __future__ import annotations

import asyncio
import base64
import gc
import warnings
from dataclasses import dataclass

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import StatusCode

from instrumentation import contract as c
from provision.demo.bot import SessionResult, run_session
from provision.demo.fakes.openai import FakeOpenAI
from provision.demo.receiver import ReceivedRequest, ReceivedSpan
from tests.instrumentation.conftest import ORG, STREAM, TOKEN, Tracing
from tests.instrumentation.spanutil import attrs, forbidden_keys, named, ours, parent_of, trace_id

SESSION = "sess-voice-1"
USER = "user-42"
TTFT_S, STT_DELAY_S, TTS_DELAY_S = 0.15, 0.08, 0.06
# a bound on the output transport's start-up (its first audio chunk to BotStartedSpeaking), generous under load
OUTPUT_START_MS = 250
REPLY = "Hello there, I am a test voice bot."
TRANSCRIPTS = ["Hi there, who are you?", "What is the weather like today?", "Tell me a joke."]


@dataclass
class Run:
    result: SessionResult
    spans: list[ReadableSpan]
    exported: list[ReceivedSpan]
    requests: list[ReceivedRequest]
    warnings: list[str]


@pytest.fixture(scope="module")
def run(tracing: Tracing) -> Run:
    tracing.reset()

    async def go() -> SessionResult:
        fake = FakeOpenAI(
            replies=[REPLY],
            ttft=TTFT_S,
            stt_delay=STT_DELAY_S,
            tts_delay=TTS_DELAY_S,
            transcripts=TRANSCRIPTS,
            fail_calls=[4],
        )
        async with fake:
            return await run_session(fake.base_url, turns=4, session_id=SESSION, user_id=USER, interrupt_turn=1)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = asyncio.run(go())
        gc.collect()  # an un-awaited coroutine warns when it is collected
    spans = tracing.spans()
    exported = tracing.exported()
    return Run(result, spans, exported, list(tracing.receiver.requests), [str(w.message) for w in caught])


def turns(run: Run) -> list[ReadableSpan]:
    return sorted(named(run.spans, c.TURN_SPAN), key=lambda s: attrs(s)[c.TURN_NUMBER])


def llm_of(run: Run, turn: ReadableSpan) -> list[ReadableSpan]:
    return [s for s in named(run.spans, c.LLM_SPAN) if parent_of(s, run.spans) is turn]


def test_session_ran_as_driven(run: Run) -> None:
    assert run.result.session_id == SESSION
    assert [len(t.chat_calls) for t in run.result.turns] == [1, 1, 1, 1]
    assert run.result.failures == [4]
    assert run.result.seconds < 15


def test_span_tree_is_turn_then_llm_then_chat_completion_with_one_trace_per_turn(run: Run) -> None:
    turn_spans = turns(run)
    assert [attrs(t)[c.TURN_NUMBER] for t in turn_spans] == [1, 2, 3, 4]
    assert len({trace_id(t) for t in turn_spans}) == 4
    for turn in turn_spans:
        assert turn.parent is None
        (llm,) = llm_of(run, turn)
        assert trace_id(llm) == trace_id(turn)
        assert llm.start_time is not None and turn.start_time is not None and llm.start_time >= turn.start_time
        (chat,) = [s for s in named(run.spans, "ChatCompletion") if parent_of(s, run.spans) is llm]
        assert trace_id(chat) == trace_id(turn)
    assert len(named(run.spans, c.LLM_SPAN)) == 4
    assert len(named(run.spans, "ChatCompletion")) == 4


def test_turn_attributes(run: Run) -> None:
    for turn, driven in zip(turns(run), run.result.turns, strict=True):
        a = attrs(turn)
        assert a[c.SESSION_ID] == SESSION
        assert a[c.OTEL_SESSION_ID] == SESSION
        assert a[c.OTEL_USER_ID] == USER
        assert a[c.SCHEMA] == c.SCHEMA_VERSION
        assert a[c.TURN_NUMBER] == driven.number
        assert a[c.INTERRUPTED] is (driven.number == 1)
        assert a[c.PROMPT_TOKENS] == driven.prompt_tokens
        assert a[c.COMPLETION_TOKENS] == driven.completion_tokens
    assert [t.prompt_tokens > 0 for t in run.result.turns] == [True, True, True, False]


def test_turn_latencies_are_plausible_integers(run: Run) -> None:
    for turn in turns(run)[:3]:
        a = attrs(turn)
        for key in (c.VOICE_TO_VOICE_MS, c.STT_MS, c.LLM_TTFB_MS, c.TTS_TTFB_MS):
            assert isinstance(a[key], int), key
        assert STT_DELAY_S * 1000 <= a[c.STT_MS] < 1000
        assert TTFT_S * 1000 <= a[c.LLM_TTFB_MS] < 1000
        assert TTS_DELAY_S * 1000 <= a[c.TTS_TTFB_MS] < 1000
        stages = a[c.STT_MS] + a[c.LLM_TTFB_MS] + a[c.TTS_TTFB_MS]
        assert stages <= a[c.VOICE_TO_VOICE_MS] < 3000
    failed = attrs(turns(run)[3])
    assert c.VOICE_TO_VOICE_MS not in failed and c.TTS_TTFB_MS not in failed
    assert c.RESPONSE_MS not in failed, "the bot never answered"


def test_response_latency_is_voice_to_voice_up_to_the_output_transports_start(run: Run) -> None:
    """Both run from the user's speech end; response latency stops at the first TTS audio, voice-to-voice
    when the output transport starts playing it, a frame hop later."""
    for turn in turns(run)[:3]:
        a = attrs(turn)
        stages = a[c.STT_MS] + a[c.LLM_TTFB_MS] + a[c.TTS_TTFB_MS]
        assert isinstance(a[c.RESPONSE_MS], int)
        assert stages <= a[c.RESPONSE_MS] <= a[c.VOICE_TO_VOICE_MS]
        # the fake's TTS streams its audio at once: the transport starts playing on its first chunk
        assert a[c.VOICE_TO_VOICE_MS] - a[c.RESPONSE_MS] < OUTPUT_START_MS


def test_llm_service_attributes_match_the_fake_server(run: Run) -> None:
    for turn, driven in zip(turns(run)[:3], run.result.turns, strict=False):
        (llm,) = llm_of(run, turn)
        a = attrs(llm)
        usage = driven.chat_calls[0]["usage"]
        assert a[c.SERVICE] == "OpenAILLMService"
        assert a[c.MODEL] == "gpt-4o-mini"
        assert a[c.USER_MESSAGE] == TRANSCRIPTS[driven.number - 1]
        assert a[c.ASSISTANT_MESSAGE] == REPLY
        assert a[c.PROMPT_TOKENS] == usage["prompt_tokens"]
        assert a[c.COMPLETION_TOKENS] == usage["completion_tokens"] == len(REPLY.split())
        assert a[c.TOTAL_TOKENS] == usage["total_tokens"]
        assert isinstance(a[c.TTFB_MS], int) and TTFT_S * 1000 <= a[c.TTFB_MS] < 1000
        assert a[c.TURN_NUMBER] == driven.number
        assert llm.status.status_code is StatusCode.OK
        (chat,) = [s for s in named(run.spans, "ChatCompletion") if parent_of(s, run.spans) is llm]
        assert attrs(chat)["llm.token_count.prompt"] == usage["prompt_tokens"]
        assert attrs(chat)["llm.token_count.completion"] == usage["completion_tokens"]


def test_failed_llm_call_marks_llm_span_and_turn_as_error(run: Run) -> None:
    turn = turns(run)[3]
    (llm,) = llm_of(run, turn)
    assert llm.status.status_code is StatusCode.ERROR
    assert "500" in (llm.status.description or "")
    assert [e.name for e in llm.events] == ["exception"]
    assert c.PROMPT_TOKENS not in attrs(llm) and c.TTFB_MS not in attrs(llm)
    assert turn.status.status_code is StatusCode.ERROR
    assert all(t.status.status_code is StatusCode.OK for t in turns(run)[:3])


def test_session_ids_on_every_exported_span_including_chat_completion(run: Run) -> None:
    assert {s.name for s in run.exported} == {c.TURN_SPAN, c.LLM_SPAN, "ChatCompletion"}
    for span in run.exported:
        assert span.attributes[c.SESSION_ID] == SESSION, span.name
        assert span.attributes[c.OTEL_SESSION_ID] == SESSION, span.name
        assert span.attributes[c.OTEL_USER_ID] == USER, span.name


def test_speech_calls_are_left_alone(run: Run) -> None:
    # Nothing wraps the STT and TTS requests: no orphan spans, no un-awaited coroutines in the bot's log.
    assert not [s for s in run.spans if s.name in ("Transcription", "HttpxBinaryResponseContent")]
    assert not [s for s in run.exported if s.parent_span_id is None and s.name != c.TURN_SPAN]
    assert not [w for w in run.warnings if "never awaited" in w]


def test_our_spans_carry_no_openobserve_llm_trigger_keys(run: Run) -> None:
    for span in ours(run.spans):
        assert forbidden_keys(attrs(span)) == set(), span.name
    for span in run.exported:
        if span.name in (c.TURN_SPAN, c.LLM_SPAN):
            assert forbidden_keys(span.attributes) == set()


def test_otlp_requests_go_to_openobserve_path_with_auth_and_stream(run: Run) -> None:
    assert run.requests
    for request in run.requests:
        assert request.path == f"/api/{ORG}/v1/traces"
        assert request.headers["authorization"] == f"Basic {TOKEN}"
        assert base64.b64decode(TOKEN).decode() == "root@example.com:Complexpass#123"
        assert request.headers["stream-name"] == STREAM
        assert request.headers["content-type"] == "application/x-protobuf"
    exported_turn_1 = next(s for s in run.exported if s.attributes.get(c.TURN_NUMBER) == 1)
    assert exported_turn_1.attributes[c.PROMPT_TOKENS] == run.result.turns[0].prompt_tokens


def test_each_turn_is_exported_as_soon_as_it_ends(run: Run) -> None:
    first = next(r for r in run.requests if any(s.attributes.get(c.TURN_NUMBER) == 1 for s in r.spans))
    last_turn_end = max(t.end_time or 0 for t in turns(run)) / 1e9
    assert first.received_at < last_turn_end - 1.0
