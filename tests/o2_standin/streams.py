"""Stored stream data: records, inferred schema, cached Arrow table."""

from __future__ import annotations

import threading
from typing import Any

import pyarrow as pa

UTF8 = pa.string()
INT64 = pa.int64()
UINT64 = pa.uint64()
FLOAT64 = pa.float64()
BOOL = pa.bool_()

FORCED: dict[str, pa.DataType] = {"start_time": UINT64, "end_time": UINT64, "_timestamp": INT64}


def value_type(v: Any) -> pa.DataType | None:
    if v is None:
        return None
    if isinstance(v, bool):
        return BOOL
    if isinstance(v, int):
        return INT64
    if isinstance(v, float):
        return FLOAT64
    return UTF8


def widen(a: pa.DataType, b: pa.DataType) -> pa.DataType:
    if a == b:
        return a
    nums = {INT64, UINT64, FLOAT64}
    if a in nums and b in nums:
        return FLOAT64 if FLOAT64 in (a, b) else INT64
    return UTF8


def to_type(v: Any, t: pa.DataType) -> Any:
    if v is None:
        return None
    if t == UTF8:
        if isinstance(v, str):
            return v
        if isinstance(v, bool):
            return "true" if v else "false"
        return str(v)
    if t == FLOAT64:
        return float(v)
    return v


class Stream:
    def __init__(self, org: str, stype: str, name: str) -> None:
        self.org = org
        self.stype = stype
        self.name = name
        self.schema: dict[str, pa.DataType] = {}
        self.records: list[dict[str, Any]] = []
        self._batches: list[pa.Table] = []
        self._table: pa.Table | None = None
        self._lock = threading.Lock()
        self.settings: dict[str, Any] = {}

    def merge_schema(self, recs: list[dict[str, Any]]) -> None:
        for r in recs:
            for k, v in r.items():
                t = FORCED.get(k) or value_type(v)
                if t is None:
                    continue
                old = self.schema.get(k)
                self.schema[k] = t if old is None else (old if k in FORCED else widen(old, t))

    def append(self, recs: list[dict[str, Any]]) -> None:
        if not recs:
            return
        with self._lock:
            self.merge_schema(recs)
            self.records.extend(recs)
            cols: dict[str, pa.Array] = {}
            names = [k for k in self.schema if any(k in r for r in recs)]
            for k in names:
                t = self.schema[k]
                cols[k] = pa.array([to_type(r.get(k), t) for r in recs], type=t)
            self._batches.append(pa.table(cols))
            self._table = None

    def ensure_columns(self, cols: dict[str, pa.DataType]) -> None:
        """Pre-provision columns (e.g. GEN_AI_SCHEMA_FIELDS of an LLM stream) without data."""
        with self._lock:
            changed = False
            for k, t in cols.items():
                if k not in self.schema:
                    self.schema[k] = t
                    changed = True
            if changed:
                self._table = None

    def arrow_schema(self) -> pa.Schema:
        return pa.schema([pa.field(k, t) for k, t in self.schema.items()])

    def table(self) -> pa.Table:
        with self._lock:
            if self._table is not None:
                return self._table
            schema = self.arrow_schema()
            parts: list[pa.Table] = []
            for i, b in enumerate(self._batches):
                if b.schema != schema:
                    cols = []
                    for f in schema:
                        if f.name in b.column_names:
                            c = b.column(f.name)
                            cols.append(c if c.type == f.type else c.cast(f.type))
                        else:
                            cols.append(pa.nulls(b.num_rows, f.type))
                    b = pa.Table.from_arrays(cols, schema=schema)
                    self._batches[i] = b
                parts.append(b)
            self._table = pa.concat_tables(parts) if parts else schema.empty_table()
            return self._table
