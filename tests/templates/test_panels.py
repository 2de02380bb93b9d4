"""provision.panels substitutes dashboard variables exactly as O2's viewer does (replaceQueryValue)."""

from __future__ import annotations

from typing import Any

import pytest

from provision.panels import (
    SELECT_ALL_VALUE,
    PanelQuery,
    dashboard_variables,
    js_replace_all,
    normalize_variable_syntax,
    panel_queries,
)


def board(sql: str, *variables: dict[str, Any], query_type: str = "sql") -> dict[str, Any]:
    panel = {
        "id": "p1",
        "type": "table",
        "title": "T",
        "description": "",
        "config": {"show_legends": False},
        "queryType": query_type,
        "queries": [
            {
                "query": sql,
                "customQuery": True,
                "fields": {
                    "stream": "s",
                    "stream_type": "traces",
                    "x": [{"label": "A", "alias": "a"}],
                    "y": [{"label": "B", "alias": "b"}, {"label": "C", "alias": "c"}],
                    "filter": {"filterType": "group", "logicalOperator": "AND", "conditions": []},
                },
                "config": {"promql_legend": ""},
            }
        ],
    }
    return {
        "title": "D",
        "tabs": [{"tabId": "t", "name": "T", "panels": [panel]}],
        "variables": {"list": list(variables)},
    }


def multi(name: str, **extra: Any) -> dict[str, Any]:
    return {"type": "query_values", "name": name, "multiSelect": True, "selectAllValueForMultiSelect": "all", **extra}


def single(name: str, **extra: Any) -> dict[str, Any]:
    return {"type": "query_values", "name": name, "multiSelect": False, **extra}


def sql_of(dashboard: dict[str, Any], **variables: str | list[str]) -> str:
    (query,) = panel_queries(dashboard, variables)
    return query.sql


def test_panel_query_carries_the_panel_and_its_aliases() -> None:
    (query,) = panel_queries(board("SELECT 1 AS a, 2 AS b, 3 AS c"))
    assert query == PanelQuery(
        "D", "p1", "T", "table", "SELECT 1 AS a, 2 AS b, 3 AS c", ("a",), ("b", "c"), "s", "traces"
    )


def test_multi_select_default_all_is_the_quoted_placeholder() -> None:
    dashboard = board("SELECT a FROM s WHERE x IN ($svc) AND y IN (${svc}) AND z IN ({{svc}})", multi("svc"))
    assert sql_of(dashboard) == ("SELECT a FROM s WHERE x IN ('_o2_all_') AND y IN ('_o2_all_') AND z IN ('_o2_all_')")


def test_multi_select_values_are_quoted_and_joined() -> None:
    dashboard = board("WHERE x IN ($svc)", multi("svc"))
    assert sql_of(dashboard, svc=["a", "b"]) == "WHERE x IN ('a','b')"
    assert sql_of(dashboard, svc="a") == "WHERE x IN ('a')"  # a string for a multi-select is one value
    assert sql_of(dashboard, svc=[]) == "WHERE x IN ('_o2_all_')"  # O2: no data → all


def test_multi_select_formats() -> None:
    sql = "${v:csv} ${v:pipe} ${v:doublequote} ${v:singlequote} {{v:csv}} {{ v : pipe }} ${ v }"
    assert sql_of(board(sql, multi("v")), v=["a", "b"]) == "a,b a|b \"a\",\"b\" 'a','b' a,b a|b 'a','b'"


def test_quotes_are_doubled_only_with_escape_single_quotes() -> None:
    sql = "x IN ($v) AND y = '${v:csv}'"
    escaped = board(sql, multi("v", escapeSingleQuotes=True))
    assert sql_of(escaped, v=["o'brien"]) == "x IN ('o''brien') AND y = 'o'brien'"
    raw = board(sql, multi("v"))
    assert sql_of(raw, v=["o'brien"]) == "x IN ('o'brien') AND y = 'o'brien'"


def test_single_select_is_replaced_verbatim() -> None:
    dashboard = board("WHERE x = '$v' AND y = '{{v}}' AND z = '{{v:csv}}'", single("v", escapeSingleQuotes=True))
    assert sql_of(dashboard) == "WHERE x = '_o2_all_' AND y = '_o2_all_' AND z = '_o2_all_'"
    assert sql_of(dashboard, v="it's") == "WHERE x = 'it''s' AND y = 'it''s' AND z = 'it''s'"
    assert sql_of(dashboard, v=["one"]) == "WHERE x = 'one' AND y = 'one' AND z = 'one'"
    # ${v:csv} is not among the single-select forms: O2 leaves it (after `$v`, which it does not contain)
    assert sql_of(board("${v:csv}", single("v")), v="q") == "${v:csv}"
    with pytest.raises(ValueError, match="single-select"):
        sql_of(dashboard, v=["a", "b"])


def test_default_selection_follows_get_initial_value() -> None:
    found = dashboard_variables(
        {
            "variables": {
                "list": [
                    multi("all_multi"),
                    single("all_single", selectAllValueForMultiSelect="all"),
                    multi("custom", selectAllValueForMultiSelect="custom", customMultiSelectValue=["x", "y"]),
                    single("stored", value="s1"),
                    single("unloaded"),
                    {"type": "custom", "name": "opts", "options": [{"label": "A", "value": "a"}, {"value": "b"}]},
                    {
                        "type": "custom",
                        "name": "picked",
                        "multiSelect": True,
                        "options": [{"value": "a"}, {"value": "b", "selected": True}],
                    },
                    {"type": "dynamic_filters", "name": "adhoc", "value": []},
                ]
            }
        }
    )
    assert {v.name: v.value for v in found} == {
        "all_multi": [SELECT_ALL_VALUE],
        "all_single": SELECT_ALL_VALUE,
        "custom": ["x", "y"],
        "stored": "s1",
        "unloaded": None,
        "opts": "a",
        "picked": ["b"],
    }


def test_javascript_replacement_patterns_are_expanded() -> None:
    # what "…".replaceAll(pattern, replacement) gives in JavaScript
    assert js_replace_all("x IN ($v)", "$v", "'a$&b'") == "x IN ('a$vb')"
    assert js_replace_all("abc", "b", "[$`|$']") == "a[a|c]c"
    assert js_replace_all("a-a", "a", "$$1") == "$1-$1"
    assert js_replace_all("aaa", "aa", "b") == "ba"
    assert sql_of(board("x IN ($v)", multi("v")), v=["$&"]) == "x IN ('$v')"


def test_normalize_variable_syntax() -> None:
    assert (
        normalize_variable_syntax("{{ a }} {{ a : csv }} ${ b } ${ b :pipe } $c") == "{{a}} {{a:csv}} ${b} ${b:pipe} $c"
    )


def test_unknown_variables_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown dashboard variable 'nope'"):
        panel_queries(board("SELECT 1", multi("v")), {"nope": "x"})


def test_fixed_variables_need_a_time_range_and_are_refused() -> None:
    with pytest.raises(ValueError, match="fixed variables"):
        panel_queries(board("SELECT histogram(_timestamp, '$__interval') AS a"))


def test_promql_and_empty_queries_are_skipped() -> None:
    assert panel_queries(board("up", query_type="promql")) == []
    assert panel_queries(board("  ")) == []


def test_a_variable_scoped_to_another_panel_is_not_applied() -> None:
    dashboard = board("x IN ($v)", multi("v", scope="panels", panels=["other"]))
    assert sql_of(dashboard) == "x IN ($v)"


def test_the_shipped_dashboards_leave_no_placeholder(latency: dict[str, Any], tokens: dict[str, Any]) -> None:
    for dashboard in (latency, tokens):
        queries = panel_queries(dashboard, {"service": ["bot-a", "it's"], "model": "gpt-4o", "session": "s-1"})
        assert queries
        for query in queries:
            assert "$" not in query.sql, query.panel_id
            assert "'it''s'" in query.sql, query.panel_id
        for query in panel_queries(dashboard):
            assert "$" not in query.sql
            assert "'_o2_all_' IN ('_o2_all_')" in query.sql
