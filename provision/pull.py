"""`pull`: the managed dashboards and alerts as O2 holds them, turned back into templates.

A resource the server holds as the templates render it keeps its template. One that was changed on the
server (a panel edited or added in O2's UI) gets a template made from the server's copy, in which what
came from the values is Jinja again: the stream (its fields and every query naming it), and for alerts
the period, frequency, silence, slow-turn threshold and destinations; for dashboards the target line.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from provision.bundle import Sources, load_bundle
from provision.errors import InputError
from provision.kinds import Kind
from provision.plan import Action, Plan, diff, expected_state, make_plan
from provision.remote import ServerState
from provision.render import Desired
from provision.rules import check_bundle
from provision.values import Values

PULLED_KINDS = (Kind.DASHBOARD, Kind.ALERT)
# Fields O2 adds to what it stores; a template of a resource the templates do not declare leaves them out.
SERVER_FIELDS = {
    Kind.DASHBOARD: {"dashboardId", "owner", "created", "updatedAt", "hash"},
    Kind.ALERT: {
        "id",
        "alert_id",
        "folder_id",
        "owner",
        "org_id",
        "created_at",
        "updated_at",
        "last_edited_by",
        "last_triggered_at",
        "last_satisfied_at",
    },
}
ALERT_TIMES = {
    "period": "alert_period_minutes",
    "frequency": "alert_frequency_minutes",
    "silence": "alert_silence_minutes",
}
_WHOLE = "@@o2p={}@@"  # a JSON value that becomes {{ expression }}
_INSIDE = "@@o2p~{}@@"  # part of a JSON string that becomes {{ expression }}
_JINJA_OPENER = re.compile(r"\{(?=[{%#])")


@dataclass(frozen=True)
class Pulled:
    """One managed dashboard or alert, and what pull does with it."""

    kind: Kind
    key: str
    path: str  # the template, relative to the templates folder
    action: str  # "pulled" (the server's copy), "kept" (the server matches the template), "not on O2"
    text: str | None = None  # the new template, when pulled


def pull_plan(plan: Plan, declared: list[Desired], values: Values) -> list[Pulled]:
    """What to write for each managed dashboard and alert, from a plan made with prune (so undeclared ones show)."""
    destinations = [d.key for d in declared if d.kind is Kind.DESTINATION]
    taken = {d.source for d in declared}
    out: list[Pulled] = []
    for change in plan.changes:
        if change.kind not in PULLED_KINDS:
            continue
        if change.action is Action.NOOP and change.desired is not None:
            out.append(Pulled(change.kind, change.key, change.desired.source, "kept"))
        elif change.action is Action.CREATE and change.desired is not None:
            out.append(Pulled(change.kind, change.key, change.desired.source, "not on O2"))
        elif change.remote is not None and change.action in (Action.UPDATE, Action.DELETE):
            path = change.desired.source if change.desired is not None else _new_path(change.kind, change.key, taken)
            taken.add(path)
            declared_fields = list(change.desired.payload) if change.desired is not None else None
            text = template_text(change.kind, change.key, change.remote.state, declared_fields, values, destinations)
            out.append(Pulled(change.kind, change.key, path, "pulled", text))
    return out


def adopted_dashboards(state: ServerState, titles: list[str], declared: list[Desired], values: Values) -> list[Pulled]:
    """Dashboards made by hand, chosen by title, as templates: `apply` then creates each, managed, in the
    values' folder. The state must hold their content (read with them in `also`)."""
    taken = {d.source for d in declared}
    out: list[Pulled] = []
    for title in dict.fromkeys(titles):
        found = [r for r in state.of(Kind.DASHBOARD) if r.key == title]
        if not found:
            raise InputError(f"--dashboard: O2 has no dashboard titled {title!r} (titles are matched exactly)")
        if len(found) > 1:
            raise InputError(f"--dashboard: {len(found)} dashboards on O2 are titled {title!r}; rename all but one")
        (remote,) = found
        if remote.managed or any(d.kind is Kind.DASHBOARD and d.key == title for d in declared):
            continue  # already pulled as a managed one
        path = _new_path(Kind.DASHBOARD, title, taken)
        taken.add(path)
        text = template_text(Kind.DASHBOARD, title, remote.state, None, values, [])
        out.append(Pulled(Kind.DASHBOARD, title, path, "adopted", text))
    return out


def template_text(
    kind: Kind, key: str, state: dict[str, Any], declared: list[str] | None, values: Values, destinations: list[str]
) -> str:
    """A Jinja template rendering the server's copy of a resource (its `declared` fields, else all but the
    server's own), with the values as Jinja."""
    fields = (
        [k for k in declared if k in state]
        if declared is not None
        else [k for k in state if k not in SERVER_FIELDS[kind]]
    )
    document = {k: state[k] for k in fields}
    if kind is Kind.ALERT:
        document = _alert_values(document, values, destinations)
    document = _stream_values(document, values.stream, None)
    if kind is Kind.DASHBOARD:
        document = _target_line(document, values.target_voice_to_voice_ms)
    text = _JINJA_OPENER.sub("{{ '{' }}", json.dumps(document, indent=2, ensure_ascii=False))
    text = re.sub(r'"@@o2p=([^@]+)@@"', r"{{ \1 }}", text)
    text = re.sub(r"@@o2p~([^@]+)@@", r"{{ \1 }}", text)
    what = re.sub(r"[^\w .·:-]", "", key)[:100]
    header = (
        f"{{#- {kind.label} '{what}' as O2 held it, written by `o2-provision pull`: the stream, and "
        "the thresholds and destinations that came from the values, are Jinja again. -#}\n"
    )
    return header + text + "\n"


def _stream_values(node: Any, stream: str, key: str | None) -> Any:
    """The stream as `stream`: a field holding its name, and its quoted name in every query."""
    if isinstance(node, dict):
        return {k: _stream_values(v, stream, k) for k, v in node.items()}
    if isinstance(node, list):
        return [_stream_values(v, stream, key) for v in node]
    if isinstance(node, str):
        if key in ("stream", "stream_name") and node == stream:
            return _WHOLE.format("stream | tojson")
        return node.replace(f'"{stream}"', '"' + _INSIDE.format("stream") + '"')
    return node


def _alert_values(alert: dict[str, Any], values: Values, destinations: list[str]) -> dict[str, Any]:
    out = dict(alert)
    query = dict(out.get("query_condition") or {})
    slow = False
    if isinstance(query.get("sql"), str):
        sql, found = re.subn(
            rf"(>=?\s*){values.slow_turn_ms}\b", r"\g<1>" + _INSIDE.format("slow_turn_ms"), query["sql"]
        )
        query["sql"], slow = sql, found > 0
        out["query_condition"] = query
    trigger = dict(out.get("trigger_condition") or {})
    for field, name in ALERT_TIMES.items():
        if _same_number(trigger.get(field), getattr(values, name)):
            trigger[field] = _WHOLE.format(name)
    if slow and _same_number(trigger.get("threshold"), values.slow_turn_threshold):
        trigger["threshold"] = _WHOLE.format("slow_turn_threshold")
    if trigger:
        out["trigger_condition"] = trigger
    if out.get("destinations") == destinations and destinations:
        out["destinations"] = _WHOLE.format("destinations | tojson")
    return out


def _target_line(node: Any, target: int) -> Any:
    """The dashboards' target line (a mark line named `target`) at target_voice_to_voice_ms."""
    if isinstance(node, dict):
        out = {k: _target_line(v, target) for k, v in node.items()}
        if out.get("name") == "target" and out.get("value") == str(target):
            out["value"] = _WHOLE.format("target_voice_to_voice_ms | string | tojson")
        return out
    if isinstance(node, list):
        return [_target_line(v, target) for v in node]
    return node


def _same_number(found: Any, value: int) -> bool:
    return isinstance(found, int | float) and not isinstance(found, bool) and float(found) == float(value)


def _new_path(kind: Kind, key: str, taken: set[str]) -> str:
    """A file for a resource the templates do not declare."""
    stem = re.sub(r"[^a-z0-9]+", "_", key.lower()).strip("_") or "pulled"
    path = f"{kind.template_dir}/{stem}.json.j2"
    number = 2
    while path in taken:
        path = f"{kind.template_dir}/{stem}_{number}.json.j2"
        number += 1
    return path


def check_pulled(tree: Path, sources: Sources, state: ServerState, adopted: frozenset[str] = frozenset()) -> None:
    """Raise unless the templates in tree follow O2's rules and render every managed dashboard and alert, and
    each `adopted` dashboard, as O2 holds it."""
    written = load_bundle(Sources(tree, sources.values_files, sources.assignments))
    problems = check_bundle(written)
    if problems:
        raise InputError(f"a pulled template would not validate: {problems[0]}; nothing was written")
    again = make_plan(written.resources, state, prune=True, folder=written.values.folder)
    originals = {r.key: r for r in state.of(Kind.DASHBOARD) if r.key in adopted and not r.managed}
    for change in again.changes:
        diffs = change.diffs if change.action is Action.UPDATE else []
        if change.action is Action.CREATE and change.desired is not None and change.key in originals:
            found = diff(expected_state(change.kind, change.desired.payload), originals[change.key].state)
            diffs = [d for d in found if d.path != "description"]  # the managed mark
        if diffs and change.kind in PULLED_KINDS:
            where = diffs[0].path
            raise InputError(
                f"pull cannot write {change.kind.label} {change.key!r} as a template that renders O2's copy "
                f"(it differs at {where}); nothing was written"
            )
