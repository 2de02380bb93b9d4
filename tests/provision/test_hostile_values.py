"""Hostile values files and `--set`: one line, exit 1, quickly, and nothing written to O2."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import TOKEN
from tests.o2_standin import StandIn
from tests.provision.hostile import run

HOOK = "--set=webhook_url=http://127.0.0.1:9/hook"
WRITES = ("POST", "PUT", "DELETE", "PATCH")
ALIAS_BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
    for i in range(9)
)


def file(name: str, data: bytes | str) -> Callable[[Path], list[str]]:
    def make(tmp: Path) -> list[str]:
        path = tmp / name
        path.write_bytes(data.encode() if isinstance(data, str) else data)
        return ["-f", str(path)]

    return make


def sets(*items: str) -> Callable[[Path], list[str]]:
    return lambda tmp: [f"--set={i}" for i in items]


PRICE = "{name: m, match_pattern: '^m$', input_per_1m: 1, output_per_1m: 2}"
# (case, arguments, words the one error line must contain)
CASES: list[tuple[str, Callable[[Path], list[str]], list[str]]] = [
    ("not-utf8", file("v.yaml", b"stream: caf\xe9\n"), ["v.yaml", "not UTF-8", "0xe9"]),
    ("not-utf8-toml", file("v.toml", b'stream = "\xff"\n'), ["v.toml", "not UTF-8"]),
    ("deep-yaml", file("v.yaml", "x: " + "[" * 5000 + "]" * 5000 + "\n"), ["v.yaml", "nests deeper than 32"]),
    ("deep-yaml-block", file("v.yaml", "".join(f"{' ' * i}k{i}:\n" for i in range(200))), ["nests deeper"]),
    ("deep-toml", file("v.toml", "x = " + "[" * 5000 + "]" * 5000 + "\n"), ["v.toml", "nests deeper"]),
    ("alias-bomb", file("v.yaml", ALIAS_BOMB), ["v.yaml", "alias"]),
    ("int-key", file("v.yaml", "1: x\n"), ["v.yaml", "key 1 is not a string"]),
    ("null-key", file("v.yaml", "~: x\n"), ["key None is not a string"]),
    ("nested-int-key", file("v.yaml", "model_prices:\n- {1: x}\n"), ["model_prices[0]", "not a string"]),
    ("unhashable-key", file("v.yaml", "? [a]\n: b\n"), ["v.yaml", "not valid YAML"]),
    ("too-big", file("v.yaml", "stream: default\n" + "# padding\n" * 120_000), ["v.yaml", "at most 1,048,576"]),
    ("huge-digits", file("v.yaml", "slow_turn_ms: " + "9" * 5000 + "\n"), ["v.yaml"]),
    ("past-i64", file("v.yaml", "slow_turn_ms: 9223372036854775808\n"), ["slow_turn_ms", "64-bit"]),
    ("past-i64-set", sets("target_voice_to_voice_ms=99999999999999999999"), ["target_voice_to_voice_ms", "64-bit"]),
    ("minutes-past-i64-us", sets("alert_period_minutes=153722867281"), ["alert_period_minutes", "at most"]),
    (
        "infinite-price",
        file("v.yaml", "model_prices:\n- {name: m, match_pattern: m, input_per_1m: .inf, output_per_1m: 1}\n"),
        ["input_per_1m", "finite"],
    ),
    (
        "nan-price",
        file("v.yaml", "model_prices:\n- {name: m, match_pattern: m, input_per_1m: .nan, output_per_1m: 1}\n"),
        ["finite"],
    ),
    (
        "huge-int-price",
        file(
            "v.yaml",
            "model_prices:\n- {name: m, match_pattern: m, input_per_1m: " + "9" * 400 + ", output_per_1m: 1}\n",
        ),
        ["finite"],
    ),
    ("stream-quote", sets('stream=traces"; DROP'), ["stream", "letters, digits"]),
    ("stream-single-quote", sets("stream=it's"), ["stream", "letters, digits"]),
    ("stream-space", sets("stream=my stream"), ["stream"]),
    ("stream-too-long", sets("stream=" + "s" * 300), ["stream", "256 characters"]),
    ("folder-control", file("v.yaml", 'folder: "Pipe\\e[31mcat"\n'), ["folder", "control characters"]),
    ("folder-too-long", sets("folder=" + "f" * 300), ["folder", "256 characters"]),
    ("huge-string-value", file("v.yaml", "slow_turn_ms: " + "x" * 100_000 + "\n"), ["slow_turn_ms", "whole number"]),
    ("webhook-bad-ipv6", sets("webhook_url=http://[::1/hook"), ["webhook_url", "does not parse"]),
    ("webhook-bad-port", sets("webhook_url=http://example.com:port/hook"), ["webhook_url", "does not parse"]),
    ("slack-newline", file("v.yaml", 'slack_webhook_url: "http://example.com/\\nx"\n'), ["slack_webhook_url"]),
    ("email-too-long", sets("alert_emails=" + "a" * 250 + "@example.com"), ["alert_emails", "invalid address"]),
    (
        "price-name-too-long",
        sets(f"model_prices=[{{name: {'n' * 300}, match_pattern: m, input_per_1m: 1, output_per_1m: 1}}]"),
        ["256 characters"],
    ),
    ("set-prices-not-flow", sets("model_prices=m"), ["model_prices", "YAML flow list"]),
    ("set-prices-bad-flow", sets("model_prices=[{name: m"), ["model_prices", "not a valid YAML flow list"]),
    ("set-prices-alias", sets("model_prices=[&a {name: m}, *a]"), ["alias"]),
    ("set-prices-missing-key", sets("model_prices=[{name: m, match_pattern: m, input_per_1m: 1}]"), ["output_per_1m"]),
    ("yaml-date", file("v.yaml", "stream: 2024-01-01\n"), ["stream", "must be a string"]),
    ("yaml-binary", file("v.yaml", "folder: !!binary aGVsbG8=\n"), ["folder", "must be a string"]),
    ("yaml-python-tag", file("v.yaml", "folder: !!python/object/apply:os.system [echo hi]\n"), ["not valid YAML"]),
    ("values-a-folder", lambda t: ["-f", str(t)], ["is not a file"]),
]


@pytest.mark.parametrize(("case", "args", "words"), CASES, ids=[c[0] for c in CASES])
def test_hostile_values_are_one_line_exit_1_and_nothing_written(
    case: str, args: Callable[[Path], list[str]], words: list[str], o2: StandIn, tmp_path: Path
) -> None:
    started = time.monotonic()
    outcome = run(["apply", "--yes", HOOK, *args(tmp_path)], _env(o2), tmp_path)
    line = outcome.assert_one_clean_error(1)
    for word in words:
        assert word in line, line
    assert len(line) <= 600, len(line)
    assert time.monotonic() - started < 5
    assert _writes(o2) == []


def test_set_takes_model_prices_as_a_yaml_flow_list(tmp_path: Path) -> None:
    outcome = run(["render", f"--set=model_prices=[{PRICE}]"], {}, tmp_path)
    assert outcome.code == 0, outcome.err
    assert '"name": "m"' in outcome.out and "model_price" in outcome.out


def test_set_takes_emails_as_a_comma_list_or_a_flow_list(tmp_path: Path) -> None:
    for value in ("a@example.com,b@example.com", "[a@example.com, b@example.com]"):
        outcome = run(["render", f"--set=alert_emails={value}"], {}, tmp_path)
        assert outcome.code == 0, outcome.err
        assert '"emails": [\n' in outcome.out or '"a@example.com"' in outcome.out
        assert '"b@example.com"' in outcome.out


def test_an_anchor_without_alias_is_fine(tmp_path: Path) -> None:
    path = tmp_path / "v.yaml"
    path.write_text("folder: &f Voice\n", encoding="utf-8")
    assert run(["validate", "-f", str(path)], {}, tmp_path).code == 0


# -- property-based: any values file ends in success or one clean line, and nothing half-written ----

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
)
KEYS = ["stream", "folder", "slow_turn_ms", "alert_emails", "model_prices", "webhook_url", "alert_period_minutes"]
keys = st.one_of(st.sampled_from(KEYS), st.text(max_size=12), st.integers())
documents = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4), max_leaves=20
)


def _encode(document: Any, encoding: str) -> bytes:
    try:
        text = yaml.safe_dump(document, allow_unicode=True)
    except yaml.YAMLError:
        text = "{}"
    return text.encode(encoding, "replace")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    document=st.dictionaries(keys, documents, max_size=5) | documents,
    encoding=st.sampled_from(["utf-8", "utf-16", "latin-1"]),
    raw=st.binary(max_size=64),
    use_raw=st.booleans(),
)
def test_any_values_file_is_applied_or_refused_in_one_line(
    document: Any, encoding: str, raw: bytes, use_raw: bool, o2: StandIn, tmp_path: Path
) -> None:
    path = tmp_path / "v.yaml"
    path.write_bytes(raw if use_raw else _encode(document, encoding))
    o2.clear_requests()
    outcome = run(["apply", "--yes", "--bootstrap-stream", HOOK, "-f", str(path)], _env(o2), tmp_path)
    if outcome.code == 0:
        outcome.assert_clean()
        return
    outcome.assert_one_clean_error(1)
    assert _writes(o2) == []


def _env(o2: StandIn) -> dict[str, str]:
    return {"OPENOBSERVE_URL": o2.url, "OPENOBSERVE_AUTH_TOKEN": TOKEN}


def _writes(o2: StandIn) -> list[Any]:
    return [r for r in o2.requests if r.method in WRITES]
