"""Connection settings: command-line flags win over the environment, which wins over `.env`."""

from __future__ import annotations

import base64
import binascii
import json
import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

from instrumentation.envfile import EnvFile, EnvFileError, read_env_file
from provision.errors import InputError
from provision.scrub import UNPRINTABLE, USERINFO, protect, scrub_url
from provision.urls import url_problem

DEFAULT_URL = "http://localhost:5080"
DEFAULT_ORG = "default"
MAX_TIMEOUT = 3600.0
MAX_CONCURRENCY = 64
USERINFO_PARTS = re.compile(r"://([^/\s]*)@")


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

    def secrets(self) -> list[str]:
        """Every form of the credentials that could show up in a server's answer."""
        if self.authorization is None:
            return []
        return secret_forms(self.authorization.reveal())


def secret_forms(authorization: str) -> list[str]:
    """`Basic <b64>`, the base64 (padded, unpadded, URL-quoted), `email:password`, the password."""
    token = authorization.removeprefix("Basic ").strip()
    forms = [authorization, token, token.rstrip("="), quote(token, safe="")]
    try:
        decoded = base64.b64decode(token, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        decoded = ""
    if decoded:
        password = decoded.partition(":")[2]
        forms += [decoded, json.dumps(decoded)[1:-1], password, json.dumps(password)[1:-1]]
    return [f for f in dict.fromkeys(forms) if len(f) >= 3]


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
    """Check an O2 base URL (scheme, host and port; no credentials, path, query or fragment)."""
    url = raw.strip()
    shown = scrub_url(url)[:200]
    if USERINFO.search(url):  # first: a parser's message could quote part of the password
        raise InputError(
            f"{variable} must not hold credentials ({shown!r})",
            hint="put them in OPENOBSERVE_AUTH_TOKEN, the base64 of 'email:password'",
        )
    problem = url_problem(url)
    if problem:
        raise InputError(f"{variable} must be an http:// or https:// URL, got {shown!r} ({problem})")
    parts = urlsplit(url)
    if parts.path not in ("", "/") or parts.query or parts.fragment or url.endswith(("?", "#")):
        raise InputError(
            f"{variable} must be O2's base URL, scheme, host and port only, got {shown!r}",
            hint="drop the path, query and fragment, e.g. https://o2.example.com:5080",
        )
    return urlunsplit((parts.scheme.lower(), parts.netloc, "", "", ""))


def read_dotenv(path: Path) -> EnvFile:
    """What a `.env` file sets (nothing when there is no such file), read as the bot's setup reads it."""
    try:
        return read_env_file(path)
    except EnvFileError as exc:
        raise InputError(str(exc)) from None


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
    warn: Callable[[str], None] | None = None,
) -> Settings:
    """Resolve settings from flags, then the environment, then `.env` (each line it skips is passed to warn)."""
    env_file_read = read_dotenv(env_file)
    for warning in env_file_read.warnings:
        if warn is not None:
            warn(warning)
    env = dict(env_file_read.values)
    env.update(os.environ if environ is None else environ)

    def pick(flag: str | None, name: str) -> str | None:
        if flag is not None:
            return flag
        value = env.get(name)
        return value if value not in (None, "") else None

    raw_url = pick(url, "OPENOBSERVE_URL") or DEFAULT_URL
    raw_token = pick(token, "OPENOBSERVE_AUTH_TOKEN")
    # Known before anything can fail, so no message can show them.
    protect([raw_token.strip()] if raw_token else [])
    protect(p for m in USERINFO_PARTS.finditer(raw_url) for p in (m.group(1), m.group(1).partition(":")[2]))
    resolved_url = parse_url(raw_url)
    resolved_org = (pick(org, "OPENOBSERVE_ORG") or DEFAULT_ORG).strip()
    if (
        not resolved_org
        or len(resolved_org) > 256
        or "/" in resolved_org
        or UNPRINTABLE.search(resolved_org)
        or any(c.isspace() for c in resolved_org)
    ):
        raise InputError(f"OPENOBSERVE_ORG is not a valid organization id: {resolved_org[:100]!r}")
    if raw_token is None and require_token:
        raise InputError(
            "OPENOBSERVE_AUTH_TOKEN is not set",
            hint="export it, or put it in .env (see `o2-provision init`)",
        )
    if not math.isfinite(timeout):
        raise InputError(f"--timeout must be a finite number of seconds, got {timeout}")
    if timeout <= 0:
        raise InputError(f"--timeout must be positive, got {timeout}")
    if timeout > MAX_TIMEOUT:
        raise InputError(f"--timeout must be at most {MAX_TIMEOUT:g} seconds, got {timeout:g}")
    if concurrency < 1:
        raise InputError(f"--concurrency must be at least 1, got {concurrency}")
    if concurrency > MAX_CONCURRENCY:
        raise InputError(f"--concurrency must be at most {MAX_CONCURRENCY}, got {concurrency}")
    verify: bool | str = True
    if insecure:
        verify = False
    elif ca_cert is not None:
        if not ca_cert.is_file():
            raise InputError(f"--ca-cert {ca_cert} is not a file")
        verify = str(ca_cert)
    settings = Settings(
        url=resolved_url,
        org=resolved_org,
        authorization=parse_token(raw_token) if raw_token is not None else None,
        timeout=timeout,
        verify=verify,
        concurrency=concurrency,
        verbose=verbose,
    )
    protect(settings.secrets())
    return settings
