"""In-memory state of the stand-in, behind one lock."""

from __future__ import annotations

import copy
import threading
from typing import Any

from .streams import Stream


class Store:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.orgs: dict[str, dict[str, Any]] = {"default": {"name": "default"}}
        self.streams: dict[tuple[str, str, str], Stream] = {}
        # (org, folder_type) -> folder_id -> {"folderId","name","description"}
        self.folder_map: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
        # org -> id -> {"folder_id","version","inner","updatedAt","hash"}
        self.dashboard_map: dict[str, dict[str, dict[str, Any]]] = {}
        # org -> id -> stored alert dict (API shape, frequency in minutes) + "_folder_id" / "_next_run_at" ...
        self.alert_map: dict[str, dict[str, dict[str, Any]]] = {}
        self.destination_map: dict[str, dict[str, dict[str, Any]]] = {}
        self.template_map: dict[str, dict[str, dict[str, Any]]] = {}
        self.llm_models: dict[str, dict[str, dict[str, Any]]] = {}

    # ----- orgs -----
    def org_exists(self, org: str) -> bool:
        with self.lock:
            return org in self.orgs

    def ensure_org(self, org: str) -> None:
        with self.lock:
            self.orgs.setdefault(org, {"name": org})

    # ----- streams -----
    def stream(self, org: str, stype: str, name: str, *, create: bool = False) -> Stream | None:
        with self.lock:
            key = (org, stype, name)
            s = self.streams.get(key)
            if s is None and create:
                s = self.streams[key] = Stream(org, stype, name)
            return s

    def stream_has_schema(self, org: str, stype: str, name: str) -> bool:
        s = self.stream(org, stype, name)
        return bool(s and s.schema)

    # ----- folders -----
    def folders_of(self, org: str, ftype: str) -> dict[str, dict[str, Any]]:
        with self.lock:
            return self.folder_map.setdefault((org, ftype), {})

    def ensure_default_folder(self, org: str, ftype: str) -> None:
        with self.lock:
            f = self.folders_of(org, ftype)
            if "default" not in f:
                f["default"] = {"folderId": "default", "name": "default", "description": "default"}

    # ----- inspection API (copies) -----
    def folders(self, org: str, folder_type: str = "dashboards") -> list[dict[str, Any]]:
        with self.lock:
            return copy.deepcopy(list(self.folder_map.get((org, folder_type), {}).values()))

    def dashboards(self, org: str) -> list[dict[str, Any]]:
        with self.lock:
            out = []
            for did, row in self.dashboard_map.get(org, {}).items():
                d = copy.deepcopy(row)
                d["dashboard_id"] = did
                out.append(d)
            return out

    def alerts(self, org: str) -> list[dict[str, Any]]:
        with self.lock:
            return copy.deepcopy(list(self.alert_map.get(org, {}).values()))

    def destinations(self, org: str) -> list[dict[str, Any]]:
        with self.lock:
            return copy.deepcopy(list(self.destination_map.get(org, {}).values()))

    def templates(self, org: str) -> list[dict[str, Any]]:
        with self.lock:
            return copy.deepcopy(list(self.template_map.get(org, {}).values()))
