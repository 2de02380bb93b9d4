"""A fake Bedrock Runtime on 127.0.0.1 for running Pipecat's ``AWSBedrockLLMService`` offline.

Serves ``POST /model/{modelId}/converse-stream`` (ConverseStream): HTTP 200 with an
``application/vnd.amazon.eventstream`` body, framed by :func:`event_message`, of ``messageStart``,
``contentBlockDelta`` (one word of text each, or after a ``contentBlockStart`` with ``toolUse`` the tool's
``input`` JSON), ``contentBlockStop``, ``messageStop`` and ``metadata`` (usage ``inputTokens``,
``outputTokens``, ``totalTokens``); and ``POST /model/{modelId}/converse`` in one JSON response. A failing
call is HTTP 500 with Bedrock's error (``x-amzn-ErrorType: InternalServerException``). Scripting and
recording are :class:`~provision.demo.fakes.llm.ScriptedLLMServer`'s.
"""

from __future__ import annotations

import asyncio
import json
import struct
import zlib
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web
from botocore.config import Config
from pipecat.services.aws.llm import AWSBedrockLLMService

from provision.demo.fakes.llm import CallPlan, ScriptedLLMServer, plain_text, reply_chunks

DEFAULT_MODEL = "us.amazon.nova-lite-v1:0"
EVENT_STREAM = "application/vnd.amazon.eventstream"
_STRING = 7  # the event-stream header value type of a UTF-8 string


def bedrock_llm(
    endpoint_url: str,
    *,
    model: str = DEFAULT_MODEL,
    system_instruction: str | None = "You are a friendly voice assistant. Keep answers short.",
) -> AWSBedrockLLMService:
    """An ``AWSBedrockLLMService`` whose bedrock-runtime client talks to ``endpoint_url`` (a :class:`FakeBedrock`'s).

    The service takes no endpoint URL, so the helper adds one to the keyword arguments it creates each
    aiobotocore client with (its private ``_aws_params``). Fake keys and a region are given so botocore
    looks for no credentials elsewhere; one attempt per call (the service's own config retries 5xx and
    refused connections).
    """
    config = Config(connect_timeout=2, read_timeout=10, retries={"total_max_attempts": 1})
    settings = AWSBedrockLLMService.Settings(model=model, system_instruction=system_instruction)
    llm = AWSBedrockLLMService(
        aws_access_key="AKIAFAKEFAKEFAKEFAKE",
        aws_secret_key="fake-secret",
        aws_region="us-east-1",
        settings=settings,
        client_config=config,
    )
    llm._aws_params["endpoint_url"] = endpoint_url
    return llm


def event_message(headers: dict[str, str], payload: bytes) -> bytes:
    """One AWS event-stream message: prelude (total and headers length, CRC32), string headers, payload, CRC32."""
    encoded = b""
    for name, value in headers.items():
        name_bytes, value_bytes = name.encode(), value.encode()
        encoded += struct.pack("!B", len(name_bytes)) + name_bytes
        encoded += struct.pack("!BH", _STRING, len(value_bytes)) + value_bytes
    prelude = struct.pack("!II", 12 + len(encoded) + len(payload) + 4, len(encoded))
    message = prelude + struct.pack("!I", zlib.crc32(prelude)) + encoded + payload
    return message + struct.pack("!I", zlib.crc32(message))


def converse_event(event_type: str, body: dict[str, Any]) -> bytes:
    """A ConverseStream event of ``event_type`` (``messageStart``, ``contentBlockDelta``, …) carrying ``body``."""
    headers = {":event-type": event_type, ":content-type": "application/json", ":message-type": "event"}
    return event_message(headers, json.dumps(body).encode())


def _block_text(block: dict[str, Any]) -> str:
    if "text" in block:
        return str(block["text"])
    if "json" in block:
        return plain_text(block["json"])
    if "toolResult" in block:
        return " ".join(t for t in (_block_text(b) for b in block["toolResult"].get("content", [])) if t)
    return ""


def _blocks_text(blocks: list[dict[str, Any]]) -> str:
    return " ".join(t for t in (_block_text(b) for b in blocks) if t)


def neutral_messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The request's system blocks and messages as ``{"role", "content"}`` text (tool calls carry none)."""
    system = _blocks_text(body.get("system", []))
    messages = [{"role": "system", "content": system}] if system else []
    messages += [{"role": m.get("role"), "content": _blocks_text(m.get("content", []))} for m in body["messages"]]
    return messages


def _usage(plan: CallPlan) -> dict[str, int]:
    usage = plan.usage or {}
    return {
        "inputTokens": usage.get("prompt_tokens", 0),
        "outputTokens": usage.get("completion_tokens", 0),
        "totalTokens": usage.get("total_tokens", 0),
    }


def _stop_reason(plan: CallPlan) -> str:
    return "tool_use" if plan.tool_call is not None else "end_turn"


class FakeBedrock(ScriptedLLMServer):
    """The fake Bedrock Runtime; see :class:`~provision.demo.fakes.llm.ScriptedLLMServer` for the script."""

    def add_routes(self, app: web.Application) -> None:
        """Add ``POST /model/{modelId}/converse-stream`` and ``…/converse``."""
        app.router.add_post("/model/{model}/converse-stream", self._converse_stream)
        app.router.add_post("/model/{model}/converse", self._converse)

    async def _start(self, request: web.Request) -> tuple[CallPlan, web.Response | None]:
        body = await request.json()
        plan = self.plan(request.path_qs, body, request.match_info["model"], neutral_messages(body))
        if not plan.failed:
            return plan, None
        headers = {"x-amzn-ErrorType": "InternalServerException"}
        failure = web.json_response({"message": "fake failure"}, status=self.fail_status, headers=headers)
        return plan, failure

    async def _converse(self, request: web.Request) -> web.Response:
        plan, failure = await self._start(request)
        if failure is not None:
            return failure
        await asyncio.sleep(plan.ttft)
        if plan.tool_call is not None:
            name, arguments = plan.tool_call
            content: dict[str, Any] = {"toolUse": {"toolUseId": f"tooluse_fake_{plan.number}", "name": name}}
            content["toolUse"]["input"] = arguments
        else:
            content = {"text": plan.reply}
        answer = {
            "output": {"message": {"role": "assistant", "content": [content]}},
            "stopReason": _stop_reason(plan),
            "usage": _usage(plan),
            "metrics": {"latencyMs": int(plan.ttft * 1000)},
        }
        return web.json_response(answer)

    async def _converse_stream(self, request: web.Request) -> web.StreamResponse:
        plan, failure = await self._start(request)
        if failure is not None:
            return failure
        return await self.stream(request, plan, EVENT_STREAM, self._events(plan))

    async def _events(self, plan: CallPlan) -> AsyncIterator[bytes]:
        yield converse_event("messageStart", {"role": "assistant"})
        await asyncio.sleep(plan.ttft)
        if plan.tool_call is not None:
            start = {"toolUse": {"toolUseId": f"tooluse_fake_{plan.number}", "name": plan.tool_call[0]}}
            yield converse_event("contentBlockStart", {"contentBlockIndex": 0, "start": start})
            delta: dict[str, Any] = {"toolUse": {"input": plan.reply}}
            yield converse_event("contentBlockDelta", {"contentBlockIndex": 0, "delta": delta})
        else:
            for chunk in reply_chunks(plan.reply):
                yield converse_event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": chunk}})
                await asyncio.sleep(self.word_delay)
        yield converse_event("contentBlockStop", {"contentBlockIndex": 0})
        yield converse_event("messageStop", {"stopReason": _stop_reason(plan)})
        yield converse_event("metadata", {"usage": _usage(plan), "metrics": {"latencyMs": int(plan.ttft * 1000)}})
