"""Posting encoded OTLP batches to one endpoint: :class:`OTLPSender`.

One kept-alive ``http.client`` connection, with everything a request needs settled once at set-up: the
proxy (``https_proxy`` / ``http_proxy`` / ``no_proxy``), TLS (``OTEL_EXPORTER_OTLP_[TRACES_]CERTIFICATE``,
``…CLIENT_CERTIFICATE``, ``…CLIENT_KEY``), compression (``OTEL_EXPORTER_OTLP_[TRACES_]COMPRESSION``) and
the headers (``OTEL_EXPORTER_OTLP_[TRACES_]HEADERS``, under the ones given). A send is a few dozen Python
calls where a ``requests`` session resolves proxies, cookies and hooks again on every POST; the export
thread shares the interpreter lock with the bot's event loop, so its CPU is the bot's too.

Each send has one deadline for everything (connecting, TLS, writing, every read, retries): a server that
trickles its answer is cut when the deadline passes. Redirects are never followed, so the
``Authorization`` header goes nowhere else; a 3xx is a failed send. 429, 502, 503, 504 and connection
errors are retried with backoff (or ``Retry-After``) while the deadline allows.
"""

from __future__ import annotations

import base64
import gzip
import http.client
import io
import math
import os
import random
import socket
import ssl
import threading
import time
import zlib
from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit
from urllib.request import getproxies, proxy_bypass

from opentelemetry.util.re import parse_env_headers

_RETRYABLE = frozenset((429, 502, 503, 504))
_MAX_ANSWER = 1 << 20  # bytes of an answer read back; a larger one is not O2's and the connection is dropped
_USER_AGENT = "o2-provision-instrumentation"


@dataclass(frozen=True)
class Delivery:
    """The outcome of one send; ``reason`` says why it failed, for the outage warning."""

    ok: bool
    reason: str | None = None


def _setting(environ: Mapping[str, str], name: str) -> str | None:
    """``OTEL_EXPORTER_OTLP_TRACES_{name}``, else ``OTEL_EXPORTER_OTLP_{name}``."""
    return environ.get(f"OTEL_EXPORTER_OTLP_TRACES_{name}") or environ.get(f"OTEL_EXPORTER_OTLP_{name}") or None


def _compressor(environ: Mapping[str, str]) -> tuple[str | None, Callable[[bytes], bytes] | None]:
    name = (_setting(environ, "COMPRESSION") or "none").strip().lower()
    if name == "gzip":
        return "gzip", gzip.compress
    if name == "deflate":
        return "deflate", zlib.compress
    return None, None


def _tls(environ: Mapping[str, str]) -> ssl.SSLContext:
    cafile = _setting(environ, "CERTIFICATE")
    context = ssl.create_default_context(cafile=cafile)
    if cafile is None:
        # requests, which the OpenTelemetry exporter uses, trusts certifi's roots; keep trusting them.
        try:
            import certifi

            context.load_verify_locations(certifi.where())
        except (ImportError, OSError):
            pass
    certificate = _setting(environ, "CLIENT_CERTIFICATE")
    if certificate:
        context.load_cert_chain(certificate, _setting(environ, "CLIENT_KEY"))
    return context


class _Socket:
    """A connected socket whose every write and read ends by its connection's deadline."""

    def __init__(self, sock: socket.socket, connection: _Deadlined) -> None:
        self.raw = sock
        self._connection = connection
        self._readers = 0
        self._closing = False

    def _arm(self) -> None:
        remaining = self._connection.deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("deadline passed")
        self.raw.settimeout(remaining)

    def sendall(self, data: bytes) -> None:
        self._arm()
        self.raw.sendall(data)

    def recv_into(self, buffer: memoryview, nbytes: int = 0) -> int:
        self._arm()
        return self.raw.recv_into(buffer, nbytes)

    def makefile(self, mode: str) -> io.BufferedReader:
        self._readers += 1
        return io.BufferedReader(_Reader(self))

    def close(self) -> None:
        # As a socket's own close: deferred while a response still reads from it.
        self._closing = True
        if self._readers == 0:
            self.raw.close()

    def reader_closed(self) -> None:
        self._readers -= 1
        if self._closing and self._readers == 0:
            self.raw.close()


class _Reader(io.RawIOBase):
    def __init__(self, sock: _Socket) -> None:
        self._sock: _Socket | None = sock

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self._sock is None:
            raise ValueError("read from a closed response")
        return self._sock.recv_into(buffer)

    def close(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.reader_closed()
        super().close()


class _Deadlined(http.client.HTTPConnection):
    """An HTTP connection that connects and moves every byte within :attr:`deadline` (monotonic)."""

    deadline = math.inf
    raw: socket.socket | None = None

    def connect(self) -> None:
        self.timeout = max(self.deadline - time.monotonic(), 0.001)
        super().connect()
        sock: socket.socket = self.sock
        self.raw = sock
        self.sock = _Socket(sock, self)


class _DeadlinedTLS(_Deadlined, http.client.HTTPSConnection):
    pass


class OTLPSender:
    """POSTs OTLP/protobuf bodies to ``endpoint``; :meth:`send` never raises."""

    def __init__(
        self,
        endpoint: str,
        headers: Mapping[str, str],
        timeout: float,
        *,
        environ: Mapping[str, str] = os.environ,
    ) -> None:
        parts = urlsplit(endpoint)
        self._timeout = timeout
        self._encoding, self._compress = _compressor(environ)
        merged = {k.lower(): v for k, v in parse_env_headers(_setting(environ, "HEADERS") or "", liberal=True).items()}
        merged.update({k.lower(): v for k, v in headers.items()})
        merged.update({"content-type": "application/x-protobuf", "user-agent": _USER_AGENT})
        if self._encoding is not None:
            merged["content-encoding"] = self._encoding
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        tls = _tls(environ) if parts.scheme == "https" else None
        self._target = parts.path or "/"
        proxy = None if proxy_bypass(host) else getproxies().get(parts.scheme)
        self._make: Callable[[], _Deadlined]
        if proxy:
            via = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
            proxy_headers = {}
            if via.username is not None:
                credentials = f"{unquote(via.username)}:{unquote(via.password or '')}".encode()
                proxy_headers["Proxy-Authorization"] = "Basic " + base64.b64encode(credentials).decode()
            proxy_host, proxy_port = via.hostname or "", via.port or 8080
            if tls is not None:
                context = tls

                def tunnelled() -> _Deadlined:
                    connection = _DeadlinedTLS(proxy_host, proxy_port, context=context)
                    connection.set_tunnel(host, port, headers=proxy_headers)
                    return connection

                self._make = tunnelled
            else:
                merged.update({k.lower(): v for k, v in proxy_headers.items()})
                self._target = endpoint  # a plain-HTTP proxy takes the absolute URL
                self._make = lambda: _Deadlined(proxy_host, proxy_port)
        elif tls is not None:
            context = tls
            self._make = lambda: _DeadlinedTLS(host, port, context=context)
        else:
            self._make = lambda: _Deadlined(host, port)
        self._headers = merged
        self._connection: _Deadlined | None = None
        self._lock = threading.Lock()
        self._closed = False

    def send(self, body: bytes, *, retry: bool = True) -> Delivery:
        """POST ``body`` (compressed if so configured) within the export timeout; ``retry`` on transient failures."""
        deadline = time.monotonic() + self._timeout
        if self._compress is not None:
            body = self._compress(body)
        attempt = 0
        while True:
            status, reason, wait = self._attempt(body, deadline)
            if status is not None and 200 <= status < 300:
                return Delivery(True)
            retryable = status is None or status in _RETRYABLE
            attempt += 1
            if wait is None:
                wait = 2 ** (attempt - 1) * random.uniform(0.8, 1.2)
            if not retry or not retryable or self._closed or time.monotonic() + wait >= deadline:
                return Delivery(False, reason)
            time.sleep(wait)

    def _attempt(self, body: bytes, deadline: float) -> tuple[int | None, str, float | None]:
        """(status or None, why it failed, the ``Retry-After`` wait if given)."""
        reused = self._connection is not None
        try:
            try:
                response = self._post(body, deadline)
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                if not reused:
                    raise
                # A kept-alive connection the server closed while idle: once more on a new one.
                self._drop()
                response = self._post(body, deadline)
            status = response.status
            answer = response.read(_MAX_ANSWER + 1)
            if len(answer) > _MAX_ANSWER or response.will_close:
                self._drop()
        except (OSError, http.client.HTTPException) as error:
            self._drop()
            return None, self._describe(error, deadline), None
        if 200 <= status < 300:
            return status, "", None
        if 300 <= status < 400:
            return status, f"HTTP {status} {response.reason}: redirects are not followed", None
        return status, f"HTTP {status} {response.reason}", _retry_after(response.getheader("retry-after"))

    def _post(self, body: bytes, deadline: float) -> http.client.HTTPResponse:
        with self._lock:
            if self._closed:
                raise ConnectionAbortedError("the exporter is shut down")
            connection = self._connection
            if connection is None:
                connection = self._connection = self._make()
            connection.deadline = deadline
        connection.request("POST", self._target, body, self._headers)
        return connection.getresponse()

    def _describe(self, error: BaseException, deadline: float) -> str:
        if isinstance(error, TimeoutError) or time.monotonic() >= deadline:
            return f"no complete answer within {self._timeout:g} s"
        if isinstance(error, OSError) and error.strerror:
            return f"connection failed: {error.strerror}"
        if isinstance(error, ssl.SSLError):
            return f"TLS failed: {error.reason or error}"
        return f"connection failed: {type(error).__name__}"

    def _drop(self) -> None:
        with self._lock:
            connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()

    def close(self) -> None:
        """Refuse further sends and cut one in progress (its socket is shut, waking a blocked read)."""
        with self._lock:
            self._closed = True
            connection = self._connection
            raw = connection.raw if connection is not None else None
        if raw is not None:
            with suppress(OSError):  # not connected, or closed already
                raw.shutdown(socket.SHUT_RDWR)


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None
