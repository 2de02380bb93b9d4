"""Alert conditions: SQL rendering by column type (scheduled) and in-memory matching (real-time)."""

from __future__ import annotations

from typing import Any

import pyarrow as pa


class ConditionError(Exception):
    pass


def _quote_ident(c: str) -> str:
    return '"' + c.replace('"', '""') + '"'


def _quote_str(v: Any) -> str:
    s = v if isinstance(v, str) else _plain(v)
    return "'" + s.replace("'", "''") + "'"


def _plain(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        from .flatten import rust_f64

        return rust_f64(v)
    return str(v)


def _num(v: Any) -> float | int:
    if isinstance(v, bool):
        raise ConditionError(f"value {v!r} is not a number")
    if isinstance(v, int | float):
        return v
    try:
        f = float(str(v))
    except ValueError:
        raise ConditionError(f"value {v!r} is not a number") from None
    return int(f) if f.is_integer() and "." not in str(v) else f


def render_condition(cond: dict[str, Any], schema: dict[str, pa.DataType]) -> str:
    col, op, val = cond["column"], cond["operator"], cond["value"]
    ident = _quote_ident(col)
    if op == "contains":
        return f"str_match({ident}, {_quote_str(val)})"
    if op == "not_contains":
        s = val if isinstance(val, str) else _plain(val)
        return f"{ident} NOT LIKE '%{s.replace(chr(39), chr(39) * 2)}%'"
    t = schema.get(col)
    if t is None:
        raise ConditionError(f"column {col} not found in stream schema")
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return f"{ident} {op} {_quote_str(val)}"
    if pa.types.is_integer(t):
        n = _num(val)
        return f"{ident} {op} {n}"
    if pa.types.is_floating(t):
        return f"{ident} {op} {float(_num(val))}"
    if pa.types.is_boolean(t):
        if op not in ("=", "!="):
            raise ConditionError(f"operator {op} not supported for boolean column {col}")
        b = val if isinstance(val, bool) else str(val).lower() == "true"
        return f"{ident} {op} {'true' if b else 'false'}"
    raise ConditionError(f"unsupported column type {t} for {col}")


def render_v1(node: Any, schema: dict[str, pa.DataType]) -> str | None:
    """None means 'no filter' (an empty AND/OR)."""
    if "and" in node or "or" in node:
        key = "and" if "and" in node else "or"
        parts = [p for p in (render_v1(x, schema) for x in node[key]) if p is not None]
        if not parts:
            return None
        return "(" + f" {key.upper()} ".join(parts) + ")"
    if "not" in node:
        inner = render_v1(node["not"], schema)
        return None if inner is None else f"NOT ({inner})"
    return render_condition(node, schema)


def render_v2(group: dict[str, Any], schema: dict[str, pa.DataType]) -> str | None:
    out = ""
    for i, item in enumerate(group.get("conditions") or []):
        if item.get("filterType") == "group":
            r = render_v2(item, schema)
            if r is None:
                continue
            piece = f"({r})"
        else:
            piece = render_condition(item, schema)
        if not out:
            out = piece
        else:
            lo = "OR" if str(item.get("logicalOperator", "AND")).upper() == "OR" else "AND"
            out = f"{out} {lo} {piece}"
        _ = i
    return out or None


def render_where(conditions: Any, schema: dict[str, pa.DataType]) -> tuple[bool, str | None]:
    """Return (fires_at_all, where-clause or None)."""
    if conditions is None:
        return False, None
    if isinstance(conditions, dict) and conditions.get("version") == 2:
        return True, render_v2(conditions.get("conditions") or {}, schema)
    return True, render_v1(conditions, schema)


# ----- real-time, in memory -----


def _cmp(op: str, a: Any, b: Any) -> bool:
    if op == "=":
        return bool(a == b)
    if op == "!=":
        return bool(a != b)
    if op == ">":
        return bool(a > b)
    if op == ">=":
        return bool(a >= b)
    if op == "<":
        return bool(a < b)
    if op == "<=":
        return bool(a <= b)
    return False


def _to_f64(v: Any) -> float:
    if isinstance(v, bool):
        return 1.0 if v else 0.0
    if isinstance(v, int | float):
        return float(v)
    try:
        return float(str(v))
    except ValueError:
        return 0.0


def match_condition(cond: dict[str, Any], rec: dict[str, Any], *, honour_case: bool) -> bool:
    col, op, val = cond["column"], cond["operator"], cond["value"]
    if col not in rec or rec[col] is None:
        return False
    rv = rec[col]
    ic = honour_case and bool(cond.get("ignore_case"))
    if op in ("contains", "not_contains"):
        hay, needle = _plain(rv), val if isinstance(val, str) else _plain(val)
        if ic:
            hay, needle = hay.lower(), needle.lower()
        found = needle in hay
        return found if op == "contains" else not found
    if isinstance(val, bool):
        if op not in ("=", "!="):
            return False
        rb = rv if isinstance(rv, bool) else str(rv).lower() == "true"
        return _cmp(op, rb, val)
    if isinstance(val, int | float):
        return _cmp(op, _to_f64(rv), float(val))
    a, b = _plain(rv), str(val)
    if ic:
        a, b = a.lower(), b.lower()
    return _cmp(op, a, b)


def match_v1(node: Any, rec: dict[str, Any]) -> bool:
    if "and" in node:
        return all(match_v1(x, rec) for x in node["and"])
    if "or" in node:
        return any(match_v1(x, rec) for x in node["or"]) if node["or"] else True
    if "not" in node:
        return not match_v1(node["not"], rec)
    return match_condition(node, rec, honour_case=False)


def match_v2(group: dict[str, Any], rec: dict[str, Any]) -> bool:
    items = group.get("conditions") or []
    if not items:
        return True
    # AND binds tighter than OR: split into OR-separated AND-chains.
    chains: list[list[bool]] = [[]]
    for i, item in enumerate(items):
        r = match_v2(item, rec) if item.get("filterType") == "group" else match_condition(item, rec, honour_case=True)
        if i > 0 and str(item.get("logicalOperator", "AND")).upper() == "OR":
            chains.append([])
        chains[-1].append(r)
    return any(all(c) for c in chains)


def match_record(conditions: Any, rec: dict[str, Any]) -> bool:
    if conditions is None:
        return False
    if isinstance(conditions, dict) and conditions.get("version") == 2:
        return match_v2(conditions.get("conditions") or {}, rec)
    return match_v1(conditions, rec)
