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
# The OpenTelemetry specification's names, in milliseconds; the per-signal one wins.
TIMEOUT_VARIABLES = ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT")
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
    """Where and how spans are sent. ``authorization`` is the full ``Basic …`` header value."""

    url: str
    org: str
    stream: str
    authorization: str = field(repr=False)
    service_name: str | None = None
    capture_content: bool = True
    content_limit: int = DEFAULT_CONTENT_LIMIT
    export_timeout: float = DEFAULT_EXPORT_TIMEOUT_S  # seconds for one export, connection and every read included
    schedule_delay: float = BATCH_VARIABLES["OTEL_BSP_SCHEDULE_DELAY"] / 1000  # seconds between exports at most
    max_queue_size: int = BATCH_VARIABLES["OTEL_BSP_MAX_QUEUE_SIZE"]
    max_batch_size: int = BATCH_VARIABLES["OTEL_BSP_MAX_EXPORT_BATCH_SIZE"]

    @property
    def traces_endpoint(self) -> str:
        """The OTLP/HTTP traces endpoint, ``{url}/api/{org}/v1/traces``."""
        return f"{self.url}/api/{self.org}/v1/traces"

    @property
    def headers(self) -> dict[str, str]:
        """Headers sent with every export request."""
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
    """Build the configuration from the arguments, falling back to ``OPENOBSERVE_*`` variables.

    ``export_timeout`` (seconds) falls back to ``OTEL_EXPORTER_OTLP_TRACES_TIMEOUT`` or
    ``OTEL_EXPORTER_OTLP_TIMEOUT`` (milliseconds, as the OpenTelemetry specification defines them),
    then to :data:`DEFAULT_EXPORT_TIMEOUT_S`.
    """
    if load_env_file:
        _load_env_file()
    raw_url = _pick(url, "OPENOBSERVE_URL")
    if not raw_url:
        raise ConfigurationError("OPENOBSERVE_URL is not set")
    resolved_org = _pick(org, "OPENOBSERVE_ORG") or DEFAULT_ORG
    if re.search(r"[/?#%\s]", resolved_org) or not _HEADER_SAFE.fullmatch(resolved_org):
        raise ConfigurationError("OPENOBSERVE_ORG must be a plain organisation name such as 'default'")
    resolved_stream = _pick(stream, "OPENOBSERVE_STREAM") or DEFAULT_STREAM
    if not _HEADER_SAFE.fullmatch(resolved_stream) or resolved_stream.strip() != resolved_stream:
        raise ConfigurationError("OPENOBSERVE_STREAM must be printable ASCII without surrounding spaces")
    if content_limit < 1:
        raise ConfigurationError("content_limit must be a positive number of characters")
    return OpenObserveConfig(
        url=base_url(raw_url),
        org=resolved_org,
        stream=resolved_stream,
        authorization=basic_authorization(_pick(auth_token, "OPENOBSERVE_AUTH_TOKEN")),
        service_name=service_name,
        capture_content=capture_content,
        content_limit=content_limit,
        export_timeout=_export_timeout(export_timeout),
        schedule_delay=_batch_setting("OTEL_BSP_SCHEDULE_DELAY") / 1000,
        max_queue_size=_batch_setting("OTEL_BSP_MAX_QUEUE_SIZE"),
        max_batch_size=_batch_setting("OTEL_BSP_MAX_EXPORT_BATCH_SIZE"),
    )


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
    url = raw.strip().rstrip("/")
    shown = repr(_USERINFO.sub("***@", url)[:200])
    if any(ch.isspace() or not ch.isprintable() for ch in url):
        raise ConfigurationError("OPENOBSERVE_URL must not contain spaces or control characters")
    if not url.startswith(("http://", "https://")):
        raise ConfigurationError(f"OPENOBSERVE_URL must start with http:// or https:// and name a host, got {shown}")
    if _USERINFO.search(url):
        raise ConfigurationError(
            "OPENOBSERVE_URL must not contain '@': a user name or password belongs in OPENOBSERVE_AUTH_TOKEN"
        )
    parts = _split(url)
    if parts is None:
        raise ConfigurationError(f"OPENOBSERVE_URL is not a valid URL (check the host and port), got {shown}")
    if not parts.hostname:
        raise ConfigurationError(f"OPENOBSERVE_URL must start with http:// or https:// and name a host, got {shown}")
    if "?" in url or "#" in url:
        raise ConfigurationError(f"OPENOBSERVE_URL must be O2's base URL, without a query or fragment, got {shown}")
    if "api" in parts.path.split("/"):
        raise ConfigurationError(
            f"OPENOBSERVE_URL must be O2's base URL, not an API path (/api/{{org}}/v1/traces is added), got {shown}"
        )
    return url


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
            millis = float(raw)
        except ValueError:
            millis = math.nan
        if not math.isfinite(millis) or millis <= 0:
            raise ConfigurationError(f"{variable} must be a positive number of milliseconds, got {raw[:40]!r}")
        return millis / 1000
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
