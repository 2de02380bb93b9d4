"""Local websocket fakes of the OpenAI Realtime and Gemini Live protocols, for offline speech-to-speech bots.

Both serve on 127.0.0.1 and speak the wire protocol as Pipecat 1.14's ``OpenAIRealtimeLLMService`` and
``GeminiLiveLLMService`` (through google-genai's live client) use it:

- :class:`FakeOpenAIRealtime`: ``ws://127.0.0.1:PORT/v1/realtime?model=…``. ``session.created`` on connect,
  ``session.updated`` per ``session.update``, server VAD over ``input_audio_buffer.append``
  (``input_audio_buffer.speech_started`` / ``speech_stopped`` / ``committed``), the user's transcription
  (``conversation.item.input_audio_transcription.delta`` / ``completed``), responses (``response.created``,
  ``response.output_item.added``, ``conversation.item.added``, ``response.output_audio.delta``,
  ``response.output_audio_transcript.delta``, … ``response.done`` with usage), function calls
  (an output item of type ``function_call``, ``response.function_call_arguments.delta`` / ``done``), barge-in
  (``response.done`` with status ``cancelled``; ``conversation.item.truncate`` is recorded) and ``error`` events.
- :class:`FakeGeminiLive`: ``BidiGenerateContent`` over TLS (google-genai always dials ``wss://``; the fake
  makes a self-signed certificate for 127.0.0.1 and :meth:`FakeGeminiLive.http_options` trusts it):
  ``setupComplete``, server VAD over ``realtimeInput`` audio, ``serverContent`` with ``inputTranscription``,
  ``modelTurn`` ``inlineData`` audio, ``outputTranscription``, ``interrupted``, ``turnComplete`` with
  ``usageMetadata``, ``toolCall`` / ``toolResponse``, and failures as a websocket close with code 1011.

Each websocket connection is a :class:`RealtimeSession`; its user exchanges are numbered from 1 and follow
``script`` (:class:`ExchangeScript`; exchanges past the script get :func:`default_exchange`). A response the
client asks for without user speech (the greeting an ``LLMRunFrame`` triggers) belongs to exchange 0 and says
``greeting``. Every response reports deterministic usage (:func:`response_usage`). ``GET /_fake/sessions`` lists
every session and exchange as JSON.

The server VAD is energy based: a 16-bit PCM chunk whose mean absolute sample exceeds ``SPEECH_LEVEL`` is
speech; speech that is followed by ``silence_ms`` of quieter audio ends the user's turn. Replies are streamed
faster than real time (``chunk_interval`` seconds per 100 ms of audio), as the real services do.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import ipaddress
import json
import ssl
import struct
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from aiohttp import WSCloseCode, WSMsgType, web

from provision.demo.fakes.openai import sine_pcm, usage_for

OUTPUT_SAMPLE_RATE = 24000
SPEECH_LEVEL = 300
_CHUNK_MS = 100


@dataclass(frozen=True)
class ToolCall:
    """A function call the model makes instead of answering at once."""

    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class ExchangeScript:
    """What the fake does for one user exchange.

    Attributes:
        user_transcript: The transcription of what the user said.
        reply: What the bot answers (its transcript; the audio is a tone of ``audio_seconds``).
        audio_seconds: Length of the bot's spoken answer.
        reply_delay: Seconds between the end of the user's speech and the answer.
        tool_call: A function call made first; the answer follows the client's function result.
        failure: An error message: the exchange fails instead of being answered (OpenAI: an ``error`` event;
            Gemini: the websocket closes with 1011 and this reason, and so do the reconnections, see
            :class:`FakeGeminiLive`).
    """

    user_transcript: str
    reply: str
    audio_seconds: float = 0.4
    reply_delay: float = 0.05
    tool_call: ToolCall | None = None
    failure: str | None = None


def default_exchange(number: int) -> ExchangeScript:
    """The exchange played when the script has no entry for ``number``."""
    return ExchangeScript(f"User utterance number {number}.", f"This is spoken reply number {number}.")


def response_usage(prompt: Sequence[str], output: str) -> dict[str, int]:
    """Tokens one response reports: :func:`provision.demo.fakes.openai.usage_for` over the texts.

    ``prompt`` is the user's transcript (plus the function result for the answer after a tool call; nothing
    for a greeting); ``output`` the bot's reply, or the arguments JSON of a function call. All input tokens
    are reported as audio tokens, all output tokens as audio tokens too (speech in, speech out).
    """
    return usage_for([{"content": text} for text in prompt], output)


@dataclass
class ResponseRecord:
    """One model response within an exchange."""

    kind: str  # "audio", "tool_call" or "greeting"
    text: str
    usage: dict[str, int]
    status: str = "in_progress"  # then "completed" or "cancelled"


@dataclass
class ExchangeRecord:
    """What happened in one exchange (0: responses the client asked for before the user spoke)."""

    number: int
    user_transcript: str = ""
    responses: list[ResponseRecord] = field(default_factory=list)
    tool_output: Any = None
    truncated_at_ms: int | None = None
    failed: str | None = None
    speech_started_at: float | None = None
    speech_stopped_at: float | None = None

    @property
    def prompt_tokens(self) -> int:
        """Input tokens over this exchange's responses."""
        return sum(r.usage["prompt_tokens"] for r in self.responses)

    @property
    def completion_tokens(self) -> int:
        """Output tokens over this exchange's responses."""
        return sum(r.usage["completion_tokens"] for r in self.responses)


@dataclass
class RealtimeSession:
    """One websocket connection and everything it carried."""

    number: int
    model: str = ""
    instructions: str | None = None
    tools: list[Any] = field(default_factory=list)
    exchanges: list[ExchangeRecord] = field(default_factory=list)
    client_events: list[str] = field(default_factory=list)
    closed_with: str | None = None

    def exchange(self, number: int) -> ExchangeRecord:
        """The record of exchange ``number`` (0 for the greeting)."""
        return next(e for e in self.exchanges if e.number == number)


class _ServerVAD:
    """Turns a stream of 16-bit PCM chunks into speech start and stop decisions, on audio time."""

    def __init__(self, silence_ms: int) -> None:
        self.silence_ms = silence_ms
        self.audio_ms = 0.0
        self.speaking = False
        self._quiet_ms = 0.0

    def feed(self, pcm: bytes, sample_rate: int) -> str | None:
        """Account for one chunk; return ``"started"``, ``"stopped"`` or ``None``."""
        samples = len(pcm) // 2
        if samples == 0:
            return None
        level = sum(abs(s) for (s,) in struct.iter_unpack("<h", pcm[: samples * 2])) / samples
        chunk_ms = samples * 1000 / sample_rate
        self.audio_ms += chunk_ms
        if level > SPEECH_LEVEL:
            self._quiet_ms = 0.0
            if not self.speaking:
                self.speaking = True
                return "started"
        elif self.speaking:
            self._quiet_ms += chunk_ms
            if self._quiet_ms >= self.silence_ms:
                self.speaking = False
                return "stopped"
        return None


class _FakeBase:
    """What both fakes share: an aiohttp server on 127.0.0.1, the script, the session records."""

    def __init__(
        self,
        *,
        script: Sequence[ExchangeScript],
        greeting: str,
        silence_ms: int,
        chunk_interval: float,
    ) -> None:
        self.script = list(script)
        self.greeting = greeting
        self.silence_ms = silence_ms
        self.chunk_interval = chunk_interval
        self.sessions: list[RealtimeSession] = []
        self.port = 0
        self._runner: web.AppRunner | None = None

    def script_for(self, number: int) -> ExchangeScript:
        """The script of exchange ``number`` (from 1)."""
        return self.script[number - 1] if number <= len(self.script) else default_exchange(number)

    def _routes(self, app: web.Application) -> None:
        raise NotImplementedError

    def _ssl_context(self) -> ssl.SSLContext | None:
        return None

    async def start(self) -> Self:
        """Start listening on a free port of 127.0.0.1."""
        app = web.Application()
        self._routes(app)
        app.router.add_get("/_fake/sessions", self._list_sessions)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=self._ssl_context())
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        """Stop the server and close its connections."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    def exchanges(self) -> list[ExchangeRecord]:
        """Every exchange of every session, in order."""
        return [e for s in self.sessions for e in s.exchanges]

    async def _list_sessions(self, _request: web.Request) -> web.Response:
        return web.json_response([asdict(s) for s in self.sessions])

    def _new_session(self) -> RealtimeSession:
        session = RealtimeSession(len(self.sessions) + 1)
        self.sessions.append(session)
        return session

    async def stream_audio(
        self, seconds: float, text: str, send_chunk: Callable[[bytes, str], Awaitable[None]]
    ) -> None:
        """Send ``seconds`` of tone in 100 ms chunks, the reply's words spread over them."""
        pcm = sine_pcm(seconds, OUTPUT_SAMPLE_RATE)
        step = OUTPUT_SAMPLE_RATE * 2 * _CHUNK_MS // 1000
        chunks = [pcm[i : i + step] for i in range(0, len(pcm), step)] or [b""]
        words = text.split(" ")
        for index, chunk in enumerate(chunks):
            first = index * len(words) // len(chunks)
            last = (index + 1) * len(words) // len(chunks)
            piece = " ".join(words[first:last])
            await send_chunk(chunk, piece + (" " if piece and last < len(words) else ""))
            await asyncio.sleep(self.chunk_interval)


class FakeOpenAIRealtime(_FakeBase):
    """The OpenAI Realtime API (GA event names, as ``OpenAIRealtimeLLMService`` 1.14 handles them).

    Point the service at :attr:`url` (``base_url=``) with any API key.
    """

    def __init__(
        self,
        *,
        script: Sequence[ExchangeScript] = (),
        greeting: str = "Hello, how can I help you today?",
        silence_ms: int = 200,
        chunk_interval: float = 0.01,
    ) -> None:
        super().__init__(script=script, greeting=greeting, silence_ms=silence_ms, chunk_interval=chunk_interval)

    @property
    def url(self) -> str:
        """The websocket base URL to give the service (it appends ``?model=…``)."""
        return f"ws://127.0.0.1:{self.port}/v1/realtime"

    def _routes(self, app: web.Application) -> None:
        app.router.add_get("/v1/realtime", self._connect)

    async def _connect(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        session = self._new_session()
        session.model = request.query.get("model", "")
        conversation = _RealtimeConversation(self, session, ws)
        await conversation.run()
        return ws


class _RealtimeConversation:
    """One OpenAI Realtime connection: reads client events, plays the script."""

    def __init__(self, fake: FakeOpenAIRealtime, session: RealtimeSession, ws: web.WebSocketResponse) -> None:
        self.fake = fake
        self.session = session
        self.ws = ws
        self.vad = _ServerVAD(fake.silence_ms)
        self.properties: dict[str, Any] = {"type": "realtime", "object": "realtime.session", "id": _id("sess")}
        self.user_item = ""
        self.responding: asyncio.Task[None] | None = None
        self.awaiting_tool: ExchangeRecord | None = None
        self.tasks: set[asyncio.Task[None]] = set()
        self.last_item_exchange: dict[str, ExchangeRecord] = {}

    async def send(self, event: dict[str, Any]) -> None:
        if not self.ws.closed:
            await self.ws.send_str(json.dumps({"event_id": _id("event"), **event}))

    async def run(self) -> None:
        self.properties["model"] = self.session.model
        await self.send({"type": "session.created", "session": self.properties})
        try:
            async for message in self.ws:
                if message.type != WSMsgType.TEXT:
                    break
                await self.handle(json.loads(message.data))
        finally:
            for task in self.tasks:
                task.cancel()

    async def handle(self, event: dict[str, Any]) -> None:
        kind = str(event.get("type"))
        if kind != "input_audio_buffer.append":
            self.session.client_events.append(kind)
        if kind == "session.update":
            self.properties.update(event.get("session") or {})
            self.session.instructions = self.properties.get("instructions")
            self.session.tools = list(self.properties.get("tools") or [])
            await self.send({"type": "session.updated", "session": self.properties})
        elif kind == "input_audio_buffer.append":
            await self.audio(base64.b64decode(event.get("audio", "")))
        elif kind == "conversation.item.create":
            await self.item_created(event.get("item") or {})
        elif kind == "conversation.item.truncate":
            exchange = self.last_item_exchange.get(str(event.get("item_id")))
            if exchange is not None:
                exchange.truncated_at_ms = int(event.get("audio_end_ms", 0))
            await self.send(
                {
                    "type": "conversation.item.truncated",
                    "item_id": event.get("item_id"),
                    "content_index": event.get("content_index", 0),
                    "audio_end_ms": event.get("audio_end_ms", 0),
                }
            )
        elif kind == "response.create":
            self.client_response()
        elif kind == "response.cancel" and not self.cancel_response():
            await self.error("response_cancel_not_active", "There is no active response to cancel.")

    async def audio(self, pcm: bytes) -> None:
        decision = self.vad.feed(pcm, OUTPUT_SAMPLE_RATE)
        if decision == "started":
            number = len([e for e in self.session.exchanges if e.number > 0]) + 1
            exchange = ExchangeRecord(number, speech_started_at=time.time())
            self.session.exchanges.append(exchange)
            self.user_item = _id("item")
            await self.send(
                {
                    "type": "input_audio_buffer.speech_started",
                    "audio_start_ms": max(0, int(self.vad.audio_ms) - 300),
                    "item_id": self.user_item,
                }
            )
            # Server VAD's interrupt_response: the answer being generated is cancelled.
            self.cancel_response()
        elif decision == "stopped":
            exchange = self.session.exchanges[-1]
            exchange.speech_stopped_at = time.time()
            await self.send(
                {
                    "type": "input_audio_buffer.speech_stopped",
                    "audio_end_ms": int(self.vad.audio_ms),
                    "item_id": self.user_item,
                }
            )
            self.spawn(self.answer_user(exchange, self.user_item))

    def spawn(self, coroutine: Awaitable[None]) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.ensure_future(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    async def answer_user(self, exchange: ExchangeRecord, item_id: str) -> None:
        script = self.fake.script_for(exchange.number)
        await self.send({"type": "input_audio_buffer.committed", "previous_item_id": None, "item_id": item_id})
        user_item = {"id": item_id, "object": "realtime.item", "type": "message", "status": "completed", "role": "user"}
        await self.send(
            {"type": "conversation.item.added", "item": {**user_item, "content": [{"type": "input_audio"}]}}
        )
        exchange.user_transcript = script.user_transcript
        transcription = {"item_id": item_id, "content_index": 0}
        delta = {"type": "conversation.item.input_audio_transcription.delta", "delta": script.user_transcript}
        await self.send({**delta, **transcription})
        completed = {"type": "conversation.item.input_audio_transcription.completed"}
        await self.send({**completed, **transcription, "transcript": script.user_transcript})
        if script.failure is not None:
            exchange.failed = script.failure
            await self.error("server_error", script.failure)
            return
        await asyncio.sleep(script.reply_delay)
        if script.tool_call is not None:
            self.start_response(self.tool_call_response(exchange, script.tool_call, [script.user_transcript]))
        else:
            record = ResponseRecord("audio", script.reply, response_usage([script.user_transcript], script.reply))
            self.start_response(self.audio_response(exchange, record, script.audio_seconds))

    def client_response(self) -> None:
        """A ``response.create``: the answer after a function result, or a greeting."""
        exchange = self.awaiting_tool
        if exchange is not None and exchange.tool_output is not None:
            self.awaiting_tool = None
            script = self.fake.script_for(exchange.number)
            prompt = [exchange.user_transcript, json.dumps(exchange.tool_output)]
            record = ResponseRecord("audio", script.reply, response_usage(prompt, script.reply))
            self.start_response(self.audio_response(exchange, record, script.audio_seconds))
            return
        exchange = self.session.exchanges[-1] if self.session.exchanges else None
        if exchange is None:
            exchange = ExchangeRecord(0)
            self.session.exchanges.append(exchange)
        record = ResponseRecord("greeting", self.fake.greeting, response_usage([], self.fake.greeting))
        self.start_response(self.audio_response(exchange, record, 0.5))

    def start_response(self, coroutine: Awaitable[None]) -> None:
        self.responding = self.spawn(coroutine)

    def cancel_response(self) -> bool:
        if self.responding is None or self.responding.done():
            return False
        self.responding.cancel()
        return True

    async def item_created(self, item: dict[str, Any]) -> None:
        item = {"id": _id("item"), **item, "object": "realtime.item", "status": "completed"}
        if item.get("type") == "function_call_output" and self.awaiting_tool is not None:
            output = item.get("output")
            try:
                self.awaiting_tool.tool_output = json.loads(output) if isinstance(output, str) else output
            except json.JSONDecodeError:
                self.awaiting_tool.tool_output = output
        await self.send({"type": "conversation.item.added", "previous_item_id": None, "item": item})
        await self.send({"type": "conversation.item.done", "previous_item_id": None, "item": item})

    async def tool_call_response(self, exchange: ExchangeRecord, call: ToolCall, prompt: list[str]) -> None:
        arguments = json.dumps(call.arguments)
        record = ResponseRecord("tool_call", arguments, response_usage(prompt, arguments))
        exchange.responses.append(record)
        response_id = _id("resp")
        call_id = _id("call")
        item = {"id": _id("item"), "object": "realtime.item", "type": "function_call", "call_id": call_id}
        item |= {"name": call.name, "arguments": "", "status": "in_progress"}
        where = {"response_id": response_id, "item_id": item["id"], "output_index": 0, "call_id": call_id}
        await self.send({"type": "response.created", "response": _response(response_id, "in_progress", [])})
        await self.send(
            {"type": "response.output_item.added", "response_id": response_id, "output_index": 0, "item": item}
        )
        await self.send({"type": "conversation.item.added", "previous_item_id": None, "item": item})
        await self.send({"type": "response.function_call_arguments.delta", **where, "delta": arguments})
        self.awaiting_tool = exchange
        await self.send({"type": "response.function_call_arguments.done", **where, "arguments": arguments})
        done_item = {**item, "arguments": arguments, "status": "completed"}
        await self.send(
            {"type": "response.output_item.done", "response_id": response_id, "output_index": 0, "item": done_item}
        )
        await self.send({"type": "conversation.item.done", "previous_item_id": None, "item": done_item})
        record.status = "completed"
        done = _response(response_id, "completed", [done_item], _realtime_usage(record.usage))
        await self.send({"type": "response.done", "response": done})

    async def audio_response(self, exchange: ExchangeRecord, record: ResponseRecord, seconds: float) -> None:
        exchange.responses.append(record)
        response_id = _id("resp")
        item_id = _id("item")
        item: dict[str, Any] = {"id": item_id, "object": "realtime.item", "type": "message", "role": "assistant"}
        item |= {"status": "in_progress", "content": []}
        self.last_item_exchange[item_id] = exchange
        where = {"response_id": response_id, "item_id": item["id"], "output_index": 0, "content_index": 0}
        await self.send({"type": "response.created", "response": _response(response_id, "in_progress", [])})
        await self.send(
            {"type": "response.output_item.added", "response_id": response_id, "output_index": 0, "item": item}
        )
        await self.send({"type": "conversation.item.added", "previous_item_id": None, "item": item})
        await self.send(
            {"type": "response.content_part.added", **where, "part": {"type": "output_audio", "transcript": ""}}
        )

        async def send_chunk(pcm: bytes, words: str) -> None:
            if words:
                await self.send({"type": "response.output_audio_transcript.delta", **where, "delta": words})
            await self.send({"type": "response.output_audio.delta", **where, "delta": base64.b64encode(pcm).decode()})

        try:
            await self.fake.stream_audio(seconds, record.text, send_chunk)
        except asyncio.CancelledError:
            record.status = "cancelled"
            cancelled = _response(
                response_id, "cancelled", [{**item, "status": "incomplete"}], _realtime_usage(record.usage)
            )
            cancelled["status_details"] = {"type": "cancelled", "reason": "turn_detected"}
            await self.send({"type": "response.done", "response": cancelled})
            raise
        part = {"type": "output_audio", "transcript": record.text}
        await self.send({"type": "response.output_audio.done", **where})
        await self.send({"type": "response.output_audio_transcript.done", **where, "transcript": record.text})
        await self.send({"type": "response.content_part.done", **where, "part": part})
        done_item = {**item, "status": "completed", "content": [part]}
        await self.send(
            {"type": "response.output_item.done", "response_id": response_id, "output_index": 0, "item": done_item}
        )
        await self.send({"type": "conversation.item.done", "previous_item_id": None, "item": done_item})
        record.status = "completed"
        done = _response(response_id, "completed", [done_item], _realtime_usage(record.usage))
        await self.send({"type": "response.done", "response": done})

    async def error(self, code: str, message: str) -> None:
        error = {"type": "server_error" if code == "server_error" else "invalid_request_error", "code": code}
        await self.send({"type": "error", "error": {**error, "message": message, "param": None, "event_id": None}})


def _id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:20]}"


def _response(response_id: str, status: str, output: list[Any], usage: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {"id": response_id, "object": "realtime.response", "status": status, "output": output}
    response["output_modalities"] = ["audio"]
    if usage is not None:
        response["usage"] = usage
    return response


def _realtime_usage(usage: dict[str, int]) -> dict[str, Any]:
    prompt, completion = usage["prompt_tokens"], usage["completion_tokens"]
    return {
        "total_tokens": prompt + completion,
        "input_tokens": prompt,
        "output_tokens": completion,
        "input_token_details": {
            "cached_tokens": 0,
            "text_tokens": 0,
            "audio_tokens": prompt,
            "image_tokens": 0,
            "cached_tokens_details": {"text_tokens": 0, "audio_tokens": 0},
        },
        "output_token_details": {"text_tokens": 0, "audio_tokens": completion},
    }


class FakeGeminiLive(_FakeBase):
    """Gemini Live's ``BidiGenerateContent`` websocket, as google-genai's live client speaks it.

    Give the service ``http_options=fake.http_options()`` and any API key. A failing exchange closes the
    websocket with 1011; ``GeminiLiveLLMService`` then reconnects, and the next ``failed_reconnects``
    connections are closed the same way right after ``setupComplete``, so the service's third consecutive
    failure (its ``MAX_CONSECUTIVE_FAILURES``) pushes an ``ErrorFrame``. With ``failed_reconnects=0`` the
    first reconnection succeeds and the failure stays a logged warning.
    """

    def __init__(
        self,
        *,
        script: Sequence[ExchangeScript] = (),
        greeting: str = "Hello, how can I help you today?",
        silence_ms: int = 200,
        chunk_interval: float = 0.01,
        failed_reconnects: int = 2,
    ) -> None:
        super().__init__(script=script, greeting=greeting, silence_ms=silence_ms, chunk_interval=chunk_interval)
        self.failed_reconnects = failed_reconnects
        self._failing: list[str] = []

    @property
    def url(self) -> str:
        """The ``base_url`` for ``HttpOptions`` (google-genai turns it into ``wss://…/ws/…``)."""
        return f"https://127.0.0.1:{self.port}"

    def client_ssl_context(self) -> ssl.SSLContext:
        """A client TLS context that trusts this fake's self-signed certificate."""
        return ssl.create_default_context(cadata=_certificate()[0])

    def http_options(self) -> Any:
        """``google.genai.types.HttpOptions`` aimed at this fake, trusting its certificate."""
        from google.genai.types import HttpOptions

        return HttpOptions(base_url=self.url, async_client_args={"ssl": self.client_ssl_context()})

    def _ssl_context(self) -> ssl.SSLContext:
        certificate, key = _certificate()
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        with tempfile.TemporaryDirectory() as folder:
            cert_file, key_file = Path(folder, "cert.pem"), Path(folder, "key.pem")
            cert_file.write_text(certificate)
            key_file.write_text(key)
            context.load_cert_chain(cert_file, key_file)
        return context

    def _routes(self, app: web.Application) -> None:
        app.router.add_get("/ws/{method}", self._connect)

    async def _connect(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        session = self._new_session()
        await _LiveConversation(self, session, ws).run()
        return ws

    def fail_next_connections(self, reason: str) -> None:
        """Have the next ``failed_reconnects`` connections closed with 1011 and ``reason``."""
        self._failing = [reason] * self.failed_reconnects

    def pop_failure(self) -> str | None:
        """The reason the connection just set up must fail with, if any."""
        return self._failing.pop() if self._failing else None


class _LiveConversation:
    """One Gemini Live connection: reads client messages, plays the script."""

    def __init__(self, fake: FakeGeminiLive, session: RealtimeSession, ws: web.WebSocketResponse) -> None:
        self.fake = fake
        self.session = session
        self.ws = ws
        self.vad = _ServerVAD(fake.silence_ms)
        self.responding: asyncio.Task[None] | None = None
        self.awaiting_tool: ExchangeRecord | None = None
        self.tasks: set[asyncio.Task[None]] = set()

    async def send(self, message: dict[str, Any]) -> None:
        if not self.ws.closed:
            await self.ws.send_str(json.dumps(message))

    async def close(self, reason: str) -> None:
        self.session.closed_with = reason
        await self.ws.close(code=WSCloseCode.INTERNAL_ERROR, message=reason.encode())

    async def run(self) -> None:
        try:
            async for message in self.ws:
                if message.type != WSMsgType.TEXT:
                    break
                await self.handle(json.loads(message.data))
        finally:
            for task in self.tasks:
                task.cancel()

    async def handle(self, message: dict[str, Any]) -> None:
        name = next(iter(message), "")
        body = message.get(name) or {}
        if name not in ("realtimeInput", "realtime_input"):
            self.session.client_events.append(_camel(name))
        if name == "setup":
            self.session.model = str(body.get("model", ""))
            instruction = body.get("systemInstruction") or body.get("system_instruction") or {}
            texts = (
                [str(p.get("text", "")) for p in instruction.get("parts", [])] if isinstance(instruction, dict) else []
            )
            self.session.instructions = "".join(texts) or None
            self.session.tools = list(body.get("tools") or [])
            await self.send({"setupComplete": {}})
            reason = self.fake.pop_failure()
            if reason is not None:
                await self.close(reason)
        elif name in ("realtimeInput", "realtime_input"):
            for blob in _blobs(body):
                await self.audio(_b64decode(str(blob.get("data", ""))), _rate(blob))
        elif name in ("clientContent", "client_content") and (body.get("turnComplete") or body.get("turn_complete")):
            self.client_turn()
        elif name in ("toolResponse", "tool_response"):
            responses = body.get("functionResponses") or body.get("function_responses") or []
            self.tool_response(responses)

    async def audio(self, pcm: bytes, sample_rate: int) -> None:
        decision = self.vad.feed(pcm, sample_rate)
        if decision == "started":
            self.cancel_response()
            number = len([e for e in self.session.exchanges if e.number > 0]) + 1
            self.session.exchanges.append(ExchangeRecord(number, speech_started_at=time.time()))
        elif decision == "stopped":
            exchange = self.session.exchanges[-1]
            exchange.speech_stopped_at = time.time()
            self.spawn(self.answer_user(exchange))

    def spawn(self, coroutine: Awaitable[None]) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.ensure_future(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    def cancel_response(self) -> None:
        if self.responding is not None and not self.responding.done():
            self.responding.cancel()

    async def answer_user(self, exchange: ExchangeRecord) -> None:
        script = self.fake.script_for(exchange.number)
        exchange.user_transcript = script.user_transcript
        words = script.user_transcript.split(" ")
        half = (len(words) + 1) // 2
        for piece in (" ".join(words[:half]), " " + " ".join(words[half:])):
            if piece.strip():
                await self.send({"serverContent": {"inputTranscription": {"text": piece}}})
        if script.failure is not None:
            exchange.failed = script.failure
            self.fake.fail_next_connections(script.failure)
            await self.close(script.failure)
            return
        await asyncio.sleep(script.reply_delay)
        if script.tool_call is not None:
            arguments = json.dumps(script.tool_call.arguments)
            exchange.responses.append(ResponseRecord("tool_call", arguments, response_usage([], ""), "completed"))
            self.awaiting_tool = exchange
            call = {"id": _id("call"), "name": script.tool_call.name, "args": script.tool_call.arguments}
            await self.send({"toolCall": {"functionCalls": [call]}})
            return
        record = ResponseRecord("audio", script.reply, response_usage([script.user_transcript], script.reply))
        self.responding = self.spawn(self.audio_response(exchange, record, script.audio_seconds))

    def client_turn(self) -> None:
        """Client content that completes a turn (the seeded context of an ``LLMRunFrame``): a greeting."""
        exchange = self.session.exchanges[-1] if self.session.exchanges else None
        if exchange is None:
            exchange = ExchangeRecord(0)
            self.session.exchanges.append(exchange)
        record = ResponseRecord("greeting", self.fake.greeting, response_usage([], self.fake.greeting))
        self.responding = self.spawn(self.audio_response(exchange, record, 0.5))

    def tool_response(self, responses: list[dict[str, Any]]) -> None:
        exchange = self.awaiting_tool
        if exchange is None or not responses:
            return
        self.awaiting_tool = None
        exchange.tool_output = responses[0].get("response")
        script = self.fake.script_for(exchange.number)
        prompt = [exchange.user_transcript, json.dumps(exchange.tool_output)]
        record = ResponseRecord("audio", script.reply, response_usage(prompt, script.reply))
        self.responding = self.spawn(self.audio_response(exchange, record, script.audio_seconds))

    async def audio_response(self, exchange: ExchangeRecord, record: ResponseRecord, seconds: float) -> None:
        exchange.responses.append(record)

        async def send_chunk(pcm: bytes, words: str) -> None:
            blob = {"mimeType": f"audio/pcm;rate={OUTPUT_SAMPLE_RATE}", "data": base64.b64encode(pcm).decode()}
            await self.send({"serverContent": {"modelTurn": {"role": "model", "parts": [{"inlineData": blob}]}}})
            if words:
                await self.send({"serverContent": {"outputTranscription": {"text": words}}})

        try:
            await self.fake.stream_audio(seconds, record.text, send_chunk)
        except asyncio.CancelledError:
            record.status = "cancelled"
            await self.send({"serverContent": {"interrupted": True}})
            await self.send({"serverContent": {"turnComplete": True}, "usageMetadata": _gemini_usage(record.usage)})
            raise
        record.status = "completed"
        await self.send({"serverContent": {"generationComplete": True}})
        await self.send({"serverContent": {"turnComplete": True}, "usageMetadata": _gemini_usage(record.usage)})


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _blobs(realtime_input: dict[str, Any]) -> list[dict[str, Any]]:
    audio = realtime_input.get("audio")
    chunks = realtime_input.get("mediaChunks") or realtime_input.get("media_chunks") or []
    return [b for b in [audio, *chunks] if isinstance(b, dict) and "audio/pcm" in str(_mime(b))]


def _b64decode(data: str) -> bytes:
    """google-genai sends bytes as URL-safe base64 without padding."""
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))


def _mime(blob: dict[str, Any]) -> str:
    return str(blob.get("mimeType") or blob.get("mime_type") or "")


def _rate(blob: dict[str, Any]) -> int:
    _, _, rate = _mime(blob).partition("rate=")
    return int(rate) if rate.isdigit() else 16000


def _gemini_usage(usage: dict[str, int]) -> dict[str, Any]:
    prompt, completion = usage["prompt_tokens"], usage["completion_tokens"]
    return {
        "promptTokenCount": prompt,
        "responseTokenCount": completion,
        "totalTokenCount": prompt + completion,
        "promptTokensDetails": [{"modality": "AUDIO", "tokenCount": prompt}],
        "responseTokensDetails": [{"modality": "AUDIO", "tokenCount": completion}],
    }


_CERTIFICATE: tuple[str, str] | None = None


def _certificate() -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1 and its key (PEM), made once per process."""
    global _CERTIFICATE
    if _CERTIFICATE is None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
        now = datetime.datetime.now(datetime.UTC)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256())
        )
        key_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        _CERTIFICATE = (certificate.public_bytes(serialization.Encoding.PEM).decode(), key_pem.decode())
    return _CERTIFICATE
