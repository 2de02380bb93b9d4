"""Hostile connection settings: one clean line, exit 1, no password shown, nothing sent."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import ROOT_PASSWORD, TOKEN
from tests.o2_standin import StandIn
from tests.provision.hostile import run

HOOK = "--set=webhook_url=http://127.0.0.1:9/hook"


def dotenv(data: bytes) -> Callable[[Path, StandIn], dict[str, str]]:
    def make(tmp: Path, o2: StandIn) -> dict[str, str]:
        (tmp / ".env").write_bytes(data)
        return {"OPENOBSERVE_URL": o2.url}

    return make


def url(value: Callable[[StandIn], str]) -> Callable[[Path, StandIn], dict[str, str]]:
    return lambda tmp, o2: {"OPENOBSERVE_URL": value(o2), "OPENOBSERVE_AUTH_TOKEN": TOKEN}


def port(o2: StandIn) -> str:
    return o2.url.rsplit(":", 1)[1]


# (case, environment and .env, extra arguments, words the error line must contain)
CASES: list[tuple[str, Callable[[Path, StandIn], dict[str, str]], list[str], list[str]]] = [
    ("url-open-bracket", url(lambda o2: "http://[::1"), [], ["OPENOBSERVE_URL", "does not parse"]),
    ("url-port-not-a-number", url(lambda o2: "http://127.0.0.1:abc"), [], ["OPENOBSERVE_URL", "does not parse"]),
    ("url-port-too-big", url(lambda o2: "http://127.0.0.1:99999"), [], ["OPENOBSERVE_URL", "does not parse"]),
    ("url-port-zero", url(lambda o2: "http://127.0.0.1:0"), [], ["OPENOBSERVE_URL", "port 0"]),
    ("url-no-host", url(lambda o2: "http://:5080"), [], ["OPENOBSERVE_URL", "no host"]),
    ("url-space", url(lambda o2: "http://127.0.0.1 :5080"), [], ["OPENOBSERVE_URL", "spaces"]),
    (
        "url-userinfo",
        url(lambda o2: f"http://root%40example.com:{ROOT_PASSWORD}@127.0.0.1:{port(o2)}"),
        [],
        ["OPENOBSERVE_URL", "must not hold credentials", "***@127.0.0.1"],
    ),
    (
        "url-userinfo-malformed",
        url(lambda o2: f"http://me:{ROOT_PASSWORD}@[::1"),
        [],
        ["OPENOBSERVE_URL", "***@"],
    ),
    ("url-path", url(lambda o2: f"{o2.url}/o2/"), [], ["OPENOBSERVE_URL", "base URL", "/o2/"]),
    ("url-query", url(lambda o2: f"{o2.url}?org=x"), [], ["OPENOBSERVE_URL", "base URL", "?org=x"]),
    ("url-fragment", url(lambda o2: f"{o2.url}#top"), [], ["OPENOBSERVE_URL", "base URL"]),
    (
        "url-flag-userinfo",
        lambda t, o2: {"OPENOBSERVE_AUTH_TOKEN": TOKEN},
        ["--url", f"https://u:{ROOT_PASSWORD}@h"],
        ["credentials"],
    ),
    ("dotenv-not-utf8", dotenv(b"OPENOBSERVE_AUTH_TOKEN=\xff\xfe\n"), [], [".env", "not UTF-8"]),
    ("timeout-nan", url(lambda o2: o2.url), ["--timeout", "nan"], ["--timeout", "finite"]),
    ("timeout-inf", url(lambda o2: o2.url), ["--timeout", "inf"], ["--timeout", "finite"]),
    ("timeout-huge", url(lambda o2: o2.url), ["--timeout", "1e9"], ["--timeout", "at most"]),
    ("concurrency-huge", url(lambda o2: o2.url), ["--concurrency", "100000"], ["--concurrency", "at most"]),
    (
        "token-non-ascii",
        lambda t, o2: {"OPENOBSERVE_URL": o2.url, "OPENOBSERVE_AUTH_TOKEN": "Basic é"},
        [],
        ["malformed"],
    ),
    ("org-space", url(lambda o2: o2.url), ["--org", "my org"], ["OPENOBSERVE_ORG"]),
    ("org-escape", url(lambda o2: o2.url), ["--org", "a\x1b[2Jb"], ["OPENOBSERVE_ORG"]),
]


@pytest.mark.parametrize(("case", "env", "args", "words"), CASES, ids=[c[0] for c in CASES])
def test_hostile_settings_are_one_line_exit_1_and_nothing_sent(
    case: str,
    env: Callable[[Path, StandIn], dict[str, str]],
    args: list[str],
    words: list[str],
    o2: StandIn,
    tmp_path: Path,
) -> None:
    outcome = run(["apply", "--yes", HOOK, *args], env(tmp_path, o2), tmp_path)
    line = outcome.assert_one_clean_error(1)
    for word in words:
        assert word in line, line
    assert o2.requests == []


# -- property-based: URLs put together from good and broken parts --------------------------------

schemes = st.sampled_from(["http", "https", "HTTP", "ftp", "", "http:", "javascript"])
userinfo = st.sampled_from(["", f"me:{ROOT_PASSWORD}@", "me@", f":{ROOT_PASSWORD}@", "a@b@"])
hosts = st.sampled_from(["127.0.0.1", "[::1]", "[::1", "::1", "", "127.0.0.1]", "localhost", "%00"])
ports = st.one_of(
    st.just(""),
    st.integers(min_value=-1, max_value=70000).map(lambda p: f":{p}"),
    # anything a process environment can hold: every character but NUL and lone surrogates
    st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=4).map(lambda p: f":{p}"),
)
tails = st.sampled_from(["", "/", "/api", "?x=1", "#f", "/a?b#c", " ", "\x1b[31m", "\t"])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    scheme=schemes,
    info=userinfo,
    host=hosts,
    port_part=ports,
    tail=tails,
    timeout=st.floats(-1, 5) | st.sampled_from([float("nan"), float("inf")]),
)
def test_any_url_and_timeout_end_in_one_clean_line(
    scheme: str, info: str, host: str, port_part: str, tail: str, timeout: float, o2: StandIn, tmp_path: Path
) -> None:
    candidate = f"{scheme}://{info}{host}{port_part}{tail}"
    outcome = run(
        ["plan", "--timeout", repr(timeout)],
        {"OPENOBSERVE_URL": candidate, "OPENOBSERVE_AUTH_TOKEN": TOKEN},
        tmp_path,
    )
    if outcome.code == 0:  # a URL that happens to be a working O2 (none here but the stand-in)
        outcome.assert_clean()
        return
    outcome.assert_one_clean_error(1, 6)
    assert ROOT_PASSWORD not in outcome.out + outcome.err
