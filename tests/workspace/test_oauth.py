"""The OIDC discovery documents and the client-credentials token endpoint, over raw HTTP."""

from __future__ import annotations

import base64
import uuid

import httpx
import pytest

from lakegate.workspace import LocalWorkspace

FORM = {"grant_type": "client_credentials", "scope": "all-apis"}


def post_token(ws: LocalWorkspace, data: dict, **kwargs) -> httpx.Response:
    return httpx.post(f"{ws.host}/oidc/v1/token", data=data, **kwargs)


def assert_oauth_error(response: httpx.Response, status: int, error: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["error"] == error
    assert body["error_description"]
    uuid.UUID(body["error_id"])


def test_databricks_config_points_to_the_oidc_root(workspace: LocalWorkspace) -> None:
    body = httpx.get(f"{workspace.host}/.well-known/databricks-config").json()
    assert body == {
        "oidc_endpoint": f"{workspace.host}/oidc",
        "account_id": workspace.account_id,
        "workspace_id": workspace.workspace_id,
        "cloud": "aws",
    }


@pytest.mark.parametrize("name", ["oauth-authorization-server", "openid-configuration"])
def test_discovery_documents_name_the_token_endpoint(workspace: LocalWorkspace, name: str) -> None:
    body = httpx.get(f"{workspace.host}/oidc/.well-known/{name}").json()
    assert body["issuer"] == f"{workspace.host}/oidc"
    assert body["token_endpoint"] == f"{workspace.host}/oidc/v1/token"
    assert body["authorization_endpoint"].startswith(workspace.host)
    assert "client_credentials" in body["grant_types_supported"]
    assert set(body["token_endpoint_auth_methods_supported"]) == {
        "client_secret_basic",
        "client_secret_post",
    }


def test_account_host_discovery_has_no_workspace_id(workspace: LocalWorkspace) -> None:
    config = httpx.get(f"{workspace.account_host}/.well-known/databricks-config").json()
    assert "workspace_id" not in config
    issuer = f"{workspace.account_host}/oidc/accounts/{workspace.account_id}"
    assert config["oidc_endpoint"] == issuer
    meta = httpx.get(f"{issuer}/.well-known/oauth-authorization-server").json()
    assert meta["token_endpoint"] == f"{issuer}/v1/token"


def test_client_secret_in_the_body(workspace: LocalWorkspace) -> None:
    creds = workspace.credentials
    data = {**FORM, "client_id": creds["client_id"], "client_secret": creds["client_secret"]}
    response = post_token(workspace, data)
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert body["scope"] == "all-apis"
    assert body["access_token"]


def test_client_secret_as_http_basic(workspace: LocalWorkspace) -> None:
    creds = workspace.credentials
    response = post_token(workspace, FORM, auth=(creds["client_id"], creds["client_secret"]))
    assert response.status_code == 200
    assert response.json()["access_token"]


def test_default_scope_is_all_apis_and_both_scopes_can_be_asked(
    workspace: LocalWorkspace,
) -> None:
    creds = workspace.credentials
    auth = (creds["client_id"], creds["client_secret"])
    bare = post_token(workspace, {"grant_type": "client_credentials"}, auth=auth)
    assert bare.json()["scope"] == "all-apis"
    both = post_token(workspace, {**FORM, "scope": "sql all-apis"}, auth=auth)
    assert both.json()["scope"] == "sql all-apis"


def test_credentials_in_body_and_header_at_once_is_invalid_request(
    workspace: LocalWorkspace,
) -> None:
    creds = workspace.credentials
    data = {**FORM, "client_id": creds["client_id"], "client_secret": creds["client_secret"]}
    response = post_token(workspace, data, auth=(creds["client_id"], creds["client_secret"]))
    assert_oauth_error(response, 400, "invalid_request")


def test_no_client_credentials_is_invalid_request(workspace: LocalWorkspace) -> None:
    assert_oauth_error(post_token(workspace, FORM), 400, "invalid_request")


def test_wrong_secret_is_invalid_client(workspace: LocalWorkspace) -> None:
    creds = workspace.credentials
    response = post_token(workspace, FORM, auth=(creds["client_id"], "dose" + "0" * 64))
    assert_oauth_error(response, 401, "invalid_client")
    assert response.json()["error_description"] == "Client authentication failed"


def test_unknown_client_is_invalid_client(workspace: LocalWorkspace) -> None:
    response = post_token(workspace, FORM, auth=(str(uuid.uuid4()), "whatever"))
    assert_oauth_error(response, 401, "invalid_client")


def test_unknown_scope_is_invalid_scope(workspace: LocalWorkspace) -> None:
    creds = workspace.credentials
    auth = (creds["client_id"], creds["client_secret"])
    response = post_token(workspace, {**FORM, "scope": "all-apis clusters:nuke"}, auth=auth)
    assert_oauth_error(response, 400, "invalid_scope")
    assert "clusters:nuke" in response.json()["error_description"]


def test_scope_the_secret_is_not_bound_to_is_access_denied(workspace: LocalWorkspace) -> None:
    sp = workspace.create_service_principal("sql-only-secret", scopes=["sql"])
    auth = (sp["client_id"], sp["client_secret"])
    assert post_token(workspace, {**FORM, "scope": "sql"}, auth=auth).status_code == 200
    assert_oauth_error(post_token(workspace, FORM, auth=auth), 400, "access_denied")


def test_other_grant_types_are_unsupported(workspace: LocalWorkspace) -> None:
    creds = workspace.credentials
    data = {"grant_type": "password", "username": "u", "password": "p"}
    response = post_token(workspace, data, auth=(creds["client_id"], creds["client_secret"]))
    assert_oauth_error(response, 400, "unsupported_grant_type")


def test_missing_grant_type_and_json_body_are_invalid_request(workspace: LocalWorkspace) -> None:
    creds = workspace.credentials
    auth = (creds["client_id"], creds["client_secret"])
    assert_oauth_error(post_token(workspace, {"scope": "sql"}, auth=auth), 400, "invalid_request")
    as_json = httpx.post(f"{workspace.host}/oidc/v1/token", json=FORM, auth=auth)
    assert_oauth_error(as_json, 400, "invalid_request")


def test_malformed_basic_header_is_invalid_request(workspace: LocalWorkspace) -> None:
    garbage = {"Authorization": "Basic " + base64.b64encode(b"no-colon-here").decode()}
    assert_oauth_error(post_token(workspace, FORM, headers=garbage), 400, "invalid_request")
    assert_oauth_error(
        post_token(workspace, FORM, headers={"Authorization": "Basic !!!"}), 400, "invalid_request"
    )


def test_unassigned_principal_gets_invalid_client_on_the_workspace_only(
    workspace: LocalWorkspace,
) -> None:
    sp = workspace.create_service_principal("not-in-workspace", assign=False)
    auth = (sp["client_id"], sp["client_secret"])
    assert_oauth_error(post_token(workspace, FORM, auth=auth), 401, "invalid_client")
    account_url = f"{workspace.account_host}/oidc/accounts/{workspace.account_id}/v1/token"
    assert httpx.post(account_url, data=FORM, auth=auth).status_code == 200


def test_token_endpoint_of_another_account_is_refused(workspace: LocalWorkspace) -> None:
    creds = workspace.credentials
    url = f"{workspace.account_host}/oidc/accounts/{uuid.uuid4()}/v1/token"
    response = httpx.post(url, data=FORM, auth=(creds["client_id"], creds["client_secret"]))
    assert_oauth_error(response, 400, "invalid_request")
