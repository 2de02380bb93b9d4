"""The one HTTP client every command uses to talk to OpenObserve."""

from __future__ import annotations

import contextlib
import json
import random
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from provision.config import Settings
from provision.errors import (
    AuthError,
    ConflictError,
    InputError,
    NetworkError,
    NotFoundError,
    ProvisionError,
    ServerError,
)

IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE"})
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
USER_AGENT = "o2-provision/0.1"


@dataclass
class RequestStats:
    """How many requests a command made, split into reads and writes."""

    reads: int = 0
    writes: int = 0


class O2Client:
    """A thin, retrying client for O2's HTTP API; paths are relative to the base URL."""

    def __init__(
        self,
        settings: Settings,
        *,
        retries: int = 3,
        backoff: float = 0.25,
    ) -> None:
        self.settings = settings
        self.retries = retries
        self.backoff = backoff
        self.stats = RequestStats()
        self._lock = threading.Lock()
        headers = {"User-Agent": USER_AGENT}
        if settings.authorization is not None:
            headers["Authorization"] = settings.authorization.reveal()
        self._http = httpx.Client(
            base_url=settings.url,
            headers=headers,
            timeout=httpx.Timeout(settings.timeout, connect=min(settings.timeout, 5.0)),
            verify=settings.verify,
            limits=httpx.Limits(max_connections=max(settings.concurrency, 1) + 2),
        )

    def __enter__(self) -> O2Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    @property
    def org(self) -> str:
        return self.settings.org

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        retry: bool | None = None,
    ) -> httpx.Response:
        """Send one request; retry idempotent ones on network errors, 429 and 5xx; raise on error."""
        method = method.upper()
        may_retry = (method in IDEMPOTENT) if retry is None else retry
        with self._lock:
            if method in ("GET", "HEAD") or path.endswith("/_search"):
                self.stats.reads += 1
            else:
                self.stats.writes += 1
        attempt = 0
        while True:
            started = time.monotonic()
            try:
                response = self._http.request(
                    method, path, params=params, json=json_body, content=content, headers=headers
                )
            except httpx.TimeoutException:
                self._trace(method, path, params, "timeout", started)
                if may_retry and attempt < self.retries:
                    attempt += 1
                    self._sleep(attempt, None)
                    continue
                raise NetworkError(
                    f"O2 at {self.settings.url} did not answer within {self.settings.timeout:g}s",
                    hint="check the URL, or raise --timeout",
                ) from None
            except httpx.TransportError as exc:
                self._trace(method, path, params, type(exc).__name__, started)
                if may_retry and attempt < self.retries:
                    attempt += 1
                    self._sleep(attempt, None)
                    continue
                raise NetworkError(
                    f"cannot reach O2 at {self.settings.url}: {_transport_reason(exc)}",
                    hint="check OPENOBSERVE_URL and that O2 is running",
                ) from None
            self._trace(method, path, params, str(response.status_code), started)
            if response.status_code in RETRY_STATUSES and may_retry and attempt < self.retries:
                attempt += 1
                self._sleep(attempt, response.headers.get("retry-after"))
                continue
            if response.status_code >= 400:
                raise self._error(method, path, response)
            return response

    def get(self, path: str, **params: Any) -> Any:
        return _json(self.request("GET", path, params=params or None))

    def post(self, path: str, body: Any, **params: Any) -> Any:
        return _json(self.request("POST", path, params=params or None, json_body=body))

    def put(self, path: str, body: Any, **params: Any) -> Any:
        return _json(self.request("PUT", path, params=params or None, json_body=body))

    def delete(self, path: str, **params: Any) -> Any:
        return _json(self.request("DELETE", path, params=params or None))

    def search(
        self, sql: str, start_us: int, end_us: int, *, stream_type: str = "traces", search_type: str | None = None
    ) -> list[dict[str, Any]]:
        """Rows of an SQL query over [start_us, end_us) through O2's `_search`."""
        body = {"query": {"sql": sql, "start_time": start_us, "end_time": end_us, "from": 0, "size": 1000}}
        params = {"type": stream_type, **({"search_type": search_type} if search_type else {})}
        answer = _json(self.request("POST", f"/api/{self.org}/_search", params=params, json_body=body, retry=True))
        return list((answer or {}).get("hits") or []) if isinstance(answer, dict) else []

    def _trace(self, method: str, path: str, params: Mapping[str, Any] | None, outcome: str, started: float) -> None:
        """With --verbose, one line per HTTP attempt on stderr (never headers or bodies)."""
        if self.settings.verbose:
            query = f"?{httpx.QueryParams(params)}" if params else ""
            elapsed = (time.monotonic() - started) * 1000
            sys.stderr.write(f"http: {method} {path}{query} -> {outcome} ({elapsed:.0f} ms)\n")

    def _sleep(self, attempt: int, retry_after: str | None) -> None:
        delay = self.backoff * (2 ** (attempt - 1)) * (1 + random.random() / 2)
        if retry_after is not None:
            with contextlib.suppress(ValueError):
                delay = max(delay, min(float(retry_after), 10.0))
        time.sleep(delay)

    def _error(self, method: str, path: str, response: httpx.Response) -> ProvisionError:
        status = response.status_code
        message = _message(response)
        where = f"{method} {path}"
        if status == 401:
            return AuthError(
                f"O2 refused the credentials (401 {message})",
                hint="check OPENOBSERVE_AUTH_TOKEN: the base64 of 'email:password' of a user of the org",
            )
        if status == 403:
            return AuthError(f"O2 denied {where} (403 {message})")
        if status == 404 and message == "Organization not found":
            return InputError(
                f"organization {self.org!r} not found on O2",
                hint="check OPENOBSERVE_ORG (organizations are listed in O2's UI)",
            )
        if status == 404:
            return NotFoundError(f"{where}: {message}")
        if status == 409:
            return ConflictError(f"{where}: {message}")
        if status >= 500:
            return ServerError(f"O2 failed on {where} ({status} {message})")
        return InputError(f"O2 refused {where} ({status}): {message}")


def _json(response: httpx.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except json.JSONDecodeError:
        return response.text


def _message(response: httpx.Response) -> str:
    text = response.text.strip()
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return text[:300] or response.reason_phrase
    if isinstance(body, dict):
        parts = [str(body.get("message") or "")]
        if body.get("error_detail"):
            parts.append(str(body["error_detail"]))
        return ": ".join(p for p in parts if p)[:300] or text[:300]
    return text[:300]


def _transport_reason(exc: httpx.TransportError) -> str:
    reason = str(exc) or type(exc).__name__
    return reason.splitlines()[0][:200]
