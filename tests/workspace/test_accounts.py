"""The account API on its own host: SCIM, secrets, workspace assignments, and their effects."""

from __future__ import annotations

import time

import httpx
import pytest
from workspace_http import bearer, fetch_token

from lakegate.workspace import LocalWorkspace

FORM = {"grant_type": "client_credentials", "scope": "all-apis"}
SPS = "/scim/v2/ServicePrincipals"


def new_sp(account_admin: httpx.Client, name: str) -> dict:
    response = account_admin.post(SPS, json={"displayName": name})
    assert response.status_code == 201, response.text
    return response.json()


def new_secret(account_admin: httpx.Client, sp: dict, **body) -> dict:
    response = account_admin.post(f"/servicePrincipals/{sp['id']}/credentials/secrets", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def assign(account_admin: httpx.Client, ws: LocalWorkspace, sp: dict, level: str = "USER"):
    path = f"/workspaces/{ws.workspace_id}/permissionassignments/principals/{sp['id']}"
    return account_admin.put(path, json={"permissions": [level]})


def assigned_sp(
    account_admin: httpx.Client, ws: LocalWorkspace, name: str, **secret: str
) -> tuple[dict, str]:
    """A new service principal assigned to `ws` as a user, and a new secret of it."""
    sp = new_sp(account_admin, name)
    assign(account_admin, ws, sp)
    return sp, new_secret(account_admin, sp, **secret)["secret"]


def workspace_token(ws: LocalWorkspace, sp: dict, secret: str) -> httpx.Response:
    return httpx.post(f"{ws.host}/oidc/v1/token", data=FORM, auth=(sp["applicationId"], secret))


def test_create_service_principal_has_numeric_id_and_uuid_application_id(
    account_admin: httpx.Client,
) -> None:
    sp = new_sp(account_admin, "acct-sp")
    assert sp["id"].isdigit()
    assert len(sp["applicationId"]) == 36
    assert sp["active"] is True
    assert sp["schemas"] == ["urn:ietf:params:scim:schemas:core:2.0:ServicePrincipal"]
    assert account_admin.get(f"{SPS}/{sp['id']}").json() == sp


def test_filter_by_display_name(account_admin: httpx.Client) -> None:
    new_sp(account_admin, "filter-me")
    body = account_admin.get(SPS, params={"filter": 'displayName eq "filter-me"'}).json()
    assert body["totalResults"] == 1
    assert body["Resources"][0]["displayName"] == "filter-me"
    starts = account_admin.get(SPS, params={"filter": 'displayName sw "filter-"'}).json()
    assert starts["totalResults"] >= 1
    bad = account_admin.get(SPS, params={"filter": "displayName ~~ x"})
    assert bad.status_code == 400 and bad.json()["error_code"] == "INVALID_PARAMETER_VALUE"


def test_scim_paging_with_start_index_and_count(account_admin: httpx.Client) -> None:
    for i in range(3):
        new_sp(account_admin, f"page-{i}")
    everyone = account_admin.get(SPS).json()
    page = account_admin.get(SPS, params={"startIndex": 2, "count": 2}).json()
    assert page["itemsPerPage"] == 2 and page["startIndex"] == 2
    assert page["Resources"] == everyone["Resources"][1:3]


def test_secret_value_is_shown_once_and_works_after_assignment(
    workspace: LocalWorkspace, account_admin: httpx.Client
) -> None:
    sp = new_sp(account_admin, "copilot")
    secret = new_secret(account_admin, sp, lifetime="3600s")
    assert secret["secret"].startswith("dose") and secret["status"] == "ACTIVE"
    listed = account_admin.get(f"/servicePrincipals/{sp['id']}/credentials/secrets").json()
    assert [s["id"] for s in listed["secrets"]] == [secret["id"]]
    assert secret["secret"] not in str(listed)
    assert "secret" not in listed["secrets"][0]
    assert workspace_token(workspace, sp, secret["secret"]).status_code == 401  # unassigned
    assigned = assign(account_admin, workspace, sp)
    assert assigned.json()["permissions"] == ["USER"]
    assert assigned.json()["principal"]["principal_id"] == int(sp["id"])
    response = workspace_token(workspace, sp, secret["secret"])
    assert response.status_code == 200
    me = httpx.get(
        f"{workspace.host}/api/2.0/preview/scim/v2/Me",
        headers=bearer(response.json()["access_token"]),
    )
    assert me.json()["userName"] == sp["applicationId"]
    listing = account_admin.get(f"/workspaces/{workspace.workspace_id}/permissionassignments")
    names = [
        a["principal"]["service_principal_name"] for a in listing.json()["permission_assignments"]
    ]
    assert sp["applicationId"] in names


def test_at_most_five_secrets(account_admin: httpx.Client) -> None:
    sp = new_sp(account_admin, "five")
    secrets = [new_secret(account_admin, sp) for _ in range(5)]
    sixth = account_admin.post(f"/servicePrincipals/{sp['id']}/credentials/secrets", json={})
    assert sixth.status_code == 400
    assert "at most 5" in sixth.json()["message"]
    path = f"/servicePrincipals/{sp['id']}/credentials/secrets/{secrets[0]['id']}"
    assert account_admin.delete(path).is_success
    new_secret(account_admin, sp)


def test_bad_lifetime_and_scopes_are_400(account_admin: httpx.Client) -> None:
    sp = new_sp(account_admin, "bad-secret")
    url = f"/servicePrincipals/{sp['id']}/credentials/secrets"
    for body in ({"lifetime": "forever"}, {"lifetime": "99999999999s"}, {"scopes": ["root"]}):
        response = account_admin.post(url, json=body)
        assert response.status_code == 400, body


def test_expired_secret_is_invalid_client(
    workspace: LocalWorkspace, account_admin: httpx.Client
) -> None:
    sp, secret = assigned_sp(account_admin, workspace, "short-lived", lifetime="1s")
    deadline = time.monotonic() + 60  # an upper bound: the secret expires after 1 s
    while workspace_token(workspace, sp, secret).status_code == 200:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert workspace_token(workspace, sp, secret).json()["error"] == "invalid_client"
    listed = account_admin.get(f"/servicePrincipals/{sp['id']}/credentials/secrets").json()
    assert listed["secrets"][0]["status"] == "EXPIRED"


def test_deactivated_principal_loses_tokens_and_secrets(
    workspace: LocalWorkspace, account_admin: httpx.Client
) -> None:
    sp, secret = assigned_sp(account_admin, workspace, "to-deactivate")
    access = workspace_token(workspace, sp, secret).json()["access_token"]
    me_url = f"{workspace.host}/api/2.0/preview/scim/v2/Me"
    assert httpx.get(me_url, headers=bearer(access)).is_success
    op = {"op": "replace", "path": "active", "value": False}
    patched = account_admin.patch(f"{SPS}/{sp['id']}", json={"Operations": [op]})
    assert patched.json()["active"] is False
    assert httpx.get(me_url, headers=bearer(access)).status_code == 403
    assert workspace_token(workspace, sp, secret).json()["error"] == "invalid_client"


def test_deleted_principal_and_removed_assignment_get_invalid_client(
    workspace: LocalWorkspace, account_admin: httpx.Client
) -> None:
    sp, secret = assigned_sp(account_admin, workspace, "to-delete")
    assert workspace_token(workspace, sp, secret).status_code == 200
    path = f"/workspaces/{workspace.workspace_id}/permissionassignments/principals/{sp['id']}"
    assert account_admin.delete(path).is_success
    assert workspace_token(workspace, sp, secret).status_code == 401
    assert account_admin.delete(f"{SPS}/{sp['id']}").status_code == 204
    assert account_admin.get(f"{SPS}/{sp['id']}").status_code == 404
    token_url = f"{workspace.account_host}/oidc/accounts/{workspace.account_id}/v1/token"
    gone = httpx.post(token_url, data=FORM, auth=(sp["applicationId"], secret))
    assert gone.status_code == 401


def test_only_account_admins_use_the_account_api(workspace: LocalWorkspace) -> None:
    sp = workspace.create_service_principal("plain-user")
    access = fetch_token(workspace, sp["client_id"], sp["client_secret"], account=True)
    url = f"{workspace.account_host}/api/2.0/accounts/{workspace.account_id}{SPS}"
    response = httpx.get(url, headers=bearer(access))
    assert response.status_code == 403
    assert response.json()["error_code"] == "PERMISSION_DENIED"


def test_invalid_assignment_and_unknown_ids(
    workspace: LocalWorkspace, account_admin: httpx.Client
) -> None:
    sp = new_sp(account_admin, "assign-bad")
    assert assign(account_admin, workspace, sp, "OWNER").status_code == 400
    other_ws = f"/workspaces/1/permissionassignments/principals/{sp['id']}"
    assert account_admin.put(other_ws, json={"permissions": ["USER"]}).status_code == 404
    assert account_admin.get(f"{SPS}/999").status_code == 404
    wrong_account = account_admin.get(
        f"{workspace.account_host}/api/2.0/accounts/00000000-0000-0000-0000-000000000000{SPS}"
    )
    assert wrong_account.status_code == 404


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_workspace_scim_lists_and_adds_service_principals(
    workspace: LocalWorkspace, admin: httpx.Client, method: str
) -> None:
    base = "/api/2.0/preview/scim/v2/ServicePrincipals"
    if method == "POST":
        created = admin.post(base, json={"displayName": "ws-scim"})
        assert created.status_code == 201
        sp = created.json()
        assert admin.get(f"{base}/{sp['id']}").json()["displayName"] == "ws-scim"
        assert admin.delete(f"{base}/{sp['id']}").status_code == 204
        assert admin.get(f"{base}/{sp['id']}").status_code == 404
    else:
        found = admin.get(base, params={"filter": 'displayName eq "lakegate-admin"'}).json()
        assert found["totalResults"] == 1
        assert found["Resources"][0]["applicationId"] == workspace.credentials["client_id"]
