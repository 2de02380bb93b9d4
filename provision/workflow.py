"""The steps commands are made of: load the bundle, connect, read the server, plan, apply."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from provision.apply import Applier, ApplyResult, Progress
from provision.client import O2Client
from provision.config import Settings
from provision.errors import InputError
from provision.kinds import APPLY_ORDER
from provision.plan import Plan, make_plan
from provision.remote import Api, ServerState, read_state
from provision.render import Bundle, builtin_templates, load_values, render_bundle
from provision.rules import check_bundle
from provision.values import parse_set


@dataclass(frozen=True)
class Sources:
    """Where the bundle comes from."""

    templates: Path | None
    values_files: list[Path]
    assignments: list[str]

    @property
    def root(self) -> Path:
        return self.templates if self.templates is not None else builtin_templates()


def load_bundle(sources: Sources) -> Bundle:
    """Render the bundle; raise InputError on any problem in values or templates."""
    values = load_values(sources.root, sources.values_files, parse_set(sources.assignments))
    return render_bundle(sources.root, values)


def validated_bundle(sources: Sources) -> Bundle:
    """Render the bundle and check it against O2's rules; nothing is written before this passes."""
    bundle = load_bundle(sources)
    problems = check_bundle(bundle)
    if problems:
        more = f" (and {len(problems) - 1} more; run `o2-provision validate`)" if len(problems) > 1 else ""
        raise InputError(problems[0] + more)
    return bundle


@dataclass
class Session:
    """A connection to O2 plus the server state read for one command."""

    client: O2Client
    api: Api
    state: ServerState


def read(settings: Settings, bundle: Bundle) -> Session:
    client = O2Client(settings)
    try:
        api = Api(client)
        wanted = {(d.kind, d.key) for d in bundle.resources}
        state = read_state(api, APPLY_ORDER, wanted, settings.concurrency)
    except BaseException:
        client.close()
        raise
    return Session(client, api, state)


def plan_for(session: Session, bundle: Bundle, *, prune: bool) -> Plan:
    return make_plan(bundle.resources, session.state, prune=prune, folder=bundle.values.folder)


def destroy_plan(session: Session, bundle: Bundle) -> Plan:
    """Everything this tool manages on the server, to be deleted."""
    return make_plan([], session.state, prune=True, folder=bundle.values.folder)


def execute(
    session: Session, bundle: Bundle, plan: Plan, *, stop_on_error: bool, progress: Progress | None
) -> ApplyResult:
    applier = Applier(session.api, session.state, bundle.values.folder, session.client.settings.concurrency)
    return applier.run(plan, stop_on_error=stop_on_error, progress=progress)
