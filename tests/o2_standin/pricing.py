"""LLM cost computation at ingestion (openobserve-llm.md §4): org definitions ▸ hard-coded table."""

from __future__ import annotations

import re
from typing import Any

from .app import App
from .rustregex import rust_search

# (pattern, tiers[(min_input_tokens | None, input $/1M, output $/1M)]) — first match wins.
HARDCODED: list[tuple[str, list[tuple[int | None, float, float]]]] = [
    ("gpt-5-mini", [(None, 0.25, 2.00)]),
    ("gpt-4\\.1-mini", [(None, 0.40, 1.60)]),
    ("gpt-4\\.1", [(None, 2.00, 8.00)]),
    ("gpt-4o-mini", [(None, 0.15, 0.60)]),
    ("gpt-4o", [(None, 2.50, 10.00)]),
    ("claude-sonnet-4-6", [(200_000, 6.00, 22.50), (None, 3.00, 15.00)]),
    ("claude-3-5-haiku", [(None, 0.80, 4.00)]),
    ("gemini-2\\.0-flash", [(None, 0.10, 0.40)]),
]

_SOURCE_PRIORITY = {"org": 0, "meta_org": 1, "built_in": 2}


def _org_definitions(app: App, org: str) -> list[dict[str, Any]]:
    out = []
    for o in (org, "_meta", "_openobserve"):
        for d in app.store.llm_models.get(o, {}).values():
            if d.get("enabled", True):
                out.append(d)
    return out


def _tier_ok(cond: dict[str, Any] | None, usage: dict[str, int]) -> bool:
    if not cond:
        return True
    v = float(usage.get(cond.get("usage_key", ""), 0))
    t = float(cond.get("value", 0))
    op = cond.get("operator", "gt")
    return {
        "gt": v > t,
        "gte": v >= t,
        "lt": v < t,
        "lte": v <= t,
        "eq": abs(v - t) < 0.5,
        "neq": abs(v - t) >= 0.5,
    }.get(op, False)


def pick_tier(tiers: list[dict[str, Any]], usage: dict[str, int]) -> dict[str, Any] | None:
    for t in tiers:
        if t.get("condition") and _tier_ok(t["condition"], usage):
            return t
    for t in tiers:
        if not t.get("condition"):
            return t
    return None


def find_definition(app: App, org: str, model: str, start_us: int) -> dict[str, Any] | None:
    cands = []
    for i, d in enumerate(_org_definitions(app, org)):
        vf = d.get("valid_from")
        if vf is not None and vf > start_us:
            continue
        if not rust_search(d["match_pattern"], model):
            continue
        cands.append((_SOURCE_PRIORITY.get(d.get("source", "org"), 0), -(vf if vf is not None else -(2**63)), i, d))
    if not cands:
        return None
    cands.sort(key=lambda c: (c[0], c[1], c[3].get("sort_order", 0), c[3].get("name", ""), c[2]))
    return cands[0][3]


def cost_from_definition(d: dict[str, Any], usage: dict[str, int]) -> dict[str, float]:
    tier = pick_tier(d.get("tiers") or [], usage)
    out: dict[str, float] = {}
    if tier is None:
        return out
    prices = tier.get("prices") or {}
    billable = dict(usage)
    for k, tokens in billable.items():
        if tokens > 0 and k in prices:
            c = tokens * float(prices[k])
            if c > 0:
                out[k] = c
    total = sum(out.values())
    if total > 0:
        out["total"] = total
    return out


def cost_hardcoded(model: str, inp: int, outp: int) -> dict[str, float] | None:
    for pattern, tiers in HARDCODED:
        if re.search(pattern, model):
            for min_in, pi, po in tiers:
                if min_in is None or inp >= min_in:
                    ci = inp / 1e6 * pi
                    co = outp / 1e6 * po
                    return {"input": ci, "output": co, "total": ci + co}
    return None
