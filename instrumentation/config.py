"""Reading and checking the OpenObserve connection settings.

Settings come from keyword arguments first, then the environment (a ``.env`` file is loaded but never
overrides a variable that is already set). Every problem raises one :class:`ConfigurationError` whose
one-line message names the variable; the auth token never appears in a message or a ``repr``.
"""

from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass, field

from dotenv import find_dotenv, load_dotenv

from instrumentation.contract import DEFAULT_CONTENT_LIMIT

DEFAULT_ORG = "default"
DEFAULT_STREAM = "default"
DEFAULT_EXPORT_TIMEOUT_S = 3.0


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
    export_timeout: float = DEFAULT_EXPORT_TIMEOUT_S

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
    export_timeout: float = DEFAULT_EXPORT_TIMEOUT_S,
    load_env_file: bool = True,
) -> OpenObserveConfig:
    """Build the configuration from the arguments, falling back to ``OPENOBSERVE_*`` variables."""
    if load_env_file:
        load_dotenv(find_dotenv(usecwd=True), override=False)
    raw_url = _pick(url, "OPENOBSERVE_URL")
    if not raw_url:
        raise ConfigurationError("OPENOBSERVE_URL is not set")
    if not raw_url.startswith(("http://", "https://")) or raw_url.split("://", 1)[1].strip("/") == "":
        raise ConfigurationError("OPENOBSERVE_URL must start with http:// or https:// and name a host")
    resolved_org = _pick(org, "OPENOBSERVE_ORG") or DEFAULT_ORG
    if "/" in resolved_org or resolved_org.strip() != resolved_org:
        raise ConfigurationError("OPENOBSERVE_ORG must be a plain organisation name such as 'default'")
    resolved_stream = _pick(stream, "OPENOBSERVE_STREAM") or DEFAULT_STREAM
    if content_limit < 1:
        raise ConfigurationError("content_limit must be a positive number of characters")
    if export_timeout <= 0:
        raise ConfigurationError("export_timeout must be a positive number of seconds")
    return OpenObserveConfig(
        url=raw_url.rstrip("/"),
        org=resolved_org,
        stream=resolved_stream,
        authorization=basic_authorization(_pick(auth_token, "OPENOBSERVE_AUTH_TOKEN")),
        service_name=service_name,
        capture_content=capture_content,
        content_limit=content_limit,
        export_timeout=export_timeout,
    )


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
    except (binascii.Error, UnicodeDecodeError):
        decoded = ""
    if ":" not in decoded:
        raise ConfigurationError("OPENOBSERVE_AUTH_TOKEN must be 'Basic <base64>' or the base64 of email:password")
    return f"Basic {value}"


def _pick(explicit: str | None, variable: str) -> str | None:
    return explicit if explicit is not None else os.environ.get(variable)
