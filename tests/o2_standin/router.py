"""Path routing with axum/matchit-like precedence: static segments beat parameters."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .app import App
from .httpio import Request, Response

Handler = Callable[[App, Request], Response]


@dataclass
class Route:
    pattern: str
    segments: list[str]
    methods: dict[str, Handler]
    auth: bool
    ingestion: bool

    def match(self, parts: list[str]) -> dict[str, str] | None:
        if len(parts) != len(self.segments):
            return None
        params: dict[str, str] = {}
        for seg, part in zip(self.segments, parts, strict=True):
            if seg.startswith("{") and seg.endswith("}"):
                if part == "":
                    return None
                params[seg[1:-1]] = part
            elif seg != part:
                return None
        return params

    def rank(self) -> tuple[int, ...]:
        return tuple(1 if s.startswith("{") else 0 for s in self.segments)


class Router:
    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}

    def add(self, method: str, pattern: str, handler: Handler, *, auth: bool = True, ingestion: bool = False) -> None:
        r = self.routes.get(pattern)
        if r is None:
            segs = pattern.strip("/").split("/")
            r = self.routes[pattern] = Route(pattern, segs, {}, auth, ingestion)
        r.methods[method] = handler

    def resolve(self, path: str) -> tuple[Route, dict[str, str]] | None:
        parts = path.strip("/").split("/") if path != "/" else [""]
        best: tuple[tuple[int, ...], Route, dict[str, str]] | None = None
        for r in self.routes.values():
            p = r.match(parts)
            if p is None:
                continue
            k = r.rank()
            if best is None or k < best[0]:
                best = (k, r, p)
        return (best[1], best[2]) if best else None
