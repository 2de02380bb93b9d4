"""§3 of the reference: POST /api/{org}/_search over an ingested traces stream."""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime
from typing import Any

import httpx

from .helpers import ingest_ok, otlp_span, search

MIN_US = 60_000_000


def base_us() -> int:
    """A minute boundary about 30 minutes ago, in µs."""
    return (time.time_ns() // 1000 // MIN_US - 30) * MIN_US


def at(ts_us: int, name: str, **kw: Any) -> dict[str, Any]:
    return otlp_span(name, start_ns=ts_us * 1000, **kw)


def iso(ts_us: int) -> str:
    return datetime.fromtimestamp(ts_us / 1e6, UTC).strftime("%Y-%m-%dT%H:%M:%S")


def test_search_needs_type_traces(client: httpx.Client) -> None:
    b = base_us()
    ingest_ok(client, [at(b, "a")])
    r = search(client, 'SELECT operation_name FROM "default"', b - MIN_US, b + MIN_US, type_=None)
    assert r.status_code == 400
    body = r.json()
    assert body["code"] == 20002
    assert body["message"] == "Search stream not found: default"
    r = search(client, 'SELECT operation_name FROM "default"', b - MIN_US, b + MIN_US)
    assert r.status_code == 200
    assert [h["operation_name"] for h in r.json()["hits"]] == ["a"]


def test_search_unknown_stream_is_20002(client: httpx.Client) -> None:
    b = base_us()
    ingest_ok(client, [at(b, "a")])
    r = search(client, 'SELECT operation_name FROM "nosuchstream"', b - MIN_US, b + MIN_US)
    assert r.status_code == 400
    assert r.json()["code"] == 20002


def test_search_time_range_is_half_open_microseconds(client: httpx.Client) -> None:
    b = base_us()
    ingest_ok(client, [at(b, "t0"), at(b + MIN_US, "t1"), at(b + 2 * MIN_US, "t2")])
    sql = 'SELECT operation_name FROM "default"'
    r = search(client, sql, b, b + 2 * MIN_US)
    assert r.status_code == 200
    assert sorted(h["operation_name"] for h in r.json()["hits"]) == ["t0", "t1"]
    r = search(client, sql, b + 1, b + 2 * MIN_US + 1)
    assert sorted(h["operation_name"] for h in r.json()["hits"]) == ["t1", "t2"]
    # milliseconds instead of µs finds nothing
    r = search(client, sql, b // 1000, (b + 3 * MIN_US) // 1000)
    assert r.status_code == 200
    assert r.json()["hits"] == []


def test_search_histogram_one_minute_buckets(client: httpx.Client) -> None:
    b = base_us()
    ingest_ok(client, [at(b + 10_000_000, "a"), at(b + 20_000_000, "b"), at(b + 70_000_000, "c")])
    r = search(
        client,
        "SELECT histogram(_timestamp,'1 minute') AS ts, count(*) AS n FROM \"default\" GROUP BY ts ORDER BY ts",
        b,
        b + 5 * MIN_US,
    )
    assert r.status_code == 200, r.text
    assert r.json()["hits"] == [{"ts": iso(b), "n": 2}, {"ts": iso(b + MIN_US), "n": 1}]


def test_search_histogram_bare_number_interval_is_20001(client: httpx.Client) -> None:
    b = base_us()
    ingest_ok(client, [at(b, "a")])
    r = search(
        client,
        "SELECT histogram(_timestamp,'60') AS ts, count(*) AS n FROM \"default\" GROUP BY ts",
        b - MIN_US,
        b + MIN_US,
    )
    assert r.status_code == 400
    body = r.json()
    assert body["code"] == 20001
    assert body["message"] == "Search SQL not valid"
    assert body["error_detail"] == "Invalid histogram interval: 60"


def test_search_str_match_is_case_sensitive_substring(client: httpx.Client) -> None:
    b = base_us()
    ingest_ok(client, [at(b, "llm_call"), at(b + 1, "LLM_other"), at(b + 2, "tts")])
    lo, hi = b - MIN_US, b + MIN_US
    r = search(client, "SELECT operation_name FROM \"default\" WHERE str_match(operation_name, 'llm')", lo, hi)
    assert r.status_code == 200, r.text
    assert [h["operation_name"] for h in r.json()["hits"]] == ["llm_call"]
    r = search(
        client,
        "SELECT operation_name FROM \"default\" WHERE str_match_ignore_case(operation_name, 'llm')",
        lo,
        hi,
    )
    assert sorted(h["operation_name"] for h in r.json()["hits"]) == ["LLM_other", "llm_call"]


def test_search_re_match(client: httpx.Client) -> None:
    b = base_us()
    ingest_ok(client, [at(b, "llm_call"), at(b + 1, "tts"), at(b + 2, "stt")])
    r = search(
        client,
        "SELECT operation_name FROM \"default\" WHERE re_match(operation_name, '^[st]t[st]$')",
        b - MIN_US,
        b + MIN_US,
    )
    assert r.status_code == 200, r.text
    assert sorted(h["operation_name"] for h in r.json()["hits"]) == ["stt", "tts"]


def test_search_default_order_by_timestamp_desc_and_timestamp_added(client: httpx.Client) -> None:
    b = base_us()
    ingest_ok(client, [at(b + 2_000_000, "second"), at(b + 1_000_000, "first"), at(b + 3_000_000, "third")])
    r = search(client, 'SELECT operation_name FROM "default"', b, b + MIN_US)
    assert r.status_code == 200
    body = r.json()
    assert [h["operation_name"] for h in body["hits"]] == ["third", "second", "first"]
    assert [h["_timestamp"] for h in body["hits"]] == [b + 3_000_000, b + 2_000_000, b + 1_000_000]
    assert body["order_by"] == "desc"
    assert body["order_by_metadata"] == [["_timestamp", "desc"]]


def test_search_explicit_order_by_kept(client: httpx.Client) -> None:
    b = base_us()
    ingest_ok(client, [at(b + 2, "b"), at(b + 1, "c"), at(b + 3, "a")])
    r = search(client, 'SELECT operation_name FROM "default" ORDER BY operation_name ASC', b, b + MIN_US)
    assert [h["operation_name"] for h in r.json()["hits"]] == ["a", "b", "c"]


def test_search_nulls_omitted_from_hits(client: httpx.Client) -> None:
    b = base_us()
    ingest_ok(client, [at(b, "with", attrs={"foo": "x"}), at(b + 1, "without")])
    r = search(client, 'SELECT operation_name, foo FROM "default" ORDER BY operation_name', b, b + MIN_US)
    assert r.status_code == 200
    hits = {h["operation_name"]: h for h in r.json()["hits"]}
    assert hits["with"]["foo"] == "x"
    assert "foo" not in hits["without"]


def test_search_sql_limit_beats_size(client: httpx.Client) -> None:
    b = base_us()
    ingest_ok(client, [at(b + i, f"s{i}") for i in range(5)])
    r = search(client, 'SELECT operation_name FROM "default" LIMIT 3', b, b + MIN_US, size=2)
    assert r.status_code == 200
    assert len(r.json()["hits"]) == 3
    r = search(client, 'SELECT operation_name FROM "default"', b, b + MIN_US, size=2)
    body = r.json()
    assert len(body["hits"]) == 2
    assert body["size"] == 2
    assert body["total"] == 2


def test_search_size_default_cap_1000(client: httpx.Client) -> None:
    b = base_us()
    ingest_ok(client, [at(b + i, f"s{i}") for i in range(1005)])
    r = search(client, 'SELECT operation_name FROM "default"', b, b + MIN_US)
    assert r.status_code == 200
    body = r.json()
    assert len(body["hits"]) == 1000
    assert body["size"] == 1000
    r = search(client, 'SELECT operation_name FROM "default"', b, b + MIN_US, size=0)
    body = r.json()
    assert len(body["hits"]) == 1000
    assert body["size"] == 1000
    assert "Warn: results are capped to meet default limit" in body["function_error"]


def test_search_parse_error_is_non_code_400(client: httpx.Client) -> None:
    b = base_us()
    ingest_ok(client, [at(b, "a")])
    r = search(client, 'SELEC operation_name FROM "default"', b, b + MIN_US)
    assert r.status_code == 400
    body = r.json()
    assert set(body) == {"code", "message"}
    assert body["code"] == 400
    assert body["message"].startswith('Error# SQL error: ParserError("')


def test_search_unknown_field_is_20004(client: httpx.Client) -> None:
    b = base_us()
    ingest_ok(client, [at(b, "a")])
    r = search(client, 'SELECT no_such_col FROM "default"', b, b + MIN_US)
    assert r.status_code == 400
    body = r.json()
    assert body["code"] == 20004
    assert body["message"] == "unknown field 'no_such_col'"
    assert "error_detail" not in body
    assert r.headers["X-Error-Message"] == "20004"


def test_search_unknown_field_in_a_where_clause_behind_a_filter_is_20004(client: httpx.Client) -> None:
    """The column is missing from the schema, not just from the matching rows: the whole query fails."""
    b = base_us()
    ingest_ok(client, [at(b, "pipecat.turn", attrs={"pipecat.voice_to_voice_ms": 700})])
    sql = (
        "SELECT approx_percentile_cont(CAST(pipecat_stt_ms AS DOUBLE), 0.5) AS p "
        "FROM \"default\" WHERE operation_name = 'pipecat.turn'"
    )
    r = search(client, sql, b, b + MIN_US)
    assert (r.status_code, r.json()["code"], r.json()["message"]) == (400, 20004, "unknown field 'pipecat_stt_ms'")


def test_search_validate_true_answers_as_without_it(client: httpx.Client) -> None:
    b = base_us()
    ingest_ok(client, [at(b, "a", attrs={"k": "v"})])
    ok = client.post(
        "/api/default/_search",
        params={"type": "traces", "validate": "true"},
        json={"query": {"sql": 'SELECT k FROM "default"', "start_time": b, "end_time": b + MIN_US}},
    )
    assert ok.status_code == 200 and ok.json()["hits"][0]["k"] == "v"
    bad = client.post(
        "/api/default/_search",
        params={"type": "traces", "validate": "true"},
        json={"query": {"sql": 'SELECT nope FROM "default"', "start_time": b, "end_time": b + MIN_US}},
    )
    assert bad.status_code == 400
    assert bad.json()["code"] == 20004 and bad.headers["X-Error-Message"] == "20004"


def test_search_coded_errors_carry_the_code_header_and_plain_ones_none(client: httpx.Client) -> None:
    b = base_us()
    ingest_ok(client, [at(b, "a")])
    missing = search(client, 'SELECT 1 AS x FROM "nosuch"', b, b + MIN_US)
    assert (missing.json()["code"], missing.headers["X-Error-Message"]) == (20002, "20002")
    unparsable = search(client, 'SELEC operation_name FROM "default"', b, b + MIN_US)
    assert unparsable.status_code == 400 and "X-Error-Message" not in unparsable.headers


def test_search_cast_string_attribute_columns(client: httpx.Client) -> None:
    b = base_us()
    ingest_ok(
        client,
        [at(b, "a", attrs={"tok": 42}), at(b + 1, "b", attrs={"tok": 100}), at(b + 2, "c", attrs={"tok": 9})],
    )
    lo, hi = b, b + MIN_US
    r = search(client, 'SELECT operation_name FROM "default" WHERE CAST(tok AS BIGINT) > 50', lo, hi)
    assert r.status_code == 200, r.text
    assert [h["operation_name"] for h in r.json()["hits"]] == ["b"]
    # without CAST the column is a string: '9' > '50' and '100' < '50'
    r = search(client, "SELECT operation_name FROM \"default\" WHERE tok > '50'", lo, hi)
    assert [h["operation_name"] for h in r.json()["hits"]] == ["c"]
    r = search(client, 'SELECT SUM(CAST(tok AS BIGINT)) AS total FROM "default"', lo, hi)
    assert r.json()["hits"] == [{"total": 151}]


def test_search_approx_percentile_cont(client: httpx.Client) -> None:
    b = base_us()
    spans = [at(b + i, f"s{i}", duration_us=1000) for i in range(9)] + [at(b + 9, "slow", duration_us=9000)]
    ingest_ok(client, spans)
    r = search(
        client,
        'SELECT approx_percentile_cont(duration, 0.5) AS p50, max(duration) AS mx FROM "default"',
        b,
        b + MIN_US,
    )
    assert r.status_code == 200, r.text
    (hit,) = r.json()["hits"]
    assert hit["p50"] == 1000
    assert hit["mx"] == 9000


def test_search_group_by_and_response_shape(client: httpx.Client) -> None:
    b = base_us()
    ingest_ok(
        client,
        [
            at(b, "a", status={"code": 2}),
            at(b + 1, "b", status={"code": 2}),
            at(b + 2, "c", status={"code": 1}),
        ],
    )
    r = search(
        client,
        'SELECT span_status, count(*) AS n FROM "default" GROUP BY span_status ORDER BY span_status',
        b,
        b + MIN_US,
        size=100,
    )
    assert r.status_code == 200
    body = r.json()
    assert body["hits"] == [{"span_status": "ERROR", "n": 2}, {"span_status": "OK", "n": 1}]
    assert body["total"] == 2
    assert body["from"] == 0
    assert body["size"] == 100
    assert body["is_partial"] is False
    for key in ("took", "scan_size", "cached_ratio", "scan_records"):
        assert key in body


def test_search_track_total_hits(client: httpx.Client) -> None:
    b = base_us()
    ingest_ok(client, [at(b + i, f"s{i}") for i in range(4)])
    r = search(client, 'SELECT operation_name FROM "default"', b, b + MIN_US, track_total_hits=True)
    assert r.status_code == 200
    body = r.json()
    assert body["hits"] == [{"zo_sql_num": 4}]
    assert body["total"] == 4


def test_search_histogram_unknown_unit_falls_back_to_auto(client: httpx.Client) -> None:
    b = base_us()
    ingest_ok(client, [at(b + 10_000_000, "a")])
    r = search(
        client,
        "SELECT histogram(_timestamp,'3 fortnights') AS ts, count(*) AS n FROM \"default\" GROUP BY ts",
        b,
        b + 5 * MIN_US,
    )
    assert r.status_code == 200, r.text
    assert sum(h["n"] for h in r.json()["hits"]) == 1


def test_search_start_after_end_not_rejected(client: httpx.Client) -> None:
    b = base_us()
    ingest_ok(client, [at(b, "a")])
    r = search(client, 'SELECT operation_name FROM "default"', b + MIN_US, b - MIN_US)
    assert r.status_code == 200
    assert r.json()["hits"] == []


def test_search_from_offset(client: httpx.Client) -> None:
    b = base_us()
    ingest_ok(client, [at(b + i, f"s{i}") for i in range(5)])
    r = search(
        client, 'SELECT operation_name FROM "default" ORDER BY operation_name', b, b + MIN_US, **{"from": 2, "size": 2}
    )
    assert r.status_code == 200
    body = r.json()
    assert [h["operation_name"] for h in body["hits"]] == ["s2", "s3"]
    assert body["from"] == 2


def test_search_histogram_interval_in_sql_used_verbatim(client: httpx.Client) -> None:
    # '7 minute' buckets by 7 minutes from date_bin's origin 2001-01-01T00:00:00, not snapped to 5 or 10
    origin = int(datetime(2001, 1, 1, tzinfo=UTC).timestamp()) * 1_000_000
    step = 7 * MIN_US
    b = base_us()
    bucket = origin + (b - origin) // step * step
    ts = [bucket + 10_000_000, bucket + step - 10_000_000, bucket + step + 10_000_000]
    ingest_ok(client, [at(t, f"s{i}") for i, t in enumerate(ts)])
    r = search(
        client,
        "SELECT histogram(_timestamp,'7 minute') AS ts, count(*) AS n FROM \"default\" GROUP BY ts ORDER BY ts",
        bucket,
        bucket + 3 * step,
    )
    assert r.status_code == 200, r.text
    assert r.json()["hits"] == [{"ts": iso(bucket), "n": 2}, {"ts": iso(bucket + step), "n": 1}]


def test_search_histogram_one_argument_auto_interval(client: httpx.Client) -> None:
    # a 90-minute range (>= 1 h, < 2 h) gives 30-second buckets
    b = base_us()
    ingest_ok(client, [at(b, "a"), at(b + 20_000_000, "b"), at(b + 40_000_000, "c")])
    r = search(
        client,
        'SELECT histogram(_timestamp) AS ts, count(*) AS n FROM "default" GROUP BY ts ORDER BY ts',
        b - 60 * MIN_US,
        b + 30 * MIN_US,
    )
    assert r.status_code == 200, r.text
    assert r.json()["hits"] == [{"ts": iso(b), "n": 2}, {"ts": iso(b + 30_000_000), "n": 1}]


def test_search_unknown_function_is_20005(client: httpx.Client) -> None:
    b = base_us()
    ingest_ok(client, [at(b, "a")])
    r = search(client, 'SELECT nosuchfn(operation_name) AS x FROM "default"', b, b + MIN_US)
    assert r.status_code == 400
    body = r.json()
    assert body["code"] == 20005
    assert body["message"] == "unknown function 'nosuchfn'"
    assert "error_detail" not in body


def test_search_base64_encoded_sql(client: httpx.Client) -> None:
    b = base_us()
    ingest_ok(client, [at(b, "encoded")])
    sql = base64.urlsafe_b64encode(b'SELECT operation_name FROM "default"').decode()
    r = client.post(
        "/api/default/_search",
        params={"type": "traces"},
        json={"query": {"sql": sql, "start_time": b, "end_time": b + MIN_US}, "encoding": "base64"},
    )
    assert r.status_code == 200, r.text
    assert [h["operation_name"] for h in r.json()["hits"]] == ["encoded"]


def test_search_bad_search_type_is_400(client: httpx.Client) -> None:
    b = base_us()
    ingest_ok(client, [at(b, "a")])
    r = client.post(
        "/api/default/_search",
        params={"type": "traces", "search_type": "bogus"},
        json={"query": {"sql": 'SELECT operation_name FROM "default"', "start_time": b, "end_time": b + 1}},
    )
    assert r.status_code == 400


def test_search_o2_custom_pattern_becomes_str_match(client: httpx.Client) -> None:
    b = base_us()
    ingest_ok(client, [at(b, "llm_call"), at(b + 1, "tts")])
    r = search(client, "SELECT operation_name FROM \"default\" WHERE operation_name = 'llm::_o2_custom'", b, b + MIN_US)
    assert r.status_code == 200, r.text
    assert [h["operation_name"] for h in r.json()["hits"]] == ["llm_call"]


def test_search_ungrouped_unlisted_aggregate_is_20008(client: httpx.Client) -> None:
    b = base_us()
    ingest_ok(client, [at(b, "a"), at(b + 1, "b")])
    r = search(client, 'SELECT stddev(duration) AS s FROM "default"', b, b + MIN_US)
    assert r.status_code == 400
    body = r.json()
    assert body["code"] == 20008
    assert body["message"] == "Search SQL execute error"
