"""Faults mid-apply: whatever broke, a clean apply afterwards converges with no duplicates."""

from __future__ import annotations

import contextlib
from collections import Counter
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from provision.bundle import Sources, validated_bundle
from provision.config import load_settings
from provision.errors import ProvisionError
from provision.kinds import Kind
from provision.workflow import execute, plan_for, read
from tests.conftest import ROOT_EMAIL, ROOT_PASSWORD, TOKEN
from tests.o2_standin import StandIn

WRITE_ROUTES = [
    r"^/api/v2/default/folders/",
    r"^/api/default/alerts/templates",
    r"^/api/default/alerts/destinations",
    r"^/api/default/dashboards",
    r"^/api/v2/default/alerts",
    r"^/api/default/_search",
]

fault = st.fixed_dictionaries(
    {
        "path_regex": st.sampled_from(WRITE_ROUTES),
        "method": st.sampled_from(["POST", "PUT", "GET", None]),
        "kind": st.sampled_from(["status", "drop"]),
        "status": st.sampled_from([500, 502, 503, 429]),
        "times": st.integers(min_value=1, max_value=4),
    }
)


def apply_once(o2: StandIn, tmp: Path) -> None:
    sources = Sources(None, [], ["webhook_url=http://127.0.0.1:9/hook"])
    bundle = validated_bundle(sources)
    s = load_settings(url=o2.url, token=TOKEN, env_file=tmp / ".env", environ={}, timeout=5, concurrency=4)
    session = read(s, bundle)
    with session.client:
        session.client.backoff = 0.01
        result = execute(session, bundle, plan_for(session, bundle, prune=True), stop_on_error=False, progress=None)
    if result.failed:
        raise result.failed[0].error


def server_inventory(o2: StandIn) -> dict[str, Counter[str]]:
    return {
        "alerts": Counter(a["name"] for a in o2.store.alerts("default")),
        "destinations": Counter(d["name"] for d in o2.store.destinations("default")),
        "templates": Counter(t["name"] for t in o2.store.templates("default") if t["name"].startswith("pipecat_")),
        "dashboards": Counter(d["title"] for d in _dashboards(o2)),
        "folders": Counter(f["name"] for f in o2.store.folders("default", "dashboards")),
    }


def _dashboards(o2: StandIn) -> list[dict[str, Any]]:
    import httpx

    with httpx.Client(base_url=o2.url, headers={"Authorization": f"Basic {TOKEN}"}) as http:
        folders = http.get("/api/v2/default/folders/dashboards").json()["list"]
        return [
            d
            for f in folders
            for d in http.get("/api/default/dashboards", params={"folder": f["folderId"]}).json()["dashboards"]
        ]


def declared() -> dict[str, Counter[str]]:
    bundle = validated_bundle(Sources(None, [], ["webhook_url=http://127.0.0.1:9/hook"]))
    return {
        "alerts": Counter(d.key for d in bundle.of(Kind.ALERT)),
        "destinations": Counter(d.key for d in bundle.of(Kind.DESTINATION)),
        "templates": Counter(d.key for d in bundle.of(Kind.ALERT_TEMPLATE)),
        "dashboards": Counter(d.key for d in bundle.of(Kind.DASHBOARD)),
        "folders": Counter([bundle.values.folder]),
    }


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(faults=st.lists(fault, max_size=4))
def test_any_fault_schedule_then_a_clean_apply_converges(faults: list[dict[str, Any]], tmp_path: Path) -> None:
    with StandIn(root_email=ROOT_EMAIL, root_password=ROOT_PASSWORD, allow_loopback=True) as o2:
        _bootstrap(o2)
        for f in faults:
            o2.faults.add(**f)
        with contextlib.suppress(ProvisionError):  # any clean failure will do; the next run matters
            apply_once(o2, tmp_path)
        o2.faults.clear()
        apply_once(o2, tmp_path)
        assert server_inventory(o2) == declared()


def _bootstrap(o2: StandIn) -> None:
    from provision.client import O2Client
    from provision.stream import ensure_stream

    with O2Client(load_settings(url=o2.url, token=TOKEN, environ={}, env_file=Path("/nonexistent"))) as client:
        ensure_stream(client, "default")
