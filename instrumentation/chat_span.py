"""The OpenInference LLM span (``ChatCompletion``) of one LLM call, whatever the provider.

The request and the answer (text, tool calls, usage, model) are already at hand in the hooks, so the span
is written from them, under OpenInference's names, instead of by a provider SDK wrapper (OpenInference's
wrapper of the OpenAI client copies every request and proxies every streamed chunk, ~4 ms of CPU per
call). For an OpenAI-compatible service the request is the exact parameters it sends; for the others it
is the model and the conversation as Pipecat's context holds it (OpenAI's message format). OpenObserve
reads every family alike: input/output as messages, tokens, cost, session.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry.trace import Status, StatusCode

from instrumentation import contract as c
from instrumentation.runtime import RUNTIME, start_span
from instrumentation.session import current_session

# Inline media (data: URLs, base64 audio) longer than this is redacted, as OpenInference does.
_INLINE_MEDIA_LIMIT = 32_000
# Request parameters that are content, not settings (OpenInference leaves them out of the parameters).
_CONTENT_PARAMETERS = frozenset({"messages", "tools", "functions"})
_SYSTEM_ROLES = frozenset({"system", "developer"})


@dataclass
class ChatCall:
    """What one chat-completion request sent and got back."""

    started_ns: int
    params: Mapping[str, Any] | None = None
    provider: str = "openai"
    ended_ns: int | None = None
    response_model: str | None = None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)

    def add_tool_call(self, call_id: str, name: str, arguments: Any) -> None:
        """Record a tool call the model asked for."""
        self.tool_calls.append(
            {
                "id": call_id,
                "type": "function",
                "function": {"name": name, "arguments": _dumps(arguments)},
            }
        )


def emit_chat_span(
    call: ChatCall,
    parent: otel_context.Context,
    *,
    text: str | None,
    prompt_tokens: int | None,
    completion_tokens: int | None,
    error: BaseException | str | None,
    end_ns: int,
) -> None:
    """Write ``call`` as a finished ``ChatCompletion`` span, child of the span in ``parent``.

    ``error`` is the exception the call raised or the message of the error the service reported.
    """
    cancelled = isinstance(error, asyncio.CancelledError)
    answered = error is None or cancelled or text is not None or prompt_tokens is not None
    attributes: dict[str, str | int | float | bool] = {
        c.OI_SPAN_KIND: "LLM",
        c.OI_SYSTEM: call.provider,
        c.OI_PROVIDER: call.provider,
    }
    params = _without_unset(call.params or {})
    attributes[c.OI_INVOCATION_PARAMETERS] = _dumps({k: v for k, v in params.items() if k not in _CONTENT_PARAMETERS})
    if RUNTIME.capture_content:
        recent, omitted = _recent(params)
        attributes[c.OI_INPUT] = _dumps(_media_redacted(recent))
        if omitted:
            attributes[c.OMITTED_MESSAGES] = omitted
    else:
        attributes[c.OI_INPUT] = c.REDACTED
    attributes[c.OI_INPUT_MIME] = "application/json"
    if answered:
        model = call.response_model or str(params.get("model") or "") or None
        if model:
            attributes[c.OI_MODEL] = model
        usage = _usage(prompt_tokens, completion_tokens)
        if usage:
            attributes[c.OI_PROMPT_TOKENS] = usage["prompt_tokens"]
            attributes[c.OI_COMPLETION_TOKENS] = usage["completion_tokens"]
            attributes[c.OI_TOTAL_TOKENS] = usage["total_tokens"]
        if RUNTIME.capture_content:
            attributes[c.OI_OUTPUT] = _dumps(_response(text, call.tool_calls, model, usage))
        else:
            attributes[c.OI_OUTPUT] = c.REDACTED
        attributes[c.OI_OUTPUT_MIME] = "application/json"
    if cancelled:
        attributes[c.CANCELLED] = True
    session = current_session(parent)
    if session is not None:
        attributes.update(session.attributes())
    span = start_span(c.CHAT_SPAN, parent, attributes, call.started_ns)
    if isinstance(error, Exception):
        span.record_exception(error)
        span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
    elif isinstance(error, str):
        span.set_status(Status(StatusCode.ERROR, error[: c.ERROR_LIMIT]))
    elif error is None:
        span.set_status(Status(StatusCode.OK))
    span.end(end_time=max(call.ended_ns or end_ns, call.started_ns))


def _usage(prompt: int | None, completion: int | None) -> dict[str, int] | None:
    if prompt is None and completion is None:
        return None
    prompt, completion = prompt or 0, completion or 0
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _response(
    text: str | None, tool_calls: Sequence[dict[str, Any]], model: str | None, usage: dict[str, int] | None
) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": text}
    if tool_calls:
        message["tool_calls"] = list(tool_calls)
    response: dict[str, Any] = {"object": "chat.completion", "choices": [{"index": 0, "message": message}]}
    if model:
        response["model"] = model
    if usage:
        response["usage"] = usage
    return response


def _dumps(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


@cache
def _unset_types() -> tuple[type, ...]:
    """The OpenAI client's "not given" markers, which a request leaves out."""
    try:
        from openai import NotGiven, Omit
    except ImportError:
        return ()
    return (NotGiven, Omit)


def _without_unset(params: Mapping[str, Any]) -> dict[str, Any]:
    unset = _unset_types()
    return {k: v for k, v in params.items() if v is not None and not isinstance(v, unset)}


def _recent(params: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """``params`` with the conversation cut to its system prompt and latest messages, and how many were left out.

    Cut before serialising: a long conversation's every turn then costs what its first ones cost.
    """
    messages = params.get("messages")
    if not isinstance(messages, list) or len(messages) <= c.INPUT_MESSAGES_LIMIT:
        return params, 0
    lead = 0
    while lead < len(messages) and isinstance(messages[lead], dict) and messages[lead].get("role") in _SYSTEM_ROLES:
        lead += 1
    kept = messages[:lead] + messages[max(lead, len(messages) - c.INPUT_MESSAGES_LIMIT) :]
    return {**params, "messages": kept}, len(messages) - len(kept)


def _media_redacted(params: dict[str, Any]) -> dict[str, Any]:
    """``params`` with long inline images and audio in its messages replaced (copies only what changes)."""
    messages = params.get("messages")
    if not isinstance(messages, list):
        return params
    changed: list[Any] | None = None
    for index, message in enumerate(messages):
        content = message.get("content") if isinstance(message, dict) else None
        if not isinstance(content, list):
            continue
        parts = [_redacted_part(part) for part in content]
        if any(new is not old for new, old in zip(parts, content, strict=True)):
            changed = list(messages) if changed is None else changed
            changed[index] = {**message, "content": parts}
    return params if changed is None else {**params, "messages": changed}


def _redacted_part(part: Any) -> Any:
    if not isinstance(part, dict):
        return part
    for kind, key in (("image_url", "url"), ("input_audio", "data")):
        media = part.get(kind)
        if isinstance(media, dict) and _too_long(media.get(key)):
            return {**part, kind: {**media, key: c.REDACTED}}
    return part


def _too_long(value: Any) -> bool:
    return isinstance(value, str) and len(value) > _INLINE_MEDIA_LIMIT and not value.startswith("http")
