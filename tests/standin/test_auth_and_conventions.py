"""§1 of the reference: authentication, health/config, body rules, routing."""

from __future__ import annotations

import base64

import httpx
import pytest

from .helpers import (
    PREFIX_400_JSON,
    PREFIX_422,
    ROOT_EMAIL,
    ROOT_PASSWORD,
    TEXT_415,
    dashboard_body,
    ingest,
    otlp_span,
)

WWW_AUTH = 'Bearer realm="openobserve"'


def _b64(s: str) -> str:
    return base64.b64encode(s.encode()).decode()


# ---------------------------------------------------------------- §1.1 auth


def test_auth_no_header_is_json_401_without_www_authenticate(anon: httpx.Client) -> None:
    r = anon.get("/api/default/dashboards")
    assert r.status_code == 401
    assert r.json() == {"code": 401, "message": "Unauthorized Access"}
    assert "www-authenticate" not in r.headers


@pytest.mark.parametrize(
    "header",
    [
        "Basic " + _b64(f"{ROOT_EMAIL}:wrong-password"),
        "Basic " + _b64(f"nobody@example.com:{ROOT_PASSWORD}"),
        "Basic " + _b64("no-colon-here"),
        "Basic !!!not-base64!!!",
        "Token abcdef",
        "Basic" + _b64(f"{ROOT_EMAIL}:{ROOT_PASSWORD}"),  # prefix must be exactly "Basic "
    ],
    ids=["wrong-password", "unknown-user", "no-colon", "bad-base64", "other-scheme", "no-space"],
)
def test_auth_bad_credentials_plain_text_401_with_www_authenticate(anon: httpx.Client, header: str) -> None:
    r = anon.get("/api/default/dashboards", headers={"Authorization": header})
    assert r.status_code == 401
    assert r.text == "Unauthorized Access"
    assert r.headers["www-authenticate"] == WWW_AUTH
    assert r.headers["content-type"].startswith("text/plain")


def test_auth_bearer_not_supported(anon: httpx.Client) -> None:
    r = anon.get("/api/default/dashboards", headers={"Authorization": "Bearer eyJhbGciOi.x.y"})
    assert r.status_code == 401
    assert r.text == "Not Supported"
    assert r.headers["www-authenticate"] == WWW_AUTH


def test_auth_good_credentials_accepted(client: httpx.Client) -> None:
    r = client.get("/api/default/dashboards")
    assert r.status_code == 200
    assert r.json() == {"dashboards": []}


def test_auth_unknown_org_is_404_plain_text(client: httpx.Client) -> None:
    r = client.get("/api/nosuchorg/dashboards")
    assert r.status_code == 404
    assert r.text == "Organization not found"


def test_auth_root_first_ingestion_creates_org(client: httpx.Client) -> None:
    assert client.get("/api/freshorg/dashboards").status_code == 404
    r = ingest(client, [otlp_span("first")], org="freshorg")
    assert r.status_code == 200, r.text
    r = client.get("/api/freshorg/dashboards")
    assert r.status_code == 200
    assert r.json() == {"dashboards": []}


def test_auth_api_responses_carry_x_api_node(client: httpx.Client) -> None:
    r = client.get("/api/default/dashboards")
    assert r.headers.get("x-api-node")


# ---------------------------------------------------------------- §1.2 health, config


def test_healthz_get_without_auth(anon: httpx.Client) -> None:
    r = anon.get("/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}


def test_healthz_head_is_empty_200(anon: httpx.Client) -> None:
    r = anon.head("/healthz")
    assert r.status_code == 200
    assert r.content == b""


def test_config_without_auth_has_version(anon: httpx.Client) -> None:
    r = anon.get("/config")
    assert r.status_code == 200
    cfg = r.json()
    assert isinstance(cfg["version"], str) and cfg["version"]
    assert cfg["build_type"] == "opensource"
    assert cfg["timestamp_column"] == "_timestamp"


def test_no_org_version_route(client: httpx.Client) -> None:
    r = client.get("/api/default/version")
    assert r.status_code == 404


# ---------------------------------------------------------------- §1.3 body rules


def test_body_missing_content_type_is_415(client: httpx.Client) -> None:
    r = client.post("/api/default/dashboards", content=b'{"title":"x"}')
    assert r.status_code == 415
    assert r.text == TEXT_415


def test_body_non_json_content_type_is_415(client: httpx.Client) -> None:
    r = client.post("/api/default/dashboards", content=b'{"title":"x"}', headers={"Content-Type": "text/plain"})
    assert r.status_code == 415
    assert r.text == TEXT_415


def test_body_invalid_json_is_400_plain_text(client: httpx.Client) -> None:
    r = client.post("/api/default/dashboards", content=b'{"title": ', headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    assert r.text.startswith(PREFIX_400_JSON)
    assert r.headers["content-type"].startswith("text/plain")


def test_body_wrong_shape_is_422_plain_text(client: httpx.Client) -> None:
    r = client.post("/api/default/alerts/destinations", json={"name": "d", "url": "http://1.1.1.1/", "type": 5})
    assert r.status_code == 422
    assert r.text.startswith(PREFIX_422)
    assert r.headers["content-type"].startswith("text/plain")


def test_body_unknown_keys_dropped_not_echoed(client: httpx.Client) -> None:
    r = client.post("/api/default/dashboards", json=dashboard_body("x", bogusKey=1, folder_id="nope"))
    assert r.status_code == 200, r.text
    dash = r.json()["v8"]
    assert "bogusKey" not in dash
    assert "folder_id" not in dash
    got = client.get(f"/api/default/dashboards/{dash['dashboardId']}").json()["v8"]
    assert "bogusKey" not in got


def test_routing_unknown_route_404_empty(client: httpx.Client) -> None:
    r = client.get("/api/default/definitely/not/a/route/at/all")
    assert r.status_code == 404
    assert r.content == b""


def test_routing_wrong_method_405(client: httpx.Client) -> None:
    r = client.patch("/api/default/dashboards", json={})
    assert r.status_code == 405
