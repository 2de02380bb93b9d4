"""Light SQL tokenizer and the textual rewrites OpenObserve applies before planning (§3.2)."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass
class Tok:
    kind: str  # word | str | qident | num | op | lp | rp | comma | ws | comment
    text: str
    start: int
    end: int
    depth: int = 0


_TOKEN_RE = re.compile(
    r"""(?P<ws>\s+)|(?P<comment>--[^\n]*|/\*.*?\*/)|(?P<str>'(?:[^']|'')*'?)|(?P<qident>"(?:[^"]|"")*"?)"""
    r"""|(?P<num>\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)|(?P<word>[A-Za-z_][A-Za-z0-9_$]*)|(?P<lp>\()|(?P<rp>\))|(?P<comma>,)"""
    r"""|(?P<op>::|<=|>=|<>|!=|!~\*?|~\*?|\|\||.)""",
    re.S,
)


def tokenize(sql: str) -> list[Tok]:
    toks: list[Tok] = []
    depth = 0
    for m in _TOKEN_RE.finditer(sql):
        kind = m.lastgroup or "op"
        t = Tok(kind, m.group(), m.start(), m.end())
        if kind == "rp":
            depth -= 1
        t.depth = depth
        if kind == "lp":
            depth += 1
        toks.append(t)
    return toks


def sig(toks: list[Tok]) -> list[Tok]:
    return [t for t in toks if t.kind not in ("ws", "comment")]


def kw(t: Tok, *words: str) -> bool:
    return t.kind == "word" and t.text.lower() in words


AGGREGATE_FUNCS = {
    "count",
    "sum",
    "avg",
    "min",
    "max",
    "median",
    "approx_median",
    "approx_distinct",
    "approx_percentile_cont",
    "approx_percentile_cont_with_weight",
    "percentile_cont",
    "array_agg",
    "first_value",
    "last_value",
    "approx_topk",
    "approx_topk_distinct",
    "summary_percentile",
    "mean",
    "bool_and",
    "bool_or",
}


@dataclass
class Shape:
    complex: bool
    aggregate: bool
    has_order_by: bool
    has_limit: bool
    limit_pos: int | None  # offset of top-level LIMIT/OFFSET/FETCH in the text
    select_end: int | None  # offset right after the top-level SELECT keyword
    projection_star: bool
    projection_has_ts: bool
    order_items: list[tuple[str, str]]


def shape(sql: str) -> Shape:
    toks = sig(tokenize(sql))
    selects = [t for t in toks if kw(t, "select")]
    complex_ = (
        len(selects) != 1
        or any(kw(t, "join", "union", "intersect", "except") for t in toks)
        or (bool(toks) and kw(toks[0], "with"))
    )
    top = [t for t in toks if t.depth == 0]
    aggregate = False
    for i, t in enumerate(toks):
        if t.kind == "word" and t.text.lower() in AGGREGATE_FUNCS and i + 1 < len(toks) and toks[i + 1].kind == "lp":
            aggregate = True
        if kw(t, "distinct") and t.depth == 0:
            aggregate = True
    for i, t in enumerate(top):
        if kw(t, "group") and i + 1 < len(top) and kw(top[i + 1], "by"):
            aggregate = True
    has_order = False
    order_items: list[tuple[str, str]] = []
    limit_pos: int | None = None
    has_limit = False
    for i, t in enumerate(top):
        if kw(t, "order") and i + 1 < len(top) and kw(top[i + 1], "by"):
            has_order = True
            j = i + 2
            cur: list[str] = []
            direction = "asc"
            while j < len(top) and not kw(top[j], "limit", "offset", "fetch"):
                tj = top[j]
                if tj.kind == "comma":
                    if cur:
                        order_items.append((" ".join(cur), direction))
                    cur, direction = [], "asc"
                elif kw(tj, "desc"):
                    direction = "desc"
                elif kw(tj, "asc", "nulls", "first", "last"):
                    pass
                else:
                    cur.append(tj.text.strip('"'))
                j += 1
            if cur:
                order_items.append((" ".join(cur), direction))
        if kw(t, "limit", "offset", "fetch") and limit_pos is None:
            limit_pos = t.start
        if kw(t, "limit"):
            has_limit = True
    select_end = None
    star = False
    has_ts = False
    if selects and selects[0].depth == 0:
        select_end = selects[0].end
        idx = toks.index(selects[0]) + 1
        while idx < len(toks) and not (toks[idx].depth == 0 and kw(toks[idx], "from")):
            tt = toks[idx]
            if tt.kind == "op" and tt.text == "*" and tt.depth == 0:
                star = True
            if (tt.kind == "word" and tt.text.lower() == "_timestamp") or (
                tt.kind == "qident" and tt.text == '"_timestamp"'
            ):
                has_ts = True
            idx += 1
    return Shape(complex_, aggregate, has_order, has_limit, limit_pos, select_end, star, has_ts, order_items)


def add_default_order_and_ts(sql: str, sh: Shape) -> tuple[str, list[tuple[str, str]]]:
    """Rewrites 5 and 6: default ORDER BY _timestamp DESC; `_timestamp` in the projection."""
    order = sh.order_items
    out = sql.rstrip().rstrip(";")
    if sh.complex or sh.aggregate:
        return out, order
    if not sh.has_order_by:
        clause = " ORDER BY _timestamp DESC "
        if sh.limit_pos is not None:
            out = out[: sh.limit_pos] + clause.lstrip() + out[sh.limit_pos :]
        else:
            out = out + clause.rstrip()
        order = [("_timestamp", "desc")]
    if sh.select_end is not None and not sh.projection_star and not sh.projection_has_ts:
        out = out[: sh.select_end] + " _timestamp," + out[sh.select_end :]
    return out, order


# ----- histogram() -----

_UNITS = {
    **dict.fromkeys(["second", "seconds", "s", "sec", "secs"], 1),
    **dict.fromkeys(["minute", "minutes", "m", "min", "mins"], 60),
    **dict.fromkeys(["hour", "hours", "h", "hr", "hrs"], 3600),
    **dict.fromkeys(["day", "days", "d"], 86400),
}
_SNAPS = [1, 5, 10, 15, 30, 60, 300, 600, 900, 1800, 3600, 7200, 14400, 21600, 28800, 43200, 86400]


class HistogramError(Exception):
    pass


def parse_interval(text: str) -> int | None:
    """Seconds for '<n> <unit>'; None for an unknown unit; HistogramError for a bare number."""
    s = text.strip()
    if re.fullmatch(r"\d+", s):
        raise HistogramError(f"Invalid histogram interval: {s}")
    m = re.fullmatch(r"(\d+)\s*([A-Za-z]+)", s)
    if not m:
        return None
    unit = _UNITS.get(m.group(2).lower())
    if unit is None:
        return None
    return int(m.group(1)) * unit


def auto_interval(start_us: int, end_us: int) -> int:
    if start_us == 0 and end_us == 0:
        return 3600
    r = (end_us - start_us) / 1_000_000
    h = 3600
    day = 86400
    for lim, val in (
        (60 * day, day),
        (30 * day, 12 * h),
        (28 * day, 6 * h),
        (21 * day, 3 * h),
        (15 * day, 2 * h),
        (6 * h, h),
        (2 * h, 60),
        (h, 30),
        (1800, 15),
        (10, 10),
    ):
        if r >= lim:
            return val
    return 1


def snap(seconds: int) -> int:
    if seconds > 86400:
        return seconds if seconds % 86400 == 0 else 86400
    for s in _SNAPS:
        if s >= seconds:
            return s
    return 86400


def _split_args(toks: list[Tok]) -> list[list[Tok]]:
    args: list[list[Tok]] = [[]]
    depth = 0
    for t in toks:
        if t.kind == "lp":
            depth += 1
        elif t.kind == "rp":
            depth -= 1
        if t.kind == "comma" and depth == 0:
            args.append([])
            continue
        args[-1].append(t)
    return args


def _tz_offset_seconds(tz: str) -> int:
    tz = tz.strip()
    m = re.fullmatch(r"([+-])(\d{1,2}):?(\d{2})", tz)
    if m:
        sign = -1 if m.group(1) == "-" else 1
        return sign * (int(m.group(2)) * 3600 + int(m.group(3)) * 60)
    if tz.upper() in ("UTC", "Z", "GMT", ""):
        return 0
    try:
        import datetime
        import zoneinfo

        off = datetime.datetime.now(zoneinfo.ZoneInfo(tz)).utcoffset()
        return int(off.total_seconds()) if off else 0
    except Exception:
        return 0


def rewrite_histogram(sql: str, start_us: int, end_us: int, body_interval: int) -> tuple[str, int | None]:
    """Return (sql, reported interval seconds or None when no histogram())."""
    reported: int | None = None
    while True:
        toks = tokenize(sql)
        idx = None
        for i, t in enumerate(toks):
            if t.kind == "word" and t.text.lower() == "histogram":
                j = i + 1
                while j < len(toks) and toks[j].kind in ("ws", "comment"):
                    j += 1
                if j < len(toks) and toks[j].kind == "lp":
                    idx = (i, j)
                    break
        if idx is None:
            return sql, reported
        i, j = idx
        depth = 0
        k = j
        while k < len(toks):
            if toks[k].kind == "lp":
                depth += 1
            elif toks[k].kind == "rp":
                depth -= 1
                if depth == 0:
                    break
            k += 1
        inner = sig(toks[j + 1 : k])
        args = _split_args(inner)
        field = sql[args[0][0].start : args[0][-1].end] if args and args[0] else "_timestamp"
        interval: int | None = None
        verbatim: int | None = None
        tz_off = 0
        if len(args) >= 2 and args[1]:
            a = args[1][0]
            text = a.text[1:-1].replace("''", "'") if a.kind == "str" else a.text
            verbatim = parse_interval(text)
        if len(args) >= 3 and args[2]:
            a = args[2][0]
            tz_off = _tz_offset_seconds(a.text[1:-1] if a.kind == "str" else a.text)
        if verbatim is None:
            interval = snap(body_interval) if body_interval > 0 else snap(auto_interval(start_us, end_us))
            bucket = interval
        else:
            interval = snap(verbatim)
            bucket = verbatim
        reported = interval
        ts = f"to_timestamp_micros({field})" if not tz_off else f"to_timestamp_micros({field} + {tz_off * 1_000_000})"
        repl = f"date_bin(INTERVAL '{bucket} seconds', {ts}, to_timestamp('2001-01-01T00:00:00'))"
        sql = sql[: toks[i].start] + repl + sql[toks[k].end :]
