"""Benchmark 1c: the fixed cost of one turn's spans, apart from any pipeline.

One turn makes three spans (``pipecat.turn``, ``pipecat.llm_service``, ``ChatCompletion``) with the
attributes a real turn has (a 21-message request as ``input.value``). This measures, in CPU per turn:
starting and ending them through an SDK provider with our session processor, and encoding them to OTLP
protobuf with OpenTelemetry's encoder (the baseline) and with ours (``instrumentation.otlp``), checking
that both give the same bytes.

``python -m benchmarks.spancost [--turns N] [--rounds R]``
"""

from __future__ import annotations

import argparse
import gc
import json
import time
from collections.abc import Sequence

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans as sdk_encode
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

from benchmarks.stats import fmt, load, median, spread, table
from instrumentation import contract as c
from instrumentation.export import SessionSpanProcessor
from instrumentation.otlp import encode_spans
from instrumentation.session import SessionInfo, with_session

BATCH = 512


class _Keep(SpanExporter):
    def __init__(self) -> None:
        self.spans: list[ReadableSpan] = []

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.spans.extend(spans)
        return SpanExportResult.SUCCESS


def make_turns(turns: int) -> tuple[float, list[ReadableSpan]]:
    """CPU seconds to start and end ``turns`` turns' spans, and the finished spans."""
    provider = TracerProvider(resource=Resource.create({"service.name": "bench-bot"}))
    provider.add_span_processor(SessionSpanProcessor())
    kept = _Keep()
    provider.add_span_processor(SimpleSpanProcessor(kept))
    tracer = provider.get_tracer("o2_provision.instrumentation")
    session = SessionInfo("0123456789abcdef0123456789abcdef", "bench-user")
    messages = [{"role": "system", "content": "You are a friendly voice assistant. Keep answers short."}]
    messages += [{"role": "user", "content": f"User utterance number {i}."} for i in range(20)]
    request = json.dumps({"model": "gpt-4o-mini", "stream": True, "messages": messages})
    answer = json.dumps({"choices": [{"index": 0, "message": {"role": "assistant", "content": "Sure."}}]})
    started = time.process_time()
    for number in range(turns):
        base = with_session(session, otel_context.Context())
        turn = tracer.start_span(
            c.TURN_SPAN,
            context=otel_context.Context(),
            attributes={c.TURN_NUMBER: number, c.SCHEMA: c.SCHEMA_VERSION, **session.attributes()},
        )
        llm = tracer.start_span(
            c.LLM_SPAN,
            context=trace.set_span_in_context(turn, base),
            attributes={c.SERVICE: "OpenAILLMService", c.MODEL: "gpt-4o-mini", c.USER_MESSAGE: "Hello there"},
        )
        chat = tracer.start_span(
            c.CHAT_SPAN,
            context=trace.set_span_in_context(llm, base),
            attributes={
                c.OI_SPAN_KIND: "LLM",
                c.OI_SYSTEM: "openai",
                c.OI_INVOCATION_PARAMETERS: '{"model": "gpt-4o-mini", "stream": true}',
                c.OI_INPUT: request,
                c.OI_INPUT_MIME: "application/json",
                c.OI_MODEL: "gpt-4o-mini",
                c.OI_PROMPT_TOKENS: 120,
                c.OI_COMPLETION_TOKENS: 9,
                c.OI_TOTAL_TOKENS: 129,
                c.OI_OUTPUT: answer,
                c.OI_OUTPUT_MIME: "application/json",
            },
        )
        chat.end()
        llm.set_attributes({c.ASSISTANT_MESSAGE: "Sure.", c.PROMPT_TOKENS: 120, c.COMPLETION_TOKENS: 9})
        llm.set_attributes({c.TOTAL_TOKENS: 129, c.TTFB_MS: 3})
        llm.end()
        turn.set_attributes({c.INTERRUPTED: False, c.PROMPT_TOKENS: 120, c.COMPLETION_TOKENS: 9})
        turn.set_attributes({c.VOICE_TO_VOICE_MS: 640, c.LLM_TTFB_MS: 210})
        turn.end()
    return time.process_time() - started, kept.spans


def encode_cpu(spans: list[ReadableSpan], ours: bool) -> float:
    started = time.process_time()
    for i in range(0, len(spans), BATCH):
        batch = spans[i : i + BATCH]
        if ours:
            encode_spans(batch)
        else:
            sdk_encode(batch).SerializePartialToString()
    return time.process_time() - started


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.spancost")
    parser.add_argument("--turns", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="500 turns, 3 rounds")
    args = parser.parse_args(argv)
    turns, rounds = (500, 3) if args.quick else (args.turns, args.rounds)
    print(f"[spancost] {load()}", flush=True)
    make: list[float] = []
    sdk: list[float] = []
    ours: list[float] = []
    gc.disable()  # the collector's pauses depend on the whole heap, not on this code
    for _ in range(rounds):
        seconds, spans = make_turns(turns)
        make.append(seconds * 1000 / turns)
        for first_ours in (False, True):
            (ours if first_ours else sdk).append(encode_cpu(spans, first_ours) * 1000 / turns)
        assert encode_spans(spans[:BATCH]) == sdk_encode(spans[:BATCH]).SerializeToString()
        gc.collect()
    gc.enable()
    rows = [
        ["start and end 3 spans (SDK, session processor)", f"{fmt(median(make), 3)} ({spread(make, 3)})", ""],
        ["OTLP encode, OpenTelemetry's encoder (baseline)", f"{fmt(median(sdk), 3)} ({spread(sdk, 3)})", "1.00×"],
        [
            "OTLP encode, instrumentation.otlp (same bytes)",
            f"{fmt(median(ours), 3)} ({spread(ours, 3)})",
            f"{median(sdk) / median(ours):.2f}× faster",
        ],
    ]
    print(f"## 1c. One turn's spans, apart from the pipeline ({rounds} rounds × {turns} turns, medians (min–max))\n")
    print(table(["step", "CPU ms per turn", "vs baseline"], rows))
    print(f"[spancost] after: {load()}")


if __name__ == "__main__":
    main()
