"""Reading and writing each kind of resource through O2's HTTP API.

Each answer is read into the shape O2 documents for it (openobserve-api.md), with the fields this tool
relies on typed; O2's other fields are kept as they came.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Annotated, Any, TypeVar
from urllib.parse import quote

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, TypeAdapter, model_validator

from provision import ownership
from provision.client import O2Client
from provision.errors import NotFoundError
from provision.kinds import Kind

T = TypeVar("T")
R = TypeVar("R")


def _as_id(value: Any) -> Any:
    """O2's ids are strings; a number is taken as its decimal string."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


Id = Annotated[str, BeforeValidator(_as_id)]


class Answer(BaseModel):
    """Part of an answer: typed where this tool reads it, everything else kept."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    def raw(self) -> dict[str, Any]:
        """The object as O2 sent it (fields it left out stay out)."""
        return self.model_dump(by_alias=True, exclude_unset=True)


class Folder(Answer):
    folder_id: Id = Field(alias="folderId")
    name: str


class Folders(Answer):
    items: list[Folder] = Field(default_factory=list, alias="list")


class FolderCreated(Answer):
    folder_id: Id = Field(alias="folderId")


class Versioned(Answer):
    """A dashboard: its schema version, its hash, and its content under `v<version>`."""

    version: int = 8
    hash: Id | None = None

    @model_validator(mode="after")
    def _content_is_an_object(self) -> Versioned:
        if not isinstance((self.model_extra or {}).get(f"v{self.version}", {}), dict):
            raise ValueError(f"v{self.version} must be an object")
        return self

    @property
    def content(self) -> dict[str, Any]:
        inner: dict[str, Any] = (self.model_extra or {}).get(f"v{self.version}") or {}
        return inner


class DashboardEntry(Versioned):
    dashboard_id: Id
    title: str
    description: str | None = None


class Dashboards(Answer):
    items: list[DashboardEntry] = Field(default_factory=list, alias="dashboards")


class Marked(Answer):
    """The fields ownership marks live in."""

    name: str | None = None
    description: str | None = None
    tags: list[str] | None = None
    metadata: dict[str, Any] | None = None


class AlertEntry(Marked):
    alert_id: Id
    name: str


class Alerts(Answer):
    items: list[AlertEntry] = Field(default_factory=list, alias="list")


class AlertState(Marked):
    enabled: bool | None = None
    query_condition: dict[str, Any] | None = None


class AlertCreated(Answer):
    id: Id | None = None


class NamedEntry(Marked):
    name: str
    is_prebuilt: bool | None = Field(default=None, alias="isPrebuilt")


class ModelPriceEntry(Marked):
    id: Id
    name: str
    source: str | None = None
    org_id: str | None = None
    children: list[ModelPriceEntry] = Field(default_factory=list)


FOLDERS = TypeAdapter(Folders)
FOLDER_CREATED = TypeAdapter(FolderCreated)
DASHBOARDS = TypeAdapter(Dashboards)
DASHBOARD = TypeAdapter(Versioned)
ALERTS = TypeAdapter(Alerts)
ALERT = TypeAdapter(AlertState)
ALERT_CREATED = TypeAdapter(AlertCreated | None)
NAMED_LIST = TypeAdapter(list[NamedEntry])
NAMED = TypeAdapter(Marked)
MODEL_PRICES = TypeAdapter(list[ModelPriceEntry] | None)


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
    with ThreadPoolExecutor(max_workers=min(workers, len(items)), initializer=_leave_ctrl_c_to_main) as pool:
        return list(pool.map(func, items))


def _leave_ctrl_c_to_main() -> None:
    # A Ctrl-C the kernel hands to a worker would reach Python's handler only once the main thread
    # wakes from its wait for the workers, which a held request can make take the whole timeout.
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})


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
    def list_folders(self, folder_type: str) -> list[Folder]:
        return self.client.call("GET", f"{self.v2}/folders/{folder_type}", FOLDERS).items

    def create_folder(self, folder_type: str, payload: dict[str, Any]) -> str:
        return self.client.call("POST", f"{self.v2}/folders/{folder_type}", FOLDER_CREATED, body=payload).folder_id

    def delete_folder(self, folder_type: str, folder_id: str) -> None:
        self.client.send("DELETE", f"{self.v2}/folders/{folder_type}/{_p(folder_id)}")

    # -- dashboards ---------------------------------------------------------------------------
    def list_dashboards(self, folder_id: str) -> list[DashboardEntry]:
        return self.client.call("GET", f"{self.v1}/dashboards", DASHBOARDS, params={"folder": folder_id}).items

    def get_dashboard(self, dashboard_id: str) -> Versioned:
        return self.client.call("GET", f"{self.v1}/dashboards/{_p(dashboard_id)}", DASHBOARD)

    def create_dashboard(self, folder_id: str, payload: dict[str, Any]) -> None:
        self.client.send("POST", f"{self.v1}/dashboards", payload, folder=folder_id)

    def update_dashboard(self, dashboard_id: str, folder_id: str, hash_: str, payload: dict[str, Any]) -> None:
        self.client.send("PUT", f"{self.v1}/dashboards/{_p(dashboard_id)}", payload, folder=folder_id, hash=hash_)

    def delete_dashboard(self, dashboard_id: str, folder_id: str) -> None:
        self.client.send("DELETE", f"{self.v1}/dashboards/{_p(dashboard_id)}", folder=folder_id)

    # -- alerts -------------------------------------------------------------------------------
    def list_alerts(self, folder_id: str) -> list[AlertEntry]:
        return self.client.call("GET", f"{self.v2}/alerts", ALERTS, params={"folder": folder_id}).items

    def get_alert(self, alert_id: str) -> dict[str, Any]:
        return self.client.call("GET", f"{self.v2}/alerts/{_p(alert_id)}", ALERT).raw()

    def create_alert(self, folder_id: str, payload: dict[str, Any]) -> str:
        created = self.client.call(
            "POST", f"{self.v2}/alerts", ALERT_CREATED, params={"folder": folder_id}, body=payload
        )
        return created.id or "" if created is not None else ""

    def update_alert(self, alert_id: str, payload: dict[str, Any]) -> None:
        self.client.send("PUT", f"{self.v2}/alerts/{_p(alert_id)}", payload)

    def delete_alert(self, alert_id: str, folder_id: str) -> None:
        self.client.send("DELETE", f"{self.v2}/alerts/{_p(alert_id)}", folder=folder_id)

    # -- destinations and alert templates (name-keyed, v1 routes) ------------------------------
    def named_path(self, kind: Kind) -> str:
        return f"{self.v1}/alerts/{'destinations' if kind is Kind.DESTINATION else 'templates'}"

    def list_named(self, kind: Kind) -> list[NamedEntry]:
        return self.client.call("GET", self.named_path(kind), NAMED_LIST)

    def get_named(self, kind: Kind, name: str) -> dict[str, Any]:
        return self.client.call("GET", f"{self.named_path(kind)}/{_p(name)}", NAMED).raw()

    def create_named(self, kind: Kind, payload: dict[str, Any]) -> None:
        self.client.send("POST", self.named_path(kind), payload)

    def update_named(self, kind: Kind, name: str, payload: dict[str, Any]) -> None:
        self.client.send("PUT", f"{self.named_path(kind)}/{_p(name)}", payload)

    def delete_named(self, kind: Kind, name: str) -> None:
        self.client.send("DELETE", f"{self.named_path(kind)}/{_p(name)}")

    # -- model prices -------------------------------------------------------------------------
    def list_model_prices(self) -> list[ModelPriceEntry]:
        try:
            listing = self.client.call("GET", f"{self.v1}/llm/models", MODEL_PRICES) or []
        except NotFoundError:  # O2 before v0.92 has no model pricing: nothing there to manage
            return []
        rows: list[ModelPriceEntry] = []
        for row in listing:
            rows.append(row)
            rows.extend(row.children)
        return rows

    def get_model_price(self, price_id: str) -> dict[str, Any]:
        return self.client.call("GET", f"{self.v1}/llm/models/{_p(price_id)}", NAMED).raw()

    def create_model_price(self, payload: dict[str, Any]) -> None:
        self.client.send("POST", f"{self.v1}/llm/models", payload)

    def update_model_price(self, price_id: str, payload: dict[str, Any]) -> None:
        self.client.send("PUT", f"{self.v1}/llm/models/{_p(price_id)}", payload)

    def delete_model_price(self, price_id: str) -> None:
        self.client.send("DELETE", f"{self.v1}/llm/models/{_p(price_id)}")


def read_state(api: Api, kinds: Iterable[Kind], wanted: set[tuple[Kind, str]], workers: int) -> ServerState:
    """List every kind, then GET each object that is managed or wanted, all concurrently."""
    kinds = set(kinds)
    folder_lists = parallel(api.list_folders, ["dashboards", "alerts"], workers)
    folder_ids: dict[str, str] = {}
    folders: list[Remote] = []
    for folder_type, listing in zip(["dashboards", "alerts"], folder_lists, strict=True):
        for f in listing:
            key = f"{folder_type}/{f.name}"
            folder_ids.setdefault(key, f.folder_id)
            state = f.raw()
            folders.append(Remote(Kind.FOLDER, key, f.folder_id, ownership.is_managed(Kind.FOLDER, state), state))

    def list_kind(kind: Kind) -> list[Remote]:
        if kind is Kind.DASHBOARD:
            ids = [(k, v) for k, v in folder_ids.items() if k.startswith("dashboards/")]
            found: list[Remote] = []
            for (_, fid), items in zip(ids, parallel(lambda kv: api.list_dashboards(kv[1]), ids, workers), strict=True):
                for d in items:
                    managed = ownership.is_managed(
                        Kind.DASHBOARD, {"description": d.description or d.content.get("description")}
                    )
                    found.append(
                        Remote(Kind.DASHBOARD, d.title, d.dashboard_id, managed, folder_id=fid, hash=str(d.hash))
                    )
            return found
        if kind is Kind.ALERT:
            ids = [(k, v) for k, v in folder_ids.items() if k.startswith("alerts/")]
            alerts: list[Remote] = []
            for (_, fid), entries in zip(ids, parallel(lambda kv: api.list_alerts(kv[1]), ids, workers), strict=True):
                for a in entries:
                    managed = ownership.is_managed(Kind.ALERT, a.raw())
                    alerts.append(Remote(Kind.ALERT, a.name, a.alert_id, managed, folder_id=fid))
            return alerts
        if kind in (Kind.DESTINATION, Kind.ALERT_TEMPLATE):
            return [
                Remote(kind, o.name, o.name, ownership.is_managed(kind, o.raw()))
                for o in api.list_named(kind)
                if not o.is_prebuilt and o.name != "o2_default_content"
            ]
        if kind is Kind.MODEL_PRICE:
            return [
                Remote(kind, o.name, o.id, ownership.is_managed(kind, o.raw()))
                for o in api.list_model_prices()
                if o.source == "org" and o.org_id == api.client.org
            ]
        return []

    listed_kinds = [k for k in kinds if k is not Kind.FOLDER]
    objects: dict[Kind, list[Remote]] = {Kind.FOLDER: folders}
    objects.update(zip(listed_kinds, parallel(list_kind, listed_kinds, workers), strict=True))

    to_fetch = [r for k in listed_kinds for r in objects[k] if r.managed or (k, r.key) in wanted]

    def fetch(remote: Remote) -> None:
        if remote.kind is Kind.DASHBOARD:
            wrapper = api.get_dashboard(remote.id)
            remote.state = wrapper.content
            remote.hash = str(wrapper.hash)
        elif remote.kind is Kind.ALERT:
            remote.state = api.get_alert(remote.id)
        elif remote.kind is Kind.MODEL_PRICE:
            remote.state = api.get_model_price(remote.id)
        else:
            remote.state = api.get_named(remote.kind, remote.key)

    parallel(fetch, to_fetch, workers)
    return ServerState(objects=objects, folder_ids=folder_ids)
