"""apply, plan, destroy and status against the stand-in, run as a user runs the CLI."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import httpx

from provision.render import builtin_templates
from tests.conftest import TOKEN, Cli, Webhook
from tests.o2_standin import StandIn

WRITES = ("POST", "PUT", "DELETE", "PATCH")


def writes(o2: StandIn) -> list[Any]:
    return [r for r in o2.requests if r.method in WRITES]


def api(o2: StandIn) -> httpx.Client:
    return httpx.Client(base_url=o2.url, headers={"Authorization": f"Basic {TOKEN}"}, timeout=10)


def alerts_by_name(o2: StandIn) -> dict[str, dict[str, Any]]:
    with api(o2) as http:
        found = {}
        for folder in http.get("/api/v2/default/folders/alerts").json()["list"]:
            for item in http.get("/api/v2/default/alerts", params={"folder": folder["folderId"]}).json()["list"]:
                found[item["name"]] = http.get(f"/api/v2/default/alerts/{item['alert_id']}").json()
        return found


def first_apply(cli: Cli, webhook: Webhook, *extra: str) -> None:
    result = cli("apply", "--yes", "--bootstrap-stream", f"--set=webhook_url={webhook.url}", *extra)
    assert result.code == 0, result.out + result.err


def test_first_apply_creates_everything_and_second_writes_nothing(cli: Cli, o2: StandIn, webhook: Webhook) -> None:
    first_apply(cli, webhook)
    names = set(alerts_by_name(o2))
    assert names == {"pipecat_slow_turns", "pipecat_failed_turns"}
    assert {d["name"] for d in o2.store.destinations("default")} == {"pipecat_webhook"}
    assert {f["name"] for f in o2.store.folders("default", "dashboards")} >= {"Pipecat"}

    o2.clear_requests()
    second = cli("apply", "--yes", f"--set=webhook_url={webhook.url}")
    assert second.code == 0, second.err
    assert "No changes" in second.out
    assert writes(o2) == []
    assert o2.requests, "the second apply must still read the server"


def test_changing_a_threshold_updates_the_same_alert_in_place_and_keeps_enabled(
    cli: Cli, o2: StandIn, webhook: Webhook
) -> None:
    first_apply(cli, webhook)
    before = alerts_by_name(o2)["pipecat_slow_turns"]
    with api(o2) as http:  # an operator pauses the alert in the UI
        r = http.patch(f"/api/v2/default/alerts/{before['id']}/enable", params={"value": "false"})
        assert r.status_code == 200

    plan = cli("plan", "--detailed-exitcode", f"--set=webhook_url={webhook.url}", "--set=slow_turn_threshold=7")
    assert plan.code == 2, plan.out + plan.err
    assert "trigger_condition.threshold: 3 → 7" in plan.out

    o2.clear_requests()
    result = cli("apply", "--yes", f"--set=webhook_url={webhook.url}", "--set=slow_turn_threshold=7")
    assert result.code == 0, result.err
    assert [(r.method, r.path) for r in writes(o2)] == [("PUT", f"/api/v2/default/alerts/{before['id']}")]
    after = alerts_by_name(o2)["pipecat_slow_turns"]
    assert after["id"] == before["id"]
    assert after["trigger_condition"]["threshold"] == 7
    assert after["enabled"] is False

    again = cli("plan", "--detailed-exitcode", f"--set=webhook_url={webhook.url}", "--set=slow_turn_threshold=7")
    assert again.code == 0, again.out


def test_plan_detailed_exitcode_and_dry_run_write_nothing(cli: Cli, o2: StandIn, webhook: Webhook) -> None:
    plan = cli("plan", "--detailed-exitcode", f"--set=webhook_url={webhook.url}")
    assert plan.code == 2
    assert "to create" in plan.out
    dry = cli("apply", "--dry-run", f"--set=webhook_url={webhook.url}")
    assert dry.code == 0
    assert writes(o2) == []


def test_json_output_is_one_document(cli: Cli, o2: StandIn, webhook: Webhook) -> None:
    result = cli("apply", "--yes", "--bootstrap-stream", f"--set=webhook_url={webhook.url}", "--output", "json")
    assert result.code == 0, result.err
    doc = result.json()
    created = {(c["kind"], c["name"]) for c in doc["done"]}
    assert ("alert", "pipecat_slow_turns") in created
    assert doc["failed"] == []
    plan = cli("plan", f"--set=webhook_url={webhook.url}", "-o", "json").json()
    assert plan["summary"]["create"] == 0 and plan["summary"]["update"] == 0


def custom_templates(tmp_path: Path) -> Path:
    target = tmp_path / "tpl"
    shutil.copytree(builtin_templates(), target, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return target


def test_prune_removes_what_is_no_longer_declared_and_only_that(cli: Cli, o2: StandIn, webhook: Webhook) -> None:
    templates = custom_templates(cli.cwd)
    first_apply(cli, webhook, f"--templates={templates}")
    with api(o2) as http:  # resources nobody asked o2-provision to manage
        r = http.post(
            "/api/default/alerts/destinations",
            json={"name": "ops_pager", "type": "http", "url": webhook.url, "method": "post"},
        )
        assert r.status_code == 200, r.text

    (templates / "alerts" / "pipecat_failed_turns.json.j2").unlink()
    without_prune = cli("apply", "--yes", f"--templates={templates}", f"--set=webhook_url={webhook.url}")
    assert without_prune.code == 0
    assert "pipecat_failed_turns" in alerts_by_name(o2)

    pruned = cli("apply", "--yes", "--prune", f"--templates={templates}", f"--set=webhook_url={webhook.url}")
    assert pruned.code == 0, pruned.err
    assert set(alerts_by_name(o2)) == {"pipecat_slow_turns"}
    assert "ops_pager" in {d["name"] for d in o2.store.destinations("default")}


def test_destroy_deletes_only_managed_resources(cli: Cli, o2: StandIn, webhook: Webhook) -> None:
    first_apply(cli, webhook)
    with api(o2) as http:
        r = http.post(
            "/api/default/alerts/destinations",
            json={"name": "ops_pager", "type": "http", "url": webhook.url, "method": "post"},
        )
        assert r.status_code == 200

    refused = cli("destroy", f"--set=webhook_url={webhook.url}")  # no terminal and no --yes
    assert refused.code == 1 and "--yes" in refused.err
    assert alerts_by_name(o2)

    result = cli("destroy", "--yes", f"--set=webhook_url={webhook.url}")
    assert result.code == 0, result.out + result.err
    assert alerts_by_name(o2) == {}
    assert [d["name"] for d in o2.store.destinations("default")] == ["ops_pager"]
    assert not any(t["name"].startswith("pipecat_") for t in o2.store.templates("default"))
    assert "Pipecat" not in {f["name"] for f in o2.store.folders("default", "dashboards")}


def test_a_name_taken_by_an_unmanaged_resource_is_left_alone(cli: Cli, o2: StandIn, webhook: Webhook) -> None:
    with api(o2) as http:
        r = http.post(
            "/api/default/alerts/destinations",
            json={"name": "pipecat_webhook", "type": "http", "url": "http://127.0.0.1:1/theirs", "method": "post"},
        )
        assert r.status_code == 200
    result = cli("apply", "--yes", "--bootstrap-stream", f"--set=webhook_url={webhook.url}")
    assert result.code == 5, result.out + result.err
    assert "not managed by o2-provision" in result.out
    theirs = next(d for d in o2.store.destinations("default") if d["name"] == "pipecat_webhook")
    assert theirs["url"] == "http://127.0.0.1:1/theirs"


def test_alerts_wait_for_the_stream_and_nothing_is_half_written(cli: Cli, o2: StandIn, webhook: Webhook) -> None:
    result = cli("apply", "--yes", f"--set=webhook_url={webhook.url}")
    assert result.code == 4, result.out + result.err
    assert "Stream default not found on O2; nothing was applied" in result.err
    assert "--bootstrap-stream" in result.err
    assert o2.store.destinations("default") == [] and o2.store.dashboards("default") == []
    assert alerts_by_name(o2) == {}

    fixed = cli("apply", "--yes", "--bootstrap-stream", f"--set=webhook_url={webhook.url}")
    assert fixed.code == 0, fixed.err
    assert set(alerts_by_name(o2)) == {"pipecat_slow_turns", "pipecat_failed_turns"}


def test_ssrf_refusal_shows_o2s_message_and_the_fix(tmp_path: Path, webhook: Webhook) -> None:
    with StandIn(root_email="root@example.com", root_password="Complexpass#123", allow_loopback=False) as strict:
        cli = Cli(tmp_path, {"OPENOBSERVE_URL": strict.url, "OPENOBSERVE_AUTH_TOKEN": TOKEN})
        result = cli("apply", "--yes", "--bootstrap-stream", f"--set=webhook_url={webhook.url}")
    assert result.code == 1
    assert "SSRF" in result.err and "ZO_SSRF_ALLOW_LOOPBACK=true" in result.err


def test_status_reports_drift(cli: Cli, o2: StandIn, webhook: Webhook) -> None:
    first_apply(cli, webhook)
    alert = alerts_by_name(o2)["pipecat_slow_turns"]
    body = {k: v for k, v in alert.items() if k not in ("id",)}
    body["trigger_condition"] = {**body["trigger_condition"], "threshold": 9}
    with api(o2) as http:
        assert http.put(f"/api/v2/default/alerts/{alert['id']}", json=body).status_code == 200
    result = cli("status", f"--set=webhook_url={webhook.url}")
    assert result.code == 0
    assert "drifted" in result.out and "pipecat_slow_turns" in result.out
    assert "trigger_condition.threshold: server 9, templates 3" in result.out


def test_the_token_never_appears_in_any_output(cli: Cli, o2: StandIn, webhook: Webhook) -> None:
    outputs = []
    for args in (
        ("apply", "--yes", "--verbose", "--bootstrap-stream", f"--set=webhook_url={webhook.url}"),
        ("plan", "-v", "-o", "json", f"--set=webhook_url={webhook.url}"),
        ("status", "-v", f"--set=webhook_url={webhook.url}"),
        ("doctor", "-v", f"--set=webhook_url={webhook.url}"),
        ("report", "-v", "-o", "json", f"--set=webhook_url={webhook.url}"),
        ("demo", "--sessions", "1", "--turns", "1", "--slow", "0", "--fail", "0"),
        ("plan", "-v", "-o", "json", "--org", "nosuchorg"),
        ("destroy", "-v", "--yes", "-o", "json", f"--set=webhook_url={webhook.url}"),
        ("apply", "--yes", "-v", "--token", "Basic d3Jvbmc6d3Jvbmc="),
    ):
        r = cli(*args)
        outputs.append(r.out + r.err)
    assert all(TOKEN not in text for text in outputs)
    assert all("Complexpass" not in text for text in outputs)
    assert "http: GET /api/v2/default/folders/alerts -> 200" in outputs[0]
    assert "refused the credentials" in outputs[-1]


MINI_DASHBOARD = """{
  "version": 8, "title": "Mini", "description": "{{ note }}",
  "tabs": [{"tabId": "default", "name": "Default", "panels": [
    {"id": "p1", "type": "line", "title": "turns", "description": "", "config": {"show_legends": true},
     "queryType": "sql",
     "queries": [{"query": "SELECT histogram(_timestamp) AS ts, count(*) AS n FROM \\"default\\" GROUP BY ts",
                  "customQuery": true,
                  "fields": {"stream": "default", "stream_type": "traces",
                             "x": [{"label": "ts", "alias": "ts"}], "y": [{"label": "n", "alias": "n"}],
                             "filter": {"filterType": "group", "logicalOperator": "AND", "conditions": []}},
                  "config": {"promql_legend": ""}}],
     "layout": {"x": 0, "y": 0, "w": 96, "h": 18, "i": 1}}]}]
}"""


def test_a_dashboard_edited_concurrently_is_reread_and_written_once(tmp_path: Path, o2: StandIn) -> None:
    from provision.bundle import Sources, load_bundle
    from provision.config import load_settings
    from provision.kinds import Kind
    from provision.plan import Action
    from provision.workflow import execute, plan_for, read

    templates = custom_templates(tmp_path)
    shutil.rmtree(templates / "dashboards")
    (templates / "dashboards").mkdir()
    (templates / "dashboards" / "mini.json.j2").write_text(MINI_DASHBOARD.replace("{{ note }}", "v1"))
    settings = load_settings(url=o2.url, token=TOKEN, env_file=tmp_path / ".env", environ={})
    sources = Sources(templates, [], [])
    session = read(settings, load_bundle(sources))
    execute(
        session,
        load_bundle(sources),
        plan_for(session, load_bundle(sources), prune=False),
        stop_on_error=True,
        progress=None,
    )

    (templates / "dashboards" / "mini.json.j2").write_text(MINI_DASHBOARD.replace("{{ note }}", "v2"))
    bundle = load_bundle(sources)
    session = read(settings, bundle)
    plan = plan_for(session, bundle, prune=False)
    [change] = [c for c in plan.pending() if c.kind is Kind.DASHBOARD]
    assert change.action is Action.UPDATE

    # Someone saves the dashboard in the UI after our read: our hash is now stale.
    dashboard_id = change.remote.id
    with api(o2) as http:
        wrapper = http.get(f"/api/default/dashboards/{dashboard_id}").json()
        inner = {**wrapper["v8"], "title": "Mini"}
        inner["tabs"][0]["panels"][0]["title"] = "edited in the UI"
        r = http.put(
            f"/api/default/dashboards/{dashboard_id}",
            params={"folder": change.remote.folder_id, "hash": wrapper["hash"]},
            json=inner,
        )
        assert r.status_code == 200
    o2.clear_requests()
    result = execute(session, bundle, plan, stop_on_error=True, progress=None)
    assert result.failed == []
    puts = [r for r in o2.requests if r.method == "PUT"]
    assert [r.status for r in puts] == [409, 200]
    with api(o2) as http:
        final = http.get(f"/api/default/dashboards/{dashboard_id}").json()["v8"]
    assert final["description"].startswith("v2")
    assert final["tabs"][0]["panels"][0]["title"] == "turns"
