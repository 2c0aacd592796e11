"""Unity Catalog's create, update and delete, driven with the official databricks-sdk as its
users and its own examples drive them (`w.catalogs.create(name=f"sdk-{time_ns}")`, ...), and
checked against the SQL that sees the same objects.

Each REST write runs as the caller: a principal without the privilege is refused and nothing
is made; what it makes, it owns; what is dropped takes its grants along.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
from databricks.sdk import WorkspaceClient
from databricks.sdk.errors import BadRequest, NotFound, PermissionDenied, ResourceConflict
from test_privileges import Sql, grant

from _support import workspace_client
from lakegate.workspace import LocalWorkspace


@pytest.fixture(scope="module")
def w(workspace: LocalWorkspace) -> WorkspaceClient:
    return workspace_client(workspace)


@pytest.fixture(scope="module")
def admin(api: httpx.Client, warehouse: str) -> Sql:
    return Sql(api, warehouse)


@pytest.fixture(scope="module")
def analyst(workspace: LocalWorkspace) -> Iterator[tuple[WorkspaceClient, str]]:
    made = workspace.create_service_principal(
        f"uc-writer-{uuid.uuid4().hex[:6]}", warehouse_permission="CAN_USE"
    )
    yield workspace_client(workspace, made["client_id"], made["client_secret"]), made["client_id"]


def test_catalog_and_schema_lifecycle_as_the_sdk_examples_run_it(
    w: WorkspaceClient, admin: Sql
) -> None:
    name = f"sdk-{time.time_ns()}"
    created = w.catalogs.create(name=name, comment="made by a test", properties={"team": "qa"})
    assert (created.name, created.comment, created.properties) == (name, "made by a test",
                                                                     {"team": "qa"})  # fmt: skip
    assert created.owner == w.config.client_id == created.created_by
    assert created.created_at and created.created_at <= int(time.time() * 1000)
    assert name in {c.name for c in w.catalogs.list()}
    assert w.catalogs.update(name=name, comment="updated").comment == "updated"
    assert w.catalogs.get(name).comment == "updated"

    schema = w.schemas.create(name=f"sdk-{time.time_ns()}", catalog_name=name, comment="s")
    assert schema.full_name == f"{name}.{schema.name}" and schema.comment == "s"
    assert w.schemas.update(full_name=schema.full_name, comment="t").comment == "t"
    # SQL sees what REST made, and REST what SQL made.
    admin.ok(f"CREATE TABLE `{name}`.`{schema.name}`.four AS SELECT 2 + 2 AS four")
    table = f"{name}.{schema.name}.four"
    assert w.tables.get(table).columns[0].name == "four"

    # Without force, neither a schema nor a catalog with something in it goes.
    with pytest.raises(BadRequest, match="contains objects") as refused:
        w.schemas.delete(schema.full_name)
    assert refused.value.error_code == "SCHEMA_NOT_EMPTY"
    with pytest.raises(BadRequest) as refused:
        w.catalogs.delete(name)
    assert refused.value.error_code == "CATALOG_NOT_EMPTY"
    assert w.tables.get(table).name == "four"  # nothing was lost

    w.tables.delete(table)
    with pytest.raises(NotFound):
        w.tables.get(table)
    w.schemas.delete(schema.full_name)
    with pytest.raises(NotFound):
        w.schemas.get(schema.full_name)
    w.catalogs.delete(name)
    with pytest.raises(NotFound):
        w.catalogs.get(name)


def test_force_drops_a_catalog_with_everything_in_it(w: WorkspaceClient, admin: Sql) -> None:
    name = f"sdk-{time.time_ns()}"
    w.catalogs.create(name=name)
    schema = w.schemas.create(name="inside", catalog_name=name)
    admin.ok(f"CREATE TABLE `{name}`.inside.t AS SELECT 1 AS a")
    w.catalogs.delete(name, force=True)
    assert name not in {c.name for c in w.catalogs.list()}
    with pytest.raises(NotFound):
        w.schemas.get(schema.full_name)


def test_creating_what_exists_is_a_conflict_and_bad_names_are_refused(
    w: WorkspaceClient,
) -> None:
    with pytest.raises(ResourceConflict) as conflict:
        w.catalogs.create(name="main")
    assert conflict.value.error_code == "CATALOG_ALREADY_EXISTS"
    with pytest.raises(ResourceConflict) as conflict:
        w.schemas.create(name="default", catalog_name="main")
    assert conflict.value.error_code == "SCHEMA_ALREADY_EXISTS"
    for bad in ("a.b", "with space", "x`; DROP CATALOG main; --", ""):
        with pytest.raises(BadRequest, match="name"):
            w.catalogs.create(name=bad)
    with pytest.raises(NotFound):
        w.schemas.create(name="s", catalog_name=f"missing_{uuid.uuid4().hex[:6]}")
    with pytest.raises(NotFound):
        w.catalogs.delete(f"missing_{uuid.uuid4().hex[:6]}")


def test_a_principal_creates_only_where_granted_and_owns_what_it_made(
    w: WorkspaceClient, api: httpx.Client, admin: Sql, analyst: tuple[WorkspaceClient, str]
) -> None:
    client, who = analyst
    name = f"made_{uuid.uuid4().hex[:6]}"
    with pytest.raises(PermissionDenied, match="CREATE CATALOG"):
        client.catalogs.create(name=name)
    assert name not in {c.name for c in w.catalogs.list()}
    with pytest.raises(PermissionDenied, match="USE CATALOG"):
        client.schemas.create(name=name, catalog_name="main")
    grant(api, "catalog", "main", who, add=["USE_CATALOG"])
    with pytest.raises(PermissionDenied, match="CREATE SCHEMA"):
        client.schemas.create(name=name, catalog_name="main")
    assert name not in {s.name for s in w.schemas.list(catalog_name="main")}

    grant(api, "catalog", "main", who, add=["CREATE_SCHEMA"])
    mine = client.schemas.create(name=name, catalog_name="main", comment="mine")
    assert (mine.owner, mine.comment) == (who, "mine")
    assert client.schemas.update(full_name=mine.full_name, comment="still mine").comment == (
        "still mine"
    )
    # Its owner may change it; another principal may not.
    with pytest.raises(PermissionDenied, match="USE SCHEMA"):
        client.schemas.update(full_name="main.default", comment="not mine")
    assert w.schemas.get("main.default").comment != "not mine"
    with pytest.raises(PermissionDenied, match="MANAGE"):
        client.catalogs.delete("main", force=True)

    # Its owner hands it to the admin: the owner's rights on it go along.
    client.schemas.update(full_name=mine.full_name, owner=w.config.client_id)
    assert w.schemas.get(mine.full_name).owner == w.config.client_id
    with pytest.raises(PermissionDenied, match="Insufficient privileges"):
        client.schemas.update(full_name=mine.full_name, comment="taken back")
    with pytest.raises(BadRequest, match="not a user"):
        w.schemas.update(full_name=mine.full_name, owner="nobody-at-all")
    w.schemas.delete(mine.full_name)


def test_a_dropped_object_takes_its_grants_along(
    w: WorkspaceClient, api: httpx.Client, admin: Sql, analyst: tuple[WorkspaceClient, str]
) -> None:
    client, who = analyst
    name = f"reborn_{uuid.uuid4().hex[:6]}"
    grant(api, "catalog", "main", who, add=["USE_CATALOG", "CREATE_SCHEMA"])
    client.schemas.create(name=name, catalog_name="main")
    w.schemas.delete(f"main.{name}")
    # The admin makes a schema of the same name: it is not the analyst's.
    admin.ok(f"CREATE SCHEMA main.{name}")
    admin.ok(f"CREATE TABLE main.{name}.secret AS SELECT 42 AS answer")
    assert w.schemas.get(f"main.{name}").owner == w.config.client_id
    with pytest.raises(PermissionDenied, match="Insufficient privileges"):
        client.schemas.update(full_name=f"main.{name}", comment="mine again?")
    granted = w.grants.get("schema", f"main.{name}").privilege_assignments or []
    assert who not in {g.principal for g in granted}
    admin.ok(f"DROP SCHEMA main.{name} CASCADE")


def test_sql_drop_and_create_answer_in_databricks_words(admin: Sql) -> None:
    schema = f"full_{uuid.uuid4().hex[:6]}"
    admin.ok(f"CREATE SCHEMA main.{schema}")
    admin.ok(f"CREATE TABLE main.{schema}.t AS SELECT 1 AS a")
    status = admin.run(f"DROP SCHEMA main.{schema}")
    assert status["state"] == "FAILED"
    assert status["error"]["message"].startswith("[SCHEMA_NOT_EMPTY]")
    assert status["error"]["message"].endswith("SQLSTATE: 2BP01")
    status = admin.run(f"CREATE SCHEMA main.{schema}")
    assert status["error"]["message"].startswith("[SCHEMA_ALREADY_EXISTS]"), status
    admin.ok(f"CREATE SCHEMA IF NOT EXISTS main.{schema}")
    catalog = f"c_{uuid.uuid4().hex[:6]}"
    admin.ok(f"CREATE CATALOG {catalog}")
    admin.ok(f"CREATE SCHEMA {catalog}.s")
    status = admin.run(f"DROP CATALOG {catalog}")
    assert status["error"]["message"].startswith("[CATALOG_NOT_EMPTY]"), status
    status = admin.run(f"DROP CATALOG {catalog} RESTRICT")
    assert status["error"]["message"].startswith("[CATALOG_NOT_EMPTY]"), status
    admin.ok(f"DROP CATALOG {catalog} CASCADE")
    admin.ok(f"DROP SCHEMA main.{schema} CASCADE")
