"""Folders v2 (§4.5)."""

from __future__ import annotations

from typing import Any

from .app import App
from .httpio import HttpError, Request, Response, fail, json_resp, msg, text_resp
from .ids import snowflake
from .jsonbody import DeserError, as_map, as_str, parse_json_body, req_field, unprocessable
from .router import Router

FOLDER_TYPES = ["dashboards", "alerts", "reports", "synthetics"]
_CONTENT_NAMES = {"dashboards": "dashboards", "alerts": "alerts", "reports": "reports", "synthetics": "synthetics"}


def folder_type(req: Request) -> str:
    ft = req.params["folder_type"]
    if ft not in FOLDER_TYPES:
        variants = ", ".join(f"`{v}`" for v in FOLDER_TYPES)
        raise HttpError(text_resp(400, f"Invalid URL: unknown variant `{ft}`, expected one of {variants}"))
    return ft


def _body(req: Request, *, with_id: bool) -> dict[str, Any]:
    body, pos = parse_json_body(req)
    try:
        as_map(body, (), "struct CreateFolderRequestBody")
        out = {
            "name": as_str(req_field(body, "name", ()), ("name",)),
            "description": as_str(req_field(body, "description", ()), ("description",)),
        }
        if with_id and body.get("folderId") is not None:
            out["folderId"] = as_str(body["folderId"], ("folderId",))
        return out
    except DeserError as e:
        raise unprocessable(e, pos) from None


def folder_is_empty(app: App, org: str, ftype: str, fid: str) -> bool:
    st = app.store
    if ftype == "dashboards":
        return not any(d["folder_id"] == fid for d in st.dashboard_map.get(org, {}).values())
    if ftype == "alerts":
        return not any(a["_folder_id"] == fid for a in st.alert_map.get(org, {}).values())
    return True


def create(app: App, req: Request) -> Response:
    ft = folder_type(req)
    b = _body(req, with_id=False)
    if not b["name"].strip():
        return msg(400, "Folder name cannot be empty")
    with app.store.lock:
        folders = app.store.folders_of(req.org, ft)
        if any(f["name"] == b["name"] for f in folders.values()):
            return msg(400, "Folder with this name already exists in this organization")
        fid = snowflake()
        f = {"folderId": fid, "name": b["name"], "description": b["description"]}
        folders[fid] = f
        return json_resp(200, dict(f))


def list_folders(app: App, req: Request) -> Response:
    ft = folder_type(req)
    with app.store.lock:
        items = sorted(app.store.folders_of(req.org, ft).values(), key=lambda f: (f["name"].lower(), f["folderId"]))
        return json_resp(200, {"list": [dict(f) for f in items]})


def get_folder(app: App, req: Request) -> Response:
    ft = folder_type(req)
    with app.store.lock:
        f = app.store.folders_of(req.org, ft).get(req.params["folder_id"])
        if f is None:
            return msg(404, "Folder not found")
        return json_resp(200, dict(f))


def get_by_name(app: App, req: Request) -> Response:
    ft = folder_type(req)
    with app.store.lock:
        for f in app.store.folders_of(req.org, ft).values():
            if f["name"] == req.params["folder_name"]:
                return json_resp(200, dict(f))
        return msg(404, "Folder not found")


def update(app: App, req: Request) -> Response:
    ft = folder_type(req)
    b = _body(req, with_id=True)
    fid = req.params["folder_id"]
    if fid == "default":
        return msg(400, "Can't update default folder")
    with app.store.lock:
        folders = app.store.folders_of(req.org, ft)
        folders[fid] = {"folderId": fid, "name": b["name"], "description": b["description"]}
    return msg(200, "Folder updated")


def delete(app: App, req: Request) -> Response:
    ft = folder_type(req)
    fid = req.params["folder_id"]
    with app.store.lock:
        folders = app.store.folders_of(req.org, ft)
        if fid not in folders:
            return msg(404, "Folder not found")
        if not folder_is_empty(app, req.org, ft, fid):
            what = _CONTENT_NAMES[ft]
            return msg(400, f"Folder contains {what}, please move/delete {what} from folder")
        del folders[fid]
    return msg(200, "Folder deleted")


def require_folder(app: App, org: str, ftype: str, fid: str, message: str = "Folder not found") -> None:
    """The `default` folder is created lazily; any other missing folder is a 404."""
    if fid == "default":
        app.store.ensure_default_folder(org, ftype)
        return
    if fid not in app.store.folders_of(org, ftype):
        raise fail(404, message)


def folder_name(app: App, org: str, ftype: str, fid: str) -> str:
    f = app.store.folders_of(org, ftype).get(fid)
    return f["name"] if f else fid


def register(r: Router) -> None:
    base = "/api/v2/{org}/folders/{folder_type}"
    r.add("POST", base, create)
    r.add("GET", base, list_folders)
    r.add("GET", base + "/{folder_id}", get_folder)
    r.add("PUT", base + "/{folder_id}", update)
    r.add("DELETE", base + "/{folder_id}", delete)
    r.add("GET", base + "/name/{folder_name}", get_by_name)
