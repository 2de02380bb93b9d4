"""`DELETE …/bulk` for name-keyed resources: `{"ids": [...]}` in, successful/unsuccessful out."""

from __future__ import annotations

from collections.abc import Callable

from .app import App
from .httpio import Request, Response, json_resp
from .jsonbody import DeserError, as_list, as_map, as_str, parse_json_body, unprocessable


def bulk_delete(app: App, req: Request, delete_one: Callable[[App, str, str], Response]) -> Response:
    """Delete each named resource with delete_one (under the store lock) and report which went."""
    body, pos = parse_json_body(req)
    try:
        as_map(body, ())
        if "ids" not in body:
            raise DeserError((), "missing field `ids`")
        ids = [as_str(x, ("ids", i)) or "" for i, x in enumerate(as_list(body["ids"], ("ids",)) or [])]
    except DeserError as e:
        raise unprocessable(e, pos) from None
    ok: list[str] = []
    bad: list[str] = []
    with app.store.lock:
        for i in ids:
            (ok if delete_one(app, req.org, i).status == 200 else bad).append(i)
    return json_resp(200, {"successful": ok, "unsuccessful": bad, "err": None})
