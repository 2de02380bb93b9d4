"""A small HTTP server on 127.0.0.1 that answers the way a broken O2, proxy or network would.

Each request goes to `answer(request)`, which returns the raw bytes to send: a whole answer, or an
iterator of pieces sent `gap` seconds apart (a server trickling its answer). By default it answers like
an empty O2, so a command gets as far as the request a test breaks.
"""

from __future__ import annotations

import json
import socket
import socketserver
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Request:
    method: str
    path: str  # without the query
    query: str
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.monotonic)


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
                if self.gap:
                    time.sleep(self.gap)
        except OSError:
            return
        finally:
            sock.close()


def trickle(data: bytes) -> Iterable[bytes]:
    """The answer one byte at a time (with the server's gap between bytes)."""
    return (data[i : i + 1] for i in range(len(data)))
