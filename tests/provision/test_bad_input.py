"""Bad input of every kind: exit code 1, one line that names what and where, nothing sent to O2."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import TOKEN, Cli
from tests.o2_standin import StandIn

HOOK = "--set=webhook_url=http://127.0.0.1:9/hook"


def write(root: Path, name: str, text: str) -> str:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return str(path)


def custom_templates(root: Path, name: str, text: str) -> str:
    """A copy of the built-in templates with one file replaced."""
    import shutil

    from provision.render import builtin_templates

    target = root / "tpl"
    shutil.copytree(builtin_templates(), target, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    (target / name).write_text(text, encoding="utf-8")
    return str(target)


ALERT_WITH_SPACE = (
    '{"name": "slow turns", "stream_type": "traces", "stream_name": "default", "is_real_time": false,'
    ' "query_condition": {"type": "sql", "sql": "SELECT trace_id FROM \\"default\\""},'
    ' "trigger_condition": {"period": 5, "operator": ">=", "threshold": 1, "frequency": 1},'
    ' "destinations": {{ destinations | tojson }}}'
)
ALERT_SELECT_STAR = ALERT_WITH_SPACE.replace("slow turns", "slow_turns").replace("SELECT trace_id", "SELECT *")
ALERT_UNKNOWN_DEST = ALERT_WITH_SPACE.replace("slow turns", "slow_turns").replace(
    "{{ destinations | tojson }}", '["nowhere"]'
)

# (case id, how to build the arguments from a tmp folder, extra env, words the one-line error must contain)
CASES = [
    ("values-not-yaml", lambda t: ["-f", write(t, "v.yaml", "stream: [unclosed")], {}, ["v.yaml", "not valid YAML"]),
    ("values-not-toml", lambda t: ["-f", write(t, "v.toml", "stream = ")], {}, ["v.toml", "not valid TOML"]),
    ("values-a-list", lambda t: ["-f", write(t, "v.yaml", "- a\n- b\n")], {}, ["must hold a mapping"]),
    ("values-missing-file", lambda t: ["-f", str(t / "nope.yaml")], {}, ["nope.yaml", "does not exist"]),
    ("unknown-key", lambda t: ["-f", write(t, "v.yaml", "slow_turn_msec: 10\n")], {}, ["unknown key 'slow_turn_msec'"]),
    ("unknown-key-set", lambda t: ["--set", "colour=red"], {}, ["unknown key 'colour'"]),
    (
        "wrong-type-yaml",
        lambda t: ["-f", write(t, "v.yaml", "slow_turn_ms: fast\n")],
        {},
        ["slow_turn_ms", "whole number"],
    ),
    ("wrong-type-set", lambda t: ["--set", "slow_turn_ms=1.5s"], {}, ["slow_turn_ms", "whole number"]),
    (
        "list-expected",
        lambda t: ["-f", write(t, "v.yaml", "alert_emails: ops@example.com\n")],
        {},
        ["alert_emails", "list"],
    ),
    (
        "negative-threshold",
        lambda t: ["--set", "slow_turn_threshold=-1"],
        {},
        ["slow_turn_threshold", "greater than 0"],
    ),
    ("zero-slow-turn", lambda t: ["--set", "slow_turn_ms=0"], {}, ["slow_turn_ms", "greater than 0"]),
    ("zero-period", lambda t: ["--set", "alert_period_minutes=0"], {}, ["alert_period_minutes", "at least 1"]),
    ("negative-silence", lambda t: ["--set", "alert_silence_minutes=-5"], {}, ["alert_silence_minutes"]),
    ("empty-stream", lambda t: ["--set", "stream="], {}, ["stream"]),
    ("set-without-equals", lambda t: ["--set", "slow_turn_ms"], {}, ["--set", "key=value"]),
    ("webhook-not-http", lambda t: ["--set", "webhook_url=ftp://example.com/x"], {}, ["webhook_url", "http://"]),
    ("slack-no-scheme", lambda t: ["--set", "slack_webhook_url=hooks.slack.com/x"], {}, ["slack_webhook_url"]),
    ("bad-email", lambda t: ["--set", "alert_emails=ops-at-example"], {}, ["alert_emails", "ops-at-example"]),
    (
        "price-bad-regex",
        lambda t: [
            "-f",
            write(t, "v.yaml", "model_prices:\n- {name: m, match_pattern: '(', input_per_1m: 1, output_per_1m: 1}\n"),
        ],
        {},
        ["match_pattern", "regex"],
    ),
    (
        "price-negative",
        lambda t: [
            "-f",
            write(t, "v.yaml", "model_prices:\n- {name: m, match_pattern: 'm', input_per_1m: -1, output_per_1m: 1}\n"),
        ],
        {},
        ["input_per_1m", "negative"],
    ),
    (
        "price-missing-key",
        lambda t: ["-f", write(t, "v.yaml", "model_prices:\n- {name: m, match_pattern: 'm', input_per_1m: 1}\n")],
        {},
        ["output_per_1m"],
    ),
    (
        "price-duplicate",
        lambda t: [
            "-f",
            write(
                t,
                "v.yaml",
                "model_prices:\n- {name: m, match_pattern: a, input_per_1m: 1, output_per_1m: 1}\n"
                "- {name: m, match_pattern: b, input_per_1m: 1, output_per_1m: 1}\n",
            ),
        ],
        {},
        ["two entries named 'm'"],
    ),
    ("templates-missing", lambda t: ["--templates", str(t / "none")], {}, ["does not exist"]),
    (
        "jinja-syntax",
        lambda t: ["--templates", custom_templates(t, "alerts/pipecat_slow_turns.json.j2", "{% if %}")],
        {},
        ["alerts/pipecat_slow_turns.json.j2:1", "syntax"],
    ),
    (
        "undefined-variable",
        lambda t: ["--templates", custom_templates(t, "alerts/pipecat_slow_turns.json.j2", '\n{"name": "{{ nope }}"}')],
        {},
        ["alerts/pipecat_slow_turns.json.j2:2", "'nope' is undefined"],
    ),
    (
        "invalid-json",
        lambda t: ["--templates", custom_templates(t, "alerts/pipecat_slow_turns.json.j2", '{"name": "x",}')],
        {},
        ["alerts/pipecat_slow_turns.json.j2", "invalid JSON"],
    ),
    (
        "alert-name-space",
        lambda t: ["--templates", custom_templates(t, "alerts/pipecat_slow_turns.json.j2", ALERT_WITH_SPACE)],
        {},
        ["alerts/pipecat_slow_turns.json.j2", "name", "spaces"],
    ),
    (
        "select-star",
        lambda t: ["--templates", custom_templates(t, "alerts/pipecat_slow_turns.json.j2", ALERT_SELECT_STAR)],
        {},
        ["query_condition.sql", "SELECT *"],
    ),
    (
        "missing-destination",
        lambda t: ["--templates", custom_templates(t, "alerts/pipecat_slow_turns.json.j2", ALERT_UNKNOWN_DEST)],
        {},
        ["destinations", "'nowhere'"],
    ),
    ("missing-token", lambda t: [], {"OPENOBSERVE_AUTH_TOKEN": ""}, ["OPENOBSERVE_AUTH_TOKEN is not set"]),
    (
        "malformed-token",
        lambda t: [],
        {"OPENOBSERVE_AUTH_TOKEN": "not base64!"},
        ["OPENOBSERVE_AUTH_TOKEN", "malformed"],
    ),
    (
        "token-without-colon",
        lambda t: [],
        {"OPENOBSERVE_AUTH_TOKEN": "Basic bm9jb2xvbg=="},
        ["OPENOBSERVE_AUTH_TOKEN", "email:password"],
    ),
    ("url-without-scheme", lambda t: [], {"OPENOBSERVE_URL": "localhost:5080"}, ["OPENOBSERVE_URL", "http://"]),
    ("url-flag-without-scheme", lambda t: ["--url", "o2.example.com"], {}, ["OPENOBSERVE_URL", "o2.example.com"]),
    ("unknown-org", lambda t: ["--org", "nosuchorg"], {}, ["organization 'nosuchorg' not found"]),
    ("bad-on-error", lambda t: ["--on-error", "ignore"], {}, ["--on-error"]),
    ("zero-timeout", lambda t: ["--timeout", "0"], {}, ["--timeout"]),
    ("zero-concurrency", lambda t: ["--concurrency", "0"], {}, ["--concurrency"]),
    ("unknown-option", lambda t: ["--frobnicate"], {}, ["--frobnicate"]),
]


@pytest.mark.parametrize(("case", "args", "env", "words"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_exit_1_and_nothing_written(
    case: str, args, env: dict[str, str], words: list[str], cli: Cli, o2: StandIn, tmp_path: Path
) -> None:
    result = cli("apply", "--yes", HOOK, *args(tmp_path), env=env)
    assert result.code == 1, (result.out, result.err)
    lines = [line for line in result.err.splitlines() if line.strip()]
    assert len(lines) == 1, result.err
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.err + result.out
    for word in words:
        assert word in lines[0], lines[0]
    assert TOKEN not in result.out + result.err
    writes = [r for r in o2.requests if r.method in ("POST", "PUT", "DELETE", "PATCH")]
    assert writes == []


def test_at_least_thirty_distinct_cases() -> None:
    assert len({c[0] for c in CASES}) >= 30
