"""The span contract: every span name and attribute key this instrumentation emits.

OpenObserve stores each attribute as a column named after the key with every character outside
``[a-z0-9_]`` turned into ``_`` (``pipecat.voice_to_voice_ms`` → ``pipecat_voice_to_voice_ms``), and
stores every attribute value as a string: numeric columns need a ``CAST`` in SQL.

No key of our ``pipecat.*`` spans triggers OpenObserve's LLM rewrite (``gen_ai.*``, ``llm.*``,
``input``, ``prompt`` …): O2 sums ``gen_ai_usage_*`` over every span of a trace or session, so a second
copy of the tokens on our own spans would double every total. The OpenInference ``ChatCompletion``
child span carries them instead, under OpenInference's names (the last section), which O2 reads.
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
PROVIDER = "pipecat.provider"  # the provider's Pipecat package: openai, groq, anthropic, google, aws, …
MODEL = "pipecat.model"
USER_MESSAGE = "pipecat.user_message"
ASSISTANT_MESSAGE = "pipecat.assistant_message"
PROMPT_TOKENS = "pipecat.prompt_tokens"
COMPLETION_TOKENS = "pipecat.completion_tokens"
TOTAL_TOKENS = "pipecat.total_tokens"
TTFB_MS = "pipecat.ttfb_ms"
# ChatCompletion: how many of the conversation's older messages input.value leaves out (long conversations)
OMITTED_MESSAGES = "pipecat.omitted_messages"
# input.value keeps the leading system messages and at most this many of the latest others.
INPUT_MESSAGES_LIMIT = 50
CANCELLED = "pipecat.cancelled"  # true when the user barged in before the call finished (status UNSET)

# On a failed span, ours: the error as the service reported it (cut to ERROR_LIMIT characters).
ERROR = "pipecat.error"
ERROR_LIMIT = 500

# pipecat.turn (also PROMPT_TOKENS / COMPLETION_TOKENS: the sums over the turn's LLM calls)
VOICE_TO_VOICE_MS = "pipecat.voice_to_voice_ms"
# The end of the user's input (their speech, else their text) → the bot's first output (TTS audio where the
# pipeline speaks, else LLM text); for a bot that speaks, voice-to-voice less the output transport's start-up.
RESPONSE_MS = "pipecat.response_ms"
STT_MS = "pipecat.stt_ms"
LLM_TTFB_MS = "pipecat.llm_ttfb_ms"
TTS_TTFB_MS = "pipecat.tts_ttfb_ms"
INTERRUPTED = "pipecat.interrupted"
FAILED_STAGE = "pipecat.failed_stage"  # stt, llm, tts or tool: the first stage whose error failed the turn
TOOL_CALLS = "pipecat.tool_calls"  # function calls the turn ran
TOOL_MS = "pipecat.tool_ms"  # ms those calls took, summed
SCHEMA = "pipecat.schema_version"

DEFAULT_CONTENT_LIMIT = 200

# The ``ChatCompletion`` child of ``pipecat.llm_service``: OpenInference's semantic conventions, the
# same span whether OpenInference's OpenAI instrumentation or our pipeline hooks write it.
CHAT_SPAN = "ChatCompletion"
OI_SPAN_KIND = "openinference.span.kind"  # "LLM"
OI_SYSTEM = "llm.system"
OI_PROVIDER = "llm.provider"
OI_MODEL = "llm.model_name"  # the model the response names; absent when the call failed
OI_INVOCATION_PARAMETERS = "llm.invocation_parameters"
OI_PROMPT_TOKENS = "llm.token_count.prompt"
OI_COMPLETION_TOKENS = "llm.token_count.completion"
OI_TOTAL_TOKENS = "llm.token_count.total"
OI_INPUT = "input.value"  # the request JSON; O2 stores it as gen_ai_input_messages
OI_INPUT_MIME = "input.mime_type"
OI_OUTPUT = "output.value"  # the response JSON; O2 stores it as gen_ai_output_messages
OI_OUTPUT_MIME = "output.mime_type"
REDACTED = "__REDACTED__"  # input/output text when content capture is off

# A function call the LLM asked for: an OpenInference TOOL span under the turn. O2 reads it as
# ``execute_tool`` and counts no tokens on it.
TOOL_SPAN = "pipecat.tool_call"
OI_TOOL_NAME = "tool.name"
OI_TOOL_CALL_ID = "tool_call.id"


def column(key: str) -> str:
    """The OpenObserve column name an attribute key is stored under."""
    return "".join(c if c.isascii() and (c.isalnum() or c == "_") else "_" for c in key.lower())
