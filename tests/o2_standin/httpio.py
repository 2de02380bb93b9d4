"""Request/response value types and small response helpers."""

from __future__ import annotations

import json
import urllib.parse
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Request:
    method: str
    path: str
    query_string: str
    headers: dict[str, str]  # lower-cased names
    body: bytes
    params: dict[str, str] = field(default_factory=dict)
    user: str = ""
    org: str = ""

    @property
    def query(self) -> dict[str, list[str]]:
        return urllib.parse.parse_qs(self.query_string, keep_blank_values=True)

    def q(self, name: str, default: str | None = None) -> str | None:
        vals = self.query.get(name)
        return vals[-1] if vals else default

    def qs(self, name: str) -> list[str]:
        return self.query.get(name, [])

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False


def json_resp(status: int, obj: Any, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()
    return Response(status, body, "application/json", dict(headers or {}))


def text_resp(status: int, text: str, headers: dict[str, str] | None = None) -> Response:
    return Response(status, text.encode(), "text/plain; charset=utf-8", dict(headers or {}))


def msg(status: int, message: str, **extra: Any) -> Response:
    """MetaHttpResponse `{"code":status,"message":...}` plus optional keys."""
    obj: dict[str, Any] = {"code": status, "message": message}
    obj.update({k: v for k, v in extra.items() if v is not None})
    return json_resp(status, obj)


class HttpError(Exception):
    """Raised by handlers to short-circuit with a ready response."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


def fail(status: int, message: str) -> HttpError:
    return HttpError(msg(status, message))
