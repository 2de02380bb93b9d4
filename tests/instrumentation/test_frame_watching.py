"""How the tap sees a voice pipeline's pushes: through Pipecat's push records, else by wrapping push_frame.

Both ways give the same turns. Through the push records, audio costs the instrumentation nothing: the
Python calls made in our code over a voice session stay within a small budget a turn however many audio
frames pass (counted, not timed: the count does not depend on the machine's speed).
"""

from __future__ import annotations

import asyncio
import gc
import sys
from collections import Counter
from collections.abc import Iterator
from types import FrameType
from typing import Any

import pytest
from pipecat.pipeline.worker import PipelineWorker

from instrumentation import contract as c
from instrumentation import pushes
from provision.demo.bot import run_session
from provision.demo.fakes.openai import FakeOpenAI
from tests.instrumentation.conftest import Tracing
from tests.instrumentation.spanutil import attrs, named

LATENCIES = (c.VOICE_TO_VOICE_MS, c.RESPONSE_MS, c.STT_MS, c.LLM_TTFB_MS, c.TTS_TTFB_MS)
TURNS = 3
SPEECH_S = 1.0  # 50 input audio frames a turn, each pushed by every processor of the pipeline
# Python calls in instrumentation/ a turn: spans, hooks, the frames that mark turns, export. Measured at
# about 300 a turn; a wrapper around each processor's push_frame alone would add one per push (over 400).
CALLS_BUDGET = 400


def voice_session(
    tracing: Tracing, *, count: bool = False, sessions: int = 1, keep: list[PipelineWorker] | None = None
) -> tuple[list[dict[str, Any]], Counter[str]]:
    """Run traced voice sessions side by side; their turn spans' attributes and the calls made in our package
    (by function).

    Earlier pipelines are collected first (letting them go is their cost, not this session's), unless
    their workers are in ``keep``, where this session's go too.
    """
    tracing.reset()
    gc.collect()
    calls: Counter[str] = Counter()

    stand_in = pushes._Seen.__init__.__code__  # builds Pipecat's push record in place of Pipecat's own __init__

    def profile(frame: FrameType, event: str, _arg: Any) -> None:
        code = frame.f_code
        if event == "call" and "/instrumentation/" in code.co_filename and code is not stand_in:
            calls[f"{code.co_filename.rsplit('/', 1)[-1]}:{code.co_name}"] += 1

    async def go() -> None:
        async with FakeOpenAI(ttft=0.05, stt_delay=0.02, tts_delay=0.02) as fake:
            await asyncio.gather(
                *(
                    run_session(
                        fake.base_url,
                        turns=TURNS,
                        speech_seconds=SPEECH_S,
                        turn_end_grace=0.1,
                        before_run=None if keep is None else keep.append,
                    )
                    for _ in range(sessions)
                )
            )

    if count:
        sys.setprofile(profile)
    try:
        asyncio.run(go())
    finally:
        sys.setprofile(None)
    turns = sorted(
        (attrs(t) for t in named(tracing.spans(), c.TURN_SPAN)), key=lambda a: (a[c.SESSION_ID], a[c.TURN_NUMBER])
    )
    return turns, calls


@pytest.fixture
def wrapped(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """As on a Pipecat whose pushes cannot be seen through its push records."""
    monkeypatch.setattr(pushes, "available", lambda: False)
    yield


def test_pushes_are_seen_through_pipecats_push_records(tracing: Tracing) -> None:
    assert pushes.available()
    turns, _ = voice_session(tracing)
    assert [t[c.TURN_NUMBER] for t in turns] == list(range(1, TURNS + 1))
    for turn in turns:
        assert all(isinstance(turn[key], int) and turn[key] >= 0 for key in LATENCIES), turn
        assert turn[c.RESPONSE_MS] <= turn[c.VOICE_TO_VOICE_MS]


def test_wrapping_push_frame_gives_the_same_turns(tracing: Tracing, wrapped: None) -> None:
    watched, _ = voice_session(tracing)
    assert [sorted(t) for t in watched] == [sorted(t) for t in voice_session(tracing)[0]]
    for turn in watched:
        assert all(isinstance(turn[key], int) and turn[key] >= 0 for key in LATENCIES), turn


def test_audio_frames_cost_the_instrumentation_no_call(tracing: Tracing) -> None:
    turns, calls = voice_session(tracing, count=True)
    assert len(turns) == TURNS
    per_turn = calls.total() / TURNS
    assert per_turn < CALLS_BUDGET, f"{per_turn:.0f} calls a turn in instrumentation/: {calls.most_common(12)}"


def test_other_pipelines_in_the_process_cost_a_session_nothing(tracing: Tracing) -> None:
    """Each pipeline's tap stops asking for the LLM's text and audio on its own, whatever others want.

    A bot server runs many conversations in one process, side by side or one after another with the
    finished ones not yet collected; a tap whose wishes counted for another's would be shown every text
    chunk the other streams.
    """
    alone = voice_session(tracing, count=True)[1].total()
    kept: list[PipelineWorker] = []
    voice_session(tracing, keep=kept)
    turns, calls = voice_session(tracing, count=True, keep=kept)
    after_one = calls.total()
    assert len(turns) == TURNS
    side_by_side = voice_session(tracing, count=True, sessions=2, keep=kept)[1].total()
    assert after_one < alone * 1.1, f"{after_one} calls with a finished pipeline kept, {alone} alone"
    assert side_by_side / 2 < alone * 1.1, f"{side_by_side / 2:.0f} calls a session side by side, {alone} alone"


def test_a_wrapper_around_push_frame_would_cost_a_call_a_push(tracing: Tracing, wrapped: None) -> None:
    """The yardstick for the budget above: the same session, seen by wrapping every push_frame."""
    _, calls = voice_session(tracing, count=True)
    assert calls.total() / TURNS > CALLS_BUDGET + SPEECH_S / 0.02 * 4
