"""O2's own payload rules, checked offline so a bundle is refused before anything is written.

Each rule mirrors what O2 v0.92 answers with a 400, 404 or 422 (see openobserve-api.md §4–§6).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from typing import Any

from provision import ownership
from provision.kinds import Kind
from provision.render import Bundle, Desired

NAME_FORBIDDEN = re.compile(r"[:#?\s'\"%&/]")
SELECT_STAR = re.compile(r"(?i)select[ ]+\*")
AS_TIMESTAMP = re.compile(r"(?i)\bas\s+\"?_timestamp\"?")
TAG = re.compile(r"^[A-Za-z][A-Za-z0-9_\-./:]*$")
STREAM_TYPES = {
    "logs",
    "metrics",
    "traces",
    "enrichment_tables",
    "metadata",
    "index",
    "file_list",
    "service_graph",
}
ALERT_STREAM_TYPES = {"logs", "metrics", "traces", "enrichment_tables", "file_list", "metadata", "index"}
TRIGGER_OPERATORS = {"=", "!=", ">", ">=", "<", "<=", "Contains", "NotContains"}
CONDITION_OPERATORS = TRIGGER_OPERATORS | {"contains", "not_contains"}
QUERY_TYPES = {"custom", "sql", "promql", "slo"}
AGG_FUNCTIONS = {"avg", "min", "max", "sum", "count", "median", "p50", "p75", "p90", "p95", "p99"}
DESTINATION_TYPES = {"http", "email", "sns"}
METHODS = {"post", "put", "get"}
PREBUILT_TYPES = {
    "slack",
    "msteams",
    "teams",
    "pagerduty",
    "discord",
    "webhook",
    "opsgenie",
    "servicenow",
    "email",
    "custom",
}
TEMPLATE_TYPES = {"http", "email", "sns"}


def check_bundle(bundle: Bundle) -> list[str]:
    """Every rule O2 would enforce that the bundle breaks, as `file: field: problem` lines."""
    problems: list[str] = []
    templates = {d.key: d for d in bundle.of(Kind.ALERT_TEMPLATE)}
    destinations = {d.key for d in bundle.of(Kind.DESTINATION)}
    for item in bundle.resources:
        checker = CHECKS.get(item.kind)
        if checker is None:
            continue
        for where, problem in checker(item.payload, templates=templates, destinations=destinations):
            problems.append(f"{item.source}: {where}: {problem}" if where else f"{item.source}: {problem}")
    return problems


Found = Iterator[tuple[str, str]]


def _name(name: Any, what: str) -> Found:
    if not isinstance(name, str) or not name.strip():
        yield "name", f"{what} name cannot be empty"
    elif NAME_FORBIDDEN.search(name.strip()):
        yield "name", f"{what} name cannot contain ':', '#', '?', '&', '%', '/', quotes or spaces: {name!r}"


def _dashboard(d: dict[str, Any], **_: Any) -> Found:
    if d.get("version") != 8:
        yield "version", "must be 8 (the only schema version these templates target)"
    if not str(d.get("title") or "").strip():
        yield "title", "must not be empty"
    tabs = d.get("tabs")
    if not isinstance(tabs, list) or not tabs:
        yield "tabs", "must be a non-empty list"
        return
    panel_ids: set[str] = set()
    tab_ids: set[str] = set()
    for t, tab in enumerate(tabs):
        at = f"tabs[{t}]"
        if not isinstance(tab, dict):
            yield at, "must be an object"
            continue
        for key in ("tabId", "name"):
            if not isinstance(tab.get(key), str) or not tab[key]:
                yield f"{at}.{key}", "is required"
        if tab.get("tabId") in tab_ids:
            yield f"{at}.tabId", f"duplicate tab id {tab.get('tabId')!r}"
        tab_ids.add(str(tab.get("tabId")))
        layout_ids: set[int] = set()
        for p, panel in enumerate(tab.get("panels") or []):
            yield from _panel(panel, f"{at}.panels[{p}]", panel_ids, layout_ids)


def _panel(panel: Any, at: str, panel_ids: set[str], layout_ids: set[int]) -> Found:
    if not isinstance(panel, dict):
        yield at, "must be an object"
        return
    for key in ("id", "type", "title", "description"):
        if not isinstance(panel.get(key), str):
            yield f"{at}.{key}", "is required (a string)"
    if panel.get("id") in panel_ids:
        yield f"{at}.id", f"duplicate panel id {panel.get('id')!r}"
    panel_ids.add(str(panel.get("id")))
    config = panel.get("config")
    if not isinstance(config, dict) or not isinstance(config.get("show_legends"), bool):
        yield f"{at}.config.show_legends", "is required (true or false)"
    layout = panel.get("layout")
    if layout is not None:
        if not isinstance(layout, dict) or any(not isinstance(layout.get(k, 0), int) for k in "xywhi"):
            yield f"{at}.layout", "x, y, w, h and i must be whole numbers"
        elif layout.get("i", 0) == 0 or layout["i"] in layout_ids:
            yield f"{at}.layout.i", "must be non-zero and unique within the tab"
        else:
            layout_ids.add(layout["i"])
    queries = panel.get("queries")
    if not isinstance(queries, list):
        yield f"{at}.queries", "is required (a list)"
        return
    for q, query in enumerate(queries):
        yield from _query(query, f"{at}.queries[{q}]", panel.get("type"))


def _query(query: Any, at: str, panel_type: Any) -> Found:
    if not isinstance(query, dict):
        yield at, "must be an object"
        return
    if not isinstance(query.get("customQuery"), bool):
        yield f"{at}.customQuery", "is required (true or false)"
    sql = query.get("query")
    if panel_type not in ("markdown", "html") and (not isinstance(sql, str) or not sql.strip()):
        yield f"{at}.query", "must hold the complete SQL: the dashboard viewer runs it as stored"
    elif isinstance(sql, str) and AS_TIMESTAMP.search(sql):
        yield f"{at}.query", "must not alias anything AS _timestamp"
    config = query.get("config")
    if not isinstance(config, dict) or not isinstance(config.get("promql_legend"), str):
        yield f"{at}.config.promql_legend", "is required (a string)"
    fields = query.get("fields")
    if not isinstance(fields, dict):
        yield f"{at}.fields", "is required (an object)"
        return
    if not isinstance(fields.get("stream"), str):
        yield f"{at}.fields.stream", "is required"
    if fields.get("stream_type") not in STREAM_TYPES:
        yield f"{at}.fields.stream_type", f"must be one of {', '.join(sorted(STREAM_TYPES))}"
    for axis in ("x", "y"):
        items = fields.get(axis)
        if not isinstance(items, list):
            yield f"{at}.fields.{axis}", "is required (a list)"
            continue
        for i, item in enumerate(items):
            for key in ("label", "alias"):
                if not isinstance(item, dict) or not isinstance(item.get(key), str):
                    yield f"{at}.fields.{axis}[{i}].{key}", "is required (a string)"
    filt = fields.get("filter")
    if not isinstance(filt, dict) or "filterType" not in filt or "logicalOperator" not in filt:
        yield (
            f"{at}.fields.filter",
            'must be an object like {"filterType":"group","logicalOperator":"AND","conditions":[]}',
        )


def _alert(a: dict[str, Any], *, templates: dict[str, Desired], destinations: set[str]) -> Found:
    yield from _name(a.get("name"), "Alert")
    if not str(a.get("stream_name") or "").strip():
        yield "stream_name", "is required"
    if a.get("stream_type", "logs") not in ALERT_STREAM_TYPES:
        yield "stream_type", f"must be one of {', '.join(sorted(ALERT_STREAM_TYPES))}"
    dests = a.get("destinations")
    if not isinstance(dests, list) or not dests:
        yield "destinations", "an alert needs at least one destination"
    else:
        for name in dests:
            if name not in destinations:
                yield "destinations", f"destination {name!r} is not declared by any destination template"
    template = a.get("template")
    if template and template not in templates:
        yield "template", f"alert template {template!r} is not declared"
    for tag in a.get("tags") or []:
        if not isinstance(tag, str) or not TAG.match(tag.strip()) or len(tag) > 200:
            yield "tags", f"invalid tag {tag!r}: start with a letter; letters, digits and _ - . / : only"
    priority = a.get("priority")
    if priority is not None and (not isinstance(priority, int) or not 1 <= priority <= 5):
        yield "priority", "must be a whole number from 1 to 5"
    if a.get("row_template_type", "String") not in ("String", "Json"):
        yield "row_template_type", "must be String or Json"
    yield from _query_condition(a)
    yield from _trigger(a)


def _query_condition(a: dict[str, Any]) -> Found:
    qc = a.get("query_condition") or {}
    qtype = qc.get("type", "custom")
    if qtype not in QUERY_TYPES:
        yield "query_condition.type", f"must be one of {', '.join(sorted(QUERY_TYPES))}"
    if a.get("is_real_time") and qtype != "custom":
        yield "query_condition.type", "a real-time alert must use the custom query type"
    if qtype == "sql":
        sql = qc.get("sql")
        if not isinstance(sql, str) or not sql.strip():
            yield "query_condition.sql", "an SQL alert needs a query"
        elif SELECT_STAR.search(sql):
            yield "query_condition.sql", "O2 refuses SELECT * in an alert query; name the columns"
    agg = qc.get("aggregation")
    if isinstance(agg, dict):
        if agg.get("function") not in AGG_FUNCTIONS:
            yield "query_condition.aggregation.function", f"must be one of {', '.join(sorted(AGG_FUNCTIONS))}"
        having = agg.get("having") or {}
        if having.get("operator") not in TRIGGER_OPERATORS:
            yield (
                "query_condition.aggregation.having.operator",
                "must be one of " + " ".join(sorted(TRIGGER_OPERATORS)),
            )
        try:
            float(str(having.get("value")))
        except ValueError:
            yield "query_condition.aggregation.having.value", "must be numeric"
    yield from _conditions(qc.get("conditions"), "query_condition.conditions")


def _conditions(node: Any, at: str) -> Found:
    if node is None:
        return
    if isinstance(node, list):
        for i, item in enumerate(node):
            yield from _conditions(item, f"{at}[{i}]")
        return
    if not isinstance(node, dict):
        yield at, "must be an object or a list"
        return
    if node.get("version") == 2:
        yield from _conditions(node.get("conditions"), f"{at}.conditions")
        return
    if node.get("filterType") == "group" or any(k in node for k in ("and", "or", "not")):
        for key in ("conditions", "and", "or"):
            if key in node:
                yield from _conditions(node[key], f"{at}.{key}")
        if "not" in node:
            yield from _conditions(node["not"], f"{at}.not")
        return
    if node.get("operator") not in CONDITION_OPERATORS:
        yield f"{at}.operator", f"unknown operator {node.get('operator')!r}"
    if not isinstance(node.get("column"), str) or not node["column"]:
        yield f"{at}.column", "is required"


def _trigger(a: dict[str, Any]) -> Found:
    tc = a.get("trigger_condition") or {}
    if tc.get("operator", "=") not in TRIGGER_OPERATORS:
        yield (
            "trigger_condition.operator",
            "must be one of " + " ".join(sorted(TRIGGER_OPERATORS)) + " (API spelling)",
        )
    for key in ("period", "frequency", "threshold", "silence"):
        value = tc.get(key, 0)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            yield f"trigger_condition.{key}", "must be a whole number, 0 or more"
    if not a.get("is_real_time") and not tc.get("period"):
        yield "trigger_condition.period", "a scheduled alert needs a look-back period in minutes"
    if tc.get("frequency_type", "minutes") not in ("minutes", "cron"):
        yield "trigger_condition.frequency_type", "must be minutes or cron"


def _destination(d: dict[str, Any], *, templates: dict[str, Desired], **_: Any) -> Found:
    dtype = d.get("type", "http")
    if dtype not in DESTINATION_TYPES:
        yield "type", f"must be one of {', '.join(sorted(DESTINATION_TYPES))} (Slack and webhooks are http)"
    if dtype == "http":
        url = str(d.get("url") or "")
        if not url:
            yield "url", "an http destination needs a url"
        elif not re.match(r"(?i)^https?://[^\s/]+", url):
            yield "url", f"must be an http:// or https:// URL, got {url!r}"
        if d.get("method", "post") not in METHODS:
            yield "method", "must be post, put or get (lower case)"
    if dtype == "email" and not d.get("emails"):
        yield "emails", "an email destination needs at least one recipient"
    if dtype == "sns" and not (d.get("sns_topic_arn") and d.get("aws_region")):
        yield "sns_topic_arn", "an SNS destination needs a topic ARN and a region"
    template = d.get("template")
    if template and template not in templates:
        yield "template", f"alert template {template!r} is not declared (O2 would silently drop it)"
    type_name = d.get("destination_type_name")
    if type_name is not None and type_name not in PREBUILT_TYPES:
        yield "destination_type_name", f"must be one of {', '.join(sorted(PREBUILT_TYPES))}"
    yield from _name(d.get("name"), "Destination")


def _template(t: dict[str, Any], **_: Any) -> Found:
    if not str(t.get("body") or "").strip():
        yield "body", "cannot be empty"
    yield from _name(t.get("name"), "Template")
    name = str(t.get("name") or "")
    if name.startswith("prebuilt_") or name == "o2_default_content":
        yield "name", f"{name!r} is reserved by O2"
    elif not name.startswith(ownership.TEMPLATE_PREFIX):
        yield (
            "name",
            f"alert template names must start with {ownership.TEMPLATE_PREFIX!r}: "
            "that is how o2-provision knows its own",
        )
    ttype = t.get("type", "http")
    if ttype not in TEMPLATE_TYPES:
        yield "type", f"must be one of {', '.join(sorted(TEMPLATE_TYPES))}"
    if ttype == "email" and not str(t.get("title") or "").strip():
        yield "title", "an email template needs a title (the subject)"


def _model_price(m: dict[str, Any], **_: Any) -> Found:
    name = str(m.get("name") or "")
    if not name:
        yield "name", "is required"
    elif len(name) > 256:
        yield "name", "must be 256 characters or fewer"
    pattern = str(m.get("match_pattern") or "")
    if not pattern:
        yield "match_pattern", "is required"
    elif len(pattern) > 512:
        yield "match_pattern", "must be 512 characters or fewer"
    else:
        try:
            re.compile(pattern)
        except re.error as exc:
            yield "match_pattern", f"invalid regex: {exc}"
    tiers = m.get("tiers")
    if not isinstance(tiers, list) or not tiers:
        yield "tiers", "at least one pricing tier is required"
        return
    if not any(isinstance(t, dict) and t.get("condition") is None for t in tiers):
        yield "tiers", "at least one tier must have no condition (the default)"
    for i, tier in enumerate(tiers):
        for key, price in (tier.get("prices") or {}).items():
            if not isinstance(price, int | float) or isinstance(price, bool) or not math.isfinite(price):
                yield f"tiers[{i}].prices.{key}", "must be a finite number"
            elif price < 0:
                yield f"tiers[{i}].prices.{key}", "must be 0 or more"


CHECKS: dict[Kind, Callable[..., Found]] = {
    Kind.DASHBOARD: _dashboard,
    Kind.ALERT: _alert,
    Kind.DESTINATION: _destination,
    Kind.ALERT_TEMPLATE: _template,
    Kind.MODEL_PRICE: _model_price,
}
