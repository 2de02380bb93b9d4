"""Proof 3: every template renders and validates for every supported combination of values.

Destinations none / webhook / slack / email / all × default or custom stream and folder × model
prices none / one / several (with and without ``cache_read_per_1m``), through ``o2-provision
validate -o json`` and ``render -o json``: the payloads are parsed and checked against the values.
The matrix runs the CLI in-process (Typer's runner, the same command code) to stay fast; two
combinations also run as a user runs them, in a subprocess, and must give the same output.
"""

from __future__ import annotations

import itertools
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from provision.cli import app
from provision.panels import panel_queries
from tests.conftest import Cli

MANAGED = "Managed by o2-provision."
NO_DESTINATION_WARNING = "alerts need a destination"

WEBHOOK = {"webhook_url": "https://hooks.example.com/pipecat"}
SLACK = {"slack_webhook_url": "https://hooks.slack.com/services/T000/B000/XXXX"}
EMAIL = {"alert_emails": ["ops@example.com", "oncall@example.com"]}
DESTINATIONS: dict[str, tuple[dict[str, Any], list[str]]] = {
    "none": ({}, []),
    "webhook": (WEBHOOK, ["pipecat_webhook"]),
    "slack": (SLACK, ["pipecat_slack"]),
    "email": (EMAIL, ["pipecat_email"]),
    "all": ({**WEBHOOK, **SLACK, **EMAIL}, ["pipecat_email", "pipecat_slack", "pipecat_webhook"]),
}
PLACES = {
    "default": {},
    "custom": {"stream": "voice-bots_prod", "folder": "Voice Ops · EU"},
}
LLAMA = {"name": "my-llama", "match_pattern": "(?i)^my-llama-3", "input_per_1m": 0.2, "output_per_1m": 0.6}
MISTRAL = {
    "name": "self-hosted-mistral",
    "match_pattern": "^mistral-small",
    "input_per_1m": 0.1,
    "output_per_1m": 0.3,
    "cache_read_per_1m": 0.025,
}
FREE = {"name": "free-model", "match_pattern": "^free$", "input_per_1m": 0, "output_per_1m": 0}
PRICES: dict[str, list[dict[str, Any]]] = {
    "none": [],
    "one": [LLAMA],
    "one_cached": [MISTRAL],
    "several": [LLAMA, MISTRAL, FREE],
}
COMBOS = list(itertools.product(DESTINATIONS, PLACES, PRICES))

runner = CliRunner()


def values_file(folder: Path, destinations: str, place: str, prices: str) -> Path:
    values = {**DESTINATIONS[destinations][0], **PLACES[place], "model_prices": PRICES[prices]}
    path = folder / "values.yaml"
    path.write_text(yaml.safe_dump(values, allow_unicode=True), encoding="utf-8")
    return path


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize(("destinations", "place", "prices"), COMBOS, ids=["-".join(c) for c in COMBOS])
def test_renders_and_validates(tmp_path: Path, destinations: str, place: str, prices: str) -> None:
    path = values_file(tmp_path, destinations, place, prices)
    # O2 stores a stream name with each run of '-' as '_'; every query and alert uses the stored name.
    stream = PLACES[place].get("stream", "default").replace("-", "_")
    folder = PLACES[place].get("folder", "Pipecat")
    declared = DESTINATIONS[destinations][1]

    code, out, err = invoke("validate", "-f", str(path), "-o", "json")
    assert code == 0, err
    report = json.loads(out)
    assert report["valid"] is True and report["problems"] == []

    code, out, err = invoke("render", "-f", str(path), "-o", "json")
    assert code == 0, err
    resources = json.loads(out)
    assert report["resources"] == len(resources)
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for r in resources:
        by_kind.setdefault(r["kind"], []).append(r)
    assert len({(r["kind"], r["name"]) for r in resources}) == len(resources), "a resource twice"

    # Folders: one for dashboards, one for alerts, both ours.
    folders = {r["name"]: r["payload"] for r in by_kind["folder"]}
    assert set(folders) == {f"dashboards/{folder}", f"alerts/{folder}"}
    assert all(f["name"] == folder and MANAGED in f["description"] for f in folders.values())

    # Dashboards: both, every panel reading the stream, every query substitutable.
    dashboards = {r["name"]: r["payload"] for r in by_kind["dashboard"]}
    assert set(dashboards) == {"Pipecat · Turn latency", "Pipecat · Tokens and sessions"}
    for dashboard in dashboards.values():
        assert dashboard["version"] == 8 and MANAGED in dashboard["description"]
        queries = panel_queries(dashboard)
        panels = [p for t in dashboard["tabs"] for p in t["panels"]]
        assert len(queries) == len(panels) > 0
        for q in queries:
            assert q.stream == stream
            assert f'FROM "{stream}"' in q.sql
            if place == "custom":
                assert 'FROM "default"' not in q.sql
        assert {v["query_data"]["stream"] for v in dashboard["variables"]["list"]} == {stream}

    # Destinations and their alert templates: exactly the declared ones.
    dests = {r["name"]: r["payload"] for r in by_kind.get("destination", [])}
    assert sorted(dests) == declared
    templates = {r["name"] for r in by_kind.get("alert_template", [])}
    assert templates == {d["template"] for d in dests.values()}
    for name, d in dests.items():
        assert d["metadata"] == {"managed_by": "o2-provision"}
        if name == "pipecat_webhook":
            assert (d["type"], d["url"]) == ("http", WEBHOOK["webhook_url"])
        elif name == "pipecat_slack":
            assert (d["type"], d["url"]) == ("http", SLACK["slack_webhook_url"])
        else:
            assert (d["type"], d["emails"]) == ("email", EMAIL["alert_emails"])

    # Alerts: both, sending to every declared destination; with none, left out with the warning.
    alerts = {r["name"]: r["payload"] for r in by_kind.get("alert", [])}
    if declared:
        assert set(alerts) == {"pipecat_failed_turns", "pipecat_slow_turns"}
        for alert in alerts.values():
            assert sorted(alert["destinations"]) == declared
            assert alert["stream_name"] == stream and "o2-provision" in alert["tags"]
        assert f'FROM "{stream}"' in alerts["pipecat_slow_turns"]["query_condition"]["sql"]
        assert NO_DESTINATION_WARNING not in err
        assert not any(NO_DESTINATION_WARNING in n for n in report["notes"])
    else:
        assert alerts == {}
        assert f"{NO_DESTINATION_WARNING}" in err and "2 alert(s) left out" in err
        assert any(NO_DESTINATION_WARNING in n for n in report["notes"])

    # Model prices: one per entry, USD per token, cache price only when given.
    entries = PRICES[prices]
    rendered = {r["name"]: r["payload"] for r in by_kind.get("model_price", [])}
    assert set(rendered) == {p["name"] for p in entries}
    assert Counter(r["kind"] for r in resources)["model_price"] == len(entries)
    for entry in entries:
        payload = rendered[entry["name"]]
        assert payload["match_pattern"] == entry["match_pattern"]
        assert payload["enabled"] is True and MANAGED in payload["description"]
        (tier,) = payload["tiers"]
        expected = {"input": entry["input_per_1m"] / 1e6, "output": entry["output_per_1m"] / 1e6}
        if "cache_read_per_1m" in entry:
            expected["cache_read_input_tokens"] = entry["cache_read_per_1m"] / 1e6
        assert tier["prices"] == pytest.approx(expected, rel=1e-12, abs=0)


@pytest.mark.parametrize(
    ("destinations", "place", "prices"), [("all", "custom", "several"), ("none", "default", "none")]
)
def test_the_installed_command_gives_the_same_output(
    offline_cli: Cli, destinations: str, place: str, prices: str
) -> None:
    path = values_file(offline_cli.cwd, destinations, place, prices)
    for command in ("validate", "render"):
        as_user = offline_cli(command, "-f", str(path), "-o", "json")
        code, out, err = invoke(command, "-f", str(path), "-o", "json")
        assert (as_user.code, json.loads(as_user.out), as_user.err) == (code, json.loads(out), err)
