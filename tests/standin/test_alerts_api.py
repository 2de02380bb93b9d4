"""§5.1–§5.4 of the reference: v2 alert CRUD, defaults, validation order, list, enable, move."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from .helpers import (
    ROOT_EMAIL,
    alert_body,
    create_alert,
    create_destination,
    create_folder,
    create_template,
    ingest_ok,
    otlp_span,
    v2_conditions,
)

A = "/api/v2/default/alerts"
UNKNOWN_KSUID = "2wDgBqAEmEGq8mP7xwPjxlbBmIl"
MSG_ROW1 = "Alert name cannot contain ':', '#', '?', '&', '%', quotes and space characters"


def is_ksuid(s: Any) -> bool:
    return isinstance(s, str) and re.fullmatch(r"[0-9A-Za-z]{27}", s) is not None


@pytest.fixture
def ac(lclient: httpx.Client) -> httpx.Client:
    """A client on a loopback-allowed stand-in whose `default` stream exists and with destination `hook`."""
    ingest_ok(lclient, [otlp_span("seed", attrs={"tok": 5})])
    create_destination(lclient, "hook", "http://127.0.0.1:9/hook")
    return lclient


# ---------------------------------------------------------------- create / get


def test_alert_create_response(ac: httpx.Client) -> None:
    r = ac.post(A, params={"folder": "default"}, json=alert_body("slow_llm_spans"))
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"code", "message", "id", "name"}
    assert body["code"] == 200
    assert body["message"] == "Alert saved"
    assert body["name"] == "slow_llm_spans"
    assert is_ksuid(body["id"])


def test_alert_get_flat_object(ac: httpx.Client) -> None:
    aid = create_alert(ac, alert_body("flat", bogus_key=1, folder_id="nope"))
    r = ac.get(f"{A}/{aid}")
    assert r.status_code == 200
    a = r.json()
    assert a["id"] == aid
    assert a["name"] == "flat"
    assert a["org_id"] == "default"
    assert a["stream_type"] == "traces"
    assert a["stream_name"] == "default"
    assert a["is_real_time"] is False
    assert a["destinations"] == ["hook"]
    assert a["enabled"] is True
    assert a["owner"] == ROOT_EMAIL
    assert a["description"] == "d"
    assert a["query_condition"]["type"] == "custom"
    assert a["query_condition"]["conditions"]["version"] == 2
    assert a["trigger_condition"]["period"] == 10
    assert a["trigger_condition"]["frequency"] == 5
    assert a["trigger_condition"]["operator"] == ">="
    assert "bogus_key" not in a
    assert "folder_id" not in a


def test_alert_defaults(ac: httpx.Client) -> None:
    body = {
        "name": "defaults",
        "stream_type": "traces",
        "stream_name": "default",
        "query_condition": {"type": "custom", "conditions": {"and": []}},
        "destinations": ["hook"],
    }
    aid = create_alert(ac, body)
    a = ac.get(f"{A}/{aid}").json()
    assert a["enabled"] is False
    assert a["is_real_time"] is False
    tc = a["trigger_condition"]
    assert tc["frequency"] == 1
    assert tc["frequency_type"] == "minutes"
    assert tc["period"] == 0
    assert tc["threshold"] == 0
    assert tc["operator"] == "="
    assert tc["silence"] == 0
    assert tc["align_time"] is True
    assert a["row_template"] == ""
    assert a["row_template_type"] == "String"
    assert a["description"] == ""
    assert a["tz_offset"] == 0


def test_alert_body_folder_id_ignored(ac: httpx.Client) -> None:
    aid = create_alert(ac, alert_body("in_body_folder", folder_id="no_such_folder"))
    (item,) = [i for i in ac.get(A).json()["list"] if i["alert_id"] == aid]
    assert item["folder_id"] == "default"


def test_alert_names_not_unique(ac: httpx.Client) -> None:
    a = create_alert(ac, alert_body("dup"))
    b = create_alert(ac, alert_body("dup"))
    assert a != b
    names = [i["name"] for i in ac.get(A).json()["list"]]
    assert names.count("dup") == 2


def test_alert_invalid_ksuid_is_404(ac: httpx.Client) -> None:
    r = ac.get(f"{A}/x")
    assert r.status_code == 404
    assert r.json() == {"code": 404, "message": "invalid alert id x"}


def test_alert_unknown_id_is_404(ac: httpx.Client) -> None:
    r = ac.get(f"{A}/{UNKNOWN_KSUID}")
    assert r.status_code == 404
    assert r.json() == {"code": 404, "message": f"alert {UNKNOWN_KSUID} not found"}
    r = ac.put(f"{A}/{UNKNOWN_KSUID}", json=alert_body())
    assert r.status_code == 404
    assert r.json() == {"code": 404, "message": f"alert {UNKNOWN_KSUID} not found"}


def test_alert_priority_and_tags(ac: httpx.Client) -> None:
    aid = create_alert(ac, alert_body("pt", priority=3, tags=["Prod", " prod ", "Team-A"]))
    a = ac.get(f"{A}/{aid}").json()
    assert a["priority"] == 3
    assert sorted(a["tags"]) == ["prod", "team-a"]
    for bad in (0, 6, "P1"):
        r = ac.post(A, json=alert_body("pt", priority=bad))
        assert r.status_code == 422, bad


def test_alert_legacy_v1_array_becomes_and(ac: httpx.Client) -> None:
    qc = {"type": "custom", "conditions": [{"column": "duration", "operator": ">", "value": 5}]}
    aid = create_alert(ac, alert_body("legacy", query_condition=qc))
    cond = ac.get(f"{A}/{aid}").json()["query_condition"]["conditions"]
    assert list(cond) == ["and"]
    (item,) = cond["and"]
    assert (item["column"], item["operator"], item["value"]) == ("duration", ">", 5)


def test_alert_v1_tree_round_trips(ac: httpx.Client) -> None:
    tree = {
        "or": [
            {"column": "span_status", "operator": "=", "value": "ERROR"},
            {"not": {"column": "operation_name", "operator": "contains", "value": "tts"}},
        ]
    }
    aid = create_alert(ac, alert_body("tree", query_condition={"type": "custom", "conditions": tree}))
    cond = ac.get(f"{A}/{aid}").json()["query_condition"]["conditions"]
    assert list(cond) == ["or"]
    assert cond["or"][0]["column"] == "span_status"
    assert cond["or"][1]["not"]["operator"] == "contains"


def test_alert_v2_conditions_round_trip_and_empty_group_accepted(ac: httpx.Client) -> None:
    conds = v2_conditions(("duration", ">", 100), ("span_status", "=", "ERROR"))
    aid = create_alert(ac, alert_body("v2", query_condition={"type": "custom", "conditions": conds}))
    got = ac.get(f"{A}/{aid}").json()["query_condition"]["conditions"]
    assert got["version"] == 2
    assert got["conditions"]["logicalOperator"] == "AND"
    assert [c["column"] for c in got["conditions"]["conditions"]] == ["duration", "span_status"]
    empty = {"version": 2, "conditions": {"filterType": "group", "logicalOperator": "AND", "conditions": []}}
    r = ac.post(A, json=alert_body("empty", query_condition={"type": "custom", "conditions": empty}))
    assert r.status_code == 200


def test_alert_conditions_unsupported_version_is_422(ac: httpx.Client) -> None:
    conds = v2_conditions(("duration", ">", 100))
    conds["version"] = 3
    r = ac.post(A, json=alert_body("v3", query_condition={"type": "custom", "conditions": conds}))
    assert r.status_code == 422


def test_alert_condition_operator_aliases(ac: httpx.Client) -> None:
    for op in ("contains", "not_contains", "Contains", "NotContains"):
        qc = {"type": "custom", "conditions": v2_conditions(("operation_name", op, "x"))}
        assert ac.post(A, json=alert_body("ops", query_condition=qc)).status_code == 200, op


def test_alert_trigger_operator_lowercase_contains_is_422(ac: httpx.Client) -> None:
    body = alert_body("trig")
    body["trigger_condition"]["operator"] = "contains"
    r = ac.post(A, json=body)
    assert r.status_code == 422
    body["trigger_condition"]["operator"] = "Contains"
    assert ac.post(A, json=body).status_code == 200


# ---------------------------------------------------------------- §5.3 validation rows and their order

Mut = Callable[[dict[str, Any]], None]


def _set(**kv: Any) -> Mut:
    def f(b: dict[str, Any]) -> None:
        b.update(kv)

    return f


def _tc(**kv: Any) -> Mut:
    def f(b: dict[str, Any]) -> None:
        b["trigger_condition"].update(kv)

    return f


def _qc(**kv: Any) -> Mut:
    def f(b: dict[str, Any]) -> None:
        b["query_condition"].update(kv)

    return f


def _all(*fs: Mut) -> Mut:
    def f(b: dict[str, Any]) -> None:
        for g in fs:
            g(b)

    return f


AGG_BAD = {"function": "avg", "having": {"column": "duration", "operator": ">", "value": "abc"}}
AGG_OK = {"function": "avg", "having": {"column": "duration", "operator": ">", "value": 10}}

# (id, mutation, query params, status, exact message or None, message prefix or None)
ROWS: list[tuple[str, Mut, dict[str, str], int, str | None, str | None]] = [
    ("row0_folder", _set(), {"folder": "nosuch"}, 404, "Error creating alert in folder that cannot be found", None),
    ("row1_space", _set(name="bad name"), {}, 400, MSG_ROW1, None),
    ("row1_colon", _set(name="bad:name"), {}, 400, MSG_ROW1, None),
    ("row1_quote", _set(name="bad'name"), {}, 400, MSG_ROW1, None),
    ("row3_cron", _tc(frequency_type="cron", cron="not a cron"), {}, 400, None, ""),
    ("row4_empty_name", _set(name="  "), {}, 400, "Alert name is required", None),
    ("row4_empty_stream", _set(stream_name=""), {}, 400, "Alert name is required", None),
    ("row5_slash", _set(name="a/b"), {}, 400, "Alert name cannot contain '/'", None),
    ("row6_vrl", _qc(vrl_function="!!!not base64!!!"), {}, 400, None, ""),
    ("row7_template", _set(template="nosuch"), {}, 404, "Alert template nosuch not found", None),
    ("row8_no_dest", _set(destinations=[]), {}, 400, "Alert destination or workflows is required", None),
    ("row9_unknown_dest", _set(destinations=["nosuch"]), {}, 404, "Alert destination nosuch not found", None),
    ("row10_tags", _set(tags=["1bad"]), {}, 400, None, "Invalid tag: "),
    ("row11_stream", _set(stream_name="nosuchstream"), {}, 404, "Stream nosuchstream not found", None),
    (
        "row13_realtime_sql",
        _all(_set(is_real_time=True), _qc(type="sql", sql='SELECT count(*) AS n FROM "default"')),
        {},
        400,
        "Realtime alert should use Custom query type",
        None,
    ),
    (
        "row14_realtime_warning",
        _all(_set(is_real_time=True), _tc(warning_threshold=1)),
        {},
        400,
        "Warning thresholds are not supported on real-time alerts",
        None,
    ),
    (
        "row15_agg_warning",
        _all(_qc(aggregation=AGG_OK), _tc(warning_threshold=1)),
        {},
        400,
        None,
        "warning_threshold is not supported on aggregation alerts: ",
    ),
    (
        "row16_having_not_numeric",
        _qc(aggregation=AGG_BAD),
        {},
        400,
        "Invalid aggregation warning value: aggregation threshold (having.value) is not numeric",
        None,
    ),
    ("row18_sql_empty", _qc(type="sql", sql=""), {}, 400, "Alert with SQL mode should have a query", None),
    ("row18_sql_null", _qc(type="sql"), {}, 400, "Alert with SQL mode should have a query", None),
    (
        "row19_select_star",
        _qc(type="sql", sql='select  * from "default"'),
        {},
        400,
        "Alert with SQL can not contain SELECT * in the SQL query",
        None,
    ),
    ("row20_sql_unparsable", _qc(type="sql", sql="SELEC nope FROM"), {}, 500, None, "Error resolving stream names"),
    ("row21_promql", _qc(type="promql"), {}, 400, "Alert with PromQL mode should have a query", None),
    # order: the earlier row's message wins
    ("order_0_before_1", _set(name="bad name"), {"folder": "nosuch"}, 404, None, "Error creating alert in folder"),
    ("order_1_before_8", _set(name="bad name", destinations=[]), {}, 400, MSG_ROW1, None),
    ("order_1_before_4", _set(name="bad name", stream_name=""), {}, 400, MSG_ROW1, None),
    ("order_4_before_8", _set(stream_name="", destinations=[]), {}, 400, "Alert name is required", None),
    ("order_5_before_7", _set(name="a/b", template="nosuch"), {}, 400, "Alert name cannot contain '/'", None),
    ("order_7_before_8", _set(template="nosuch", destinations=[]), {}, 404, "Alert template nosuch not found", None),
    (
        "order_8_before_11",
        _set(destinations=[], stream_name="nosuchstream"),
        {},
        400,
        "Alert destination or workflows is required",
        None,
    ),
    (
        "order_9_before_11",
        _set(destinations=["nosuch"], stream_name="nosuchstream"),
        {},
        404,
        "Alert destination nosuch not found",
        None,
    ),
    ("order_10_before_11", _set(tags=["1bad"], stream_name="nosuchstream"), {}, 400, None, "Invalid tag: "),
    (
        "order_11_before_13",
        _all(_set(is_real_time=True, stream_name="nosuchstream"), _qc(type="sql", sql="SELECT 1")),
        {},
        404,
        "Stream nosuchstream not found",
        None,
    ),
    (
        "order_13_before_18",
        _all(_set(is_real_time=True), _qc(type="sql", sql="")),
        {},
        400,
        "Realtime alert should use Custom query type",
        None,
    ),
]


@pytest.mark.parametrize(
    ("mut", "params", "status", "exact", "prefix"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS]
)
def test_alert_validation_rows(
    ac: httpx.Client, mut: Mut, params: dict[str, str], status: int, exact: str | None, prefix: str | None
) -> None:
    body = alert_body("valid_name")
    mut(body)
    r = ac.post(A, params=params, json=body)
    assert r.status_code == status, r.text
    got = r.json()
    assert got["code"] == status
    if exact is not None:
        assert got["message"] == exact
    if prefix is not None:
        assert got["message"].startswith(prefix)
        assert got["message"]
    assert ac.get(A).json()["list"] == []


def test_alert_validation_row3_cron_before_row4(ac: httpx.Client) -> None:
    body = alert_body("  ")
    body["trigger_condition"].update(frequency_type="cron", cron="not a cron")
    r = ac.post(A, json=body)
    assert r.status_code == 400
    assert r.json()["message"] != "Alert name is required"


def test_alert_validation_row2_existing_id_is_409(ac: httpx.Client) -> None:
    aid = create_alert(ac, alert_body("first"))
    r = ac.post(A, json=alert_body("second", id=aid))
    assert r.status_code == 409
    assert r.json() == {"code": 409, "message": "Alert already exists"}


def test_alert_validation_row9b_pipeline_destination_is_403(ac: httpx.Client) -> None:
    r = ac.post(
        "/api/default/alerts/destinations",
        params={"module": "pipeline"},
        json={"name": "pipe", "url": "http://127.0.0.1:9/p"},
    )
    assert r.status_code == 200, r.text
    r = ac.post(A, json=alert_body("to_pipe", destinations=["pipe"]))
    assert r.status_code == 403
    assert r.json() == {"code": 403, "message": "Not support save destination pipeline type for alert so far"}


def test_alert_valid_cron_accepted(ac: httpx.Client) -> None:
    body = alert_body("cron_ok")
    body["trigger_condition"].update(frequency_type="cron", cron="0 */5 * * * *")
    assert ac.post(A, json=body).status_code == 200


def test_alert_template_override_must_exist_and_is_kept(ac: httpx.Client) -> None:
    create_template(ac, "tpl", '{"text":"{alert_name}"}')
    aid = create_alert(ac, alert_body("with_tpl", template="tpl"))
    assert ac.get(f"{A}/{aid}").json()["template"] == "tpl"


# ---------------------------------------------------------------- list


def test_alert_list_item_shape(ac: httpx.Client) -> None:
    aid = create_alert(ac, alert_body("listed", description=""))
    r = ac.get(A)
    assert r.status_code == 200
    (item,) = r.json()["list"]
    assert item["alert_id"] == aid
    assert item["name"] == "listed"
    assert item["folder_id"] == "default"
    assert item["folder_name"] == "default"
    assert item["owner"] == ROOT_EMAIL
    assert item["description"] is None
    assert item["alert_type"] == "scheduled"
    assert item["condition"]["type"] == "custom"
    assert item["condition"]["conditions"]["version"] == 2
    assert "query_condition" not in item
    assert item["trigger_condition"]["frequency"] == 5
    assert item["enabled"] is True
    assert item["is_real_time"] is False
    assert "last_triggered_at" in item
    assert "last_satisfied_at" in item


def test_alert_list_filters(ac: httpx.Client) -> None:
    ingest_ok(ac, [otlp_span("other")], stream="other")
    sched = create_alert(ac, alert_body("sched_one", enabled=False))
    rt = create_alert(ac, alert_body("realtime_one", is_real_time=True))
    other = create_alert(ac, alert_body("on_other", stream_name="other"))

    def ids(**params: Any) -> set[str]:
        r = ac.get(A, params=params)
        assert r.status_code == 200
        return {i["alert_id"] for i in r.json()["list"]}

    assert ids() == {sched, rt, other}
    assert ids(enabled="true") == {rt, other}
    assert ids(enabled="false") == {sched}
    assert ids(alert_type="realtime") == {rt}
    assert ids(alert_type="scheduled") == {sched, other}
    assert ids(alert_name_substring="one") == {sched, rt}
    assert ids(stream_type="traces", stream_name="other") == {other}
    (rt_item,) = [i for i in ac.get(A).json()["list"] if i["alert_id"] == rt]
    assert rt_item["alert_type"] == "realtime"


def test_alert_list_by_folder(ac: httpx.Client) -> None:
    fid = create_folder(ac, "Ops", folder_type="alerts")
    in_f = create_alert(ac, alert_body("in_folder"), folder=fid)
    create_alert(ac, alert_body("in_default"))
    items = ac.get(A, params={"folder": fid}).json()["list"]
    assert [i["alert_id"] for i in items] == [in_f]
    assert items[0]["folder_id"] == fid
    assert items[0]["folder_name"] == "Ops"


# ---------------------------------------------------------------- update, enable, move, delete


def test_alert_put_is_full_replace(ac: httpx.Client) -> None:
    aid = create_alert(ac, alert_body("orig", enabled=True))
    body = alert_body("renamed")
    del body["enabled"]
    body["owner"] = "someone@else.com"
    r = ac.put(f"{A}/{aid}", json=body)
    assert r.status_code == 200
    assert r.json() == {"code": 200, "message": "Alert Updated"}
    a = ac.get(f"{A}/{aid}").json()
    assert a["enabled"] is False
    assert a["name"] == "renamed"
    assert a["owner"] == ROOT_EMAIL


def test_alert_put_validates(ac: httpx.Client) -> None:
    aid = create_alert(ac, alert_body("orig"))
    r = ac.put(f"{A}/{aid}", json=alert_body("orig", destinations=[]))
    assert r.status_code == 400
    assert r.json() == {"code": 400, "message": "Alert destination or workflows is required"}


def test_alert_enable_route(ac: httpx.Client) -> None:
    aid = create_alert(ac, alert_body("en", enabled=False))
    r = ac.patch(f"{A}/{aid}/enable", params={"value": "true"})
    assert r.status_code == 200
    assert r.json() == {"enabled": True}
    assert ac.get(f"{A}/{aid}").json()["enabled"] is True
    r = ac.patch(f"{A}/{aid}/enable", params={"value": "false"})
    assert r.json() == {"enabled": False}
    assert ac.get(f"{A}/{aid}").json()["enabled"] is False


def test_alert_enable_without_value_is_400_plain_text(ac: httpx.Client) -> None:
    aid = create_alert(ac, alert_body("en"))
    r = ac.patch(f"{A}/{aid}/enable")
    assert r.status_code == 400
    assert r.text == "Failed to deserialize query string: missing field `value`"


def test_alert_move_route(ac: httpx.Client) -> None:
    fid = create_folder(ac, "Dst", folder_type="alerts")
    aid = create_alert(ac, alert_body("mv"))
    r = ac.patch(f"{A}/move", json={"alert_ids": [aid], "dst_folder_id": fid})
    assert r.status_code == 200
    assert r.json()["code"] == 200
    assert [i["alert_id"] for i in ac.get(A, params={"folder": fid}).json()["list"]] == [aid]
    assert ac.get(A, params={"folder": "default"}).json()["list"] == []


def test_alert_delete(ac: httpx.Client) -> None:
    aid = create_alert(ac, alert_body("del"))
    r = ac.delete(f"{A}/{aid}")
    assert r.status_code == 200
    assert r.json() == {"code": 200, "message": "Alert deleted"}
    assert ac.get(f"{A}/{aid}").status_code == 404
    assert ac.get(A).json()["list"] == []


def test_alert_body_id_ignored_without_overwrite_kept_with_it(ac: httpx.Client) -> None:
    r = ac.post(A, json=alert_body("given_id", id=UNKNOWN_KSUID))
    assert r.status_code == 200
    assert r.json()["id"] != UNKNOWN_KSUID
    r = ac.post(A, params={"overwrite": "true"}, json=alert_body("given_id", id=UNKNOWN_KSUID))
    assert r.status_code == 200
    assert r.json()["id"] == UNKNOWN_KSUID
    assert ac.get(f"{A}/{UNKNOWN_KSUID}").json()["name"] == "given_id"


def test_alert_bulk_delete(ac: httpx.Client) -> None:
    a, b = create_alert(ac, alert_body("a")), create_alert(ac, alert_body("b"))
    r = ac.request("DELETE", f"{A}/bulk", json={"ids": [a, b]})
    assert r.status_code == 200
    body = r.json()
    assert sorted(body["successful"]) == sorted([a, b])
    assert body["unsuccessful"] == []
    assert body["err"] is None
    assert ac.get(A).json()["list"] == []


def test_alert_bulk_enable(ac: httpx.Client) -> None:
    a, b = create_alert(ac, alert_body("a", enabled=False)), create_alert(ac, alert_body("b", enabled=False))
    r = ac.post(f"{A}/bulk/enable", params={"value": "true"}, json={"ids": [a, b]})
    assert r.status_code == 200
    body = r.json()
    assert sorted(body["successful"]) == sorted([a, b])
    assert body["unsuccessful"] == []
    assert all(ac.get(f"{A}/{i}").json()["enabled"] is True for i in (a, b))


def test_alert_optional_fields_omitted_when_unset(ac: httpx.Client) -> None:
    aid = create_alert(ac, alert_body("sparse"))
    a = ac.get(f"{A}/{aid}").json()
    for k in ("tags", "template", "context_attributes", "priority", "deduplication"):
        assert k not in a, k
    assert a["last_edited_by"] == ROOT_EMAIL
    assert isinstance(a["updated_at"], int)


def test_alert_context_attributes_keys_trimmed_empty_dropped(ac: httpx.Client) -> None:
    aid = create_alert(ac, alert_body("ctx", context_attributes={" env ": "prod", "": "x", "  ": "y"}))
    assert ac.get(f"{A}/{aid}").json()["context_attributes"] == {"env": "prod"}


def test_alert_vrl_function_normalised(ac: httpx.Client) -> None:
    def enc(s: str) -> str:
        return base64.urlsafe_b64encode(s.encode()).decode()

    def dec(s: str) -> str:
        return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)).decode()

    body = alert_body("vrl")
    body["query_condition"]["vrl_function"] = enc(".x = 1")
    aid = create_alert(ac, body)
    assert dec(ac.get(f"{A}/{aid}").json()["query_condition"]["vrl_function"]) == ".x = 1\n."
    body = alert_body("vrl_dot")
    body["query_condition"]["vrl_function"] = enc(".")
    aid = create_alert(ac, body)
    assert ac.get(f"{A}/{aid}").json()["query_condition"].get("vrl_function") is None


def test_alert_cron_cleared_unless_cron_frequency_type(ac: httpx.Client) -> None:
    body = alert_body("not_cron")
    body["trigger_condition"].update(frequency_type="minutes", cron="0 */5 * * * *")
    aid = create_alert(ac, body)
    tc = ac.get(f"{A}/{aid}").json()["trigger_condition"]
    assert tc["cron"] == ""
    assert tc["frequency_type"] == "minutes"


def test_alert_name_trimmed(ac: httpx.Client) -> None:
    r = ac.post(A, json=alert_body("  padded  "))
    assert r.status_code == 200
    assert r.json()["name"] == "padded"
    assert ac.get(f"{A}/{r.json()['id']}").json()["name"] == "padded"
