"""The bot against hostile settings and misbehaving OTLP endpoints: one clear error, or spans lost quietly.

``HostileEndpoint`` is its own small HTTP server on 127.0.0.1 whose answer each test chooses: a redirect,
a response trickled a byte at a time (status line or body), or a plain 200 (also the redirect's target).
"""

from __future__ import annotations

import base64
import datetime
import logging
import ssl
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider

from instrumentation import ConfigurationError, setup_openobserve, uninstrument
from instrumentation.config import DEFAULT_EXPORT_TIMEOUT_S, load_config
from instrumentation.export import OpenObserveSpanProcessor
from instrumentation.otlp import encode_spans
from instrumentation.otlp_http import OTLPSender
from tests.instrumentation.conftest import TOKEN, Tracing

AUTHORIZATION = f"Basic {TOKEN}"
TRICKLE_INTERVAL = 0.2  # seconds between bytes: well inside any read timeout used here
TRICKLE_GIVES_UP = 4.0  # the server closes after this long, so a test of a broken deadline still ends


class HostileEndpoint:
    """An OTLP endpoint that answers ``redirect`` (to ``location``), ``trickle-status``, ``trickle-body`` or ``ok``."""

    def __init__(
        self, answer: str, *, status: int = 307, location: str = "", tls: ssl.SSLContext | None = None
    ) -> None:
        self.answer = answer
        self.requests: list[dict[str, str]] = []  # the headers of each request, lower-cased names
        self._stop = threading.Event()
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                endpoint.requests.append({k.lower(): v for k, v in self.headers.items()})
                if endpoint.answer == "redirect":
                    self.wfile.write(
                        f"HTTP/1.1 {status} Moved\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n".encode()
                    )
                elif endpoint.answer == "ok":
                    self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                else:
                    body = b"x" * 40
                    head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n\r\n".encode()
                    if endpoint.answer == "trickle-body":
                        self.wfile.write(head)
                        endpoint._trickle(self, body)
                    else:
                        endpoint._trickle(self, head + body)
                    self.close_connection = True

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        self._scheme = "http" if tls is None else "https"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    def _trickle(self, handler: BaseHTTPRequestHandler, data: bytes) -> None:
        gives_up = time.monotonic() + TRICKLE_GIVES_UP
        try:
            for byte in data:
                if self._stop.is_set() or time.monotonic() > gives_up:
                    return
                handler.wfile.write(bytes([byte]))
                time.sleep(TRICKLE_INTERVAL)
        except OSError:
            pass  # the client hung up: what a deadline is for

    @property
    def url(self) -> str:
        return f"{self._scheme}://127.0.0.1:{self._server.server_port}"

    def __enter__(self) -> HostileEndpoint:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()


def export_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno >= logging.WARNING and r.name.startswith(("instrumentation", "opentelemetry"))
    ]


@pytest.fixture
def provider() -> Iterator[TracerProvider]:
    """A private provider (not the session's global one), shut down after the test."""
    private = TracerProvider()
    yield private
    private.shutdown()


def exporting_to(provider: TracerProvider, url: str, timeout: float) -> None:
    endpoint = f"{url}/api/default/v1/traces"
    sender = OTLPSender(endpoint, {"Authorization": AUTHORIZATION, "stream-name": "s"}, timeout)
    provider.add_span_processor(OpenObserveSpanProcessor(sender, destination=endpoint))


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirect_loses_the_spans_with_one_warning_and_never_forwards_the_token(
    provider: TracerProvider, caplog: pytest.LogCaptureFixture, status: int
) -> None:
    with HostileEndpoint("ok") as elsewhere:
        location = f"{elsewhere.url}/api/default/v1/traces"
        with HostileEndpoint("redirect", status=status, location=location) as endpoint:
            exporting_to(provider, endpoint.url, timeout=1.0)
            tracer = provider.get_tracer("test")
            for _ in range(3):
                tracer.start_span("work").end()
                provider.force_flush()
            warnings = export_warnings(caplog)
            assert len(warnings) == 1, warnings
            assert f"(HTTP {status} Moved: redirects are not followed)" in warnings[0]
            assert TOKEN not in warnings[0]
            assert len(endpoint.requests) == 3
            assert elsewhere.requests == []  # nothing, and so no Authorization header, went to the Location

            endpoint.answer = "ok"
            with caplog.at_level(logging.INFO, logger="instrumentation.export"):
                tracer.start_span("after").end()
                provider.force_flush()
            assert any("recovered" in r.getMessage() for r in caplog.records)


def test_a_redirect_export_reports_failure_without_raising() -> None:
    with HostileEndpoint("redirect", location="http://127.0.0.1:9/") as endpoint:
        sender = OTLPSender(f"{endpoint.url}/api/default/v1/traces", {}, 1.0)
        try:
            span = TracerProvider().get_tracer("test").start_span("work")
            span.end()
            assert isinstance(span, ReadableSpan)
            delivery = sender.send(encode_spans([span]))
            assert not delivery.ok and delivery.reason == "HTTP 307 Moved: redirects are not followed"
        finally:
            sender.close()


@pytest.mark.parametrize("answer", ["trickle-status", "trickle-body"])
def test_a_trickling_endpoint_cannot_hold_force_flush_past_the_export_timeout(
    provider: TracerProvider, caplog: pytest.LogCaptureFixture, answer: str
) -> None:
    with HostileEndpoint(answer) as endpoint:
        exporting_to(provider, endpoint.url, timeout=0.5)
        provider.get_tracer("test").start_span("work").end()
        started = time.monotonic()
        provider.force_flush()
        seconds = time.monotonic() - started
    assert seconds < 1.5, f"force_flush took {seconds:.1f} s against a 0.5 s export timeout"
    warnings = export_warnings(caplog)
    assert len(warnings) == 1 and "(no complete answer within 0.5 s)" in warnings[0], warnings


def self_signed_tls(directory: Path) -> tuple[ssl.SSLContext, Path]:
    """A server context for 127.0.0.1 and the certificate file a client must trust."""
    pytest.importorskip("cryptography")
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    return context, cert_file


def test_a_trickling_https_endpoint_is_cut_at_the_deadline_too(
    provider: TracerProvider, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    context, cert_file = self_signed_tls(tmp_path)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", str(cert_file))
    for bundle in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):  # requests lets these win over the exporter's CA
        monkeypatch.delenv(bundle, raising=False)
    with HostileEndpoint("trickle-status", tls=context) as endpoint:
        exporting_to(provider, endpoint.url, timeout=0.5)
        provider.get_tracer("test").start_span("work").end()
        started = time.monotonic()
        provider.force_flush()
        seconds = time.monotonic() - started
    assert endpoint.requests, "the TLS handshake failed: the request never arrived"
    assert seconds < 1.5, f"force_flush took {seconds:.1f} s against a 0.5 s export timeout"
    warnings = export_warnings(caplog)
    assert len(warnings) == 1 and "(no complete answer within 0.5 s)" in warnings[0], warnings


def test_a_trickling_endpoint_cannot_hold_uninstrument(
    tracing: Tracing, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "0.5")  # seconds, as OpenTelemetry's Python exporter
    with HostileEndpoint("trickle-status") as endpoint:
        uninstrument()
        try:
            setup_openobserve(tracer_provider=tracing.provider, url=endpoint.url, auth_token=TOKEN, load_env_file=False)
            caplog.clear()  # the set-up's line on the short timeout
            tracer = tracing.provider.get_tracer("test")
            for _ in range(5):
                tracer.start_span("work").end()
            started = time.monotonic()
            uninstrument()  # flushes what is queued: one export, cut at its deadline
            seconds = time.monotonic() - started
            warnings = export_warnings(caplog)
        finally:
            monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT")  # the shared export gets its usual timeout back
            tracing.install()
    assert seconds < 1.5, f"uninstrument took {seconds:.1f} s against a 0.5 s export timeout"
    assert len(endpoint.requests) >= 1
    assert len(warnings) == 1 and "(no complete answer within 0.5 s)" in warnings[0], warnings


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """No OPENOBSERVE_* or OTLP timeout variables, and a working directory without a ``.env``."""
    for name in ("OPENOBSERVE_URL", "OPENOBSERVE_AUTH_TOKEN", "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TIMEOUT", raising=False)
    monkeypatch.chdir(tmp_path)
    return monkeypatch


@pytest.mark.parametrize(
    ("variables", "argument", "seconds"),
    [
        ({}, None, DEFAULT_EXPORT_TIMEOUT_S),
        ({"OTEL_EXPORTER_OTLP_TIMEOUT": "10"}, None, 10.0),
        ({"OTEL_EXPORTER_OTLP_TIMEOUT": "10", "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": " 2.5 "}, None, 2.5),
        ({"OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": "1.5"}, 2.0, 2.0),
    ],
)
def test_export_timeout_comes_from_the_argument_then_the_otel_variables_in_seconds(
    env: pytest.MonkeyPatch, variables: dict[str, str], argument: float | None, seconds: float
) -> None:
    for name, value in variables.items():
        env.setenv(name, value)
    config = load_config(url="http://o2:5080", auth_token=TOKEN, export_timeout=argument, load_env_file=False)
    assert config.export_timeout == seconds


def test_the_python_exporters_timeout_means_the_same_to_ours(env: pytest.MonkeyPatch) -> None:
    """A bot that sets the timeout for OpenTelemetry's own exporter gives ours the same number of seconds."""
    env.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "7")
    theirs = OTLPSpanExporter()._client._timeout
    assert load_config(url="http://o2:5080", auth_token=TOKEN, load_env_file=False).export_timeout == theirs == 7


@pytest.mark.parametrize(
    ("variable", "value"), [("OTEL_EXPORTER_OTLP_TIMEOUT", "0.05"), ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "0.5")]
)
def test_a_timeout_under_a_second_is_said_in_one_line(
    env: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, variable: str, value: str
) -> None:
    env.setenv(variable, value)
    caplog.set_level(logging.INFO, logger="instrumentation")
    load_config(url="http://o2:5080", auth_token=TOKEN, load_env_file=False)
    lines = [r.getMessage() for r in caplog.records if "may take" in r.getMessage()]
    said = f"each export to OpenObserve may take {value} s at most ({variable}, in seconds)"
    assert lines == [f"{said}: a slower answer fails the export"]


@pytest.mark.parametrize(("variable", "argument"), [("1", None), ("0.01", 0.2)])
def test_a_timeout_of_a_second_or_more_or_given_in_code_says_nothing(
    env: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, variable: str, argument: float | None
) -> None:
    env.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", variable)
    caplog.set_level(logging.INFO, logger="instrumentation")
    load_config(url="http://o2:5080", auth_token=TOKEN, export_timeout=argument, load_env_file=False)
    assert not [r for r in caplog.records if "may take" in r.getMessage()]


@pytest.mark.parametrize("value", ["abc", "0", "-5", "nan", "inf"])
def test_a_bad_otel_timeout_names_the_variable(env: pytest.MonkeyPatch, value: str) -> None:
    env.setenv("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", value)
    with pytest.raises(
        ConfigurationError, match=r"^OTEL_EXPORTER_OTLP_TRACES_TIMEOUT must be a positive number of seconds"
    ):
        load_config(url="http://o2:5080", auth_token=TOKEN, load_env_file=False)


@pytest.mark.parametrize("seconds", [0.0, -1.0, float("nan"), float("inf")])
def test_a_bad_export_timeout_argument_is_refused(env: pytest.MonkeyPatch, seconds: float) -> None:
    with pytest.raises(ConfigurationError, match=r"^export_timeout must be a positive number of seconds$"):
        load_config(url="http://o2:5080", auth_token=TOKEN, export_timeout=seconds, load_env_file=False)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://[::1", "OPENOBSERVE_URL is not a valid URL (check the host and port), got 'http://[::1'"),
        ("http://o2:port", "OPENOBSERVE_URL is not a valid URL"),
        ("http://o2:99999", "OPENOBSERVE_URL is not a valid URL"),
        ("http://:5080", "OPENOBSERVE_URL must start with http:// or https:// and name a host"),
        ("https:///o2", "OPENOBSERVE_URL must start with http:// or https:// and name a host"),
        ("ftp://o2", "OPENOBSERVE_URL must start with http:// or https://"),
        ("http://o2:5080/?org=acme", "OPENOBSERVE_URL must be O2's base URL, without a query or fragment"),
        ("http://o2:5080/#traces", "OPENOBSERVE_URL must be O2's base URL, without a query or fragment"),
        ("http://o2:5080/api/default/v1/traces", "OPENOBSERVE_URL must be O2's base URL, not an API path"),
        ("http://o2 :5080", "OPENOBSERVE_URL must not contain spaces or control characters"),
        ("http://o2\x1b[2J:5080", "OPENOBSERVE_URL must not contain spaces or control characters"),
    ],
)
def test_a_malformed_url_raises_one_line_naming_the_variable(env: pytest.MonkeyPatch, url: str, message: str) -> None:
    env.setenv("OPENOBSERVE_URL", url)
    with pytest.raises(ConfigurationError) as error:
        load_config(auth_token=TOKEN, load_env_file=False)
    assert str(error.value).startswith(message)
    assert "\n" not in str(error.value) and "\x1b" not in str(error.value)
    assert error.value.__context__ is None


def test_a_base_path_is_kept_for_an_o2_served_under_a_prefix(env: pytest.MonkeyPatch) -> None:
    config = load_config(url="https://example.com/o2/", auth_token=TOKEN, load_env_file=False)
    assert config.traces_endpoint == "https://example.com/o2/api/default/v1/traces"


@pytest.mark.parametrize(
    "url",
    [
        "https://me:s3cret-pw@o2.example.com",
        "https://me:s3cret-pw@[::1",  # malformed as well: the credentials check comes first
        "http://me:s3cret/pw@o2:5080",  # '/' in the password puts part of it in the path
        "http://s3cret-pw@o2:abc",
    ],
)
def test_credentials_in_the_url_are_refused_and_never_shown(
    tracing: Tracing, env: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, url: str
) -> None:
    caplog.set_level(logging.DEBUG)
    uninstrument()  # setup_openobserve checks nothing once installed
    try:
        with pytest.raises(ConfigurationError) as error:
            setup_openobserve(tracer_provider=tracing.provider, url=url, auth_token=TOKEN, load_env_file=False)
    finally:
        tracing.install()
    text = str(error.value)
    assert text.startswith("OPENOBSERVE_URL must not contain '@'") and "OPENOBSERVE_AUTH_TOKEN" in text
    assert "s3cret" not in text and "me:" not in text
    assert not [r for r in caplog.records if "s3cret" in r.getMessage()]


@pytest.mark.parametrize(
    "token",
    [
        "tökén-secret",
        "Basic ß" + TOKEN,
        base64.b64encode("é@example.com:pässwörd".encode()).decode() + "✓",
        "Basic \u200b" + TOKEN,  # a zero-width space pasted with the token
    ],
)
def test_a_non_ascii_token_raises_configuration_error_without_the_token(env: pytest.MonkeyPatch, token: str) -> None:
    with pytest.raises(ConfigurationError) as error:
        load_config(url="http://o2:5080", auth_token=token, load_env_file=False)
    text = str(error.value)
    assert text == "OPENOBSERVE_AUTH_TOKEN must be 'Basic <base64>' or the base64 of email:password"
    assert error.value.__context__ is None


def test_a_utf8_email_and_password_inside_the_base64_is_accepted(env: pytest.MonkeyPatch) -> None:
    token = base64.b64encode("é@example.com:pässwörd".encode()).decode()
    assert load_config(url="http://o2:5080", auth_token=token, load_env_file=False).authorization == f"Basic {token}"


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("stream", "voice\r\nX-Injected: 1", "OPENOBSERVE_STREAM must be printable ASCII"),
        ("stream", "vöice", "OPENOBSERVE_STREAM must be printable ASCII"),
        ("org", "acme?x=1", "OPENOBSERVE_ORG must be a plain organisation name"),
        ("org", "äcme", "OPENOBSERVE_ORG must be a plain organisation name"),
    ],
)
def test_an_org_or_stream_that_cannot_travel_in_a_url_or_header_is_refused(
    env: pytest.MonkeyPatch, setting: str, value: str, message: str
) -> None:
    settings: dict[str, Any] = {setting: value}
    with pytest.raises(ConfigurationError, match=f"^{message}"):
        load_config(url="http://o2:5080", auth_token=TOKEN, load_env_file=False, **settings)
