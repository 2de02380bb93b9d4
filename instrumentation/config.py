"""Reading and checking the OpenObserve connection settings.

Settings come from keyword arguments first, then the environment (a ``.env`` file is loaded but never
overrides a variable that is already set). Every problem raises one :class:`ConfigurationError` whose
one-line message names the variable; the auth token, and anything that may be a password in the URL,
never appears in a message or a ``repr``.
"""

from __future__ import annotations

import base64
import binascii
import logging
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import SplitResult, urlsplit

from dotenv import find_dotenv

from instrumentation.contract import DEFAULT_CONTENT_LIMIT
from instrumentation.envfile import EnvFileError, read_env_file

logger = logging.getLogger(__name__)

DEFAULT_ORG = "default"
DEFAULT_STREAM = "default"
DEFAULT_EXPORT_TIMEOUT_S = 3.0
# The per-signal variable wins. In seconds: OpenTelemetry's Python exporter in the same process reads them so
# (the specification says milliseconds), and one variable must mean one thing to every exporter.
TIMEOUT_VARIABLES = ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT")
TRACES_ENDPOINT = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"  # used as it is
BASE_ENDPOINT = "OTEL_EXPORTER_OTLP_ENDPOINT"  # /v1/traces is appended
# The batch span processor's variables (the OpenTelemetry specification's names and units) and our defaults:
# a 1 s delay gets a failed turn to O2, and to its real-time alert, within seconds.
BATCH_VARIABLES = {
    "OTEL_BSP_SCHEDULE_DELAY": 1000,  # milliseconds
    "OTEL_BSP_MAX_QUEUE_SIZE": 2048,
    "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": 512,
}
_USERINFO = re.compile(r"(?<=://).*@")  # greedy: a password may itself hold '@' or '/'
_HEADER_SAFE = re.compile(r"[ -~]+")  # printable ASCII: the stream travels in an HTTP header


class ConfigurationError(ValueError):
    """A missing or malformed OpenObserve setting; the message names the variable."""


@dataclass(frozen=True)
class OpenObserveConfig:
    """Where and how spans are sent.

    ``traces_endpoint`` is O2's (``{url}/api/{org}/v1/traces``), or an OTLP endpoint such as an
    OpenTelemetry Collector's, named by ``endpoint_variable``: then no O2 credentials or stream are sent,
    and ``authorization`` and ``stream`` are None. ``authorization`` is the full ``Basic …`` header value.
    """

    traces_endpoint: str
    stream: str | None
    authorization: str | None = field(repr=False)
    endpoint_variable: str | None = None
    service_name: str | None = None
    capture_content: bool = True
    content_limit: int = DEFAULT_CONTENT_LIMIT
    export_timeout: float = DEFAULT_EXPORT_TIMEOUT_S  # seconds for one export, connection and every read included
    schedule_delay: float = BATCH_VARIABLES["OTEL_BSP_SCHEDULE_DELAY"] / 1000  # seconds between exports at most
    max_queue_size: int = BATCH_VARIABLES["OTEL_BSP_MAX_QUEUE_SIZE"]
    max_batch_size: int = BATCH_VARIABLES["OTEL_BSP_MAX_EXPORT_BATCH_SIZE"]

    @property
    def headers(self) -> dict[str, str]:
        """Headers of ours sent with every export request (over those of ``OTEL_EXPORTER_OTLP_[TRACES_]HEADERS``)."""
        if self.authorization is None or self.stream is None:
            return {}
        return {"Authorization": self.authorization, "stream-name": self.stream}


def load_config(
    *,
    url: str | None = None,
    org: str | None = None,
    auth_token: str | None = None,
    stream: str | None = None,
    service_name: str | None = None,
    capture_content: bool = True,
    content_limit: int = DEFAULT_CONTENT_LIMIT,
    export_timeout: float | None = None,
    load_env_file: bool = True,
) -> OpenObserveConfig:
    """Build the configuration from the arguments, falling back to the environment.

    Spans go to O2 at ``url`` when it is given; else to ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``, or
    ``OTEL_EXPORTER_OTLP_ENDPOINT`` with ``/v1/traces`` appended, when one is set (an OpenTelemetry
    Collector, which holds the O2 credentials and stream); else to O2 at ``OPENOBSERVE_URL``, with the
    other ``OPENOBSERVE_*`` variables. ``export_timeout`` (seconds) falls back to
    ``OTEL_EXPORTER_OTLP_TRACES_TIMEOUT`` or ``OTEL_EXPORTER_OTLP_TIMEOUT`` (seconds, as OpenTelemetry's
    Python exporter reads them), then to :data:`DEFAULT_EXPORT_TIMEOUT_S`.
    """
    if load_env_file:
        _load_env_file()
    if content_limit < 1:
        raise ConfigurationError("content_limit must be a positive number of characters")
    found = _otlp_endpoint() if url is None else None
    if found is not None:
        endpoint, variable = found
        resolved_stream, authorization = None, None
    else:
        endpoint, variable = _openobserve_endpoint(url, org), None
        resolved_stream = _pick(stream, "OPENOBSERVE_STREAM") or DEFAULT_STREAM
        if not _HEADER_SAFE.fullmatch(resolved_stream) or resolved_stream.strip() != resolved_stream:
            raise ConfigurationError("OPENOBSERVE_STREAM must be printable ASCII without surrounding spaces")
        authorization = basic_authorization(_pick(auth_token, "OPENOBSERVE_AUTH_TOKEN"))
    return OpenObserveConfig(
        traces_endpoint=endpoint,
        stream=resolved_stream,
        authorization=authorization,
        endpoint_variable=variable,
        service_name=service_name,
        capture_content=capture_content,
        content_limit=content_limit,
        export_timeout=_export_timeout(export_timeout),
        schedule_delay=_batch_setting("OTEL_BSP_SCHEDULE_DELAY") / 1000,
        max_queue_size=_batch_setting("OTEL_BSP_MAX_QUEUE_SIZE"),
        max_batch_size=_batch_setting("OTEL_BSP_MAX_EXPORT_BATCH_SIZE"),
    )


def _openobserve_endpoint(url: str | None, org: str | None) -> str:
    raw_url = _pick(url, "OPENOBSERVE_URL")
    if not raw_url:
        raise ConfigurationError(f"OPENOBSERVE_URL is not set (nor {TRACES_ENDPOINT} for a Collector)")
    resolved_org = _pick(org, "OPENOBSERVE_ORG") or DEFAULT_ORG
    if re.search(r"[/?#%\s]", resolved_org) or not _HEADER_SAFE.fullmatch(resolved_org):
        raise ConfigurationError("OPENOBSERVE_ORG must be a plain organisation name such as 'default'")
    return f"{base_url(raw_url)}/api/{resolved_org}/v1/traces"


def _otlp_endpoint() -> tuple[str, str] | None:
    """The traces endpoint the standard OpenTelemetry variables name, and the variable, if one is set."""
    for variable in (TRACES_ENDPOINT, BASE_ENDPOINT):
        raw = os.environ.get(variable, "").strip()
        if raw:
            url = _checked_url(raw, variable)
            return (raw if variable == TRACES_ENDPOINT else f"{url}/v1/traces"), variable
    return None


def _load_env_file() -> None:
    """Set what the nearest `.env` sets and the environment does not, read as the CLI reads it.

    A line that is not KEY=value is skipped with one warning naming the file and the line.
    """
    found = find_dotenv(usecwd=True)
    if not found:
        return
    try:
        env_file = read_env_file(Path(found))
    except EnvFileError as exc:
        raise ConfigurationError(str(exc)) from None
    for warning in env_file.warnings:
        logger.warning("%s", warning)
    for name, value in env_file.values.items():
        os.environ.setdefault(name, value)


def base_url(raw: str) -> str:
    """Check ``OPENOBSERVE_URL`` is O2's base URL (a ``ZO_BASE_URI`` path allowed) and drop the trailing slash.

    Credentials in the URL are refused rather than used or stripped: they belong in
    ``OPENOBSERVE_AUTH_TOKEN``, and the error never repeats them.
    """
    url = _checked_url(raw, "OPENOBSERVE_URL", "O2's base URL")
    if "api" in urlsplit(url).path.split("/"):
        raise ConfigurationError(
            "OPENOBSERVE_URL must be O2's base URL, not an API path (/api/{org}/v1/traces is added), "
            f"got {_shown(url)}"
        )
    return url


def _checked_url(raw: str, variable: str, what: str = "an OTLP/HTTP URL") -> str:
    """``raw`` stripped of spaces and of a trailing slash, if it is an http(s) URL with a host and no secrets."""
    url = raw.strip().rstrip("/")
    shown = _shown(url)
    if any(ch.isspace() or not ch.isprintable() for ch in url):
        raise ConfigurationError(f"{variable} must not contain spaces or control characters")
    if not url.startswith(("http://", "https://")):
        raise ConfigurationError(f"{variable} must start with http:// or https:// and name a host, got {shown}")
    if _USERINFO.search(url):
        raise ConfigurationError(
            f"{variable} must not contain '@': a user name or password belongs in "
            + ("OPENOBSERVE_AUTH_TOKEN" if variable == "OPENOBSERVE_URL" else "OTEL_EXPORTER_OTLP_HEADERS")
        )
    parts = _split(url)
    if parts is None:
        raise ConfigurationError(f"{variable} is not a valid URL (check the host and port), got {shown}")
    if not parts.hostname:
        raise ConfigurationError(f"{variable} must start with http:// or https:// and name a host, got {shown}")
    if "?" in url or "#" in url:
        raise ConfigurationError(f"{variable} must be {what}, without a query or fragment, got {shown}")
    return url


def _shown(url: str) -> str:
    return repr(_USERINFO.sub("***@", url)[:200])


def _split(url: str) -> SplitResult | None:
    """The URL's parts, or None when its host or port cannot be read (an unclosed IPv6 '[', port 'abc')."""
    try:
        parts = urlsplit(url)
        return parts if parts.port != 0 else None
    except ValueError:
        return None


def _export_timeout(explicit: float | None) -> float:
    if explicit is not None:
        if not math.isfinite(explicit) or explicit <= 0:
            raise ConfigurationError("export_timeout must be a positive number of seconds")
        return explicit
    for variable in TIMEOUT_VARIABLES:
        raw = os.environ.get(variable, "").strip()
        if not raw:
            continue
        try:
            seconds = float(raw)
        except ValueError:
            seconds = math.nan
        if not math.isfinite(seconds) or seconds <= 0:
            raise ConfigurationError(f"{variable} must be a positive number of seconds, got {raw[:40]!r}")
        if seconds < 1:  # where a value meant as milliseconds (the specification's unit) lands
            logger.warning(
                "each export to OpenObserve may take %g s at most (%s, in seconds): a slower answer fails the export",
                seconds,
                variable,
            )
        return seconds
    return DEFAULT_EXPORT_TIMEOUT_S


def _batch_setting(variable: str) -> int:
    raw = os.environ.get(variable, "").strip()
    if not raw:
        return BATCH_VARIABLES[variable]
    if not raw.isdigit() or int(raw) < 1:
        raise ConfigurationError(f"{variable} must be a positive whole number, got {raw[:40]!r}")
    return int(raw)


def basic_authorization(token: str | None) -> str:
    """Normalise ``Basic <b64>`` or a bare base64 ``email:password`` to a ``Basic …`` header value."""
    if not token or not token.strip():
        raise ConfigurationError("OPENOBSERVE_AUTH_TOKEN is not set")
    value = token.strip()
    scheme, _, rest = value.partition(" ")
    if rest and scheme.lower() == "basic":
        value = rest.strip()
    try:
        decoded = base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):  # ValueError: a non-ASCII token
        decoded = ""
    if ":" not in decoded:
        raise ConfigurationError("OPENOBSERVE_AUTH_TOKEN must be 'Basic <base64>' or the base64 of email:password")
    return f"Basic {value}"


def _pick(explicit: str | None, variable: str) -> str | None:
    return explicit if explicit is not None else os.environ.get(variable)
