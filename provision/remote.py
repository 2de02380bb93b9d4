"""Reading and writing each kind of resource through O2's HTTP API."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import quote

from provision import ownership
from provision.client import O2Client
from provision.errors import NotFoundError
from provision.kinds import Kind

T = TypeVar("T")
R = TypeVar("R")


@dataclass
class Remote:
    """One object on the server: its identity, its id, and its state from the single-object GET."""

    kind: Kind
    key: str
    id: str
    managed: bool
    state: dict[str, Any] = field(default_factory=dict)
    folder_id: str | None = None
    hash: str | None = None


@dataclass
class ServerState:
    """What the server holds of each kind, as far as this tool looks."""

    objects: dict[Kind, list[Remote]]
    folder_ids: dict[str, str]  # "<type>/<name>" → folderId

    def of(self, kind: Kind) -> list[Remote]:
        return self.objects.get(kind, [])


def parallel(func: Callable[[T], R], items: Iterable[T], workers: int) -> list[R]:
    """Map func over items on a bounded thread pool, keeping order."""
    items = list(items)
    if len(items) <= 1 or workers <= 1:
        return [func(i) for i in items]
    with ThreadPoolExecutor(max_workers=min(workers, len(items))) as pool:
        return list(pool.map(func, items))


def _p(segment: str) -> str:
    return quote(segment, safe="")


class Api:
    """Per-kind O2 routes, for one organization."""

    def __init__(self, client: O2Client) -> None:
        self.client = client
        org = _p(client.org)
        self.v1 = f"/api/{org}"
        self.v2 = f"/api/v2/{org}"

    # -- folders ------------------------------------------------------------------------------
    def list_folders(self, folder_type: str) -> list[dict[str, Any]]:
        body = self.client.get(f"{self.v2}/folders/{folder_type}")
        return list((body or {}).get("list") or [])

    def create_folder(self, folder_type: str, payload: dict[str, Any]) -> str:
        body = self.client.post(f"{self.v2}/folders/{folder_type}", payload)
        return str(body["folderId"])

    def delete_folder(self, folder_type: str, folder_id: str) -> None:
        self.client.delete(f"{self.v2}/folders/{folder_type}/{_p(folder_id)}")

    # -- dashboards ---------------------------------------------------------------------------
    def list_dashboards(self, folder_id: str) -> list[dict[str, Any]]:
        body = self.client.get(f"{self.v1}/dashboards", folder=folder_id)
        return list((body or {}).get("dashboards") or [])

    def get_dashboard(self, dashboard_id: str) -> dict[str, Any]:
        body: dict[str, Any] = self.client.get(f"{self.v1}/dashboards/{_p(dashboard_id)}")
        return body

    def create_dashboard(self, folder_id: str, payload: dict[str, Any]) -> dict[str, Any]:
        body: dict[str, Any] = self.client.post(f"{self.v1}/dashboards", payload, folder=folder_id)
        return body

    def update_dashboard(self, dashboard_id: str, folder_id: str, hash_: str, payload: dict[str, Any]) -> None:
        self.client.put(f"{self.v1}/dashboards/{_p(dashboard_id)}", payload, folder=folder_id, hash=hash_)

    def delete_dashboard(self, dashboard_id: str, folder_id: str) -> None:
        self.client.delete(f"{self.v1}/dashboards/{_p(dashboard_id)}", folder=folder_id)

    # -- alerts -------------------------------------------------------------------------------
    def list_alerts(self, folder_id: str) -> list[dict[str, Any]]:
        body = self.client.get(f"{self.v2}/alerts", folder=folder_id)
        return list((body or {}).get("list") or [])

    def get_alert(self, alert_id: str) -> dict[str, Any]:
        body: dict[str, Any] = self.client.get(f"{self.v2}/alerts/{_p(alert_id)}")
        return body

    def create_alert(self, folder_id: str, payload: dict[str, Any]) -> str:
        body = self.client.post(f"{self.v2}/alerts", payload, folder=folder_id)
        return str(body.get("id", ""))

    def update_alert(self, alert_id: str, payload: dict[str, Any]) -> None:
        self.client.put(f"{self.v2}/alerts/{_p(alert_id)}", payload)

    def delete_alert(self, alert_id: str, folder_id: str) -> None:
        self.client.delete(f"{self.v2}/alerts/{_p(alert_id)}", folder=folder_id)

    # -- destinations and alert templates (name-keyed, v1 routes) ------------------------------
    def named_path(self, kind: Kind) -> str:
        return f"{self.v1}/alerts/{'destinations' if kind is Kind.DESTINATION else 'templates'}"

    def list_named(self, kind: Kind) -> list[dict[str, Any]]:
        body = self.client.get(self.named_path(kind))
        return list(body or [])

    def get_named(self, kind: Kind, name: str) -> dict[str, Any]:
        body: dict[str, Any] = self.client.get(f"{self.named_path(kind)}/{_p(name)}")
        return body

    def create_named(self, kind: Kind, payload: dict[str, Any]) -> None:
        self.client.post(self.named_path(kind), payload)

    def update_named(self, kind: Kind, name: str, payload: dict[str, Any]) -> None:
        self.client.put(f"{self.named_path(kind)}/{_p(name)}", payload)

    def delete_named(self, kind: Kind, name: str) -> None:
        self.client.delete(f"{self.named_path(kind)}/{_p(name)}")

    # -- model prices -------------------------------------------------------------------------
    def list_model_prices(self) -> list[dict[str, Any]]:
        try:
            listing = self.client.get(f"{self.v1}/llm/models") or []
        except NotFoundError:  # O2 before v0.92 has no model pricing: nothing there to manage
            return []
        rows: list[dict[str, Any]] = []
        for row in listing:
            rows.append(row)
            rows.extend(row.get("children") or [])
        return rows

    def get_model_price(self, price_id: str) -> dict[str, Any]:
        body: dict[str, Any] = self.client.get(f"{self.v1}/llm/models/{_p(price_id)}")
        return body

    def create_model_price(self, payload: dict[str, Any]) -> None:
        self.client.post(f"{self.v1}/llm/models", payload)

    def update_model_price(self, price_id: str, payload: dict[str, Any]) -> None:
        self.client.put(f"{self.v1}/llm/models/{_p(price_id)}", payload)

    def delete_model_price(self, price_id: str) -> None:
        self.client.delete(f"{self.v1}/llm/models/{_p(price_id)}")


def read_state(api: Api, kinds: Iterable[Kind], wanted: set[tuple[Kind, str]], workers: int) -> ServerState:
    """List every kind, then GET each object that is managed or wanted, all concurrently."""
    kinds = set(kinds)
    folder_lists = parallel(api.list_folders, ["dashboards", "alerts"], workers)
    folder_ids: dict[str, str] = {}
    folders: list[Remote] = []
    for folder_type, listing in zip(["dashboards", "alerts"], folder_lists, strict=True):
        for f in listing:
            key = f"{folder_type}/{f['name']}"
            folder_ids.setdefault(key, str(f["folderId"]))
            folders.append(Remote(Kind.FOLDER, key, str(f["folderId"]), ownership.is_managed(Kind.FOLDER, f), f))

    def list_kind(kind: Kind) -> list[Remote]:
        if kind is Kind.DASHBOARD:
            ids = [(k, v) for k, v in folder_ids.items() if k.startswith("dashboards/")]
            found: list[Remote] = []
            for (_, fid), items in zip(ids, parallel(lambda kv: api.list_dashboards(kv[1]), ids, workers), strict=True):
                for d in items:
                    inner = d.get(f"v{d.get('version', 8)}") or {}
                    managed = ownership.is_managed(
                        Kind.DASHBOARD, {"description": d.get("description") or inner.get("description")}
                    )
                    found.append(
                        Remote(
                            Kind.DASHBOARD,
                            str(d["title"]),
                            str(d["dashboard_id"]),
                            managed,
                            folder_id=fid,
                            hash=str(d.get("hash")),
                        )
                    )
            return found
        if kind is Kind.ALERT:
            ids = [(k, v) for k, v in folder_ids.items() if k.startswith("alerts/")]
            found = []
            for (_, fid), items in zip(ids, parallel(lambda kv: api.list_alerts(kv[1]), ids, workers), strict=True):
                for a in items:
                    found.append(
                        Remote(
                            Kind.ALERT,
                            str(a["name"]),
                            str(a["alert_id"]),
                            ownership.is_managed(Kind.ALERT, a),
                            folder_id=fid,
                        )
                    )
            return found
        if kind in (Kind.DESTINATION, Kind.ALERT_TEMPLATE):
            return [
                Remote(kind, str(o["name"]), str(o["name"]), ownership.is_managed(kind, o))
                for o in api.list_named(kind)
                if not o.get("isPrebuilt") and o.get("name") != "o2_default_content"
            ]
        if kind is Kind.MODEL_PRICE:
            return [
                Remote(kind, str(o["name"]), str(o["id"]), ownership.is_managed(kind, o))
                for o in api.list_model_prices()
                if o.get("source") == "org" and o.get("org_id") == api.client.org
            ]
        return []

    listed_kinds = [k for k in kinds if k is not Kind.FOLDER]
    objects: dict[Kind, list[Remote]] = {Kind.FOLDER: folders}
    objects.update(zip(listed_kinds, parallel(list_kind, listed_kinds, workers), strict=True))

    to_fetch = [r for k in listed_kinds for r in objects[k] if r.managed or (k, r.key) in wanted]

    def fetch(remote: Remote) -> None:
        if remote.kind is Kind.DASHBOARD:
            wrapper = api.get_dashboard(remote.id)
            remote.state = wrapper.get(f"v{wrapper.get('version', 8)}") or {}
            remote.hash = str(wrapper.get("hash"))
        elif remote.kind is Kind.ALERT:
            remote.state = api.get_alert(remote.id)
        elif remote.kind is Kind.MODEL_PRICE:
            remote.state = api.get_model_price(remote.id)
        else:
            remote.state = api.get_named(remote.kind, remote.key)

    parallel(fetch, to_fetch, workers)
    return ServerState(objects=objects, folder_ids=folder_ids)
