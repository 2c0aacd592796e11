"""Bearer tokens on every API: 401 without one, 403 for unknown/expired ones, scopes, PATs."""

from __future__ import annotations

import time

import httpx
from workspace_http import TokenGetter, bearer

from lakegate.workspace import LocalWorkspace

WAREHOUSES = "/api/2.0/sql/warehouses"
ME = "/api/2.0/preview/scim/v2/Me"


def assert_invalid_token(response: httpx.Response) -> None:
    assert response.status_code == 403, response.text
    assert response.headers["X-Databricks-Reason-Phrase"] == "Invalid access token."
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"error_code": 403, "message": "Invalid access token."}


def test_no_authorization_header_is_401_unauthenticated(workspace: LocalWorkspace) -> None:
    response = httpx.get(workspace.host + WAREHOUSES)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error_code"] == "UNAUTHENTICATED"


def test_non_bearer_authorization_is_401(workspace: LocalWorkspace) -> None:
    response = httpx.get(workspace.host + WAREHOUSES, auth=("user", "password"))
    assert response.status_code == 401
    assert response.json()["error_code"] == "UNAUTHENTICATED"


def test_unknown_token_is_403_with_the_reason_phrase(workspace: LocalWorkspace) -> None:
    assert_invalid_token(httpx.get(workspace.host + WAREHOUSES, headers=bearer("not-a-token")))


def test_expired_token_is_403_not_401(workspace_factory, token: TokenGetter) -> None:
    ws = workspace_factory(token_ttl=1)
    access = token(ws)
    assert httpx.get(ws.host + WAREHOUSES, headers=bearer(access)).status_code == 200
    deadline = time.monotonic() + 5
    while True:
        response = httpx.get(ws.host + WAREHOUSES, headers=bearer(access))
        if response.status_code != 200 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert_invalid_token(response)


def test_sql_scope_opens_sql_apis_only(workspace: LocalWorkspace, token: TokenGetter) -> None:
    headers = bearer(token(workspace, scope="sql"))
    listing = httpx.get(workspace.host + WAREHOUSES, headers=headers)
    assert listing.status_code == 200
    warehouse_id = listing.json()["warehouses"][0]["id"]
    assert httpx.get(f"{workspace.host}{WAREHOUSES}/{warehouse_id}", headers=headers).is_success
    for path in (ME, f"/api/2.0/permissions/warehouses/{warehouse_id}", "/api/2.0/token/list"):
        response = httpx.get(workspace.host + path, headers=headers)
        assert response.status_code == 403, path
        assert response.json()["error_code"] == "PERMISSION_DENIED"
        assert "all-apis" in response.json()["message"]


def test_personal_access_token_lifecycle(workspace: LocalWorkspace, admin: httpx.Client) -> None:
    created = admin.post("/api/2.0/token/create", json={"comment": "ci", "lifetime_seconds": 600})
    assert created.status_code == 200
    value, info = created.json()["token_value"], created.json()["token_info"]
    assert value.startswith("dapi")
    assert info["comment"] == "ci"
    assert info["expiry_time"] - info["creation_time"] == 600_000
    me = httpx.get(workspace.host + ME, headers=bearer(value))
    assert me.status_code == 200
    assert me.json()["userName"] == workspace.credentials["client_id"]
    listed = admin.get("/api/2.0/token/list").json()["token_infos"]
    assert info["token_id"] in [t["token_id"] for t in listed]
    assert "token_value" not in str(listed) and value not in str(listed)
    assert admin.post("/api/2.0/token/delete", json={"token_id": info["token_id"]}).is_success
    assert_invalid_token(httpx.get(workspace.host + ME, headers=bearer(value)))
    again = admin.post("/api/2.0/token/delete", json={"token_id": info["token_id"]})
    assert again.status_code == 404


def test_account_token_works_on_the_workspace_but_not_the_reverse(
    workspace: LocalWorkspace, token: TokenGetter
) -> None:
    account_token = token(workspace, account=True)
    assert httpx.get(workspace.host + WAREHOUSES, headers=bearer(account_token)).is_success
    path = f"/api/2.0/accounts/{workspace.account_id}/scim/v2/ServicePrincipals"
    assert httpx.get(workspace.account_host + path, headers=bearer(account_token)).is_success
    assert_invalid_token(httpx.get(workspace.account_host + path, headers=bearer(token(workspace))))


def test_me_describes_the_caller_and_names_the_workspace(
    workspace: LocalWorkspace, admin: httpx.Client
) -> None:
    response = admin.get(ME)
    assert response.headers["X-Databricks-Org-Id"] == workspace.workspace_id
    body = response.json()
    assert body["displayName"] == "lakegate-admin"
    assert {"display": "admins", "value": "admins"} in body["groups"]
