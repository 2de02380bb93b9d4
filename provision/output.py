"""How commands speak: readable text for people, one JSON document for CI (the top of the CLI: nothing
beneath it imports this)."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

from provision.errors import ProvisionError
from provision.scrub import one_line

if TYPE_CHECKING:  # kept out of start-up: render and validate never import the HTTP client
    from provision.apply import ApplyResult
    from provision.plan import Change, Plan

# Keyed by Action values (a StrEnum, so Action members find these entries).
SYMBOL = {"create": "+", "update": "~", "delete": "-", "unchanged": "="}
PAST = {"create": "created", "update": "updated", "delete": "deleted", "unchanged": "unchanged"}
STATUS = {"unchanged": "in sync", "update": "drifted", "create": "missing", "delete": "undeclared"}


def emit_json(document: Any) -> None:
    sys.stdout.write(json.dumps(document, indent=2, sort_keys=True, default=str) + "\n")


def say(line: str = "") -> None:
    sys.stdout.write(line + "\n")


def warn(line: str) -> None:
    sys.stderr.write(f"warning: {line}\n")


def error(exc: ProvisionError, as_json: bool) -> None:
    """The error as one clean line on stderr (one JSON document with --output json)."""
    message = one_line(exc.message)
    hint = one_line(exc.hint, 200) if exc.hint else None
    if as_json:
        doc: dict[str, Any] = {"error": message, "exit_code": int(exc.exit_code)}
        if hint:
            doc["hint"] = hint
        sys.stderr.write(json.dumps(doc, sort_keys=True) + "\n")
        return
    sys.stderr.write(f"error: {message}" + (f"; {hint}" if hint else "") + "\n")


def short(value: Any, limit: int = 80) -> str:
    text = json.dumps(value, sort_keys=True, default=str) if not isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def change_doc(change: Change) -> dict[str, Any]:
    return {
        "action": change.action.value,
        "kind": change.kind.value,
        "name": change.key,
        "diff": [{"path": d.path, "before": d.before, "after": d.after} for d in change.diffs],
    }


def plan_summary(plan: Plan) -> dict[str, int]:
    from provision.plan import Action

    return {a.value: plan.count(a) for a in Action}


def plan_doc(plan: Plan, notes: list[str]) -> dict[str, Any]:
    return {
        "changes": [change_doc(c) for c in plan.changes],
        "summary": plan_summary(plan),
        "blocked": plan.blocked,
        "notes": notes,
    }


def print_plan(plan: Plan, *, show_unchanged: bool = False) -> None:
    for change in plan.changes:
        if change.action == "unchanged" and not show_unchanged:
            continue
        say(f"  {SYMBOL[change.action]} {change.action.value:9} {change.kind.label:15} {change.key}")
        for d in change.diffs:
            say(f"        {d.path}: {short(d.before)} → {short(d.after)}")
    for line in plan.blocked:
        say(f"  ! blocked   {line}")
    s = plan_summary(plan)
    if not plan.pending():
        say(f"No changes: {s['unchanged']} resource(s) match the templates.")
    else:
        say(
            f"Plan: {s['create']} to create, {s['update']} to update, {s['delete']} to delete, "
            f"{s['unchanged']} unchanged."
        )


def result_doc(result: ApplyResult, plan: Plan) -> dict[str, Any]:
    return {
        "done": [change_doc(c) for c in result.done],
        "failed": [{**change_doc(f.change), "error": one_line(f.error.message)} for f in result.failed],
        "skipped": [change_doc(c) for c in result.skipped],
        "unchanged": plan_summary(plan)["unchanged"],
        "interrupted": result.interrupted,
    }


def print_status(plan: Plan, url: str, org: str) -> None:
    say(f"O2 {url}, organization {org}")
    for change in plan.changes:
        say(f"  {STATUS[change.action]:10} {change.kind.label:15} {change.key}")
        for d in change.diffs:
            say(f"        {d.path}: server {short(d.before)}, templates {short(d.after)}")
    for line in plan.blocked:
        say(f"  blocked    {line}")
    counts = plan_summary(plan)
    say(
        f"{counts['unchanged']} in sync, {counts['update'] + counts['create']} drifted or missing, "
        f"{counts['delete']} managed but no longer declared."
    )


def print_progress(change: Change, error: ProvisionError | None) -> None:
    """One line as each change lands (or fails)."""
    if error is None:
        say(f"  {PAST[change.action]} {change.kind.label} {change.key}")
    else:
        say(f"  failed to {change.action.value} {change.kind.label} {change.key}: {one_line(error.message)}")


def summary(verb: str, result: ApplyResult, plan: Plan) -> str:
    """`Apply complete: 2 created, 1 updated, …` for the end of apply and destroy."""
    done = {action: sum(1 for c in result.done if c.action == action) for action in PAST}
    state = "interrupted" if result.interrupted else "incomplete" if result.failed else "complete"
    return (
        f"{verb} {state}: {done['create']} created, {done['update']} updated, {done['delete']} deleted, "
        f"{plan_summary(plan)['unchanged']} unchanged, {len(result.failed)} failed, {len(result.skipped)} skipped"
    )
