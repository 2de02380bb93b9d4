"""Assemble the route table from every feature module."""

from __future__ import annotations

from . import basic, hooks
from .router import Router


def build_router() -> Router:
    r = Router()
    basic.register(r)
    hooks.register(r)
    for name in (
        "ingest",
        "search",
        "folders",
        "dashboards",
        "destinations",
        "templates",
        "alerts",
        "llm_models",
        "desttest",
        "sessions",
    ):
        try:
            mod = __import__(f"{__package__}.{name}", fromlist=["register"])
        except ModuleNotFoundError as e:
            if e.name and e.name.endswith(name):
                continue
            raise
        reg = getattr(mod, "register", None)
        if reg is not None:
            reg(r)
    return r
