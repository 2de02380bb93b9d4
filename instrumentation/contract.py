"""The span contract: every span name and attribute key this instrumentation emits.

OpenObserve stores each attribute as a column named after the key with every character outside
``[a-z0-9_]`` turned into ``_`` (``pipecat.voice_to_voice_ms`` → ``pipecat_voice_to_voice_ms``), and
stores every attribute value as a string: numeric columns need a ``CAST`` in SQL.

No key here triggers OpenObserve's LLM rewrite (``gen_ai.*``, ``llm.*``, ``input``, ``prompt`` …):
O2 sums ``gen_ai_usage_*`` over every span of a trace or session, so a second copy of the tokens on
our own spans would double every total. The OpenInference child span carries them instead.
"""

from __future__ import annotations

SCHEMA_VERSION = "1"

# Span names (the ``operation_name`` column).
TURN_SPAN = "pipecat.turn"
LLM_SPAN = "pipecat.llm_service"

# On every span of a session, ours and the OpenInference ones alike.
SESSION_ID = "pipecat.session_id"
OTEL_SESSION_ID = "session.id"  # read by O2 into gen_ai_conversation_id
OTEL_USER_ID = "user.id"
TURN_NUMBER = "pipecat.turn_number"

# pipecat.llm_service
SERVICE = "pipecat.service"
MODEL = "pipecat.model"
USER_MESSAGE = "pipecat.user_message"
ASSISTANT_MESSAGE = "pipecat.assistant_message"
PROMPT_TOKENS = "pipecat.prompt_tokens"
COMPLETION_TOKENS = "pipecat.completion_tokens"
TOTAL_TOKENS = "pipecat.total_tokens"
TTFB_MS = "pipecat.ttfb_ms"

# pipecat.turn (also PROMPT_TOKENS / COMPLETION_TOKENS: the sums over the turn's LLM calls)
VOICE_TO_VOICE_MS = "pipecat.voice_to_voice_ms"
STT_MS = "pipecat.stt_ms"
LLM_TTFB_MS = "pipecat.llm_ttfb_ms"
TTS_TTFB_MS = "pipecat.tts_ttfb_ms"
INTERRUPTED = "pipecat.interrupted"
SCHEMA = "pipecat.schema_version"

DEFAULT_CONTENT_LIMIT = 200


def column(key: str) -> str:
    """The OpenObserve column name an attribute key is stored under."""
    return "".join(c if c.isascii() and (c.isalnum() or c == "_") else "_" for c in key.lower())
