"""Runs a real Pipecat pipeline (user aggregator → LLM service → assistant aggregator) and keeps what came out."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from pipecat.adapters.llm.schemas.function_schema import FunctionSchema
from pipecat.adapters.llm.schemas.tools_schema import ToolsSchema
from pipecat.frames.frames import (
    EndFrame,
    ErrorFrame,
    Frame,
    InterruptionFrame,
    LLMFullResponseEndFrame,
    LLMRunFrame,
    LLMTextFrame,
    MetricsFrame,
)
from pipecat.metrics.metrics import LLMTokenUsage, LLMUsageMetricsData
from pipecat.observers.base_observer import BaseObserver, FramePushed
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import LLMContextAggregatorPair
from pipecat.services.llm_service import FunctionCallParams, LLMService
from pipecat.utils.types import NOT_GIVEN
from pipecat.workers.runner import WorkerRunner

from provision.demo.bot import until
from provision.demo.fakes.llm import ScriptedLLMServer

SYSTEM = "You are a friendly voice assistant. Keep answers short."
USER_TEXT = "User utterance number 1."
WEATHER_TOOL = FunctionSchema(
    name="get_weather",
    description="The weather in a city.",
    properties={"city": {"type": "string"}},
    required=["city"],
)
FIRST_WORD_DEADLINE_S = 30.0  # generous: a loaded machine may take seconds to set a client up


@dataclass
class Outcome:
    """What the LLM service pushed during one run, and how long the run took."""

    texts: list[str] = field(default_factory=list)
    usages: list[LLMTokenUsage] = field(default_factory=list)
    errors: list[ErrorFrame] = field(default_factory=list)
    responses_ended: int = 0
    tool_results: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def text(self) -> str:
        """The reply text, as the LLMTextFrames carried it."""
        return "".join(self.texts)


class _FramesFrom(BaseObserver):
    """Records the frames one processor pushes."""

    def __init__(self, source: LLMService[Any], outcome: Outcome) -> None:
        super().__init__()
        self._source = source
        self._outcome = outcome

    async def on_push_frame(self, data: FramePushed) -> None:
        if data.source is not self._source:
            return
        frame: Frame = data.frame
        if isinstance(frame, LLMTextFrame):
            self._outcome.texts.append(frame.text)
        elif isinstance(frame, MetricsFrame):
            self._outcome.usages += [d.value for d in frame.data if isinstance(d, LLMUsageMetricsData)]
        elif isinstance(frame, ErrorFrame):
            self._outcome.errors.append(frame)
        elif isinstance(frame, LLMFullResponseEndFrame):
            self._outcome.responses_ended += 1


def weather_handler(outcome: Outcome) -> Callable[[FunctionCallParams], Awaitable[None]]:
    """A ``get_weather`` function handler that records its arguments and answers a sunny forecast."""

    async def get_weather(params: FunctionCallParams) -> None:
        outcome.tool_results.append((params.function_name, dict(params.arguments)))
        await params.result_callback({"forecast": "sunny", "city": params.arguments["city"]})

    return get_weather


async def run_llm(
    llm: LLMService[Any],
    *,
    responses: int = 1,
    tools: bool = False,
    interrupt_at_first_word: bool = False,
    timeout: float = 5.0,
) -> Outcome:
    """Ask ``llm`` once (``LLMRunFrame`` on a one-message context); wait for ``responses`` ends or ``timeout``.

    ``interrupt_at_first_word``: as soon as the reply's first word has come out of the service, an
    ``InterruptionFrame`` (the user speaking again) cuts the call.
    """
    outcome = Outcome()
    context = LLMContext(
        [{"role": "user", "content": USER_TEXT}], tools=ToolsSchema([WEATHER_TOOL]) if tools else NOT_GIVEN
    )
    if tools:
        llm.register_function("get_weather", weather_handler(outcome))
    aggregators = LLMContextAggregatorPair(context)
    worker = PipelineWorker(
        Pipeline([aggregators.user(), llm, aggregators.assistant()]),
        params=PipelineParams(enable_metrics=True, enable_usage_metrics=True),
        observers=[_FramesFrom(llm, outcome)],
        enable_rtvi=False,
        idle_timeout_secs=None,
    )
    started = time.monotonic()

    async def drive() -> None:
        try:
            await worker.queue_frame(LLMRunFrame())
            if interrupt_at_first_word:
                assert await until(lambda: bool(outcome.texts), FIRST_WORD_DEADLINE_S), "no first word"
                await worker.queue_frame(InterruptionFrame())
            deadline = time.monotonic() + timeout
            while outcome.responses_ended < responses and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
        finally:
            await worker.queue_frame(EndFrame())

    runner = WorkerRunner(handle_sigint=False)
    await runner.add_workers(worker)
    await asyncio.wait_for(asyncio.gather(runner.run(), drive()), FIRST_WORD_DEADLINE_S + timeout + 5)
    outcome.seconds = time.monotonic() - started
    return outcome


def run_against(fake: ScriptedLLMServer, build: Callable[[str], LLMService[Any]], **run_args: Any) -> Outcome:
    """Start ``fake``, run :func:`run_llm` (with ``run_args``) on the service ``build`` makes for its URL, stop it."""

    async def go() -> Outcome:
        async with fake:
            return await run_llm(build(fake.base_url), **run_args)

    return asyncio.run(go())


def refused_url() -> str:
    """A base URL on 127.0.0.1 where nothing listens (a port just freed)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def run_inference_against(fake: ScriptedLLMServer, build: Callable[[str], LLMService[Any]]) -> str | None:
    """Start ``fake``; return what the service's out-of-pipeline ``run_inference`` answers to one user message."""

    async def go() -> str | None:
        async with fake:
            return await build(fake.base_url).run_inference(LLMContext([{"role": "user", "content": USER_TEXT}]))

    return asyncio.run(go())


def run_dropped(build: Callable[[str], LLMService[Any]]) -> tuple[Outcome, int]:
    """Run :func:`run_llm` against a 127.0.0.1 server that closes every connection unanswered.

    Returns the outcome and how many connections the client made (its attempts: every SDK here retries
    a dropped connection unless told not to).
    """
    attempts = 0

    async def drop(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal attempts
        attempts += 1
        writer.close()

    async def go() -> Outcome:
        server = await asyncio.start_server(drop, "127.0.0.1", 0)
        async with server:
            port = server.sockets[0].getsockname()[1]
            return await run_llm(build(f"http://127.0.0.1:{port}"))

    outcome = asyncio.run(go())
    return outcome, attempts


def prompt_tokens(*texts: str) -> int:
    """The prompt tokens the fakes report for messages with these texts (fake_openai.usage_for's rule)."""
    return sum(len(t.split()) + 4 for t in texts)
