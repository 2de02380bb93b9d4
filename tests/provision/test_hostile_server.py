"""A server that misbehaves: every fault ends in one clean line and a documented exit code, in bounded time."""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import TOKEN
from tests.provision.hostile import run
from tests.provision.misbehaving import Misbehaving, Request, empty_o2, reply, reply_json, trickle

HOOK = "--set=webhook_url=http://127.0.0.1:9/hook"
FOLDERS = "/api/v2/default/folders/dashboards"
PROXY_PAGE = (
    "<html>\n<head><title>502 Bad Gateway</title></head>\n<body>\n<center><h1>502 Bad Gateway</h1></center>\n"
    "<hr><center>nginx/1.25.3</center>\n</body>\n</html>\n"
)


def on_first_get(answer: bytes) -> Callable[[Request], bytes]:
    """Answer the first read (the dashboards folders) with `answer`, everything else like an empty O2."""

    def respond(request: Request) -> bytes:
        return answer if request.path == FOLDERS else empty_o2(request)

    return respond


def env(server: Misbehaving) -> dict[str, str]:
    return {"OPENOBSERVE_URL": server.url, "OPENOBSERVE_AUTH_TOKEN": TOKEN}


# (case, first answer, exit code, words the error line must contain)
READ_FAULTS = [
    (
        "html-200",
        reply(200, "<html><title>Sign in</title></html>", headers={"Content-Type": "text/html"}),
        7,
        ["not JSON", "Sign in"],
    ),
    (
        "truncated-json",
        reply(200, '{"list": [{"folderId": "1", "na', headers={"Content-Type": "application/json"}),
        7,
        ["not JSON"],
    ),
    ("wrong-shape-list", reply_json(200, ["a", "b"]), 7, ["not what O2 sends"]),
    ("wrong-shape-field", reply_json(200, {"list": [{"folderId": {"x": 1}, "name": 3}]}), 7, ["list.0.folderId"]),
    ("json-null-items", reply_json(200, {"list": None}), 7, ["not what O2 sends"]),
    ("deep-json", reply(200, "[" * 100_000 + "]" * 100_000), 7, ["not JSON"]),
    ("proxy-502-page", reply(502, PROXY_PAGE, headers={"Content-Type": "text/html"}), 7, ["502 Bad Gateway"]),
    (
        "escapes-in-message",
        reply_json(500, {"message": "boom \x1b[2J\x1b]0;pwned\x07 \r\nsecond line"}),
        7,
        ["boom", "second line"],
    ),
    (
        "echoed-authorization",
        reply_json(400, {"message": f"bad header Authorization: Basic {TOKEN}"}),
        1,
        ["bad header", "***"],
    ),
    (
        "echoed-decoded-token",
        reply_json(403, {"message": "user root@example.com:Complexpass#123 denied"}),
        3,
        ["denied"],
    ),
    (
        "redirect-on-read",
        reply(302, "", headers={"Location": "https://login.example.com/"}),
        7,
        ["redirect (302", "login.example.com"],
    ),
    ("bad-gzip", reply(200, b"not gzip", headers={"Content-Encoding": "gzip"}), 7, ["decompressed"]),
    ("status-999", reply(999, "?"), 7, []),
]


@pytest.mark.parametrize(("case", "answer", "code", "words"), READ_FAULTS, ids=[c[0] for c in READ_FAULTS])
def test_a_broken_answer_is_one_clean_line(
    case: str, answer: bytes, code: int, words: list[str], tmp_path: Path
) -> None:
    with Misbehaving(on_first_get(answer)) as server:
        started = time.monotonic()
        outcome = run(["plan", "--verbose", "--timeout", "2", HOOK], env(server), tmp_path)
        assert time.monotonic() - started < 10
    errors = [line for line in outcome.err.splitlines() if not line.startswith("http: ")]
    assert outcome.code == code, outcome.err
    assert len(errors) == 1 and errors[0].startswith("error: "), outcome.err
    for word in words:
        assert word in errors[0], errors[0]
    outcome.code = code
    outcome.err = errors[0]
    outcome.assert_one_clean_error(code)


def test_a_redirect_on_a_write_is_not_success_and_is_not_followed(tmp_path: Path) -> None:
    with Misbehaving() as elsewhere, Misbehaving() as server:

        def respond(request: Request) -> bytes:
            if request.method == "POST" and not request.path.endswith("/_search"):
                return reply(307, "", headers={"Location": f"{elsewhere.url}/steal"})
            return empty_o2(request)

        server.answer = respond
        outcome = run(["apply", "--yes", HOOK], env(server), tmp_path)
        assert elsewhere.requests == []  # the token never went to the redirect's target
    line = outcome.assert_one_clean_error(7)
    assert "redirect (307" in line
    assert "  created " not in outcome.out
    assert "0 created" in outcome.out


def test_a_server_trickling_its_answer_times_out_on_the_total_deadline(tmp_path: Path) -> None:
    body = reply_json(200, {"list": []})
    with Misbehaving(on_first_get(b""), gap=0.1) as server:
        server.answer = lambda r: trickle(body) if r.path == FOLDERS else empty_o2(r)
        outcome = run(["plan", "--timeout", "0.5", HOOK], env(server), tmp_path)
        trickled = [r for r in server.requests if r.path == FOLDERS]
    line = outcome.assert_one_clean_error(6)
    assert "did not answer within 0.5s" in line
    # Four attempts (first try + three retries), each cut at its deadline, before its answer was through; a
    # per-read timeout would wait for the whole trickle (len(body) * 0.1 s, over 8 s) each time.
    assert len(trickled) == 4
    assert all(r.sent < len(body) for r in trickled), [r.sent for r in trickled]


def test_a_429_on_a_write_is_retried_after_its_retry_after(tmp_path: Path) -> None:
    refused: list[float] = []

    def respond(request: Request) -> bytes:
        if request.method == "POST" and request.path == FOLDERS and not refused:
            refused.append(time.monotonic())
            return reply_json(429, {"message": "slow down"}, **{"Retry-After": "1"})
        return empty_o2(request)

    with Misbehaving(respond) as server:
        outcome = run(["apply", "--yes", HOOK], env(server), tmp_path)
        posts = [r.at for r in server.requests if r.method == "POST" and r.path == FOLDERS]
    assert outcome.code == 0, outcome.err
    assert len(posts) == 2  # refused with 429, then created
    assert posts[1] - posts[0] >= 0.9


def test_a_429_that_never_ends_is_a_network_error(tmp_path: Path) -> None:
    answer = reply_json(429, {"message": "slow down"}, **{"Retry-After": "0"})
    with Misbehaving(lambda r: answer) as server:
        outcome = run(["plan", HOOK], env(server), tmp_path)
        attempts = len([r for r in server.requests if r.path == FOLDERS])
    assert "429" in outcome.assert_one_clean_error(6)
    assert attempts == 4  # the first try and three retries


def test_retry_after_is_honoured_up_to_a_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    from provision import client as client_module
    from provision.config import load_settings

    waits: list[float] = []
    monkeypatch.setattr(client_module.time, "sleep", waits.append)
    o2 = client_module.O2Client(load_settings(token=TOKEN, environ={}, env_file=Path("/nonexistent")), backoff=0.01)
    in_a_minute = email.utils.formatdate(time.time() + 60, usegmt=True)
    for retry_after in ("2", "3600", in_a_minute, "soon", None):
        o2._sleep(1, retry_after)
    o2.close()
    assert 2 <= waits[0] < 2.1
    assert waits[1] == waits[2] == client_module.MAX_RETRY_AFTER
    assert waits[3] < 0.1 and waits[4] < 0.1


# -- property-based: any status, headers and body as the first answer -----------------------------

bodies = st.one_of(
    st.binary(max_size=200),
    st.text(max_size=200).map(str.encode),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
        max_leaves=10,
    ).map(lambda d: json.dumps(d).encode()),
    st.sampled_from([PROXY_PAGE.encode(), f"Authorization: Basic {TOKEN}\x1b[31m".encode()]),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    status=st.sampled_from([200, 201, 204, 301, 302, 307, 308, 400, 401, 403, 404, 409, 418]),
    content_type=st.sampled_from(["application/json", "text/html", "text/plain", ""]),
    body=bodies,
)
def test_any_answer_ends_in_one_clean_line_or_a_plan(
    status: int, content_type: str, body: bytes, tmp_path: Path
) -> None:
    answer = reply(status, body, headers={"Content-Type": content_type} if content_type else {})
    with Misbehaving(lambda r: answer if r.path == FOLDERS else empty_o2(r)) as server:
        outcome = run(["plan", "--timeout", "2", HOOK], env(server), tmp_path)
    if outcome.code == 0:
        outcome.assert_clean()
        return
    outcome.assert_one_clean_error(1, 3, 4, 5, 6, 7)
