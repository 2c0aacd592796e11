"""Unity Catalog privileges decide what a non-admin principal's SQL may touch, on every path.

The grants are made through the REST API an admin (or the SDK's `grants.update`) uses; the
analyst's SQL goes through the Statement Execution API as a real client sends it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from workspace_http import bearer, fetch_token

from lakegate.workspace import LocalWorkspace

UC = "/api/2.1/unity-catalog"


class Sql:
    def __init__(self, client: httpx.Client, warehouse: str) -> None:
        self.client, self.warehouse = client, warehouse

    def answer(self, statement: str, **body: Any) -> dict[str, Any]:
        answer = self.client.post(
            "/api/2.0/sql/statements",
            json={"statement": statement, "warehouse_id": self.warehouse, "wait_timeout": "30s",
                  **body},
        )  # fmt: skip
        assert answer.status_code == 200, answer.text
        return answer.json()

    def run(self, statement: str, **body: Any) -> dict[str, Any]:
        return self.answer(statement, **body)["status"]

    def rows(self, statement: str) -> list[list[Any]]:
        body = self.answer(statement)
        assert body["status"]["state"] == "SUCCEEDED", (statement, body["status"])
        return (body.get("result") or {}).get("data_array") or []

    def ok(self, statement: str, **body: Any) -> None:
        status = self.run(statement, **body)
        assert status["state"] == "SUCCEEDED", (statement, status)

    def refused(self, statement: str, missing: str, **body: Any) -> None:
        status = self.run(statement, **body)
        assert status["state"] == "FAILED", (statement, status)
        message = status["error"]["message"]
        assert message.startswith("[INSUFFICIENT_PERMISSIONS]"), message
        assert missing in message, (missing, message)
        assert status["error"]["error_code"] == "PERMISSION_DENIED"


@pytest.fixture(scope="module")
def setting(workspace: LocalWorkspace, api: httpx.Client, warehouse: str) -> Iterator[dict]:
    schema = f"hr_{uuid.uuid4().hex[:6]}"
    admin = Sql(api, warehouse)
    admin.ok(f"CREATE SCHEMA main.{schema}")
    admin.ok(f"CREATE TABLE main.{schema}.salaries AS SELECT 'ann' AS name, 100 AS pay")
    admin.ok(f"CREATE TABLE main.{schema}.teams AS SELECT 'ann' AS name, 'x' AS team")
    analyst = workspace.create_service_principal(
        f"analyst-{schema}", warehouse_permission="CAN_USE"
    )
    token = fetch_token(workspace, analyst["client_id"], analyst["client_secret"])
    with httpx.Client(base_url=workspace.host, headers=bearer(token), timeout=60) as client:
        yield {"schema": schema, "admin": admin, "api": api, "analyst": analyst,
               "sql": Sql(client, warehouse)}  # fmt: skip


def grant(api: httpx.Client, kind: str, name: str, principal: str, *, add=(), remove=()) -> None:
    change = {"principal": principal, "add": list(add), "remove": list(remove)}
    answer = api.patch(f"{UC}/permissions/{kind}/{name}", json={"changes": [change]})
    assert answer.status_code == 200, answer.text


def test_without_grants_a_non_admin_reads_only_samples(setting: dict) -> None:
    sql, schema = setting["sql"], setting["schema"]
    sql.ok("SELECT count(*) FROM samples.tpch.nation")
    sql.ok("SELECT 1")
    sql.refused(f"SELECT * FROM main.{schema}.salaries", "USE CATALOG on Catalog 'main'")
    # However the name is written or hidden, it is the same table.
    for hidden in (
        f"WITH salaries AS (SELECT * FROM main.{schema}.salaries) SELECT * FROM salaries",
        f"SELECT * FROM samples.tpch.nation WHERE EXISTS (SELECT 1 FROM main.{schema}.salaries)",
        "SELECT * FROM salaries",
        f"SELECT * FROM {schema}.salaries",
        f"SELECT * FROM MAIN.`{schema.upper()}`.Salaries",
    ):
        sql.refused(hidden, "USE CATALOG", catalog="main", schema=schema)


def test_grants_open_the_table_step_by_step_and_revoke_closes_it(setting: dict) -> None:
    sql, api, schema = setting["sql"], setting["api"], setting["schema"]
    who = setting["analyst"]["client_id"]
    table = f"main.{schema}.salaries"
    grant(api, "catalog", "main", who, add=["USE_CATALOG"])
    sql.refused(f"SELECT * FROM {table}", f"USE SCHEMA on Schema 'main.{schema}'")
    grant(api, "schema", f"main.{schema}", who, add=["USE_SCHEMA"])
    sql.refused(f"SELECT * FROM {table}", f"SELECT on Table '{table}'")
    grant(api, "table", table, who, add=["SELECT"])
    sql.ok(f"SELECT * FROM {table}")
    sql.ok("SELECT * FROM salaries", catalog="main", schema=schema)
    # The other table of the schema stays closed; a write needs MODIFY.
    sql.refused(f"SELECT * FROM main.{schema}.teams", "SELECT on Table")
    sql.refused(f"INSERT INTO {table} VALUES ('bob', 1)", "MODIFY on Table")
    sql.refused(f"CREATE TABLE main.{schema}.copy AS SELECT 1 AS a", "CREATE TABLE on Schema")
    sql.refused(f"DROP TABLE {table}", "MANAGE on Table")
    grant(api, "table", table, who, remove=["SELECT"])
    sql.refused(f"SELECT * FROM {table}", "SELECT on Table")  # the next statement


def test_a_grant_to_account_users_reaches_every_principal(setting: dict) -> None:
    sql, api, schema = setting["sql"], setting["api"], setting["schema"]
    grant(api, "catalog", "main", "account users", add=["USE_CATALOG"])
    grant(api, "schema", f"main.{schema}", "account users", add=["USE_SCHEMA", "SELECT"])
    try:
        sql.ok(f"SELECT * FROM main.{schema}.teams")
        sql.ok(f"SELECT t.team FROM main.{schema}.teams t JOIN main.{schema}.salaries s "
               "USING (name)")  # fmt: skip
    finally:
        grant(api, "schema", f"main.{schema}", "account users", remove=["USE_SCHEMA", "SELECT"])
        grant(api, "catalog", "main", "account users", remove=["USE_CATALOG"])
    sql.refused(f"SELECT * FROM main.{schema}.teams", "SELECT on Table")


def test_all_privileges_on_the_schema_allows_writes(setting: dict) -> None:
    sql, api, schema = setting["sql"], setting["api"], setting["schema"]
    who = setting["analyst"]["client_id"]
    grant(api, "catalog", "main", who, add=["USE_CATALOG"])
    grant(api, "schema", f"main.{schema}", who, add=["ALL_PRIVILEGES"])
    try:
        sql.ok(f"CREATE TABLE main.{schema}.notes AS SELECT 1 AS a")
        sql.ok(f"INSERT INTO main.{schema}.notes VALUES (2)")
        sql.ok(f"SELECT count(*) FROM main.{schema}.notes")
    finally:
        grant(api, "schema", f"main.{schema}", who, remove=["ALL_PRIVILEGES"])


def test_metadata_statements_need_the_same_privileges(
    setting: dict, workspace: LocalWorkspace, warehouse: str
) -> None:
    schema, api = setting["schema"], setting["api"]
    viewer = workspace.create_service_principal(f"viewer-{schema}", warehouse_permission="CAN_USE")
    token = fetch_token(workspace, viewer["client_id"], viewer["client_secret"])
    table = f"main.{schema}.teams"
    with httpx.Client(base_url=workspace.host, headers=bearer(token), timeout=60) as client:
        sql = Sql(client, warehouse)
        sql.refused(f"SHOW TABLES IN main.{schema}", "USE CATALOG on Catalog 'main'")
        sql.refused("CREATE CATALOG IF NOT EXISTS stolen", "CREATE CATALOG on Metastore")
        grant(api, "catalog", "main", viewer["client_id"], add=["USE_CATALOG"])
        grant(api, "schema", f"main.{schema}", viewer["client_id"], add=["USE_SCHEMA"])
        sql.ok(f"SHOW TABLES IN main.{schema}")
        for statement in (
            f"DESCRIBE TABLE {table}",
            f"SHOW COLUMNS IN {table}",
            f"SHOW CREATE TABLE {table}",
        ):
            sql.refused(statement, f"BROWSE on Table '{table}'")
        grant(api, "table", table, viewer["client_id"], add=["BROWSE"])
        sql.ok(f"DESCRIBE TABLE {table}")
        sql.refused(f"SELECT * FROM {table}", "SELECT on Table")  # BROWSE shows, never reads
        sql.ok("SHOW TABLES IN samples.tpch")
        sql.ok("DESCRIBE TABLE samples.tpch.nation")


def test_grant_revoke_and_show_grants_in_sql(
    setting: dict, workspace: LocalWorkspace, warehouse: str
) -> None:
    schema, admin = setting["schema"], setting["admin"]
    reader = workspace.create_service_principal(f"sql-{schema}", warehouse_permission="CAN_USE")
    who = reader["client_id"]
    token = fetch_token(workspace, who, reader["client_secret"])
    table = f"main.{schema}.teams"
    with httpx.Client(base_url=workspace.host, headers=bearer(token), timeout=60) as client:
        sql = Sql(client, warehouse)
        sql.refused(f"SELECT * FROM {table}", "USE CATALOG")
        admin.ok(f"GRANT USE CATALOG ON CATALOG main TO `{who}`")
        admin.ok(f"GRANT USE SCHEMA, SELECT ON SCHEMA main.{schema} TO `{who}`")
        sql.ok(f"SELECT * FROM {table}")
        shown = admin.client.post(
            "/api/2.0/sql/statements",
            json={"statement": f"SHOW GRANTS `{who}` ON SCHEMA main.{schema}",
                  "warehouse_id": warehouse, "wait_timeout": "30s"},
        ).json()  # fmt: skip
        assert shown["manifest"]["schema"]["columns"][1]["name"] == "ActionType"
        assert sorted(r[1] for r in shown["result"]["data_array"]) == ["SELECT", "USE_SCHEMA"]
        # The reader cannot grant itself more: GRANT needs MANAGE.
        sql.refused(f"GRANT MODIFY ON TABLE {table} TO `{who}`", "MANAGE on Table")
        admin.ok(f"REVOKE SELECT ON SCHEMA main.{schema} FROM `{who}`")
        sql.refused(f"SELECT * FROM {table}", "SELECT on Table")
        status = admin.run(f"GRANT FLY ON SCHEMA main.{schema} TO `{who}`")
        assert status["state"] == "FAILED" and "FLY" in status["error"]["message"]


@contextmanager
def table_maker(
    setting: dict, workspace: LocalWorkspace, warehouse: str, role: str
) -> Iterator[Sql]:
    """SQL as a new principal that may use the setting's schema and create tables in it."""
    schema, api = setting["schema"], setting["api"]
    maker = workspace.create_service_principal(f"{role}-{schema}", warehouse_permission="CAN_USE")
    who = maker["client_id"]
    grant(api, "catalog", "main", who, add=["USE_CATALOG"])
    grant(api, "schema", f"main.{schema}", who, add=["USE_SCHEMA", "CREATE_TABLE"])
    token = fetch_token(workspace, who, maker["client_secret"])
    with httpx.Client(base_url=workspace.host, headers=bearer(token), timeout=60) as client:
        yield Sql(client, warehouse)


def test_the_creator_owns_what_it_creates(
    setting: dict, workspace: LocalWorkspace, warehouse: str
) -> None:
    schema = setting["schema"]
    with table_maker(setting, workspace, warehouse, "maker") as sql:
        table = f"main.{schema}.mine"
        sql.ok(f"CREATE TABLE {table} AS SELECT 1 AS a")
        sql.ok(f"INSERT INTO {table} VALUES (2)")
        sql.ok(f"SELECT count(*) FROM {table}")
        sql.refused(f"SELECT * FROM main.{schema}.teams", "SELECT on Table")  # not its own
        sql.ok(f"DROP TABLE {table}")


def test_create_if_not_exists_on_someone_elses_table_gives_no_ownership(
    setting: dict, workspace: LocalWorkspace, warehouse: str
) -> None:
    """CREATE ... IF NOT EXISTS on an existing object creates nothing, so it owns nothing: it
    once made the caller owner (ALL PRIVILEGES, MANAGE) of the admin's table."""
    schema = setting["schema"]
    with table_maker(setting, workspace, warehouse, "taker") as sql:
        sql.ok(f"CREATE TABLE IF NOT EXISTS main.{schema}.salaries (name STRING, pay INT)")
        sql.refused(f"SELECT * FROM main.{schema}.salaries", "SELECT on Table")
        sql.refused(f"DROP TABLE main.{schema}.salaries", "on Table")
        sql.ok(f"CREATE TABLE IF NOT EXISTS main.{schema}.fresh (a INT)")  # new: its own
        sql.ok(f"SELECT count(*) FROM main.{schema}.fresh")


def test_unity_catalog_listings_show_only_what_the_principal_may_see(
    workspace: LocalWorkspace, api: httpx.Client, warehouse: str
) -> None:
    from databricks.sdk import WorkspaceClient
    from databricks.sdk.errors import PermissionDenied

    schema = f"fin_{uuid.uuid4().hex[:6]}"
    admin = Sql(api, warehouse)
    admin.ok(f"CREATE SCHEMA main.{schema}")
    admin.ok(f"CREATE TABLE main.{schema}.open AS SELECT 1 AS n")
    admin.ok(f"CREATE TABLE main.{schema}.closed AS SELECT 2 AS n")
    viewer = workspace.create_service_principal(f"viewer-{schema}")
    w = WorkspaceClient(host=workspace.host, client_id=viewer["client_id"],
                        client_secret=viewer["client_secret"], auth_type="oauth-m2m")  # fmt: skip

    def tables() -> set[str]:
        return {t.name for t in w.tables.list(catalog_name="main", schema_name=schema)}

    assert "main" not in {c.name for c in w.catalogs.list()}
    assert "samples" in {c.name for c in w.catalogs.list()}  # readable by every principal
    assert tables() == set()
    with pytest.raises(PermissionDenied, match="USE CATALOG"):
        w.tables.get(f"main.{schema}.open")
    grant(api, "catalog", "main", viewer["client_id"], add=["USE_CATALOG"])
    grant(api, "schema", f"main.{schema}", viewer["client_id"], add=["USE_SCHEMA"])
    grant(api, "table", f"main.{schema}.open", viewer["client_id"], add=["SELECT"])
    assert "main" in {c.name for c in w.catalogs.list()}
    assert schema in {s.name for s in w.schemas.list(catalog_name="main")}
    assert tables() == {"open"}
    assert w.tables.get(f"main.{schema}.open").name == "open"
    with pytest.raises(PermissionDenied, match="closed"):
        w.tables.get(f"main.{schema}.closed")
    summaries = api.get(f"{UC}/table-summaries", params={"catalog_name": "main"}).json()
    assert f"main.{schema}.closed" in {t["full_name"] for t in summaries["tables"]}  # admin: all


def test_sql_listings_show_only_what_the_principal_may_see(
    workspace: LocalWorkspace, api: httpx.Client, warehouse: str
) -> None:
    schema = f"ops_{uuid.uuid4().hex[:6]}"
    admin = Sql(api, warehouse)
    admin.ok(f"CREATE SCHEMA main.{schema}")
    admin.ok(f"CREATE SCHEMA main.{schema}_hidden")
    admin.ok(f"CREATE TABLE main.{schema}.shown AS SELECT 1 AS n")
    admin.ok(f"CREATE TABLE main.{schema}.unseen AS SELECT 2 AS secret_col")
    admin.ok(f"CREATE TABLE main.{schema}_hidden.other AS SELECT 3 AS n")
    viewer = workspace.create_service_principal(f"lister-{schema}", warehouse_permission="CAN_USE")
    token = fetch_token(workspace, viewer["client_id"], viewer["client_secret"])
    with httpx.Client(base_url=workspace.host, headers=bearer(token), timeout=60) as client:
        rows = Sql(client, warehouse).rows

        def names(statement: str, column: int = 0) -> set[str]:
            return {str(r[column]) for r in rows(statement)}

        everywhere = (
            "SELECT table_catalog, table_schema, table_name FROM system.information_schema.tables"
        )
        assert names("SHOW CATALOGS") == {"samples"}
        assert {r[0] for r in rows(everywhere)} == {"samples"}
        grant(api, "catalog", "main", viewer["client_id"], add=["USE_CATALOG"])
        grant(api, "schema", f"main.{schema}", viewer["client_id"], add=["USE_SCHEMA"])
        grant(api, "table", f"main.{schema}.shown", viewer["client_id"], add=["SELECT"])
        assert names("SHOW CATALOGS") == {"main", "samples"}
        assert schema in names("SHOW SCHEMAS IN main")
        assert f"{schema}_hidden" not in names("SHOW SCHEMAS IN main")
        assert names(f"SHOW TABLES IN main.{schema}", 1) == {"shown"}
        mine = {tuple(r) for r in rows(everywhere) if r[0] == "main"}
        assert mine == {("main", schema, "shown")}
        local = names(f"SELECT table_name FROM main.information_schema.tables "
                      f"WHERE table_schema = '{schema}'")  # fmt: skip
        assert local == {"shown"}
        columns = names("SELECT column_name FROM main.information_schema.columns "
                        f"WHERE table_schema = '{schema}'")  # fmt: skip
        assert "secret_col" not in columns and "n" in columns
        assert {r[2] for r in rows("SHOW TABLES IN ALL CATALOGS") if r[0] == "main"} == {"shown"}
    # the admin still sees everything
    assert f"{schema}_hidden" in {str(r[0]) for r in admin.rows("SHOW SCHEMAS IN main")}


def test_a_temporary_view_reads_with_its_callers_privileges(setting: dict) -> None:
    """A temporary view is the session's own query: what it reads is checked against the
    caller, when it is made and whenever it is read (never through the view's name)."""
    sql, schema = setting["sql"], setting["schema"]
    opened = sql.client.post("/api/2.0/sql/sessions", json={"warehouse_id": sql.warehouse})
    session = {"session_id": opened.json()["session_id"]}
    sql.refused(
        f"CREATE TEMPORARY VIEW pay AS SELECT * FROM main.{schema}.salaries",
        "Insufficient privileges",  # USE CATALOG or SELECT: earlier tests grant some
        **session,
    )
    sql.ok("CREATE TEMPORARY VIEW nations AS SELECT n_name FROM samples.tpch.nation", **session)
    body = sql.answer("SELECT count(*) FROM nations", **session)
    assert body["result"]["data_array"] == [["25"]]


def test_the_delta_log_opens_by_privilege(setting: dict) -> None:
    """Delta's table log: its metadata (DESCRIBE DETAIL, SHOW TBLPROPERTIES) for whoever may
    see the table, its history (who wrote what, with which predicates) for readers, and its
    changes (SET TBLPROPERTIES, OPTIMIZE) for writers; as JSON through the REST API."""
    sql, api, admin, schema = setting["sql"], setting["api"], setting["admin"], setting["schema"]
    who = setting["analyst"]["client_id"]
    table = f"main.{schema}.logged"
    admin.ok(f"CREATE TABLE {table} (a INT) TBLPROPERTIES ('k' = 'v')")
    admin.ok(f"INSERT INTO {table} VALUES (1)")
    grant(api, "catalog", "main", who, add=["USE_CATALOG"])
    grant(api, "schema", f"main.{schema}", who, add=["USE_SCHEMA"])
    grant(api, "table", table, who, add=["BROWSE"])
    (detail,) = sql.rows(f"DESCRIBE DETAIL {table}")
    assert detail[0] == "delta" and json.loads(detail[11]) == {"k": "v"}
    assert json.loads(detail[7]) == [] and detail[9] == "1"
    assert ["k", "v"] in sql.rows(f"SHOW TBLPROPERTIES {table}")
    sql.refused(f"DESCRIBE HISTORY {table}", f"SELECT on Table '{table}'")
    grant(api, "table", table, who, add=["SELECT"])
    history = sql.rows(f"DESCRIBE HISTORY {table}")
    assert [(r[0], r[4]) for r in history] == [("1", "WRITE"), ("0", "CREATE TABLE")]
    assert json.loads(history[0][5]) == {"mode": "Append", "partitionBy": "[]"}
    changes = ("SET TBLPROPERTIES ('k' = 'w')", "UNSET TBLPROPERTIES ('k')")
    maintenance = [
        f"OPTIMIZE {table}",
        f"VACUUM {table}",
        f"ANALYZE TABLE {table} COMPUTE STATISTICS",
    ]
    for change in [*(f"ALTER TABLE {table} {c}" for c in changes), *maintenance]:
        sql.refused(change, f"MODIFY on Table '{table}'")
    grant(api, "table", table, who, add=["MODIFY"])
    sql.ok(f"ALTER TABLE {table} SET TBLPROPERTIES ('k' = 'w')")
    (optimized,) = sql.rows(f"OPTIMIZE {table}")
    assert json.loads(optimized[1])["numFilesAdded"] == 0
    assert ["k", "w"] in admin.rows(f"SHOW TBLPROPERTIES {table}")
    # Unity Catalog's REST API tells the same table: its id and its properties.
    info = api.get(f"{UC}/tables/{table}").json()
    assert info["table_id"] == detail[1]
    assert info["properties"] == {
        "k": "w", "delta.minReaderVersion": "1", "delta.minWriterVersion": "2"
    }  # fmt: skip
