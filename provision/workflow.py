"""The steps commands are made of: load the bundle, connect, read the server, plan, apply."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from provision import interrupts
from provision.apply import Applier, ApplyResult, Progress
from provision.client import O2Client
from provision.config import Settings
from provision.kinds import APPLY_ORDER, Kind
from provision.plan import Plan, make_plan
from provision.remote import Api, ServerState, read_state
from provision.render import Bundle


@dataclass
class Session:
    """A connection to O2 plus the server state read for one command."""

    client: O2Client
    api: Api
    state: ServerState


def read(settings: Settings, bundle: Bundle, also: frozenset[tuple[Kind, str]] = frozenset()) -> Session:
    """Connect and read the server: every managed object, and those the bundle (or `also`) names."""
    client = O2Client(settings)
    try:
        api = Api(client)
        wanted = {(d.kind, d.key) for d in bundle.resources} | also
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
    """Apply the plan. A Ctrl-C stops it cleanly (requests in flight finish, nothing new starts);
    a second Ctrl-C quits at once."""
    stop = threading.Event()
    applier = Applier(session.api, session.state, bundle.values.folder, session.client.settings.concurrency, stop)
    with interrupts.writes(stop):
        result = applier.run(plan, stop_on_error=stop_on_error, progress=progress)
        interrupts.record(len(result.done), len(result.skipped), len(result.failed))
    return result
