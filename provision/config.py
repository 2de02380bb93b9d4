"""Connection settings: command-line flags win over the environment, which wins over `.env`."""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from provision.errors import InputError

DEFAULT_URL = "http://localhost:5080"
DEFAULT_ORG = "default"


class Secret:
    """A string that never shows itself in repr, str or f-strings."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class Settings:
    """Where O2 is and how to talk to it."""

    url: str
    org: str
    authorization: Secret | None = field(repr=False)
    timeout: float = 10.0
    verify: bool | str = True
    concurrency: int = 8
    verbose: bool = False

    @property
    def has_credentials(self) -> bool:
        return self.authorization is not None


def parse_token(raw: str, variable: str = "OPENOBSERVE_AUTH_TOKEN") -> Secret:
    """Turn `Basic <b64>` or the bare base64 of `email:password` into an Authorization value."""
    token = raw.strip()
    if token.lower().startswith("basic "):
        token = token[6:].strip()
    if not token:
        raise InputError(f"{variable} is empty", hint="set it to the base64 of 'email:password'")
    try:
        decoded = base64.b64decode(token, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InputError(
            f"{variable} is malformed: expected 'Basic <base64>' or the bare base64 of 'email:password'",
        ) from None
    if ":" not in decoded or decoded.startswith(":"):
        raise InputError(f"{variable} is malformed: its base64 must decode to 'email:password'")
    return Secret(f"Basic {token}")


def parse_url(raw: str, variable: str = "OPENOBSERVE_URL") -> str:
    """Check an O2 base URL and drop its trailing slash."""
    url = raw.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InputError(f"{variable} must be an http:// or https:// URL, got {raw.strip()!r}")
    return url


def read_dotenv(path: Path) -> dict[str, str]:
    """The variables a `.env` file sets (empty when there is no such file)."""
    if not path.is_file():
        return {}
    from dotenv import dotenv_values

    return {k: v for k, v in dotenv_values(path).items() if v is not None}


def load_settings(
    *,
    url: str | None = None,
    org: str | None = None,
    token: str | None = None,
    env_file: Path = Path(".env"),
    environ: Mapping[str, str] | None = None,
    timeout: float = 10.0,
    ca_cert: Path | None = None,
    insecure: bool = False,
    concurrency: int = 8,
    verbose: bool = False,
    require_token: bool = True,
) -> Settings:
    """Resolve settings from flags, then the environment, then `.env`."""
    env = dict(read_dotenv(env_file))
    env.update(os.environ if environ is None else environ)

    def pick(flag: str | None, name: str) -> str | None:
        if flag is not None:
            return flag
        value = env.get(name)
        return value if value not in (None, "") else None

    resolved_url = parse_url(pick(url, "OPENOBSERVE_URL") or DEFAULT_URL)
    resolved_org = (pick(org, "OPENOBSERVE_ORG") or DEFAULT_ORG).strip()
    if not resolved_org or "/" in resolved_org:
        raise InputError(f"OPENOBSERVE_ORG is not a valid organization id: {resolved_org!r}")
    raw_token = pick(token, "OPENOBSERVE_AUTH_TOKEN")
    if raw_token is None and require_token:
        raise InputError(
            "OPENOBSERVE_AUTH_TOKEN is not set",
            hint="export it, or put it in .env (see `o2-provision init`)",
        )
    if timeout <= 0:
        raise InputError(f"--timeout must be positive, got {timeout}")
    if concurrency < 1:
        raise InputError(f"--concurrency must be at least 1, got {concurrency}")
    verify: bool | str = True
    if insecure:
        verify = False
    elif ca_cert is not None:
        if not ca_cert.is_file():
            raise InputError(f"--ca-cert {ca_cert} is not a file")
        verify = str(ca_cert)
    return Settings(
        url=resolved_url,
        org=resolved_org,
        authorization=parse_token(raw_token) if raw_token is not None else None,
        timeout=timeout,
        verify=verify,
        concurrency=concurrency,
        verbose=verbose,
    )
