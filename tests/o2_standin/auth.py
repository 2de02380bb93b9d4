"""Basic auth like OpenObserve OSS (§1.1)."""

from __future__ import annotations

import base64
import binascii

from .app import App
from .httpio import Request, Response, json_resp, text_resp

_WWW = {"WWW-Authenticate": 'Bearer realm="openobserve"'}


def authenticate(app: App, req: Request) -> Response | None:
    """Set req.user on success; otherwise return the failure response."""
    header = req.headers.get("authorization")
    if header is None:
        if "auth_tokens=" in req.headers.get("cookie", ""):
            return text_resp(401, "Unauthorized Access", _WWW)
        return json_resp(401, {"code": 401, "message": "Unauthorized Access"})
    if header.startswith("Bearer"):
        return text_resp(401, "Not Supported", _WWW)
    if not header.startswith("Basic "):
        return text_resp(401, "Unauthorized Access", _WWW)
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return text_resp(401, "Unauthorized Access", _WWW)
    if ":" not in decoded:
        return text_resp(401, "Unauthorized Access", _WWW)
    email, password = decoded.split(":", 1)
    cfg = app.config
    if email.strip().lower() != cfg.root_email.lower() or password != cfg.root_password:
        return text_resp(401, "Unauthorized Access", _WWW)
    req.user = cfg.root_email.lower()
    return None
