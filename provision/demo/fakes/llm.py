"""What the fakes of the non-OpenAI LLM providers share: the call script, the recording, the server.

Each fake (:mod:`~provision.demo.fakes.anthropic`, :mod:`~provision.demo.fakes.gemini`,
:mod:`~provision.demo.fakes.bedrock`) speaks its provider's wire format and answers each call as
:class:`ScriptedLLMServer` scripts it, like :class:`provision.demo.fakes.openai.FakeOpenAI` does. A call's
messages are recorded in a provider-neutral form (``{"role", "content"}`` with the text the message
carries, the system prompt first as a ``system`` message), so :func:`~provision.demo.fakes.openai.usage_for`
predicts the tokens every fake reports by the same rule. ``GET /_fake/chat_calls`` lists the calls as JSON.
"""

from __future__ import annotations

import asyncio
import json
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from types import TracebackType
from typing import Any, Self

from aiohttp import web

from provision.demo.fakes.openai import ChatCall, RecordedRequest, usage_for

__all__ = ["CallPlan", "LLMCall", "RecordedRequest", "ScriptedLLMServer", "plain_text", "reply_chunks", "usage_for"]


@dataclass
class LLMCall(ChatCall):
    """One call as the fake saw and answered it; ``hung_up`` when the client closed the stream before its end."""

    hung_up: bool = False


@dataclass(frozen=True)
class CallPlan:
    """How the fake answers one call: what it says (or the tool it calls), after how long, or that it fails."""

    number: int
    model: str
    reply: str
    ttft: float
    failed: bool
    tool_call: tuple[str, dict[str, Any]] | None
    usage: dict[str, int] | None


def reply_chunks(reply: str) -> list[str]:
    """The streamed pieces of a reply: one word each, the space kept with the word before it."""
    words = reply.split(" ")
    return [word if i == len(words) - 1 else word + " " for i, word in enumerate(words)]


def plain_text(value: Any) -> str:
    """The text a tool result or other structured content counts as: itself if a string, else its JSON."""
    return value if isinstance(value, str) else json.dumps(value)


class ScriptedLLMServer(ABC):
    """An aiohttp server on 127.0.0.1 whose LLM calls follow a script; subclasses add the provider's routes.

    Change the public attributes between calls to shape the next answers.

    Attributes:
        replies: Assistant replies, used in turn by successive calls.
        ttft: Seconds before the first streamed token (time to first token).
        word_delay: Seconds between streamed words.
        slow_calls: Call numbers (from 1) that wait ``slow_ttft`` seconds instead.
        fail_calls: Call numbers (from 1) answered with HTTP ``fail_status`` and the provider's error body,
            in a way the provider's client (as the fake's ``…_llm`` helper builds it) does not retry.
        tool_calls: Call number → (function name, arguments): that call answers with a streamed tool
            call instead of text; its recorded reply is the arguments' JSON.
        chat_calls: Every call answered so far, oldest first.
        requests: Every request body as received.
    """

    def __init__(
        self,
        *,
        replies: Sequence[str] = ("Hello there, I am a test voice bot.",),
        ttft: float = 0.1,
        word_delay: float = 0.005,
        fail_calls: Sequence[int] = (),
        slow_calls: Sequence[int] = (),
        slow_ttft: float = 2.0,
        fail_status: int = 500,
        tool_calls: Mapping[int, tuple[str, dict[str, Any]]] | None = None,
    ) -> None:
        self.replies = list(replies)
        self.tool_calls = dict(tool_calls or {})
        self.ttft = ttft
        self.word_delay = word_delay
        self.fail_calls = set(fail_calls)
        self.slow_calls = set(slow_calls)
        self.slow_ttft = slow_ttft
        self.fail_status = fail_status
        self.requests: list[RecordedRequest] = []
        self.chat_calls: list[LLMCall] = []
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    @abstractmethod
    def add_routes(self, app: web.Application) -> None:
        """Add the provider's routes to ``app``."""

    async def start(self) -> str:
        """Start listening on a free port of 127.0.0.1; return the base URL (``http://127.0.0.1:<port>``)."""
        app = web.Application()
        self.add_routes(app)
        app.router.add_get("/_fake/chat_calls", self._list_chat_calls)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}"
        return self.base_url

    async def stop(self) -> None:
        """Stop the server."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    def calls(self) -> list[LLMCall]:
        """The calls answered so far, oldest first."""
        return list(self.chat_calls)

    def plan(self, path: str, body: dict[str, Any], model: str, messages: list[dict[str, Any]]) -> CallPlan:
        """Record a new call (numbered from 1) with its provider-neutral ``messages``; return how to answer it."""
        self.requests.append(RecordedRequest(path, body))
        number = len(self.chat_calls) + 1
        tool_call = self.tool_calls.get(number)
        reply = json.dumps(tool_call[1]) if tool_call else self.replies[(number - 1) % len(self.replies)]
        failed = number in self.fail_calls
        usage = None if failed else usage_for(messages, reply)
        status = self.fail_status if failed else 200
        self.chat_calls.append(LLMCall(number, model, messages, status, "" if failed else reply, usage, time.time()))
        ttft = self.slow_ttft if number in self.slow_calls else self.ttft
        return CallPlan(number, model, reply, ttft, failed, tool_call, usage)

    async def stream(
        self, request: web.Request, plan: CallPlan, content_type: str, body: AsyncIterator[bytes]
    ) -> web.StreamResponse:
        """Answer ``request`` with ``body`` as it comes; a client that hangs up marks the call ``hung_up``."""
        response = web.StreamResponse(headers={"Content-Type": content_type})
        await response.prepare(request)
        try:
            async for piece in body:
                await response.write(piece)
            await response.write_eof()
        except (ConnectionResetError, asyncio.CancelledError) as hang_up:
            self.chat_calls[plan.number - 1].hung_up = True
            if isinstance(hang_up, asyncio.CancelledError):
                raise
        return response

    async def _list_chat_calls(self, _request: web.Request) -> web.Response:
        return web.json_response([asdict(c) for c in self.chat_calls])
