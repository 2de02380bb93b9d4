"""Dashboard body deserialization: version selection and the v8 typed re-serialization (§4.2–§4.3)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from .jsonbody import DeserError, Path, as_bool, as_enum, as_float, as_int, as_list, as_map, as_str, invalid_type

# ----- tiny schema DSL -----


@dataclass
class F:
    key: str
    kind: Any  # "str" | "bool" | "i64" | "f64" | "any" | "datetime" | Obj | ("list", kind) | PanelFilterKind
    required: bool = False
    absent: str = "omit"  # omit | null | default
    default: Any = None


@dataclass
class Obj:
    name: str
    fields: list[F]


class _Filter:
    pass


FILTER = _Filter()


def _read(kind: Any, v: Any, path: Path) -> Any:
    if kind == "any":
        return v
    if kind == "stream_type":
        return as_enum(v, path, STREAM_TYPES)
    if kind == "str":
        return as_str(v, path)
    if kind == "bool":
        return as_bool(v, path)
    if kind == "i64":
        return as_int(v, path)
    if kind == "f64":
        return as_float(v, path)
    if kind == "datetime":
        return _datetime(v, path)
    if isinstance(kind, tuple) and kind[0] == "list":
        items = as_list(v, path) or []
        return [_read(kind[1], x, (*path, i)) for i, x in enumerate(items)]
    if isinstance(kind, tuple) and kind[0] == "opt":
        return None if v is None else _read(kind[1], v, path)
    if isinstance(kind, Obj):
        return normalize(kind, v, path)
    if kind is FILTER:
        return _panel_filter(v, path)
    raise AssertionError(kind)


def _absent(f: F, out: dict[str, Any]) -> None:
    if f.absent == "null":
        out[f.key] = None
    elif f.absent == "default":
        out[f.key] = f.default() if callable(f.default) else f.default


def normalize(schema: Obj, v: Any, path: Path) -> dict[str, Any]:
    obj = as_map(v, path, f"struct {schema.name}")
    assert obj is not None
    out: dict[str, Any] = {}
    for f in schema.fields:
        if f.key not in obj:
            if f.required:
                raise DeserError(path, f"missing field `{f.key}`")
            _absent(f, out)
            continue
        val = obj[f.key]
        if val is None and not f.required:
            _absent(f, out)
            continue
        out[f.key] = _read(f.kind, val, (*path, f.key))
    return out


def _panel_filter(v: Any, path: Path) -> dict[str, Any]:
    err = DeserError(path, "data did not match any variant of untagged enum PanelFilter")
    if not isinstance(v, dict):
        raise err
    for schema in (FILTER_CONDITION, FILTER_GROUP):
        try:
            return normalize(schema, v, path)
        except DeserError:
            continue
    raise err


def _datetime(v: Any, path: Path) -> str:
    if not isinstance(v, str):
        raise invalid_type(path, v, "a formatted date and time string or a unix timestamp")
    s = v.strip()
    try:
        dt = datetime.datetime.fromisoformat(s.replace("z", "Z"))
    except ValueError:
        raise DeserError(path, "input contains invalid characters") from None
    if dt.tzinfo is None or "T" not in s.upper():
        raise DeserError(path, "premature end of input")
    return format_rfc3339(dt)


def format_rfc3339(dt: datetime.datetime) -> str:
    """chrono `to_rfc3339_opts(SecondsFormat::AutoSi, true)`."""
    base = dt.strftime("%Y-%m-%dT%H:%M:%S")
    us = dt.microsecond
    if us:
        frac = f"{us:06d}"
        base += "." + (frac[:3] if frac.endswith("000") else frac)
    off = dt.utcoffset() or datetime.timedelta(0)
    if off == datetime.timedelta(0):
        return base + "Z"
    total = int(off.total_seconds())
    sign = "+" if total >= 0 else "-"
    total = abs(total)
    return f"{base}{sign}{total // 3600:02d}:{(total % 3600) // 60:02d}"


# ----- v8 -----

LAYOUT = Obj("Layout", [F(k, "i64", absent="default", default=0) for k in ("x", "y", "w", "h", "i")])
DATETIME_OPTIONS = Obj(
    "DateTimeOptions",
    [
        F("type", "str", absent="default", default="relative"),
        F("relativeTimePeriod", "any"),
        F("startTime", "any"),
        F("endTime", "any"),
    ],
)
AXIS_ITEM = Obj(
    "AxisItem",
    [
        F("label", "str", required=True),
        F("alias", "str", required=True),
        F("column", "str"),
        F("color", "any", absent="null"),
        F("type", "any"),
        F("functionName", "any"),
        F("sortBy", "any"),
        F("args", "any"),
        F("isDerived", "any"),
        F("havingConditions", "any"),
        F("treatAsNonTimestamp", "any"),
        F("showFieldAsJson", "any"),
        F("rawQuery", "any"),
    ],
)
FILTER_CONDITION = Obj(
    "PanelFilter",
    [
        F("type", "str", required=True),
        F("values", ("list", "str"), required=True),
        F("column", "any"),
        F("operator", "any"),
        F("value", "any"),
        F("logicalOperator", "str", required=True),
        F("filterType", "str", required=True),
    ],
)
FILTER_GROUP = Obj(
    "PanelFilter",
    [
        F("filterType", "str", required=True),
        F("logicalOperator", "str", required=True),
        F("conditions", ("list", FILTER), required=True),
    ],
)
STREAM_TYPES = ["logs", "metrics", "traces", "enrichment_tables", "metadata", "index", "file_list", "service_graph"]


PANEL_FIELDS = Obj(
    "PanelFields",
    [
        F("stream", "str", required=True),
        F("stream_type", "stream_type", required=True),
        F("x", ("list", AXIS_ITEM), required=True),
        F("y", ("list", AXIS_ITEM), required=True),
        F("z", ("list", AXIS_ITEM), absent="default", default=list),
        F("breakdown", ("list", AXIS_ITEM)),
        *[
            F(k, AXIS_ITEM)
            for k in ("latitude", "longitude", "weight", "name", "value_for_maps", "source", "target", "value")
        ],
        F("filter", FILTER, required=True),
        F("promql_labels", "any"),
        F("promql_operations", "any"),
    ],
)
QUERY_CONFIG = Obj(
    "QueryConfig",
    [
        F("promql_legend", "str", required=True),
        F("step_value", "any"),
        F("layer_type", "any"),
        F("weight_fixed", "f64"),
        F("limit", "any"),
        F("min", "f64"),
        F("max", "f64"),
        F("query_label", "any"),
        F("time_shift", "any"),
    ],
)
QUERY = Obj(
    "Query",
    [
        F("query", ("opt", "str"), absent="null"),
        F("vrlFunctionQuery", ("opt", "str"), absent="null"),
        F("customQuery", "bool", required=True),
        F("fields", PANEL_FIELDS, required=True),
        F("config", QUERY_CONFIG, required=True),
        F("joins", "any"),
        F("tabName", "any"),
    ],
)
_FLOAT_CONFIG_KEYS = ("y_axis_min", "y_axis_max", "axis_width", "line_thickness")
_CONFIG_OMIT_KEYS = [
    "legends_type",
    "chart_align",
    "unit",
    "unit_custom",
    "decimals",
    "step_value",
    "top_results",
    "top_results_others",
    "axis_border_show",
    "label_option",
    "axis_label_rotate",
    "axis_label_truncate_width",
    "show_symbol",
    "line_interpolation",
    "legend_width",
    "legend_height",
    "show_gridlines",
    "connect_nulls",
    "no_value_replacement",
    "map_type",
    "map_symbol_style",
    "lat_label",
    "lon_label",
    "weight_label",
    "name_label",
    "drilldown",
    "mark_line",
    "override_config",
    "mappings",
    "color",
    "background",
    "sparkline",
    "trellis",
    "aggregation",
    "wrap_table_cells",
    "table_transpose",
    "table_dynamic_columns",
    "table_aggregations",
    "promql_table_mode",
    "visible_columns",
    "hidden_columns",
    "sticky_columns",
    "sticky_first_column",
    "column_order",
    "table_pagination",
    "table_pagination_rows_per_page",
    "table_filtering",
    "table_pivot_show_row_totals",
    "table_pivot_show_col_totals",
    "table_pivot_sticky_row_totals",
    "table_pivot_sticky_col_totals",
    "panel_time_enabled",
    "panel_time_range",
]
MAP_VIEW = Obj(
    "MapView",
    [
        F("zoom", "f64", absent="default", default=0.0),
        F("lat", "f64", absent="default", default=0.0),
        F("lng", "f64", absent="default", default=0.0),
    ],
)
PANEL_CONFIG = Obj(
    "PanelConfig",
    [
        F("show_legends", "bool", required=True),
        F("legends_position", "any", absent="null"),
        *[F(k, "f64") for k in _FLOAT_CONFIG_KEYS],
        F("base_map", "any", absent="null"),
        F("map_view", ("opt", MAP_VIEW), absent="null"),
        *[F(k, "any") for k in _CONFIG_OMIT_KEYS],
    ],
)
PANEL = Obj(
    "Panel",
    [
        F("id", "str", required=True),
        F("type", "str", required=True),
        F("title", "str", required=True),
        F("description", "str", required=True),
        F("config", PANEL_CONFIG, required=True),
        F("queryType", "str", absent="default", default=""),
        F("queries", ("list", QUERY), required=True),
        F("layout", LAYOUT),
        F("htmlContent", "str"),
        F("markdownContent", "str"),
        F("customChartContent", "str"),
    ],
)
TAB = Obj(
    "Tab",
    [
        F("tabId", "str", required=True),
        F("name", "str", required=True),
        F("panels", ("list", PANEL), absent="default", default=list),
    ],
)
VARIABLE = Obj(
    "VariableList",
    [
        F("type", "str", absent="default", default=""),
        F("name", "str", absent="default", default=""),
        F("label", "str", absent="default", default=""),
        F("query_data", "any", absent="null"),
        F("value", "any", absent="null"),
        F("options", "any", absent="null"),
        *[
            F(k, "any")
            for k in (
                "multiSelect",
                "hideOnDashboard",
                "selectAllValueForMultiSelect",
                "customMultiSelectValue",
                "escapeSingleQuotes",
                "scope",
                "tabs",
                "panels",
            )
        ],
    ],
)
VARIABLES = Obj(
    "Variables", [F("list", ("list", VARIABLE), absent="default", default=list), F("showDynamicFilters", "any")]
)


def normalize_v8(body: dict[str, Any], now: datetime.datetime) -> dict[str, Any]:
    """Return the stored inner v8 dashboard (without updatedAt)."""
    if not isinstance(body, dict):
        raise invalid_type((), body, "struct Dashboard")
    out: dict[str, Any] = {"version": 8}
    out["dashboardId"] = _opt_str(body, "dashboardId")
    out["title"] = _opt_str(body, "title")
    out["description"] = _opt_str(body, "description")
    out["role"] = _opt_str(body, "role")
    out["owner"] = _opt_str(body, "owner")
    out["created"] = (
        _datetime(body["created"], ("created",)) if body.get("created") is not None else format_rfc3339(now)
    )
    tabs = body.get("tabs")
    out["tabs"] = [] if tabs is None else _read(("list", TAB), tabs, ("tabs",))
    if body.get("variables") is not None:
        out["variables"] = normalize(VARIABLES, body["variables"], ("variables",))
    if body.get("defaultDatetimeDuration") is not None:
        out["defaultDatetimeDuration"] = normalize(
            DATETIME_OPTIONS, body["defaultDatetimeDuration"], ("defaultDatetimeDuration",)
        )
    if body.get("updatedAt") is not None:
        as_int(body["updatedAt"], ("updatedAt",))
    return out


def normalize_panel(v: Any, path: Path) -> dict[str, Any]:
    return normalize(PANEL, v, path)


def _opt_str(body: dict[str, Any], key: str) -> str:
    v = body.get(key)
    if v is None:
        return ""
    r = as_str(v, (key,))
    assert r is not None
    return r


def normalize_legacy(version: int, body: dict[str, Any], now: datetime.datetime) -> dict[str, Any]:
    """v1..v7: structural checks that matter for the tests, otherwise stored as sent."""
    if not isinstance(body, dict):
        raise invalid_type((), body, "struct Dashboard")
    if version in (1, 2, 3):
        for k in ("title", "description"):
            if k not in body:
                raise DeserError((), f"missing field `{k}`")
    out = dict(body)
    out["version"] = version
    out.setdefault("dashboardId", "")
    out.setdefault("owner", "")
    out.setdefault("role", "")
    out.setdefault("description", "")
    if out.get("created") is None:
        out["created"] = format_rfc3339(now)
    else:
        out["created"] = _datetime(out["created"], ("created",))
    out.pop("updatedAt", None)
    if version == 7:
        for ti, tab in enumerate(out.get("tabs") or []):
            for pi, panel in enumerate((tab or {}).get("panels") or []):
                if isinstance(panel, dict) and "layout" not in panel:
                    raise DeserError(("tabs", ti, "panels", pi), "missing field `layout`")
    return out
