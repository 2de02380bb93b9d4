"""openobserve-llm.md §4–§6: the model-pricing API, pricing at ingestion and the LLM sessions API.

Every expectation comes from /work/shared/openobserve-llm.md (the reference wins over the stand-in).
Spans are hand-built OTLP/JSON with integer-form values only and explicit timestamps about an hour
in the past (inside the ingestion window), so nothing depends on the scheduler or on wall-clock races.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

import httpx
import pytest

from .helpers import ORG, ingest, otlp_request, otlp_span, trace_id

MODELS = f"/api/{ORG}/llm/models"
SESSIONS = f"/api/{ORG}/default/traces/session"
DETAILS = f"/api/{ORG}/default/traces/session/details"
NOT_FOUND = {"code": 404, "message": "Model pricing definition not found"}
BUILT_IN_SOURCE_URL = "https://raw.githubusercontent.com/openobserve/sdr_patterns/refs/heads/main/llm_pricing.json"
KSUID_RE = re.compile(r"^[0-9A-Za-z]{27}$")
SECOND = 1_000_000_000  # ns

# Start of every hand-built trace: one hour ago, whole seconds, so all spans are inside the window.
BASE_NS = (time.time_ns() // SECOND - 3600) * SECOND
BASE_US = BASE_NS // 1000
WINDOW = {"start_time": BASE_US - 600_000_000, "end_time": BASE_US + 600_000_000}

SESSION_HIT_KEYS = {
    "session_id",
    "start_time",
    "end_time",
    "duration",
    "trace_count",
    "gen_ai_usage_input_tokens",
    "gen_ai_usage_output_tokens",
    "gen_ai_usage_total_tokens",
    "gen_ai_usage_cost",
    "gen_ai_usage_cache_read_input_tokens",
    "gen_ai_usage_cache_creation_input_tokens",
    "gen_ai_usage_cost_cache_read_input",
    "gen_ai_usage_cost_cache_creation_input",
    "gen_ai_usage_cost_estimated_without_cache",
    "gen_ai_usage_cost_cache_read_savings",
    "gen_ai_usage_cost_net_cache_impact",
    "error_count",
    "user_ids",
    "first_user_message",
}
CACHE_FIELDS = (
    "gen_ai_usage_cache_read_input_tokens",
    "gen_ai_usage_cache_creation_input_tokens",
    "gen_ai_usage_cost_cache_read_input",
    "gen_ai_usage_cost_cache_creation_input",
    "gen_ai_usage_cost_estimated_without_cache",
    "gen_ai_usage_cost_cache_read_savings",
    "gen_ai_usage_cost_net_cache_impact",
)
DETAIL_HIT_KEYS = {
    "trace_id",
    "start_time",
    "end_time",
    "duration",
    "spans",
    "service_name",
    "first_event",
    "gen_ai_usage_input_tokens",
    "gen_ai_usage_output_tokens",
    "gen_ai_usage_total_tokens",
    "gen_ai_usage_cost",
    *CACHE_FIELDS,
    "gen_ai_input_messages",
    "models",
}


# ---------------------------------------------------------------- helpers


def definition(name: str = "Acme", pattern: str = "(?i)acme", **over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": name,
        "match_pattern": pattern,
        "tiers": [{"name": "default", "prices": {"input": 1e-06, "output": 2e-06}}],
    }
    body.update(over)
    return body


def create(client: httpx.Client, body: dict[str, Any], org: str = ORG) -> dict[str, Any]:
    r = client.post(f"/api/{org}/llm/models", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def bad_request(r: httpx.Response, message: str) -> None:
    assert r.status_code == 400, r.text
    assert r.headers["content-type"].startswith("application/json")
    assert r.json() == {"code": 400, "message": message}


def at(seconds: float) -> int:
    return BASE_NS + int(seconds * SECOND)


def chat(
    *,
    tid: str,
    start: float,
    end: float,
    session: str | None = None,
    model: str = "gpt-4o-mini-2024-07-18",
    prompt: int = 120,
    completion: int = 30,
    user: str | None = None,
    input_value: str | None = None,
    parent: str | None = None,
    error: bool = False,
    name: str = "ChatCompletion",
    **extra: Any,
) -> dict[str, Any]:
    """An OpenInference LLM span (openinference.span.kind=LLM), integer token counts."""
    attrs: dict[str, Any] = {
        "openinference.span.kind": "LLM",
        "llm.model_name": model,
        "llm.token_count.prompt": prompt,
        "llm.token_count.completion": completion,
    }
    if session is not None:
        attrs["session.id"] = session
    if user is not None:
        attrs["user.id"] = user
    if input_value is not None:
        attrs["input.value"] = input_value
    attrs.update(extra)
    return otlp_span(
        name,
        kind=3,
        tid=tid,
        start_ns=at(start),
        end_ns=at(end),
        attrs=attrs,
        parent=parent,
        status={"code": 2, "message": "boom"} if error else None,
    )


def plain(
    name: str, *, tid: str, start: float, end: float, sid: str | None = None, parent: str | None = None, **attrs: Any
) -> dict[str, Any]:
    """A span without any LLM trigger key (e.g. pipecat's own spans)."""
    return otlp_span(name, tid=tid, sid=sid, start_ns=at(start), end_ns=at(end), attrs=attrs, parent=parent)


def send(client: httpx.Client, spans: list[dict[str, Any]], service: str = "bot") -> None:
    r = ingest(client, otlp_request(spans, service=service))
    assert r.status_code == 200, r.text
    assert r.json().get("partialSuccess") is None, r.text


def make_org(client: httpx.Client, org: str = "other") -> None:
    """An org exists once something was ingested into it."""
    r = ingest(client, [otlp_span("x")], org=org)
    assert r.status_code == 200, r.text


def messages(*msgs: tuple[str, str]) -> str:
    return json.dumps({"messages": [{"role": r, "content": c} for r, c in msgs], "model": "gpt-4o-mini"})


def hardcoded_4o_mini(prompt: int, completion: int) -> tuple[float, float]:
    return prompt / 1e6 * 0.15, completion / 1e6 * 0.60


def only_record(standin: Any, operation: str = "ChatCompletion") -> dict[str, Any]:
    recs = [r for r in standin.records(ORG, "default") if r["operation_name"] == operation]
    assert len(recs) == 1, recs
    return recs[0]


# ================================================================ §5 /llm/models: create


def test_create_returns_201_with_saved_definition(client: httpx.Client) -> None:
    before = time.time_ns() // 1000
    r = client.post(MODELS, json=definition())
    after = time.time_ns() // 1000
    assert r.status_code == 201, r.text
    body = r.json()
    assert set(body) == {
        "id",
        "org_id",
        "name",
        "match_pattern",
        "enabled",
        "tiers",
        "sort_order",
        "source",
        "created_at",
        "updated_at",
    }
    assert KSUID_RE.match(body["id"]), body["id"]
    assert body["org_id"] == ORG
    assert body["source"] == "org"
    assert body["name"] == "Acme"
    assert body["match_pattern"] == "(?i)acme"
    assert body["enabled"] is True
    assert body["sort_order"] == 0
    assert body["tiers"] == [{"name": "default", "prices": {"input": 1e-06, "output": 2e-06}}]
    assert body["created_at"] == body["updated_at"]
    assert before - 2_000_000 <= body["created_at"] <= after + 2_000_000  # µs


def test_create_keeps_optional_fields(client: httpx.Client) -> None:
    tiers = [
        {"name": "long", "condition": {"usage_key": "input", "value": 1000}, "prices": {"input": 3e-06}},
        {"name": "default", "prices": {"input": 1e-06}},
    ]
    body = create(
        client,
        definition(
            tiers=tiers,
            enabled=False,
            valid_from=BASE_US,
            sort_order=-3,
            provider="acme-ai",
            description="house model",
        ),
    )
    assert body["enabled"] is False
    assert body["valid_from"] == BASE_US
    assert body["sort_order"] == -3
    assert body["provider"] == "acme-ai"
    assert body["description"] == "house model"
    # operator defaults to "gt"
    assert body["tiers"] == [
        {
            "name": "long",
            "condition": {"usage_key": "input", "operator": "gt", "value": 1000},
            "prices": {"input": 3e-06},
        },
        {"name": "default", "prices": {"input": 1e-06}},
    ]


def test_create_ignores_server_owned_fields(client: httpx.Client) -> None:
    sent_id = "0ujsswThIGTUYm2K8FjOOfXtY1K"
    body = create(
        client,
        definition(
            id=sent_id,
            org_id="someone-else",
            source="meta_org",
            created_at=5,
            updated_at=6,
            children=[definition("Child", "child")],
        ),
    )
    assert body["id"] != sent_id
    assert KSUID_RE.match(body["id"])
    assert body["org_id"] == ORG
    assert body["source"] == "org"
    assert body["created_at"] > 1_600_000_000_000_000
    assert body["updated_at"] == body["created_at"]
    assert "children" not in body
    names = [m["name"] for m in client.get(MODELS).json()]
    assert names == ["Acme"]


@pytest.mark.parametrize(
    "over",
    [{"id": "not-a-ksuid"}, {"source": "bogus"}],
    ids=["malformed-id", "unknown-source"],
)
def test_create_malformed_typed_field_is_a_deserialization_error(client: httpx.Client, over: dict[str, Any]) -> None:
    # §5: "A malformed id (not a KSUID) or an unknown source enum value is still a deserialization error"
    # (axum Json rejection: 422 or 400, plain text; inferred by the reference).
    r = client.post(MODELS, json=definition(**over))
    assert r.status_code in (400, 422), r.text
    assert r.headers["content-type"].startswith("text/plain")
    assert client.get(MODELS).json() == []


# ---------------------------------------------------------------- validation, in order


LONG_NAME = "n" * 257
LONG_PATTERN = "(" * 513  # too long AND an invalid regex: the length check comes first
COND_ONLY = [{"name": "long", "condition": {"usage_key": "input", "operator": "gt", "value": 5}, "prices": {}}]


@pytest.mark.parametrize(
    ("over", "message"),
    [
        ({"name": "", "match_pattern": ""}, "Model name is required"),
        ({"name": "   ", "tiers": []}, "Model name is required"),
        ({"name": LONG_NAME, "match_pattern": ""}, "Model name must be 256 characters or fewer"),
        ({"match_pattern": "", "tiers": []}, "Match pattern is required"),
        ({"match_pattern": LONG_PATTERN, "tiers": []}, "Match pattern must be 512 characters or fewer"),
        ({"tiers": []}, "At least one pricing tier is required"),
        ({"tiers": COND_ONLY}, "At least one tier must have no condition (default fallback)"),
        (
            {
                "tiers": [
                    {"name": "long", "condition": {"usage_key": "", "value": 5}, "prices": {"input": -1}},
                    {"name": "default", "prices": {}},
                ]
            },
            "Tier 'long' has a condition with an empty usage_key",
        ),
        (
            {"tiers": [{"name": "default", "prices": {"input": -2.5}}]},
            "Price for 'input' in tier 'default' must be >= 0, got -2.5",
        ),
    ],
    ids=[
        "name-required",
        "name-blank-before-tiers",
        "name-too-long",
        "pattern-required",
        "pattern-too-long-before-regex",
        "no-tiers",
        "no-default-tier",
        "empty-usage-key-before-prices",
        "negative-price",
    ],
)
def test_create_validation_message(client: httpx.Client, over: dict[str, Any], message: str) -> None:
    bad_request(client.post(MODELS, json=definition(**over)), message)
    assert client.get(MODELS).json() == []


def test_create_name_of_256_and_pattern_of_512_are_accepted(client: httpx.Client) -> None:
    body = create(client, definition("n" * 256, "a" * 512))
    assert len(body["name"]) == 256
    assert len(body["match_pattern"]) == 512


def test_create_invalid_regex(client: httpx.Client) -> None:
    r = client.post(MODELS, json=definition(pattern="gpt-(", tiers=[]))  # regex is checked before tiers
    assert r.status_code == 400, r.text
    assert r.json()["code"] == 400
    assert r.json()["message"].startswith("Invalid regex pattern: ")


def test_create_invalid_regex_message_is_rust_regex_error(client: httpx.Client) -> None:
    # §4/§5: patterns are compiled by the Rust `regex` crate; `{e}` is its Display text.
    r = client.post(MODELS, json=definition(pattern="gpt-("))
    assert r.status_code == 400, r.text
    msg = r.json()["message"]
    assert msg.startswith("Invalid regex pattern: regex parse error:"), msg
    assert "error: unclosed group" in msg, msg


def test_create_rejects_lookaround_like_rust_regex(client: httpx.Client) -> None:
    # The Rust regex crate has no look-around: this pattern is invalid there (Python's re accepts it).
    r = client.post(MODELS, json=definition(pattern="gpt-4o(?!-mini)"))
    assert r.status_code == 400, r.text
    msg = r.json()["message"]
    assert msg.startswith("Invalid regex pattern: "), msg
    assert "look-around" in msg, msg


def test_create_accepts_rust_only_inline_flag(client: httpx.Client) -> None:
    # Rust regex accepts a flag group in the middle of a pattern (Python's re rejects it).
    body = create(client, definition(pattern="acme(?i)-MODEL"))
    assert body["match_pattern"] == "acme(?i)-MODEL"


@pytest.mark.parametrize(
    ("price", "shown"),
    [("-0.0000001", "-0.0000001"), ("-2.0", "-2")],
    ids=["small", "integral"],
)
def test_negative_price_is_shown_as_rust_f64(client: httpx.Client, price: str, shown: str) -> None:
    # Prices are f64; `{p}` is Rust's f64 Display (no exponent, no trailing ".0").
    raw = '{"name":"Acme","match_pattern":"acme","tiers":[{"name":"default","prices":{"input":' + price + "}}]}"
    r = client.post(MODELS, content=raw, headers={"Content-Type": "application/json"})
    bad_request(r, f"Price for 'input' in tier 'default' must be >= 0, got {shown}")


@pytest.mark.parametrize(
    "raw_tiers",
    [
        '[{"name":"long","condition":{"usage_key":"input","value":1e400},"prices":{}},{"name":"d","prices":{}}]',
        '[{"name":"default","prices":{"input":1e400}}]',
    ],
    ids=["condition-value", "price"],
)
def test_non_finite_number_never_reaches_validation(client: httpx.Client, raw_tiers: str) -> None:
    # JSON has no NaN/inf; serde_json fails a number beyond f64 with "number out of range", a syntax
    # error, so axum answers 400 in plain text before validate_definition can say "finite number".
    raw = '{"name":"Acme","match_pattern":"acme","tiers":' + raw_tiers + "}"
    r = client.post(MODELS, content=raw, headers={"Content-Type": "application/json"})
    assert r.status_code == 400, r.text
    assert r.headers["content-type"].startswith("text/plain"), r.text
    assert r.text.startswith("Failed to parse the request body as JSON: "), r.text
    assert "number out of range" in r.text
    assert client.get(MODELS).json() == []


# ---------------------------------------------------------------- duplicates


def test_create_duplicate_name(client: httpx.Client) -> None:
    create(client, definition("GPT House", "gpt-house"))
    r = client.post(MODELS, json=definition("GPT House", "other"))
    bad_request(r, "A model pricing definition with name 'GPT House' already exists in this organization")
    assert len(client.get(MODELS).json()) == 1


def test_create_duplicate_name_validation_comes_first(client: httpx.Client) -> None:
    create(client, definition("GPT House", "gpt-house"))
    bad_request(
        client.post(MODELS, json=definition("GPT House", "other", tiers=[])), "At least one pricing tier is required"
    )


def test_same_name_in_another_org_is_allowed(client: httpx.Client) -> None:
    make_org(client)
    create(client, definition("GPT House", "gpt-house"))
    other = create(client, definition("GPT House", "gpt-house"), org="other")
    assert other["org_id"] == "other"


def test_rename_onto_existing_name(client: httpx.Client) -> None:
    create(client, definition("First", "first"))
    second = create(client, definition("Second", "second"))
    r = client.put(f"{MODELS}/{second['id']}", json=definition("First", "second"))
    bad_request(r, "A model pricing definition with name 'First' already exists in this organization")
    assert client.get(f"{MODELS}/{second['id']}").json()["name"] == "Second"


# ---------------------------------------------------------------- get / update / delete


def test_get_by_id(client: httpx.Client) -> None:
    created = create(client, definition(provider="acme-ai"))
    r = client.get(f"{MODELS}/{created['id']}")
    assert r.status_code == 200, r.text
    assert r.json() == created


def test_get_unknown_id_is_404(client: httpx.Client) -> None:
    r = client.get(f"{MODELS}/0ujsswThIGTUYm2K8FjOOfXtY1K")
    assert r.status_code == 404
    assert r.json() == NOT_FOUND


def test_get_from_another_org_is_404(client: httpx.Client) -> None:
    make_org(client)
    created = create(client, definition())
    r = client.get(f"/api/other/llm/models/{created['id']}")
    assert r.status_code == 404
    assert r.json() == NOT_FOUND


def test_put_is_a_full_replacement(client: httpx.Client) -> None:
    created = create(
        client,
        definition(enabled=False, valid_from=BASE_US, sort_order=7, provider="acme-ai", description="d"),
    )
    new_tiers = [{"name": "flat", "prices": {"output": 5e-06}}]
    r = client.put(f"{MODELS}/{created['id']}", json={"name": "Acme 2", "match_pattern": "acme2", "tiers": new_tiers})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["id"] == created["id"]
    assert body["org_id"] == ORG
    assert body["source"] == "org"
    assert body["name"] == "Acme 2"
    assert body["match_pattern"] == "acme2"
    assert body["tiers"] == new_tiers
    # omitted fields revert to their defaults
    assert body["enabled"] is True
    assert body["sort_order"] == 0
    for gone in ("valid_from", "provider", "description", "children"):
        assert gone not in body, gone
    assert body["created_at"] == created["created_at"]
    assert body["updated_at"] >= created["updated_at"]
    assert client.get(f"{MODELS}/{created['id']}").json() == body


def test_put_keeping_its_own_name_is_not_a_duplicate(client: httpx.Client) -> None:
    created = create(client, definition())
    r = client.put(f"{MODELS}/{created['id']}", json=definition(sort_order=2))
    assert r.status_code == 200, r.text
    assert r.json()["sort_order"] == 2


def test_put_validates(client: httpx.Client) -> None:
    created = create(client, definition())
    bad_request(client.put(f"{MODELS}/{created['id']}", json=definition(match_pattern="")), "Match pattern is required")


def test_put_unknown_or_foreign_id_is_404(client: httpx.Client) -> None:
    make_org(client)
    created = create(client, definition())
    r = client.put(f"{MODELS}/0ujsswThIGTUYm2K8FjOOfXtY1K", json=definition())
    assert r.status_code == 404
    assert r.json() == NOT_FOUND
    r = client.put(f"/api/other/llm/models/{created['id']}", json=definition())
    assert r.status_code == 404
    assert r.json() == NOT_FOUND


def test_delete(client: httpx.Client) -> None:
    created = create(client, definition())
    r = client.delete(f"{MODELS}/{created['id']}")
    assert r.status_code == 200
    assert r.json() == {"code": 200, "message": "Model pricing definition deleted"}
    assert client.get(f"{MODELS}/{created['id']}").status_code == 404
    assert client.get(MODELS).json() == []


def test_delete_unknown_or_foreign_id_is_404(client: httpx.Client) -> None:
    make_org(client)
    created = create(client, definition())
    r = client.delete(f"{MODELS}/0ujsswThIGTUYm2K8FjOOfXtY1K")
    assert r.status_code == 404
    assert r.json() == NOT_FOUND
    r = client.delete(f"/api/other/llm/models/{created['id']}")  # the lookup is scoped to {org}
    assert r.status_code == 404
    assert r.json() == NOT_FOUND
    assert client.get(f"{MODELS}/{created['id']}").status_code == 200


# ---------------------------------------------------------------- list


def test_list_empty(client: httpx.Client) -> None:
    r = client.get(MODELS)
    assert r.status_code == 200
    assert r.json() == []


def test_list_includes_disabled_rows_and_only_this_org(client: httpx.Client) -> None:
    make_org(client)
    off = create(client, definition("Off", "off", enabled=False))
    on = create(client, definition("On", "on"))
    create(client, definition("Elsewhere", "elsewhere"), org="other")
    assert client.get(MODELS).json() == [off, on]


def test_list_sorted_by_sort_order_then_name(client: httpx.Client) -> None:
    b = create(client, definition("b", "bbb"))
    a = create(client, definition("a", "aaa"))
    z = create(client, definition("z", "zzz", sort_order=-1))
    c = create(client, definition("c", "ccc", sort_order=1))
    assert [m["name"] for m in client.get(MODELS).json()] == [z["name"], a["name"], b["name"], c["name"]]


def test_list_groups_children_under_first_matching_parent(client: httpx.Client) -> None:
    a = create(client, definition("a", "gpt-4"))  # parent (literal prefix "gpt-4")
    b = create(client, definition("b", "gpt"))  # "gpt-4" does not match "gpt": parent
    c = create(client, definition("c", "gpt-4o"))  # "gpt-4" and "gpt" both match: first parent wins
    d = create(client, definition("d", "(?i)gpt-4o-mini"))  # child of a, never of the child c
    e = create(client, definition("e", "claude-3"))
    assert client.get(MODELS).json() == [{**a, "children": [c, d]}, b, e]


def test_list_child_of_case_insensitive_parent(client: httpx.Client) -> None:
    mini = create(client, definition("GPT-4o Mini", "(?i)gpt-4o-mini"))
    gpt4o = create(client, definition("GPT-4o", "(?i)gpt-4o"))
    # sorted by name: "GPT-4o" < "GPT-4o Mini", so GPT-4o is the parent
    assert client.get(MODELS).json() == [{**gpt4o, "children": [mini]}]


def test_list_literal_prefix_skips_caret_and_stops_at_metacharacters(client: httpx.Client) -> None:
    parent = create(client, definition("a", "gpt-4o$"))
    caret = create(client, definition("b", "^gpt-4o-mini"))  # "^" is skipped: prefix "gpt-4o-mini"
    dotted = create(client, definition("c", "gpt-4o.mini"))  # "." is a metacharacter: prefix "gpt-4o"
    escaped = create(client, definition("d", "gpt-4o\\.x"))  # "\." is a literal dot: prefix "gpt-4o.x"
    # `gpt-4o$` matches "gpt-4o" only: c is its child; b ("gpt-4o-mini") and d ("gpt-4o.x") are parents.
    assert client.get(MODELS).json() == [{**parent, "children": [dotted]}, caret, escaped]


def test_list_caret_anchor_is_stripped_from_literal_prefix(client: httpx.Client) -> None:
    parent = create(client, definition("a", "gpt-4o"))
    caret = create(client, definition("b", "^gpt-4o-mini"))  # prefix "gpt-4o-mini" is matched by "gpt-4o"
    assert client.get(MODELS).json() == [{**parent, "children": [caret]}]


# ---------------------------------------------------------------- built-in and test


def test_built_in_offline_has_no_models(client: httpx.Client) -> None:
    create(client, definition())  # org rows are not built-ins
    r = client.get(f"{MODELS}/built-in")
    assert r.status_code == 200, r.text
    assert r.json() == {"models": [], "source_url": BUILT_IN_SOURCE_URL, "last_updated": 0}
    r = client.get(f"{MODELS}/built-in", params={"search": "gpt"})
    assert r.status_code == 200
    assert r.json()["models"] == []


def test_test_route_without_match_has_no_hardcoded_fallback(client: httpx.Client) -> None:
    r = client.post(f"{MODELS}/test", json={"model_name": "gpt-4o-mini", "usage": {"input": 1000, "output": 100}})
    assert r.status_code == 200, r.text
    assert r.json() == {"matched": None, "tier": None, "costs": {}, "total_cost": 0.0}


def test_test_route_with_match(client: httpx.Client) -> None:
    created = create(client, definition())
    r = client.post(f"{MODELS}/test", json={"model_name": "my-ACME-7b", "usage": {"input": 1000, "output": 10}})
    assert r.status_code == 200, r.text
    assert r.json() == {
        "matched": created,
        "tier": "default",
        "costs": {"input": 1000 * 1e-06, "output": 10 * 2e-06},
        "total_cost": pytest.approx(1000 * 1e-06 + 10 * 2e-06, rel=1e-12),
    }


def test_test_route_without_usage(client: httpx.Client) -> None:
    created = create(client, definition())
    r = client.post(f"{MODELS}/test", json={"model_name": "acme"})
    assert r.status_code == 200, r.text
    assert r.json() == {"matched": created, "tier": "default", "costs": {}, "total_cost": 0.0}


def test_test_route_reports_the_selected_conditional_tier(client: httpx.Client) -> None:
    tiers = [
        {
            "name": "long",
            "condition": {"usage_key": "input", "operator": "gt", "value": 500},
            "prices": {"input": 3e-06},
        },
        {"name": "default", "prices": {"input": 1e-06}},
    ]
    create(client, definition(tiers=tiers))
    r = client.post(f"{MODELS}/test", json={"model_name": "acme", "usage": {"input": 1000}})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["tier"] == "long"
    assert body["costs"] == {"input": 1000 * 3e-06}
    assert body["total_cost"] == pytest.approx(1000 * 3e-06, rel=1e-12)


def test_test_route_respects_valid_from(client: httpx.Client) -> None:
    create(client, definition(valid_from=BASE_US))
    r = client.post(f"{MODELS}/test", json={"model_name": "acme", "usage": {"input": 1}, "timestamp": BASE_US - 1})
    assert r.json() == {"matched": None, "tier": None, "costs": {}, "total_cost": 0.0}
    r = client.post(f"{MODELS}/test", json={"model_name": "acme", "usage": {"input": 1}, "timestamp": BASE_US})
    assert r.json()["tier"] == "default"


def test_test_route_requires_model_name(client: httpx.Client) -> None:
    r = client.post(f"{MODELS}/test", json={"usage": {"input": 1}})
    assert r.status_code == 422, r.text
    assert r.text.startswith("Failed to deserialize the JSON body into the target type: ")
    assert "missing field `model_name`" in r.text


# ================================================================ §4 pricing at ingestion


def test_org_definition_prices_per_token(client: httpx.Client, standin: Any) -> None:
    create(
        client, definition("Mini house", "4o-mini", tiers=[{"name": "d", "prices": {"input": 1e-06, "output": 2e-06}}])
    )
    send(client, [chat(tid=trace_id(), start=0, end=1, model="openai/gpt-4o-mini-2024-07-18")])  # unanchored
    rec = only_record(standin)
    assert rec["gen_ai_usage_cost_input"] == pytest.approx(120 * 1e-06, rel=1e-12)
    assert rec["gen_ai_usage_cost_output"] == pytest.approx(30 * 2e-06, rel=1e-12)
    assert rec["gen_ai_usage_cost"] == pytest.approx(120 * 1e-06 + 30 * 2e-06, rel=1e-12)


def test_hardcoded_table_prices_per_million(client: httpx.Client, standin: Any) -> None:
    send(client, [chat(tid=trace_id(), start=0, end=1)])
    rec = only_record(standin)
    ci, co = hardcoded_4o_mini(120, 30)
    assert rec["gen_ai_usage_cost_input"] == pytest.approx(ci, rel=1e-12)
    assert rec["gen_ai_usage_cost_output"] == pytest.approx(co, rel=1e-12)
    assert rec["gen_ai_usage_cost"] == pytest.approx(ci + co, rel=1e-12)


def test_org_definition_is_case_sensitive_without_flag(client: httpx.Client, standin: Any) -> None:
    create(client, definition("Shouty", "acme-model"))
    send(client, [chat(tid=trace_id(), start=0, end=1, model="ACME-MODEL")])
    rec = only_record(standin)
    assert rec["gen_ai_usage_cost"] == 0.0
    assert "gen_ai_usage_cost_input" not in rec
    assert "gen_ai_usage_cost_output" not in rec


def test_org_definition_case_insensitive_with_flag(client: httpx.Client, standin: Any) -> None:
    create(client, definition("Shouty", "(?i)acme-model"))
    send(client, [chat(tid=trace_id(), start=0, end=1, model="ACME-MODEL")])
    rec = only_record(standin)
    assert rec["gen_ai_usage_cost"] == pytest.approx(120 * 1e-06 + 30 * 2e-06, rel=1e-12)


def test_org_definition_beats_hardcoded_table(client: httpx.Client, standin: Any) -> None:
    create(client, definition("Mini", "gpt-4o-mini", tiers=[{"name": "d", "prices": {"input": 1e-05}}]))
    send(client, [chat(tid=trace_id(), start=0, end=1)])
    rec = only_record(standin)
    assert rec["gen_ai_usage_cost_input"] == pytest.approx(120 * 1e-05, rel=1e-12)
    # a matched definition without an output price yields no output cost, and no hard-coded fallback
    assert "gen_ai_usage_cost_output" not in rec
    assert rec["gen_ai_usage_cost"] == pytest.approx(120 * 1e-05, rel=1e-12)


def test_matched_definition_without_cost_does_not_fall_back(client: httpx.Client, standin: Any) -> None:
    create(client, definition("Free mini", "gpt-4o-mini", tiers=[{"name": "d", "prices": {}}]))
    send(client, [chat(tid=trace_id(), start=0, end=1)])
    rec = only_record(standin)
    assert rec["gen_ai_usage_cost"] == 0.0
    assert "gen_ai_usage_cost_input" not in rec
    assert "gen_ai_usage_cost_output" not in rec


def test_unknown_model_costs_zero_without_breakdown(client: httpx.Client, standin: Any) -> None:
    create(client, definition())
    send(client, [chat(tid=trace_id(), start=0, end=1, model="mystery-1")])
    rec = only_record(standin)
    assert rec["gen_ai_usage_cost"] == 0.0
    assert isinstance(rec["gen_ai_usage_cost"], float)
    assert "gen_ai_usage_cost_input" not in rec
    assert "gen_ai_usage_cost_output" not in rec
    assert rec["gen_ai_usage_input_tokens"] == 120


def test_disabled_definition_is_not_used(client: httpx.Client, standin: Any) -> None:
    create(client, definition("Mini", "gpt-4o-mini", enabled=False, tiers=[{"name": "d", "prices": {"input": 1e-05}}]))
    send(client, [chat(tid=trace_id(), start=0, end=1)])
    rec = only_record(standin)
    ci, co = hardcoded_4o_mini(120, 30)
    assert rec["gen_ai_usage_cost"] == pytest.approx(ci + co, rel=1e-12)


def test_definition_valid_after_span_start_is_skipped(client: httpx.Client, standin: Any) -> None:
    tiers = [{"name": "d", "prices": {"input": 1e-05, "output": 1e-05}}]
    create(client, definition("Mini later", "gpt-4o-mini", valid_from=BASE_US + 5_000_000, tiers=tiers))
    send(
        client,
        [
            chat(tid=trace_id(), start=4.999999, end=6, name="before"),  # starts 1 µs before valid_from
            chat(tid=trace_id(), start=5, end=6, name="after"),  # starts exactly at valid_from
        ],
    )
    before, after = only_record(standin, "before"), only_record(standin, "after")
    ci, co = hardcoded_4o_mini(120, 30)
    assert before["gen_ai_usage_cost"] == pytest.approx(ci + co, rel=1e-12)
    assert after["gen_ai_usage_cost"] == pytest.approx(150 * 1e-05, rel=1e-12)


def test_greatest_valid_from_wins(client: httpx.Client, standin: Any) -> None:
    create(client, definition("old", "acme", valid_from=BASE_US - 10_000_000))
    create(
        client,
        definition("new", "acme", valid_from=BASE_US - 1_000_000, tiers=[{"name": "d", "prices": {"input": 1e-03}}]),
    )
    create(client, definition("none", "acme", sort_order=-5, tiers=[{"name": "d", "prices": {"input": 1.0}}]))
    send(client, [chat(tid=trace_id(), start=0, end=1, model="acme")])
    assert only_record(standin)["gen_ai_usage_cost"] == pytest.approx(120 * 1e-03, rel=1e-12)


def test_sort_order_breaks_ties(client: httpx.Client, standin: Any) -> None:
    create(client, definition("a", "acme", tiers=[{"name": "d", "prices": {"input": 1.0}}]))
    create(client, definition("b", "acme", sort_order=-1, tiers=[{"name": "d", "prices": {"input": 2.0}}]))
    send(client, [chat(tid=trace_id(), start=0, end=1, model="acme")])
    assert only_record(standin)["gen_ai_usage_cost"] == 240.0


def test_name_breaks_ties_after_sort_order(client: httpx.Client, standin: Any) -> None:
    create(client, definition("b", "acme", tiers=[{"name": "d", "prices": {"input": 2.0}}]))
    create(client, definition("a", "acme", tiers=[{"name": "d", "prices": {"input": 1.0}}]))
    send(client, [chat(tid=trace_id(), start=0, end=1, model="acme")])
    assert only_record(standin)["gen_ai_usage_cost"] == 120.0


def test_conditional_tier_at_ingestion(client: httpx.Client, standin: Any) -> None:
    tiers = [
        {
            "name": "long",
            "condition": {"usage_key": "input", "operator": "gte", "value": 120},
            "prices": {"input": 2.0},
        },
        {"name": "default", "prices": {"input": 1.0}},
    ]
    create(client, definition(tiers=tiers))
    send(
        client,
        [
            chat(tid=trace_id(), start=0, end=1, model="acme", name="at"),
            chat(tid=trace_id(), start=0, end=1, model="acme", prompt=119, name="below"),
        ],
    )
    assert only_record(standin, "at")["gen_ai_usage_cost"] == 240.0
    assert only_record(standin, "below")["gen_ai_usage_cost"] == 119.0


def test_definition_created_later_does_not_reprice(client: httpx.Client, standin: Any) -> None:
    send(client, [chat(tid=trace_id(), start=0, end=1, name="early")])
    create(client, definition("Mini", "gpt-4o-mini", tiers=[{"name": "d", "prices": {"input": 1.0, "output": 1.0}}]))
    send(client, [chat(tid=trace_id(), start=2, end=3, name="late")])
    ci, co = hardcoded_4o_mini(120, 30)
    early = only_record(standin, "early")
    assert early["gen_ai_usage_cost_input"] == pytest.approx(ci, rel=1e-12)
    assert early["gen_ai_usage_cost"] == pytest.approx(ci + co, rel=1e-12)
    assert only_record(standin, "late")["gen_ai_usage_cost"] == 150.0


def test_deleted_definition_stops_pricing(client: httpx.Client, standin: Any) -> None:
    created = create(client, definition())
    assert client.delete(f"{MODELS}/{created['id']}").status_code == 200
    send(client, [chat(tid=trace_id(), start=0, end=1, model="acme")])
    rec = only_record(standin)
    assert rec["gen_ai_usage_cost"] == 0.0
    assert "gen_ai_usage_cost_input" not in rec


# ================================================================ §6 /traces/session


def seed_sessions(client: httpx.Client) -> dict[str, str]:
    """s-a: 2 traces (3 LLM spans, 1 error, users u2/u1), ends last; s-b: 1 trace, starts later, ends earlier;
    s-c: a pipecat span with only session.id (no trigger key), the latest of all."""
    t1, t2, t3, t4 = trace_id(), trace_id(), trace_id(), trace_id()
    root1 = "a1a1a1a1a1a1a1a1"
    long_text = "x" * 450
    send(
        client,
        [
            # trace 1: an unprocessed pipecat parent that carries gen_ai.usage.input_tokens (no session column)
            plain("llm", tid=t1, start=1.5, end=4.5, sid=root1, **{"gen_ai.usage.input_tokens": 1000}),
            chat(
                tid=t1,
                start=2,
                end=3,
                parent=root1,
                session="s-a",
                user="u2",
                input_value=messages(("system", "be brief"), ("user", long_text)),
            ),
            chat(tid=t1, start=3, end=4, parent=root1, session="s-a", user="u1", prompt=80, completion=20, error=True),
            chat(
                tid=t2,
                start=10,
                end=11,
                session="s-a",
                user="u1",
                prompt=10,
                completion=5,
                input_value=messages(("user", "later")),
            ),
            chat(tid=t3, start=5, end=6, session="s-b", user="u3", input_value=messages(("user", "hello b"))),
            plain("pipecat.conversation", tid=t4, start=20, end=30, **{"session.id": "s-c"}),
        ],
    )
    return {"t1": t1, "t2": t2, "t3": t3}


def test_sessions_missing_start_time(client: httpx.Client) -> None:
    send(client, [chat(tid=trace_id(), start=0, end=1, session="s")])
    bad_request(client.get(SESSIONS, params={"end_time": WINDOW["end_time"]}), "start_time is empty")
    bad_request(client.get(SESSIONS, params={**WINDOW, "start_time": 0}), "start_time is empty")


def test_sessions_missing_end_time(client: httpx.Client) -> None:
    send(client, [chat(tid=trace_id(), start=0, end=1, session="s")])
    bad_request(client.get(SESSIONS, params={"start_time": WINDOW["start_time"]}), "end_time is empty")
    bad_request(client.get(SESSIONS, params={**WINDOW, "end_time": 0}), "end_time is empty")


def test_sessions_start_time_checked_first(client: httpx.Client) -> None:
    bad_request(client.get(SESSIONS), "start_time is empty")


def test_sessions_list_aggregates(client: httpx.Client) -> None:
    seed_sessions(client)
    r = client.get(SESSIONS, params=WINDOW)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) <= {
        "took",
        "total",
        "from",
        "size",
        "hits",
        "trace_id",
        "function_error",
        "has_more",
        "total_is_exact",
    }
    assert (body["from"], body["size"], body["total"]) == (0, 10, 2)
    assert body["has_more"] is False
    assert body["total_is_exact"] is True
    # grouped by gen_ai_conversation_id only: s-c (session.id on an unprocessed span) is absent;
    # ordered by end_time descending (s-b starts after s-a but ends before it)
    assert [h["session_id"] for h in body["hits"]] == ["s-a", "s-b"]
    a = body["hits"][0]
    assert set(a) == SESSION_HIT_KEYS
    assert a["start_time"] == at(2)
    assert a["end_time"] == at(11)
    assert a["duration"] == 9 * SECOND
    assert a["trace_count"] == 2
    # only spans with the session column count: the parent's 1000 input tokens are not included
    assert a["gen_ai_usage_input_tokens"] == 210
    assert a["gen_ai_usage_output_tokens"] == 55
    assert a["gen_ai_usage_total_tokens"] == 265
    expected_cost = sum(sum(hardcoded_4o_mini(p, c)) for p, c in ((120, 30), (80, 20), (10, 5)))
    assert a["gen_ai_usage_cost"] == pytest.approx(expected_cost, rel=1e-9)
    assert a["error_count"] == 1
    assert a["user_ids"] == ["u1", "u2"]
    assert a["first_user_message"] == "x" * 400
    for f in CACHE_FIELDS:  # provisioned on an LLM stream, never set: the SQL sum is null
        assert a[f] is None, f
    b = body["hits"][1]
    assert (b["trace_count"], b["error_count"], b["user_ids"]) == (1, 0, ["u3"])
    assert b["first_user_message"] == "hello b"
    assert (b["start_time"], b["end_time"], b["duration"]) == (at(5), at(6), SECOND)


def test_sessions_first_user_message_null_without_input(client: httpx.Client) -> None:
    send(client, [chat(tid=trace_id(), start=0, end=1, session="quiet")])
    (hit,) = client.get(SESSIONS, params=WINDOW).json()["hits"]
    assert hit["first_user_message"] is None
    assert hit["user_ids"] == []


def test_sessions_first_user_message_from_earliest_span(client: httpx.Client) -> None:
    tid = trace_id()
    send(
        client,
        [
            chat(tid=tid, start=3, end=4, session="s", input_value=messages(("user", "second"))),
            chat(tid=tid, start=1, end=2, session="s", input_value=messages(("assistant", "hi"), ("human", "first"))),
        ],
    )
    (hit,) = client.get(SESSIONS, params=WINDOW).json()["hits"]
    assert hit["first_user_message"] == "first"


def test_sessions_pagination(client: httpx.Client) -> None:
    seed_sessions(client)
    body = client.get(SESSIONS, params={**WINDOW, "size": 1}).json()
    assert [h["session_id"] for h in body["hits"]] == ["s-a"]
    assert (body["from"], body["size"], body["total"], body["has_more"], body["total_is_exact"]) == (
        0,
        1,
        2,
        True,
        False,
    )
    body = client.get(SESSIONS, params={**WINDOW, "size": 1, "from": 1}).json()
    assert [h["session_id"] for h in body["hits"]] == ["s-b"]
    assert (body["from"], body["size"], body["total"], body["has_more"], body["total_is_exact"]) == (
        1,
        1,
        2,
        False,
        True,
    )
    body = client.get(SESSIONS, params={**WINDOW, "size": 1, "from": 2}).json()
    assert (body["hits"], body["total"], body["has_more"], body["total_is_exact"]) == ([], 2, False, True)


def test_sessions_size_and_from_are_clamped(client: httpx.Client) -> None:
    seed_sessions(client)
    body = client.get(SESSIONS, params={**WINDOW, "size": 0, "from": -4}).json()
    assert (body["from"], body["size"]) == (0, 1)
    assert [h["session_id"] for h in body["hits"]] == ["s-a"]
    assert body["has_more"] is True


def test_sessions_time_window_applies(client: httpx.Client) -> None:
    seed_sessions(client)
    params = {"start_time": BASE_US + 4_000_000, "end_time": BASE_US + 9_000_000}  # only s-b's span starts here
    assert [h["session_id"] for h in client.get(SESSIONS, params=params).json()["hits"]] == ["s-b"]


def test_sessions_filter_matches_any_span(client: httpx.Client) -> None:
    seed_sessions(client)
    r = client.get(SESSIONS, params={**WINDOW, "filter": "user_id = 'u2'"})
    assert r.status_code == 200, r.text
    (hit,) = r.json()["hits"]
    assert hit["session_id"] == "s-a"
    assert hit["trace_count"] == 2  # the aggregate still covers every span of the session


def test_sessions_llm_stream_without_conversation_is_empty(client: httpx.Client) -> None:
    send(client, [chat(tid=trace_id(), start=0, end=1)])
    body = client.get(SESSIONS, params=WINDOW).json()
    assert (body["hits"], body["total"], body["has_more"], body["total_is_exact"]) == ([], 0, False, True)


def test_sessions_without_session_column_is_empty(client: httpx.Client) -> None:
    # All four required columns, no trigger key: the stream has no gen_ai_conversation_id column.
    attrs = {
        "gen_ai.usage.input_tokens": 5,
        "gen_ai.usage.output_tokens": 6,
        "gen_ai.usage.cost": "0.25",
        "gen_ai.response.model": "m",
        "session.id": "s-1",
    }
    send(client, [plain("llm", tid=trace_id(), start=0, end=1, **attrs)])
    r = client.get(SESSIONS, params=WINDOW)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["hits"], body["total"], body["has_more"], body["total_is_exact"]) == ([], 0, False, True)


def test_sessions_schema_check_gen_ai_layout(client: httpx.Client) -> None:
    send(client, [plain("llm", tid=trace_id(), start=0, end=1, **{"gen_ai.usage.input_tokens": 5})])
    bad_request(
        client.get(SESSIONS, params=WINDOW),
        "Missing required LLM field 'gen_ai_usage_output_tokens' in stream 'default'",
    )


def test_sessions_schema_check_legacy_layout(client: httpx.Client) -> None:
    send(client, [plain("turn", tid=trace_id(), start=0, end=1, **{"session.id": "s"})])
    bad_request(
        client.get(SESSIONS, params=WINDOW),
        "Missing required LLM field 'llm_usage_tokens_input' in stream 'default'",
    )


# ================================================================ §6 /traces/session/details


def test_details_requires_session_id(client: httpx.Client) -> None:
    send(client, [chat(tid=trace_id(), start=0, end=1, session="s")])
    bad_request(client.get(DETAILS, params=WINDOW), "session_id is empty")


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"start_time": BASE_US}, "start_time and end_time must be provided together"),
        ({"end_time": BASE_US}, "start_time and end_time must be provided together"),
        ({"start_time": "abc", "end_time": BASE_US}, "Invalid start_time parameter"),
        ({"start_time": BASE_US, "end_time": "abc"}, "Invalid end_time parameter"),
        ({"start_time": 0, "end_time": BASE_US}, "start_time and end_time must both be zero or non-zero"),
        ({"start_time": BASE_US, "end_time": 0}, "start_time and end_time must both be zero or non-zero"),
        ({"start_time": BASE_US + 1, "end_time": BASE_US}, "start_time must not be greater than end_time"),
    ],
    ids=["start-only", "end-only", "bad-start", "bad-end", "zero-start", "zero-end", "reversed"],
)
def test_details_time_range_errors(client: httpx.Client, params: dict[str, Any], message: str) -> None:
    send(client, [chat(tid=trace_id(), start=0, end=1, session="s")])
    bad_request(client.get(DETAILS, params={"session_id": "s", **params}), message)


def seed_details(client: httpx.Client) -> dict[str, str]:
    """s1 reaches trace A only through `session_id` (unprocessed span) and trace B only through
    `gen_ai_conversation_id` (from gen_ai.conversation.id); trace C belongs to s2."""
    ta, tb, tc = trace_id(), trace_id(), trace_id()
    root_b, llm_b = "b0b0b0b0b0b0b0b0", "b1b1b1b1b1b1b1b1"
    inp = messages(("user", "x" * 450))
    send(
        client,
        [
            plain("pipecat.conversation", tid=ta, start=1, end=2, **{"session.id": "s1"}),
            plain("turn", tid=tb, start=5, end=8, sid=root_b),
            otlp_span(
                "llm",
                tid=tb,
                sid=llm_b,
                parent=root_b,
                start_ns=at(6),
                end_ns=at(7),
                attrs={"gen_ai.usage.input_tokens": 42},
                status={"code": 2, "message": "boom"},
            ),
            chat(
                tid=tb,
                start=6.1,
                end=6.9,
                parent=llm_b,
                input_value=inp,
                **{"gen_ai.conversation.id": "s1"},
            ),
            chat(tid=tc, start=3, end=4, session="s2", model="gpt-4o-2024-08-06"),
        ],
    )
    return {"ta": ta, "tb": tb, "tc": tc, "input": inp}


def test_details_membership_and_hit_fields(client: httpx.Client) -> None:
    ids = seed_details(client)
    r = client.get(DETAILS, params={"session_id": "s1", **WINDOW})
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) <= {"took", "total", "from", "size", "hits", "trace_id", "function_error"}
    assert (body["from"], body["size"], body["total"]) == (0, 1000, 2)
    # start descending: B (5 s) before A (1 s); C (s2) is not a member
    assert [h["trace_id"] for h in body["hits"]] == [ids["tb"], ids["ta"]]
    b, a = body["hits"]
    assert set(b) == DETAIL_HIT_KEYS
    assert (b["start_time"], b["end_time"], b["duration"]) == (at(5), at(8), 3_000_000)
    assert b["spans"] == [3, 1]
    assert [(s["service_name"], s["count"]) for s in b["service_name"]] == [("bot", 3)]
    for s in b["service_name"]:
        assert set(s) <= {"service_name", "count", "duration", "service_type"}
    assert b["first_event"] == {"service_name": "bot", "operation_name": "turn"}
    # sums over all spans of the trace: the unprocessed parent's 42 tokens are counted too
    assert b["gen_ai_usage_input_tokens"] == 162
    assert b["gen_ai_usage_output_tokens"] == 30
    assert b["gen_ai_usage_total_tokens"] == 150
    assert b["gen_ai_usage_cost"] == pytest.approx(sum(hardcoded_4o_mini(120, 30)), rel=1e-9)
    for f in CACHE_FIELDS:
        assert b[f] == 0, f
    assert b["gen_ai_input_messages"] == ids["input"]  # raw, not truncated
    assert b["models"] == ["gpt-4o-mini-2024-07-18"]
    assert set(a) == DETAIL_HIT_KEYS
    assert (a["start_time"], a["end_time"], a["duration"]) == (at(1), at(2), 1_000_000)
    assert a["spans"] == [1, 0]
    assert a["first_event"] == {"service_name": "bot", "operation_name": "pipecat.conversation"}
    assert (a["gen_ai_usage_input_tokens"], a["gen_ai_usage_output_tokens"], a["gen_ai_usage_total_tokens"]) == (
        0,
        0,
        0,
    )
    assert a["gen_ai_usage_cost"] == 0
    assert a["gen_ai_input_messages"] is None
    assert a["models"] == []


def test_details_other_session(client: httpx.Client) -> None:
    ids = seed_details(client)
    (hit,) = client.get(DETAILS, params={"session_id": "s2", **WINDOW}).json()["hits"]
    assert hit["trace_id"] == ids["tc"]
    assert hit["models"] == ["gpt-4o-2024-08-06"]
    assert hit["spans"] == [1, 0]


def test_details_pagination(client: httpx.Client) -> None:
    ids = seed_details(client)
    body = client.get(DETAILS, params={"session_id": "s1", "size": 1, **WINDOW}).json()
    assert [h["trace_id"] for h in body["hits"]] == [ids["tb"]]
    assert (body["from"], body["size"], body["total"]) == (0, 1, 1)
    body = client.get(DETAILS, params={"session_id": "s1", "size": 1, "from": 1, **WINDOW}).json()
    assert [h["trace_id"] for h in body["hits"]] == [ids["ta"]]
    assert (body["from"], body["size"], body["total"]) == (1, 1, 1)


def test_details_first_event_prefers_root_span(client: httpx.Client) -> None:
    tid, root = trace_id(), "c0c0c0c0c0c0c0c0"
    send(
        client,
        [
            chat(tid=tid, start=1, end=2, parent=root, session="s"),  # earlier than its root (clock skew)
            plain("turn", tid=tid, start=1.5, end=3, sid=root),
        ],
    )
    (hit,) = client.get(DETAILS, params={"session_id": "s", **WINDOW}).json()["hits"]
    assert hit["first_event"] == {"service_name": "bot", "operation_name": "turn"}


def test_details_first_event_falls_back_to_earliest_span(client: httpx.Client) -> None:
    tid = trace_id()
    send(
        client,
        [
            chat(tid=tid, start=2, end=3, parent="d0d0d0d0d0d0d0d0", session="s", name="late"),
            chat(tid=tid, start=1, end=3, parent="d0d0d0d0d0d0d0d0", session="s", name="early"),
        ],
    )
    (hit,) = client.get(DETAILS, params={"session_id": "s", **WINDOW}).json()["hits"]
    assert hit["first_event"] == {"service_name": "bot", "operation_name": "early"}


def test_details_unknown_session_without_range(client: httpx.Client) -> None:
    send(client, [chat(tid=trace_id(), start=0, end=1, session="s")])
    bad_request(
        client.get(DETAILS, params={"session_id": "nope"}),
        "A caller time range is required when the session time index has no result",
    )


def test_details_schema_check(client: httpx.Client) -> None:
    send(client, [plain("turn", tid=trace_id(), start=0, end=1, **{"session.id": "s"})])
    bad_request(
        client.get(DETAILS, params={"session_id": "s", **WINDOW}),
        "Missing required LLM field 'llm_usage_tokens_input' in stream 'default'",
    )


def test_details_without_range_uses_the_time_index(client: httpx.Client) -> None:
    ids = seed_details(client)
    r = client.get(DETAILS, params={"session_id": "s1"})
    assert r.status_code == 200, r.text
    assert [h["trace_id"] for h in r.json()["hits"]] == [ids["tb"], ids["ta"]]
