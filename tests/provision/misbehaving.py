"""A small HTTP server on 127.0.0.1 that answers the way a broken O2, proxy or network would.

Each request goes to `answer(request)`, which returns the raw bytes to send: a whole answer, or an
iterator of pieces sent `gap` seconds apart (a server trickling its answer). By default it answers like
an empty O2, so a command gets as far as the request a test breaks.
"""

from __future__ import annotations

import json
import re
import signal
import socket
import socketserver
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

DEADLINE = 60.0  # how long a test waits for something that should happen at once: generous, for loaded machines


@dataclass
class Request:
    method: str
    path: str  # without the query
    query: str
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.monotonic)
    sent: int = 0  # bytes of the answer sent so far (fewer than the whole answer when the client hung up)


def reply(status: int, body: bytes | str = b"", *, headers: dict[str, str] | None = None) -> bytes:
    """One raw HTTP/1.1 answer."""
    data = body.encode() if isinstance(body, str) else body
    lines = [f"HTTP/1.1 {status} X", f"Content-Length: {len(data)}", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + data


def reply_json(status: int, document: Any, **kwargs: Any) -> bytes:
    return reply(status, json.dumps(document), headers={"Content-Type": "application/json", **kwargs})


def empty_o2(request: Request) -> bytes:
    """An O2 with nothing on it that accepts every write."""
    if request.method == "GET":
        if "/folders/" in request.path or request.path.endswith("/v2/default/alerts"):
            return reply_json(200, {"list": []})
        if request.path.endswith("/dashboards"):
            return reply_json(200, {"dashboards": []})
        return reply_json(200, [])
    if request.method == "POST" and "/folders/" in request.path:
        return reply_json(200, {"folderId": "f1", "name": "Pipecat", "description": ""})
    if request.method == "POST" and request.path.endswith("/v2/default/alerts"):
        return reply_json(200, {"id": "a1"})
    return reply_json(200, {"code": 200, "message": "ok"})


Answer = Callable[[Request], bytes | Iterable[bytes]]


class Misbehaving:
    """The server; `answer` may be swapped at any time. Use as a context manager."""

    def __init__(self, answer: Answer = empty_o2, *, gap: float = 0.0) -> None:
        self.answer = answer
        self.gap = gap
        self.requests: list[Request] = []
        outer = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                outer._serve(self.request)

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self._server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)

    def __enter__(self) -> Misbehaving:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _serve(self, sock: socket.socket) -> None:
        sock.settimeout(10)
        data = b""
        try:
            while b"\r\n\r\n" not in data:
                chunk = sock.recv(65536)
                if not chunk:
                    return
                data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
            length = int(headers.get("content-length", "0"))
            while len(body) < length:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                body += chunk
            path, _, query = target.partition("?")
            request = Request(method, path, query, headers, body)
            self.requests.append(request)
            answer = self.answer(request)
            pieces = [answer] if isinstance(answer, bytes) else answer
            for piece in pieces:
                sock.sendall(piece)
                request.sent += len(piece)
                if self.gap:
                    time.sleep(self.gap)
        except OSError:
            return
        finally:
            sock.close()


def trickle(data: bytes) -> Iterable[bytes]:
    """The answer one byte at a time (with the server's gap between bytes)."""
    return (data[i : i + 1] for i in range(len(data)))


class Holding:
    """An answer that forwards every request to O2, holding the first one `matches` accepts until `release` is set."""

    def __init__(self, upstream: str, matches: Callable[[Request], bool]) -> None:
        self.upstream = upstream
        self.matches = matches
        self.held = threading.Event()
        self.release = threading.Event()
        self._lock = threading.Lock()

    def __call__(self, request: Request) -> bytes:
        with self._lock:
            hold = not self.held.is_set() and self.matches(request)
            if hold:
                self.held.set()
        if hold:
            self.release.wait(DEADLINE)
        headers = {k: v for k, v in request.headers.items() if k not in ("host", "content-length", "connection")}
        target = self.upstream + request.path + (f"?{request.query}" if request.query else "")
        try:
            answer = httpx.request(request.method, target, headers=headers, content=request.body, timeout=DEADLINE)
        except httpx.HTTPError:  # O2 went away while the request was held: the test is over
            return reply(502, "")
        content_type = answer.headers.get("content-type", "application/json")
        return reply(answer.status_code, answer.content, headers={"Content-Type": content_type})


def sigint_delivered(pid: int) -> bool:
    """Whether the kernel has handed the SIGINT to the process (it is no longer pending)."""
    status = Path(f"/proc/{pid}/status").read_text()
    pending = int(re.search(r"^ShdPnd:\s*([0-9a-f]+)", status, re.M).group(1), 16)  # type: ignore[union-attr]
    return not pending & (1 << (signal.SIGINT - 1))


def threads_taking_ctrl_c(pid: int) -> list[int]:
    """The process's threads other than its main one that do not block SIGINT (the kernel may hand it to any)."""
    taking = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        if int(task.name) == pid:
            continue
        status = (task / "status").read_text()
        blocked = int(re.search(r"^SigBlk:\s*([0-9a-f]+)", status, re.M).group(1), 16)  # type: ignore[union-attr]
        if not blocked & (1 << (signal.SIGINT - 1)):
            taking.append(int(task.name))
    return taking


def until(condition: Callable[[], bool]) -> None:
    """Wait until `condition()` holds; fail after DEADLINE seconds."""
    deadline = time.monotonic() + DEADLINE
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.005)
