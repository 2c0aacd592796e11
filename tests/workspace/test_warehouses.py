"""SQL warehouses over raw HTTP: fields, states, pagination, permissions, errors."""

from __future__ import annotations

import time

import httpx
import pytest
from workspace_http import bearer, fetch_token

from lakegate.workspace import LocalWorkspace

BASE = "/api/2.0/sql/warehouses"
FIELDS = {
    "id", "name", "cluster_size", "min_num_clusters", "max_num_clusters", "auto_stop_mins",
    "state", "num_clusters", "num_active_sessions", "warehouse_type",
    "enable_serverless_compute", "enable_photon", "creator_name", "tags", "odbc_params",
    "jdbc_url", "health",
}  # fmt: skip


def by_name(client: httpx.Client) -> dict[str, dict]:
    return {w["name"]: w for w in client.get(BASE).json()["warehouses"]}


def wait_state(client: httpx.Client, warehouse_id: str, state: str, seen: list[str]) -> None:
    deadline = time.monotonic() + 60
    while (now := client.get(f"{BASE}/{warehouse_id}").json()["state"]) != state:
        seen.append(now)
        assert time.monotonic() < deadline, f"still {now}, waiting for {state}"
        time.sleep(0.02)


def test_seeded_warehouses_have_databricks_fields(
    workspace: LocalWorkspace, admin: httpx.Client
) -> None:
    seeded = by_name(admin)
    assert seeded["Starter Warehouse"]["state"] == "RUNNING"
    assert seeded["Shared Endpoint"]["state"] in ("STOPPED", "STARTING", "RUNNING")
    starter = seeded["Starter Warehouse"]
    assert set(starter) >= FIELDS
    assert starter["creator_name"] == workspace.credentials["client_id"]
    assert starter["odbc_params"]["path"] == f"/sql/1.0/warehouses/{starter['id']}"
    assert starter["num_clusters"] == 1
    assert starter["health"] == {"status": "HEALTHY"}


def test_start_goes_through_starting_and_stop_through_stopping(client: httpx.Client) -> None:
    shared = by_name(client)["Shared Endpoint"]
    assert shared["state"] == "STOPPED" and shared["num_clusters"] == 0
    assert client.post(f"{BASE}/{shared['id']}/start").json() == {}
    seen: list[str] = []
    wait_state(client, shared["id"], "RUNNING", seen)
    assert "STARTING" in seen
    client.post(f"{BASE}/{shared['id']}/stop")
    seen.clear()
    wait_state(client, shared["id"], "STOPPED", seen)
    assert "STOPPING" in seen


def test_create_edit_delete(ws: LocalWorkspace, client: httpx.Client) -> None:
    created = client.post(
        BASE, json={"name": "Reporting", "cluster_size": "Medium", "auto_stop_mins": 10}
    )
    assert created.status_code == 200
    warehouse_id = created.json()["id"]
    got = client.get(f"{BASE}/{warehouse_id}").json()
    assert got["cluster_size"] == "Medium" and got["state"] in ("STARTING", "RUNNING")
    assert client.post(f"{BASE}/{warehouse_id}/edit", json={"max_num_clusters": 3}).is_success
    edited = client.get(f"{BASE}/{warehouse_id}").json()
    assert edited["max_num_clusters"] == 3 and edited["cluster_size"] == "Medium"
    assert client.delete(f"{BASE}/{warehouse_id}").is_success
    seen: list[str] = []
    wait_state(client, warehouse_id, "DELETED", seen)
    assert "Reporting" not in by_name(client)
    assert client.post(f"{BASE}/{warehouse_id}/start").status_code == 404


def test_duplicate_name_is_resource_already_exists(client: httpx.Client) -> None:
    response = client.post(BASE, json={"name": "Starter Warehouse", "cluster_size": "Small"})
    assert response.status_code == 409
    assert response.json()["error_code"] == "RESOURCE_ALREADY_EXISTS"


@pytest.mark.parametrize(
    ("body", "mentions"),
    [
        ({"cluster_size": "Small"}, "name"),
        ({"name": "x", "cluster_size": "Huge"}, "cluster_size"),
        ({"name": "x", "auto_stop_mins": "ten"}, "auto_stop_mins"),
        ({"name": "x", "enable_photon": 1}, "enable_photon"),
        ({"name": "x", "min_num_clusters": 3, "max_num_clusters": 2}, "min_num_clusters"),
    ],
)
def test_invalid_create_is_a_clear_400(client: httpx.Client, body: dict, mentions: str) -> None:
    response = client.post(BASE, json=body)
    assert response.status_code == 400
    assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert mentions in response.json()["message"]


def test_malformed_json_is_malformed_request(admin: httpx.Client) -> None:
    deep = b'{"name": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"  # was a 500 (RecursionError)
    for content in (b"{not json", b"[1, 2]", b"", deep):
        response = admin.post(BASE, content=content, headers={"Content-Type": "application/json"})
        assert response.status_code == 400
        assert response.headers["content-type"] == "application/json"
        assert response.json()["error_code"] == "MALFORMED_REQUEST"


def test_unknown_ids_and_endpoints_are_404(admin: httpx.Client) -> None:
    missing = admin.get(f"{BASE}/0123456789abcdef")
    assert missing.status_code == 404
    assert missing.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    for method, path in (("GET", "/api/2.0/nothing/here"), ("PUT", BASE)):
        response = admin.request(method, path)
        assert response.status_code == 404
        assert response.json() == {
            "error_code": "ENDPOINT_NOT_FOUND",
            "message": f"No API found for '{method} {path}'",
        }


def test_pagination_walks_every_warehouse_once(client: httpx.Client) -> None:
    for i in range(3):
        client.post(BASE, json={"name": f"Extra {i}", "cluster_size": "Small"})
    seen, token, pages = [], None, 0
    while True:
        params = {"page_size": 2, **({"page_token": token} if token else {})}
        body = client.get(BASE, params=params).json()
        pages += 1
        seen += [w["name"] for w in body["warehouses"]]
        token = body.get("next_page_token")
        if not token:
            break
    assert pages == 3
    assert sorted(seen) == sorted(by_name(client))
    assert client.get(BASE, params={"page_token": "garbage"}).status_code == 400


def test_list_shows_only_warehouses_the_caller_can_manage(ws: LocalWorkspace) -> None:
    ids = {w["name"]: w["id"] for w in by_name_of(ws)}
    manager = ws.create_service_principal(
        "manager", warehouse_permission={ids["Shared Endpoint"]: "CAN_MANAGE"}
    )
    user = ws.create_service_principal("user", warehouse_permission="CAN_USE")
    listed = [w["name"] for w in listing(ws, manager)]
    assert listed == ["Shared Endpoint"]
    assert listing(ws, user) == []
    # CAN_USE still lets the user read and start a warehouse, but not stop it.
    headers = bearer(fetch_token(ws, user["client_id"], user["client_secret"]))
    starter = ids["Starter Warehouse"]
    assert httpx.get(f"{ws.host}{BASE}/{starter}", headers=headers).is_success
    assert httpx.post(f"{ws.host}{BASE}/{starter}/start", headers=headers).is_success
    stop = httpx.post(f"{ws.host}{BASE}/{starter}/stop", headers=headers)
    assert stop.status_code == 403 and stop.json()["error_code"] == "PERMISSION_DENIED"
    create = httpx.post(f"{ws.host}{BASE}", headers=headers, json={"name": "mine"})
    assert create.status_code == 403


def test_no_permission_means_403_on_get(ws: LocalWorkspace) -> None:
    nobody = ws.create_service_principal("nobody")
    headers = bearer(fetch_token(ws, nobody["client_id"], nobody["client_secret"]))
    warehouse_id = by_name_of(ws)[0]["id"]
    response = httpx.get(f"{ws.host}{BASE}/{warehouse_id}", headers=headers)
    assert response.status_code == 403
    assert response.json()["error_code"] == "PERMISSION_DENIED"


def by_name_of(ws: LocalWorkspace) -> list[dict]:
    headers = bearer(fetch_token(ws))
    return httpx.get(f"{ws.host}{BASE}", headers=headers).json()["warehouses"]


def listing(ws: LocalWorkspace, sp: dict) -> list[dict]:
    headers = bearer(fetch_token(ws, sp["client_id"], sp["client_secret"]))
    response = httpx.get(f"{ws.host}{BASE}", headers=headers)
    assert response.status_code == 200
    return response.json()["warehouses"]


def test_ensure_running_starts_a_stopped_warehouse(ws: LocalWorkspace) -> None:
    shared = next(w for w in by_name_of(ws) if w["name"] == "Shared Endpoint")
    state = ws.state
    assert state is not None

    started = time.monotonic()
    view = ws.call(lambda: state.warehouses.ensure_running(shared["id"]))
    assert view["state"] == "RUNNING"
    assert time.monotonic() - started >= 0.09  # the configured STARTING delay
