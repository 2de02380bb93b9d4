"""`pull`: what people change in O2's UI comes back as templates that still render for another stream."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import TOKEN, Cli
from tests.o2_standin import StandIn

HOOK = "--set=webhook_url=http://127.0.0.1:9/hook"
LATENCY = "Pipecat · Turn latency"


@pytest.fixture
def http(o2: StandIn) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=o2.url, headers={"Authorization": f"Basic {TOKEN}"}) as client:
        yield client


def folder_id(http: httpx.Client, folder_type: str) -> str:
    folders = http.get(f"/api/v2/default/folders/{folder_type}").json()["list"]
    return str(next(f["folderId"] for f in folders if f["name"] == "Pipecat"))


def edit_in_the_ui(http: httpx.Client) -> None:
    """As O2's UI does: the whole dashboard saved with a panel edited, then a panel added through the panel API."""
    folder = folder_id(http, "dashboards")
    listing = http.get("/api/default/dashboards", params={"folder": folder}).json()["dashboards"]
    board_id = next(d["dashboard_id"] for d in listing if d["title"] == LATENCY)
    wrapper = http.get(f"/api/default/dashboards/{board_id}").json()
    board = wrapper["v8"]
    panel = board["tabs"][0]["panels"][0]
    panel["title"] += " (edited)"
    panel["queries"][0]["query"] = panel["queries"][0]["query"].replace("count(*)", "count(*) * 1")
    saved = http.put(
        f"/api/default/dashboards/{board_id}", params={"folder": folder, "hash": wrapper["hash"]}, json=board
    )
    assert saved.status_code == 200, saved.text
    added = copy.deepcopy(panel)
    added.update(id="", title="Added in the UI")
    added.pop("layout", None)
    posted = http.post(
        f"/api/default/dashboards/{board_id}/panels",
        params={"folder": folder, "hash": saved.json()["hash"]},
        json={"panel": added},
    )
    assert posted.status_code == 200, posted.text


def edit_the_slow_turn_alert(http: httpx.Client) -> None:
    """The alert's notification line reworded in the UI (its thresholds left as the values set them)."""
    alerts = http.get("/api/v2/default/alerts", params={"folder": folder_id(http, "alerts")}).json()["list"]
    alert_id = next(a["alert_id"] for a in alerts if a["name"] == "pipecat_slow_turns")
    alert = http.get(f"/api/v2/default/alerts/{alert_id}").json()
    alert["row_template"] = "slow: session {session_id} turn {turn}, {latency_ms} ms"
    updated = http.put(f"/api/v2/default/alerts/{alert_id}", json=alert)
    assert updated.status_code == 200, updated.text


def queries(rendered: list[dict[str, Any]]) -> list[str]:
    """Every SQL query of the rendered dashboards and alerts."""
    found: list[str] = []
    for resource in rendered:
        payload = resource["payload"]
        if resource["kind"] == "alert" and payload["query_condition"].get("sql"):
            found.append(payload["query_condition"]["sql"])
        if resource["kind"] == "dashboard":
            found += [q["query"] for tab in payload["tabs"] for p in tab["panels"] for q in p["queries"]]
    return found


def writes(o2: StandIn) -> list[str]:
    return [f"{r.method} {r.path}" for r in o2.requests if r.method != "GET"]


def test_ui_edits_come_back_as_templates_that_plan_no_change_and_render_for_another_stream(
    cli: Cli, o2: StandIn, http: httpx.Client
) -> None:
    assert cli("apply", "--yes", "--bootstrap-stream", HOOK).code == 0
    edit_in_the_ui(http)
    edit_the_slow_turn_alert(http)
    assert cli("plan", "--detailed-exitcode", HOOK).code == 2  # the built-in templates would undo the edits

    o2.clear_requests()
    pulled = cli("pull", "--templates", "mine", HOOK)
    assert pulled.code == 0, pulled.err
    assert writes(o2) == []  # nothing on the server changed
    assert f"pulled    dashboard       {LATENCY} -> dashboards/turn_latency.json.j2" in pulled.out
    assert "pulled    alert           pipecat_slow_turns -> alerts/pipecat_slow_turns.json.j2" in pulled.out
    assert "kept      alert           pipecat_failed_turns" in pulled.out
    assert sorted(p.name for p in (cli.cwd / "mine").iterdir()) == sorted(
        [
            "alert_templates",
            "alerts",
            "dashboards",
            "destinations",
            "macros",
            "model_prices",
            "values.yaml",
            "env.example",
        ]
    )

    planned = cli("plan", "--templates", "mine", "--detailed-exitcode", HOOK)
    assert planned.code == 0, planned.out + planned.err
    assert "No changes: 8 resource(s) match the templates." in planned.out

    other = cli("render", "--templates", "mine", "--set", "stream=other", "--set", "slow_turn_ms=2222", HOOK)
    assert other.code == 0, other.err
    rendered = other.json()
    all_queries = queries(rendered)
    assert len(all_queries) > 10
    for query in all_queries:
        assert '"other"' in query and '"default"' not in query, query
    board = next(r["payload"] for r in rendered if r["name"] == LATENCY)
    titles = [p["title"] for tab in board["tabs"] for p in tab["panels"]]
    assert "Added in the UI" in titles and any(t.endswith(" (edited)") for t in titles)
    assert all(v["query_data"]["stream"] == "other" for v in board["variables"]["list"])
    assert {r["payload"]["stream_name"] for r in rendered if r["kind"] == "alert"} == {"other"}
    slow = next(r["payload"] for r in rendered if r["name"] == "pipecat_slow_turns")
    assert slow["stream_name"] == "other" and slow["query_condition"]["sql"].endswith("> 2222")
    assert slow["row_template"] == "slow: session {session_id} turn {turn}, {latency_ms} ms"
    assert slow["destinations"] == ["pipecat_webhook"]


def test_an_existing_folder_is_not_overwritten_without_force(cli: Cli, o2: StandIn) -> None:
    assert cli("apply", "--yes", "--bootstrap-stream", HOOK).code == 0
    mine = cli.cwd / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine\n")
    o2.clear_requests()
    refused = cli("pull", "--templates", "mine", HOOK)
    assert refused.code == 1
    assert refused.err.splitlines() == ["error: mine is not empty (use --force to overwrite)"]
    assert [p.name for p in mine.iterdir()] == ["notes.txt"]
    assert o2.requests == []  # refused before connecting

    forced = cli("pull", "--templates", "mine", "--force", HOOK)  # not a templates folder: replaced whole
    assert forced.code == 0, forced.err
    assert not (mine / "notes.txt").exists() and (mine / "destinations").is_dir()
    assert "0 pulled, 4 kept" in forced.out

    first = cli("pull", "--templates", "pulled", HOOK)
    assert first.code == 0, first.err
    again = cli("pull", "--templates", "pulled", "--force", HOOK)  # its own templates are the base
    assert again.code == 0, again.err
    assert "0 pulled, 4 kept" in again.out
    assert cli("plan", "--templates", "pulled", "--detailed-exitcode", HOOK).code == 0


def test_pull_with_o2_down_writes_nothing_and_says_so_in_one_line(offline_cli: Cli) -> None:
    result = offline_cli("pull", "--templates", "mine", "--timeout", "2", HOOK)
    assert result.code == 6, result.err
    lines = result.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in result.err
    assert not (offline_cli.cwd / "mine").exists()


def test_pull_speaks_json_for_ci(cli: Cli, o2: StandIn) -> None:
    assert cli("apply", "--yes", "--bootstrap-stream", HOOK).code == 0
    result = cli("pull", "--templates", "mine", "--output", "json", HOOK)
    assert result.code == 0, result.err
    document = json.loads(result.out)
    assert document["written"] == "mine"
    assert {(r["kind"], r["action"]) for r in document["resources"]} == {("dashboard", "kept"), ("alert", "kept")}
    assert TOKEN not in result.out + result.err


HAND_MADE = "Support team · slow calls"


def make_by_hand(cli: Cli, http: httpx.Client) -> str:
    """A dashboard made in O2's UI in its default folder, from one of the built-in ones; its id."""
    built_in = next(r["payload"] for r in cli("render", HOOK).json() if r["name"] == LATENCY)
    board = copy.deepcopy(built_in)
    board.update(title=HAND_MADE, description="made in the UI by the support team")
    board["tabs"][0]["panels"] = board["tabs"][0]["panels"][:2]
    made = http.post("/api/default/dashboards", params={"folder": "default"}, json=board)
    assert made.status_code == 200, made.text
    return str(made.json()["v8"]["dashboardId"])


def test_a_dashboard_made_by_hand_is_pulled_and_the_next_apply_manages_a_copy_of_it(
    cli: Cli, o2: StandIn, http: httpx.Client
) -> None:
    assert cli("apply", "--yes", "--bootstrap-stream", HOOK).code == 0
    original_id = make_by_hand(cli, http)
    original = http.get(f"/api/default/dashboards/{original_id}").json()

    o2.clear_requests()
    pulled = cli("pull", "--templates", "mine", "--dashboard", HAND_MADE, HOOK)
    assert pulled.code == 0, pulled.err
    assert writes(o2) == []
    assert (
        f"adopted   dashboard       {HAND_MADE} -> dashboards/support_team_slow_calls.json.j2 "
        "(made by hand; apply creates it, managed, in folder 'Pipecat')"
    ) in pulled.out
    assert "0 pulled, 4 kept, 1 adopted" in pulled.out

    planned = cli("plan", "--templates", "mine", HOOK)
    assert f"  + create    dashboard       {HAND_MADE}\n" in planned.out, planned.out
    assert "Plan: 1 to create, 0 to update, 0 to delete" in planned.out
    assert cli("apply", "--templates", "mine", "--yes", HOOK).code == 0
    assert cli("plan", "--templates", "mine", "--detailed-exitcode", HOOK).code == 0

    pipecat = folder_id(http, "dashboards")
    listing = http.get("/api/default/dashboards", params={"folder": pipecat}).json()["dashboards"]
    managed = next(d for d in listing if d["title"] == HAND_MADE)
    copy_of_it = http.get(f"/api/default/dashboards/{managed['dashboard_id']}").json()["v8"]
    assert "Managed by o2-provision." in copy_of_it["description"]
    assert copy_of_it["tabs"] == original["v8"]["tabs"]
    assert http.get(f"/api/default/dashboards/{original_id}").json() == original  # the hand-made one untouched

    other = cli("render", "--templates", "mine", "--set", "stream=other", HOOK)
    board = next(r["payload"] for r in other.json() if r["name"] == HAND_MADE)
    for query in [q["query"] for tab in board["tabs"] for p in tab["panels"] for q in p["queries"]]:
        assert '"other"' in query and '"default"' not in query, query


@pytest.mark.parametrize(
    ("title", "message"),
    [
        (
            "No such board",
            "error: --dashboard: O2 has no dashboard titled 'No such board' (titles are matched exactly)",
        ),
        (
            HAND_MADE,
            "error: --dashboard: 2 dashboards on O2 are titled 'Support team · slow calls'; rename all but one",
        ),
    ],
)
def test_a_dashboard_that_cannot_be_chosen_by_its_title_writes_nothing(
    cli: Cli, o2: StandIn, http: httpx.Client, title: str, message: str
) -> None:
    assert cli("apply", "--yes", "--bootstrap-stream", HOOK).code == 0
    make_by_hand(cli, http)
    make_by_hand(cli, http)
    o2.clear_requests()
    refused = cli("pull", "--templates", "mine", "--dashboard", title, HOOK)
    assert refused.code == 1
    assert refused.err.splitlines() == [message]
    assert not (cli.cwd / "mine").exists() and writes(o2) == []
