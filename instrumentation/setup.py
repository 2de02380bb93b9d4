"""One call that sends traces to OpenObserve: :func:`setup_openobserve` (alias ``openobserve_init``)."""

from __future__ import annotations

import atexit
import logging
import os
from dataclasses import dataclass

from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider

from instrumentation.config import OpenObserveConfig, load_config
from instrumentation.contract import DEFAULT_CONTENT_LIMIT
from instrumentation.export import OpenObserveSpanProcessor, SessionSpanProcessor
from instrumentation.hooks import uninstrument_all_pipelines
from instrumentation.otlp_http import OTLPSender
from instrumentation.runtime import RUNTIME
from instrumentation.schema import prime_stream

logger = logging.getLogger(__name__)
_ANTHROPIC_SPANS = "ANTHROPIC_OPEN_TELEMETRY"  # the Anthropic SDK's switch for clients created after it is set


@dataclass
class _Installed:
    provider: TracerProvider
    processor: OpenObserveSpanProcessor
    sessions: SessionSpanProcessor
    config: OpenObserveConfig
    owns_provider: bool
    set_anthropic_off: bool


_installed: _Installed | None = None


def setup_openobserve(
    *,
    url: str | None = None,
    org: str | None = None,
    auth_token: str | None = None,
    stream: str | None = None,
    service_name: str | None = None,
    tracer_provider: TracerProvider | None = None,
    capture_content: bool = True,
    content_limit: int = DEFAULT_CONTENT_LIMIT,
    export_timeout: float | None = None,
    load_env_file: bool = True,
) -> TracerProvider:
    """Send OpenTelemetry traces to OpenObserve over OTLP/HTTP (protobuf).

    Settings not given as arguments come from ``OPENOBSERVE_URL``, ``OPENOBSERVE_ORG`` (default
    ``default``), ``OPENOBSERVE_AUTH_TOKEN`` (``Basic <b64>`` or the bare base64 of
    ``email:password``) and ``OPENOBSERVE_STREAM`` (default ``default``), read from the environment or
    a ``.env`` file (the environment wins). The service name comes from ``service_name`` or the
    standard ``OTEL_SERVICE_NAME`` / ``OTEL_RESOURCE_ATTRIBUTES``.

    Spans go to ``{url}/api/{org}/v1/traces`` with ``Authorization`` and ``stream-name`` headers, in
    batches on a background thread; queued spans are flushed at interpreter exit. Without a ``url``
    argument, a set ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` (as it is) or ``OTEL_EXPORTER_OTLP_ENDPOINT``
    (plus ``/v1/traces``) sends them there instead, to an OpenTelemetry Collector that holds O2's
    credentials and stream; no ``OPENOBSERVE_*`` setting is needed then. The exporter is added
    to ``tracer_provider`` if given, else to the SDK provider already installed globally, else to a new
    global one. Nothing else is wrapped: LLM calls are traced by :func:`instrument_pipeline` and
    :func:`llm_service_span`. ``capture_content=False`` keeps message text off our spans;
    ``content_limit`` cuts message text to that many characters. ``export_timeout`` bounds each export
    (connection, retries and every read together), in seconds; by default it comes from
    ``OTEL_EXPORTER_OTLP_TRACES_TIMEOUT`` or ``OTEL_EXPORTER_OTLP_TIMEOUT`` (seconds, as OpenTelemetry's
    Python exporter reads them), else 3 s; one under a second is logged.

    When it makes the provider itself (and ``ANTHROPIC_OPEN_TELEMETRY`` is not set), it sets
    ``ANTHROPIC_OPEN_TELEMETRY=false``: the Anthropic SDK's own span of each call would never reach O2 anyway.

    Calling it again returns the same provider without adding a second exporter.

    Raises:
        ConfigurationError: a setting is missing or malformed (the message names the variable).
    """
    if _installed is not None:
        return _installed.provider
    config = load_config(
        url=url,
        org=org,
        auth_token=auth_token,
        stream=stream,
        service_name=service_name,
        capture_content=capture_content,
        content_limit=content_limit,
        export_timeout=export_timeout,
        load_env_file=load_env_file,
    )
    return _install(config, tracer_provider)


openobserve_init = setup_openobserve


def _install(config: OpenObserveConfig, tracer_provider: TracerProvider | None) -> TracerProvider:
    global _installed
    provider, owns_provider = _provider_for(tracer_provider, config.service_name)
    # The Anthropic SDK makes its own span of every call once a provider is installed; it never reaches O2
    # (it would count the call's tokens twice) and costs the bot ~1,400 Python calls a call. On a provider
    # we made, no other exporter of the application can want it, unless the application says so.
    set_anthropic_off = owns_provider and _ANTHROPIC_SPANS not in os.environ
    if set_anthropic_off:
        os.environ[_ANTHROPIC_SPANS] = "false"
    processor = OpenObserveSpanProcessor(
        OTLPSender(config.traces_endpoint, config.headers, config.export_timeout),
        destination=config.traces_endpoint,
        max_queue_size=config.max_queue_size,
        max_batch_size=config.max_batch_size,
        schedule_delay=config.schedule_delay,
    )
    sessions = SessionSpanProcessor()
    provider.add_span_processor(sessions)
    provider.add_span_processor(processor)
    RUNTIME.tracer_provider = provider
    RUNTIME.capture_content = config.capture_content
    RUNTIME.content_limit = config.content_limit
    prime_stream(processor, config.traces_endpoint, config.stream)
    _installed = _Installed(provider, processor, sessions, config, owns_provider, set_anthropic_off)
    atexit.register(_flush_at_exit)
    if config.endpoint_variable is None:
        logger.info("tracing to OpenObserve at %s (stream %s)", config.traces_endpoint, config.stream)
    else:
        logger.info(
            "tracing to %s (%s; O2's credentials and stream are the Collector's)",
            config.traces_endpoint,
            config.endpoint_variable,
        )
    return provider


def uninstrument() -> None:
    """Undo :func:`setup_openobserve` and every :func:`instrument_pipeline`.

    Pipeline hooks are removed, and our exporter is flushed and
    stopped (a provider we created is shut down; one the application owns is left running).
    """
    global _installed
    uninstrument_all_pipelines()
    installed, _installed = _installed, None
    if installed is None:
        return
    atexit.unregister(_flush_at_exit)
    installed.processor.shutdown()
    installed.sessions.shutdown()
    _detach(installed.provider, installed.sessions, installed.processor)
    RUNTIME.tracer_provider = None
    if installed.owns_provider:
        installed.provider.shutdown()
    if installed.set_anthropic_off and os.environ.get(_ANTHROPIC_SPANS) == "false":
        del os.environ[_ANTHROPIC_SPANS]


def _provider_for(given: TracerProvider | None, service_name: str | None) -> tuple[TracerProvider, bool]:
    current = trace.get_tracer_provider()
    if given is not None:
        if not isinstance(current, TracerProvider):
            trace.set_tracer_provider(given)
        return given, False
    if isinstance(current, TracerProvider):
        return current, False
    resource = Resource.create({SERVICE_NAME: service_name} if service_name else {})
    provider = TracerProvider(resource=resource, shutdown_on_exit=False)
    trace.set_tracer_provider(provider)
    return provider, True


def _detach(provider: TracerProvider, *processors: SpanProcessor) -> None:
    """Take our processors off the provider, so that setting up again does not add to every span's cost.

    The SDK has no public way to remove a processor; where its multi-processor is not the tuple this
    expects, ours stay, shut, doing nothing.
    """
    multi = getattr(provider, "_active_span_processor", None)
    lock = getattr(multi, "_lock", None)
    if multi is None or lock is None or not isinstance(getattr(multi, "_span_processors", None), tuple):
        return
    with lock:
        multi._span_processors = tuple(p for p in multi._span_processors if p not in processors)


def _flush_at_exit() -> None:
    if _installed is not None:
        _installed.processor.shutdown()
