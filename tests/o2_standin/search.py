"""`POST /api/{org}/_search` executed by Apache DataFusion over stored records (§3).

``validate=true`` is accepted and changes nothing here: in O2 (api/search/src/search/utils.rs::
validate_query_fields) it only collects the query's columns that the schema has, so it adds nothing
but the User-Defined-Schema check, which the stand-in does not model; a column the schema lacks
fails the query's planning with 20004 either way.
"""

from __future__ import annotations

import base64
import datetime
import decimal
import math
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from datafusion import SessionConfig, SessionContext

from .alertmodel import SEARCH_EVENT_TYPES
from .app import App
from .httpio import HttpError, Request, Response, json_resp, msg
from .jsonbody import DeserError, Path, as_int, as_map, as_str, parse_json_body, req_field, unprocessable
from .router import Router
from .sqltext import HistogramError, add_default_order_and_ts, rewrite_histogram, shape
from .udfs import register_udfs

STREAM_TYPES = {"logs", "metrics", "traces", "enrichment_tables", "metadata"}
DEFAULT_LIMIT = 1000
_TABLE_NOT_FOUND = re.compile(r"table '(?:[^']*\.)?([^'.]*)' not found")
_NO_FIELD = re.compile(r"No field named ([^\s.]+(?:\.[^\s.]+)?)\.(?:\s*Valid fields are (.*?)\.?\s*$)?", re.S)
_BAD_FN = re.compile(r"Invalid function '([^']+)'")


ERROR_HEADER = "X-Error-Message"  # common/src/meta/http.rs: carries the code of every coded error


class SearchError(Exception):
    """A failed search: the HTTP answer, and the text the alert scheduler records for it.

    ``text`` is what ``core/src/alerts/mod.rs::evaluate_scheduled`` writes: for a coded error
    ``"{get_message()} {get_inner_message()}"`` (before the HTTP layer's enrichment), else the
    error's Display, which is the body's message.
    """

    def __init__(self, status: int, body: dict[str, Any], text: str | None = None, code: int | None = None) -> None:
        super().__init__(body.get("message"))
        self.status = status
        self.body = body
        self.text = text if text is not None else str(body.get("message"))
        self.code = code

    def response(self) -> Response:
        headers = {ERROR_HEADER: str(self.code)} if self.code is not None else None
        return json_resp(self.status, self.body, headers)


def _trace_id() -> str:
    return uuid.uuid4().hex


def coded(
    code: int, message: str, detail: str | None = "", http: int = 400, *, inner: str | None = None
) -> SearchError:
    """An ``ErrorCode`` error; ``inner`` is its inner message when it differs from ``detail``."""
    body: dict[str, Any] = {"code": code, "message": message}
    if detail is not None:
        body["error_detail"] = detail
    body["trace_id"] = _trace_id()
    return SearchError(http, body, f"{message} {inner if inner is not None else detail or ''}".rstrip(), code)


def field_not_found(name: str, valid: str) -> SearchError:
    """20004 (infra/src/errors/grpc.rs): inner ``No field named f. Valid fields are …``; the HTTP body
    is enriched to ``unknown field 'f'`` without ``error_detail`` (core/src/error_suggest.rs)."""
    inner = f"No field named {name}." + (f" Valid fields are {valid}." if valid else "")
    err = coded(20004, f"unknown field '{name}'", None, inner=inner)
    err.text = f"Search field not found: {inner} {inner}"
    return err


def plain(message: str) -> SearchError:
    return SearchError(400, {"code": 400, "message": message})


@dataclass
class Result:
    hits: list[dict[str, Any]]
    order: list[tuple[str, str]] = field(default_factory=list)
    histogram_interval: int | None = None
    function_error: list[str] = field(default_factory=list)
    size: int = DEFAULT_LIMIT
    scan_records: int = 0
    scan_size: int = 0


def _new_ctx() -> SessionContext:
    cfg = SessionConfig().set("datafusion.sql_parser.dialect", "PostgreSQL")
    return SessionContext(cfg)


def _map_df_error(err: Exception) -> SearchError:
    text = str(err)
    if "ParserError" in text and text.startswith("SQL error"):
        return plain(f"Error# {text}")
    m = _NO_FIELD.search(text)
    if m:
        name = m.group(1).split(".")[-1].strip('"')
        return field_not_found(name, (m.group(2) or "").strip())
    m = _BAD_FN.search(text)
    if m:
        err = coded(20005, f"unknown function '{m.group(1)}'", None, inner=text)
        err.text = f"Search function not defined: {text} {text}"
        return err
    m = _TABLE_NOT_FOUND.search(text)
    if m:
        return coded(20002, f"Search stream not found: {m.group(1)}", "", inner=m.group(1))
    return coded(20008, "Search SQL execute error", text)


def _time_filter(table: pa.Table, start_us: int, end_us: int) -> pa.Table:
    if "_timestamp" not in table.column_names or table.num_rows == 0:
        return table
    ts = table.column("_timestamp")
    mask = pc.and_(pc.greater_equal(ts, pa.scalar(start_us, pa.int64())), pc.less(ts, pa.scalar(end_us, pa.int64())))
    return table.filter(mask)


def _resolve_tables(app: App, org: str, stype: str, sql: str, start_us: int, end_us: int) -> dict[str, pa.Table]:
    """Discover FROM tables by planning against an empty context; each must be a stream with a schema."""
    tables: dict[str, pa.Table] = {}
    for _ in range(32):
        ctx = _new_ctx()
        for name, t in tables.items():
            ctx.from_arrow(t if t.num_columns else pa.table({"_timestamp": pa.array([], pa.int64())}), name)
        try:
            ctx.sql(sql)
            return tables
        except Exception as e:
            text = str(e)
            if "ParserError" in text and text.startswith("SQL error"):
                raise plain(f"Error# {text}") from None
            m = _TABLE_NOT_FOUND.search(text)
            if not m:
                return tables
            name = m.group(1)
            if name in tables:
                return tables
            st = app.store.stream(org, stype, name)
            if st is None or not st.schema:
                raise coded(20002, f"Search stream not found: {name}", "", inner=name) from None
            tables[name] = _time_filter(st.table(), start_us, end_us)
    return tables


def _py(v: Any) -> Any:
    if isinstance(v, datetime.datetime):
        if v.tzinfo is not None:
            v = v.astimezone(datetime.UTC).replace(tzinfo=None)
        s = v.isoformat()
        return s
    if isinstance(v, datetime.date):
        return v.isoformat()
    if isinstance(v, decimal.Decimal):
        return float(v)
    if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
        return None
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if isinstance(v, datetime.timedelta):
        return str(v)
    if isinstance(v, list):
        return [_py(x) for x in v]
    if isinstance(v, dict):
        return {k: _py(x) for k, x in v.items()}
    return v


def to_hits(batches: list[pa.RecordBatch]) -> list[dict[str, Any]]:
    hits: list[dict[str, Any]] = []
    for b in batches:
        for row in b.to_pylist():
            h = {k: _py(v) for k, v in row.items() if v is not None}
            h = {k: v for k, v in h.items() if v is not None}
            if h:
                hits.append(h)
    return hits


def execute(
    app: App,
    org: str,
    stype: str,
    sql: str,
    start_us: int,
    end_us: int,
    *,
    size: int = DEFAULT_LIMIT,
    offset: int = 0,
    histogram_interval: int = 0,
    add_defaults: bool = True,
) -> Result:
    warnings: list[str] = []
    tables = _resolve_tables(app, org, stype, sql, start_us, end_us)
    sql = _rewrite_placeholders(sql)
    sql = _rewrite_match_all(app, org, stype, sql, tables)
    try:
        sql2, hist = rewrite_histogram(sql, start_us, end_us, histogram_interval)
    except HistogramError as e:
        raise coded(20001, "Search SQL not valid", str(e)) from None
    sh = shape(sql2)
    order = sh.order_items
    if add_defaults:
        sql2, order = add_default_order_and_ts(sql2, sh)
    ctx = _new_ctx()
    register_udfs(ctx)
    for name, t in tables.items():
        ctx.from_arrow(t, name)
    limit: int | None = None
    if not sh.has_limit:
        if size <= 0:
            limit = DEFAULT_LIMIT
            warnings.append("Warn: results are capped to meet default limit")
        else:
            limit = size
    try:
        df = ctx.sql(sql2)
        if limit is not None:
            df = df.limit(limit, offset=max(offset, 0))
        batches = df.collect()
    except Exception as e:
        raise _map_df_error(e) from None
    hits = to_hits(batches)
    return Result(
        hits=hits,
        order=order,
        histogram_interval=hist,
        function_error=warnings,
        size=limit if limit is not None else size,
        scan_records=sum(t.num_rows for t in tables.values()),
        scan_size=sum(t.nbytes for t in tables.values()),
    )


_O2_CUSTOM = re.compile(r"(\"[^\"]+\"|[A-Za-z_][A-Za-z0-9_]*)\s*=\s*'((?:[^']|'')*)::_o2_custom'")
# O2 rewrites these on the parsed query, so a qualified column (t.col) is matched too; a negated
# comparison (!=, <>, NOT IN, NOT LIKE) becomes false, any other becomes true.
_O2_ALL = re.compile(
    r"(?:(?:\"[^\"]+\"|[A-Za-z_][A-Za-z0-9_]*)\.)?(?:\"[^\"]+\"|[A-Za-z_][A-Za-z0-9_]*)\s*"
    r"(?P<op>=|!=|<>|(?:NOT\s+)?LIKE|(?:NOT\s+)?IN)\s*\(?\s*'_o2_all_'\s*\)?",
    re.I,
)
_MATCH_ALL = re.compile(r"\bmatch_all(?:_raw(?:_ignore_case)?)?\s*\(\s*'((?:[^']|'')*)'\s*\)", re.I)
FTS_KEYS = ["log", "message", "msg", "content", "data", "body", "json", "error"]


def _rewrite_placeholders(sql: str) -> str:
    sql = _O2_CUSTOM.sub(lambda m: f"str_match({m.group(1)}, '{m.group(2)}')", sql)
    return _O2_ALL.sub(
        lambda m: "false" if m.group("op").upper() in ("!=", "<>") or "NOT" in m.group("op").upper() else "true", sql
    )


def _rewrite_match_all(app: App, org: str, stype: str, sql: str, tables: dict[str, pa.Table]) -> str:
    if not _MATCH_ALL.search(sql):
        return sql
    msg_text = "match_all() should only apply to the stream that have full text search fields"
    if len(tables) != 1:
        raise coded(20001, "Search SQL not valid", msg_text)
    name = next(iter(tables))
    st = app.store.stream(org, stype, name)
    fields = [f for f in FTS_KEYS if st is not None and f in st.schema]
    if not fields:
        raise coded(20001, "Search SQL not valid", msg_text)

    def repl(m: re.Match[str]) -> str:
        term = m.group(1)
        return "(" + " OR ".join(f"str_match_ignore_case(\"{f}\", '{term}')" for f in fields) + ")"

    return _MATCH_ALL.sub(repl, sql)


def _parse_body(req: Request) -> dict[str, Any]:
    body, pos = parse_json_body(req)
    try:
        root: Path = ()
        as_map(body, root, "struct Request")
        q = as_map(req_field(body, "query", root), ("query",), "struct Query")
        assert q is not None
        out: dict[str, Any] = {}
        out["sql"] = as_str(req_field(q, "sql", ("query",)), ("query", "sql"))
        out["start_time"] = as_int(req_field(q, "start_time", ("query",)), ("query", "start_time"))
        out["end_time"] = as_int(req_field(q, "end_time", ("query",)), ("query", "end_time"))
        out["from"] = as_int(q.get("from", 0), ("query", "from"), optional=True) or 0
        out["size"] = as_int(q.get("size", DEFAULT_LIMIT), ("query", "size"), optional=True)
        if out["size"] is None:
            out["size"] = DEFAULT_LIMIT
        out["track_total_hits"] = bool(q.get("track_total_hits") or False)
        out["histogram_interval"] = (
            as_int(q.get("histogram_interval", 0), ("query", "histogram_interval"), optional=True) or 0
        )
        enc = as_str(body.get("encoding", ""), ("encoding",), optional=True) or ""
        if enc not in ("", "base64"):
            raise DeserError(("encoding",), f"unknown variant `{enc}`, expected `base64` or ``")
        out["encoding"] = enc
        return out
    except DeserError as e:
        raise unprocessable(e, pos) from None


def search_handler(app: App, req: Request) -> Response:
    t0 = time.time()
    stype = req.q("type", "logs") or "logs"
    if stype not in STREAM_TYPES:
        stype = "logs"
    st = req.q("search_type")
    if st is not None and st not in SEARCH_EVENT_TYPES:
        raise HttpError(
            Response(
                400, f"Failed to deserialize query string: unknown variant `{st}`".encode(), "text/plain; charset=utf-8"
            )
        )
    p = _parse_body(req)
    sql = p["sql"]
    if p["encoding"] == "base64":
        try:
            padded = sql + "=" * (-len(sql) % 4)
            sql = base64.urlsafe_b64decode(padded).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return msg(400, "Error# base64 decode error")
    if p["track_total_hits"]:
        sql = f"SELECT count(*) AS zo_sql_num FROM ({sql})"
    try:
        res = execute(
            app,
            req.org,
            stype,
            sql,
            p["start_time"],
            p["end_time"],
            size=p["size"],
            offset=p["from"],
            histogram_interval=p["histogram_interval"],
            add_defaults=not p["track_total_hits"],
        )
    except SearchError as e:
        return e.response()
    took = int((time.time() - t0) * 1000)
    total = res.hits[0].get("zo_sql_num", 0) if p["track_total_hits"] and res.hits else len(res.hits)
    out: dict[str, Any] = {
        "took": took,
        "took_detail": {
            "total": took,
            "cache_took": 0,
            "file_list_took": 0,
            "wait_in_queue": 0,
            "idx_took": 0,
            "search_took": took,
        },
        "hits": res.hits,
        "total": total,
        "from": p["from"],
        "size": res.size,
        "cached_ratio": 0,
        "scan_size": res.scan_size,
        "idx_scan_size": 0,
        "scan_records": res.scan_records,
        "is_partial": False,
        "result_cache_ratio": 0,
        "trace_id": _trace_id(),
        "is_histogram_eligible": res.histogram_interval is not None,
    }
    if res.function_error:
        out["function_error"] = res.function_error
    if res.histogram_interval is not None:
        out["histogram_interval"] = res.histogram_interval
    if res.order:
        out["order_by"] = res.order[0][1]
        out["order_by_metadata"] = [[c, d] for c, d in res.order]
    return json_resp(200, out)


def register(r: Router) -> None:
    r.add("POST", "/api/{org}/_search", search_handler)
