"""The servers a traced bot talks to, in their own process so their CPU is not counted as the bot's.

``python -m benchmarks.servers`` starts the fake OpenAI server (``llm``) and the fake Anthropic Messages API
(``anthropic``), both answering at once (zero time to first token, no delay between words), and four OTLP
endpoints, prints their URLs as one JSON line and runs until its stdin closes:

* ``ok``: answers every export ``200`` (an empty ``ExportTraceServiceResponse``); ``GET /stats`` tells
  how many export requests and bytes it has received;
* ``unavailable``: answers ``503``;
* ``hang``: a TCP server that accepts connections and never answers;
* ``refused``: a port nobody listens on.
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
from types import TracebackType

from aiohttp import web

from provision.demo.fakes.anthropic import FakeAnthropic
from provision.demo.fakes.openai import FakeOpenAI


class Servers:
    """Starts ``python -m benchmarks.servers`` and exposes its URLs."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen[str] | None = None
        self.urls: dict[str, str] = {}

    def __enter__(self) -> Servers:
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.servers"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self._proc.stdout is not None
        self.urls = json.loads(self._proc.stdout.readline())
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._proc is not None:
            assert self._proc.stdin is not None
            self._proc.stdin.close()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()


async def _sink(status: int) -> str:
    spans = {"requests": 0, "bytes": 0}

    async def traces(request: web.Request) -> web.Response:
        body = await request.read()
        spans["requests"] += 1
        spans["bytes"] += len(body)
        return web.Response(status=status, body=b"", content_type="application/x-protobuf")

    async def stats(_request: web.Request) -> web.Response:
        return web.json_response(spans)

    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_post("/api/{org}/v1/traces", traces)
    app.router.add_get("/stats", stats)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return f"http://127.0.0.1:{runner.addresses[0][1]}"


async def _hang() -> tuple[str, asyncio.Server]:
    held: list[asyncio.StreamWriter] = []

    async def accept(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)  # never read, never answer, never close

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return f"http://127.0.0.1:{port}", server


def _refused() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


async def _main() -> None:
    fake = FakeOpenAI(ttft=0.0, word_delay=0.0)
    anthropic = FakeAnthropic(ttft=0.0, word_delay=0.0)
    llm = await fake.start()
    hang, _server = await _hang()
    urls = {
        "llm": llm,
        "anthropic": await anthropic.start(),
        "ok": await _sink(200),
        "unavailable": await _sink(503),
        "hang": hang,
        "refused": _refused(),
    }
    print(json.dumps(urls), flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)  # until the parent closes our stdin
    fake.chat_calls.clear()
    anthropic.chat_calls.clear()


if __name__ == "__main__":
    asyncio.run(_main())
