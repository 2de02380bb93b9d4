"""Commands that never touch the network: init, render, validate."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from provision.render import builtin_templates
from tests.conftest import Cli


def test_init_writes_examples_without_a_secret_and_never_overwrites(offline_cli: Cli) -> None:
    first = offline_cli("init", "--templates", "mytemplates")
    assert first.code == 0, first.err
    env_example = (offline_cli.cwd / ".env.example").read_text()
    assert "OPENOBSERVE_AUTH_TOKEN=\n" in env_example
    assert not (offline_cli.cwd / ".env").exists()
    assert (offline_cli.cwd / "o2-values.yaml").read_text() == (builtin_templates() / "values.yaml").read_text()
    assert (offline_cli.cwd / "mytemplates" / "alerts" / "pipecat_slow_turns.json.j2").is_file()
    assert not list((offline_cli.cwd / "mytemplates").rglob("*.py"))

    again = offline_cli("init")
    assert again.code == 1
    assert again.err.strip() == "error: .env.example already exists (use --force to overwrite)"

    validate = offline_cli(
        "validate", "--templates", "mytemplates", "-f", "o2-values.yaml", "--set", "webhook_url=https://h.example.com"
    )
    assert validate.code == 0, validate.err
    assert "Valid: 8 resource(s)" in validate.out  # 2 folders, 2 dashboards, template, destination, 2 alerts


def test_render_out_writes_every_payload_and_nothing_on_error(offline_cli: Cli) -> None:
    result = offline_cli("render", "--out", "out", "--set", "webhook_url=https://h.example.com")
    assert result.code == 0, result.err
    files = sorted(p.relative_to(offline_cli.cwd / "out").as_posix() for p in (offline_cli.cwd / "out").rglob("*.json"))
    assert "alerts/pipecat-slow-turns.json" in files
    assert "destinations/pipecat-webhook.json" in files
    alert = json.loads((offline_cli.cwd / "out" / "alerts" / "pipecat-slow-turns.json").read_text())
    assert alert["destinations"] == ["pipecat_webhook"]
    assert "o2-provision" in alert["tags"]

    broken = offline_cli.cwd / "broken"
    shutil.copytree(builtin_templates(), broken, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    (broken / "dashboards" / "turn_latency.json.j2").write_text("{% if %}")
    failed = offline_cli("render", "--out", "out2", "--templates", str(broken))
    assert failed.code == 1
    assert not (offline_cli.cwd / "out2").exists()

    refused = offline_cli("render", "--out", ".")  # a folder render did not write is never replaced
    assert refused.code == 1 and "not empty" in refused.err
    assert (offline_cli.cwd / "broken").is_dir()


def test_validate_lists_every_problem_with_its_file_and_field(offline_cli: Cli) -> None:
    tpl = offline_cli.cwd / "tpl"
    shutil.copytree(builtin_templates(), tpl, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    alert = tpl / "alerts" / "pipecat_slow_turns.json.j2"
    alert.write_text(
        alert.read_text().replace('"operator": ">="', '"operator": "gte"').replace("SELECT ", "SELECT * , ")
    )
    result = offline_cli(
        "validate", "--templates", str(tpl), "--set", "webhook_url=https://h.example.com", "-o", "json"
    )
    assert result.code == 1
    doc = result.json()
    assert doc["valid"] is False
    assert any(p.startswith("alerts/pipecat_slow_turns.json.j2: trigger_condition.operator:") for p in doc["problems"])
    assert any(p.startswith("alerts/pipecat_slow_turns.json.j2: query_condition.sql:") for p in doc["problems"])


def test_default_values_validate_and_say_alerts_need_a_destination(offline_cli: Cli) -> None:
    result = offline_cli("validate")
    assert result.code == 0
    assert "alerts need a destination" in result.err
    rendered = json.loads(offline_cli("render").out)
    assert {r["kind"] for r in rendered} == {"folder", "dashboard"}


def test_tls_is_verified_by_default() -> None:
    from provision.config import load_settings

    settings = load_settings(url="https://o2.example.com", token="dTpw", env_file=Path("/nonexistent"), environ={})
    assert settings.verify is True
    assert load_settings(token="dTpw", insecure=True, env_file=Path("/x"), environ={}).verify is False
