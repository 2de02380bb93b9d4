"""Alert request body deserialization (§5.2): typed checks (422) and normalisation."""

from __future__ import annotations

import copy
from typing import Any

from .jsonbody import (
    DeserError,
    Path,
    as_bool,
    as_enum,
    as_int,
    as_list,
    as_map,
    as_str,
    invalid_type,
)

STREAM_TYPES = ["logs", "metrics", "traces", "enrichment_tables", "file_list", "metadata", "index"]
QUERY_TYPES = ["custom", "sql", "promql", "slo"]
API_OPERATORS = ["=", "!=", ">", ">=", "<", "<=", "Contains", "NotContains"]
COND_OPERATORS = ["=", "!=", ">", ">=", "<", "<=", "contains", "not_contains"]
COND_ALIASES = {"Contains": "contains", "NotContains": "not_contains"}
AGG_FUNCS = ["avg", "min", "max", "sum", "count", "median", "p50", "p75", "p90", "p95", "p99"]
SEARCH_EVENT_TYPES = [
    "ui",
    "dashboards",
    "reports",
    "alerts",
    "values",
    "other",
    "rum",
    "derivedstream",
    "searchjob",
    "download",
    "insights",
]


def _opt(body: dict[str, Any], key: str) -> Any:
    return body.get(key)


def parse_condition(v: Any, path: Path) -> dict[str, Any]:
    obj = as_map(v, path, "struct Condition")
    assert obj is not None
    for k in ("column", "operator", "value"):
        if k not in obj:
            raise DeserError(path, f"missing field `{k}`")
    op = obj["operator"]
    if isinstance(op, str) and op in COND_ALIASES:
        op = COND_ALIASES[op]
    op = as_enum(op, (*path, "operator"), COND_OPERATORS)
    out = {"column": as_str(obj["column"], (*path, "column")), "operator": op, "value": copy.deepcopy(obj["value"])}
    if obj.get("ignore_case") is not None:
        out["ignore_case"] = as_bool(obj["ignore_case"], (*path, "ignore_case"))
    return out


def parse_v1(v: Any, path: Path) -> Any:
    if isinstance(v, list):
        return {"and": [parse_v1(x, (*path, i)) for i, x in enumerate(v)]}
    if not isinstance(v, dict):
        raise DeserError(path, "data did not match any variant of untagged enum ConditionList")
    if "and" in v:
        return {"and": [parse_v1(x, (*path, "and", i)) for i, x in enumerate(as_list(v["and"], (*path, "and")) or [])]}
    if "or" in v:
        return {"or": [parse_v1(x, (*path, "or", i)) for i, x in enumerate(as_list(v["or"], (*path, "or")) or [])]}
    if "not" in v:
        return {"not": parse_v1(v["not"], (*path, "not"))}
    try:
        return parse_condition(v, path)
    except DeserError:
        raise DeserError(path, "data did not match any variant of untagged enum ConditionList") from None


def parse_v2_item(v: Any, path: Path) -> dict[str, Any]:
    obj = as_map(v, path, "struct FilterItem")
    assert obj is not None
    ft = obj.get("filterType")
    lo = obj.get("logicalOperator", "AND")
    lo = as_enum(lo, (*path, "logicalOperator"), ["AND", "OR"]) if lo is not None else "AND"
    if ft == "group":
        items = as_list(obj.get("conditions", []), (*path, "conditions")) or []
        return {
            "filterType": "group",
            "logicalOperator": lo,
            "conditions": [parse_v2_item(x, (*path, "conditions", i)) for i, x in enumerate(items)],
        }
    if ft == "condition":
        c = parse_condition(obj, path)
        out = {"filterType": "condition", **c, "logicalOperator": lo}
        return out
    raise DeserError(path, "data did not match any variant of untagged enum FilterItem")


def parse_conditions(v: Any, path: Path) -> Any:
    if v is None:
        return None
    if isinstance(v, dict) and isinstance(v.get("version"), int) and not isinstance(v.get("version"), bool):
        ver = v["version"]
        if ver != 2:
            raise DeserError(path, f"unsupported conditions version: {ver}")
        return {
            "version": 2,
            "conditions": parse_v2_item(
                v.get("conditions", {"filterType": "group", "conditions": []}), (*path, "conditions")
            ),
        }
    return parse_v1(v, path)


def parse_op_condition(v: Any, path: Path) -> dict[str, Any]:
    obj = as_map(v, path, "struct Condition")
    assert obj is not None
    for k in ("column", "operator", "value"):
        if k not in obj:
            raise DeserError(path, f"missing field `{k}`")
    out = {
        "column": as_str(obj["column"], (*path, "column")),
        "operator": as_enum(obj["operator"], (*path, "operator"), API_OPERATORS),
        "value": obj["value"],
    }
    if obj.get("ignore_case") is not None:
        out["ignore_case"] = as_bool(obj["ignore_case"], (*path, "ignore_case"))
    return out


def parse_query_condition(v: Any, path: Path) -> dict[str, Any]:
    obj = as_map(v, path, "struct QueryCondition") or {}
    qc: dict[str, Any] = {
        "type": as_enum(obj.get("type", "custom"), (*path, "type"), QUERY_TYPES, optional=True) or "custom",
        "conditions": parse_conditions(obj.get("conditions"), (*path, "conditions")),
        "sql": as_str(obj.get("sql"), (*path, "sql"), optional=True),
        "promql": as_str(obj.get("promql"), (*path, "promql"), optional=True),
        "promql_condition": None,
        "aggregation": None,
        "vrl_function": as_str(obj.get("vrl_function"), (*path, "vrl_function"), optional=True),
        "search_event_type": as_enum(
            obj.get("search_event_type"), (*path, "search_event_type"), SEARCH_EVENT_TYPES, optional=True
        ),
        "multi_time_range": obj.get("multi_time_range"),
    }
    if obj.get("promql_condition") is not None:
        qc["promql_condition"] = parse_op_condition(obj["promql_condition"], (*path, "promql_condition"))
    if obj.get("aggregation") is not None:
        ap = (*path, "aggregation")
        a = as_map(obj["aggregation"], ap, "struct Aggregation") or {}
        for k in ("function", "having"):
            if k not in a:
                raise DeserError(ap, f"missing field `{k}`")
        agg: dict[str, Any] = {
            "group_by": [
                as_str(x, (*ap, "group_by", i))
                for i, x in enumerate(as_list(a.get("group_by"), (*ap, "group_by"), optional=True) or [])
            ]
            if a.get("group_by") is not None
            else None,
            "function": as_enum(a["function"], (*ap, "function"), AGG_FUNCS),
            "having": parse_op_condition(a["having"], (*ap, "having")),
        }
        if a.get("warning_value") is not None:
            agg["warning_value"] = a["warning_value"]
        if a.get("multi_alert") is not None:
            agg["multi_alert"] = as_bool(a["multi_alert"], (*ap, "multi_alert"))
        qc["aggregation"] = agg
    if obj.get("promql_warning_value") is not None:
        qc["promql_warning_value"] = obj["promql_warning_value"]
    if obj.get("promql_multi_alert"):
        qc["promql_multi_alert"] = as_bool(obj["promql_multi_alert"], (*path, "promql_multi_alert"))
    if obj.get("slo_condition") is not None:
        qc["slo_condition"] = obj["slo_condition"]
    return qc


def parse_trigger_condition(v: Any, path: Path) -> dict[str, Any]:
    obj = as_map(v, path, "struct TriggerCondition") or {}

    def i64(key: str, default: int | None) -> int | None:
        val = obj.get(key)
        if val is None:
            return default
        return as_int(val, (*path, key))

    tc: dict[str, Any] = {
        "period": i64("period", 0),
        "operator": as_enum(obj.get("operator", "="), (*path, "operator"), API_OPERATORS, optional=True) or "=",
        "threshold": i64("threshold", 0),
        "frequency": i64("frequency", 0),
        "cron": as_str(obj.get("cron", ""), (*path, "cron"), optional=True) or "",
        "frequency_type": as_enum(
            obj.get("frequency_type", "minutes"), (*path, "frequency_type"), ["minutes", "cron"], optional=True
        )
        or "minutes",
        "silence": i64("silence", 0),
        "tolerance_in_secs": i64("tolerance_in_secs", None),
        "align_time": True if obj.get("align_time") is None else as_bool(obj["align_time"], (*path, "align_time")),
    }
    if obj.get("timezone") is not None:
        tc["timezone"] = as_str(obj["timezone"], (*path, "timezone"))
    if obj.get("warning_threshold") is not None:
        tc["warning_threshold"] = as_int(obj["warning_threshold"], (*path, "warning_threshold"))
    if obj.get("notify_on_warning") is not None:
        tc["notify_on_warning"] = as_bool(obj["notify_on_warning"], (*path, "notify_on_warning"))
    return tc


def parse_alert_body(body: Any) -> dict[str, Any]:
    """Typed view of a create/update body. Raises DeserError (→ 422)."""
    obj = as_map(body, (), "struct CreateAlertRequestBody")
    assert obj is not None
    a: dict[str, Any] = {}
    a["id"] = as_str(obj.get("id"), ("id",), optional=True)
    a["name"] = as_str(obj.get("name", ""), ("name",), optional=True) or ""
    a["stream_type"] = as_enum(obj.get("stream_type", "logs"), ("stream_type",), STREAM_TYPES, optional=True) or "logs"
    a["stream_name"] = as_str(obj.get("stream_name", ""), ("stream_name",), optional=True) or ""
    a["is_real_time"] = bool(as_bool(obj.get("is_real_time", False), ("is_real_time",), optional=True))
    a["query_condition"] = parse_query_condition(obj.get("query_condition") or {}, ("query_condition",))
    a["trigger_condition"] = parse_trigger_condition(obj.get("trigger_condition") or {}, ("trigger_condition",))
    dkey = "destinations" if "destinations" in obj else "alert_destinations"
    a["destinations"] = [
        as_str(x, (dkey, i)) for i, x in enumerate(as_list(obj.get(dkey, []), (dkey,), optional=True) or [])
    ]
    a["template"] = as_str(obj.get("template"), ("template",), optional=True)
    ca = as_map(obj.get("context_attributes"), ("context_attributes",), optional=True)
    a["context_attributes"] = None if ca is None else {k: as_str(v, ("context_attributes", k)) for k, v in ca.items()}
    a["row_template"] = as_str(obj.get("row_template", ""), ("row_template",), optional=True) or ""
    a["row_template_type"] = (
        as_enum(obj.get("row_template_type", "String"), ("row_template_type",), ["String", "Json"], optional=True)
        or "String"
    )
    a["description"] = as_str(obj.get("description", ""), ("description",), optional=True) or ""
    a["enabled"] = bool(as_bool(obj.get("enabled", False), ("enabled",), optional=True))
    a["tz_offset"] = as_int(obj.get("tz_offset", 0), ("tz_offset",), expected="i32", optional=True) or 0
    a["owner"] = as_str(obj.get("owner"), ("owner",), optional=True)
    a["deduplication"] = obj.get("deduplication")
    a["creates_incident"] = bool(as_bool(obj.get("creates_incident", False), ("creates_incident",), optional=True))
    a["workflows"] = [
        as_str(x, ("workflows", i))
        for i, x in enumerate(as_list(obj.get("workflows", []), ("workflows",), optional=True) or [])
    ]
    pr = obj.get("priority")
    if pr is not None:
        if isinstance(pr, bool) or not isinstance(pr, int):
            raise invalid_type(("priority",), pr, "an integer between 1 and 5")
        if not 1 <= pr <= 5:
            raise DeserError(("priority",), f"invalid value: integer `{pr}`, expected an integer between 1 and 5")
    a["priority"] = pr
    a["tags"] = [
        as_str(x, ("tags", i)) for i, x in enumerate(as_list(obj.get("tags", []), ("tags",), optional=True) or [])
    ]
    a["alert_type"] = as_str(obj.get("alert_type"), ("alert_type",), optional=True)
    return a
