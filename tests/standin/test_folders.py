"""§4.5 of the reference: v2 folders."""

from __future__ import annotations

import httpx
import pytest

from .helpers import PREFIX_422, alert_body, create_dashboard, create_destination, create_folder, ingest_ok, otlp_span

F = "/api/v2/default/folders"


def test_folder_create_returns_folder(client: httpx.Client) -> None:
    r = client.post(f"{F}/dashboards", json={"name": "Team", "description": "team boards"})
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"folderId", "name", "description"}
    assert body["folderId"].isdigit()
    assert body["name"] == "Team"
    assert body["description"] == "team boards"


@pytest.mark.parametrize("missing", ["name", "description"])
def test_folder_create_missing_field_is_422(client: httpx.Client, missing: str) -> None:
    body = {"name": "Team", "description": "d"}
    del body[missing]
    r = client.post(f"{F}/dashboards", json=body)
    assert r.status_code == 422
    assert r.text.startswith(PREFIX_422)
    assert f"missing field `{missing}`" in r.text


def test_folder_create_empty_name_is_400(client: httpx.Client) -> None:
    r = client.post(f"{F}/dashboards", json={"name": "   ", "description": "d"})
    assert r.status_code == 400
    assert r.json() == {"code": 400, "message": "Folder name cannot be empty"}


def test_folder_create_duplicate_is_400(client: httpx.Client) -> None:
    create_folder(client, "Team")
    r = client.post(f"{F}/dashboards", json={"name": "Team", "description": "again"})
    assert r.status_code == 400
    assert r.json() == {"code": 400, "message": "Folder with this name already exists in this organization"}
    # the same name in another folder type is fine
    assert client.post(f"{F}/alerts", json={"name": "Team", "description": "d"}).status_code == 200


def test_folder_invalid_type_is_400_plain_text(client: httpx.Client) -> None:
    r = client.get(f"{F}/bogus")
    assert r.status_code == 400
    assert r.text.startswith("Invalid URL: ")


def test_folder_list_get_and_get_by_name(client: httpx.Client) -> None:
    fid = create_folder(client, "Team")
    r = client.get(f"{F}/dashboards")
    assert r.status_code == 200
    assert r.json() == {"list": [{"folderId": fid, "name": "Team", "description": "d"}]}
    r = client.get(f"{F}/dashboards/{fid}")
    assert r.status_code == 200
    assert r.json() == {"folderId": fid, "name": "Team", "description": "d"}
    r = client.get(f"{F}/dashboards/name/Team")
    assert r.status_code == 200
    assert r.json()["folderId"] == fid


def test_folder_get_missing_is_404(client: httpx.Client) -> None:
    r = client.get(f"{F}/dashboards/123456")
    assert r.status_code == 404
    assert r.json() == {"code": 404, "message": "Folder not found"}
    assert client.get(f"{F}/dashboards/name/Nope").status_code == 404


def test_folder_update(client: httpx.Client) -> None:
    fid = create_folder(client, "Team")
    r = client.put(f"{F}/dashboards/{fid}", json={"name": "Renamed", "description": "new"})
    assert r.status_code == 200
    assert r.json() == {"code": 200, "message": "Folder updated"}
    assert client.get(f"{F}/dashboards/{fid}").json() == {"folderId": fid, "name": "Renamed", "description": "new"}


def test_folder_update_default_is_400(client: httpx.Client) -> None:
    create_dashboard(client)  # creates the default folder
    r = client.put(f"{F}/dashboards/default", json={"name": "x", "description": "y"})
    assert r.status_code == 400
    assert r.json() == {"code": 400, "message": "Can't update default folder"}


def test_folder_put_missing_id_creates(client: httpx.Client) -> None:
    r = client.put(f"{F}/dashboards/my_folder_id", json={"name": "Upserted", "description": "u"})
    assert r.status_code == 200
    r = client.get(f"{F}/dashboards/my_folder_id")
    assert r.status_code == 200
    assert r.json()["name"] == "Upserted"


def test_folder_delete(client: httpx.Client) -> None:
    fid = create_folder(client, "Team")
    r = client.delete(f"{F}/dashboards/{fid}")
    assert r.status_code == 200
    assert r.json() == {"code": 200, "message": "Folder deleted"}
    assert client.get(f"{F}/dashboards/{fid}").status_code == 404


def test_folder_delete_non_empty_is_400(client: httpx.Client) -> None:
    fid = create_folder(client, "Team")
    create_dashboard(client, "inside", folder=fid)
    r = client.delete(f"{F}/dashboards/{fid}")
    assert r.status_code == 400
    assert r.json() == {
        "code": 400,
        "message": "Folder contains dashboards, please move/delete dashboards from folder",
    }


def test_folder_delete_missing_is_404(client: httpx.Client) -> None:
    r = client.delete(f"{F}/dashboards/999999")
    assert r.status_code == 404
    assert r.json()["code"] == 404


def test_folder_default_created_lazily_by_first_dashboard(client: httpx.Client) -> None:
    assert client.get(f"{F}/dashboards").json() == {"list": []}
    create_dashboard(client)
    lst = client.get(f"{F}/dashboards").json()["list"]
    assert {"folderId": "default", "name": "default", "description": "default"} in lst
    assert client.get(f"{F}/alerts").json() == {"list": []}


def test_folder_default_created_lazily_by_first_alert(lclient: httpx.Client) -> None:
    ingest_ok(lclient, [otlp_span("x")])
    create_destination(lclient, "hook", "http://127.0.0.1:9/hook")
    assert lclient.get(f"{F}/alerts").json() == {"list": []}
    assert lclient.post("/api/v2/default/alerts", json=alert_body()).status_code == 200
    lst = lclient.get(f"{F}/alerts").json()["list"]
    assert {"folderId": "default", "name": "default", "description": "default"} in lst


def test_folder_delete_empty_default_is_allowed(client: httpx.Client) -> None:
    w = create_dashboard(client)
    did = w["v8"]["dashboardId"]
    assert client.delete(f"/api/default/dashboards/{did}").status_code == 200
    r = client.delete(f"{F}/dashboards/default")
    assert r.status_code == 200
    assert r.json() == {"code": 200, "message": "Folder deleted"}
    # re-created lazily by the next dashboard
    create_dashboard(client)
    assert client.get(f"{F}/dashboards/default").status_code == 200
