"""The CLI's output is its own: Pipecat's logging (its start-up banner first) goes to --verbose or nowhere."""

from __future__ import annotations

from tests.conftest import Cli
from tests.o2_standin import StandIn

HOOK = "--set=webhook_url=http://127.0.0.1:9/hook"
DEMO = ("demo", "--sessions", "1", "--turns", "2", "--slow", "0", "--fail", "1", HOOK)


def assert_no_pipecat(text: str) -> None:
    assert "Pipecat 1." not in text and "ᓚᘏᗢ" not in text and "| INFO" not in text and "pipecat:" not in text, text


def test_apply_bootstrap_stream_prints_only_its_own_lines(cli: Cli, o2: StandIn) -> None:
    applied = cli("apply", "--yes", "--bootstrap-stream", HOOK)
    assert applied.code == 0, applied.err
    assert "Sent one marker span so stream 'default' exists." in applied.out
    assert_no_pipecat(applied.out + applied.err)
    assert applied.err == ""


def test_demo_prints_only_its_own_lines_and_with_verbose_pipecat_speaks_on_stderr(cli: Cli, o2: StandIn) -> None:
    assert cli("apply", "--yes", "--bootstrap-stream", HOOK).code == 0
    quiet = cli(*DEMO)
    assert quiet.code == 0, quiet.err
    assert "turn 2: LLM call failed" in quiet.out
    assert_no_pipecat(quiet.out + quiet.err)
    assert quiet.err == ""

    verbose = cli(*DEMO, "--verbose")
    assert verbose.code == 0, verbose.err
    assert_no_pipecat(verbose.out)
    pipecat = [line for line in verbose.err.splitlines() if line.startswith("pipecat: ")]
    assert any("Pipecat 1." in line for line in pipecat), verbose.err  # its banner, as one line of ours
