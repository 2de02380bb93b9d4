"""One `.env` reader for the CLI and the bot: a line that is not KEY=value is skipped with one warning each."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from instrumentation.config import load_config
from tests.conftest import TOKEN
from tests.o2_standin import StandIn
from tests.provision.hostile import run

HOOK = "--set=webhook_url=http://127.0.0.1:9/hook"
# Each bad line, and the hint its warning must give (never the line itself: it may hold the token).
BAD_LINES = [
    ("=====", "it has no name before the '='"),
    ("export", "'export' needs KEY=value after it"),
    ("foo bar baz", "it has no '='"),
    (f'OPENOBSERVE_AUTH_TOKEN="{TOKEN}', "an unterminated quote"),
    ("MY KEY=1", "a name cannot hold spaces"),
]


def dotenv_text(url: str, newline: str) -> str:
    lines = [f"OPENOBSERVE_URL={url}"]
    for bad, _ in BAD_LINES:
        lines += [bad, ""]  # a blank line after each: line numbers must still be right
    lines.append(f"OPENOBSERVE_AUTH_TOKEN={TOKEN}")
    return newline.join(lines) + newline


def bad_line_numbers() -> list[int]:
    return [2 + 2 * i for i in range(len(BAD_LINES))]


@pytest.fixture
def bare_environment() -> Iterator[None]:
    """No OPENOBSERVE_* variables while the test runs, whatever a .env load sets."""
    saved = dict(os.environ)
    for key in [k for k in os.environ if k.startswith(("OPENOBSERVE_", "OTEL_"))]:
        del os.environ[key]
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@pytest.mark.parametrize("newline", ["\n", "\r\n"], ids=["lf", "crlf"])
def test_the_cli_skips_each_bad_line_with_one_warning_and_reads_the_rest(
    newline: str, o2: StandIn, tmp_path: Path
) -> None:
    (tmp_path / ".env").write_bytes(dotenv_text(o2.url, newline).encode())
    outcome = run(["plan", HOOK], {}, tmp_path)
    assert outcome.code == 0, outcome.err
    assert f"O2 {o2.url}, organization default" in outcome.out  # the URL and the token came from .env
    outcome.assert_clean()
    expected = [
        f"warning: .env, line {n}: skipped, not a KEY=value line ({hint})"
        for n, (_, hint) in zip(bad_line_numbers(), BAD_LINES, strict=True)
    ]
    assert outcome.err.splitlines() == expected


def test_the_bot_reads_the_same_file_the_same_way(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, bare_environment: None
) -> None:
    (tmp_path / ".env").write_bytes(dotenv_text("http://o2.example.com:5080", "\r\n").encode())
    monkeypatch.chdir(tmp_path)
    with caplog.at_level(logging.WARNING, logger="instrumentation"):
        config = load_config()
    assert config.traces_endpoint == "http://o2.example.com:5080/api/default/v1/traces"
    assert config.authorization == f"Basic {TOKEN}"
    assert [r.getMessage() for r in caplog.records] == [
        f"{tmp_path / '.env'}, line {n}: skipped, not a KEY=value line ({hint})"
        for n, (_, hint) in zip(bad_line_numbers(), BAD_LINES, strict=True)
    ]
    assert TOKEN not in caplog.text


def test_a_token_lost_to_an_unterminated_quote_is_missing_not_printed(o2: StandIn, tmp_path: Path) -> None:
    (tmp_path / ".env").write_bytes(f'OPENOBSERVE_AUTH_TOKEN="{TOKEN}\nOPENOBSERVE_ORG=default\n'.encode())
    outcome = run(["apply", "--yes", HOOK], {"OPENOBSERVE_URL": o2.url}, tmp_path)
    assert outcome.code == 1
    outcome.assert_clean()
    assert outcome.err.splitlines() == [
        "warning: .env, line 1: skipped, not a KEY=value line (an unterminated quote)",
        "error: OPENOBSERVE_AUTH_TOKEN is not set; export it, or put it in .env (see `o2-provision init`)",
    ]
    assert o2.requests == []


def test_the_bot_refuses_a_dotenv_that_is_not_text_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bare_environment: None
) -> None:
    from instrumentation import ConfigurationError

    (tmp_path / ".env").write_bytes(b"OPENOBSERVE_URL=http://o2:5080\nOPENOBSERVE_AUTH_TOKEN=\xff\xfe\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigurationError) as raised:
        load_config()
    assert str(raised.value) == f"{tmp_path / '.env'} is not UTF-8 text (byte 0xff at offset 54)"


@pytest.mark.parametrize("command", ["render", "plan"])
def test_reading_dotenv_loads_neither_pipecat_nor_the_opentelemetry_sdk(
    command: str, o2: StandIn, tmp_path: Path
) -> None:
    (tmp_path / ".env").write_text(dotenv_text(o2.url, "\n"))
    probe = (
        "import sys\n"
        "from provision.cli import main\n"
        "try:\n    main()\nexcept SystemExit as exc:\n    code = exc.code\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'pipecat', 'loguru'})\n"
        "heavy += sorted(m for m in sys.modules if m.startswith('opentelemetry.sdk'))[:1]\n"
        "print('exit', code, 'heavy', heavy, file=sys.__stderr__)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENOBSERVE_", "OTEL_"))}
    proc = subprocess.run(
        [sys.executable, "-c", probe, command, HOOK],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.stderr.splitlines()[-1] in ("exit 0 heavy []", "exit 2 heavy []"), proc.stderr
    if command == "plan":  # render reads no connection settings
        assert "skipped, not a KEY=value line" in proc.stderr
