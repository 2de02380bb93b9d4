"""OpenObserve UDFs registered into a DataFusion SessionContext (§3.3)."""

from __future__ import annotations

import re

import pyarrow as pa
import pyarrow.compute as pc
from datafusion import SessionContext, udf


def _pattern(p: pa.Array) -> str:
    v = p[0].as_py() if len(p) else ""
    return "" if v is None else str(v)


def _str_match(a: pa.Array, p: pa.Array) -> pa.Array:
    return pc.match_substring(a.cast(pa.string()), _pattern(p))


def _str_match_ic(a: pa.Array, p: pa.Array) -> pa.Array:
    return pc.match_substring(a.cast(pa.string()), _pattern(p), ignore_case=True)


def _re_match(a: pa.Array, p: pa.Array) -> pa.Array:
    pat = _pattern(p)
    rx = re.compile(pat)
    return pa.array([None if v is None else bool(rx.search(v)) for v in a.cast(pa.string()).to_pylist()], pa.bool_())


def _re_not_match(a: pa.Array, p: pa.Array) -> pa.Array:
    r = _re_match(a, p)
    return pc.invert(r)


def register_udfs(ctx: SessionContext) -> None:
    s, b = pa.string(), pa.bool_()
    for name, fn in (
        ("str_match", _str_match),
        ("match_field", _str_match),
        ("str_match_ignore_case", _str_match_ic),
        ("match_field_ignore_case", _str_match_ic),
        ("re_match", _re_match),
        ("re_not_match", _re_not_match),
    ):
        ctx.register_udf(udf(fn, [s, s], b, "stable", name=name))
