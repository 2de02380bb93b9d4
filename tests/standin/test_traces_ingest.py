"""§2 of the reference: OTLP/HTTP traces ingestion, flattening, value types, responses."""

from __future__ import annotations

import gzip
import json
import math
import secrets
from collections.abc import Callable
from typing import Any

import httpx
from opentelemetry import trace as otel_trace
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource as PbResource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans
from opentelemetry.proto.trace.v1.trace_pb2 import Span as PbSpan
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode

from .helpers import (
    ORG,
    basic_header,
    ingest,
    now_ns,
    otlp_request,
    otlp_span,
    search,
    span_id,
    trace_id,
    wide_window,
)

HOUR_NS = 3600 * 1_000_000_000
PARTIAL_MSG = "Some spans were rejected due to exceeding the allowed retention period"


def sdk_export(
    url: str,
    body: Callable[[otel_trace.Tracer], None],
    *,
    resource: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    org: str = ORG,
) -> None:
    """Record spans with the real SDK, then send them with the real OTLP/HTTP protobuf exporter."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create(resource or {"service.name": "bot"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    body(provider.get_tracer("pipecat-test"))
    provider.shutdown()
    exporter = OTLPSpanExporter(
        endpoint=f"{url}/api/{org}/v1/traces",
        headers={"Authorization": basic_header(), **(headers or {})},
        timeout=10,
    )
    result = exporter.export(memory.get_finished_spans())
    exporter.shutdown()
    assert result == SpanExportResult.SUCCESS


def by_name(records: list[dict[str, Any]], name: str) -> dict[str, Any]:
    found = [r for r in records if r["operation_name"] == name]
    assert len(found) == 1, records
    return found[0]


# ---------------------------------------------------------------- real SDK, protobuf


def test_sdk_protobuf_span_columns(standin: Any) -> None:
    base = now_ns() - 60_000_000_000 + 789  # sub-µs digits on purpose
    ev_ts = base + 1_000_000
    link_tid, link_sid = int(trace_id(), 16), int(span_id(), 16)
    ids: dict[str, Any] = {}

    def body(tracer: otel_trace.Tracer) -> None:
        parent = tracer.start_span("turn", kind=SpanKind.SERVER, start_time=base)
        ctx = otel_trace.set_span_in_context(parent)
        child = tracer.start_span(
            "llm",
            context=ctx,
            kind=SpanKind.INTERNAL,
            start_time=base + 1000,
            attributes={
                "pipecat.prompt_tokens": 42,
                "flag": True,
                "ratio": 0.5,
                "whole": 1.0,
                "big": 1e21,
                "tiny": 1e-7,
                "nan_v": math.nan,
                "tags": ["a", "b"],
                "nums": [1, 2],
                "empty": [],
                "blank": "",
                "http.status-code": 200,
                "Foo.Bar": "x",
                "a..b": "y",
                "duration": 5,
                "service.name": "shadow",
            },
            links=[Link(SpanContext(link_tid, link_sid, is_remote=True), {"lk": "lv"})],
        )
        child.add_event("ev1", {"Foo.Bar": "v"}, timestamp=ev_ts)
        child.set_status(Status(StatusCode.ERROR, "boom"))
        child.end(end_time=base + 1000 + 250_000_000)
        parent.set_status(Status(StatusCode.OK))
        parent.end(end_time=base + 500_000_000)
        ids["trace"] = format(parent.get_span_context().trace_id, "032x")
        ids["parent"] = format(parent.get_span_context().span_id, "016x")
        ids["child"] = format(child.get_span_context().span_id, "016x")

    sdk_export(
        standin.url,
        body,
        resource={"service.name": "bot", "deployment.environment": "test", "name": "res-name"},
    )
    records = standin.records(ORG, "default")
    assert len(records) == 2
    parent, child = by_name(records, "turn"), by_name(records, "llm")

    # identity and server-made columns
    assert parent["trace_id"] == child["trace_id"] == ids["trace"]
    assert parent["span_id"] == ids["parent"]
    assert child["span_id"] == ids["child"]
    assert parent["flags"] == 1 and child["flags"] == 1
    assert parent["span_kind"] == "2"
    assert child["span_kind"] == "1"
    assert parent["start_time"] == base
    assert parent["end_time"] == base + 500_000_000
    assert parent["duration"] == 500_000
    assert parent["_timestamp"] == base // 1000
    assert child["duration"] == 250_000
    assert child["_timestamp"] == (base + 1000) // 1000
    assert isinstance(child["_o2_ingest_ts"], int)

    # parent reference only on the child
    assert child["reference_parent_span_id"] == ids["parent"]
    assert child["reference_parent_trace_id"] == ids["trace"]
    assert child["reference_ref_type"] == "ChildOf"
    for k in ("reference_parent_span_id", "reference_parent_trace_id", "reference_ref_type"):
        assert k not in parent

    # status columns
    assert parent["span_status"] == "OK" and parent["status_code"] == 1 and parent["status_message"] == ""
    assert child["span_status"] == "ERROR" and child["status_code"] == 2 and child["status_message"] == "boom"

    # values are stringified
    assert child["pipecat_prompt_tokens"] == "42"
    assert child["flag"] == "true"
    assert child["ratio"] == "0.5"
    assert child["whole"] == "1"
    assert child["big"] == "1000000000000000000000"
    assert child["tiny"] == "0.0000001"
    assert child["nan_v"] == "NaN"
    assert child["tags"] == '["a","b"]'
    assert child["nums"] == '["1","2"]'
    assert "empty" not in child
    assert child["blank"] == ""

    # key normalisation and reserved-name prefixing
    assert child["http_status_code"] == "200"
    assert child["foo_bar"] == "x"
    assert child["a__b"] == "y"
    assert child["attr_duration"] == "5"
    assert child["attr_service_name"] == "shadow"
    assert child["service_name"] == "bot"

    # resource columns
    for rec in (parent, child):
        assert rec["service_name"] == "bot"
        assert rec["service_deployment_environment"] == "test"
        assert rec["service_attr_name"] == "res-name"
        assert rec["service_telemetry_sdk_language"] == "python"

    # events / links are JSON strings; event keys are not normalised
    assert isinstance(child["events"], str)
    assert json.loads(child["events"]) == [{"name": "ev1", "_timestamp": ev_ts, "Foo.Bar": "v"}]
    assert parent["events"] == "[]"
    links = json.loads(child["links"])
    assert len(links) == 1
    assert links[0]["context"]["traceId"] == format(link_tid, "032x")
    assert links[0]["context"]["spanId"] == format(link_sid, "016x")
    assert links[0]["lk"] == "lv"
    assert links[0]["droppedAttributesCount"] == 0


def test_sdk_protobuf_stream_name_header(standin: Any) -> None:
    def body(tracer: otel_trace.Tracer) -> None:
        tracer.start_span("hello").end()

    sdk_export(standin.url, body, headers={"stream-name": "pipecat"})
    assert [r["operation_name"] for r in standin.records(ORG, "pipecat")] == ["hello"]
    assert standin.records(ORG, "default") == []


# ---------------------------------------------------------------- hand-built protobuf


def _pb_request(*starts_ns: int) -> ExportTraceServiceRequest:
    spans = [
        PbSpan(
            trace_id=bytes.fromhex(trace_id()),
            span_id=bytes.fromhex(span_id()),
            name=f"pb{i}",
            kind=PbSpan.SPAN_KIND_SERVER,
            start_time_unix_nano=s,
            end_time_unix_nano=s + 1_000_000,
            attributes=[KeyValue(key="d", value=AnyValue(double_value=0.5))],
        )
        for i, s in enumerate(starts_ns)
    ]
    res = PbResource(attributes=[KeyValue(key="service.name", value=AnyValue(string_value="pb"))])
    return ExportTraceServiceRequest(
        resource_spans=[ResourceSpans(resource=res, scope_spans=[ScopeSpans(spans=spans)])]
    )


def test_protobuf_full_success_is_200_protobuf(client: httpx.Client, standin: Any) -> None:
    req = _pb_request(now_ns() - 10_000_000_000)
    r = client.post(
        "/api/default/v1/traces",
        content=req.SerializeToString(),
        headers={"Content-Type": "application/x-protobuf"},
    )
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/x-protobuf"
    resp = ExportTraceServiceResponse.FromString(r.content)
    assert resp.partial_success.rejected_spans == 0
    (rec,) = standin.records(ORG, "default")
    assert rec["d"] == "0.5"  # a fractional double is fine over protobuf


def test_protobuf_partial_rejection_still_200(client: httpx.Client, standin: Any) -> None:
    req = _pb_request(now_ns() - 10_000_000_000, now_ns() - 6 * HOUR_NS)
    r = client.post(
        "/api/default/v1/traces",
        content=req.SerializeToString(),
        headers={"Content-Type": "application/x-protobuf"},
    )
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/x-protobuf"
    resp = ExportTraceServiceResponse.FromString(r.content)
    assert resp.partial_success.rejected_spans == 1
    assert [x["operation_name"] for x in standin.records(ORG, "default")] == ["pb0"]


def test_protobuf_content_type_with_charset_is_400(client: httpx.Client) -> None:
    r = client.post(
        "/api/default/v1/traces",
        content=_pb_request(now_ns()).SerializeToString(),
        headers={"Content-Type": "application/x-protobuf; charset=utf-8"},
    )
    assert r.status_code == 400
    assert r.json() == {"code": 400, "message": "Bad Request"}


def test_protobuf_invalid_body_is_400_invalid_proto(client: httpx.Client) -> None:
    r = client.post(
        "/api/default/v1/traces",
        content=b"\xff\xff\xff\xff not protobuf",
        headers={"Content-Type": "application/x-protobuf"},
    )
    assert r.status_code == 400
    body = r.json()
    assert body["code"] == 400
    assert body["message"].startswith("Invalid proto: ")


# ---------------------------------------------------------------- OTLP/JSON


def test_json_full_success_body(client: httpx.Client) -> None:
    r = ingest(client, [otlp_span("ok")])
    assert r.status_code == 200
    assert r.json() == {"partialSuccess": None}


def test_json_span_columns(client: httpx.Client, standin: Any) -> None:
    tid, root, child_id = trace_id(), span_id(), span_id()
    start = now_ns() - 30_000_000_000 + 321
    spans = [
        otlp_span("root", tid=tid, sid=root, start_ns=start, end_ns=start + 2_000_000, kind=2),
        otlp_span(
            "child",
            tid=tid,
            sid=child_id,
            parent=root,
            start_ns=start + 5000,
            end_ns=start + 5000 + 1_500_000,
            kind=3,
            attrs={"n": 7, "ok": False, "two": 2, "s": "str", "User.ID": "u1"},
            raw_attrs=[
                {"key": "dbl_int", "value": {"doubleValue": 2}},
                {"key": "nothing", "value": {}},
            ],
            status={"code": 2, "message": "bad"},
        ),
    ]
    r = ingest(client, otlp_request(spans, {"service.version": "1.2"}, service="svc"))
    assert r.status_code == 200, r.text
    recs = standin.records(ORG, "default")
    root_rec, child = by_name(recs, "root"), by_name(recs, "child")
    assert root_rec["trace_id"] == tid and root_rec["span_id"] == root
    assert root_rec["span_kind"] == "2" and child["span_kind"] == "3"
    assert root_rec["start_time"] == start and root_rec["end_time"] == start + 2_000_000
    assert root_rec["duration"] == 2000
    assert root_rec["_timestamp"] == start // 1000
    assert child["duration"] == 1500
    assert child["reference_parent_span_id"] == root
    assert child["reference_parent_trace_id"] == tid
    assert child["reference_ref_type"] == "ChildOf"
    assert "reference_parent_span_id" not in root_rec
    # status absent on root -> UNSET and no status columns
    assert root_rec["span_status"] == "UNSET"
    assert "status_code" not in root_rec and "status_message" not in root_rec
    assert child["span_status"] == "ERROR" and child["status_code"] == 2 and child["status_message"] == "bad"
    assert child["n"] == "7" and child["ok"] == "false" and child["two"] == "2" and child["s"] == "str"
    assert child["user_id"] == "u1"
    assert child["dbl_int"] == "2"
    assert "nothing" not in child
    assert child["service_name"] == "svc"
    assert child["service_service_version"] == "1.2"
    assert child["flags"] == 1


def test_json_nested_kvlist_flattened_and_empty_values_dropped(client: httpx.Client, standin: Any) -> None:
    raw = [
        {"key": "a", "value": {"kvlistValue": {"values": [{"key": "B.c", "value": {"intValue": 1}}]}}},
        {"key": "empty_list", "value": {"arrayValue": {"values": []}}},
        {"key": "empty_kv", "value": {"kvlistValue": {"values": []}}},
        {"key": "empty_str", "value": {"stringValue": ""}},
    ]
    assert ingest(client, [otlp_span("kv", raw_attrs=raw)]).status_code == 200
    (rec,) = standin.records(ORG, "default")
    assert rec["a_b_c"] == "1"
    assert "empty_list" not in rec and "empty_kv" not in rec
    assert rec["empty_str"] == ""


def test_json_events_and_links_as_json_strings_invalid_link_dropped(client: httpx.Client, standin: Any) -> None:
    ev_ts = now_ns() - 20_000_000_000
    ltid, lsid = trace_id(), span_id()
    span = otlp_span(
        "evs",
        events=[
            {"timeUnixNano": str(ev_ts), "name": "first", "attributes": [{"key": "K.x", "value": {"stringValue": "v"}}]}
        ],
        links=[
            {"traceId": ltid, "spanId": lsid, "attributes": [{"key": "why", "value": {"stringValue": "retry"}}]},
            {"traceId": ltid, "spanId": "abcdef"},  # 3-byte span id: dropped, not counted
        ],
    )
    r = ingest(client, [span])
    assert r.status_code == 200
    assert r.json() == {"partialSuccess": None}
    (rec,) = standin.records(ORG, "default")
    assert json.loads(rec["events"]) == [{"name": "first", "_timestamp": ev_ts, "K.x": "v"}]
    links = json.loads(rec["links"])
    assert len(links) == 1
    assert links[0]["context"]["traceId"] == ltid
    assert links[0]["context"]["spanId"] == lsid
    assert links[0]["why"] == "retry"


def test_json_default_stream_and_service_name_falls_back_to_stream(client: httpx.Client, standin: Any) -> None:
    r = ingest(client, otlp_request([otlp_span("nosvc")], service=None), stream="voice")
    assert r.status_code == 200
    (rec,) = standin.records(ORG, "voice")
    assert rec["service_name"] == "voice"
    r = ingest(client, otlp_request([otlp_span("nosvc2")], service=None))
    assert r.status_code == 200
    (rec,) = standin.records(ORG, "default")
    assert rec["service_name"] == "default"


def test_json_service_name_inherited_by_next_resource(client: httpx.Client, standin: Any) -> None:
    first = otlp_request([otlp_span("one")], service="alpha")
    second = otlp_request([otlp_span("two")], service=None)
    payload = {"resourceSpans": first["resourceSpans"] + second["resourceSpans"]}
    assert ingest(client, payload).status_code == 200
    recs = standin.records(ORG, "default")
    assert by_name(recs, "two")["service_name"] == "alpha"


def test_json_alias_endpoints(client: httpx.Client, standin: Any) -> None:
    assert ingest(client, [otlp_span("via_traces")], path="traces").status_code == 200
    assert ingest(client, [otlp_span("via_otel")], path="otel/v1/traces").status_code == 200
    names = sorted(r["operation_name"] for r in standin.records(ORG, "default"))
    assert names == ["via_otel", "via_traces"]


def test_json_organization_header_overrides_path_org(client: httpx.Client, standin: Any) -> None:
    r = client.post(
        "/api/default/v1/traces",
        content=json.dumps(otlp_request([otlp_span("elsewhere")])),
        headers={"Content-Type": "application/json", "organization": "otherorg"},
    )
    assert r.status_code == 200, r.text
    assert [x["operation_name"] for x in standin.records("otherorg", "default")] == ["elsewhere"]
    assert standin.records(ORG, "default") == []


def test_json_old_future_and_bad_id_spans_rejected_206(client: httpx.Client, standin: Any) -> None:
    now = now_ns()
    spans = [
        otlp_span("good", start_ns=now - 60_000_000_000),
        otlp_span("old", start_ns=now - 6 * HOUR_NS),
        otlp_span("future", start_ns=now + 25 * HOUR_NS),
        otlp_span("short_trace", tid=secrets.token_hex(8)),
        otlp_span("short_span", sid=secrets.token_hex(4)),
    ]
    r = ingest(client, spans)
    assert r.status_code == 206
    assert r.json() == {"partialSuccess": {"rejectedSpans": 4, "errorMessage": PARTIAL_MSG}}
    assert [x["operation_name"] for x in standin.records(ORG, "default")] == ["good"]


def test_json_span_within_5h_accepted(client: httpx.Client, standin: Any) -> None:
    r = ingest(client, [otlp_span("recentish", start_ns=now_ns() - 4 * HOUR_NS)])
    assert r.status_code == 200
    assert len(standin.records(ORG, "default")) == 1


def test_json_numeric_timestamps_accepted(client: httpx.Client, standin: Any) -> None:
    span = otlp_span("numeric")
    span["startTimeUnixNano"] = int(span["startTimeUnixNano"])
    span["endTimeUnixNano"] = int(span["endTimeUnixNano"])
    assert ingest(client, [span]).status_code == 200
    (rec,) = standin.records(ORG, "default")
    assert rec["start_time"] == span["startTimeUnixNano"]


def test_json_content_type_with_charset_accepted(client: httpx.Client) -> None:
    r = client.post(
        "/api/default/v1/traces",
        content=json.dumps(otlp_request([otlp_span("cs")])),
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert r.status_code == 200


def test_missing_content_type_is_400_bad_request(client: httpx.Client) -> None:
    r = client.post("/api/default/v1/traces", content=json.dumps(otlp_request([otlp_span("x")])))
    assert r.status_code == 400
    assert r.json() == {"code": 400, "message": "Bad Request"}


def test_other_content_type_is_400_bad_request(client: httpx.Client) -> None:
    r = client.post(
        "/api/default/v1/traces",
        content=json.dumps(otlp_request([otlp_span("x")])),
        headers={"Content-Type": "text/plain"},
    )
    assert r.status_code == 400
    assert r.json() == {"code": 400, "message": "Bad Request"}


def test_invalid_json_is_400_invalid_json(client: httpx.Client) -> None:
    r = client.post("/api/default/v1/traces", content=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    body = r.json()
    assert body["code"] == 400
    assert body["message"].startswith("Invalid json: ")


def test_json_missing_resource_spans_is_400(client: httpx.Client) -> None:
    r = client.post("/api/default/v1/traces", json={})
    assert r.status_code == 400
    body = r.json()
    assert body["code"] == 400
    assert body["message"].startswith("Invalid json: ")
    assert "missing field `resourceSpans`" in body["message"]


def test_json_bad_timestamp_string_is_400(client: httpx.Client) -> None:
    span = otlp_span("bad")
    span["startTimeUnixNano"] = "not-a-number"
    r = ingest(client, [span])
    assert r.status_code == 400
    assert r.json()["code"] == 400
    assert r.json()["message"].startswith("Invalid json: ")


def test_json_double_bug_fractional_double_rejects_whole_request(client: httpx.Client, standin: Any) -> None:
    for raw in ({"doubleValue": 0.5}, {"doubleValue": 1.0}, {"doubleValue": 1e2}, {"doubleValue": "0.5"}):
        spans = [otlp_span("fine"), otlp_span("dbl", raw_attrs=[{"key": "ratio", "value": raw}])]
        r = ingest(client, spans)
        assert r.status_code == 400, raw
        body = r.json()
        assert body["code"] == 400
        assert body["message"].startswith("Invalid json: invalid type: map, expected f64 at line "), body
    assert standin.records(ORG, "default") == []


def test_json_double_integer_form_accepted(client: httpx.Client, standin: Any) -> None:
    r = ingest(client, [otlp_span("dbl", raw_attrs=[{"key": "ratio", "value": {"doubleValue": 2}}])])
    assert r.status_code == 200
    (rec,) = standin.records(ORG, "default")
    assert rec["ratio"] == "2"


def test_ingested_columns_in_search(client: httpx.Client) -> None:
    tid, sid = trace_id(), span_id()
    start = now_ns() - 30_000_000_000
    span = otlp_span(
        "llm",
        tid=tid,
        sid=sid,
        start_ns=start,
        end_ns=start + 500_000_000,
        attrs={"pipecat.prompt_tokens": 42, "streaming": True},
        status={"code": 1},
    )
    assert ingest(client, [span]).status_code == 200
    lo, hi = wide_window()
    r = search(
        client,
        "SELECT trace_id, span_id, span_kind, span_status, status_code, duration, start_time, "
        'end_time, pipecat_prompt_tokens, streaming, service_name, flags FROM "default"',
        lo,
        hi,
    )
    assert r.status_code == 200, r.text
    (hit,) = r.json()["hits"]
    assert hit["trace_id"] == tid and hit["span_id"] == sid
    assert hit["span_kind"] == "2"
    assert hit["span_status"] == "OK"
    assert hit["status_code"] == 1
    assert hit["duration"] == 500_000
    assert hit["start_time"] == start
    assert hit["end_time"] == start + 500_000_000
    assert hit["pipecat_prompt_tokens"] == "42"
    assert hit["streaming"] == "true"
    assert hit["service_name"] == "bot"
    assert hit["flags"] == 1
    assert hit["_timestamp"] == start // 1000


def test_json_server_status_code_overwrites_attribute(client: httpx.Client, standin: Any) -> None:
    span = otlp_span("s", attrs={"status_code": "weird"}, status={"code": 2, "message": "m"})
    assert ingest(client, [span]).status_code == 200
    (rec,) = standin.records(ORG, "default")
    assert rec["status_code"] == 2


def test_json_reference_parent_span_id_attribute_overrides(client: httpx.Client, standin: Any) -> None:
    span = otlp_span("s", parent=span_id(), attrs={"reference.parent_span_id": "custom"})
    assert ingest(client, [span]).status_code == 200
    (rec,) = standin.records(ORG, "default")
    assert rec["reference_parent_span_id"] == "custom"


def test_gzip_body_is_decompressed(client: httpx.Client, standin: Any) -> None:
    raw = gzip.compress(json.dumps(otlp_request([otlp_span("zipped")])).encode())
    r = client.post(
        "/api/default/v1/traces",
        content=raw,
        headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
    )
    assert r.status_code == 200, r.text
    assert [x["operation_name"] for x in standin.records(ORG, "default")] == ["zipped"]


def test_sdk_protobuf_gzip_export(standin: Any) -> None:
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "bot"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    provider.get_tracer("t").start_span("gz").end()
    provider.shutdown()
    exporter = OTLPSpanExporter(
        endpoint=f"{standin.url}/api/default/v1/traces",
        headers={"Authorization": basic_header()},
        compression=Compression.Gzip,
    )
    assert exporter.export(memory.get_finished_spans()) == SpanExportResult.SUCCESS
    assert [x["operation_name"] for x in standin.records(ORG, "default")] == ["gz"]


def test_unknown_content_encoding_is_415(client: httpx.Client) -> None:
    r = client.post(
        "/api/default/v1/traces",
        content=json.dumps(otlp_request([otlp_span("x")])),
        headers={"Content-Type": "application/json", "Content-Encoding": "compress"},
    )
    assert r.status_code == 415


def test_json_span_key_colliding_with_resource_column_is_prefixed(client: httpx.Client, standin: Any) -> None:
    span = otlp_span("s", attrs={"service.deployment.environment": "span-value"})
    r = ingest(client, otlp_request([span], {"deployment.environment": "prod"}))
    assert r.status_code == 200
    (rec,) = standin.records(ORG, "default")
    assert rec["service_deployment_environment"] == "prod"
    assert rec["attr_service_deployment_environment"] == "span-value"


def test_json_too_many_columns_is_400(client: httpx.Client, standin: Any) -> None:
    span = otlp_span("wide", attrs={f"col{i}": "v" for i in range(1001)})
    r = ingest(client, [span])
    assert r.status_code == 400
    body = r.json()
    assert body["code"] == 400
    assert body["message"].startswith("error while writing trace data: Got ")
    assert "columns for stream default/traces/default, only 1000 columns accept. Data discarded." in body["message"]
    assert standin.records(ORG, "default") == []
