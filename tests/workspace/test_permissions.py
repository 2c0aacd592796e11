"""Warehouse permissions: GET/PUT/PATCH, levels, validation, and who may change them."""

from __future__ import annotations

import httpx
import pytest
from workspace_http import bearer, fetch_token

from lakegate.workspace import LocalWorkspace


def warehouse_id(client: httpx.Client, name: str = "Shared Endpoint") -> str:
    warehouses = client.get("/api/2.0/sql/warehouses").json()["warehouses"]
    return next(w["id"] for w in warehouses if w["name"] == name)


def direct(acl: dict) -> dict[str, str]:
    return {
        e.get("service_principal_name") or e.get("group_name"): e["all_permissions"][0][
            "permission_level"
        ]
        for e in acl["access_control_list"]
        if not e["all_permissions"][0]["inherited"]
    }


def test_get_shows_the_owner_and_the_inherited_admins(
    ws: LocalWorkspace, client: httpx.Client
) -> None:
    wid = warehouse_id(client)
    body = client.get(f"/api/2.0/permissions/warehouses/{wid}").json()
    assert body["object_id"] == f"/sql/warehouses/{wid}"
    assert body["object_type"] == "warehouses"
    assert direct(body) == {ws.credentials["client_id"]: "IS_OWNER"}
    admins = next(e for e in body["access_control_list"] if e.get("group_name") == "admins")
    assert admins["all_permissions"][0]["inherited"] is True


def test_patch_adds_and_put_replaces_but_keeps_the_owner(
    ws: LocalWorkspace, client: httpx.Client
) -> None:
    wid = warehouse_id(client)
    a = ws.create_service_principal("a")["client_id"]
    b = ws.create_service_principal("b")["client_id"]
    url = f"/api/2.0/permissions/warehouses/{wid}"
    entry = {"service_principal_name": a, "permission_level": "CAN_USE"}
    patched = client.patch(url, json={"access_control_list": [entry]}).json()
    assert direct(patched)[a] == "CAN_USE"
    users = {"group_name": "users", "permission_level": "CAN_MONITOR"}
    mine = {"service_principal_name": b, "permission_level": "CAN_MANAGE"}
    put = client.put(url, json={"access_control_list": [mine, users]}).json()
    assert direct(put) == {ws.credentials["client_id"]: "IS_OWNER", b: "CAN_MANAGE",
                           "users": "CAN_MONITOR"}  # fmt: skip
    assert direct(client.get(url).json()) == direct(put)


@pytest.mark.parametrize(
    "entry",
    [
        {"service_principal_name": "no-such-sp", "permission_level": "CAN_USE"},
        {"group_name": "strangers", "permission_level": "CAN_USE"},
        {"user_name": "someone@example.com", "permission_level": "CAN_USE"},
        {"group_name": "users", "permission_level": "CAN_FLY"},
        {"permission_level": "CAN_USE"},
    ],
)
def test_invalid_entries_are_400(client: httpx.Client, entry: dict) -> None:
    wid = warehouse_id(client)
    response = client.patch(
        f"/api/2.0/permissions/warehouses/{wid}", json={"access_control_list": [entry]}
    )
    assert response.status_code == 400
    assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"


def test_second_owner_is_refused(ws: LocalWorkspace, client: httpx.Client) -> None:
    wid = warehouse_id(client)
    other = ws.create_service_principal("other")["client_id"]
    entry = {"service_principal_name": other, "permission_level": "IS_OWNER"}
    response = client.patch(
        f"/api/2.0/permissions/warehouses/{wid}", json={"access_control_list": [entry]}
    )
    assert response.status_code == 400
    assert "one owner" in response.json()["message"]


def test_unknown_object_and_type(client: httpx.Client) -> None:
    missing = client.get("/api/2.0/permissions/warehouses/0000000000000000")
    assert missing.status_code == 404
    unknown = client.get("/api/2.0/permissions/pipelines/abc")
    assert unknown.status_code == 400
    assert "warehouses" in unknown.json()["message"]


def test_granted_can_manage_lets_a_principal_read_and_change_permissions(
    ws: LocalWorkspace, client: httpx.Client
) -> None:
    wid = warehouse_id(client)
    sp = ws.create_service_principal("helper", warehouse_permission="CAN_USE")
    headers = bearer(fetch_token(ws, sp["client_id"], sp["client_secret"]))
    url = f"{ws.host}/api/2.0/permissions/warehouses/{wid}"
    assert httpx.get(url, headers=headers).status_code == 403
    entry = {"service_principal_name": sp["client_id"], "permission_level": "CAN_MANAGE"}
    client.patch(url, json={"access_control_list": [entry]})
    assert httpx.get(url, headers=headers).status_code == 200
    levels = httpx.get(url + "/permissionLevels", headers=headers).json()
    assert [x["permission_level"] for x in levels["permission_levels"]] == [
        "CAN_USE",
        "CAN_MONITOR",
        "CAN_MANAGE",
        "IS_OWNER",
    ]
