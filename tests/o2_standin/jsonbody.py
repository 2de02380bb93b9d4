"""axum 0.8 `Json<T>` extractor emulation: 415 / 400 / 422 plain-text rejections.

`parse_json_body` returns the parsed value plus a `Positions` table so that typed
validation can report serde's `<path>: <error> at line L column C`.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from .httpio import HttpError, Request, text_resp

Path = tuple[str | int, ...]


class Positions:
    """End offset (index of the last char) of every value, keyed by path."""

    def __init__(self, doc: str) -> None:
        self.doc = doc
        self.ends: dict[Path, int] = {}

    def line_col(self, path: Path) -> tuple[int, int]:
        idx = self.ends.get(path, len(self.doc) - 1)
        idx = max(0, min(idx, len(self.doc) - 1)) if self.doc else 0
        line = self.doc.count("\n", 0, idx) + 1
        col = idx - (self.doc.rfind("\n", 0, idx) + 1) + 1
        return line, col


_WS = re.compile(r"[ \t\n\r]*")
_NUM = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?")


class _OutOfRange(Exception):
    """serde_json `number out of range`: a number beyond f64 is a syntax error, not infinity."""

    def __init__(self, last: int) -> None:
        super().__init__("number out of range")
        self.last = last  # index of the number's last char (serde reports the column after reading it)


class _Scanner:
    def __init__(self, doc: str, pos: Positions) -> None:
        self.s = doc
        self.pos = pos
        self.dec = json.JSONDecoder()

    def ws(self, i: int) -> int:
        m = _WS.match(self.s, i)
        return m.end() if m else i

    def value(self, i: int, path: Path) -> tuple[Any, int]:
        i = self.ws(i)
        ch = self.s[i]
        if ch == "{":
            out: dict[str, Any] = {}
            i = self.ws(i + 1)
            if self.s[i] == "}":
                self.pos.ends[path] = i
                return out, i + 1
            while True:
                i = self.ws(i)
                key, i = self.dec.raw_decode(self.s, i)
                i = self.ws(i) + 1  # ':'
                val, i = self.value(i, (*path, key))
                out[key] = val
                i = self.ws(i)
                if self.s[i] == "}":
                    self.pos.ends[path] = i
                    return out, i + 1
                i += 1
        if ch == "[":
            arr: list[Any] = []
            i = self.ws(i + 1)
            if self.s[i] == "]":
                self.pos.ends[path] = i
                return arr, i + 1
            while True:
                val, i = self.value(i, (*path, len(arr)))
                arr.append(val)
                i = self.ws(i)
                if self.s[i] == "]":
                    self.pos.ends[path] = i
                    return arr, i + 1
                i += 1
        val, j = self.dec.raw_decode(self.s, i)
        if isinstance(val, float) and math.isinf(val):
            raise _OutOfRange(j - 1)
        if isinstance(val, int) and not isinstance(val, bool) and abs(val) >= 2**64:
            try:
                float(val)
            except OverflowError:
                raise _OutOfRange(j - 1) from None
        self.pos.ends[path] = j - 1
        return val, j


def _serde_syntax_message(e: json.JSONDecodeError) -> str:
    m = e.msg
    eof = e.pos >= len(e.doc.rstrip())
    if m.startswith("Expecting value"):
        text = "EOF while parsing a value" if eof else "expected value"
    elif m.startswith("Extra data"):
        text = "trailing characters"
    elif m.startswith("Expecting property name"):
        text = "EOF while parsing an object" if eof else "key must be a string"
    elif m.startswith("Expecting ',' delimiter"):
        text = "EOF while parsing a list" if eof else "expected `,` or `]`"
    elif m.startswith("Expecting ':'"):
        text = "expected `:`"
    elif m.startswith("Unterminated string"):
        text = "EOF while parsing a string"
    elif m.startswith("Invalid control character"):
        text = "control character (\\u0000-\\u001F) found while parsing a string"
    else:
        text = m.lower()
    if eof and text.startswith("EOF"):
        doc = e.doc
        last = len(doc.rstrip())
        line = doc.count("\n", 0, last) + 1
        col = last - (doc.rfind("\n", 0, last) + 1)
        return f"{text} at line {line} column {max(col, 0)}"
    return f"{text} at line {e.lineno} column {e.colno}"


def is_json_content_type(ct: str) -> bool:
    mime = ct.split(";", 1)[0].strip().lower()
    if not mime:
        return False
    if mime == "application/json":
        return True
    return mime.startswith("application/") and mime.endswith("+json")


def parse_json_body(req: Request) -> tuple[Any, Positions]:
    """Parse like axum's `Json` extractor; raise HttpError with axum's rejection."""
    if not is_json_content_type(req.content_type):
        raise HttpError(text_resp(415, "Expected request with `Content-Type: application/json`"))
    try:
        doc = req.body.decode("utf-8")
    except UnicodeDecodeError:
        raise HttpError(
            text_resp(400, "Failed to parse the request body as JSON: invalid unicode code point at line 1 column 1")
        ) from None
    try:
        json.loads(doc)
    except json.JSONDecodeError as e:
        raise HttpError(
            text_resp(400, f"Failed to parse the request body as JSON: {_serde_syntax_message(e)}")
        ) from None
    pos = Positions(doc)
    try:
        val, _ = _Scanner(doc, pos).value(0, ())
    except _OutOfRange as e:
        line = doc.count("\n", 0, e.last) + 1
        col = e.last - (doc.rfind("\n", 0, e.last) + 1) + 1
        raise HttpError(
            text_resp(400, f"Failed to parse the request body as JSON: number out of range at line {line} column {col}")
        ) from None
    return val, pos


class DeserError(Exception):
    """A serde deserialization error at a path."""

    def __init__(self, path: Path, message: str) -> None:
        super().__init__(message)
        self.path = path
        self.message = message


def path_str(path: Path) -> str:
    out = ""
    for seg in path:
        if isinstance(seg, int):
            out += f"[{seg}]"
        else:
            out += ("." if out else "") + seg
    return out


def unprocessable(err: DeserError, pos: Positions) -> HttpError:
    line, col = pos.line_col(err.path)
    p = path_str(err.path)
    prefix = f"{p}: " if p else ""
    return HttpError(
        text_resp(
            422,
            "Failed to deserialize the JSON body into the target type: "
            f"{prefix}{err.message} at line {line} column {col}",
        )
    )


def type_name(v: Any) -> str:
    """serde's `invalid type` description of a JSON value."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return f"boolean `{'true' if v else 'false'}`"
    if isinstance(v, int):
        return f"integer `{v}`"
    if isinstance(v, float):
        return f"floating point `{v}`"
    if isinstance(v, str):
        return f"string {json.dumps(v)}"
    if isinstance(v, list):
        return "sequence"
    return "map"


def invalid_type(path: Path, v: Any, expected: str) -> DeserError:
    return DeserError(path, f"invalid type: {type_name(v)}, expected {expected}")


# ----- small typed readers used by resource validators -----


def req_field(obj: dict[str, Any], key: str, path: Path) -> Any:
    if key not in obj:
        raise DeserError(path, f"missing field `{key}`")
    return obj[key]


def as_str(v: Any, path: Path, *, optional: bool = False) -> str | None:
    if v is None and optional:
        return None
    if not isinstance(v, str):
        raise invalid_type(path, v, "a string")
    return v


def as_bool(v: Any, path: Path, *, optional: bool = False) -> bool | None:
    if v is None and optional:
        return None
    if not isinstance(v, bool):
        raise invalid_type(path, v, "a boolean")
    return v


def as_int(v: Any, path: Path, *, expected: str = "i64", optional: bool = False) -> int | None:
    if v is None and optional:
        return None
    if isinstance(v, bool) or not isinstance(v, int):
        raise invalid_type(path, v, expected)
    return v


def as_float(v: Any, path: Path, *, optional: bool = False) -> float | None:
    if v is None and optional:
        return None
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise invalid_type(path, v, "f64")
    return float(v)


def as_list(v: Any, path: Path, *, optional: bool = False) -> list[Any] | None:
    if v is None and optional:
        return None
    if not isinstance(v, list):
        raise invalid_type(path, v, "a sequence")
    return v


def as_map(v: Any, path: Path, expected: str = "a map", *, optional: bool = False) -> dict[str, Any] | None:
    if v is None and optional:
        return None
    if not isinstance(v, dict):
        raise invalid_type(path, v, expected)
    return v


def as_enum(v: Any, path: Path, variants: list[str], *, optional: bool = False) -> str | None:
    if v is None and optional:
        return None
    if not isinstance(v, str):
        raise invalid_type(path, v, "a string" if not variants else "variant identifier")
    if v not in variants:
        joined = ", ".join(f"`{x}`" for x in variants)
        raise DeserError(path, f"unknown variant `{v}`, expected {'one of ' if len(variants) > 1 else ''}{joined}")
    return v
