"""A fake Gemini API on 127.0.0.1 for running Pipecat's ``GoogleLLMService`` offline.

Serves ``POST /{version}/models/{model}:streamGenerateContent?alt=sse``, as google-genai calls it when its
``HttpOptions(base_url=…)`` points here: an SSE stream of ``GenerateContentResponse`` chunks, one word of
text each (or one ``functionCall`` part), each with ``usageMetadata`` so far (``promptTokenCount``,
``candidatesTokenCount`` = words so far, ``totalTokenCount``), the last with ``finishReason: STOP`` and the
call's usage. ``:generateContent`` answers the
same in one JSON response. A failing call is HTTP 500 with Google's error body. Scripting and recording
are :class:`~provision.demo.fakes.llm.ScriptedLLMServer`'s.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web
from google.genai.types import HttpOptions, HttpRetryOptions
from pipecat.services.google.llm import GoogleLLMService

from provision.demo.fakes.llm import CallPlan, ScriptedLLMServer, plain_text, reply_chunks

DEFAULT_MODEL = "gemini-2.5-flash"


def gemini_llm(
    base_url: str,
    *,
    model: str = DEFAULT_MODEL,
    system_instruction: str | None = "You are a friendly voice assistant. Keep answers short.",
) -> GoogleLLMService:
    """A ``GoogleLLMService`` whose google-genai client talks to ``base_url`` (a :class:`FakeGemini`'s).

    One attempt per call: without retry options google-genai retries a refused connection once, after
    sleeping 1 to 10 s.
    """
    http_options = HttpOptions(base_url=base_url, retry_options=HttpRetryOptions(attempts=1))
    settings = GoogleLLMService.Settings(model=model, system_instruction=system_instruction)
    return GoogleLLMService(api_key="fake-gemini-key", settings=settings, http_options=http_options)


def _part_text(part: dict[str, Any]) -> str:
    if "text" in part:
        return str(part["text"])
    if "functionResponse" in part:
        return plain_text(part["functionResponse"].get("response", {}))
    return ""


def _parts_text(content: dict[str, Any] | None) -> str:
    parts = (content or {}).get("parts") or []
    return " ".join(t for t in (_part_text(p) for p in parts) if t)


def neutral_messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The request's system instruction and contents as ``{"role", "content"}`` text (function calls carry none)."""
    system = _parts_text(body.get("systemInstruction"))
    messages = [{"role": "system", "content": system}] if system else []
    messages += [{"role": c.get("role", "user"), "content": _parts_text(c)} for c in body.get("contents", [])]
    return messages


def _usage_metadata(prompt: int, candidates: int) -> dict[str, int]:
    return {"promptTokenCount": prompt, "candidatesTokenCount": candidates, "totalTokenCount": prompt + candidates}


def _chunk(plan: CallPlan, parts: list[dict[str, Any]], *, words_so_far: int, last: bool) -> dict[str, Any]:
    """A ``GenerateContentResponse``; like Gemini's, each carries the usage so far, the last the whole call's."""
    usage = plan.usage or {}
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
    prompt = usage.get("prompt_tokens", 0)
    candidates = usage.get("completion_tokens", 0) if last else words_so_far
    chunk: dict[str, Any] = {
        "candidates": [candidate],
        "usageMetadata": _usage_metadata(prompt, candidates),
        "modelVersion": plan.model,
        "responseId": f"fake-{plan.number}",
    }
    if last:
        candidate["finishReason"] = "STOP"
    return chunk


def _function_call_part(plan: CallPlan) -> dict[str, Any]:
    assert plan.tool_call is not None
    name, arguments = plan.tool_call
    return {"functionCall": {"id": f"call_fake_{plan.number}", "name": name, "args": arguments}}


class FakeGemini(ScriptedLLMServer):
    """The fake Gemini server; see :class:`~provision.demo.fakes.llm.ScriptedLLMServer` for the script."""

    def add_routes(self, app: web.Application) -> None:
        """Add ``POST /{version}/models/{model}:{method}``."""
        app.router.add_post("/{version}/models/{model_method}", self._models)

    async def _models(self, request: web.Request) -> web.StreamResponse:
        model, _, method = request.match_info["model_method"].partition(":")
        if method not in ("streamGenerateContent", "generateContent"):
            raise web.HTTPNotFound()
        body = await request.json()
        plan = self.plan(request.path_qs, body, model, neutral_messages(body))
        if plan.failed:
            error = {"error": {"code": self.fail_status, "message": "fake failure", "status": "INTERNAL"}}
            return web.json_response(error, status=self.fail_status)
        if method == "generateContent":
            await asyncio.sleep(plan.ttft)
            parts = [_function_call_part(plan)] if plan.tool_call else [{"text": plan.reply}]
            return web.json_response(_chunk(plan, parts, words_so_far=0, last=True))
        return await self.stream(request, plan, "text/event-stream", self._chunks(plan))

    async def _chunks(self, plan: CallPlan) -> AsyncIterator[bytes]:
        await asyncio.sleep(plan.ttft)
        if plan.tool_call is not None:
            chunks = [_chunk(plan, [_function_call_part(plan)], words_so_far=0, last=True)]
        else:
            pieces = reply_chunks(plan.reply)
            chunks = [
                _chunk(plan, [{"text": p}], words_so_far=i + 1, last=i == len(pieces) - 1) for i, p in enumerate(pieces)
            ]
        for i, chunk in enumerate(chunks):
            if i:
                await asyncio.sleep(self.word_delay)
            yield f"data: {json.dumps(chunk)}\r\n\r\n".encode()
