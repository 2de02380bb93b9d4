"""§5.6 of the reference: scheduled and real-time evaluation, firing, silence, rendering, delivery.

Every notification here is a real HTTP request to a local receiver (`Receiver`), so the stand-ins
used here allow loopback destinations (ZO_SSRF_ALLOW_LOOPBACK=true). The scheduler clock is driven
explicitly; nothing sleeps except short waits for deliveries.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from .helpers import (
    Receiver,
    alert_body,
    create_alert,
    create_destination,
    create_template,
    ingest,
    otlp_span,
    v2_conditions,
)

A = "/api/v2/default/alerts"
TEXT_TEMPLATE = "alert={alert_name};count={alert_count};stream={stream_name};type={alert_type};rows={rows}"


@dataclass
class Env:
    client: httpx.Client
    standin: Any
    receiver: Receiver
    t0: int  # scheduler clock at start: the top of the current hour, epoch seconds

    def at(self, offset_s: int) -> int:
        return (self.t0 + offset_s) * 1_000_000_000

    def ingest(self, *spans: dict[str, Any]) -> None:
        r = ingest(self.client, list(spans))
        assert r.status_code == 200, r.text

    def run(self) -> None:
        self.standin.run_scheduler()

    def bodies(self) -> list[str]:
        return [x.body for x in self.receiver.received]

    # The stand-in delivers a notification before `run()` (or the ingest that fired it) returns, and the receiver
    # records it before answering: what was sent is all there by then, no later extra can come.
    def wait(self, n: int) -> list[str]:
        """The deliveries once n arrived (or the receiver's deadline passed)."""
        self.receiver.wait_for(n)
        return self.bodies()

    def quiet(self) -> list[str]:
        """The deliveries so far: for asserting that nothing (more) was sent."""
        return self.bodies()


def fields(body: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in body.split(";"))


@pytest.fixture
def env(lclient: httpx.Client, lstandin: Any, receiver: Receiver) -> Env:
    t0 = (int(time.time()) // 3600) * 3600
    lstandin.clock.set(t0)
    create_template(lclient, "tpl", TEXT_TEMPLATE)
    create_destination(lclient, "hook", receiver.url + "/hook", template="tpl")
    # the stream must exist before an alert can be saved on it (§5.3 row 11)
    e = Env(lclient, lstandin, receiver, t0)
    e.ingest(otlp_span("seed", start_ns=e.at(-3000), attrs={"pipecat.voice_to_voice_ms": 1}))
    return e


def v2v_span(env: Env, name: str, ms: int, offset_s: int = -120) -> dict[str, Any]:
    return otlp_span(name, start_ns=env.at(offset_s), attrs={"pipecat.voice_to_voice_ms": ms})


def custom(
    name: str, *conds: tuple[str, str, Any], threshold: int = 1, operator: str = ">=", **over: Any
) -> dict[str, Any]:
    tc = {
        "period": 10,
        "operator": operator,
        "threshold": threshold,
        "frequency": 1,
        "frequency_type": "minutes",
        "silence": 0,
    }
    tc.update(over.pop("trigger", {}))
    return alert_body(
        name,
        query_condition={"type": "custom", "conditions": v2_conditions(*conds)},
        trigger_condition=tc,
        row_template=over.pop("row_template", "{operation_name}"),
        **over,
    )


def sql_alert(name: str, sql: str, **over: Any) -> dict[str, Any]:
    body = custom(name, **over)
    body["query_condition"] = {"type": "sql", "sql": sql}
    return body


# ---------------------------------------------------------------- string vs numeric comparison


def test_eval_string_attribute_greater_than_is_lexicographic_but_cast_sql_fires(env: Env) -> None:
    env.ingest(v2v_span(env, "slow_turn", 1200))
    create_alert(env.client, custom("custom_gt", ("pipecat_voice_to_voice_ms", ">", 800)))
    create_alert(
        env.client,
        sql_alert(
            "sql_cast",
            'SELECT operation_name, pipecat_voice_to_voice_ms FROM "default" '
            "WHERE CAST(pipecat_voice_to_voice_ms AS BIGINT) > 800",
        ),
    )
    env.run()
    bodies = env.wait(1)
    assert len(bodies) == 1, bodies
    f = fields(bodies[0])
    assert f["alert"] == "sql_cast"
    assert f["count"] == "1"
    assert f["rows"] == "slow_turn"
    assert [n.alert_name for n in env.standin.notifications] == ["sql_cast"]


def test_eval_string_attribute_matches_lexicographically_larger_strings(env: Env) -> None:
    # '900' > '800' is true as strings, '1200' > '800' is not
    env.ingest(v2v_span(env, "t1200", 1200), v2v_span(env, "t900", 900))
    create_alert(env.client, custom("lexi", ("pipecat_voice_to_voice_ms", ">", 800)))
    env.run()
    (body,) = env.wait(1)
    f = fields(body)
    assert f["alert"] == "lexi"
    assert f["count"] == "1"
    assert f["rows"] == "t900"


def test_eval_duration_compares_numerically(env: Env) -> None:
    env.ingest(
        otlp_span("slow", start_ns=env.at(-120), duration_us=1_200_000),
        otlp_span("fast", start_ns=env.at(-110), duration_us=900_000),
    )
    create_alert(env.client, custom("dur", ("duration", ">", 1_000_000)))
    env.run()
    (body,) = env.wait(1)
    f = fields(body)
    assert f["count"] == "1"  # lexicographically '900000' > '1000000' would make it 2
    assert f["rows"] == "slow"


# ---------------------------------------------------------------- threshold and row count


def test_eval_threshold_counts_rows(env: Env) -> None:
    env.ingest(*(otlp_span(f"err{i}", start_ns=env.at(-100 - i), status={"code": 2}) for i in range(3)))
    create_alert(env.client, custom("three", ("span_status", "=", "ERROR"), threshold=3, operator=">="))
    create_alert(env.client, custom("four", ("span_status", "=", "ERROR"), threshold=4, operator=">="))
    create_alert(env.client, custom("gt_two", ("span_status", "=", "ERROR"), threshold=2, operator=">"))
    env.run()
    bodies = env.wait(2)
    got = {fields(b)["alert"]: fields(b) for b in bodies}
    assert set(got) == {"three", "gt_two"}
    assert got["three"]["count"] == "3"
    assert sorted(got["three"]["rows"].split("\\n")) == ["err0", "err1", "err2"]


def test_eval_sql_alert_counts_groups_not_values(env: Env) -> None:
    env.ingest(*(otlp_span(f"e{i}", start_ns=env.at(-100 - i), status={"code": 2}) for i in range(5)))
    sql = "SELECT service_name, count(*) AS cnt FROM \"default\" WHERE span_status='ERROR' GROUP BY service_name"
    create_alert(env.client, sql_alert("groups_ge_2", sql, threshold=2))
    create_alert(env.client, sql_alert("groups_ge_1", sql, threshold=1, row_template="{service_name}:{cnt}"))
    env.run()
    bodies = env.wait(1)
    assert len(bodies) == 1
    f = fields(bodies[0])
    assert f["alert"] == "groups_ge_1"
    assert f["count"] == "1"
    assert f["rows"] == "bot:5"


def test_eval_zero_rows_never_notify_even_if_condition_matches(env: Env) -> None:
    create_alert(env.client, custom("eq_zero", ("operation_name", "=", "nothing"), threshold=0, operator="="))
    create_alert(env.client, custom("lt_one", ("operation_name", "=", "nothing"), threshold=1, operator="<"))
    env.run()
    assert env.quiet() == []
    assert env.standin.notifications == []


def test_eval_window_is_the_period(env: Env) -> None:
    env.ingest(v2v_span(env, "inside", 1, offset_s=-120), v2v_span(env, "outside", 1, offset_s=-1200))
    create_alert(env.client, custom("win", ("operation_name", "!=", "seed")))
    env.run()
    (body,) = env.wait(1)
    assert fields(body)["rows"] == "inside"


def test_eval_empty_condition_group_is_volume_alert(env: Env) -> None:
    env.ingest(v2v_span(env, "a", 1), v2v_span(env, "b", 1, offset_s=-130))
    create_alert(env.client, custom("volume", threshold=2))
    env.run()
    (body,) = env.wait(1)
    assert fields(body)["count"] == "2"


def test_eval_contains_condition(env: Env) -> None:
    env.ingest(v2v_span(env, "llm_call", 1), v2v_span(env, "tts_call", 1, offset_s=-130))
    create_alert(env.client, custom("has_llm", ("operation_name", "contains", "llm")))
    env.run()
    (body,) = env.wait(1)
    assert fields(body)["rows"] == "llm_call"


# ---------------------------------------------------------------- scheduling


def test_eval_disabled_alert_not_evaluated_until_enabled(env: Env) -> None:
    env.ingest(v2v_span(env, "x", 1))
    aid = create_alert(env.client, custom("off", ("operation_name", "=", "x"), enabled=False))
    env.run()
    assert env.quiet() == []
    r = env.client.patch(f"{A}/{aid}/enable", params={"value": "true"})
    assert r.status_code == 200
    env.run()  # enabling sets next_run_at = now
    assert len(env.wait(1)) == 1


def test_eval_frequency_sets_next_run(env: Env) -> None:
    env.ingest(v2v_span(env, "x", 1))
    create_alert(env.client, custom("every5", ("operation_name", "=", "x"), trigger={"frequency": 5, "period": 30}))
    env.run()
    assert len(env.wait(1)) == 1
    env.standin.clock.advance(240)
    env.run()
    assert len(env.quiet()) == 1
    env.standin.clock.advance(60)
    env.run()
    assert len(env.wait(2)) == 2


def test_eval_align_time_floors_next_run_to_frequency(env: Env) -> None:
    env.ingest(v2v_span(env, "x", 1))
    env.standin.clock.set(env.t0 + 130)  # minute 2, second 10
    create_alert(env.client, custom("aligned", ("operation_name", "=", "x"), trigger={"frequency": 5, "period": 30}))
    env.run()
    assert len(env.wait(1)) == 1
    # next = 130 s + 5 min = minute 7:10, floored to a multiple of 5 minutes -> minute 5:00
    env.standin.clock.set(env.t0 + 299)
    env.run()
    assert len(env.quiet()) == 1
    env.standin.clock.set(env.t0 + 300)
    env.run()
    assert len(env.wait(2)) == 2


def test_eval_silence_suspends_evaluation(env: Env) -> None:
    env.ingest(v2v_span(env, "x", 1))
    create_alert(
        env.client,
        custom("quiet", ("operation_name", "=", "x"), trigger={"frequency": 1, "period": 30, "silence": 10}),
    )
    env.run()
    assert len(env.wait(1)) == 1
    for _ in range(9):  # minutes 1..9: silenced, no evaluation
        env.standin.clock.advance(60)
        env.run()
    assert len(env.quiet()) == 1
    env.standin.clock.advance(60)  # minute 10: max(frequency, silence) has passed
    env.run()
    assert len(env.wait(2)) == 2


def test_eval_no_silence_fires_every_frequency(env: Env) -> None:
    env.ingest(v2v_span(env, "x", 1))
    create_alert(env.client, custom("loud", ("operation_name", "=", "x"), trigger={"frequency": 1, "period": 30}))
    for _ in range(3):
        env.run()
        env.standin.clock.advance(60)
    assert len(env.wait(3)) == 3


def test_eval_scheduler_http_hook_advances_clock(env: Env) -> None:
    env.ingest(v2v_span(env, "x", 1))
    create_alert(env.client, custom("hooked", ("operation_name", "=", "x"), trigger={"frequency": 5, "period": 30}))
    r = env.client.post("/_standin/scheduler/run")
    assert r.status_code == 200
    assert len(env.wait(1)) == 1
    r = env.client.post("/_standin/scheduler/run", params={"advance_seconds": 300})
    assert r.status_code == 200
    assert env.standin.clock.now_us() == (env.t0 + 300) * 1_000_000
    assert len(env.wait(2)) == 2


# ---------------------------------------------------------------- real-time


def _realtime(name: str, *conds: tuple[str, str, Any], **over: Any) -> dict[str, Any]:
    return custom(name, *conds, is_real_time=True, **over)


def test_eval_realtime_fires_at_most_once_per_request(env: Env) -> None:
    create_alert(env.client, _realtime("rt", ("operation_name", "=", "hit")))
    env.ingest(*(v2v_span(env, "hit", i, offset_s=-10 - i) for i in range(3)), v2v_span(env, "miss", 1))
    bodies = env.wait(1)
    assert len(bodies) == 1
    f = fields(bodies[0])
    assert f["alert"] == "rt"
    assert f["count"] == "1"
    assert f["rows"] == "hit"
    assert f["type"] == "realtime"


def test_eval_realtime_silenced_30s_after_send(env: Env) -> None:
    create_alert(env.client, _realtime("rt", ("operation_name", "=", "hit")))
    env.ingest(v2v_span(env, "hit", 1, offset_s=-5))
    assert len(env.wait(1)) == 1
    env.ingest(v2v_span(env, "hit", 2, offset_s=-4))
    assert len(env.quiet()) == 1
    env.standin.clock.advance(31)
    env.ingest(v2v_span(env, "hit", 3, offset_s=-3))
    assert len(env.wait(2)) == 2


def test_eval_realtime_numbers_compare_as_f64(env: Env) -> None:
    # real-time matching parses the stored string: '1200' > 800 numerically
    create_alert(env.client, _realtime("rt_num", ("pipecat_voice_to_voice_ms", ">", 800)))
    env.ingest(v2v_span(env, "big", 1200, offset_s=-5))
    (body,) = env.wait(1)
    assert fields(body)["rows"] == "big"


def test_eval_realtime_disabled_or_missing_column_does_not_fire(env: Env) -> None:
    create_alert(env.client, _realtime("rt_off", ("operation_name", "=", "hit"), enabled=False))
    create_alert(env.client, _realtime("rt_missing", ("no_such_column", "=", "hit")))
    env.ingest(v2v_span(env, "hit", 1, offset_s=-5))
    assert env.quiet() == []


def test_eval_realtime_not_run_by_scheduler(env: Env) -> None:
    env.ingest(v2v_span(env, "hit", 1, offset_s=-5))
    create_alert(env.client, _realtime("rt", ("operation_name", "=", "hit")))
    env.run()
    assert env.quiet() == []


# ---------------------------------------------------------------- manual trigger


def test_eval_manual_trigger_sends_at_once_with_no_rows(env: Env) -> None:
    aid = create_alert(env.client, custom("manual", ("operation_name", "=", "x"), enabled=False))
    r = env.client.patch(f"{A}/{aid}/trigger")
    assert r.status_code == 200
    assert r.json() == {"code": 200, "message": "Alert triggered"}
    (body,) = env.wait(1)
    f = fields(body)
    assert f["alert"] == "manual"
    assert f["count"] == "0"
    assert f["rows"] == ""


def test_eval_manual_trigger_rows_in_json_position_is_empty_array(env: Env, receiver: Receiver) -> None:
    create_template(env.client, "json_tpl", '{"alert":"{alert_name}","rows":"{rows}"}')
    create_destination(env.client, "jhook", receiver.url + "/j", template="json_tpl")
    aid = create_alert(
        env.client,
        custom(
            "manual_json",
            ("operation_name", "=", "x"),
            destinations=["jhook"],
            row_template='{"op":"{operation_name}"}',
            row_template_type="Json",
        ),
    )
    assert env.client.patch(f"{A}/{aid}/trigger").status_code == 200
    (body,) = env.wait(1)
    assert json.loads(body) == {"alert": "manual_json", "rows": []}


def test_eval_manual_trigger_all_destinations_fail_is_500(env: Env) -> None:
    create_destination(env.client, "dead", "http://127.0.0.1:9/nothing-listens-here", template="tpl")
    aid = create_alert(env.client, custom("to_dead", ("operation_name", "=", "x"), destinations=["dead"]))
    r = env.client.patch(f"{A}/{aid}/trigger")
    assert r.status_code == 500
    assert r.text


# ---------------------------------------------------------------- rendering and delivery


def test_eval_notification_is_real_http_post(env: Env, receiver: Receiver) -> None:
    create_destination(
        env.client, "hdr", receiver.url + "/with/path?x=1", template="tpl", headers={"X-Token": "sekret"}
    )
    env.ingest(v2v_span(env, "x", 1))
    create_alert(env.client, custom("http", ("operation_name", "=", "x"), destinations=["hdr"]))
    env.run()
    receiver.wait_for(1)
    (req,) = receiver.received
    assert req.method == "POST"
    assert req.path == "/with/path?x=1"
    assert req.headers["content-type"] == "application/json"
    assert req.headers["x-token"] == "sekret"
    assert fields(req.body)["alert"] == "http"
    (n,) = env.standin.notifications
    assert n.alert_name == "http"
    assert n.destination == "hdr"
    assert n.method.lower() == "post"
    assert n.body == req.body
    assert n.status_code == 200


def test_eval_destination_method_put(env: Env, receiver: Receiver) -> None:
    create_destination(env.client, "puthook", receiver.url + "/p", template="tpl", method="put")
    env.ingest(v2v_span(env, "x", 1))
    create_alert(env.client, custom("put", ("operation_name", "=", "x"), destinations=["puthook"]))
    env.run()
    receiver.wait_for(1)
    assert [r.method for r in receiver.received] == ["PUT"]


def test_eval_placeholders_filled(env: Env, receiver: Receiver) -> None:
    body = (
        '{"alert":"{alert_name}","stream":"{stream_name}","stype":"{stream_type}","atype":"{alert_type}",'
        '"count":"{alert_count}","period":"{alert_period}","op":"{alert_operator}","thr":"{alert_threshold}",'
        '"rows":"{rows}"}'
    )
    create_template(env.client, "ph", body)
    create_destination(env.client, "phhook", receiver.url + "/ph", template="ph")
    env.ingest(v2v_span(env, "a", 1), v2v_span(env, "b", 1, offset_s=-130))
    create_alert(
        env.client,
        custom("ph_alert", ("operation_name", "!=", "seed"), destinations=["phhook"], threshold=1),
    )
    env.run()
    receiver.wait_for(1)
    (req,) = receiver.received
    got = json.loads(req.body)
    rows = got.pop("rows")
    assert got == {
        "alert": "ph_alert",
        "stream": "default",
        "stype": "traces",
        "atype": "scheduled",
        "count": "2",
        "period": "10",
        "op": ">=",
        "thr": "1",
    }
    # String rows are escaped and joined by the two characters backslash-n
    assert sorted(rows.split("\n")) == ["a", "b"]


def test_eval_column_values_are_json_escaped(env: Env, receiver: Receiver) -> None:
    create_template(env.client, "esc", '{"op":"{operation_name}","alert":"{alert_name}"}')
    create_destination(env.client, "eschook", receiver.url + "/esc", template="esc")
    tricky = 'say "hi"\\ok'
    env.ingest(otlp_span(tricky, start_ns=env.at(-120)))
    create_alert(env.client, custom("esc_alert", ("operation_name", "contains", "say"), destinations=["eschook"]))
    env.run()
    receiver.wait_for(1)
    (req,) = receiver.received
    assert json.loads(req.body) == {"op": tricky, "alert": "esc_alert"}


def test_eval_json_rows_become_real_array(env: Env, receiver: Receiver) -> None:
    create_template(env.client, "jrows", '{"alert":"{alert_name}","rows":"{rows}"}')
    create_destination(env.client, "jrhook", receiver.url + "/jr", template="jrows")
    env.ingest(otlp_span("only", start_ns=env.at(-120), duration_us=1234))
    create_alert(
        env.client,
        custom(
            "jr",
            ("operation_name", "=", "only"),
            destinations=["jrhook"],
            row_template='{"op":"{operation_name}","d":{duration}}',
            row_template_type="Json",
        ),
    )
    env.run()
    receiver.wait_for(1)
    (req,) = receiver.received
    assert json.loads(req.body) == {"alert": "jr", "rows": [{"op": "only", "d": 1234}]}


def test_eval_empty_row_template_renders_empty_rows(env: Env) -> None:
    env.ingest(v2v_span(env, "x", 1))
    create_alert(env.client, custom("norows", ("operation_name", "=", "x"), row_template=""))
    env.run()
    (body,) = env.wait(1)
    assert fields(body)["rows"] == ""
    assert fields(body)["count"] == "1"


def test_eval_alert_template_overrides_destination_template(env: Env, receiver: Receiver) -> None:
    create_template(env.client, "override", "OVERRIDE {alert_name}")
    env.ingest(v2v_span(env, "x", 1))
    create_alert(env.client, custom("ovr", ("operation_name", "=", "x"), template="override"))
    env.run()
    assert env.wait(1) == ["OVERRIDE ovr"]


def test_eval_failed_delivery_recorded(env: Env, receiver: Receiver) -> None:
    receiver.status = 500
    env.ingest(v2v_span(env, "x", 1))
    create_alert(env.client, custom("fails", ("operation_name", "=", "x")))
    env.run()
    receiver.wait_for(1)
    assert len(receiver.received) >= 1
    assert env.standin.notifications[0].status_code == 500


# ---------------------------------------------------------------- more condition shapes


def _cond(column: str, op: str, value: Any, logical: str, **kw: Any) -> dict[str, Any]:
    return {
        "filterType": "condition",
        "column": column,
        "operator": op,
        "value": value,
        "logicalOperator": logical,
        **kw,
    }


def test_eval_v2_logical_operators_and_before_or(env: Env) -> None:
    # items [a(AND), b(OR), dur(AND)] render as  a OR b AND dur  ==  a OR (b AND dur)
    env.ingest(
        otlp_span("a", start_ns=env.at(-100), duration_us=1000),
        otlp_span("b", start_ns=env.at(-101), duration_us=1000),
        otlp_span("b_slow", start_ns=env.at(-102), duration_us=9000),
    )
    conds = {
        "version": 2,
        "conditions": {
            "filterType": "group",
            "logicalOperator": "AND",
            "conditions": [
                _cond("operation_name", "=", "a", "AND"),
                _cond("operation_name", "contains", "b", "OR"),
                _cond("duration", ">", 5000, "AND"),
            ],
        },
    }
    body = custom("prec")
    body["query_condition"]["conditions"] = conds
    create_alert(env.client, body)
    env.run()
    (got,) = env.wait(1)
    assert sorted(fields(got)["rows"].split("\\n")) == ["a", "b_slow"]


def test_eval_not_contains_condition(env: Env) -> None:
    env.ingest(v2v_span(env, "llm_call", 1), v2v_span(env, "tts_call", 1, offset_s=-130))
    create_alert(
        env.client, custom("no_llm", ("operation_name", "not_contains", "llm"), ("operation_name", "!=", "seed"))
    )
    env.run()
    (body,) = env.wait(1)
    assert fields(body)["rows"] == "tts_call"


def test_eval_null_conditions_never_fire(env: Env) -> None:
    env.ingest(v2v_span(env, "x", 1))
    body = custom("nullcond")
    body["query_condition"]["conditions"] = None
    create_alert(env.client, body)
    env.run()
    assert env.quiet() == []


def test_eval_v1_tree_conditions(env: Env) -> None:
    env.ingest(v2v_span(env, "keep", 1), v2v_span(env, "drop", 1, offset_s=-130))
    body = custom("v1tree")
    body["query_condition"]["conditions"] = {
        "and": [
            {"column": "operation_name", "operator": "!=", "value": "seed"},
            {"not": {"column": "operation_name", "operator": "=", "value": "drop"}},
        ]
    }
    create_alert(env.client, body)
    env.run()
    (got,) = env.wait(1)
    assert fields(got)["rows"] == "keep"


def test_eval_aggregation_alert(env: Env) -> None:
    env.ingest(
        otlp_span("a", start_ns=env.at(-100), duration_us=2000),
        otlp_span("b", start_ns=env.at(-101), duration_us=4000),
    )
    for name, limit in (("avg_gt_1000", 1000), ("avg_gt_5000", 5000)):
        body = custom(name, ("operation_name", "!=", "seed"), row_template="{service_name}")
        body["query_condition"]["aggregation"] = {
            "group_by": ["service_name"],
            "function": "avg",
            "having": {"column": "duration", "operator": ">", "value": limit},
        }
        create_alert(env.client, body)
    env.run()
    bodies = env.wait(1)
    assert len(bodies) == 1
    f = fields(bodies[0])
    assert f["alert"] == "avg_gt_1000"
    assert f["count"] == "1"
    assert f["rows"] == "bot"


def test_eval_realtime_v2_ignore_case(env: Env) -> None:
    body = _realtime("rt_ci")
    body["query_condition"]["conditions"] = {
        "version": 2,
        "conditions": {
            "filterType": "group",
            "logicalOperator": "AND",
            "conditions": [_cond("operation_name", "=", "HIT", "AND", ignore_case=True)],
        },
    }
    create_alert(env.client, body)
    env.ingest(v2v_span(env, "hit", 1, offset_s=-5))
    (got,) = env.wait(1)
    assert fields(got)["alert"] == "rt_ci"


def test_eval_context_attributes_metadata_and_unset_placeholders(env: Env, receiver: Receiver) -> None:
    create_template(
        env.client, "ctx_tpl", "env={env};team={team};prio={alert_priority};tags={alert_tags};desc={alert_description}"
    )
    create_destination(env.client, "meta", receiver.url + "/m", template="ctx_tpl", metadata={"team": "voice"})
    env.ingest(v2v_span(env, "x", 1))
    create_alert(
        env.client,
        custom(
            "ctx_alert",
            ("operation_name", "=", "x"),
            destinations=["meta"],
            context_attributes={"env": "prod"},
            description="latency",
        ),
    )
    env.run()
    (body,) = env.wait(1)
    assert fields(body) == {"env": "prod", "team": "voice", "prio": "", "tags": "", "desc": "latency"}


def test_eval_silence_starts_on_match_even_without_notification(env: Env) -> None:
    # '>= 0' matches with zero rows: nothing is sent, but the 10-minute silence starts
    create_alert(
        env.client,
        custom("ge_zero", ("operation_name", "=", "late"), threshold=0, trigger={"period": 30, "silence": 10}),
    )
    env.run()
    assert env.quiet() == []
    env.ingest(v2v_span(env, "late", 1, offset_s=30))
    env.standin.clock.set(env.t0 + 60)
    env.run()  # silenced: not evaluated although a row would now be found
    assert env.quiet() == []
    env.standin.clock.set(env.t0 + 600)
    env.run()
    (body,) = env.wait(1)
    assert fields(body)["rows"] == "late"


def test_eval_late_run_evaluates_only_latest_slot(env: Env) -> None:
    env.ingest(v2v_span(env, "x", 1))
    create_alert(env.client, custom("late_run", ("operation_name", "=", "x"), trigger={"period": 30}))
    env.run()
    assert len(env.wait(1)) == 1
    env.standin.clock.advance(300)  # five 1-minute slots were missed
    env.run()
    assert len(env.wait(2)) == 2
    assert len(env.quiet()) == 2


def test_eval_trigger_time_is_scheduler_clock(env: Env, receiver: Receiver) -> None:
    create_template(env.client, "tt", "t={alert_trigger_time};s={alert_trigger_time_seconds}")
    create_destination(env.client, "tthook", receiver.url + "/tt", template="tt")
    env.ingest(v2v_span(env, "x", 1))
    create_alert(env.client, custom("tt_alert", ("operation_name", "=", "x"), destinations=["tthook"]))
    env.run()
    (body,) = env.wait(1)
    assert fields(body) == {"t": str(env.t0 * 1_000_000), "s": str(env.t0)}


def test_eval_realtime_silence_uses_alert_silence_minutes(env: Env) -> None:
    create_alert(env.client, _realtime("rt_s2", ("operation_name", "=", "hit"), trigger={"silence": 2}))
    env.ingest(v2v_span(env, "hit", 1, offset_s=-5))
    assert len(env.wait(1)) == 1
    env.standin.clock.advance(60)
    env.ingest(v2v_span(env, "hit", 2, offset_s=-4))
    assert len(env.quiet()) == 1  # max(2 min, 30 s) not yet over
    env.standin.clock.advance(61)
    env.ingest(v2v_span(env, "hit", 3, offset_s=-3))
    assert len(env.wait(2)) == 2


def test_eval_sql_alert_on_a_column_no_record_has_records_o2s_error_and_never_notifies(env: Env) -> None:
    """A missing column fails the whole evaluation; the scheduler records O2's text for the error."""
    env.ingest(v2v_span(env, "slow_turn", 5000))
    create_alert(
        env.client,
        sql_alert("stt", 'SELECT trace_id FROM "default" WHERE CAST(pipecat_stt_ms AS BIGINT) > 1', threshold=1),
    )
    (outcome,) = env.standin.run_scheduler()
    error = outcome["error"]
    assert error.startswith("Search field not found: No field named pipecat_stt_ms. Valid fields are ")
    # O2 writes "{message} {inner}", and the message embeds the inner text: it appears twice
    assert error.count("No field named pipecat_stt_ms.") == 2
    assert (outcome["matched"], outcome["notified"]) == (False, False)
    items = env.client.get(A).json()["list"]
    assert [i["last_outcome"] for i in items if i["name"] == "stt"] == ["error"]
    assert env.quiet() == []
