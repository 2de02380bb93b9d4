"""The one HTTP client every command uses to talk to OpenObserve.

Every answer is checked here, at the boundary: a redirect, a body that is not JSON or JSON of the wrong
shape becomes one `ProvisionError` naming the request, never a KeyError three modules later.
"""

from __future__ import annotations

import email.utils
import json
import random
import re
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import httpcore
import httpx
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

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
from provision.scrub import one_line

IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE"})
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
USER_AGENT = "o2-provision/0.1"
MAX_RETRY_AFTER = 10.0  # seconds: a longer Retry-After is waited this long, then tried again
MAX_BODY = 32 * 1024 * 1024
ALREADY_EXISTS = re.compile(r"(?i)already exists")
HTML_TITLE = re.compile(r"(?is)<title[^>]*>(.*?)</title>|<h1[^>]*>(.*?)</h1>")
TAGS = re.compile(r"(?s)<[^>]*>")

T = TypeVar("T")


@dataclass
class RequestStats:
    """How many requests a command made, split into reads and writes."""

    reads: int = 0
    writes: int = 0


class _Deadline(threading.local):
    """When the request this thread is sending must be over (monotonic seconds), if any."""

    at: float | None = None


_DEADLINE = _Deadline()


def _within_deadline(timeout: float | None) -> float | None:
    """The timeout of one socket operation, shortened to what is left of the request's deadline."""
    at = _DEADLINE.at
    if at is None:
        return timeout
    left = at - time.monotonic()
    if left <= 0:
        raise httpcore.ReadTimeout("the request's deadline passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """A socket whose every read and write stops at the request's deadline, not per operation."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _within_deadline(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _within_deadline(timeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None) -> Any:
        return _DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, _within_deadline(timeout)))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    def __init__(self, inner: httpcore.NetworkBackend) -> None:
        self._inner = inner

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        stream = self._inner.connect_tcp(host, port, _within_deadline(timeout), local_address, socket_options)
        return _DeadlineStream(stream)

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def _with_deadlines(client: httpx.Client) -> None:
    """Make every connection pool of the client (direct and through proxies) honour the deadline."""
    for transport in [client._transport, *client._mounts.values()]:
        pool = getattr(transport, "_pool", None)
        if isinstance(pool, httpcore.ConnectionPool):
            pool._network_backend = _DeadlineBackend(pool._network_backend)


class O2Client:
    """A retrying client for O2's HTTP API; paths are relative to the base URL.

    `settings.timeout` bounds each request as a whole: connecting, sending, and every read of the answer.
    """

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
            follow_redirects=False,
        )
        _with_deadlines(self._http)

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
        """Send one request and return its 2xx answer (body read).

        Retries: network errors and 5xx for idempotent requests; 429 for every request (O2 did not
        process it), after its Retry-After. A redirect is an error: it is never followed.
        """
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
                response = self._send(method, path, params, json_body, content, headers)
            except httpx.TimeoutException:
                self._trace(method, path, params, "timeout", started)
                if may_retry and attempt < self.retries:
                    attempt += 1
                    self._sleep(attempt, None)
                    continue
                raise NetworkError(
                    f"O2 at {self.settings.url} did not answer within {self.settings.timeout:g}s ({method} {path})",
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
            status = response.status_code
            self._trace(method, path, params, str(status), started)
            retryable = status == 429 or (status in RETRY_STATUSES and may_retry)
            if retryable and attempt < self.retries:
                attempt += 1
                self._sleep(attempt, response.headers.get("retry-after"))
                continue
            if 300 <= status < 400:
                location = response.headers.get("location", "")
                raise ServerError(
                    f"O2 at {self.settings.url} answered {method} {path} with a redirect ({status}"
                    + (f" to {location[:200]}" if location else "")
                    + "), which o2-provision does not follow",
                    hint="set OPENOBSERVE_URL to the address O2 answers on (https? behind a proxy?)",
                )
            if status >= 400 or status < 200:
                raise self._error(method, path, response)
            return response

    def _send(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None,
        json_body: Any,
        content: bytes | None,
        headers: Mapping[str, str] | None,
    ) -> httpx.Response:
        """One attempt, connect to last byte within settings.timeout, its body at most MAX_BODY bytes."""
        request = self._http.build_request(
            method, path, params=params, json=json_body, content=content, headers=headers
        )
        _DEADLINE.at = time.monotonic() + self.settings.timeout
        try:
            response = self._http.send(request, stream=True)
            try:
                chunks: list[bytes] = []
                size = 0
                for chunk in response.iter_raw():
                    size += len(chunk)
                    if size > MAX_BODY:
                        raise ServerError(f"O2's answer to {method} {path} is larger than {MAX_BODY:,} bytes")
                    chunks.append(chunk)
            finally:
                response.close()
        finally:
            _DEADLINE.at = None
        try:  # decodes the content-encoding (gzip, …) as httpx would have
            return httpx.Response(
                response.status_code, headers=response.headers, content=b"".join(chunks), request=request
            )
        except httpx.DecodingError:
            raise ServerError(f"O2's answer to {method} {path} could not be decompressed") from None

    def call(
        self,
        method: str,
        path: str,
        expect: TypeAdapter[T],
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        retry: bool | None = None,
    ) -> T:
        """Send a request and read its answer as `expect`; an answer of another shape is a ServerError."""
        response = self.request(method, path, params=params, json_body=body, retry=retry)
        return parse_answer(f"{method.upper()} {path}", response, expect)

    def send(self, method: str, path: str, body: Any = None, **params: Any) -> None:
        """A write whose answer carries nothing this tool needs (any 2xx will do)."""
        self.request(method, path, params=params or None, json_body=body)

    def get(self, path: str, **params: Any) -> Any:
        """The JSON of a GET's answer (its text when it is not JSON)."""
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
        return self.call("POST", f"/api/{self.org}/_search", SEARCH_ANSWER, params=params, body=body, retry=True).hits

    def _trace(self, method: str, path: str, params: Mapping[str, Any] | None, outcome: str, started: float) -> None:
        """With --verbose, one line per HTTP attempt on stderr (never headers or bodies)."""
        if self.settings.verbose:
            query = f"?{httpx.QueryParams(params)}" if params else ""
            elapsed = (time.monotonic() - started) * 1000
            sys.stderr.write(f"http: {method} {path}{query} -> {outcome} ({elapsed:.0f} ms)\n")

    def _sleep(self, attempt: int, retry_after: str | None) -> None:
        delay = self.backoff * (2 ** (attempt - 1)) * (1 + random.random() / 2)
        asked = _retry_after_seconds(retry_after)
        if asked is not None:
            delay = max(delay, min(asked, MAX_RETRY_AFTER))
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
        if status == 409 or (status == 400 and method == "POST" and ALREADY_EXISTS.search(message)):
            return ConflictError(
                f"{where}: {message}",
                hint="someone else (another apply?) is changing the same resources; run apply again once they are done",
            )
        if status == 429:
            return NetworkError(
                f"O2 kept answering {where} with 429 ({message})",
                hint="O2 is rate-limiting: try again later, or lower --concurrency",
            )
        if status >= 500:
            return ServerError(f"O2 failed on {where} ({status} {message})")
        return InputError(f"O2 refused {where} ({status}): {message}")


def parse_answer(where: str, response: httpx.Response, expect: TypeAdapter[T]) -> T:
    """The answer's JSON as `expect`, or a ServerError that says what came instead."""
    try:
        data = json.loads(response.content) if response.content else None
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        raise ServerError(
            f"O2's answer to {where} is not JSON ({_content_type(response)}): {_snippet(response)}",
            hint="is OPENOBSERVE_URL O2 itself, and not a proxy or a login page?",
        ) from None
    try:
        return expect.validate_python(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        at = ".".join(str(p) for p in first["loc"]) or "the answer"
        raise ServerError(
            f"O2's answer to {where} is not what O2 sends: {at}: {first['msg'].lower()}",
            hint="is OPENOBSERVE_URL an OpenObserve this tool supports (v0.92 or later)?",
        ) from None


class SearchAnswer(BaseModel):
    """What `_search` answers, as far as this tool reads it."""

    model_config = ConfigDict(extra="allow")

    hits: list[dict[str, Any]] = Field(default_factory=list)


SEARCH_ANSWER = TypeAdapter(SearchAnswer)


def _retry_after_seconds(value: str | None) -> float | None:
    """Retry-After in seconds, from a number of seconds or an HTTP date."""
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - time.time()
    return max(seconds, 0.0) if seconds == seconds else None  # NaN is no answer


def _json(response: httpx.Response) -> Any:
    if not response.content:
        return None
    try:
        return json.loads(response.content)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        return response.text


def _content_type(response: httpx.Response) -> str:
    return one_line(response.headers.get("content-type", "no content type"), 60)


def _snippet(response: httpx.Response) -> str:
    """The gist of a body that is not O2's JSON: an HTML page's title, else its first words."""
    text = response.content[:4096].decode("utf-8", "replace")
    match = HTML_TITLE.search(text)
    if match:
        text = match.group(1) or match.group(2) or ""
    elif text.lstrip().startswith("<"):
        text = TAGS.sub(" ", text)
    return one_line(text, 120) or "(empty)"


def _message(response: httpx.Response) -> str:
    """What an error answer says, on one line: O2's message and detail, or a page's title."""
    try:
        body = json.loads(response.content)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        return _snippet(response) if response.content.strip() else response.reason_phrase
    if isinstance(body, dict):
        parts = [str(body.get("message") or "")]
        if body.get("error_detail"):
            parts.append(str(body["error_detail"]))
        text = ": ".join(p for p in parts if p)
        if text:
            return one_line(text, 300)
    return _snippet(response)


def _transport_reason(exc: httpx.TransportError) -> str:
    return one_line(str(exc) or type(exc).__name__, 200)
