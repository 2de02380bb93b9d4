"""LLM span rewrite at ingestion (openobserve-llm.md §1–§3) for OpenInference / GenAI spans."""

from __future__ import annotations

import json
import re
from typing import Any

import pyarrow as pa

from .app import App
from .flatten import GEN_AI_FLOAT64_FIELDS, GEN_AI_INT64_FIELDS, SpanIn
from .pricing import cost_from_definition, cost_hardcoded, find_definition

TRIGGER_KEYS = {
    "gen_ai.operation.name",
    "gen_ai.request.model",
    "gen_ai.input.messages",
    "gen_ai.agent.name",
    "gen_ai.agent.id",
    "llm.request.type",
    "ai.model.id",
    "ai.prompt",
    "ai.prompt.messages",
    "llm.model_name",
    "langfuse.observation.type",
    "openinference.span.kind",
    "agent.name",
    "tool.name",
    "tool_call.function.name",
    "gcp.vertex.agent.name",
    "crewai.task.agent",
    "crewai.task.tools",
    "langchain.tool.name",
    "gcp.vertex.agent.llm_request",
    "prompt",
    "mlflow.spanInputs",
    "traceloop.span.kind",
    "input",
    "input.value",
}
REMOVED_EXACT = {
    "ai.prompt.messages",
    "ai.prompt",
    "ai.toolCall.args",
    "ai.response.text",
    "ai.result.text",
    "ai.toolCall.result",
    "ai.response.object",
    "ai.result.object",
    "ai.response.toolCalls",
    "ai.result.toolCalls",
    "gcp.vertex.agent.llm_request",
    "gcp.vertex.agent.llm_response",
    "gcp.vertex.agent.tool_call_args",
    "gcp.vertex.agent.tool_response",
    "prompt",
    "all_messages_events",
    "events",
    "lk.input_text",
    "lk.function_tool.output",
    "lk.response.text",
    "mlflow.spanInputs",
    "mlflow.spanOutputs",
    "traceloop.entity.input",
    "traceloop.entity.output",
    "input.value",
    "output.value",
    "input",
    "output",
    "tool_arguments",
    "tool_response",
    "gen_ai.input.messages",
    "gen_ai.output.messages",
    "gen_ai.tool.call.arguments",
    "gen_ai.tool.call.result",
    "langfuse.observation.input",
    "langfuse.observation.output",
}
REMOVED_PREFIXES = ("gen_ai.prompt", "gen_ai.completion", "llm.input_messages", "llm.output_messages")
KNOWN_OPS = {
    "chat",
    "text_completion",
    "generate_content",
    "embeddings",
    "invoke_agent",
    "create_agent",
    "execute_tool",
    "invoke_workflow",
    "retrieval",
}
GENERATION_OPS = {"chat", "text_completion", "generate_content", "embeddings"}
_OI_KIND = {
    "LLM": "chat",
    "CHAIN": "chain",
    "EMBEDDING": "embeddings",
    "AGENT": "invoke_agent",
    "TOOL": "execute_tool",
    "RETRIEVER": "retrieval",
    "EVALUATOR": "evaluator",
    "GUARDRAIL": "guardrail",
}


GEN_AI_SCHEMA_FIELDS: dict[str, pa.DataType] = {
    **{
        k: pa.string()
        for k in (
            "gen_ai_operation_name",
            "gen_ai_response_model",
            "gen_ai_provider_name",
            "gen_ai_agent_name",
            "gen_ai_agent_id",
            "gen_ai_agent_env",
            "gen_ai_agent_version",
            "gen_ai_input_messages",
            "gen_ai_output_messages",
            "gen_ai_system_instructions",
            "user_id",
            "gen_ai_conversation_id",
        )
    },
    **dict.fromkeys(GEN_AI_INT64_FIELDS, pa.int64()),
    **dict.fromkeys(GEN_AI_FLOAT64_FIELDS, pa.float64()),
    "_o2_ingest_ts": pa.int64(),
}


def is_llm_span(attrs: dict[str, Any], scope: str) -> bool:
    return scope == "ai" or any(k in attrs for k in TRIGGER_KEYS)


def _s(v: Any) -> str:
    if isinstance(v, str):
        return v
    return json.dumps(v, separators=(",", ":"))


def operation_name(a: dict[str, Any], scope: str) -> str:
    v = a.get("gen_ai.operation.name")
    if isinstance(v, str) and v.lower() in KNOWN_OPS:
        return v.lower()
    rt = str(a.get("llm.request.type", "")).lower()
    if rt:
        m = {"chat": "chat", "completion": "text_completion", "embedding": "embeddings", "rerank": "rerank"}.get(rt)
        if m:
            return m
    tk = str(a.get("traceloop.span.kind", "")).lower()
    if tk:
        m = {"workflow": "invoke_workflow", "task": "task", "agent": "invoke_agent", "tool": "execute_tool"}.get(tk)
        if m:
            return m
    ok = str(a.get("openinference.span.kind", "")).upper()
    if ok in _OI_KIND:
        return _OI_KIND[ok]
    lt = str(a.get("langfuse.observation.type", "")).lower()
    if lt:
        m = {"generation": "chat", "agent": "invoke_agent", "tool": "execute_tool", "embedding": "embeddings"}.get(lt)
        if m:
            return m
    if scope == "ai":
        return "chat"
    if "gen_ai.tool.name" in a or "gen_ai.tool.call.id" in a:
        return "execute_tool"
    if any(
        k in a
        for k in (
            "gen_ai.request.model",
            "gen_ai.response.model",
            "ai.model.id",
            "llm.model_name",
            "llm.response.model",
            "model",
        )
    ):
        return "chat"
    return "span"


def _first(a: dict[str, Any], keys: tuple[str, ...]) -> Any:
    for k in keys:
        if k in a:
            return a[k]
    return None


def _nested(a: dict[str, Any], prefix: str) -> str | None:
    items: dict[int, dict[str, Any]] = {}
    for k, v in a.items():
        if not k.startswith(prefix + "."):
            continue
        rest = k[len(prefix) + 1 :].split(".")
        if not rest or not rest[0].isdigit():
            continue
        idx = min(int(rest[0]), 100)
        node = items.setdefault(idx, {})
        for seg in rest[1:-1]:
            node = node.setdefault(seg, {})
        if len(rest) > 1:
            node[rest[-1]] = v
    if not items:
        return None
    arr = [items.get(i, {}) for i in range(max(items) + 1)]
    return json.dumps(arr, separators=(",", ":"), ensure_ascii=False)


_IN_KEYS = (
    "langfuse.observation.input",
    "traceloop.entity.input",
    "gen_ai.input.messages",
    "gen_ai.tool.call.arguments",
)
_OUT_KEYS = (
    "langfuse.observation.output",
    "traceloop.entity.output",
    "gen_ai.output.messages",
    "gen_ai.tool.call.result",
)


def extract_io(a: dict[str, Any], scope: str) -> tuple[str | None, str | None]:
    ins = _first(a, _IN_KEYS)
    outs = _first(a, _OUT_KEYS)
    if ins is None and scope == "ai":
        ins = _first(a, ("ai.prompt.messages", "ai.prompt"))
        outs = outs if outs is not None else _first(a, ("ai.response.text", "ai.result.text"))
    if ins is None:
        ins = _first(a, ("gcp.vertex.agent.llm_request", "prompt", "lk.input_text", "mlflow.spanInputs", "input.value"))
    if outs is None:
        outs = _first(a, ("gcp.vertex.agent.llm_response", "lk.response.text", "mlflow.spanOutputs", "output.value"))
    if ins is None:
        ins = _first(a, ("input", "tool_arguments"))
    if outs is None:
        outs = _first(a, ("output", "tool_response"))
    if ins is None:
        ins = _nested(a, "llm.input_messages")
    if outs is None:
        outs = _nested(a, "llm.output_messages")
    return (None if ins is None else _s(ins)), (None if outs is None else _s(outs))


def _i64(v: Any) -> int:
    if isinstance(v, bool):
        return 0
    if isinstance(v, int):
        return v
    try:
        return int(str(v).strip())
    except ValueError:
        return 0


def _tok(a: dict[str, Any], keys: tuple[str, ...]) -> int | None:
    val: int | None = None
    for k in keys:
        for kk in (k, k.replace(".", "_")):
            if kk in a:
                n = _i64(a[kk])
                if n > 0:
                    val = n
    return val


def count_tokens(model: str, text: str) -> int:
    """tiktoken when installed; otherwise a rough BPE-like approximation."""
    try:
        import tiktoken

        try:
            enc = tiktoken.encoding_for_model(model)
        except Exception:
            enc = tiktoken.get_encoding("o200k_base")
        return len(enc.encode(text, allowed_special="all"))
    except Exception:
        return len(re.findall(r"\w+|[^\w\s]", text))


def _params(a: dict[str, Any]) -> dict[str, str]:
    raw = a.get("llm.invocation_parameters")
    obj: Any = None
    if isinstance(raw, str):
        try:
            obj = json.loads(raw, parse_float=str, parse_int=str)
        except ValueError:
            obj = None
    elif isinstance(raw, dict):
        obj = raw
    out: dict[str, str] = {}
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k == "model":
                continue
            if isinstance(v, str):
                out[k] = v
            elif isinstance(v, bool):
                out[k] = "true" if v else "false"
            elif v is None:
                out[k] = "null"
            else:
                out[k] = json.dumps(v, separators=(",", ":"))
    return out


def _lookup(span_a: dict[str, Any], res_a: dict[str, Any], keys: tuple[str, ...]) -> Any:
    v = _first(span_a, keys)
    if v is not None:
        return v
    for k in keys:
        for kk in (k, f"service_{k}"):
            if kk in res_a:
                return res_a[kk]
    return None


def process_span(app: App, org: str, span: SpanIn, res_attrs: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    a: dict[str, Any] = {}
    for k, v in span.attrs:
        a[k] = v
    if not is_llm_span(a, span.scope_name):
        return span.attrs
    res = dict(res_attrs)
    op = operation_name(a, span.scope_name)
    mv = _first(
        a,
        (
            "gen_ai.response.model",
            "ai.model.id",
            "gen_ai.request.model",
            "langfuse.observation.model.name",
            "llm.response.model",
            "llm.model_name",
            "model",
        ),
    )
    model = mv if isinstance(mv, str) else None
    provider = _first(
        a, ("gen_ai.provider.name", "gen_ai.system", "ai.model.provider", "langfuse.observation.metadata.ls_provider")
    )
    ins, outs = extract_io(a, span.scope_name)
    params = _params(a)
    inp = _tok(
        a,
        (
            "gen_ai.usage.input_tokens",
            "gen_ai.usage.prompt_tokens",
            "gen_ai.usage.prompt_cache_miss_tokens",
            "llm.token_count.prompt",
        ),
    )
    outp = _tok(a, ("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens", "llm.token_count.completion"))
    total = _tok(a, ("llm.usage.total_tokens", "gen_ai.usage.total_tokens"))
    cache_read = _tok(a, ("gen_ai.usage.cache_read.input_tokens", "gen_ai.usage.cache_read_input_tokens"))
    cache_create = _tok(a, ("gen_ai.usage.cache_creation.input_tokens", "gen_ai.usage.cache_creation_input_tokens"))
    conv = _lookup(
        a,
        res,
        (
            "session.id",
            "gen_ai.conversation.id",
            "ai.telemetry.metadata.sessionId",
            "langfuse.observation.metadata.langfuse_session_id",
            "langfuse.observation.metadata.session_id",
        ),
    )
    user = _lookup(a, res, ("user.id", "ai.telemetry.metadata.userId"))
    prompt_name = _first(a, ("gen_ai.prompt.name", "langfuse.observation.prompt.name"))
    tool_name = _first(
        a, ("gen_ai.tool.name", "tool.name", "tool_call.function.name", "langchain.tool.name", "crewai.task.tools")
    )
    agent_name = _lookup(
        a, res, ("gen_ai.agent.name", "agent.name", "llm.agent.name", "gcp.vertex.agent.name", "crewai.task.agent")
    )
    agent_id = _lookup(a, res, ("gen_ai.agent.id", "agent.id", "agent_id", "llm.agent.id", "llm.agent_id"))
    agent_ver = _lookup(a, res, ("gen_ai.agent.version", "service.version", "app.version", "git.commit.sha"))
    env = _lookup(
        a, res, ("deployment.environment.name", "deployment.environment", "env", "environment", "k8s.namespace.name")
    )
    span_cost = a.get("gen_ai.usage.cost")
    has_own_cost = span_cost is not None and _float(span_cost) > 0

    # 2. remove input/output attributes
    a = {k: v for k, v in a.items() if k not in REMOVED_EXACT and not k.startswith(REMOVED_PREFIXES)}

    # 3. usage and cost
    cost: dict[str, float] = {}
    if op in GENERATION_OPS:
        if inp is None and ins is not None:
            inp = count_tokens(model or "", json.dumps(ins, ensure_ascii=False)) or None
        if outp is None and outs is not None:
            outp = count_tokens(model or "", json.dumps(outs, ensure_ascii=False)) or None
    i_tok, o_tok = inp or 0, outp or 0
    if total is None:
        total = i_tok + o_tok
    if op in GENERATION_OPS and not has_own_cost and model:
        usage = {"input": i_tok, "output": o_tok}
        if cache_read:
            usage["cache_read_input_tokens"] = cache_read
        if cache_create:
            usage["cache_creation_input_tokens"] = cache_create
        d = find_definition(app, org, model, span.start_ns // 1000)
        cost = cost_from_definition(d, usage) if d is not None else (cost_hardcoded(model, i_tok, o_tok) or {})

    # 4. emit
    a["gen_ai.operation.name"] = op
    if model is not None:
        a["gen_ai.response.model"] = model
    if provider is not None:
        a["gen_ai.provider.name"] = _s(provider)
    if ins is not None:
        a["gen_ai.input.messages"] = ins
    if outs is not None:
        a["gen_ai.output.messages"] = outs
    for k, v in params.items():
        a[f"gen_ai.request.{k}"] = v
    a.setdefault("gen_ai.usage.input_tokens", i_tok)
    a.setdefault("gen_ai.usage.output_tokens", o_tok)
    a.setdefault("gen_ai.usage.total_tokens", total)
    if cache_read:
        a.setdefault("gen_ai.usage.cache_read_input_tokens", cache_read)
    if cache_create:
        a.setdefault("gen_ai.usage.cache_creation_input_tokens", cache_create)
    if "input" in cost:
        a.setdefault("gen_ai.usage.cost_input", cost["input"])
    if "output" in cost:
        a.setdefault("gen_ai.usage.cost_output", cost["output"])
    a.setdefault("gen_ai.usage.cost", cost.get("total", 0.0))
    if user is not None:
        a["user_id"] = _s(user)
    if conv is not None:
        a["gen_ai.conversation.id"] = _s(conv)
    if prompt_name is not None:
        a["gen_ai.prompt.name"] = _s(prompt_name)
    if tool_name is not None:
        a["gen_ai.tool.name"] = _s(tool_name)
    if agent_name is not None:
        a["gen_ai.agent.name"] = _s(agent_name)
    if agent_id is not None:
        a["gen_ai.agent.id"] = _s(agent_id)
    if agent_ver is not None:
        a["gen_ai.agent.version"] = _s(agent_ver)
    if env is not None:
        a["deployment.environment.name"] = _s(env)
    return list(a.items())


def _float(v: Any) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return 0.0
