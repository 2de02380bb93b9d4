"""Desired against server: what to create, update, delete, or leave alone, and why.

The comparison looks only at the fields the templates set (the server adds ids, owners, hashes,
timestamps and defaults of its own), after applying O2's own normalisations to the desired side.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from provision.kinds import APPLY_ORDER, Kind
from provision.remote import Remote, ServerState
from provision.render import Desired

IGNORED = {Kind.ALERT: {"enabled"}}  # apply keeps the server's `enabled`: a user may have paused it
UNORDERED = {"tags"}


class Action(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    NOOP = "unchanged"


@dataclass(frozen=True)
class FieldDiff:
    path: str
    before: Any
    after: Any


@dataclass
class Change:
    action: Action
    kind: Kind
    key: str
    desired: Desired | None = None
    remote: Remote | None = None
    diffs: list[FieldDiff] = field(default_factory=list)


@dataclass
class Plan:
    changes: list[Change]
    blocked: list[str]  # declared resources whose name is taken by something this tool does not manage

    def pending(self) -> list[Change]:
        return [c for c in self.changes if c.action is not Action.NOOP]

    def count(self, action: Action) -> int:
        return sum(1 for c in self.changes if c.action is action)


def o2_normal_form(kind: Kind, payload: dict[str, Any]) -> dict[str, Any]:
    """The desired payload as O2 will store and return it."""
    out = dict(payload)
    if "name" in out and isinstance(out["name"], str):
        out["name"] = out["name"].strip()
    if kind is Kind.ALERT:
        query = dict(out.get("query_condition") or {})
        conditions = query.get("conditions")
        if isinstance(conditions, list):  # a legacy v1 array comes back as {"and": [...]}
            query["conditions"] = {"and": conditions}
        vrl = query.get("vrl_function")
        if vrl in ("", "."):
            query["vrl_function"] = None
        if query:
            out["query_condition"] = query
        if isinstance(out.get("row_template"), str):
            out["row_template"] = out["row_template"].strip()
        if "tags" in out:
            out["tags"] = sorted({str(t).strip().lower() for t in out["tags"]})
    if kind is Kind.DASHBOARD and isinstance(out.get("title"), str):
        out["title"] = out["title"].strip()
    return out


def expected_state(kind: Kind, payload: dict[str, Any]) -> dict[str, Any]:
    """What the server should hold for a payload, in the fields this tool compares."""
    ignored = IGNORED.get(kind, set())
    return {k: v for k, v in o2_normal_form(kind, payload).items() if k not in ignored}


def diff(desired: Any, actual: Any, path: str = "") -> list[FieldDiff]:
    """Differences in the fields desired sets; fields only the server has are not compared."""
    if isinstance(desired, dict):
        if not isinstance(actual, dict):
            return [FieldDiff(path or "<root>", actual, desired)]
        found: list[FieldDiff] = []
        for key in sorted(desired):
            sub = f"{path}.{key}" if path else key
            if key in UNORDERED and isinstance(desired[key], list) and isinstance(actual.get(key), list):
                if sorted(map(str, desired[key])) != sorted(map(str, actual[key])):
                    found.append(FieldDiff(sub, actual[key], desired[key]))
                continue
            if key not in actual:
                if desired[key] not in (None, [], {}, ""):
                    found.append(FieldDiff(sub, None, desired[key]))
                continue
            found.extend(diff(desired[key], actual[key], sub))
        return found
    if isinstance(desired, list):
        if not isinstance(actual, list) or len(actual) != len(desired):
            return [FieldDiff(path, actual, desired)]
        found = []
        for i, (d, a) in enumerate(zip(desired, actual, strict=True)):
            found.extend(diff(d, a, f"{path}[{i}]"))
        return found
    if _same_scalar(desired, actual):
        return []
    return [FieldDiff(path, actual, desired)]


def _same_scalar(desired: Any, actual: Any) -> bool:
    if isinstance(desired, bool) or isinstance(actual, bool):
        return type(desired) is type(actual) and desired == actual
    if isinstance(desired, int | float) and isinstance(actual, int | float):
        return float(desired) == float(actual)  # O2 echoes 2 as 2.0
    if desired is None and actual in ("", None):
        return True
    return bool(desired == actual)


def make_plan(desired: list[Desired], state: ServerState, *, prune: bool, folder: str) -> Plan:
    """Compare what the templates declare with what the server holds."""
    changes: list[Change] = []
    blocked: list[str] = []
    by_kind: dict[Kind, list[Desired]] = {}
    for item in desired:
        by_kind.setdefault(item.kind, []).append(item)

    for kind in APPLY_ORDER:
        wanted = {d.key: d for d in by_kind.get(kind, [])}
        home = _home_folder(kind, state, folder)
        remotes = _in_scope(kind, state.of(kind), home, folder)
        seen: set[str] = set()
        for remote in remotes:
            target = wanted.get(remote.key) if home is None or remote.folder_id == home else None
            if target is None or remote.key in seen:
                if remote.managed and (prune or remote.key in seen):
                    changes.append(Change(Action.DELETE, kind, remote.key, remote=remote))
                continue
            if not remote.managed and kind is not Kind.FOLDER:
                blocked.append(
                    f"{kind.label} {remote.key!r} exists on the server but is not managed by o2-provision; "
                    "rename or remove it, or change the template's name"
                )
                seen.add(remote.key)
                continue
            seen.add(remote.key)
            if kind is Kind.FOLDER:
                changes.append(Change(Action.NOOP, kind, remote.key, target, remote))
                continue
            found = diff(expected_state(kind, target.payload), remote.state)
            action = Action.UPDATE if found else Action.NOOP
            changes.append(Change(action, kind, remote.key, target, remote, found))
        for key, target in wanted.items():
            if key not in seen:
                changes.append(Change(Action.CREATE, kind, key, target))
    return Plan(changes=changes, blocked=blocked)


def _home_folder(kind: Kind, state: ServerState, folder: str) -> str | None:
    """The id of the folder declared dashboards or alerts live in (None for other kinds)."""
    if kind is Kind.DASHBOARD:
        return state.folder_ids.get(f"dashboards/{folder}", "")
    if kind is Kind.ALERT:
        return state.folder_ids.get(f"alerts/{folder}", "")
    return None


def _in_scope(kind: Kind, remotes: list[Remote], home: str | None, folder: str) -> list[Remote]:
    """Objects whose identity could clash with a declared one, or that this tool manages."""
    if home is not None:
        return [r for r in remotes if r.folder_id == home or r.managed]
    if kind is Kind.FOLDER:
        return [r for r in remotes if r.key.endswith(f"/{folder}") or r.managed]
    return remotes
