"""Never harm the bot: OpenObserve down or refusing, bounded memory, our own bugs contained."""

from __future__ import annotations

import asyncio
import logging
import re
import signal
import socket
import time
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider

from instrumentation import contract as c
from instrumentation import instrument_pipeline, setup_openobserve, uninstrument, uninstrument_pipeline
from instrumentation.export import OpenObserveSpanProcessor
from instrumentation.otlp_http import OTLPSender
from provision.demo.bot import SessionResult, build_pipeline, run_session
from provision.demo.fakes.openai import FakeOpenAI
from provision.demo.receiver import OTLPReceiver
from tests.instrumentation.conftest import TOKEN, Tracing
from tests.instrumentation.spanutil import named


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def llm_only_session(*, instrument: bool = True) -> SessionResult:
    async def go() -> SessionResult:
        async with FakeOpenAI(ttft=0.05) as fake:
            return await run_session(fake.base_url, turns=3, llm_only=True, instrument=instrument, turn_end_grace=0.2)

    return asyncio.run(go())


def export_warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        r
        for r in caplog.records
        if r.levelno >= logging.WARNING and r.name.startswith(("instrumentation", "opentelemetry"))
    ]


def test_openobserve_down_costs_the_bot_nothing_and_logs_one_warning(
    tracing: Tracing, caplog: pytest.LogCaptureFixture
) -> None:
    baseline = llm_only_session(instrument=False)
    uninstrument()
    caplog.set_level(logging.INFO)
    try:
        port = closed_port()
        setup_openobserve(
            tracer_provider=tracing.provider, url=f"http://127.0.0.1:{port}", auth_token=TOKEN, export_timeout=1.0
        )
        down = llm_only_session()  # ~2.5 s: the background thread exports (and fails) more than once
        tracing.provider.force_flush()
        started = time.monotonic()
        uninstrument()
        shutdown_seconds = time.monotonic() - started
    finally:
        tracing.install()
    assert [t.prompt_tokens > 0 for t in down.turns] == [True] * 3
    assert down.seconds < baseline.seconds + 0.5
    warnings = export_warnings(caplog)
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert warnings[0].name == "instrumentation.export"
    assert (
        f"127.0.0.1:{port}" in warnings[0].getMessage()
        and "(connection failed: Connection refused)" in warnings[0].getMessage()
    )
    assert TOKEN not in warnings[0].getMessage()
    assert shutdown_seconds < 2.0


@pytest.mark.parametrize(("status", "reason"), [(401, "HTTP 401 Unauthorized"), (503, "HTTP 503 Service Unavailable")])
def test_rejecting_openobserve_logs_one_warning_per_outage(
    caplog: pytest.LogCaptureFixture, status: int, reason: str
) -> None:
    with OTLPReceiver(status=status) as receiver:
        endpoint = f"{receiver.url}/api/default/v1/traces"
        processor = OpenObserveSpanProcessor(OTLPSender(endpoint, {}, timeout=0.5), destination=endpoint)
        provider = TracerProvider()
        provider.add_span_processor(processor)
        tracer = provider.get_tracer("test")
        for _ in range(3):
            tracer.start_span("work").end()
            provider.force_flush()
        assert len(export_warnings(caplog)) == 1
        assert f"({reason})" in export_warnings(caplog)[0].getMessage()
        receiver.status = 200
        tracer.start_span("after-recovery").end()
        provider.force_flush()
        assert [s.name for s in receiver.spans()] == ["after-recovery"]
        receiver.status = status
        tracer.start_span("second-outage").end()
        provider.force_flush()
        assert len(export_warnings(caplog)) == 2
        provider.shutdown()


def test_the_export_thread_leaves_ctrl_c_and_sigterm_to_the_bot() -> None:
    """The kernel hands a process's signal to any thread that does not block it; Python runs the handler only
    once the main thread looks, so one taken by our idle thread could wait on a main thread blocked elsewhere."""
    processor = OpenObserveSpanProcessor(OTLPSender("http://127.0.0.1:9/v1/traces", {}, timeout=0.5), destination="x")
    try:
        thread = processor._thread
        until = time.monotonic() + 10
        while True:  # the thread blocks them as its first step
            status = Path(f"/proc/self/task/{thread.native_id}/status").read_text()
            blocked = int(re.search(r"^SigBlk:\s*([0-9a-f]+)", status, re.M).group(1), 16)  # type: ignore[union-attr]
            if blocked or time.monotonic() > until:
                break
            time.sleep(0.01)
        for sig in (signal.SIGINT, signal.SIGTERM):
            assert blocked & (1 << (sig - 1)), f"{sig.name} not blocked"
    finally:
        processor.shutdown()


def test_export_queue_is_bounded_and_never_blocks_the_caller() -> None:
    with OTLPReceiver(delay=0.5) as receiver:
        endpoint = f"{receiver.url}/api/default/v1/traces"
        processor = OpenObserveSpanProcessor(
            OTLPSender(endpoint, {}, timeout=2), destination=endpoint, max_queue_size=20
        )
        provider = TracerProvider()
        provider.add_span_processor(processor)
        tracer = provider.get_tracer("test")
        started = time.monotonic()
        for i in range(2000):
            tracer.start_span(f"s{i}").end()
        assert time.monotonic() - started < 1.0
        assert len(processor._queue) <= 20
        provider.shutdown()


def test_an_instrumentation_bug_never_reaches_the_pipeline(
    clean: Tracing, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import instrumentation.safety

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("instrumentation bug")

    monkeypatch.setattr(instrumentation.safety, "_reported", set())
    monkeypatch.setattr("instrumentation.hooks.LLMServiceSpan.__enter__", broken)
    result = llm_only_session()
    assert [t.prompt_tokens > 0 for t in result.turns] == [True, True, True]
    bugs = [r for r in caplog.records if r.name == "instrumentation" and r.levelno == logging.WARNING]
    assert len(bugs) == 1 and "starting an llm_service span" in bugs[0].getMessage()
    spans = clean.spans()
    assert not named(spans, c.LLM_SPAN) and len(named(spans, c.TURN_SPAN)) == 3


def test_uninstrument_pipeline_restores_the_llm_service_and_every_processor() -> None:
    from pipecat.pipeline.worker import PipelineWorker
    from pipecat.services.openai.llm import OpenAILLMService

    worker = PipelineWorker(build_pipeline("http://127.0.0.1:9/v1", "m", llm_only=True), enable_rtvi=False)
    user_pipeline = worker.pipeline.processors[1]
    (llm,) = [p for p in user_pipeline.processors if isinstance(p, OpenAILLMService)]
    from pipecat.observers.base_observer import FramePushed
    from pipecat.processors import frame_processor

    from instrumentation import pushes

    session_id = instrument_pipeline(worker, "sess-undo")
    assert instrument_pipeline(worker) == session_id == "sess-undo"
    assert "_process_context" in vars(llm)
    # Pushes are seen through Pipecat's own push records, not by wrapping each processor.
    assert frame_processor.FramePushed is not FramePushed and issubclass(frame_processor.FramePushed, FramePushed)
    assert all(pushes.is_watched(p) for p in user_pipeline.processors)
    assert not [p for p in user_pipeline.processors if "push_frame" in vars(p)]
    uninstrument_pipeline(worker)
    assert "_process_context" not in vars(llm)
    assert llm._process_context.__func__ is OpenAILLMService._process_context
    assert not [p for p in user_pipeline.processors if "push_frame" in vars(p) or pushes.is_watched(p)]


def test_a_pipeline_that_cannot_be_hooked_runs_untraced_with_one_warning_and_nothing_left_attached(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipecat.pipeline.worker import PipelineWorker
    from pipecat.services.openai.llm import OpenAILLMService

    worker = PipelineWorker(build_pipeline("http://127.0.0.1:9/v1", "m", llm_only=True), enable_rtvi=False)
    user_pipeline = worker.pipeline.processors[1]
    (llm,) = [p for p in user_pipeline.processors if isinstance(p, OpenAILLMService)]

    def broken(*_args: object, **_kwargs: object) -> None:
        raise AttributeError("no attribute '_process_context'")

    # Fails after the frame tap is attached to every processor: all of it must come off again.
    monkeypatch.setattr("instrumentation.hooks._wrap", broken)
    with caplog.at_level(logging.WARNING, logger="instrumentation"):
        session_id = instrument_pipeline(worker, "sess-broken")
    assert session_id == "sess-broken"
    warnings = [r for r in caplog.records if r.name == "instrumentation" and r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "runs untraced" in warnings[0].getMessage()
    assert "AttributeError: no attribute '_process_context'" in warnings[0].getMessage()
    assert not [p for p in user_pipeline.processors if "push_frame" in vars(p)]
    assert "_process_context" not in vars(llm)
    monkeypatch.undo()
    assert instrument_pipeline(worker, "sess-again") == "sess-again"  # nothing was registered for it
    uninstrument_pipeline(worker)


def test_speech_to_speech_services_are_hooked_and_restored() -> None:
    from pipecat.pipeline.pipeline import Pipeline
    from pipecat.pipeline.worker import PipelineWorker
    from pipecat.services.openai.realtime.llm import OpenAIRealtimeLLMService

    llm = OpenAIRealtimeLLMService(api_key="sk-fake", base_url="ws://127.0.0.1:9/v1/realtime")
    worker = PipelineWorker(Pipeline([llm]), enable_rtvi=False)
    instrument_pipeline(worker, "sess-s2s")
    assert {"push_frame", "start_llm_usage_metrics", "push_error_frame"} <= set(vars(llm))
    uninstrument_pipeline(worker)
    assert not {"push_frame", "start_llm_usage_metrics", "push_error_frame"} & set(vars(llm))
