"""SDK calls that SDK-based tools use often, through the official databricks-sdk, unchanged:
tables.exists/list_summaries, jobs.submit/get_run_output, grants, volumes, functions, SCIM users
and groups, account workspaces, the workspace warehouse config; with their error shapes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from databricks.sdk import WorkspaceClient
from databricks.sdk.errors import BadRequest, NotFound, PermissionDenied, ResourceAlreadyExists
from databricks.sdk.service import catalog, iam, jobs, sql

from _support import account_client, workspace_client
from lakegate.workspace import LocalWorkspace

WAIT = timedelta(seconds=60)


@pytest.fixture(scope="module")
def ws() -> Iterator[LocalWorkspace]:
    """This module's own workspace: it creates users, groups, grants and functions."""
    with LocalWorkspace(warehouse_delays=0.1) as workspace:
        runs = workspace.state.jobs  # type: ignore[union-attr]
        runs.setup_s, runs.notebook_s = 0.05, 0.2  # simulated work, kept short
        yield workspace


@pytest.fixture(scope="module")
def w(ws: LocalWorkspace) -> WorkspaceClient:
    return workspace_client(ws)


@pytest.fixture(scope="module")
def user_w(ws: LocalWorkspace) -> WorkspaceClient:
    """A workspace user that is not an admin."""
    sp = ws.create_service_principal("gaps-user", warehouse_permission="CAN_USE")
    return workspace_client(ws, sp["client_id"], sp["client_secret"])


@pytest.fixture(scope="module")
def warehouse(w: WorkspaceClient) -> str:
    return next(x.id for x in w.warehouses.list() if x.name == "Starter Warehouse")


def run_sql(w: WorkspaceClient, warehouse: str, text: str) -> list[list[str]] | None:
    done = w.statement_execution.execute_statement(text, warehouse, wait_timeout="30s")
    assert done.status.state == sql.StatementState.SUCCEEDED, done.status
    return done.result.data_array if done.result else None


# -- Unity Catalog ---------------------------------------------------------------------------


def test_tables_exists(w: WorkspaceClient) -> None:
    assert w.tables.exists("samples.nyctaxi.trips").table_exists is True
    assert w.tables.exists("samples.nyctaxi.no_such_table").table_exists is False
    with pytest.raises(NotFound):
        w.tables.exists("samples.no_such_schema.trips")
    with pytest.raises(BadRequest, match="full table name"):
        w.tables.exists("just_a_name")


def test_tables_list_summaries_filters_and_pages(w: WorkspaceClient) -> None:
    everything = list(w.tables.list_summaries("samples"))
    names = {t.full_name for t in everything}
    assert "samples.nyctaxi.trips" in names
    assert all(t.table_type == catalog.TableType.MANAGED for t in everything)
    paged = list(w.tables.list_summaries("samples", max_results=1))
    assert [t.full_name for t in paged] == [t.full_name for t in everything]
    nyc = list(w.tables.list_summaries("samples", schema_name_pattern="nyc%"))
    assert [t.full_name for t in nyc] == ["samples.nyctaxi.trips"]
    tr = list(w.tables.list_summaries("samples", table_name_pattern="tri_s"))
    assert [t.full_name for t in tr] == ["samples.nyctaxi.trips"]
    with pytest.raises(NotFound):
        list(w.tables.list_summaries("no_such_catalog"))


def test_volumes_list(w: WorkspaceClient) -> None:
    assert list(w.volumes.list("samples", "nyctaxi")) == []
    with pytest.raises(NotFound):
        list(w.volumes.list("samples", "no_such_schema"))


def test_functions_list(w: WorkspaceClient, warehouse: str) -> None:
    assert list(w.functions.list("samples", "nyctaxi")) == []
    run_sql(w, warehouse, "CREATE FUNCTION main.default.twice(x INT) RETURNS INT RETURN x * 2")
    found = {f.name: f for f in w.functions.list("main", "default")}
    twice = found["twice"]
    assert twice.full_name == "main.default.twice"
    assert [(p.name, p.type_name) for p in twice.input_params.parameters] == [
        ("x", catalog.ColumnTypeName.INT)
    ]
    assert twice.routine_body == catalog.FunctionInfoRoutineBody.SQL
    with pytest.raises(NotFound):
        list(w.functions.list("main", "no_such_schema"))


def test_grants_get_update_and_effective(w: WorkspaceClient) -> None:
    table = "samples.nyctaxi.trips"
    kinds = [("catalog", "samples", "USE_CATALOG"), ("schema", "samples.nyctaxi", "USE_SCHEMA")]
    for kind, name, privilege in kinds:
        w.grants.update(
            kind,
            name,
            changes=[
                catalog.PermissionsChange(principal="analysts", add=[catalog.Privilege(privilege)])
            ],
        )
    changed = w.grants.update(
        "table",
        table,
        changes=[
            catalog.PermissionsChange(
                principal="analysts", add=[catalog.Privilege.SELECT, catalog.Privilege.MODIFY]
            ),
            catalog.PermissionsChange(principal="auditors", add=[catalog.Privilege.SELECT]),
        ],
    )
    assert {a.principal for a in changed.privilege_assignments} == {"analysts", "auditors"}
    w.grants.update(
        "table",
        table,
        changes=[
            catalog.PermissionsChange(principal="analysts", remove=[catalog.Privilege.MODIFY])
        ],
    )
    direct = w.grants.get("table", table, principal="analysts")
    assert [(a.principal, a.privileges) for a in direct.privilege_assignments] == [
        ("analysts", [catalog.Privilege.SELECT])
    ]
    effective = w.grants.get_effective("table", table, principal="analysts")
    [assignment] = effective.privilege_assignments
    got = {
        (p.privilege.value, p.inherited_from_type.value if p.inherited_from_type else None)
        for p in assignment.privileges
    }
    assert got == {("USE_CATALOG", "CATALOG"), ("USE_SCHEMA", "SCHEMA"), ("SELECT", None)}
    assert w.grants.get("catalog", "main").privilege_assignments == []


def test_grants_errors(w: WorkspaceClient, user_w: WorkspaceClient) -> None:
    with pytest.raises(NotFound):
        w.grants.get("table", "samples.nyctaxi.no_such_table")
    with pytest.raises(BadRequest, match="not supported"):
        w.grants.get("share", "anything")
    with pytest.raises(BadRequest, match="Unknown privilege"):
        w.api_client.do(
            "PATCH",
            "/api/2.1/unity-catalog/permissions/catalog/main",
            body={"changes": [{"principal": "x", "add": ["FLY"]}]},
        )
    with pytest.raises(PermissionDenied):
        user_w.grants.update(
            "catalog",
            "main",
            changes=[catalog.PermissionsChange(principal="me", add=[catalog.Privilege.MANAGE])],
        )
    assert w.grants.get("catalog", "main", principal="x").privilege_assignments == []


# -- Jobs ------------------------------------------------------------------------------------


def test_jobs_submit_a_one_time_run_and_get_its_output(w: WorkspaceClient) -> None:
    task = jobs.SubmitTask(
        task_key="nb", notebook_task=jobs.NotebookTask(notebook_path="/Shared/once")
    )
    run = w.jobs.submit(run_name="one-off", tasks=[task]).result(timeout=WAIT)
    assert run.run_type == jobs.RunType.SUBMIT_RUN
    assert run.run_name == "one-off"
    assert run.state.result_state == jobs.RunResultState.SUCCESS
    assert run.job_id not in {j.job_id for j in w.jobs.list()}  # one-time runs are no jobs
    by_task = w.jobs.get_run_output(run.tasks[0].run_id)
    assert by_task.metadata.state.result_state == jobs.RunResultState.SUCCESS
    assert by_task.notebook_output is not None
    assert by_task.error is None
    assert w.jobs.get_run_output(run.run_id).metadata.run_id == run.tasks[0].run_id


def test_jobs_submit_is_idempotent(w: WorkspaceClient) -> None:
    task = jobs.SubmitTask(task_key="nb", notebook_task=jobs.NotebookTask(notebook_path="/x"))
    first = w.jobs.submit(tasks=[task], idempotency_token="gaps-once").response.run_id
    again = w.jobs.submit(tasks=[task], idempotency_token="gaps-once").response.run_id
    assert first == again


def test_run_output_of_a_sql_task_points_at_its_statement(
    w: WorkspaceClient, warehouse: str
) -> None:
    query = w.queries.create(
        query=sql.CreateQueryRequestQuery(display_name="answer", query_text="SELECT 42 AS answer")
    )
    sql_task = jobs.SqlTask(warehouse_id=warehouse, query=jobs.SqlTaskQuery(query_id=query.id))
    failing = jobs.NotebookTask(notebook_path="/Shared/will_fail")
    run = w.jobs.submit(
        run_name="sql once",
        tasks=[
            jobs.SubmitTask(task_key="ask", sql_task=sql_task),
            jobs.SubmitTask(
                task_key="then_fail",
                depends_on=[jobs.TaskDependency(task_key="ask")],
                notebook_task=failing,
            ),
        ],
    ).result(timeout=WAIT)
    tasks = {t.task_key: t for t in run.tasks}
    asked = w.jobs.get_run_output(tasks["ask"].run_id)
    output = asked.sql_output.query_output
    assert (output.query_text, output.warehouse_id) == ("SELECT 42 AS answer", warehouse)
    statement = w.statement_execution.get_statement(output.sql_statements[0].lookup_key)
    assert statement.result.data_array == [["42"]]
    failed = w.jobs.get_run_output(tasks["then_fail"].run_id)
    assert "simulated failure" in failed.error
    with pytest.raises(BadRequest, match="multiple tasks"):
        w.jobs.get_run_output(run.run_id)
    with pytest.raises(NotFound):
        w.jobs.get_run_output(123456789)


def test_one_time_runs_are_only_visible_to_their_creator_and_admins(
    w: WorkspaceClient, user_w: WorkspaceClient
) -> None:
    task = jobs.SubmitTask(task_key="nb", notebook_task=jobs.NotebookTask(notebook_path="/y"))
    mine = user_w.jobs.submit(tasks=[task]).result(timeout=WAIT)
    assert user_w.jobs.get_run_output(mine.run_id).metadata.state.result_state.value == "SUCCESS"
    theirs = w.jobs.submit(tasks=[task]).response.run_id
    with pytest.raises(NotFound):
        user_w.jobs.get_run(theirs)
    assert w.jobs.get_run(mine.run_id).run_id == mine.run_id


# -- SCIM users and groups --------------------------------------------------------------------


def test_scim_users(w: WorkspaceClient, user_w: WorkspaceClient) -> None:
    created = w.users.create(user_name="ada@example.com", display_name="Ada Lovelace")
    assert created.id and created.user_name == "ada@example.com"
    listed = list(w.users.list(filter='userName eq "ada@example.com"'))
    assert [u.id for u in listed] == [created.id]
    got = w.users.get(created.id)
    assert got.display_name == "Ada Lovelace"
    assert "users" in {g.display for g in got.groups}
    assert created.id in {u.id for u in user_w.users.list()}  # any user may read
    with pytest.raises(PermissionDenied):
        user_w.users.create(user_name="eve@example.com")
    with pytest.raises(ResourceAlreadyExists):
        w.users.create(user_name="ada@example.com")
    replace = iam.PatchOp.REPLACE
    w.users.patch(
        created.id,
        operations=[
            iam.Patch(op=replace, path="active", value=False),
            iam.Patch(op=replace, path="displayName", value="Countess Lovelace"),
        ],
        schemas=[iam.PatchSchema.URN_IETF_PARAMS_SCIM_API_MESSAGES_2_0_PATCH_OP],
    )
    patched = w.users.get(created.id)
    assert (patched.active, patched.display_name) == (False, "Countess Lovelace")
    with pytest.raises(BadRequest, match="userName"):
        w.users.patch(created.id, operations=[iam.Patch(op=replace, path="userName", value="x")])
    # PUT replaces: what is not sent goes back to its default (displayName: the user name).
    w.users.update(created.id, user_name="ada@example.com", active=True)
    replaced = w.users.get(created.id)
    assert (replaced.active, replaced.display_name) == (True, "ada@example.com")
    with pytest.raises(BadRequest, match="cannot change"):
        w.users.update(created.id, user_name="eve@example.com")
    with pytest.raises(PermissionDenied):
        user_w.users.update(created.id, user_name="ada@example.com", active=False)
    assert w.users.get(created.id).active is True
    w.users.delete(created.id)
    with pytest.raises(NotFound):
        w.users.get(created.id)
    with pytest.raises(BadRequest, match="Unsupported SCIM filter"):
        list(w.users.list(filter="userName gt 1"))
    with pytest.raises(BadRequest, match="Unsupported SCIM filter"):
        list(w.groups.list(filter="someword"))  # no operator at all
    # An unquoted one-word value is taken, as Databricks takes it (the SDK's own suite does).
    assert list(w.groups.list(filter="displayName eq any-group-nobody-has")) == []
    assert [g.display_name for g in w.groups.list(filter="displayName eq admins")] == ["admins"]
    assert list(w.service_principals.list(filter="displayName eq nobody-here")) == []
    # One filter language for users, groups and service principals: and/or, true/false.
    both = w.groups.list(filter='displayName eq "admins" or displayName eq users')
    assert sorted(g.display_name for g in both) == ["admins", "users"]
    active = list(w.service_principals.list(filter="active eq true"))
    assert active and all(p.active for p in active)
    assert list(w.service_principals.list(filter="active eq false")) == []
    with pytest.raises(BadRequest, match="attributes displayName, applicationId, id, active"):
        list(w.service_principals.list(filter='userName eq "x"'))


def test_scim_groups(ws: LocalWorkspace, w: WorkspaceClient) -> None:
    groups = {g.display_name: g for g in w.groups.list()}
    assert {"admins", "users"} <= set(groups)
    admin_id = w.current_user.me().id
    assert admin_id in {m.value for m in groups["admins"].members}
    user = w.users.create(user_name="grace@example.com")
    team = w.groups.create(display_name="data-eng", members=[iam.ComplexValue(value=user.id)])
    assert [m.value for m in w.groups.get(team.id).members] == [user.id]
    assert [g.display_name for g in w.groups.list(filter='displayName eq "data-eng"')] == [
        "data-eng"
    ]
    assert "data-eng" in {g.display for g in w.users.get(user.id).groups}
    add = iam.Patch(op=iam.PatchOp.ADD, path="members", value=[{"value": admin_id}])
    w.groups.patch(team.id, operations=[add])
    assert {m.value for m in w.groups.get(team.id).members} == {user.id, admin_id}
    drop = iam.Patch(op=iam.PatchOp.REMOVE, path=f'members[value eq "{user.id}"]')
    w.groups.patch(team.id, operations=[drop])
    assert [m.value for m in w.groups.get(team.id).members] == [admin_id]
    with pytest.raises(BadRequest, match="not a user or principal"):
        w.groups.patch(
            team.id,
            operations=[iam.Patch(op=iam.PatchOp.ADD, path="members", value=[{"value": "42"}])],
        )
    with pytest.raises(BadRequest, match="follow the workspace"):
        w.groups.patch(groups["users"].id, operations=[add])
    w.groups.delete(team.id)
    with pytest.raises(NotFound):
        w.groups.get(team.id)
    with pytest.raises(PermissionDenied):
        w.groups.delete(groups["admins"].id)


# -- account and warehouse config ------------------------------------------------------------


def test_account_workspaces_list_and_get(ws: LocalWorkspace) -> None:
    a = account_client(ws)
    [workspace] = a.workspaces.list()
    assert workspace.workspace_id == int(ws.workspace_id)
    assert workspace.account_id == ws.account_id
    assert workspace.workspace_status.value == "RUNNING"
    assert a.workspaces.get(workspace.workspace_id).workspace_name == workspace.workspace_name
    with pytest.raises(NotFound):
        a.workspaces.get(1)


def test_workspace_warehouse_config(w: WorkspaceClient) -> None:
    config = w.warehouses.get_workspace_warehouse_config()
    assert config.security_policy == sql.GetWorkspaceWarehouseConfigResponseSecurityPolicy.NONE
    assert {t.warehouse_type.value for t in config.enabled_warehouse_types} == {"PRO", "CLASSIC"}


@pytest.mark.parametrize(
    "path",
    [
        "/api/2.1/unity-catalog/tables/samples.nyctaxi.trips/exists",
        "/api/2.1/unity-catalog/table-summaries?catalog_name=samples",
        "/api/2.1/unity-catalog/volumes?catalog_name=samples&schema_name=nyctaxi",
        "/api/2.1/unity-catalog/functions?catalog_name=samples&schema_name=nyctaxi",
        "/api/2.1/unity-catalog/permissions/catalog/samples",
        "/api/2.1/unity-catalog/effective-permissions/catalog/samples",
        "/api/2.2/jobs/runs/get-output?run_id=1",
        "/api/2.0/preview/scim/v2/Users",
        "/api/2.0/preview/scim/v2/Groups",
        "/api/2.0/sql/config/warehouses",
    ],
)
def test_new_routes_need_a_bearer(ws: LocalWorkspace, path: str) -> None:
    missing = httpx.get(ws.host + path)
    assert missing.status_code == 401
    assert missing.json()["error_code"] == "UNAUTHENTICATED"
    bad = httpx.get(ws.host + path, headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 403
    assert set(bad.json()) == {"error_code", "message"}


# -- the legacy SQL API's data sources ---------------------------------------------------------


def test_data_sources_list_the_warehouses_the_caller_may_use(
    w: WorkspaceClient, user_w: WorkspaceClient
) -> None:
    """`w.data_sources.list()` (the legacy API `queries.create` took ids from): one per
    warehouse, fewer for a user who may use fewer."""
    private = w.warehouses.create(name="data-sources-private", cluster_size="2X-Small").response
    try:
        everything = {x.id for x in w.warehouses.list()}
        sources = w.data_sources.list()
        assert {s.warehouse_id for s in sources} == everything
        assert all(s.id == s.warehouse_id and s.type == "databricks_internal" for s in sources)
        usable = {s.warehouse_id for s in user_w.data_sources.list()}
        assert usable and private.id not in usable and usable < everything
    finally:
        w.warehouses.delete(private.id)


def test_workspace_conf_keeps_admin_settings(w: WorkspaceClient, user_w: WorkspaceClient) -> None:
    assert w.workspace_conf.get_status(keys="maxTokenLifetimeDays") == {
        "maxTokenLifetimeDays": None  # never set
    }
    w.workspace_conf.set_status({"enableResultsDownloading": "false", "maxTokenLifetimeDays": "90"})
    both = "enableResultsDownloading,maxTokenLifetimeDays"
    assert w.workspace_conf.get_status(keys=both) == {
        "enableResultsDownloading": "false",
        "maxTokenLifetimeDays": "90",
    }
    # A bad value, an unknown key or a non-admin changes nothing, and says what to send.
    with pytest.raises(BadRequest, match='"true" or "false"'):
        w.workspace_conf.set_status(
            {"maxTokenLifetimeDays": "30", "enableResultsDownloading": "no"}
        )
    with pytest.raises(BadRequest, match=r"Invalid keys: \['enableEverything'\]"):
        w.workspace_conf.get_status(keys="enableEverything")
    with pytest.raises(BadRequest, match="keys is required"):
        w.api_client.do("GET", "/api/2.0/workspace-conf")
    with pytest.raises(PermissionDenied, match="Only workspace admins"):
        user_w.workspace_conf.set_status({"enableResultsDownloading": "true"})
    assert user_w.workspace_conf.get_status(keys=both) == {
        "enableResultsDownloading": "false",
        "maxTokenLifetimeDays": "90",
    }


def test_queries_update_changes_what_the_mask_names(
    w: WorkspaceClient, user_w: WorkspaceClient, warehouse: str
) -> None:
    query = w.queries.create(
        query=sql.CreateQueryRequestQuery(
            display_name="weekly", warehouse_id=warehouse, query_text="SELECT 1", description="d"
        )
    )
    updated = w.queries.update(
        id=query.id,
        query=sql.UpdateQueryRequestQuery(display_name="weekly v2", query_text="SELECT 2"),
        update_mask="display_name,query_text",
    )
    assert (updated.display_name, updated.query_text, updated.description) == (
        "weekly v2", "SELECT 2", "d",  # not in the mask: kept
    )  # fmt: skip
    assert w.queries.get(query.id).query_text == "SELECT 2"
    with pytest.raises(BadRequest, match="update_mask takes"):
        w.queries.update(id=query.id, query=sql.UpdateQueryRequestQuery(), update_mask="owner")
    with pytest.raises(BadRequest, match="non-empty string"):
        w.queries.update(
            id=query.id, query=sql.UpdateQueryRequestQuery(query_text=""), update_mask="query_text"
        )
    with pytest.raises(PermissionDenied, match="owner"):
        user_w.queries.update(
            id=query.id, query=sql.UpdateQueryRequestQuery(query_text="SELECT 3"),
            update_mask="query_text",
        )  # fmt: skip
    assert w.queries.get(query.id).query_text == "SELECT 2"
