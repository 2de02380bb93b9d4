"""§2.4/§2.5 as properties: ASCII attribute keys normalise per `flatten::format_key`; ints stringify."""

from __future__ import annotations

import string
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .helpers import ORG, ingest, otlp_span

# keys start with "zz" so they never hit a reserved name, a resource column or an LLM trigger key
KEY = st.text(alphabet=string.ascii_letters + string.digits + "_.-/ :@#", min_size=1, max_size=12).map(
    lambda s: "zz" + s
)
INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)


def format_key(key: str) -> str:
    return "".join(c.lower() if c.isascii() and c.isalnum() else "_" for c in key)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(attrs=st.dictionaries(KEY, INT64, min_size=1, max_size=6))
def test_ascii_keys_normalised_and_ints_stringified(client: httpx.Client, standin: Any, attrs: dict[str, int]) -> None:
    normalised = [format_key(k) for k in attrs]
    if len(set(normalised)) != len(normalised):
        return  # colliding keys: the winner is unspecified (§2.4.4)
    name = f"prop{len(standin.records(ORG, 'default'))}"
    r = ingest(client, [otlp_span(name, attrs=attrs)])
    assert r.status_code == 200, r.text
    (rec,) = [x for x in standin.records(ORG, "default") if x["operation_name"] == name]
    for raw, value in attrs.items():
        assert rec[format_key(raw)] == str(value), raw


def test_non_ascii_keys(client: httpx.Client, standin: Any) -> None:
    r = ingest(client, [otlp_span("uni", attrs={"Größe": "1", "Ä.b": "2", "zz-Ü": "3"})])
    assert r.status_code == 200
    (rec,) = standin.records(ORG, "default")
    assert rec["größe"] == "1"
    assert rec["ä_b"] == "2"
    assert rec["zz_ü"] == "3"
