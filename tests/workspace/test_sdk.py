"""The official databricks-sdk, unchanged, with OAuth M2M against the local workspace."""

from __future__ import annotations

from datetime import timedelta

import pytest
from databricks.sdk import AccountClient, WorkspaceClient
from databricks.sdk.errors import NotFound, PermissionDenied
from databricks.sdk.service import iam, sql

from _support import account_client, workspace_client
from lakegate.workspace import LocalWorkspace


@pytest.fixture
def ws(workspace_factory) -> LocalWorkspace:
    return workspace_factory()


@pytest.fixture
def w(ws: LocalWorkspace) -> WorkspaceClient:
    return workspace_client(ws)


@pytest.fixture
def a(ws: LocalWorkspace) -> AccountClient:
    return account_client(ws)


def test_warehouses_list_get_start_stop_edit(w: WorkspaceClient) -> None:
    warehouses = {x.name: x for x in w.warehouses.list()}
    assert warehouses["Starter Warehouse"].state == sql.State.RUNNING
    shared = warehouses["Shared Endpoint"]
    assert shared.state == sql.State.STOPPED
    running = w.warehouses.start(shared.id).result(timeout=timedelta(seconds=20))
    assert running.state == sql.State.RUNNING
    assert w.warehouses.get(shared.id).num_clusters == 1
    w.warehouses.stop(shared.id)
    w.warehouses.edit(shared.id, name="Shared Endpoint", cluster_size="Medium", max_num_clusters=2)
    edited = w.warehouses.get(shared.id)
    assert (edited.cluster_size, edited.max_num_clusters) == ("Medium", 2)
    assert edited.state in (sql.State.STOPPING, sql.State.STOPPED)
    with pytest.raises(NotFound):
        w.warehouses.get("0000000000000000")


def test_create_and_delete_a_warehouse(w: WorkspaceClient) -> None:
    created = w.warehouses.create(name="SDK made", cluster_size="Small").result(
        timeout=timedelta(seconds=20)
    )
    assert created.state == sql.State.RUNNING
    assert created.creator_name
    w.warehouses.delete(created.id)
    states = {x.name: x.state for x in w.warehouses.list()}
    assert states.get("SDK made") in (None, sql.State.DELETING)  # DELETED ones are not listed
    assert w.warehouses.get(created.id).state in (sql.State.DELETING, sql.State.DELETED)


def test_permissions(ws: LocalWorkspace, w: WorkspaceClient) -> None:
    shared = next(x for x in w.warehouses.list() if x.name == "Shared Endpoint")
    sp = ws.create_service_principal("sdk-perm")
    acl = [
        sql.WarehouseAccessControlRequest(
            service_principal_name=sp["client_id"],
            permission_level=sql.WarehousePermissionLevel.CAN_USE,
        )
    ]
    updated = w.warehouses.update_permissions(shared.id, access_control_list=acl)
    levels = {
        e.service_principal_name: e.all_permissions[0].permission_level
        for e in updated.access_control_list
        if e.service_principal_name
    }
    assert levels[sp["client_id"]] == sql.WarehousePermissionLevel.CAN_USE
    assert levels[ws.credentials["client_id"]] == sql.WarehousePermissionLevel.IS_OWNER
    generic = w.permissions.get("warehouses", shared.id)
    assert generic.object_id == f"/sql/warehouses/{shared.id}"
    levels_doc = w.warehouses.get_permission_levels(shared.id)
    assert len(levels_doc.permission_levels) == 4


def test_account_client_creates_a_working_service_principal(
    ws: LocalWorkspace, a: AccountClient
) -> None:
    sp = a.service_principals.create(display_name="sdk-copilot")
    assert sp.id.isdigit()
    secret = a.service_principal_secrets.create(service_principal_id=sp.id)
    assert secret.secret and secret.status == "ACTIVE"
    unassigned = workspace_client(ws, sp.application_id, secret.secret)
    with pytest.raises(ValueError, match="invalid_client"):
        unassigned.current_user.me()  # the token request fails: not assigned yet
    a.workspace_assignment.update(
        workspace_id=int(ws.workspace_id),
        principal_id=int(sp.id),
        permissions=[iam.WorkspacePermission.USER],
    )
    w2 = workspace_client(ws, sp.application_id, secret.secret)
    assert w2.current_user.me().user_name == sp.application_id
    assert list(w2.warehouses.list()) == []  # manages nothing yet
    found = list(a.service_principals.list(filter='displayName eq "sdk-copilot"'))
    assert [x.id for x in found] == [sp.id]
    assigned = a.workspace_assignment.list(workspace_id=int(ws.workspace_id))
    assert sp.application_id in [x.principal.service_principal_name for x in assigned]
    assert [s.id for s in a.service_principal_secrets.list(service_principal_id=sp.id)] == [
        secret.id
    ]


def test_list_is_filtered_by_can_manage(ws: LocalWorkspace, w: WorkspaceClient) -> None:
    ids = {x.name: x.id for x in w.warehouses.list()}
    sp = ws.create_service_principal(
        "sdk-manager",
        warehouse_permission={ids["Starter Warehouse"]: "CAN_MANAGE",
                              ids["Shared Endpoint"]: "CAN_USE"},
    )  # fmt: skip
    w2 = workspace_client(ws, sp["client_id"], sp["client_secret"])
    assert [x.name for x in w2.warehouses.list()] == ["Starter Warehouse"]
    assert w2.warehouses.get(ids["Shared Endpoint"]).name == "Shared Endpoint"
    with pytest.raises(PermissionDenied):
        w2.warehouses.stop(ids["Shared Endpoint"])


def test_workspace_scim_through_the_sdk(ws: LocalWorkspace, w: WorkspaceClient) -> None:
    created = w.service_principals.create(display_name="ws-level")
    assert created.application_id
    assert [x.display_name for x in w.service_principals.list(filter='displayName eq "ws-level"')]
    me = w.current_user.me()
    assert me.display_name == "lakegate-admin"


def test_account_users_through_the_sdks_account_client(
    ws: LocalWorkspace, a: AccountClient, w: WorkspaceClient
) -> None:
    created = a.users.create(user_name="carol@example.com", display_name="Carol")
    assert created.id and created.user_name == "carol@example.com"
    found = list(a.users.list(filter='userName eq "carol@example.com"'))
    assert [u.id for u in found] == [created.id]
    assert a.users.get(created.id).display_name == "Carol"
    # one account, one workspace: the workspace sees the same person
    assert created.id in {u.id for u in w.users.list()}
    a.users.delete(created.id)
    assert "carol@example.com" not in {u.user_name for u in a.users.list()}


def test_only_account_admins_see_account_users(ws: LocalWorkspace) -> None:
    import httpx
    from workspace_http import bearer, fetch_token

    sp = ws.create_service_principal("not-an-account-admin")
    token = fetch_token(ws, sp["client_id"], sp["client_secret"], account=True)
    url = f"{ws.account_host}/api/2.0/accounts/{ws.account_id}/scim/v2/Users"
    refused = httpx.get(url, headers=bearer(token))
    assert refused.status_code == 403 and refused.json()["error_code"] == "PERMISSION_DENIED"
