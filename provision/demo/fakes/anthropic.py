"""A fake Anthropic Messages API on 127.0.0.1 for running Pipecat's ``AnthropicLLMService`` offline.

Serves ``POST /v1/messages`` (also ``?beta=true``, the path of ``client.beta.messages.create``, which the
service calls): with ``stream`` an SSE stream of ``message_start`` (usage ``input_tokens``),
``content_block_*`` (``text_delta``, or a ``tool_use`` block with ``input_json_delta``), ``message_delta``
(``stop_reason`` and the final usage) and ``message_stop``; without it one JSON message. A failing call
is HTTP 500 with Anthropic's error body and ``x-should-retry: false``. Scripting and recording are
:class:`~provision.demo.fakes.llm.ScriptedLLMServer`'s.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web
from anthropic import AsyncAnthropic
from pipecat.services.anthropic.llm import AnthropicLLMService

from provision.demo.fakes.llm import CallPlan, ScriptedLLMServer, plain_text, reply_chunks

DEFAULT_MODEL = "claude-sonnet-4-6"


def anthropic_llm(
    base_url: str,
    *,
    model: str = DEFAULT_MODEL,
    system_instruction: str | None = "You are a friendly voice assistant. Keep answers short.",
    max_retries: int = 0,
) -> AnthropicLLMService:
    """An ``AnthropicLLMService`` whose client talks to ``base_url`` (a :class:`FakeAnthropic`'s).

    ``max_retries=0`` keeps a refused connection to one attempt (the SDK retries those, with backoff,
    whatever the server says). The client keeps the SDK's own OpenTelemetry span
    (``anthropic.messages.create``), as a user's does by default.
    """
    client = AsyncAnthropic(api_key="sk-ant-fake", base_url=base_url, max_retries=max_retries)
    settings = AnthropicLLMService.Settings(model=model, system_instruction=system_instruction)
    return AnthropicLLMService(api_key="sk-ant-fake", client=client, settings=settings)


def _block_text(block: Any) -> str:
    if isinstance(block, str):
        return block
    kind = block.get("type")
    if kind == "text":
        return str(block.get("text", ""))
    if kind == "tool_result":
        content = block.get("content", "")
        if isinstance(content, list):
            return " ".join(_block_text(b) for b in content)
        return plain_text(content)
    return ""


def _content_text(content: Any) -> str:
    if isinstance(content, list):
        return " ".join(t for t in (_block_text(b) for b in content) if t)
    return _block_text(content or "")


def neutral_messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The request's system prompt and messages as ``{"role", "content"}`` text (tool calls carry none)."""
    system = _content_text(body.get("system"))
    messages = [{"role": "system", "content": system}] if system else []
    messages += [{"role": m.get("role"), "content": _content_text(m.get("content"))} for m in body["messages"]]
    return messages


def _usage(plan: CallPlan) -> dict[str, int]:
    usage = plan.usage or {}
    return {"input_tokens": usage.get("prompt_tokens", 0), "output_tokens": usage.get("completion_tokens", 0)}


def _stop_reason(plan: CallPlan) -> str:
    return "tool_use" if plan.tool_call is not None else "end_turn"


def _sse(kind: str, data: dict[str, Any]) -> bytes:
    return f"event: {kind}\ndata: {json.dumps({'type': kind, **data})}\n\n".encode()


def _message(plan: CallPlan) -> dict[str, Any]:
    """The complete message a non-streamed call answers with."""
    if plan.tool_call is not None:
        name, arguments = plan.tool_call
        content = [{"type": "tool_use", "id": f"toolu_fake_{plan.number}", "name": name, "input": arguments}]
    else:
        content = [{"type": "text", "text": plan.reply}]
    return {
        "id": f"msg_fake_{plan.number}",
        "type": "message",
        "role": "assistant",
        "model": plan.model,
        "content": content,
        "stop_reason": _stop_reason(plan),
        "stop_sequence": None,
        "usage": _usage(plan),
    }


class FakeAnthropic(ScriptedLLMServer):
    """The fake Anthropic server; see :class:`~provision.demo.fakes.llm.ScriptedLLMServer` for the script."""

    def add_routes(self, app: web.Application) -> None:
        """Add ``POST /v1/messages``."""
        app.router.add_post("/v1/messages", self._messages)

    async def _messages(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        model = str(body.get("model", DEFAULT_MODEL))
        plan = self.plan(request.path_qs, body, model, neutral_messages(body))
        if plan.failed:
            error = {"type": "error", "error": {"type": "api_error", "message": "fake failure"}}
            return web.json_response(error, status=self.fail_status, headers={"x-should-retry": "false"})
        if not body.get("stream"):
            await asyncio.sleep(plan.ttft)
            return web.json_response(_message(plan))
        return await self.stream(request, plan, "text/event-stream", self._events(plan))

    async def _events(self, plan: CallPlan) -> AsyncIterator[bytes]:
        # As Anthropic does: message_start counts the prompt, message_delta the whole message.
        start = {**_message(plan), "content": [], "stop_reason": None}
        start["usage"] = {**_usage(plan), "output_tokens": 1}
        yield _sse("message_start", {"message": start})
        await asyncio.sleep(plan.ttft)
        if plan.tool_call is not None:
            name, _arguments = plan.tool_call
            block = {"type": "tool_use", "id": f"toolu_fake_{plan.number}", "name": name, "input": {}}
            yield _sse("content_block_start", {"index": 0, "content_block": block})
            delta = {"type": "input_json_delta", "partial_json": plan.reply}
            yield _sse("content_block_delta", {"index": 0, "delta": delta})
        else:
            yield _sse("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}})
            for chunk in reply_chunks(plan.reply):
                yield _sse("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": chunk}})
                await asyncio.sleep(self.word_delay)
        yield _sse("content_block_stop", {"index": 0})
        stop = {"stop_reason": _stop_reason(plan), "stop_sequence": None}
        yield _sse("message_delta", {"delta": stop, "usage": _usage(plan)})
        yield _sse("message_stop", {})
