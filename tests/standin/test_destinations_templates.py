"""§6 of the reference: alert destinations and templates, SSRF guard."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from .helpers import (
    ROOT_EMAIL,
    ROOT_PASSWORD,
    alert_body,
    create_alert,
    create_destination,
    create_template,
    ingest_ok,
    otlp_span,
)

DST = "/api/default/alerts/destinations"
TPL = "/api/default/alerts/templates"
PUBLIC = "http://1.1.1.1/hook"  # an IP literal: needs no DNS, passes the SSRF guard
MSG_DEST_NAME = "Destination name cannot contain ':', '#', '?', '&', '%', '/', quotes and space characters"
SSRF_PREFIX = "Destination URL blocked by SSRF guard: "


# ---------------------------------------------------------------- templates


def test_template_create_get_update_delete(client: httpx.Client) -> None:
    r = client.post(TPL, json={"name": "my_tpl", "body": '{"text":"{alert_name}"}'})
    assert r.status_code == 200
    body = r.json()
    assert body["code"] == 200
    assert body["message"] == "Template saved"
    assert body["name"] == "my_tpl"
    assert isinstance(body["id"], str) and len(body["id"]) == 27

    r = client.get(f"{TPL}/my_tpl")
    assert r.status_code == 200
    t = r.json()
    assert t["name"] == "my_tpl"
    assert t["body"] == '{"text":"{alert_name}"}'
    assert t["type"] == "http"
    assert t["title"] == ""
    assert t["isPrebuilt"] is False

    r = client.put(f"{TPL}/my_tpl", json={"name": "my_tpl", "body": "changed"})
    assert r.status_code == 200
    assert r.json() == {"code": 200, "message": "Template updated"}
    assert client.get(f"{TPL}/my_tpl").json()["body"] == "changed"

    r = client.delete(f"{TPL}/my_tpl")
    assert r.status_code == 200
    assert r.json() == {"code": 200, "message": "Template deleted"}
    r = client.get(f"{TPL}/my_tpl")
    assert r.status_code == 404
    assert r.json() == {"code": 404, "message": "Template not found"}


def test_template_list_is_bare_array_with_prebuilt_from_default_org(client: httpx.Client) -> None:
    ingest_ok(client, [otlp_span("x")], org="acme")
    create_template(client, "acme_tpl", "hello", org="acme")
    r = client.get("/api/acme/alerts/templates")
    assert r.status_code == 200
    lst = r.json()
    assert isinstance(lst, list)
    names = [t["name"] for t in lst]
    assert "acme_tpl" in names
    assert "o2_default_content" in names
    prebuilt = [t for t in lst if t["name"].startswith("prebuilt_")]
    assert len(prebuilt) == 8
    assert all(t["isPrebuilt"] is True for t in prebuilt)
    (default_content,) = [t for t in lst if t["name"] == "o2_default_content"]
    assert default_content["isPrebuilt"] is False
    assert default_content["isDefault"] is None
    (own,) = [t for t in lst if t["name"] == "acme_tpl"]
    assert own["isDefault"] is None
    # a template from org default is also readable by name from another org
    assert client.get("/api/acme/alerts/templates/o2_default_content").status_code == 200


def test_template_is_default_true_in_default_org(client: httpx.Client) -> None:
    create_template(client, "in_default", "x", isDefault=False)
    assert client.get(f"{TPL}/in_default").json()["isDefault"] is True


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"name": "t", "body": ""}, "Template body cannot be empty"),
        ({"name": "", "body": ""}, "Template body cannot be empty"),  # body is checked first
        ({"name": "  ", "body": "x"}, "Template name cannot be empty"),
        ({"name": "e", "body": "x", "type": "email"}, "Email Template cannot have empty title"),
        ({"name": "k", "body": "x", "kind": "weird"}, "invalid template kind: weird"),
    ],
    ids=["empty-body", "body-before-name", "empty-name", "email-no-title", "bad-kind"],
)
def test_template_validation_400(client: httpx.Client, payload: dict[str, Any], message: str) -> None:
    r = client.post(TPL, json=payload)
    assert r.status_code == 400
    assert r.json() == {"code": 400, "message": message}


@pytest.mark.parametrize("name", ["a b", "a/b", "a:b", "a#b", "a?b", "a&b", "a%b", "a'b", 'a"b'])
def test_template_invalid_name_is_400(client: httpx.Client, name: str) -> None:
    r = client.post(TPL, json={"name": name, "body": "x"})
    assert r.status_code == 400
    assert r.json()["code"] == 400


def test_template_reserved_name_is_400(client: httpx.Client) -> None:
    r = client.post(TPL, json={"name": "prebuilt_slack", "body": "x"})
    assert r.status_code == 400
    assert r.json()["message"].startswith("Template name 'prebuilt_slack' is reserved")


def test_template_duplicate_is_400(client: httpx.Client) -> None:
    create_template(client, "dup", "x")
    r = client.post(TPL, json={"name": "dup", "body": "y"})
    assert r.status_code == 400
    assert r.json() == {"code": 400, "message": "Template with the same name already exists"}


def test_template_in_use_by_destination_is_409(client: httpx.Client) -> None:
    create_template(client, "used", "x")
    create_destination(client, "d1", PUBLIC, template="used")
    r = client.delete(f"{TPL}/used")
    assert r.status_code == 409
    assert r.json() == {"code": 409, "message": "Template is in use for destination d1"}


def test_template_in_use_by_alert_is_400(lclient: httpx.Client) -> None:
    ingest_ok(lclient, [otlp_span("x")])
    create_template(lclient, "alert_tpl", "x")
    create_destination(lclient, "hook", "http://127.0.0.1:9/hook")
    create_alert(lclient, alert_body("uses_tpl", template="alert_tpl"))
    r = lclient.delete(f"{TPL}/alert_tpl")
    assert r.status_code == 400
    assert r.json() == {"code": 400, "message": "Template is in use for alert uses_tpl"}


# ---------------------------------------------------------------- destinations


def test_destination_create_get_update_delete(client: httpx.Client) -> None:
    r = client.post(DST, json={"name": "hook", "url": PUBLIC, "headers": {"X-A": "1"}, "bogus": 1})
    assert r.status_code == 200
    body = r.json()
    assert body["code"] == 200
    assert body["message"] == "Destination saved"
    assert body["name"] == "hook"
    assert isinstance(body["id"], str) and body["id"]

    r = client.get(f"{DST}/hook")
    assert r.status_code == 200
    d = r.json()
    assert d["name"] == "hook"
    assert d["type"] == "http"
    assert d["url"] == PUBLIC
    assert d["method"] == "post"
    assert d["skip_tls_verify"] is False
    assert d["headers"] == {"X-A": "1"}
    assert d["emails"] == []
    assert d["metadata"] == {}
    for k in ("id", "module", "org_id", "bogus"):
        assert k not in d

    r = client.put(f"{DST}/hook", json={"name": "ignored", "url": "http://1.0.0.1/x", "method": "put"})
    assert r.status_code == 200
    assert r.json() == {"code": 200, "message": "Destination updated"}
    d = client.get(f"{DST}/hook").json()
    assert d["name"] == "hook"  # the path name wins
    assert d["url"] == "http://1.0.0.1/x"
    assert d["method"] == "put"

    r = client.delete(f"{DST}/hook")
    assert r.status_code == 200
    assert r.json() == {"code": 200, "message": "Alert destination deleted"}
    r = client.get(f"{DST}/hook")
    assert r.status_code == 404
    assert r.json() == {"code": 404, "message": "Destination not found"}


def test_destination_list_bare_array_sorted_by_name(client: httpx.Client) -> None:
    for n in ("charlie", "alpha", "bravo"):
        create_destination(client, n, PUBLIC)
    r = client.get(DST)
    assert r.status_code == 200
    lst = r.json()
    assert isinstance(lst, list)
    assert [d["name"] for d in lst] == ["alpha", "bravo", "charlie"]
    assert client.get(DST, params={"module": "alert"}).json() == lst
    assert client.get(DST, params={"module": "nonsense"}).json() == []


def test_destination_update_missing_is_404(client: httpx.Client) -> None:
    r = client.put(f"{DST}/nope", json={"name": "nope", "url": PUBLIC})
    assert r.status_code == 404
    assert r.json() == {"code": 404, "message": "Destination not found"}


def test_destination_duplicate_is_400(client: httpx.Client) -> None:
    create_destination(client, "dup", PUBLIC)
    r = client.post(DST, json={"name": "dup", "url": PUBLIC})
    assert r.status_code == 400
    assert r.json() == {"code": 400, "message": "Destination with the same name already exists"}


def test_destination_empty_name_is_400(client: httpx.Client) -> None:
    r = client.post(DST, json={"name": "  ", "url": PUBLIC})
    assert r.status_code == 400
    assert r.json() == {"code": 400, "message": "Destination name cannot be empty"}


@pytest.mark.parametrize("name", ["a b", "a/b", "a:b", "a#b", "a?b", "a&b", "a%b", "a'b", 'a"b'])
def test_destination_invalid_name_is_400(client: httpx.Client, name: str) -> None:
    r = client.post(DST, json={"name": name, "url": PUBLIC})
    assert r.status_code == 400
    assert r.json() == {"code": 400, "message": MSG_DEST_NAME}


def test_destination_http_needs_url(client: httpx.Client) -> None:
    r = client.post(DST, json={"name": "nourl"})
    assert r.status_code == 400
    assert r.json() == {"code": 400, "message": "HTTP destination must have a url"}


def test_destination_type_checks_before_name_checks(client: httpx.Client) -> None:
    r = client.post(DST, json={"name": "bad name"})
    assert r.json() == {"code": 400, "message": "HTTP destination must have a url"}
    r = client.post(DST, json={"name": "bad name", "url": "http://127.0.0.1/x"})
    assert r.status_code == 400
    assert r.json()["message"].startswith(SSRF_PREFIX)


def test_destination_type_slack_is_422(client: httpx.Client) -> None:
    r = client.post(DST, json={"name": "s", "url": PUBLIC, "type": "slack"})
    assert r.status_code == 422
    assert r.text.startswith("Failed to deserialize the JSON body into the target type: ")


def test_destination_method_uppercase_is_422(client: httpx.Client) -> None:
    r = client.post(DST, json={"name": "m", "url": PUBLIC, "method": "POST"})
    assert r.status_code == 422
    assert r.text.startswith("Failed to deserialize the JSON body into the target type: ")


def test_destination_unknown_template_silently_dropped(client: httpx.Client) -> None:
    r = client.post(DST, json={"name": "d", "url": PUBLIC, "template": "no_such_template"})
    assert r.status_code == 200
    assert "template" not in client.get(f"{DST}/d").json()


def test_destination_known_template_kept(client: httpx.Client) -> None:
    create_template(client, "t", "x")
    create_destination(client, "d", PUBLIC, template="t")
    assert client.get(f"{DST}/d").json()["template"] == "t"
    # a template from org default, used from another org
    ingest_ok(client, [otlp_span("x")], org="acme")
    create_destination(client, "d2", PUBLIC, template="o2_default_content", org="acme")
    assert client.get("/api/acme/alerts/destinations/d2").json()["template"] == "o2_default_content"


def test_destination_bad_destination_type_name_is_400(client: httpx.Client) -> None:
    r = client.post(DST, json={"name": "d", "url": PUBLIC, "destination_type_name": "bogus"})
    assert r.status_code == 400
    assert r.json() == {"code": 400, "message": "Prebuilt template not found for type: bogus"}


def test_destination_in_use_by_alert_is_409(lclient: httpx.Client) -> None:
    ingest_ok(lclient, [otlp_span("x")])
    create_destination(lclient, "hook", "http://127.0.0.1:9/hook")
    create_alert(lclient, alert_body("needs_hook"))
    r = lclient.delete(f"{DST}/hook")
    assert r.status_code == 409
    assert r.json() == {"code": 409, "message": "Destination is currently used by alert: needs_hook"}


# ---------------------------------------------------------------- SSRF guard

BLOCKED = [
    "http://127.0.0.1:8080/hook",
    "http://localhost/hook",
    "http://10.1.2.3/hook",
    "http://172.16.5.4/hook",
    "http://192.168.1.1/hook",
    "http://169.254.169.254/latest",
    "http://[::1]/hook",
    "http://alertmanager.internal/hook",
    "http://printer.local/hook",
    "http://no-such-host.invalid/hook",
    "ftp://1.1.1.1/hook",
]


@pytest.mark.parametrize("url", BLOCKED)
def test_ssrf_guard_blocks_on_create(client: httpx.Client, url: str) -> None:
    r = client.post(DST, json={"name": "d", "url": url})
    assert r.status_code == 400
    body = r.json()
    assert body["code"] == 400
    assert body["message"].startswith(SSRF_PREFIX)
    assert len(body["message"]) > len(SSRF_PREFIX)
    assert client.get(DST).json() == []


def test_ssrf_guard_blocks_on_update(client: httpx.Client) -> None:
    create_destination(client, "d", PUBLIC)
    r = client.put(f"{DST}/d", json={"name": "d", "url": "http://10.0.0.1/x"})
    assert r.status_code == 400
    assert r.json()["message"].startswith(SSRF_PREFIX)
    assert client.get(f"{DST}/d").json()["url"] == PUBLIC


def test_ssrf_guard_allows_public_ip(client: httpx.Client) -> None:
    assert client.post(DST, json={"name": "d", "url": "https://1.1.1.1/hook"}).status_code == 200


@pytest.mark.parametrize("flag", ["allow_loopback", "skip_ssrf_checks"])
def test_ssrf_guard_off_with_flags(make_standin: Callable[..., Any], flag: str) -> None:
    s = make_standin(**{flag: True})
    with httpx.Client(base_url=s.url, auth=(ROOT_EMAIL, ROOT_PASSWORD)) as c:
        for i, url in enumerate(["http://127.0.0.1:9/h", "http://10.1.2.3/h", "http://svc.internal/h"]):
            r = c.post(DST, json={"name": f"d{i}", "url": url})
            assert r.status_code == 200, (url, r.text)


def test_destination_email_and_sns_validation(client: httpx.Client) -> None:
    r = client.post(DST, json={"name": "e", "type": "email", "emails": []})
    assert r.status_code == 400
    assert r.json() == {"code": 400, "message": "Email destination must have at least one email recipient"}
    r = client.post(DST, json={"name": "e", "type": "email", "emails": [ROOT_EMAIL]})
    assert r.status_code == 400
    assert r.json() == {"code": 400, "message": "Email destination must have SMTP configured"}
    r = client.post(DST, json={"name": "s", "type": "sns"})
    assert r.status_code == 400
    assert r.json() == {"code": 400, "message": "SNS destination must have Topic ARN and Region"}


def test_destination_test_route_ssrf_refusal_is_200_success_false(client: httpx.Client) -> None:
    r = client.post(f"{DST}/test", json={"url": "http://10.0.0.1/x", "type": "http"})
    assert r.status_code == 200
    body = r.json()
    assert body["success"] is False
    assert body["error"]
    assert not body["error"].startswith(SSRF_PREFIX)


def test_destination_test_route_sends(lclient: httpx.Client, receiver: Any) -> None:
    r = lclient.post(f"{DST}/test", json={"url": receiver.url + "/t", "type": "http", "body": '{"x":1}'})
    assert r.status_code == 200
    body = r.json()
    assert body["success"] is True
    assert body["statusCode"] == 200
    assert body["responseBody"] == "ok"
    receiver.wait_for(1)
    assert receiver.received[0].body == '{"x":1}'


def test_destination_named_test_cannot_be_fetched(client: httpx.Client) -> None:
    create_destination(client, "test", PUBLIC)
    assert client.get(f"{DST}/test").status_code == 405
