"""Carry out a plan: creates and updates in dependency order, then deletes in reverse."""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from provision.errors import ConflictError, NotFoundError, ProvisionError
from provision.kinds import APPLY_WAVES, Kind
from provision.plan import Action, Change, Plan, diff, expected_state
from provision.remote import Api, ServerState, parallel

Progress = Callable[[Change, ProvisionError | None], None]
DEPENDENCY_RETRIES = 3  # a write that refers to something just created may not see it at once
DEPENDENCY_MISSING = re.compile(r"(?i)(folder|destination|template)\b.*not (be )?found")


@dataclass
class Failure:
    change: Change
    error: ProvisionError


@dataclass
class ApplyResult:
    done: list[Change] = field(default_factory=list)
    failed: list[Failure] = field(default_factory=list)
    skipped: list[Change] = field(default_factory=list)
    interrupted: bool = False  # stopped on request: `skipped` holds what was not started


class _NotStarted:
    """A change left alone because the run was asked to stop."""


class Applier:
    """Writes one plan's changes to O2; once `stop` is set, starts no further change."""

    def __init__(
        self, api: Api, state: ServerState, folder: str, concurrency: int, stop: threading.Event | None = None
    ) -> None:
        self.api = api
        self.state = state
        self.folder = folder
        self.concurrency = concurrency
        self.stop = stop or threading.Event()

    def run(self, plan: Plan, *, stop_on_error: bool, progress: Progress | None = None) -> ApplyResult:
        result = ApplyResult()
        pending = plan.pending()
        steps: list[list[Change]] = []
        for wave in APPLY_WAVES:
            steps.append([c for c in pending if c.kind in wave and c.action is not Action.DELETE])
        for wave in reversed(APPLY_WAVES):
            steps.append([c for c in pending if c.kind in wave and c.action is Action.DELETE])

        for step in steps:
            if stop_on_error and result.failed:
                result.skipped.extend(step)
                continue

            def one(change: Change) -> ProvisionError | _NotStarted | None:
                if self.stop.is_set():
                    return _NotStarted()
                try:
                    self._carry_out(change)
                except ProvisionError as exc:
                    error: ProvisionError | None = exc
                else:
                    error = None
                if progress is not None:
                    progress(change, error)
                return error

            for change, outcome in zip(step, parallel(one, step, self.concurrency), strict=True):
                if outcome is None:
                    result.done.append(change)
                elif isinstance(outcome, _NotStarted):
                    result.skipped.append(change)
                else:
                    result.failed.append(Failure(change, outcome))
        result.interrupted = self.stop.is_set()
        return result

    def _carry_out(self, change: Change) -> None:
        if change.action is Action.DELETE:
            self._delete(change)
            return
        attempt = 0
        while True:
            try:
                self._write(change)
                return
            except NotFoundError as exc:
                # O2 may not yet see a folder, template or destination written a moment ago.
                if attempt >= DEPENDENCY_RETRIES or not DEPENDENCY_MISSING.search(exc.message):
                    raise
                attempt += 1
                time.sleep(0.2 * attempt)

    def _write(self, change: Change) -> None:
        desired = change.desired
        assert desired is not None
        payload = desired.payload
        kind = change.kind
        create = change.action is Action.CREATE
        if kind is Kind.FOLDER:
            folder_type = change.key.split("/", 1)[0]
            self.state.folder_ids[change.key] = self.api.create_folder(folder_type, payload)
        elif kind in (Kind.DESTINATION, Kind.ALERT_TEMPLATE):
            if create:
                self.api.create_named(kind, payload)
            else:
                self.api.update_named(kind, change.key, payload)
        elif kind is Kind.MODEL_PRICE:
            if create:
                self.api.create_model_price(payload)
            else:
                assert change.remote is not None
                self.api.update_model_price(change.remote.id, payload)
        elif kind is Kind.DASHBOARD:
            if create:
                self.api.create_dashboard(self._folder_id("dashboards"), payload)
            else:
                self._update_dashboard(change, payload)
        elif kind is Kind.ALERT:
            if create:
                self.api.create_alert(self._folder_id("alerts"), payload)
            else:
                assert change.remote is not None
                kept = {"enabled": change.remote.state.get("enabled", payload.get("enabled", True))}
                self.api.update_alert(change.remote.id, {**payload, **kept})

    def _update_dashboard(self, change: Change, payload: dict[str, Any]) -> None:
        remote = change.remote
        assert remote is not None and remote.folder_id is not None
        try:
            self.api.update_dashboard(remote.id, remote.folder_id, remote.hash or "", payload)
            return
        except ConflictError:
            pass
        # Someone saved the dashboard since we read it: read it again, and write only if still needed.
        wrapper = self.api.get_dashboard(remote.id)
        if not diff(expected_state(Kind.DASHBOARD, payload), wrapper.content):
            return
        try:
            self.api.update_dashboard(remote.id, remote.folder_id, str(wrapper.hash), payload)
        except ConflictError:
            raise ConflictError(
                f"dashboard {change.key!r} keeps changing on the server while we write it",
                hint="run apply again once nobody is editing it",
            ) from None

    def _delete(self, change: Change) -> None:
        with contextlib.suppress(NotFoundError):  # deleted by someone else since we read it: gone, as wanted
            self._delete_remote(change)

    def _delete_remote(self, change: Change) -> None:
        remote = change.remote
        assert remote is not None
        kind = change.kind
        if kind is Kind.FOLDER:
            self.api.delete_folder(change.key.split("/", 1)[0], remote.id)
        elif kind is Kind.DASHBOARD:
            self.api.delete_dashboard(remote.id, remote.folder_id or "default")
        elif kind is Kind.ALERT:
            self.api.delete_alert(remote.id, remote.folder_id or "default")
        elif kind is Kind.MODEL_PRICE:
            self.api.delete_model_price(remote.id)
        else:
            self.api.delete_named(kind, change.key)

    def _folder_id(self, folder_type: str) -> str:
        folder_id = self.state.folder_ids.get(f"{folder_type}/{self.folder}")
        if folder_id is None:
            raise NotFoundError(f"{folder_type} folder {self.folder!r} does not exist on the server")
        return folder_id
