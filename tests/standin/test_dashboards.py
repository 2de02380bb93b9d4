"""§4 of the reference: dashboards (v8 wrapper, hash, folders, list, move, panels)."""

from __future__ import annotations

import copy
from typing import Any

import httpx
import pytest

from .helpers import (
    PREFIX_422,
    ROOT_EMAIL,
    create_dashboard,
    create_folder,
    dash_id,
    dashboard_body,
    panel_body,
)

MSG_NO_HASH = "Request to update existing dashboard with missing or invalid hash value. BUG"
MSG_CONFLICT = (
    "Conflict: Failed to save due to concurrent changes. "
    "Please refresh the page after backing up your work to avoid losing changes."
)
D = "/api/default/dashboards"


def is_u64_string(s: Any) -> bool:
    return isinstance(s, str) and s.isdigit() and 0 <= int(s) < 2**64


def put(client: httpx.Client, did: str, body: dict[str, Any], **params: Any) -> httpx.Response:
    return client.put(f"{D}/{did}", params=params, json=body)


# ---------------------------------------------------------------- create


def test_create_returns_200_wrapper(client: httpx.Client) -> None:
    r = client.post(D, params={"folder": "default"}, json=dashboard_body("Pipecat"))
    assert r.status_code == 200
    w = r.json()
    for v in range(1, 8):
        assert w[f"v{v}"] is None
    assert w["version"] == 8
    assert is_u64_string(w["hash"])
    assert w["updatedAt"] == 0
    d = w["v8"]
    assert d["version"] == 8
    assert d["dashboardId"].isdigit() and 0 < int(d["dashboardId"]) < 2**63
    assert d["title"] == "Pipecat"
    assert d["owner"] == ROOT_EMAIL
    assert d["role"] == "" and d["description"] == ""
    assert d["created"].endswith("Z")
    assert d["variables"] == {"list": [], "showDynamicFilters": True}
    assert d["tabs"][0]["panels"][0]["id"] == "panel_1"
    assert d["tabs"][0]["panels"][0]["queries"][0]["fields"]["filter"] == {
        "filterType": "group",
        "logicalOperator": "AND",
        "conditions": [],
    }


def test_create_ignores_body_dashboard_id_and_generates_distinct_ids(client: httpx.Client) -> None:
    a = client.post(D, json=dashboard_body("a", dashboardId="my-id")).json()
    b = client.post(D, json=dashboard_body("b", dashboardId="my-id")).json()
    assert dash_id(a) != "my-id"
    assert dash_id(a) != dash_id(b)


def test_create_missing_version_means_8(client: httpx.Client) -> None:
    body = dashboard_body("nov")
    del body["version"]
    r = client.post(D, json=body)
    assert r.status_code == 200
    w = r.json()
    assert w["version"] == 8
    assert w["v8"]["title"] == "nov"


def test_create_version_9_is_422(client: httpx.Client) -> None:
    r = client.post(D, json=dashboard_body("v9", version=9))
    assert r.status_code == 422
    assert r.text.startswith(PREFIX_422)
    assert "unsupported version: 9" in r.text


def _drop(body: dict[str, Any], path: list[Any]) -> dict[str, Any]:
    body = copy.deepcopy(body)
    node: Any = body
    for p in path[:-1]:
        node = node[p]
    del node[path[-1]]
    return body


PANEL = ["tabs", 0, "panels", 0]
QUERY = [*PANEL, "queries", 0]
FIELDS = [*QUERY, "fields"]


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ([*PANEL, "id"], "id"),
        ([*PANEL, "type"], "type"),
        ([*PANEL, "title"], "title"),
        ([*PANEL, "description"], "description"),
        ([*PANEL, "config"], "config"),
        ([*PANEL, "config", "show_legends"], "show_legends"),
        ([*PANEL, "queries"], "queries"),
        ([*QUERY, "customQuery"], "customQuery"),
        ([*QUERY, "fields"], "fields"),
        ([*QUERY, "config"], "config"),
        ([*QUERY, "config", "promql_legend"], "promql_legend"),
        ([*FIELDS, "stream"], "stream"),
        ([*FIELDS, "stream_type"], "stream_type"),
        ([*FIELDS, "x"], "x"),
        ([*FIELDS, "y"], "y"),
        ([*FIELDS, "filter"], "filter"),
        ([*FIELDS, "x", 0, "label"], "label"),
        ([*FIELDS, "y", 0, "alias"], "alias"),
        (["tabs", 0, "tabId"], "tabId"),
        (["tabs", 0, "name"], "name"),
    ],
)
def test_create_missing_required_v8_field_is_422(client: httpx.Client, path: list[Any], field: str) -> None:
    r = client.post(D, json=_drop(dashboard_body("x"), path))
    assert r.status_code == 422
    assert r.text.startswith(PREFIX_422)
    assert f"missing field `{field}`" in r.text


def test_create_optional_panel_fields_may_be_omitted(client: httpx.Client) -> None:
    body = dashboard_body("opt")
    body = _drop(body, [*PANEL, "queryType"])
    body = _drop(body, [*PANEL, "layout"])
    body = _drop(body, [*FIELDS, "z"])
    body = _drop(body, [*QUERY, "query"])
    body = _drop(body, [*FIELDS, "x", 0, "column"])
    r = client.post(D, json=body)
    assert r.status_code == 200, r.text
    panel = r.json()["v8"]["tabs"][0]["panels"][0]
    assert "layout" not in panel
    assert panel["queries"][0]["query"] is None
    assert panel["queries"][0]["fields"]["z"] == []


def test_create_filter_as_array_is_422(client: httpx.Client) -> None:
    body = dashboard_body("f")
    body["tabs"][0]["panels"][0]["queries"][0]["fields"]["filter"] = []
    r = client.post(D, json=body)
    assert r.status_code == 422
    assert r.text.startswith(PREFIX_422)


def test_create_float_layout_is_422(client: httpx.Client) -> None:
    body = dashboard_body("f")
    body["tabs"][0]["panels"][0]["layout"]["x"] = 1.5
    r = client.post(D, json=body)
    assert r.status_code == 422
    assert r.text.startswith(PREFIX_422)


def test_create_floats_echoed_as_floats(client: httpx.Client) -> None:
    body = dashboard_body("floats")
    body["tabs"][0]["panels"][0]["config"]["y_axis_min"] = 2
    r = client.post(D, json=body)
    assert r.status_code == 200, r.text
    assert '"y_axis_min":2.0' in r.text.replace(" ", "")
    v = r.json()["v8"]["tabs"][0]["panels"][0]["config"]["y_axis_min"]
    assert isinstance(v, float) and v == 2.0


def test_create_echoes_null_valued_keys(client: httpx.Client) -> None:
    body = dashboard_body("nulls")
    panel = body["tabs"][0]["panels"][0]
    del panel["config"]["legends_position"]
    del panel["queries"][0]["vrlFunctionQuery"]
    del panel["queries"][0]["fields"]["x"][0]["color"]
    r = client.post(D, json=body)
    assert r.status_code == 200
    p = r.json()["v8"]["tabs"][0]["panels"][0]
    assert p["config"]["legends_position"] is None
    assert p["config"]["base_map"] is None
    assert p["config"]["map_view"] is None
    assert p["queries"][0]["vrlFunctionQuery"] is None
    assert p["queries"][0]["fields"]["x"][0]["color"] is None


def test_create_updated_at_from_body(client: httpx.Client) -> None:
    w = client.post(D, json=dashboard_body("u", updatedAt=1234)).json()
    assert w["updatedAt"] == 1234
    assert "updatedAt" not in w["v8"]


def test_create_empty_title_is_500(client: httpx.Client) -> None:
    r = client.post(D, json=dashboard_body("   "))
    assert r.status_code == 500
    assert r.json() == {"code": 500, "message": "Dashboard should have title"}


def test_create_title_trimmed(client: httpx.Client) -> None:
    w = client.post(D, json=dashboard_body("  padded  ")).json()
    assert w["v8"]["title"] == "padded"


def test_create_in_missing_folder_is_404(client: httpx.Client) -> None:
    r = client.post(D, params={"folder": "nosuchfolder"}, json=dashboard_body("x"))
    assert r.status_code == 404
    assert r.json() == {"code": 404, "message": "Folder not found"}


def test_create_in_existing_folder(client: httpx.Client) -> None:
    fid = create_folder(client, "Team")
    w = create_dashboard(client, "in-team", folder=fid)
    items = client.get(D, params={"folder": fid}).json()["dashboards"]
    assert [i["dashboard_id"] for i in items] == [dash_id(w)]
    assert items[0]["folder_id"] == fid
    assert items[0]["folder_name"] == "Team"


# ---------------------------------------------------------------- get


def test_get_returns_wrapper_with_same_hash(client: httpx.Client) -> None:
    w = create_dashboard(client, "g")
    r = client.get(f"{D}/{dash_id(w)}")
    assert r.status_code == 200
    got = r.json()
    assert got["hash"] == w["hash"]
    assert got["v8"] == w["v8"]
    assert got["v1"] is None


def test_get_unknown_is_404(client: httpx.Client) -> None:
    r = client.get(f"{D}/7362015748391518208")
    assert r.status_code == 404
    assert r.json() == {"code": 404, "message": "Dashboard not found"}


# ---------------------------------------------------------------- update


def test_put_with_current_hash_updates_and_changes_hash(client: httpx.Client) -> None:
    w = create_dashboard(client, "before")
    did = dash_id(w)
    r = put(client, did, dashboard_body("after"), hash=w["hash"])
    assert r.status_code == 200, r.text
    nw = r.json()
    assert nw["v8"]["title"] == "after"
    assert nw["v8"]["dashboardId"] == did
    assert is_u64_string(nw["hash"]) and nw["hash"] != w["hash"]
    got = client.get(f"{D}/{did}").json()
    assert got["v8"]["title"] == "after"
    assert got["hash"] == nw["hash"]


def test_put_without_hash_is_500(client: httpx.Client) -> None:
    did = dash_id(create_dashboard(client))
    r = put(client, did, dashboard_body("x"))
    assert r.status_code == 500
    assert r.json() == {"code": 500, "message": MSG_NO_HASH}


def test_put_unparsable_hash_is_500(client: httpx.Client) -> None:
    did = dash_id(create_dashboard(client))
    for bad in ("abc", "-1", str(2**64)):
        r = put(client, did, dashboard_body("x"), hash=bad)
        assert r.status_code == 500, bad
        assert r.json() == {"code": 500, "message": MSG_NO_HASH}


def test_put_stale_hash_is_409(client: httpx.Client) -> None:
    w = create_dashboard(client)
    did = dash_id(w)
    assert put(client, did, dashboard_body("one"), hash=w["hash"]).status_code == 200
    r = put(client, did, dashboard_body("two"), hash=w["hash"])
    assert r.status_code == 409
    assert r.json() == {"code": 409, "message": MSG_CONFLICT}


def test_put_wrong_folder_is_404_before_hash_check(client: httpx.Client) -> None:
    fid = create_folder(client, "Other")
    did = dash_id(create_dashboard(client))
    r = put(client, did, dashboard_body("x"), folder=fid)  # no hash either: folder is checked first
    assert r.status_code == 404
    assert r.json() == {"code": 404, "message": "Dashboard not found"}


def test_put_unknown_dashboard_is_404_never_creates(client: httpx.Client) -> None:
    r = put(client, "7362015748391518208", dashboard_body("x"), hash="1")
    assert r.status_code == 404
    assert r.json() == {"code": 404, "message": "Dashboard not found"}
    assert client.get(D, params={"title": ""}).json()["dashboards"] == []


def test_put_empty_title_is_500_after_hash_check(client: httpx.Client) -> None:
    w = create_dashboard(client)
    did = dash_id(w)
    r = put(client, did, dashboard_body(""), hash="1")  # stale hash wins over empty title
    assert r.status_code == 409
    r = put(client, did, dashboard_body(""), hash=w["hash"])
    assert r.status_code == 500
    assert r.json() == {"code": 500, "message": "Dashboard should have title"}


def test_put_is_full_replacement(client: httpx.Client) -> None:
    w = create_dashboard(client)
    did = dash_id(w)
    r = put(client, did, {"version": 8, "title": "bare"}, hash=w["hash"])
    assert r.status_code == 200, r.text
    got = client.get(f"{D}/{did}").json()["v8"]
    assert got["title"] == "bare"
    assert got["tabs"] == []
    assert "variables" not in got
    assert got["owner"] == ROOT_EMAIL


# ---------------------------------------------------------------- list


def test_list_without_params_only_default_folder_ordered_by_title(client: httpx.Client) -> None:
    create_dashboard(client, "beta")
    create_dashboard(client, "alpha")
    fid = create_folder(client, "F")
    create_dashboard(client, "gamma", folder=fid)
    r = client.get(D)
    assert r.status_code == 200
    items = r.json()["dashboards"]
    assert [i["title"] for i in items] == ["alpha", "beta"]


def test_list_item_shape(client: httpx.Client) -> None:
    w = create_dashboard(client, "shape")
    (item,) = client.get(D).json()["dashboards"]
    assert item["dashboard_id"] == dash_id(w)
    assert item["folder_id"] == "default"
    assert item["folder_name"] == "default"
    assert item["title"] == "shape"
    assert item["description"] == ""
    assert item["role"] == ""
    assert item["owner"] == ROOT_EMAIL
    assert item["version"] == 8
    assert item["hash"] == w["hash"]
    assert item["updatedAt"] == 0
    assert item["v8"]["dashboardId"] == dash_id(w)
    assert item["v1"] is None
    assert isinstance(item["created"], str)


def test_list_title_searches_all_folders_case_insensitive(client: httpx.Client) -> None:
    create_dashboard(client, "Latency overview")
    fid = create_folder(client, "F")
    create_dashboard(client, "latency detail", folder=fid)
    create_dashboard(client, "Costs")
    items = client.get(D, params={"title": "LATENCY"}).json()["dashboards"]
    assert sorted(i["title"] for i in items) == ["Latency overview", "latency detail"]
    all_items = client.get(D, params={"title": ""}).json()["dashboards"]
    assert sorted(i["title"] for i in all_items) == ["Costs", "Latency overview", "latency detail"]


def test_list_by_folder(client: httpx.Client) -> None:
    create_dashboard(client, "in-default")
    fid = create_folder(client, "F")
    create_dashboard(client, "in-f", folder=fid)
    items = client.get(D, params={"folder": fid}).json()["dashboards"]
    assert [i["title"] for i in items] == ["in-f"]


def test_list_duplicate_titles_allowed(client: httpx.Client) -> None:
    a = create_dashboard(client, "same")
    b = create_dashboard(client, "same")
    items = client.get(D).json()["dashboards"]
    assert sorted(i["dashboard_id"] for i in items) == sorted([dash_id(a), dash_id(b)])


# ---------------------------------------------------------------- delete


def test_delete_dashboard(client: httpx.Client) -> None:
    did = dash_id(create_dashboard(client))
    r = client.delete(f"{D}/{did}")
    assert r.status_code == 200
    assert r.json() == {"code": 200, "message": "Dashboard deleted"}
    assert client.get(f"{D}/{did}").status_code == 404


def test_bulk_delete(client: httpx.Client) -> None:
    a, b = dash_id(create_dashboard(client, "a")), dash_id(create_dashboard(client, "b"))
    r = client.request("DELETE", f"{D}/bulk", json={"ids": [a, b]})
    assert r.status_code == 200
    body = r.json()
    assert sorted(body["successful"]) == sorted([a, b])
    assert body["unsuccessful"] == []
    assert body["err"] is None
    assert client.get(D).json()["dashboards"] == []


def test_bulk_delete_unknown_id_is_404_for_whole_request(client: httpx.Client) -> None:
    a = dash_id(create_dashboard(client, "a"))
    r = client.request("DELETE", f"{D}/bulk", json={"ids": [a, "7362015748391518208"]})
    assert r.status_code == 404
    assert client.get(f"{D}/{a}").status_code == 200


# ---------------------------------------------------------------- move


def test_move_single_dashboard_route(client: httpx.Client) -> None:
    fid = create_folder(client, "Dst")
    w = create_dashboard(client, "mv")
    did = dash_id(w)
    r = client.put(f"/api/default/folders/dashboards/{did}", json={"from": "default", "to": fid})
    assert r.status_code == 200
    assert r.json() == {"code": 200, "message": "Dashboard moved"}
    assert [i["dashboard_id"] for i in client.get(D, params={"folder": fid}).json()["dashboards"]] == [did]
    assert client.get(D).json()["dashboards"] == []
    # PUT now needs the new folder
    assert put(client, did, dashboard_body("x"), hash=w["hash"]).status_code == 404
    assert put(client, did, dashboard_body("x"), hash=w["hash"], folder=fid).status_code == 200


def test_move_single_without_from_is_422(client: httpx.Client) -> None:
    fid = create_folder(client, "Dst")
    did = dash_id(create_dashboard(client))
    r = client.put(f"/api/default/folders/dashboards/{did}", json={"to": fid})
    assert r.status_code == 422
    assert "missing field `from`" in r.text


def test_move_batch_route(client: httpx.Client) -> None:
    fid = create_folder(client, "Dst")
    a, b = dash_id(create_dashboard(client, "a")), dash_id(create_dashboard(client, "b"))
    r = client.patch(f"{D}/move", json={"dashboard_ids": [a, b], "dst_folder_id": fid})
    assert r.status_code == 200
    assert r.json() == {"code": 200, "message": "Dashboards moved"}
    c = dash_id(create_dashboard(client, "c"))
    r = client.patch(f"{D}/move", json={"dashboard_ids": [c], "dst_folder_id": fid})
    assert r.json() == {"code": 200, "message": "Dashboard moved"}
    moved = client.get(D, params={"folder": fid}).json()["dashboards"]
    assert [i["title"] for i in moved] == ["a", "b", "c"]


# ---------------------------------------------------------------- panels


def test_panel_add_requires_hash(client: httpx.Client) -> None:
    did = dash_id(create_dashboard(client))
    r = client.post(f"{D}/{did}/panels", json={"panel": panel_body()})
    assert r.status_code == 400
    assert r.json() == {"code": 400, "message": "hash query parameter is required"}


def test_panel_add_update_delete(client: httpx.Client) -> None:
    w = create_dashboard(client)
    did = dash_id(w)
    r = client.post(f"{D}/{did}/panels", params={"hash": w["hash"]}, json={"panel": panel_body("panel_2")})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["tabId"] == "default"
    assert body["panel"]["id"] == "panel_2"
    lay = body["panel"]["layout"]
    assert (lay["w"], lay["h"]) == (96, 18)
    assert (lay["x"], lay["y"]) != (0, 0)
    assert is_u64_string(body["hash"]) and body["hash"] != w["hash"]
    panels = client.get(f"{D}/{did}").json()["v8"]["tabs"][0]["panels"]
    assert [p["id"] for p in panels] == ["panel_1", "panel_2"]

    r = client.put(
        f"{D}/{did}/panels/panel_2",
        params={"hash": body["hash"]},
        json={"panel": panel_body("panel_2", title="renamed")},
    )
    assert r.status_code == 200, r.text
    h2 = r.json()["hash"]
    assert r.json()["panel"]["title"] == "renamed"

    r = client.delete(f"{D}/{did}/panels/panel_2", params={"hash": h2})
    assert r.status_code == 200
    assert r.json()["panelId"] == "panel_2"
    assert is_u64_string(r.json()["hash"])
    panels = client.get(f"{D}/{did}").json()["v8"]["tabs"][0]["panels"]
    assert [p["id"] for p in panels] == ["panel_1"]


def test_panel_add_duplicate_id_is_409(client: httpx.Client) -> None:
    w = create_dashboard(client)
    did = dash_id(w)
    r = client.post(f"{D}/{did}/panels", params={"hash": w["hash"]}, json={"panel": panel_body("panel_1")})
    assert r.status_code == 409
    assert r.json() == {"code": 409, "message": "Panel with id panel_1 already exists in tab default"}


def test_panel_update_unknown_is_404(client: httpx.Client) -> None:
    w = create_dashboard(client)
    did = dash_id(w)
    r = client.put(f"{D}/{did}/panels/nope", params={"hash": w["hash"]}, json={"panel": panel_body("nope")})
    assert r.status_code == 404
    assert r.json() == {"code": 404, "message": "Panel not found: nope"}


def test_panel_add_without_tabs_is_404(client: httpx.Client) -> None:
    w = client.post(D, json={"version": 8, "title": "empty"}).json()
    r = client.post(f"{D}/{dash_id(w)}/panels", params={"hash": w["hash"]}, json={"panel": panel_body()})
    assert r.status_code == 404
    assert r.json() == {"code": 404, "message": "Tab not found: (no tabs)"}


def test_panel_add_unknown_tab_is_404(client: httpx.Client) -> None:
    w = create_dashboard(client)
    r = client.post(
        f"{D}/{dash_id(w)}/panels", params={"hash": w["hash"]}, json={"panel": panel_body(), "tabId": "nope"}
    )
    assert r.status_code == 404
    assert r.json() == {"code": 404, "message": "Tab not found: nope"}


def test_panel_add_wrong_folder_is_404(client: httpx.Client) -> None:
    fid = create_folder(client, "Other")
    w = create_dashboard(client)
    r = client.post(f"{D}/{dash_id(w)}/panels", params={"hash": w["hash"], "folder": fid}, json={"panel": panel_body()})
    assert r.status_code == 404


def test_panel_add_stale_hash_is_409(client: httpx.Client) -> None:
    w = create_dashboard(client)
    r = client.post(f"{D}/{dash_id(w)}/panels", params={"hash": "1"}, json={"panel": panel_body()})
    assert r.status_code == 409


def test_create_owner_from_body_kept(client: httpx.Client) -> None:
    w = client.post(D, json=dashboard_body("own", owner="someone@example.com")).json()
    assert w["v8"]["owner"] == "someone@example.com"


@pytest.mark.parametrize(
    ("sent", "echoed"),
    [
        ("2026-01-02T03:04:05Z", "2026-01-02T03:04:05Z"),
        ("2026-01-02T03:04:05.123+05:30", "2026-01-02T03:04:05.123+05:30"),
    ],
)
def test_create_created_echoed_rfc3339(client: httpx.Client, sent: str, echoed: str) -> None:
    w = client.post(D, json=dashboard_body("c", created=sent)).json()
    assert w["v8"]["created"] == echoed


def test_create_created_without_offset_is_422(client: httpx.Client) -> None:
    r = client.post(D, json=dashboard_body("c", created="2026-01-02T03:04:05"))
    assert r.status_code == 422
    assert r.text.startswith(PREFIX_422)
