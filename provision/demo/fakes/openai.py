"""A fake OpenAI-compatible server on 127.0.0.1 for running real Pipecat pipelines offline.

Serves ``/v1/chat/completions`` (SSE stream, with a usage chunk when ``stream_options.include_usage``;
or one JSON completion without ``stream``),
``/v1/audio/transcriptions`` and ``/v1/audio/speech`` (short 24 kHz 16-bit PCM). Every request is
recorded; chat calls are numbered from 1 and get deterministic token usage (:func:`usage_for`).
``GET /_fake/chat_calls`` returns the recorded chat calls as JSON.
"""

from __future__ import annotations

import asyncio
import json
import math
import struct
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from types import TracebackType
from typing import Any

from aiohttp import web

SPEECH_SAMPLE_RATE = 24000


@dataclass
class ChatCall:
    """One chat completion request as the fake server saw and answered it."""

    number: int
    model: str
    messages: list[dict[str, Any]]
    status: int
    reply: str
    usage: dict[str, int] | None
    started_at: float
    retry: int = 0


@dataclass
class RecordedRequest:
    """Any request: its path and what it carried (JSON body or form field names)."""

    path: str
    body: dict[str, Any] = field(default_factory=dict)


def _words(text: str) -> int:
    return len(text.split())


def usage_for(messages: Sequence[dict[str, Any]], reply: str) -> dict[str, int]:
    """Token usage the fake reports: words of every message plus 4 per message, and words of the reply."""
    prompt = sum(_words(str(m.get("content") or "")) + 4 for m in messages)
    completion = _words(reply)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def sine_pcm(seconds: float, rate: int = SPEECH_SAMPLE_RATE, freq: float = 440.0) -> bytes:
    """``seconds`` of a quiet 16-bit mono sine tone."""
    return b"".join(
        struct.pack("<h", int(6000 * math.sin(2 * math.pi * freq * i / rate))) for i in range(int(seconds * rate))
    )


def _failure(message: str, status: int = 500) -> web.Response:
    """An OpenAI error answer the client does not retry."""
    error = {"error": {"message": message, "type": "server_error", "code": None}}
    return web.json_response(error, status=status, headers={"x-should-retry": "false"})


class FakeOpenAI:
    """The fake server. Change the public attributes between calls to shape the next answers.

    Attributes:
        replies: Assistant replies, used in turn by successive chat calls.
        ttft: Seconds before the first streamed token (time to first token).
        slow_calls: Chat call numbers (from 1) that wait ``slow_ttft`` seconds instead.
        fail_calls: Chat call numbers (from 1) that fail with ``fail_status``; the response tells the
            OpenAI client not to retry, so one failing call is one request.
        tool_calls: Chat call number → (function name, arguments): that call answers with a streamed
            tool call instead of text.
        transcripts: Texts returned by successive transcription requests.
        speech_seconds: Length of the PCM returned per speech request.
        usage_unasked: Stream the usage chunk even when the request has no
            ``stream_options.include_usage`` (as some OpenAI-compatible providers do).
        fail_transcriptions / fail_speeches: Transcription / speech request numbers (from 1) answered
            with HTTP 500.
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
        transcripts: Sequence[str] = ("Hi there, who are you?", "What is the weather like today?"),
        stt_delay: float = 0.05,
        tts_delay: float = 0.05,
        speech_seconds: float = 0.3,
        tool_calls: Mapping[int, tuple[str, dict[str, Any]]] | None = None,
        usage_unasked: bool = False,
        fail_transcriptions: Sequence[int] = (),
        fail_speeches: Sequence[int] = (),
    ) -> None:
        self.replies = list(replies)
        self.usage_unasked = usage_unasked
        self.fail_transcriptions = set(fail_transcriptions)
        self.fail_speeches = set(fail_speeches)
        self._speeches = 0
        self.tool_calls = dict(tool_calls or {})
        self.ttft = ttft
        self.word_delay = word_delay
        self.fail_calls = set(fail_calls)
        self.slow_calls = set(slow_calls)
        self.slow_ttft = slow_ttft
        self.fail_status = fail_status
        self.transcripts = list(transcripts)
        self.stt_delay = stt_delay
        self.tts_delay = tts_delay
        self.speech_seconds = speech_seconds
        self.requests: list[RecordedRequest] = []
        self.chat_calls: list[ChatCall] = []
        self._transcriptions = 0
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    async def start(self) -> str:
        """Start listening on a free port of 127.0.0.1; return the ``…/v1`` base URL."""
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/v1/audio/transcriptions", self._transcribe)
        app.router.add_post("/v1/audio/speech", self._speech)
        app.router.add_get("/_fake/chat_calls", self._list_chat_calls)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}/v1"
        return self.base_url

    async def stop(self) -> None:
        """Stop the server."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeOpenAI:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append(RecordedRequest(request.path, body))
        retry = int(request.headers.get("x-stainless-retry-count", "0"))
        number = len([c for c in self.chat_calls if c.retry == 0]) + (0 if retry else 1)
        messages = list(body.get("messages", []))
        tool_call = self.tool_calls.get(number)
        reply = json.dumps(tool_call[1]) if tool_call else self.replies[(number - 1) % len(self.replies)]
        model = str(body.get("model", "fake-model"))
        if number in self.fail_calls:
            self.chat_calls.append(ChatCall(number, model, messages, self.fail_status, "", None, time.time(), retry))
            return _failure("fake failure", self.fail_status)
        streaming = bool(body.get("stream"))
        asked = bool((body.get("stream_options") or {}).get("include_usage"))
        include_usage = not streaming or asked or self.usage_unasked
        usage = usage_for(messages, reply) if include_usage else None
        self.chat_calls.append(ChatCall(number, model, messages, 200, reply, usage, time.time(), retry))
        if not streaming:
            await asyncio.sleep(self._ttft(number))
            choice = {"index": 0, "message": {"role": "assistant", "content": reply}, "finish_reason": "stop"}
            completion = {
                "id": f"chatcmpl-fake-{number}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": model,
                "choices": [choice],
                "usage": usage,
            }
            return web.json_response(completion)

        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)

        def event(delta: dict[str, Any] | None, finish: str | None = None, **extra: Any) -> bytes:
            chunk = {
                "id": f"chatcmpl-fake-{number}",
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": model,
                "choices": [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}],
                **extra,
            }
            return f"data: {json.dumps(chunk)}\n\n".encode()

        await asyncio.sleep(self._ttft(number))
        if tool_call is not None:
            name = tool_call[0]
            call = {"index": 0, "id": f"call_fake_{number}", "type": "function", "function": {"name": name}}
            await response.write(event({"role": "assistant", "content": None, "tool_calls": [call]}))
            await response.write(event({"tool_calls": [{"index": 0, "function": {"arguments": reply}}]}))
            await response.write(event({}, finish="tool_calls"))
        else:
            await response.write(event({"role": "assistant", "content": ""}))
            words = reply.split(" ")
            for i, word in enumerate(words):
                await response.write(event({"content": word if i == len(words) - 1 else word + " "}))
                await asyncio.sleep(self.word_delay)
            await response.write(event({}, finish="stop"))
        if usage is not None:
            await response.write(event(None, usage=usage))
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response

    def _ttft(self, number: int) -> float:
        return self.slow_ttft if number in self.slow_calls else self.ttft

    async def _transcribe(self, request: web.Request) -> web.Response:
        form = await request.post()
        self.requests.append(RecordedRequest(request.path, {"fields": sorted(form.keys())}))
        text = self.transcripts[self._transcriptions % len(self.transcripts)]
        self._transcriptions += 1
        await asyncio.sleep(self.stt_delay)
        if self._transcriptions in self.fail_transcriptions:
            return _failure("fake transcription failure")
        return web.json_response({"text": text})

    async def _speech(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append(RecordedRequest(request.path, body))
        self._speeches += 1
        if self._speeches in self.fail_speeches:
            return _failure("fake speech failure")
        response = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
        await response.prepare(request)
        await asyncio.sleep(self.tts_delay)
        pcm = sine_pcm(self.speech_seconds)
        for i in range(0, len(pcm), 4800):
            await response.write(pcm[i : i + 4800])
        await response.write_eof()
        return response

    async def _list_chat_calls(self, _request: web.Request) -> web.Response:
        return web.json_response([asdict(c) for c in self.chat_calls])
