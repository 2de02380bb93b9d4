"""The dashboards render to payloads O2 takes (v8 schema, the project's offline rules) for any values."""

from __future__ import annotations

import re
import subprocess
import sys
from itertools import combinations
from pathlib import Path
from typing import Any

import pytest

from provision.kinds import Kind
from provision.panels import panel_queries
from provision.render import Bundle
from provision.rules import check_bundle

from .conftest import OTHER, TITLES, dashboards, render

CLI = Path(sys.executable).parent / "o2-provision"
NUMERIC_ATTRIBUTES = re.compile(r"\b(?:\w+\.)?(pipecat_\w+_(?:ms|tokens)|pipecat_turn_number)\b")


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for tab in dashboard["tabs"] for p in tab["panels"]]


@pytest.mark.parametrize("assignments", [{}, OTHER], ids=["defaults", "other-stream-and-folder"])
def test_dashboards_render_and_pass_the_offline_rules(assignments: dict[str, Any]) -> None:
    bundle = render(assignments)
    assert check_bundle(bundle) == []
    found = dashboards(bundle)
    assert sorted(found) == sorted(TITLES)
    for dashboard in found.values():
        assert dashboard["version"] == 8
        assert "Managed by o2-provision." in dashboard["description"]
        assert [v["name"] for v in dashboard["variables"]["list"]] == ["service", "model", "session"]


@pytest.mark.skipif(not CLI.exists(), reason="the o2-provision script is not installed next to this Python")
def test_the_cli_validates_the_bundle_with_other_values() -> None:
    done = subprocess.run(
        [str(CLI), "validate", "--set", "stream=pipecat-prod", "--set", "folder=Voice"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Valid" in done.stdout


def test_the_stream_value_reaches_every_query_and_variable(other_bundle: Bundle) -> None:
    stream = OTHER["stream"].replace("-", "_")  # O2 stores 'pipecat-prod' as 'pipecat_prod'
    assert stream == "pipecat_prod"
    for dashboard in dashboards(other_bundle).values():
        for variable in dashboard["variables"]["list"]:
            assert variable["query_data"]["stream"] == stream
            assert variable["query_data"]["stream_type"] == "traces"
        for panel in panels(dashboard):
            for query in panel["queries"]:
                assert query["fields"]["stream"] == stream
                assert query["fields"]["stream_type"] == "traces"
                tables = re.findall(r'FROM\s+"([^"]+)"', query["query"])
                assert tables and set(tables) == {stream}, panel["id"]


def test_the_voice_to_voice_target_is_a_mark_line_whose_value_is_a_string(other_bundle: Bundle) -> None:
    dashboard = dashboards(other_bundle)[TITLES[0]]
    chart = next(p for p in panels(dashboard) if p["id"] == "latency_percentiles")
    # MarkLine.value is Option<String> in O2's v8 schema: a JSON number would be refused (422).
    assert chart["config"]["mark_line"] == [{"name": "target", "type": "yAxis", "value": "650"}]


@pytest.mark.parametrize("title", TITLES)
def test_panel_structure(default_bundle: Bundle, title: str) -> None:
    dashboard = dashboards(default_bundle)[title]
    for panel in panels(dashboard):
        assert isinstance(panel["config"]["show_legends"], bool)
        assert panel["queryType"] == "sql"
        (query,) = panel["queries"]
        assert query["customQuery"] is True
        assert query["config"] == {"promql_legend": ""}
        assert query["fields"]["filter"] == {"filterType": "group", "logicalOperator": "AND", "conditions": []}
        assert query["fields"]["y"], panel["id"]
        if panel["type"] == "metric":
            assert query["fields"]["x"] == [] and len(query["fields"]["y"]) == 1
        elif panel["type"] != "table":
            assert len(query["fields"]["x"]) == 1
        for item in query["fields"]["x"] + query["fields"]["y"]:
            assert item["alias"] == item["column"]


@pytest.mark.parametrize("title", TITLES)
def test_layout_fits_the_192_column_grid_without_overlaps(default_bundle: Bundle, title: str) -> None:
    items = [p["layout"] for p in panels(dashboards(default_bundle)[title])]
    assert len({i["i"] for i in items}) == len(items) and all(i["i"] > 0 for i in items)
    for item in items:
        assert all(isinstance(item[k], int) for k in "xywhi")
        assert item["x"] >= 0 and item["w"] > 0 and item["x"] + item["w"] <= 192
    for a, b in combinations(items, 2):
        apart = (
            a["x"] + a["w"] <= b["x"]
            or b["x"] + b["w"] <= a["x"]
            or a["y"] + a["h"] <= b["y"]
            or b["y"] + b["h"] <= a["y"]
        )
        assert apart, (a, b)


@pytest.mark.parametrize("title", TITLES)
def test_sql_follows_the_o2_rules(default_bundle: Bundle, title: str) -> None:
    for query in panel_queries(dashboards(default_bundle)[title]):
        sql = query.sql
        assert not re.search(r"(?i)select\s+\*", sql), query.panel_id
        assert not re.search(r"(?i)\bas\s+\"?_timestamp\b", sql), query.panel_id
        # the cheap filter first, in every (sub)query that reads the stream
        for where in re.findall(r"(?i)\bWHERE\s+(\S+)", sql):
            assert where.rsplit(".", 1)[-1] == "operation_name", (query.panel_id, where)
        # attributes are strings in O2: every numeric one is CAST before use
        for m in NUMERIC_ATTRIBUTES.finditer(sql):
            cast = re.search(r"CAST\(\s*$", sql[: m.start()])
            null_check = sql[m.end() :].lstrip().startswith("IS NOT NULL")
            assert cast or null_check, (query.panel_id, m.group(0))
        # time series: O2 picks the interval, except the per-minute rate
        for interval in re.findall(r"(?i)histogram\(\s*_timestamp\s*(,[^)]*)?\)", sql):
            assert interval == "" or query.panel_id == "turns_per_minute", query.panel_id
        if query.x_aliases and query.x_aliases[0] == "time_bucket":
            assert re.search(r"(?i)histogram\(\s*_timestamp", sql), query.panel_id


def test_every_variable_defaults_to_all_and_is_escaped(latency: dict[str, Any]) -> None:
    for variable in latency["variables"]["list"]:
        assert variable["type"] == "query_values"
        assert variable["multiSelect"] is True
        assert variable["selectAllValueForMultiSelect"] == "all"
        assert variable["escapeSingleQuotes"] is True
        assert variable["value"] == ""  # VariableList.value is Option<String>: never a list


def test_all_dashboards_are_in_the_bundle_as_dashboards(default_bundle: Bundle) -> None:
    sources = sorted(d.source for d in default_bundle.of(Kind.DASHBOARD))
    assert sources == ["dashboards/tokens_sessions.json.j2", "dashboards/turn_latency.json.j2"]


@pytest.mark.parametrize("assignments", [{}, OTHER], ids=["defaults", "other-stream-and-folder"])
def test_the_plain_tojson_filter_renders_the_payloads_jinjas_html_safe_one_does(
    assignments: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    import jinja2.filters

    import provision.render

    ours = render(assignments)
    monkeypatch.setattr(provision.render, "_tojson", jinja2.filters.do_tojson)
    jinjas = render(assignments)
    assert [(r.kind, r.key, r.payload) for r in ours.resources] == [
        (r.kind, r.key, r.payload) for r in jinjas.resources
    ]
