"""The Collector route: the standard OTLP endpoint variables send the bot's spans to an OpenTelemetry Collector.

The Collector holds O2's credentials and stream, so the bot host needs neither; a local OTLP receiver plays
the Collector here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

from instrumentation import ConfigurationError, setup_openobserve, uninstrument
from instrumentation import contract as c
from instrumentation.config import load_config
from instrumentation.otlp import encode_spans
from instrumentation.schema import MARKER_SPAN
from provision.demo.bot import run_session
from provision.demo.fakes.openai import FakeOpenAI
from provision.demo.receiver import OTLPReceiver
from tests.instrumentation.conftest import TOKEN, Tracing
from tests.instrumentation.spanutil import attrs
from tests.o2_standin import StandIn

ENDPOINTS = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
O2_VARIABLES = ("OPENOBSERVE_URL", "OPENOBSERVE_ORG", "OPENOBSERVE_AUTH_TOKEN", "OPENOBSERVE_STREAM")


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """No O2 or OTLP endpoint variables, and a working directory without a ``.env``."""
    for name in (*ENDPOINTS, *O2_VARIABLES, "OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return monkeypatch


@pytest.mark.parametrize(
    ("variables", "endpoint"),
    [
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, "http://collector:4318/v1/traces"),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/"}, "http://collector:4318/v1/traces"),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "https://gw.example.com/otlp"}, "https://gw.example.com/otlp/v1/traces"),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/custom"}, "http://collector:4318/custom"),
        (
            {
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://traces:4318/v1/traces",
                "OTEL_EXPORTER_OTLP_ENDPOINT": "http://all:4318",
                "OPENOBSERVE_URL": "http://o2:5080",
            },
            "http://traces:4318/v1/traces",
        ),
    ],
)
def test_the_endpoint_variables_name_the_same_endpoint_as_opentelemetrys_own_exporter(
    env: pytest.MonkeyPatch, variables: dict[str, str], endpoint: str
) -> None:
    for name, value in variables.items():
        env.setenv(name, value)
    config = load_config(load_env_file=False)  # no O2 credentials: the Collector has them
    assert config.traces_endpoint == endpoint == OTLPSpanExporter()._endpoint
    assert config.headers == {} and config.stream is None


def test_a_url_argument_sends_to_openobserve_whatever_the_variables_say(env: pytest.MonkeyPatch) -> None:
    env.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318")
    config = load_config(url="http://o2:5080", auth_token=TOKEN, stream="voice", load_env_file=False)
    assert config.traces_endpoint == "http://o2:5080/api/default/v1/traces"
    assert config.headers == {"Authorization": f"Basic {TOKEN}", "stream-name": "voice"}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("collector:4318", "OTEL_EXPORTER_OTLP_ENDPOINT must start with http:// or https:// and name a host"),
        ("http://collector:port", "OTEL_EXPORTER_OTLP_ENDPOINT is not a valid URL (check the host and port)"),
        ("http://collector:4318/?a=1", "OTEL_EXPORTER_OTLP_ENDPOINT must be an OTLP/HTTP URL, without a query"),
        ("http://me:s3cret@collector:4318", "OTEL_EXPORTER_OTLP_ENDPOINT must not contain '@'"),
    ],
)
def test_a_bad_endpoint_is_refused_in_one_line_naming_the_variable(
    env: pytest.MonkeyPatch, value: str, message: str
) -> None:
    env.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", value)
    with pytest.raises(ConfigurationError) as refused:
        load_config(load_env_file=False)
    assert str(refused.value).startswith(message)
    assert "\n" not in str(refused.value) and "s3cret" not in str(refused.value)


def test_without_any_endpoint_the_error_names_both_routes(env: pytest.MonkeyPatch) -> None:
    with pytest.raises(
        ConfigurationError, match=r"^OPENOBSERVE_URL is not set \(nor OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
    ):
        load_config(load_env_file=False)


@pytest.fixture
def collector(env: pytest.MonkeyPatch, tracing: Tracing) -> Iterator[OTLPReceiver]:
    """Our export set up again through ``OTEL_EXPORTER_OTLP_ENDPOINT``, to a receiver playing the Collector."""
    with OTLPReceiver() as receiver:
        env.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"{receiver.url}/")
        env.setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-team=voice")
        uninstrument()
        try:
            setup_openobserve(tracer_provider=tracing.provider, load_env_file=False)
            tracing.reset()
            yield receiver
        finally:
            uninstrument()
            tracing.install()


def test_a_voice_session_reaches_the_collector_whole(collector: OTLPReceiver, tracing: Tracing) -> None:
    async def go() -> None:
        async with FakeOpenAI(ttft=0.02, stt_delay=0.01, tts_delay=0.01) as fake:
            await run_session(fake.base_url, turns=2, speech_seconds=0.3, turn_end_grace=0.1)

    asyncio.run(go())
    kept = {s.context.span_id: s for s in tracing.spans() if s.context is not None}
    tracing.provider.force_flush()
    received = collector.spans()
    turns = [s for s in received if s.name == c.TURN_SPAN]
    assert len(turns) == 2
    assert {s.name for s in received} >= {c.TURN_SPAN, c.LLM_SPAN, "ChatCompletion"}
    marker = [s for s in received if s.name == MARKER_SPAN]  # sent once per endpoint, not kept in memory
    assert len(marker) == 1
    assert sorted(int(s.span_id, 16) for s in received if s not in marker) == sorted(kept)
    for span in received:
        if span not in marker:
            original = kept[int(span.span_id, 16)]
            assert (span.name, span.attributes) == (original.name, attrs(original))
    assert {r.path for r in collector.requests} == {"/v1/traces"}
    for request in collector.requests:
        assert request.headers.get("x-team") == "voice"
        assert "authorization" not in request.headers and "stream-name" not in request.headers


def test_set_up_says_in_one_line_where_it_exports(
    env: pytest.MonkeyPatch, tracing: Tracing, caplog: pytest.LogCaptureFixture
) -> None:
    env.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://127.0.0.1:9/v1/traces")
    caplog.set_level(logging.INFO, logger="instrumentation")
    uninstrument()
    try:
        setup_openobserve(tracer_provider=tracing.provider, load_env_file=False)
    finally:
        uninstrument()
        tracing.install()
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("tracing to")]
    assert lines[0] == (
        "tracing to http://127.0.0.1:9/v1/traces "
        "(OTEL_EXPORTER_OTLP_TRACES_ENDPOINT; O2's credentials and stream are the Collector's)"
    )


def test_the_readmes_collector_config_sends_what_openobserve_ingests(o2: StandIn, tracing: Tracing) -> None:
    """Each batch the README's Collector forwards: our spans, to its endpoint plus /v1/traces, with its headers."""
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    block = readme.split("### Many bots", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    config = yaml.safe_load(block)
    assert config["service"]["pipelines"]["traces"] == {
        "receivers": ["otlp"],
        "processors": ["batch"],
        "exporters": ["otlphttp/openobserve"],
    }
    exporter = config["exporters"]["otlphttp/openobserve"]
    assert exporter["encoding"] == "proto"
    endpoint = exporter["endpoint"].replace("https://o2.example.com", o2.url)
    headers = {name: value.replace("${env:O2_BASIC_TOKEN}", TOKEN) for name, value in exporter["headers"].items()}
    tracing.reset()
    tracer = tracing.provider.get_tracer("collector-route")
    with tracer.start_as_current_span("pipecat.turn", attributes={"pipecat.session_id": "s-1"}):
        pass
    spans = [s for s in tracing.spans() if s.name == "pipecat.turn"]
    answer = httpx.post(
        f"{endpoint}/v1/traces",
        content=encode_spans(spans),
        headers={**headers, "Content-Type": "application/x-protobuf"},
    )
    assert answer.status_code == 200, answer.text
    stored = o2.records("default", headers["stream-name"])
    assert [r["pipecat_session_id"] for r in stored] == ["s-1"]
