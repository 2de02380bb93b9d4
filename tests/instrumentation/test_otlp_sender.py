"""``OTLPSender`` against real servers on 127.0.0.1: what reaches the wire, and every answer it must survive.

``Server`` is a raw-socket HTTP/1.1 server whose answers each test writes byte for byte (``answer`` gets
the request and the connection's socket, writes whatever it likes and says whether to keep the connection);
it records every request and counts the connections it accepted. ``ConnectProxy`` is a CONNECT proxy that
relays bytes. Servers that hold an answer wait on a ``threading.Event``; waits poll with generous deadlines.
"""

from __future__ import annotations

import base64
import gzip
import socket
import ssl
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider

from instrumentation.otlp import encode_spans
from instrumentation.otlp_http import Delivery, OTLPSender
from provision.demo.receiver import decode
from tests.instrumentation.conftest import TOKEN
from tests.instrumentation.test_export_hostile import self_signed_tls

AUTHORIZATION = f"Basic {TOKEN}"
HEADERS = {"Authorization": AUTHORIZATION, "stream-name": "voice"}
PATH = "/api/default/v1/traces"
WAIT = 30.0  # seconds a poll waits for a condition before the test fails
OK = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 13\r\n\r\n{"code":200}\n'
PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "ftp_proxy")


@dataclass
class Request:
    line: str
    headers: dict[str, str]  # lower-cased names
    body: bytes
    connection: int  # which accepted connection carried it, from 1


Answer = Callable[[Request, socket.socket], bool]


def answering(data: bytes, *, keep: bool = True) -> Answer:
    def answer(request: Request, sock: socket.socket) -> bool:
        sock.sendall(data)
        return keep

    return answer


def in_turn(*answers: Answer) -> Answer:
    """The n-th request gets the n-th answer; the last repeats."""
    count = 0

    def answer(request: Request, sock: socket.socket) -> bool:
        nonlocal count
        count += 1
        return answers[min(count, len(answers)) - 1](request, sock)

    return answer


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.01)


class _Listener:
    """Accepts on 127.0.0.1 in a thread and serves each connection in a thread of its own."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self.port: int = self._listener.getsockname()[1]
        self.stop = threading.Event()
        self.connections = 0  # accepted so far
        self.closed = 0  # closed by this side (or found closed) so far
        self._sockets: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                sock, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            sock.settimeout(None)
            with self._lock:
                self.connections += 1
                number = self.connections
                self._sockets.append(sock)
                thread = threading.Thread(target=self._run, args=(sock, number), daemon=True)
                self._threads.append(thread)
            thread.start()

    def _run(self, sock: socket.socket, number: int) -> None:
        try:
            self.serve(sock, number)
        except (OSError, ValueError):
            pass  # the client hung up, or the test is over
        finally:
            sock.close()
            with self._lock:
                self.closed += 1

    def serve(self, sock: socket.socket, number: int) -> None:
        raise NotImplementedError

    def __enter__(self) -> _Listener:
        thread = threading.Thread(target=self._accept, daemon=True)
        self._threads.append(thread)
        thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self._listener.close()
        with self._lock:
            sockets, threads = list(self._sockets), list(self._threads)
        for sock in sockets:
            with suppress(OSError, ValueError):
                sock.shutdown(socket.SHUT_RDWR)
        for thread in threads:
            thread.join(WAIT)


class Server(_Listener):
    """An HTTP/1.1 endpoint (over TLS when given a context) answering as ``answer`` says."""

    def __init__(self, answer: Answer, *, tls: ssl.SSLContext | None = None) -> None:
        super().__init__()
        self.answer = answer
        self.requests: list[Request] = []
        self._tls = tls
        self.scheme = "http" if tls is None else "https"

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}{PATH}"

    def serve(self, sock: socket.socket, number: int) -> None:
        if self._tls is not None:
            sock = self._tls.wrap_socket(sock, server_side=True)
        reader = sock.makefile("rb")
        while True:
            line = reader.readline()
            if not line:
                return
            headers = {}
            while (header := reader.readline()) not in (b"\r\n", b"\n", b""):
                name, _, value = header.decode("latin-1").partition(":")
                headers[name.strip().lower()] = value.strip()
            body = reader.read(int(headers.get("content-length", "0")))
            request = Request(line.decode("latin-1").rstrip("\r\n"), headers, body, number)
            self.requests.append(request)
            if not self.answer(request, sock):
                return

    def __enter__(self) -> Server:
        super().__enter__()
        return self


class ConnectProxy(_Listener):
    """A CONNECT proxy: reads the CONNECT head, says 200 (or ``refuse``), then relays bytes both ways."""

    def __init__(self, *, refuse: bytes | None = None) -> None:
        super().__init__()
        self.refuse = refuse
        self.heads: list[str] = []
        self.upstream = bytearray()  # what the client sent through the tunnel

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def serve(self, sock: socket.socket, number: int) -> None:
        head = b""
        while b"\r\n\r\n" not in head:
            data = sock.recv(4096)
            if not data:
                return
            head += data
        self.heads.append(head.decode("latin-1"))
        if self.refuse is not None:
            sock.sendall(self.refuse)
            return
        host, _, port = head.split(b" ")[1].decode().rpartition(":")
        with socket.create_connection((host, int(port)), timeout=WAIT) as target:
            target.settimeout(None)
            sock.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            back = threading.Thread(target=self._relay, args=(target, sock, None), daemon=True)
            back.start()
            self._relay(sock, target, self.upstream)
            back.join(WAIT)

    @staticmethod
    def _relay(source: socket.socket, sink: socket.socket, record: bytearray | None) -> None:
        with suppress(OSError):
            while data := source.recv(65536):
                if record is not None:
                    record += data
                sink.sendall(data)
        with suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def __enter__(self) -> ConnectProxy:
        super().__enter__()
        return self


@pytest.fixture(autouse=True)
def no_proxies(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No proxy variables from the machine: each test sets the ones it means."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    return monkeypatch


@pytest.fixture
def sender_for() -> Iterator[Callable[..., OTLPSender]]:
    """Makes senders (``OTLPSender``'s arguments; no OTEL variables unless ``environ`` is given) and closes them."""
    senders: list[OTLPSender] = []

    def make(url: str, *, timeout: float = 10.0, environ: dict[str, str] | None = None) -> OTLPSender:
        sender = OTLPSender(url, HEADERS, timeout, environ={} if environ is None else environ)
        senders.append(sender)
        return sender

    yield make
    for sender in senders:
        sender.close()


@pytest.fixture(scope="module")
def body() -> bytes:
    """A real OTLP batch: two spans."""
    tracer = TracerProvider().get_tracer("test")
    spans = []
    for name in ("stt", "llm"):
        span = tracer.start_span(name)
        span.set_attribute("turn", 1)
        span.end()
        assert isinstance(span, ReadableSpan)
        spans.append(span)
    return encode_spans(spans)


def closed_port() -> int:
    """A port on 127.0.0.1 where nothing listens (connecting is refused)."""
    with socket.create_server(("127.0.0.1", 0)) as sock:
        port: int = sock.getsockname()[1]
    return port


def assert_one_line_failure(delivery: Delivery) -> str:
    assert not delivery.ok
    assert delivery.reason, delivery
    assert "\n" not in delivery.reason and "\r" not in delivery.reason, delivery.reason
    return delivery.reason


# 1. The request on the wire, and one connection for many sends


def test_sends_reuse_one_connection_and_the_server_gets_the_exact_body_and_headers(
    sender_for: Callable[..., OTLPSender], body: bytes
) -> None:
    with Server(answering(OK)) as server:
        sender = sender_for(server.url)
        bodies = [body, encode_spans([]), body * 4000, body]  # small, empty, over a megabyte
        for each in bodies:
            assert sender.send(each) == Delivery(True)
        assert server.connections == 1
        assert [r.body for r in server.requests] == bodies
        assert [s.name for s in decode(server.requests[0].body)] == ["stt", "llm"]
        for request in server.requests:
            assert request.line == f"POST {PATH} HTTP/1.1"
            assert request.connection == 1
            headers = request.headers
            assert headers["content-type"] == "application/x-protobuf"
            assert headers["content-length"] == str(len(request.body))
            assert headers["authorization"] == AUTHORIZATION
            assert headers["stream-name"] == "voice"
            assert headers["host"] == f"127.0.0.1:{server.port}"
            assert "content-encoding" not in headers


# 2. A kept-alive connection the server closed while idle


def test_a_connection_the_server_closed_while_idle_is_replaced_without_a_failure(
    sender_for: Callable[..., OTLPSender], body: bytes
) -> None:
    # The server answers, then closes the connection without saying so (as an idle timeout does).
    with Server(answering(OK, keep=False)) as server:
        sender = sender_for(server.url)
        assert sender.send(body) == Delivery(True)
        wait_for(lambda: server.closed == 1, "the server to close the idle connection")
        assert sender.send(body, retry=False) == Delivery(True)  # no retry needed: the reconnect is part of a send
        wait_for(lambda: server.closed == 2, "the server to close the second connection")
        assert sender.send(body, retry=False) == Delivery(True)
        assert server.connections == 3
        assert [r.connection for r in server.requests] == [1, 2, 3]  # each batch arrived once


# 3. Every framing of an answer


def chunked_in_pieces(request: Request, sock: socket.socket) -> bool:
    data = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        b'5\r\n{"cod\r\n'
        b'3;ext=1\r\ne":\r\n'
        b"A\r\n200}\r\n\r\n  \r\n"  # a chunk whose data holds CRLFs
        b"0\r\n\r\n"
    )
    for start in range(0, len(data), 7):  # in pieces, so the answer's parts arrive in separate reads
        sock.sendall(data[start : start + 7])
        time.sleep(0.002)
    return True


FRAMINGS: dict[str, tuple[Answer, int]] = {  # the answer, and the connections three sends take
    "content-length": (answering(OK), 1),
    "chunked": (chunked_in_pieces, 1),
    "no length, connection close": (
        answering(b'HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n{"code":200}', keep=False),
        3,
    ),
    "HTTP/1.0, no length": (answering(b'HTTP/1.0 200 OK\r\n\r\n{"code":200}', keep=False), 3),
    "100 continue first": (answering(b"HTTP/1.1 100 Continue\r\n\r\n" + OK), 1),
    "connection close after a 200": (
        answering(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}"),  # and keeps it open
        3,
    ),
    "204 no content": (answering(b"HTTP/1.1 204 No Content\r\n\r\n"), 1),
}


@pytest.mark.parametrize("framing", FRAMINGS)
def test_every_framing_of_an_answer_is_read_whole_and_the_next_send_works(
    sender_for: Callable[..., OTLPSender], body: bytes, framing: str
) -> None:
    answer, connections = FRAMINGS[framing]
    with Server(answer) as server:
        sender = sender_for(server.url, timeout=5.0)
        for _ in range(3):
            assert sender.send(body, retry=False) == Delivery(True)
        assert server.connections == connections
        assert len(server.requests) == 3  # none sent twice


# 4. Retries


def test_503_with_retry_after_0_is_retried_then_succeeds(sender_for: Callable[..., OTLPSender], body: bytes) -> None:
    unavailable = b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 0\r\nContent-Length: 4\r\n\r\nbusy"
    with Server(in_turn(answering(unavailable), answering(OK))) as server:
        assert sender_for(server.url).send(body) == Delivery(True)
        assert [r.body for r in server.requests] == [body, body]
        assert server.connections == 1


def test_400_is_not_retried(sender_for: Callable[..., OTLPSender], body: bytes) -> None:
    bad = b'HTTP/1.1 400 Bad Request\r\nContent-Length: 17\r\n\r\n{"error":"nope"}\n'
    with Server(answering(bad)) as server:
        assert sender_for(server.url).send(body) == Delivery(False, "HTTP 400 Bad Request")
        assert len(server.requests) == 1


@pytest.mark.parametrize("retry_after", [b"Retry-After: 0\r\n", b""])
def test_429_for_ever_ends_the_send_within_its_timeout(
    sender_for: Callable[..., OTLPSender], body: bytes, retry_after: bytes
) -> None:
    busy = b"HTTP/1.1 429 Too Many Requests\r\n" + retry_after + b"Content-Length: 0\r\n\r\n"
    with Server(answering(busy)) as server:
        sender = sender_for(server.url, timeout=0.5)
        started = time.monotonic()
        delivery = sender.send(body)
        seconds = time.monotonic() - started
        reason = assert_one_line_failure(delivery)
        assert reason in ("HTTP 429 Too Many Requests", "no complete answer within 0.5 s")
        assert seconds < 3.0, f"a send with a 0.5 s timeout took {seconds:.1f} s"
        if retry_after:
            assert len(server.requests) >= 2  # retried while the deadline allowed
        else:
            assert len(server.requests) == 1  # the first backoff (about 1 s) is past the deadline


# 5. Compression and headers from the OTEL variables


@pytest.mark.parametrize(
    ("variable", "name", "expand"),
    [
        ("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "gzip", gzip.decompress),
        ("OTEL_EXPORTER_OTLP_COMPRESSION", "deflate", zlib.decompress),
        ("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", " GZIP ", gzip.decompress),
    ],
)
def test_compression_from_the_environment(
    sender_for: Callable[..., OTLPSender],
    body: bytes,
    variable: str,
    name: str,
    expand: Callable[[bytes], bytes],
) -> None:
    with Server(answering(OK)) as server:
        sender = sender_for(server.url, environ={variable: name})
        assert sender.send(body) == Delivery(True)
        assert sender.send(body) == Delivery(True)
        for request in server.requests:
            assert request.headers["content-encoding"] == name.strip().lower()
            assert request.headers["content-length"] == str(len(request.body))
            assert request.body != body
            assert expand(request.body) == body


def test_otel_headers_are_merged_under_the_given_ones(sender_for: Callable[..., OTLPSender], body: bytes) -> None:
    with Server(answering(OK)) as server:
        environ = {"OTEL_EXPORTER_OTLP_HEADERS": "x-team=voice,authorization=wrong"}
        assert sender_for(server.url, environ=environ).send(body) == Delivery(True)
        headers = server.requests[0].headers
        assert headers["x-team"] == "voice"
        assert headers["authorization"] == AUTHORIZATION
        assert headers["stream-name"] == "voice"


# 6. Proxies, set the way users set them


def test_a_plain_http_proxy_gets_the_absolute_url_and_basic_credentials(
    no_proxies: pytest.MonkeyPatch, sender_for: Callable[..., OTLPSender], body: bytes
) -> None:
    with Server(answering(OK)) as endpoint, Server(answering(OK)) as proxy:
        no_proxies.setenv("http_proxy", f"http://me:s3cr%40t@127.0.0.1:{proxy.port}")
        no_proxies.setenv("https_proxy", f"http://127.0.0.1:{closed_port()}")  # not for an http endpoint
        sender = sender_for(endpoint.url)
        assert sender.send(body) == Delivery(True)
        assert sender.send(body) == Delivery(True)
        assert endpoint.requests == []
        assert proxy.connections == 1
        for request in proxy.requests:
            assert request.line == f"POST {endpoint.url} HTTP/1.1"
            assert request.headers["host"] == f"127.0.0.1:{endpoint.port}"
            assert request.headers["proxy-authorization"] == "Basic " + base64.b64encode(b"me:s3cr@t").decode()
            assert request.headers["authorization"] == AUTHORIZATION
            assert request.body == body


def test_an_https_endpoint_is_reached_through_a_connect_tunnel_with_tls_to_the_endpoint(
    no_proxies: pytest.MonkeyPatch, sender_for: Callable[..., OTLPSender], body: bytes, tmp_path: Path
) -> None:
    context, cert_file = self_signed_tls(tmp_path)
    with Server(answering(OK), tls=context) as endpoint, ConnectProxy() as proxy:
        no_proxies.setenv("https_proxy", f"http://me:s3cret@127.0.0.1:{proxy.port}")
        no_proxies.setenv("http_proxy", f"http://127.0.0.1:{closed_port()}")  # not for an https endpoint
        sender = sender_for(endpoint.url, environ={"OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE": str(cert_file)})
        assert sender.send(body) == Delivery(True)
        assert sender.send(body) == Delivery(True)
        assert [r.body for r in endpoint.requests] == [body, body]
        assert endpoint.requests[0].headers["authorization"] == AUTHORIZATION
        assert endpoint.connections == proxy.connections == 1  # one tunnel for both sends
        head = proxy.heads[0]
        assert head.startswith(f"CONNECT 127.0.0.1:{endpoint.port} HTTP/1.1\r\n")
        assert f"\r\nproxy-authorization: Basic {base64.b64encode(b'me:s3cret').decode()}\r\n" in head
        assert proxy.upstream and TOKEN.encode() not in proxy.upstream and b"POST" not in proxy.upstream  # TLS


def test_an_https_endpoint_whose_certificate_is_not_trusted_fails_through_the_tunnel(
    no_proxies: pytest.MonkeyPatch, sender_for: Callable[..., OTLPSender], body: bytes, tmp_path: Path
) -> None:
    context, _ = self_signed_tls(tmp_path)
    with Server(answering(OK), tls=context) as endpoint, ConnectProxy() as proxy:
        no_proxies.setenv("https_proxy", proxy.url)
        reason = assert_one_line_failure(sender_for(endpoint.url).send(body, retry=False))
        assert reason.startswith("TLS failed: "), reason
        assert endpoint.requests == []


def test_no_proxy_bypasses_the_proxy(
    no_proxies: pytest.MonkeyPatch, sender_for: Callable[..., OTLPSender], body: bytes
) -> None:
    with Server(answering(OK)) as endpoint, Server(answering(OK)) as proxy:
        no_proxies.setenv("http_proxy", f"http://127.0.0.1:{proxy.port}")
        no_proxies.setenv("no_proxy", "127.0.0.1")
        assert sender_for(endpoint.url).send(body) == Delivery(True)
        assert [r.line for r in endpoint.requests] == [f"POST {PATH} HTTP/1.1"]
        assert proxy.connections == 0


@pytest.mark.parametrize("proxy_answer", ["refused", "407 to the CONNECT", "407 to the POST"])
def test_proxy_credentials_never_appear_in_a_failure_reason(
    no_proxies: pytest.MonkeyPatch, sender_for: Callable[..., OTLPSender], body: bytes, proxy_answer: str
) -> None:
    denied = b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n"
    with ConnectProxy(refuse=denied) as connect_proxy, Server(answering(denied)) as http_proxy:
        if proxy_answer == "refused":
            scheme, port = "http", closed_port()
        elif proxy_answer == "407 to the CONNECT":
            scheme, port = "https", connect_proxy.port
        else:
            scheme, port = "http", http_proxy.port
        no_proxies.setenv(f"{scheme}_proxy", f"http://me:s3cret@127.0.0.1:{port}")
        delivery = sender_for(f"{scheme}://127.0.0.1:{closed_port()}{PATH}", timeout=2.0).send(body)
        reason = assert_one_line_failure(delivery)
        assert "s3cret" not in reason and "me:" not in reason
        assert base64.b64encode(b"me:s3cret").decode() not in reason
        if proxy_answer != "refused":
            assert "407" in reason, reason


# 7. Answers that are not HTTP


def held(data: bytes, stop: threading.Event) -> Answer:
    """Writes ``data`` and holds the connection open until the test ends."""

    def answer(request: Request, sock: socket.socket) -> bool:
        sock.sendall(data)
        stop.wait(WAIT)
        return False

    return answer


@pytest.mark.parametrize(
    ("garbage", "closes", "expected"),
    [
        (b"SSH-2.0-OpenSSH_9.6\r\nInvalid SSH identification string.\r\n\r\n", False, "not HTTP"),
        (b"\x00\xff\x16\x03\x01 binary", True, "closed before answering"),
        (b"HTTP/1.1 200 OK\r\n" + b"X-Filler: aaaaaaaaaa\r\n" * 7000, False, "head too long"),  # 150 KiB
        (b"HTTP/1.1 200 OK\r\nContent-Length: lots\r\n\r\n", False, "connection failed"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", False, "connection failed"),
    ],
)
def test_an_answer_that_is_not_http_fails_the_send_with_one_line(
    sender_for: Callable[..., OTLPSender], body: bytes, garbage: bytes, closes: bool, expected: str
) -> None:
    with Server(answering(b"")) as server:
        server.answer = answering(garbage, keep=False) if closes else held(garbage, server.stop)
        sender = sender_for(server.url, timeout=WAIT)
        started = time.monotonic()
        reason = assert_one_line_failure(sender.send(body, retry=False))
        assert expected in reason, reason
        assert time.monotonic() - started < WAIT / 2  # failed on what it read, not at the deadline
        assert len(server.requests) == 1


def test_a_garbled_answer_on_a_kept_alive_connection_does_not_post_the_batch_again(
    sender_for: Callable[..., OTLPSender], body: bytes
) -> None:
    with Server(answering(b"")) as server:
        server.answer = in_turn(answering(OK), held(b"SSH-2.0-OpenSSH_9.6\r\n\r\n", server.stop))
        sender = sender_for(server.url, timeout=WAIT)
        assert sender.send(body) == Delivery(True)
        reason = assert_one_line_failure(sender.send(body, retry=False))
        assert "not HTTP" in reason
        assert len(server.requests) == 2, [r.connection for r in server.requests]
        server.answer = answering(OK)
        assert sender.send(body) == Delivery(True)  # and the sender recovers on a new connection


# 8. close() cuts a send in progress


def test_close_from_another_thread_cuts_a_send_waiting_on_a_silent_server(
    sender_for: Callable[..., OTLPSender], body: bytes
) -> None:
    with Server(answering(b"")) as server:
        server.answer = held(b"", server.stop)  # reads the request, never answers
        sender = sender_for(server.url, timeout=WAIT)
        deliveries: list[Delivery] = []
        sending = threading.Thread(target=lambda: deliveries.append(sender.send(body)), daemon=True)
        sending.start()
        wait_for(lambda: len(server.requests) == 1, "the request to arrive")
        closed = time.monotonic()
        sender.close()
        sending.join(WAIT)
        seconds = time.monotonic() - closed
        assert not sending.is_alive(), "close() did not cut the send"
        assert seconds < 5.0, f"the send ended {seconds:.1f} s after close()"
        assert_one_line_failure(deliveries[0])
        assert_one_line_failure(sender.send(body))  # and a send after close() fails at once
        assert server.connections == 1
