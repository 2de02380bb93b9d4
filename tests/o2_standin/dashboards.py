"""Dashboards (§4.1–§4.4): CRUD, hash concurrency, moves, panel routes."""

from __future__ import annotations

import contextlib
import copy
import datetime
from typing import Any

from .app import App
from .dashschema import normalize_legacy, normalize_panel, normalize_v8
from .folders import folder_name, require_folder
from .httpio import Request, Response, fail, json_resp, msg
from .ids import content_hash, snowflake
from .jsonbody import DeserError, as_list, as_map, as_str, parse_json_body, req_field, unprocessable
from .router import Router

CONFLICT = (
    "Conflict: Failed to save due to concurrent changes. Please refresh the page after backing up your work "
    "to avoid losing changes."
)
BAD_HASH = "Request to update existing dashboard with missing or invalid hash value. BUG"


def _now(app: App) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(app.clock.now(), datetime.UTC)


def parse_dashboard(app: App, req: Request) -> tuple[int, dict[str, Any], int]:
    """Return (version, inner, updatedAt) or raise the axum 422."""
    body, pos = parse_json_body(req)
    try:
        if not isinstance(body, dict):
            raise DeserError((), "invalid type: expected a dashboard object")
        v = body.get("version")
        version = 8
        if isinstance(v, int) and not isinstance(v, bool):
            if not 1 <= v <= 8:
                raise DeserError((), f"unsupported version: {v}")
            version = v
        inner = normalize_v8(body, _now(app)) if version == 8 else normalize_legacy(version, body, _now(app))
        upd = body.get("updatedAt")
        updated_at = upd if isinstance(upd, int) and not isinstance(upd, bool) else 0
        return version, inner, updated_at
    except DeserError as e:
        raise unprocessable(e, pos) from None


def wrapper(row: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {f"v{i}": None for i in range(1, 9)}
    out[f"v{row['version']}"] = copy.deepcopy(row["inner"])
    out["version"] = row["version"]
    out["hash"] = row["hash"]
    out["updatedAt"] = row["updatedAt"]
    return out


def _rehash(row: dict[str, Any]) -> None:
    row["hash"] = content_hash(row["version"], [row["inner"], row["updatedAt"]])


def _dashes(app: App, org: str) -> dict[str, dict[str, Any]]:
    return app.store.dashboard_map.setdefault(org, {})


def _check_title(inner: dict[str, Any]) -> None:
    title = str(inner.get("title") or "").strip()
    if not title:
        raise fail(500, "Dashboard should have title")
    inner["title"] = title


def create(app: App, req: Request) -> Response:
    version, inner, updated_at = parse_dashboard(app, req)
    folder = req.q("folder") or "default"
    with app.store.lock:
        require_folder(app, req.org, "dashboards", folder)
        _check_title(inner)
        did = snowflake()
        inner["dashboardId"] = did
        if not inner.get("owner"):
            inner["owner"] = req.user
        row = {"folder_id": folder, "version": version, "inner": inner, "updatedAt": updated_at, "hash": ""}
        _rehash(row)
        _dashes(app, req.org)[did] = row
        return json_resp(200, wrapper(row))


def _get_row(app: App, org: str, did: str) -> dict[str, Any]:
    row = _dashes(app, org).get(did)
    if row is None:
        raise fail(404, "Dashboard not found")
    return row


def get(app: App, req: Request) -> Response:
    with app.store.lock:
        return json_resp(200, wrapper(_get_row(app, req.org, req.params["dashboard_id"])))


def _check_hash(req: Request, row: dict[str, Any]) -> None:
    h = req.q("hash")
    try:
        hv = int(h) if h is not None else None
    except ValueError:
        hv = None
    if hv is None or hv < 0 or hv >= 1 << 64:
        raise fail(500, BAD_HASH)
    if str(hv) != row["hash"]:
        raise fail(409, CONFLICT)


def update(app: App, req: Request) -> Response:
    version, inner, updated_at = parse_dashboard(app, req)
    did = req.params["dashboard_id"]
    folder = req.q("folder") or "default"
    with app.store.lock:
        row = _get_row(app, req.org, did)
        if row["folder_id"] != folder:
            return msg(404, "Dashboard not found")
        _check_hash(req, row)
        _check_title(inner)
        inner["dashboardId"] = did
        if not inner.get("owner"):
            inner["owner"] = req.user
        row.update(version=version, inner=inner, updatedAt=updated_at)
        _rehash(row)
        return json_resp(200, wrapper(row))


def delete(app: App, req: Request) -> Response:
    with app.store.lock:
        d = _dashes(app, req.org)
        if req.params["dashboard_id"] not in d:
            return msg(404, "Dashboard not found")
        del d[req.params["dashboard_id"]]
    return msg(200, "Dashboard deleted")


def _typed(req: Request, fields: dict[str, str]) -> dict[str, Any]:
    body, pos = parse_json_body(req)
    try:
        as_map(body, (), "a map")
        out: dict[str, Any] = {}
        for k, kind in fields.items():
            v = req_field(body, k, ())
            if kind == "list[str]":
                items = as_list(v, (k,)) or []
                out[k] = [as_str(x, (k, i)) for i, x in enumerate(items)]
            else:
                out[k] = as_str(v, (k,))
        return out
    except DeserError as e:
        raise unprocessable(e, pos) from None


def bulk_delete(app: App, req: Request) -> Response:
    b = _typed(req, {"ids": "list[str]"})
    with app.store.lock:
        d = _dashes(app, req.org)
        if any(i not in d for i in b["ids"]):
            return msg(404, "Dashboard not found")
        for i in b["ids"]:
            d.pop(i, None)
    return json_resp(200, {"successful": b["ids"], "unsuccessful": [], "err": None})


def move_one(app: App, req: Request) -> Response:
    b = _typed(req, {"from": "str", "to": "str"})
    with app.store.lock:
        row = _get_row(app, req.org, req.params["dashboard_id"])
        require_folder(app, req.org, "dashboards", b["to"])
        row["folder_id"] = b["to"]
    return msg(200, "Dashboard moved")


def move_many(app: App, req: Request) -> Response:
    b = _typed(req, {"dashboard_ids": "list[str]", "dst_folder_id": "str"})
    with app.store.lock:
        require_folder(app, req.org, "dashboards", b["dst_folder_id"])
        rows = [_get_row(app, req.org, i) for i in b["dashboard_ids"]]
        for r in rows:
            r["folder_id"] = b["dst_folder_id"]
    return msg(200, "Dashboard moved" if len(b["dashboard_ids"]) == 1 else "Dashboards moved")


def list_dashboards(app: App, req: Request) -> Response:
    folder = req.q("folder")
    title = req.q("title")
    page_size = req.q("pageSize")
    with app.store.lock:
        items = []
        for did, row in _dashes(app, req.org).items():
            if folder is not None and row["folder_id"] != folder:
                continue
            if folder is None and title is None and row["folder_id"] != "default":
                continue
            t = str(row["inner"].get("title", ""))
            if title and title.lower() not in t.lower():
                continue
            inner = row["inner"]
            item = wrapper(row)
            del item["updatedAt"]
            item.update(
                folder_id=row["folder_id"],
                folder_name=folder_name(app, req.org, "dashboards", row["folder_id"]),
                dashboard_id=did,
                title=t,
                description=inner.get("description", ""),
                role=inner.get("role", ""),
                owner=inner.get("owner", ""),
                created=inner.get("created", ""),
                updatedAt=row["updatedAt"],
            )
            items.append(item)
        items.sort(key=lambda i: (i["title"], i["folder_name"]))
        if title is not None and page_size:
            with contextlib.suppress(ValueError):
                items = items[: int(page_size)]
        return json_resp(200, {"dashboards": items})


# ----- panels -----


def _panel_ctx(app: App, req: Request) -> dict[str, Any]:
    h = req.q("hash")
    if h is None:
        raise fail(400, "hash query parameter is required")
    row = _get_row(app, req.org, req.params["dashboard_id"])
    if row["folder_id"] != (req.q("folder") or "default"):
        raise fail(404, "Dashboard not found")
    if row["version"] != 8:
        raise fail(400, "Panel operations are only supported for v8 dashboards")
    _check_hash(req, row)
    return row


def _parse_panel_body(req: Request) -> tuple[dict[str, Any], str | None]:
    body, pos = parse_json_body(req)
    try:
        as_map(body, (), "struct PanelRequestBody")
        panel = normalize_panel(req_field(body, "panel", ()), ("panel",))
        tab = as_str(body.get("tabId"), ("tabId",), optional=True)
        return panel, tab
    except DeserError as e:
        raise unprocessable(e, pos) from None


def _pick_tab(row: dict[str, Any], tab_id: str | None) -> dict[str, Any]:
    tabs: list[dict[str, Any]] = row["inner"].get("tabs") or []
    if tab_id is None:
        if not tabs:
            raise fail(404, "Tab not found: (no tabs)")
        return tabs[0]
    for t in tabs:
        if t["tabId"] == tab_id:
            return t
    raise fail(404, f"Tab not found: {tab_id}")


def _auto_layout(tab: dict[str, Any], panel: dict[str, Any]) -> None:
    lay = panel.get("layout")
    if lay and not (lay.get("x", 0) == 0 and lay.get("y", 0) == 0):
        if not lay.get("i"):
            lay["i"] = max([int((p.get("layout") or {}).get("i", 0)) for p in tab["panels"]] + [0]) + 1
        return
    w = lay.get("w") if lay and lay.get("w", 0) > 0 else 96
    h = lay.get("h") if lay and lay.get("h", 0) > 0 else 18
    others = [p.get("layout") or {} for p in tab["panels"]]
    i = max([int(o.get("i", 0)) for o in others] + [0]) + 1
    if not others:
        x, y = 0, 0
    else:
        last = others[-1]
        lx = last.get("x", 0) + last.get("w", 0)
        if lx + w <= 192:
            x, y = lx, last.get("y", 0)
        else:
            x, y = 0, max(o.get("y", 0) + o.get("h", 0) for o in others)
    panel["layout"] = {"x": x, "y": y, "w": w, "h": h, "i": i}


def add_panel(app: App, req: Request) -> Response:
    panel, tab_id = _parse_panel_body(req)
    with app.store.lock:
        row = _panel_ctx(app, req)
        tab = _pick_tab(row, tab_id)
        if not panel["id"]:
            panel["id"] = "Panel_ID" + snowflake()[-7:]
        if any(p["id"] == panel["id"] for p in tab["panels"]):
            return msg(409, f"Panel with id {panel['id']} already exists in tab {tab['tabId']}")
        _auto_layout(tab, panel)
        tab["panels"].append(panel)
        _rehash(row)
        return json_resp(200, {"panel": panel, "hash": row["hash"], "tabId": tab["tabId"]})


def update_panel(app: App, req: Request) -> Response:
    panel, tab_id = _parse_panel_body(req)
    pid = req.params["panel_id"]
    with app.store.lock:
        row = _panel_ctx(app, req)
        tab = _pick_tab(row, tab_id)
        for idx, p in enumerate(tab["panels"]):
            if p["id"] == pid:
                panel["id"] = pid
                tab["panels"][idx] = panel
                _rehash(row)
                return json_resp(200, {"panel": panel, "hash": row["hash"], "tabId": tab["tabId"]})
        return msg(404, f"Panel not found: {pid}")


def delete_panel(app: App, req: Request) -> Response:
    pid = req.params["panel_id"]
    with app.store.lock:
        row = _panel_ctx(app, req)
        tab_id = req.q("tabId")
        tabs = [_pick_tab(row, tab_id)] if tab_id else row["inner"].get("tabs") or []
        for tab in tabs:
            for idx, p in enumerate(tab["panels"]):
                if p["id"] == pid:
                    del tab["panels"][idx]
                    _rehash(row)
                    return json_resp(200, {"hash": row["hash"], "panelId": pid})
        return msg(404, f"Panel not found: {pid}")


def register(r: Router) -> None:
    r.add("POST", "/api/{org}/dashboards", create)
    r.add("GET", "/api/{org}/dashboards", list_dashboards)
    r.add("GET", "/api/{org}/dashboards/{dashboard_id}", get)
    r.add("PUT", "/api/{org}/dashboards/{dashboard_id}", update)
    r.add("DELETE", "/api/{org}/dashboards/{dashboard_id}", delete)
    r.add("DELETE", "/api/{org}/dashboards/bulk", bulk_delete)
    r.add("PATCH", "/api/{org}/dashboards/move", move_many)
    r.add("PUT", "/api/{org}/folders/dashboards/{dashboard_id}", move_one)
    r.add("POST", "/api/{org}/dashboards/{dashboard_id}/panels", add_panel)
    r.add("PUT", "/api/{org}/dashboards/{dashboard_id}/panels/{panel_id}", update_panel)
    r.add("DELETE", "/api/{org}/dashboards/{dashboard_id}/panels/{panel_id}", delete_panel)
