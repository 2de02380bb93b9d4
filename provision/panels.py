"""The SQL each panel of a rendered v8 dashboard runs, with its variables substituted as O2's viewer does.

O2's dashboard viewer runs a panel's stored ``query`` after replacing the dashboard variables in the
browser; the server only ever sees the result. This module repeats that replacement offline so the
queries can be sent to ``_search`` (``o2-provision report``, the end-to-end tests) or run elsewhere.

Source read (openobserve/openobserve at fbab9b80a2, 2026-08-21):

- ``web/src/composables/dashboard/usePanelVariableSubstitution.ts`` — ``replaceQueryValue`` (the
  substitution itself) and ``getDependentVariablesData`` (only variables the query mentions count);
- ``web/src/utils/dashboard/variables/variablesUtils.ts`` — ``normalizeVariableSyntax`` (``${ x }`` and
  ``{{ x }}`` lose their inner spaces first);
- ``web/src/composables/dashboard/useVariablesManager.ts`` — ``getInitialValue`` (the default selection);
- ``web/src/utils/dashboard/constants.ts`` — ``SELECT_ALL_VALUE = "_o2_all_"``;
- ``web/src/utils/queryUtils.ts`` — ``escapeSingleQuotes`` (``'`` → ``''``);
- ``src/search/src/sql/rewriter/remove_dashboard_placeholder.rs`` — the *server* then turns
  ``col = '_o2_all_'`` / ``col IN ('_o2_all_', …)`` / ``LIKE`` / ``str_match`` on it into ``true``
  (``!=`` / ``NOT IN`` / ``NOT LIKE`` into ``false``). That rewrite is not repeated here.

The rules, for a panel whose ``queryType`` is ``sql``:

- a multi-select variable's value is a list; ``$name``, ``${name}`` and ``{{name}}`` become the values
  single-quoted and comma-joined (``'a','b'``), so the SQL is written ``col IN ($name)``; the
  ``:csv`` / ``:pipe`` / ``:doublequote`` / ``:singlequote`` forms give ``a,b`` / ``a|b`` / ``"a","b"`` /
  ``'a','b'``; an empty list counts as ``["_o2_all_"]``;
- a single-select value replaces every form verbatim, without quotes (so the SQL is written
  ``col = '$name'``); no value counts as ``_o2_all_``;
- quotes are doubled only if the variable has ``escapeSingleQuotes`` (never in the ``:csv``, ``:pipe``
  and ``:doublequote`` forms); replacement uses JavaScript ``String.replaceAll`` with a string pattern,
  so ``$&``, ``$$``, ``$``` and ``$'`` inside a value are expanded as JavaScript does;
- the default selection is the variable's stored ``value`` if set, else ``customMultiSelectValue``
  (``selectAllValueForMultiSelect: "custom"``), else ``_o2_all_`` (``"all"``), else, for a ``custom``
  variable, its ``selected`` options or its first one. A query_values variable with none of these
  starts at the first value O2 loads from the stream; offline that is unknown and ``_o2_all_`` (O2's own
  fallback for "no data") is used.

Not repeated: the fixed variables (``$__interval``, ``$__range`` …, which need the panel width and time
range: a query that uses them is refused with ``ValueError``), ad-hoc filters, PromQL panels, and
same-name variables at several scopes (a variable scoped to other tabs or panels is skipped).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

SELECT_ALL_VALUE = "_o2_all_"

FORMATS = ("csv", "pipe", "doublequote", "singlequote")
_FIXED = re.compile(r"\$\{?__[a-z_]+|\{\{__[a-z_]+")
_JS_SUBSTITUTION = re.compile(r"\$([$&`'])")

VariableValue = str | list[str] | None


@dataclass(frozen=True)
class PanelQuery:
    """One query of one panel, ready for ``_search``."""

    dashboard: str
    panel_id: str
    panel_title: str
    panel_type: str
    sql: str
    x_aliases: tuple[str, ...]
    y_aliases: tuple[str, ...]
    stream: str = ""
    stream_type: str = "traces"


@dataclass(frozen=True)
class Variable:
    """A dashboard variable and the value it is substituted with."""

    name: str
    multi: bool
    escape: bool
    value: VariableValue
    scope: str
    tabs: tuple[str, ...]
    panels: tuple[str, ...]


def panel_queries(
    dashboard: Mapping[str, Any], variables: Mapping[str, str | list[str]] | None = None
) -> list[PanelQuery]:
    """Every SQL panel query of a v8 dashboard, variables substituted (default: each one's default, "all")."""
    declared = dashboard_variables(dashboard)
    chosen = dict(variables or {})
    unknown = sorted(set(chosen) - {v.name for v in declared})
    if unknown:
        known = ", ".join(v.name for v in declared) or "none"
        raise ValueError(f"unknown dashboard variable {unknown[0]!r} (declared: {known})")
    resolved = [_choose(v, chosen[v.name]) if v.name in chosen else v for v in declared]
    title = str(dashboard.get("title") or "")
    result: list[PanelQuery] = []
    for tab in _list(dashboard.get("tabs")):
        tab_id = str(tab.get("tabId") or "")
        for panel in _list(tab.get("panels")):
            panel_id = str(panel.get("id") or "")
            visible = [v for v in resolved if _in_scope(v, tab_id, panel_id)]
            query_type = str(panel.get("queryType") or "sql").lower()
            for query in _list(panel.get("queries")):
                sql = query.get("query")
                if query_type != "sql" or not isinstance(sql, str) or not sql.strip():
                    continue
                raw_fields = query.get("fields")
                fields: dict[str, Any] = raw_fields if isinstance(raw_fields, dict) else {}
                result.append(
                    PanelQuery(
                        dashboard=title,
                        panel_id=panel_id,
                        panel_title=str(panel.get("title") or ""),
                        panel_type=str(panel.get("type") or ""),
                        sql=substitute(sql, visible, query_type=query_type),
                        x_aliases=_aliases(fields.get("x")),
                        y_aliases=_aliases(fields.get("y")),
                        stream=str(fields.get("stream") or ""),
                        stream_type=str(fields.get("stream_type") or "traces"),
                    )
                )
    return result


def substitute(sql: str, variables: Sequence[Variable], *, query_type: str = "sql") -> str:
    """``replaceQueryValue``: replace each variable the query mentions, in declaration order."""
    query = normalize_variable_syntax(sql)
    if _FIXED.search(query):
        raise ValueError("the query uses O2's fixed variables ($__interval, $__range …), which need a time range")
    for v in variables:
        if not _mentions(sql, v.name):
            continue
        if isinstance(v.value, list):
            query = _replace_list(query, v.name, v.value, v.escape, query_type)
        else:
            query = _replace_single(query, v.name, v.value, v.escape)
    return query


def normalize_variable_syntax(text: str) -> str:
    """``normalizeVariableSyntax``: ``{{ x : csv }}`` → ``{{x:csv}}``, ``${ x }`` → ``${x}``."""

    def fold(open_: str, close: str) -> Any:
        def repl(m: re.Match[str]) -> str:
            name, fmt = m.group(1), m.group(2)
            return f"{open_}{name}:{fmt}{close}" if fmt else f"{open_}{name}{close}"

        return repl

    text = re.sub(r"\{\{\s*([a-zA-Z0-9_-]+)\s*(?::\s*([a-zA-Z]+)\s*)?\}\}", fold("{{", "}}"), text)
    return re.sub(r"\$\{\s*([a-zA-Z0-9_-]+)\s*(?::\s*([a-zA-Z]+)\s*)?\}", fold("${", "}"), text)


def escape_single_quotes(value: str) -> str:
    """``escapeSingleQuotes``."""
    return value.replace("'", "''")


def js_replace_all(text: str, pattern: str, replacement: str) -> str:
    """JavaScript ``text.replaceAll(pattern, replacement)`` for a string pattern (GetSubstitution rules)."""
    if not pattern:
        raise ValueError("an empty pattern is not used by O2")
    parts: list[str] = []
    start = 0
    while (at := text.find(pattern, start)) != -1:
        parts.append(text[start:at])
        end = at + len(pattern)

        def expand(m: re.Match[str], at: int = at, end: int = end) -> str:
            kind = m.group(1)
            if kind == "$":
                return "$"
            if kind == "&":
                return pattern
            return text[:at] if kind == "`" else text[end:]

        parts.append(_JS_SUBSTITUTION.sub(expand, replacement))
        start = end
    parts.append(text[start:])
    return "".join(parts)


def _replace_list(query: str, name: str, values: list[str], escape: bool, query_type: str) -> str:
    use = values or [SELECT_ALL_VALUE]
    quoted = ",".join(f"'{escape_single_quotes(v) if escape else v}'" for v in use) or "''"
    plain = quoted if query_type == "sql" else "|".join(use)
    doubled = ",".join(f'"{v}"' for v in use) or '""'
    forms: list[tuple[str, str]] = []
    for open_, close in (("{{", "}}"), ("${", "}")):
        forms += [
            (f"{open_}{name}:csv{close}", ",".join(use)),
            (f"{open_}{name}:pipe{close}", "|".join(use)),
            (f"{open_}{name}:doublequote{close}", doubled),
            (f"{open_}{name}:singlequote{close}", quoted),
            (f"{open_}{name}{close}", plain),
        ]
    forms.append((f"${name}", plain))
    for placeholder, replacement in forms:
        query = js_replace_all(query, placeholder, replacement)
    return query


def _replace_single(query: str, name: str, value: str | None, escape: bool) -> str:
    use = SELECT_ALL_VALUE if value is None else value
    text = escape_single_quotes(use) if escape else use
    for fmt in FORMATS:
        query = js_replace_all(query, f"{{{{{name}:{fmt}}}}}", text)
    for placeholder in (f"{{{{{name}}}}}", f"${{{name}}}", f"${name}"):
        query = js_replace_all(query, placeholder, text)
    return query


def _mentions(sql: str, name: str) -> bool:
    """``getDependentVariablesData``: the regex O2 tests each query with (the name unescaped, as O2 does)."""
    fmt = r"(?::\s*(?:csv|pipe|doublequote|singlequote)\s*)?"
    return re.search(rf"(?:\$\{{?\s*{name}\s*{fmt}\}}?)|(?:\{{\{{\s*{name}\s*{fmt}\}}\}})", sql) is not None


def dashboard_variables(dashboard: Mapping[str, Any]) -> list[Variable]:
    """The dashboard's variables (ad-hoc filters excepted) with their default selection."""
    block = dashboard.get("variables")
    items = _list(block.get("list")) if isinstance(block, dict) else []
    result = []
    for item in items:
        kind = str(item.get("type") or "")
        if kind == "dynamic_filters" or not item.get("name"):
            continue
        multi = bool(item.get("multiSelect"))
        result.append(
            Variable(
                name=str(item["name"]),
                multi=multi,
                escape=bool(item.get("escapeSingleQuotes")),
                value=_initial_value(item, kind, multi),
                scope=str(item.get("scope") or "global"),
                tabs=tuple(str(t) for t in item.get("tabs") or []),
                panels=tuple(str(p) for p in item.get("panels") or []),
            )
        )
    return result


def _initial_value(item: Mapping[str, Any], kind: str, multi: bool) -> VariableValue:
    """``getInitialValue`` (useVariablesManager.ts), with "no data loaded" for query_values."""
    value = item.get("value")
    if value not in ("", None):
        return [str(v) for v in value] if isinstance(value, list) else str(value)
    if kind == "query_values":
        mode = item.get("selectAllValueForMultiSelect")
        custom = [str(v) for v in item.get("customMultiSelectValue") or []]
        if mode == "custom" and custom:
            return custom if multi else custom[0]
        if mode == "all":
            return [SELECT_ALL_VALUE] if multi else SELECT_ALL_VALUE
    if kind == "custom":
        options = [o for o in _list(item.get("options")) if "value" in o]
        if options:
            selected = [str(o["value"]) for o in options if o.get("selected")]
            first = str(options[0]["value"])
            if multi:
                return selected or [first]
            return selected[0] if selected else first
    return [] if multi else None


def _choose(variable: Variable, value: str | list[str]) -> Variable:
    if variable.multi:
        chosen: VariableValue = [value] if isinstance(value, str) else [str(v) for v in value]
    elif isinstance(value, str):
        chosen = value
    elif len(value) == 1:
        chosen = str(value[0])
    else:
        raise ValueError(f"variable {variable.name!r} is single-select; got {len(value)} values")
    return replace(variable, value=chosen)


def _in_scope(variable: Variable, tab_id: str, panel_id: str) -> bool:
    if variable.scope == "tabs":
        return tab_id in variable.tabs
    if variable.scope == "panels":
        return panel_id in variable.panels
    return True


def _aliases(items: Any) -> tuple[str, ...]:
    return tuple(str(i.get("alias")) for i in _list(items) if i.get("alias") is not None)


def _list(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []
