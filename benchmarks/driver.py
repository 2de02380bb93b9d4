"""One traced (or untraced) bot process: real Pipecat LLM-only sessions against a fake LLM, measured.

``python -m benchmarks.driver CONFIG LLM_URL OTLP_URL --provider P --sessions S --turns T`` runs one
warm-up session, then ``S`` sessions of ``T`` turns of the provider's pipeline (``openai``:
``OpenAILLMService`` against the fake OpenAI server; ``anthropic``: ``AnthropicLLMService`` against the fake
Anthropic Messages API), and prints one JSON line: process CPU and wall time of the turns
(the time inside sessions, from the first user turn to the last answer, plus the final flush of spans),
each turn's latency, peak RSS and how long the tracing took to shut down.

CONFIG is one of:

* ``none``: no tracing;
* ``pipecat``: Pipecat's own ``enable_tracing=True`` (a ``BatchSpanProcessor`` with the OTLP/HTTP exporter);
* ``oi-pipecat``: Arize's ``openinference-instrumentation-pipecat`` (same export);
* ``ours``: ``setup_openobserve`` + ``instrument_pipeline`` (its own export; our hooks write every span;
  the Anthropic client keeps its own ``anthropic.messages.create`` span, as a user's does by default,
  which our exporter leaves out);
* ``ours-no-sdk-span``: ``ours`` with the Anthropic client's own span turned off
  (``AsyncAnthropic(open_telemetry=False)``): what that span costs a bot (Anthropic only);
* ``noop-observer``: no tracing, one more observer that does nothing (what any observer costs).

Each turn plays the user (``UserStartedSpeakingFrame``, a final ``TranscriptionFrame``,
``UserStoppedSpeakingFrame``), waits for the LLM's ``LLMFullResponseEndFrame``, then plays the output
transport (``BotStartedSpeakingFrame``, ``BotStoppedSpeakingFrame``) and waits until that frame is seen.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import logging
import resource
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

CONFIGS = ("none", "pipecat", "oi-pipecat", "ours", "ours-no-sdk-span", "noop-observer")
PROVIDERS = ("openai", "anthropic")
PROVIDER_CONFIGS = {
    "openai": tuple(c for c in CONFIGS if c != "ours-no-sdk-span"),
    "anthropic": CONFIGS,
}
TOKEN = base64.b64encode(b"bench@example.com:secret").decode()


@dataclass
class Measured:
    config: str
    turns: int = 0
    cpu_s: float = 0.0
    wall_s: float = 0.0
    flush_s: float = 0.0
    shutdown_s: float = 0.0
    peak_rss_mb: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)


def _quiet() -> None:
    from loguru import logger

    logger.remove()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)


def _flush(provider: Any) -> None:
    provider.force_flush()


def _tracing(config: str, otlp: str) -> tuple[Callable[[], None], Callable[[], None]]:
    """Install the config's tracing; return (flush, shutdown)."""
    if config in ("none", "noop-observer"):
        return (lambda: None), (lambda: None)
    if config.startswith("ours"):
        from instrumentation import setup_openobserve, uninstrument

        provider = setup_openobserve(url=otlp, auth_token=TOKEN, service_name="bench-bot", load_env_file=False)
        return (lambda: _flush(provider)), uninstrument
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    sdk = TracerProvider(resource=Resource.create({"service.name": "bench-bot"}))
    exporter = OTLPSpanExporter(endpoint=f"{otlp}/api/default/v1/traces", headers={"Authorization": f"Basic {TOKEN}"})
    sdk.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(sdk)
    if config == "oi-pipecat":
        from openinference.instrumentation.pipecat import PipecatInstrumentor

        PipecatInstrumentor().instrument(tracer_provider=sdk)
    return (lambda: _flush(sdk)), sdk.shutdown


def _llm(provider: str, llm_url: str, sdk_span: bool) -> Any:
    """The LLM service of ``provider``'s pipeline; ``sdk_span=False`` turns the Anthropic client's own span off."""
    system = "You are a friendly voice assistant. Keep answers short."
    if provider == "anthropic":
        from anthropic import AsyncAnthropic
        from pipecat.services.anthropic.llm import AnthropicLLMService

        from provision.demo.fakes.anthropic import DEFAULT_MODEL

        # As provision.demo.fakes.anthropic.anthropic_llm builds it, with the client's tracing made explicit.
        client = AsyncAnthropic(
            api_key="sk-ant-fake", base_url=llm_url, max_retries=0, open_telemetry=None if sdk_span else False
        )
        settings = AnthropicLLMService.Settings(model=DEFAULT_MODEL, system_instruction=system)
        return AnthropicLLMService(api_key="sk-ant-fake", client=client, settings=settings)
    from pipecat.services.openai.llm import OpenAILLMService

    return OpenAILLMService(
        api_key="sk-fake",
        base_url=llm_url,
        settings=OpenAILLMService.Settings(model="gpt-4o-mini", system_instruction=system),
    )


def _pipeline(provider: str, llm_url: str, sdk_span: bool) -> Any:
    """``provision.demo.bot.build_pipeline(llm_only=True)`` with ``provider``'s LLM and a 10 ms turn-stop tick.

    Pipecat's ``ExternalUserTurnStopStrategy`` adopts the injected ``UserStoppedSpeakingFrame`` on its
    next timeout tick; at the default 0.5 s every turn would be half a second of idle waiting.
    """
    from pipecat.pipeline.pipeline import Pipeline
    from pipecat.processors.aggregators.llm_context import LLMContext
    from pipecat.processors.aggregators.llm_response_universal import (
        LLMContextAggregatorPair,
        LLMUserAggregatorParams,
    )
    from pipecat.turns.user_start import ExternalUserTurnStartStrategy
    from pipecat.turns.user_stop import ExternalUserTurnStopStrategy
    from pipecat.turns.user_turn_strategies import UserTurnStrategies

    strategies = UserTurnStrategies(
        start=[ExternalUserTurnStartStrategy()], stop=[ExternalUserTurnStopStrategy(timeout=0.01)]
    )
    pair = LLMContextAggregatorPair(LLMContext(), user_params=LLMUserAggregatorParams(user_turn_strategies=strategies))
    return Pipeline([pair.user(), _llm(provider, llm_url, sdk_span), pair.assistant()])


async def _session(
    config: str,
    llm_url: str,
    turns: int,
    out: Measured | None,
    provider: str = "openai",
    sdk_span: bool = True,
    on_turn: Callable[[int], None] | None = None,
) -> None:
    from pipecat.frames.frames import (
        BotStartedSpeakingFrame,
        BotStoppedSpeakingFrame,
        EndFrame,
        Frame,
        LLMFullResponseEndFrame,
        TranscriptionFrame,
        UserStartedSpeakingFrame,
        UserStoppedSpeakingFrame,
    )
    from pipecat.observers.base_observer import BaseObserver, FramePushed
    from pipecat.pipeline.worker import PipelineParams, PipelineWorker
    from pipecat.services.llm_service import LLMService
    from pipecat.utils.time import time_now_iso8601
    from pipecat.workers.runner import WorkerRunner

    class Probe(BaseObserver):
        """Wakes the driver when the LLM has answered and when a given frame went through."""

        def __init__(self) -> None:
            super().__init__(observe_every_push=False)
            self.answers = 0
            self.seen: set[int] = set()
            self.changed = asyncio.Event()

        async def on_push_frame(self, data: FramePushed) -> None:
            frame = data.frame
            if isinstance(frame, LLMFullResponseEndFrame) and isinstance(data.source, LLMService):
                self.answers += 1
                self.changed.set()
            elif isinstance(frame, BotStoppedSpeakingFrame):
                self.seen.add(frame.id)
                self.changed.set()

        async def until(self, condition: Callable[[], bool]) -> None:
            while not condition():
                self.changed.clear()
                await asyncio.wait_for(self.changed.wait(), 10)

    worker = PipelineWorker(
        _pipeline(provider, llm_url, sdk_span and config != "ours-no-sdk-span"),
        params=PipelineParams(enable_metrics=True, enable_usage_metrics=True),
        enable_tracing=config == "pipecat",
        enable_rtvi=False,
        idle_timeout_secs=None,
    )
    probe = Probe()
    worker.add_observer(probe)
    if config == "noop-observer":

        class Noop(BaseObserver):
            async def on_push_frame(self, data: FramePushed) -> None:
                return None

        worker.add_observer(Noop())
    if config.startswith("ours"):
        from instrumentation import instrument_pipeline

        instrument_pipeline(worker, user_id="bench-user")
    ready = asyncio.Event()

    @worker.event_handler("on_pipeline_started")  # type: ignore[untyped-decorator]
    async def _started(_worker: PipelineWorker, _frame: Frame) -> None:
        ready.set()

    async def drive() -> None:
        try:
            await asyncio.wait_for(ready.wait(), 10)
            cpu0, wall0 = time.process_time(), time.perf_counter()
            for number in range(1, turns + 1):
                started = time.perf_counter()
                answers = probe.answers
                text = f"User utterance number {number}."
                await worker.queue_frames(
                    [
                        UserStartedSpeakingFrame(),
                        TranscriptionFrame(text, "user", time_now_iso8601(), finalized=True),
                        UserStoppedSpeakingFrame(),
                    ]
                )
                await probe.until(lambda a=answers: probe.answers > a)  # type: ignore[misc]
                stopped = BotStoppedSpeakingFrame()
                await worker.queue_frames([BotStartedSpeakingFrame(), stopped])
                await probe.until(lambda s=stopped.id: s in probe.seen)  # type: ignore[misc]
                if out is not None:
                    out.latencies_ms.append((time.perf_counter() - started) * 1000)
                if on_turn is not None:
                    on_turn(number)
            if out is not None:
                out.cpu_s += time.process_time() - cpu0
                out.wall_s += time.perf_counter() - wall0
                out.turns += turns
        finally:
            await worker.queue_frame(EndFrame())

    runner = WorkerRunner(handle_sigint=False)
    await runner.add_workers(worker)
    await asyncio.gather(runner.run(), drive())


async def run(config: str, llm_url: str, otlp: str, sessions: int, turns: int, provider: str) -> Measured:
    flush, shutdown = _tracing(config, otlp)
    out = Measured(config)
    await _session(config, llm_url, min(turns, 5), None, provider)  # warm-up: imports, connections, first spans
    flush()
    for _ in range(sessions):
        await _session(config, llm_url, turns, out, provider)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    flush()  # spans still queued belong to the measured turns
    out.flush_s = time.perf_counter() - wall0
    out.cpu_s += time.process_time() - cpu0
    wall0 = time.perf_counter()
    shutdown()
    out.shutdown_s = time.perf_counter() - wall0
    out.peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.driver")
    parser.add_argument("config", choices=CONFIGS)
    parser.add_argument("llm_url")
    parser.add_argument("otlp_url")
    parser.add_argument("--provider", choices=PROVIDERS, default="openai")
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--turns", type=int, default=20)
    args = parser.parse_args(argv)
    _quiet()
    result = asyncio.run(run(args.config, args.llm_url, args.otlp_url, args.sessions, args.turns, args.provider))
    print(json.dumps(asdict(result)), flush=True)


def spawn(
    config: str, llm_url: str, otlp: str, sessions: int, turns: int, provider: str = "openai", timeout: float = 900
) -> dict[str, Any]:
    """Run the driver in a fresh process (one global tracer provider per process) and return its result."""
    import subprocess

    cmd = [sys.executable, "-m", "benchmarks.driver", config, llm_url, otlp, "--provider", provider]
    cmd += ["--sessions", str(sessions), "--turns", str(turns)]
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0 or not proc.stdout.strip():
        raise RuntimeError(f"driver {config} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    result["process_s"] = time.perf_counter() - started
    result["stderr_lines"] = len(proc.stderr.splitlines())
    return result


if __name__ == "__main__":
    main()
