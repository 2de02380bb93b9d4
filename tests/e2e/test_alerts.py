"""Proof 2: the alerts fire when they should, and only then.

A fresh stand-in, ``apply`` with the webhook and ``slow_turn_threshold=1``; a healthy session, the
scheduler run past the alert frequency: nothing. Then a session with one slow turn (TTFT above
``slow_turn_ms``) and a session whose first LLM call fails: the real-time failed-turn alert notifies
at ingestion, the scheduled slow-turn alert when the scheduler runs; the webhook gets exactly those
two, each naming the right session and turn.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.conftest import Webhook
from tests.e2e.conftest import (
    ORG,
    STREAM,
    Export,
    Played,
    Run,
    SessionPlan,
    api,
    cli_for,
    play,
    start_standin,
)
from tests.o2_standin import Notification, StandIn

pytestmark = pytest.mark.filterwarnings("ignore:coroutine 'AsyncAPIResponse.parse' was never awaited")

SLOW_TURN_MS = 1500  # templates/values.yaml default, passed explicitly
SLOW_TTFT_S = 2.0  # above SLOW_TURN_MS on its own
TTFT_S = 0.1
SLOW_ROW = re.compile(r"^session (\S+) turn (\d+): (\d+) ms (voice-to-voice|response) \(trace ([0-9a-f]{32})\)$")
FAILED_ROW = re.compile(r"^session (\S+) turn (\d+): (pipecat\.\S+) failed \(trace ([0-9a-f]{32})\)$")


@dataclass
class Alerting:
    server: StandIn
    hook: Webhook
    healthy: Run
    bad: Run
    healthy_outcomes: list[dict[str, Any]]
    after_healthy: list[Notification]
    at_ingestion: list[Notification]  # after the bad run's spans arrived, before the scheduler ran
    scheduled_outcomes: list[dict[str, Any]]
    notifications: list[Notification]  # after the second scheduler run
    received: list[dict[str, Any]]  # what the webhook got by then

    @property
    def slow(self) -> tuple[Played, int]:
        return self.bad.sessions[0], 2

    @property
    def failed(self) -> tuple[Played, int]:
        return self.bad.sessions[1], 1


@pytest.fixture(scope="module")
def alerting(export: Export, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Alerting]:
    server = start_standin()
    hook = Webhook()
    try:
        cli = cli_for(server, tmp_path_factory.mktemp("alerts"))
        applied = cli(
            "apply",
            "--yes",
            "--bootstrap-stream",
            "--set",
            f"webhook_url={hook.url}",
            "--set",
            "slow_turn_threshold=1",
            "--set",
            f"slow_turn_ms={SLOW_TURN_MS}",
        )
        assert applied.code == 0, applied.err

        export.to(server)
        try:
            healthy = play(export, [SessionPlan(2)], ttft=TTFT_S)
            after_healthy = list(server.notifications)
            server.clock.advance(61)  # past the 1-minute frequency: the alert's first slot is due
            healthy_outcomes = server.run_scheduler()
            assert healthy_outcomes, "the scheduler evaluated nothing"
            # Healthy means no notification at all, so the webhook must still be empty here.
            assert list(server.notifications) == [] and hook.received == []

            # Calls 1-2: session A (call 2 slow); calls 3-4: session B (call 3 fails).
            bad = play(
                export,
                [SessionPlan(2), SessionPlan(2)],
                ttft=TTFT_S,
                slow_calls=[2],
                slow_ttft=SLOW_TTFT_S,
                fail_calls=[3],
            )
        finally:
            export.release()
        at_ingestion = list(server.notifications)
        server.clock.set(time.time() + 180)  # well past the slot after the first run
        scheduled = server.run_scheduler()
        yield Alerting(
            server,
            hook,
            healthy,
            bad,
            healthy_outcomes,
            after_healthy,
            at_ingestion,
            scheduled,
            list(server.notifications),
            list(hook.received),
        )
    finally:
        hook.stop()
        server.stop()


def body(delivery: dict[str, Any]) -> dict[str, Any]:
    """The pipecat_webhook template's JSON body."""
    parsed: dict[str, Any] = json.loads(delivery["body"])
    return parsed


def turn_trace(server: StandIn, session_id: str, turn: int) -> str:
    (trace_id,) = {
        r["trace_id"]
        for r in server.records(ORG, STREAM)
        if r["operation_name"] == "pipecat.turn"
        and r.get("pipecat_session_id") == session_id
        and r.get("pipecat_turn_number") == str(turn)
    }
    return str(trace_id)


def test_healthy_traffic_notifies_nobody(alerting: Alerting) -> None:
    assert all(c.status == 200 for p in alerting.healthy.sessions for c in p.calls)
    assert alerting.after_healthy == []
    names = {o["alert_name"]: o for o in alerting.healthy_outcomes}
    assert set(names) == {"pipecat_slow_turns"}  # the only scheduled alert
    outcome = names["pipecat_slow_turns"]
    assert outcome["error"] is None
    # The evaluated window covers the healthy session, which had turns to look at, and none was slow.
    assert outcome["start_time"] <= alerting.healthy.start_us <= alerting.healthy.end_us <= outcome["end_time"] + 1
    assert (outcome["matched"], outcome["row_count"], outcome["notified"]) == (False, 0, False)


def test_failed_call_notifies_at_ingestion(alerting: Alerting) -> None:
    (note,) = alerting.at_ingestion
    assert note.alert_name == "pipecat_failed_turns"
    assert note.status_code == 200 and note.error is None
    sent = body({"body": note.body})
    assert (sent["alert"], sent["count"]) == ("pipecat_failed_turns", "1")
    session, turn = alerting.failed
    match = FAILED_ROW.match(sent["rows"])
    assert match, sent["rows"]
    assert (match.group(1), int(match.group(2))) == (session.session_id, turn)
    assert match.group(4) == turn_trace(alerting.server, session.session_id, turn)


def test_slow_turn_notifies_when_the_scheduler_runs(alerting: Alerting) -> None:
    outcome = next(o for o in alerting.scheduled_outcomes if o["alert_name"] == "pipecat_slow_turns")
    assert outcome["error"] is None
    assert outcome["start_time"] <= alerting.bad.start_us and alerting.bad.end_us <= outcome["end_time"] + 1
    assert (outcome["matched"], outcome["row_count"], outcome["notified"]) == (True, 1, True)
    new = alerting.notifications[len(alerting.at_ingestion) :]
    (note,) = new
    assert note.alert_name == "pipecat_slow_turns" and note.status_code == 200
    sent = body({"body": note.body})
    assert (sent["alert"], sent["count"]) == ("pipecat_slow_turns", "1")
    session, turn = alerting.slow
    match = SLOW_ROW.match(sent["rows"])
    assert match, sent["rows"]
    assert (match.group(1), int(match.group(2))) == (session.session_id, turn)
    assert int(match.group(3)) >= SLOW_TTFT_S * 1000
    assert match.group(4) == "voice-to-voice"  # a voice bot: the measure its turns have
    assert match.group(5) == turn_trace(alerting.server, session.session_id, turn)


def test_webhook_received_exactly_the_two_notifications(alerting: Alerting) -> None:
    got = [body(d) for d in alerting.received]
    assert [(b["alert"], b["count"]) for b in got] == [("pipecat_failed_turns", "1"), ("pipecat_slow_turns", "1")]
    assert [d["path"] for d in alerting.received] == ["/hook", "/hook"]
    assert [d.body for d in alerting.notifications] == [d["body"] for d in alerting.received]
    slow_session, slow_turn = alerting.slow
    failed_session, failed_turn = alerting.failed
    assert f"session {failed_session.session_id} turn {failed_turn}:" in got[0]["rows"]
    assert f"session {slow_session.session_id} turn {slow_turn}:" in got[1]["rows"]


def test_manual_trigger_sends_a_test_notification_with_no_rows(alerting: Alerting) -> None:
    with api(alerting.server) as client:
        listed = client.get(f"/api/v2/{ORG}/alerts").json()["list"]
        (alert_id,) = [a["alert_id"] for a in listed if a["name"] == "pipecat_slow_turns"]
        before = len(alerting.hook.received)
        response = client.patch(f"/api/v2/{ORG}/alerts/{alert_id}/trigger")
    assert response.status_code == 200, response.text
    (delivery,) = alerting.hook.received[before:]
    sent = body(delivery)
    # openobserve-api.md §5.6: the manual trigger evaluates nothing: count "0" and no rows, which
    # for our body ("rows": "{rows}", a JSON-value position, and the alert has a row_template) is [].
    assert (sent["alert"], sent["count"], sent["rows"]) == ("pipecat_slow_turns", "0", [])
