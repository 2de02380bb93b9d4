"""Posting encoded OTLP batches to one endpoint: :class:`OTLPSender`.

One kept-alive connection, with everything a request needs settled once at set-up: the
proxy (``https_proxy`` / ``http_proxy`` / ``no_proxy``), TLS (``OTEL_EXPORTER_OTLP_[TRACES_]CERTIFICATE``,
``…CLIENT_CERTIFICATE``, ``…CLIENT_KEY``), compression (``OTEL_EXPORTER_OTLP_[TRACES_]COMPRESSION``) and
the headers (``OTEL_EXPORTER_OTLP_[TRACES_]HEADERS``, under the ones given), down to the request's bytes
but for its length. Request and answer go over the socket directly: a send is a dozen Python calls,
where ``requests`` resolves proxies, cookies and hooks again on every POST and ``http.client`` parses
the answer's headers with the ``email`` package (about 80 calls). The export thread shares the
interpreter lock with the bot's event loop, so its CPU is the bot's too.

Each send has one deadline for everything (connecting, TLS, writing, every read, retries): a server that
trickles its answer is cut when the deadline passes. Redirects are never followed, so the
``Authorization`` header goes nowhere else; a 3xx is a failed send. 429, 502, 503, 504 and connection
errors are retried with backoff (or ``Retry-After``) while the deadline allows.
"""

from __future__ import annotations

import base64
import gzip
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
_MAX_HEAD = 64 << 10
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


class _Closed(ConnectionError):
    """The server closed the connection before a whole answer."""


class _NotHTTP(ConnectionError):
    """An answer that cannot be O2's: the request was read, so it is not sent again on a new connection."""


class _Connection:
    """One kept-alive connection, and what was read on it beyond the last answer."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.pending = bytearray()

    def recv(self, deadline: float) -> bytes:
        """The next bytes, waiting no later than ``deadline`` (monotonic); b"" when the server closed."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("deadline passed")
        self.sock.settimeout(remaining)
        return self.sock.recv(65536)

    def head(self, deadline: float) -> bytes:
        """An answer's status line and headers."""
        pending = self.pending
        while (end := pending.find(b"\r\n\r\n")) < 0:
            if len(pending) > _MAX_HEAD:
                raise _NotHTTP("an answer head too long to be O2's")
            data = self.recv(deadline)
            if not data:
                raise _Closed("closed before answering")
            pending += data
        head = bytes(pending[:end])
        del pending[: end + 4]
        return head

    def body(self, status: int, headers: dict[bytes, bytes], deadline: float) -> bool:
        """Read (and drop) an answer's body; whether the connection can be used again."""
        if status in (204, 304):
            return True  # never a body, whatever the headers say
        pending = self.pending
        if headers.get(b"transfer-encoding", b"").lower().endswith(b"chunked"):
            while True:
                while (end := pending.find(b"\r\n")) < 0:
                    pending += self._more(deadline)
                size = int(bytes(pending[:end]).split(b";")[0], 16)
                while len(pending) < end + 2 + size + 2:
                    pending += self._more(deadline)
                del pending[: end + 2 + size + 2]
                if size == 0:
                    return True  # (no trailers: O2 sends none)
        length = headers.get(b"content-length")
        if length is None:
            while self.recv(deadline):  # the body runs until the server closes
                pass
            return False
        size = int(length)
        if size > _MAX_ANSWER:
            return False
        while len(pending) < size:
            pending += self._more(deadline)
        del pending[:size]
        return True

    def _more(self, deadline: float) -> bytes:
        data = self.recv(deadline)
        if not data:
            raise _Closed("closed in the middle of an answer")
        return data


def _parse_head(head: bytes) -> tuple[int, str, dict[bytes, bytes]]:
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
        raise _NotHTTP("an answer that is not HTTP")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip()
    reason = parts[2].decode("latin-1", "replace") if len(parts) > 2 else ""
    return int(parts[1]), reason, headers


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
        encoding, self._compress = _compressor(environ)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        tls = _tls(environ) if parts.scheme == "https" else None
        merged = {k.lower(): v for k, v in parse_env_headers(_setting(environ, "HEADERS") or "", liberal=True).items()}
        merged.update({k.lower(): v for k, v in headers.items()})
        merged.update({"content-type": "application/x-protobuf", "user-agent": _USER_AGENT})
        if encoding is not None:
            merged["content-encoding"] = encoding
        target = parts.path or "/"
        authority = parts.netloc.rpartition("@")[2]
        proxy = None if proxy_bypass(host) else getproxies().get(parts.scheme)
        tunnel: bytes | None = None
        address = (host, port)
        if proxy:
            via = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
            address = (via.hostname or "", via.port or 8080)
            proxy_headers = {}
            if via.username is not None:
                credentials = f"{unquote(via.username)}:{unquote(via.password or '')}".encode()
                proxy_headers["proxy-authorization"] = "Basic " + base64.b64encode(credentials).decode()
            if tls is not None:  # through a CONNECT tunnel
                lines = [f"CONNECT {host}:{port} HTTP/1.1", f"host: {host}:{port}"]
                lines += [f"{k}: {v}" for k, v in proxy_headers.items()]
                tunnel = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
            else:  # a plain-HTTP proxy takes the absolute URL
                merged.update(proxy_headers)
                target = endpoint
        lines = [f"POST {target} HTTP/1.1", f"host: {authority}"] + [f"{k}: {v}" for k, v in merged.items()]
        self._head = ("\r\n".join(lines) + "\r\ncontent-length: ").encode("latin-1")
        self._address, self._tls, self._server_name, self._tunnel = address, tls, host, tunnel
        self._connection: _Connection | None = None
        self._lock = threading.Lock()
        self._closed = False

    def send(self, body: bytes, *, retry: bool = True) -> Delivery:
        """POST ``body`` (compressed if so configured) within the export timeout; ``retry`` on transient failures."""
        deadline = time.monotonic() + self._timeout
        if self._compress is not None:
            body = self._compress(body)
        request = self._head + str(len(body)).encode() + b"\r\n\r\n" + body
        attempt = 0
        while True:
            status, reason, wait = self._attempt(request, deadline)
            if status is not None and 200 <= status < 300:
                return Delivery(True)
            retryable = status is None or status in _RETRYABLE
            attempt += 1
            if wait is None:
                # Capped: after a thousand quick answers with Retry-After: 0 the power would overflow a float.
                wait = 2 ** min(attempt - 1, 10) * random.uniform(0.8, 1.2)
            if not retry or not retryable or self._closed or time.monotonic() + wait >= deadline:
                return Delivery(False, reason)
            time.sleep(wait)

    def _attempt(self, request: bytes, deadline: float) -> tuple[int | None, str, float | None]:
        """(status or None, why it failed, the ``Retry-After`` wait if given)."""
        try:
            connection = self._connection
            try:
                if connection is None:
                    raise _Closed("not connected")
                status, reason, headers = self._exchange(connection, request, deadline)
            except (_Closed, ConnectionResetError, BrokenPipeError):
                if connection is not None and connection.pending:
                    raise  # part of an answer had come: this was no idle connection closed by the server
                # Not connected yet, or a kept-alive connection the server closed while idle: a new one.
                self._drop()
                connection = self._connect(deadline)
                status, reason, headers = self._exchange(connection, request, deadline)
            if not connection.body(status, headers, deadline) or headers.get(b"connection", b"").lower() == b"close":
                self._drop()
        except (OSError, ValueError) as error:
            self._drop()
            return None, self._describe(error, deadline), None
        if 200 <= status < 300:
            return status, "", None
        if 300 <= status < 400:
            return status, f"HTTP {status} {reason}: redirects are not followed", None
        retry_after = headers.get(b"retry-after")
        return status, f"HTTP {status} {reason}", _retry_after(retry_after.decode("latin-1") if retry_after else None)

    def _exchange(
        self, connection: _Connection, request: bytes, deadline: float
    ) -> tuple[int, str, dict[bytes, bytes]]:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("deadline passed")
        connection.sock.settimeout(remaining)
        connection.sock.sendall(request)
        while True:
            status, reason, headers = _parse_head(connection.head(deadline))
            if status >= 200:
                return status, reason, headers
            # 1xx: an interim answer; the real one follows

    def _connect(self, deadline: float) -> _Connection:
        with self._lock:
            if self._closed:
                raise ConnectionAbortedError("the exporter is shut down")
        sock = socket.create_connection(self._address, timeout=max(deadline - time.monotonic(), 0.001))
        with self._lock:
            self._connection = connection = _Connection(sock)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self._tunnel is not None:
                sock.sendall(self._tunnel)
                status, reason, _ = _parse_head(connection.head(deadline))
                if status != 200:
                    raise _Closed(f"the proxy refused the tunnel: {status} {reason}")
            if self._tls is not None:
                sock.settimeout(max(deadline - time.monotonic(), 0.001))
                connection.sock = self._tls.wrap_socket(sock, server_hostname=self._server_name)
        except BaseException:
            self._drop()
            raise
        return connection

    def _describe(self, error: BaseException, deadline: float) -> str:
        if isinstance(error, TimeoutError) or time.monotonic() >= deadline:
            return f"no complete answer within {self._timeout:g} s"
        if isinstance(error, ssl.SSLError):
            return f"TLS failed: {error.reason or error}"
        if isinstance(error, (_Closed, _NotHTTP)):
            return f"connection failed: {error}"
        if isinstance(error, OSError) and error.strerror:
            return f"connection failed: {error.strerror}"
        return f"connection failed: {type(error).__name__}"

    def _drop(self) -> None:
        with self._lock:
            connection, self._connection = self._connection, None
        if connection is not None:
            connection.sock.close()

    def close(self) -> None:
        """Refuse further sends and cut one in progress (its socket is shut, waking a blocked read)."""
        with self._lock:
            self._closed = True
            connection = self._connection
        if connection is not None:
            with suppress(OSError):  # not connected, or closed already
                connection.sock.shutdown(socket.SHUT_RDWR)


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None
