"""Model-pricing HTTP API `/api/{org}/llm/models` (openobserve-llm.md §5)."""

from __future__ import annotations

import copy
import math
from typing import Any

from .app import App
from .flatten import rust_f64
from .httpio import Request, Response, json_resp, msg
from .ids import is_ksuid, ksuid
from .jsonbody import DeserError, as_bool, as_enum, as_int, as_list, as_map, as_str, parse_json_body, unprocessable
from .pricing import cost_from_definition, find_definition, pick_tier
from .router import Router
from .rustregex import RustRegexError, compile_rust, rust_search

_SOURCE = {"org": "org", "_meta": "meta_org", "_openobserve": "built_in"}
# `ZO_MODEL_PRICING_SOURCE_URL` default (openobserve-llm.md §4).
BUILT_IN_SOURCE_URL = "https://raw.githubusercontent.com/openobserve/sdr_patterns/refs/heads/main/llm_pricing.json"
_META = set(".+*?()|[]{}^$\\")


def _models(app: App, org: str) -> dict[str, dict[str, Any]]:
    return app.store.llm_models.setdefault(org, {})


def _parse(req: Request) -> dict[str, Any]:
    body, pos = parse_json_body(req)
    try:
        as_map(body, (), "struct ModelPricingDefinition")
        # server-owned fields are overwritten, but still typed: `id` is a KSUID, `source` an enum
        mid = body.get("id")
        if mid is not None and not is_ksuid(as_str(mid, ("id",)) or ""):
            raise DeserError(("id",), f'invalid value: string "{mid}", expected a KSUID')
        if body.get("source") is not None:
            as_enum(body["source"], ("source",), ["org", "meta_org", "built_in"])
        d: dict[str, Any] = {
            "name": as_str(body.get("name", ""), ("name",), optional=True) or "",
            "match_pattern": as_str(body.get("match_pattern", ""), ("match_pattern",), optional=True) or "",
            "enabled": True if body.get("enabled") is None else as_bool(body["enabled"], ("enabled",)),
            "tiers": [],
            "valid_from": as_int(body.get("valid_from"), ("valid_from",), optional=True),
            "sort_order": as_int(body.get("sort_order", 0), ("sort_order",), expected="i32", optional=True) or 0,
            "provider": as_str(body.get("provider", ""), ("provider",), optional=True) or "",
            "description": as_str(body.get("description", ""), ("description",), optional=True) or "",
        }
        for i, t in enumerate(as_list(body.get("tiers", []), ("tiers",), optional=True) or []):
            tp = ("tiers", i)
            tm = as_map(t, tp, "struct PricingTier") or {}
            tier: dict[str, Any] = {"name": as_str(tm.get("name", ""), (*tp, "name"), optional=True) or ""}
            if tm.get("condition") is not None:
                c = as_map(tm["condition"], (*tp, "condition")) or {}
                tier["condition"] = {
                    "usage_key": c.get("usage_key", ""),
                    "operator": c.get("operator", "gt"),
                    "value": c.get("value", 0),
                }
            tier["prices"] = dict(as_map(tm.get("prices", {}), (*tp, "prices")) or {})
            d["tiers"].append(tier)
        return d
    except DeserError as e:
        raise unprocessable(e, pos) from None


def _validate(d: dict[str, Any]) -> str | None:
    if not d["name"].strip():
        return "Model name is required"
    if len(d["name"]) > 256:
        return "Model name must be 256 characters or fewer"
    if not d["match_pattern"].strip():
        return "Match pattern is required"
    if len(d["match_pattern"]) > 512:
        return "Match pattern must be 512 characters or fewer"
    try:
        compile_rust(d["match_pattern"])
    except RustRegexError as e:
        return f"Invalid regex pattern: {e}"
    if not d["tiers"]:
        return "At least one pricing tier is required"
    if all(t.get("condition") for t in d["tiers"]):
        return "At least one tier must have no condition (default fallback)"
    for t in d["tiers"]:
        c = t.get("condition")
        if c:
            if not str(c.get("usage_key", "")).strip():
                return f"Tier '{t['name']}' has a condition with an empty usage_key"
            v = c.get("value")
            if not isinstance(v, int | float) or isinstance(v, bool) or not math.isfinite(float(v)):
                return f"Tier '{t['name']}' condition value must be a finite number, got {_num(v)}"
        for k, p in t["prices"].items():
            if not isinstance(p, int | float) or isinstance(p, bool) or not math.isfinite(float(p)):
                return f"Price for '{k}' in tier '{t['name']}' must be a finite number, got {_num(p)}"
            if p < 0:
                return f"Price for '{k}' in tier '{t['name']}' must be >= 0, got {rust_f64(float(p))}"
    return None


def _num(v: Any) -> str:
    return rust_f64(float(v)) if isinstance(v, int | float) and not isinstance(v, bool) else str(v)


def public(d: dict[str, Any]) -> dict[str, Any]:
    out = {k: copy.deepcopy(v) for k, v in d.items() if not k.startswith("_")}
    if out.get("valid_from") is None:
        out.pop("valid_from", None)
    for k in ("provider", "description"):
        if not out.get(k):
            out.pop(k, None)
    if not out.get("children"):
        out.pop("children", None)
    return out


def create(app: App, req: Request) -> Response:
    if req.org == "_openobserve":
        return msg(403, "Cannot create entries in the built-in org. Use the refresh endpoint to sync from upstream.")
    d = _parse(req)
    err = _validate(d)
    if err:
        return msg(400, err)
    now = app.clock.now_us()
    with app.store.lock:
        models = _models(app, req.org)
        if any(m["name"] == d["name"] for m in models.values()):
            return msg(400, f"A model pricing definition with name '{d['name']}' already exists in this organization")
        d.update(id=ksuid(), org_id=req.org, source=_SOURCE.get(req.org, "org"), created_at=now, updated_at=now)
        models[d["id"]] = d
        return json_resp(201, public(d))


def update(app: App, req: Request) -> Response:
    if req.org == "_openobserve":
        return msg(403, "Built-in model pricing definitions are read-only. Clone to customize.")
    d = _parse(req)
    mid = req.params["model_id"]
    with app.store.lock:
        models = _models(app, req.org)
        old = models.get(mid)
        if old is None:
            return msg(404, "Model pricing definition not found")
        err = _validate(d)
        if err:
            return msg(400, err)
        if any(m["name"] == d["name"] and k != mid for k, m in models.items()):
            return msg(400, f"A model pricing definition with name '{d['name']}' already exists in this organization")
        d.update(
            id=mid, org_id=req.org, source=old["source"], created_at=old["created_at"], updated_at=app.clock.now_us()
        )
        models[mid] = d
        return json_resp(200, public(d))


def get(app: App, req: Request) -> Response:
    mid = req.params["model_id"]
    with app.store.lock:
        for org in (req.org, "_meta", "_openobserve"):
            d = app.store.llm_models.get(org, {}).get(mid)
            if d is not None:
                return json_resp(200, public(d))
    return msg(404, "Model pricing definition not found")


def delete(app: App, req: Request) -> Response:
    with app.store.lock:
        if _models(app, req.org).pop(req.params["model_id"], None) is None:
            return msg(404, "Model pricing definition not found")
    return msg(200, "Model pricing definition deleted")


def _test_string(pattern: str) -> str:
    """`derive_test_string`: the literal prefix after a leading `(?i)` and `^`, up to a metacharacter."""
    p = pattern.removeprefix("(?i)").removeprefix("^").removeprefix("(?i)")
    out: list[str] = []
    i = 0
    while i < len(p):
        c = p[i]
        if c == "\\":
            if i + 1 < len(p) and p[i + 1] in _META:
                out.append(p[i + 1])
                i += 2
                continue
            break
        if c in _META:
            break
        out.append(c)
        i += 1
    return "".join(out)


def list_models(app: App, req: Request) -> Response:
    with app.store.lock:
        rows = [public(d) for d in _models(app, req.org).values()]
        if req.org not in ("_meta", "_openobserve"):
            rows += [public(d) for d in app.store.llm_models.get("_meta", {}).values() if d.get("enabled", True)]
        if req.org != "_openobserve":
            rows += [public(d) for d in app.store.llm_models.get("_openobserve", {}).values() if d.get("enabled", True)]
    prio = {"org": 0, "meta_org": 1, "built_in": 2}
    rows.sort(key=lambda r: (prio.get(r["source"], 3), r.get("sort_order", 0), r["name"]))
    parents: list[dict[str, Any]] = []
    for r in rows:
        probe = _test_string(r["match_pattern"])
        parent = None
        for p in parents:
            if probe and rust_search(p["match_pattern"], probe):
                parent = p
                break
        if parent is None:
            parents.append(r)
        else:
            parent.setdefault("children", []).append(r)
    return json_resp(200, parents)


def built_in(app: App, req: Request) -> Response:
    return json_resp(200, {"models": [], "source_url": BUILT_IN_SOURCE_URL, "last_updated": 0})


def refresh(app: App, req: Request) -> Response:
    return json_resp(200, {"created": 0, "updated": 0, "disabled": 0})


def test_match(app: App, req: Request) -> Response:
    body, pos = parse_json_body(req)
    try:
        as_map(body, ())
        if "model_name" not in body:
            raise DeserError((), "missing field `model_name`")
        name = as_str(body["model_name"], ("model_name",)) or ""
        usage = dict(as_map(body.get("usage") or {}, ("usage",)) or {})
        ts = as_int(body.get("timestamp"), ("timestamp",), optional=True)
    except DeserError as e:
        raise unprocessable(e, pos) from None
    with app.store.lock:
        d = find_definition(app, req.org, name, ts if ts is not None else app.clock.now_us())
    if d is None:
        return json_resp(200, {"matched": None, "tier": None, "costs": {}, "total_cost": 0.0})
    tokens = {k: int(v) for k, v in usage.items()}
    costs = cost_from_definition(d, tokens)
    total = costs.pop("total", 0.0)
    picked = pick_tier(d.get("tiers") or [], tokens)
    tier = picked["name"] if picked is not None else None
    return json_resp(200, {"matched": public(d), "tier": tier, "costs": costs, "total_cost": total})


def register(r: Router) -> None:
    base = "/api/{org}/llm/models"
    r.add("GET", base, list_models)
    r.add("POST", base, create)
    r.add("GET", base + "/built-in", built_in)
    r.add("POST", base + "/refresh-built-in", refresh)
    r.add("POST", base + "/test", test_match)
    r.add("GET", base + "/{model_id}", get)
    r.add("PUT", base + "/{model_id}", update)
    r.add("DELETE", base + "/{model_id}", delete)
