"""Unity Catalog read API with the official databricks-sdk: catalogs, schemas, tables."""

from __future__ import annotations

import uuid

import httpx
import pytest
from databricks.sdk import WorkspaceClient
from databricks.sdk.errors import NotFound
from databricks.sdk.service.catalog import ColumnTypeName, TableType
from databricks.sdk.service.sql import StatementState
from workspace_http import bearer, fetch_token

from _support import workspace_client
from lakegate.workspace import LocalWorkspace


@pytest.fixture(scope="module")
def w(workspace: LocalWorkspace) -> WorkspaceClient:
    return workspace_client(workspace)


def test_catalogs_and_schemas(w: WorkspaceClient) -> None:
    names = {c.name for c in w.catalogs.list()}
    assert {"main", "samples"} <= names and "system" not in names
    assert w.catalogs.get("samples").name == "samples"
    assert [s.name for s in w.schemas.list(catalog_name="samples")] == ["nyctaxi", "tpch"]
    assert "default" in [s.name for s in w.schemas.list(catalog_name="main")]
    assert w.schemas.get("samples.tpch").full_name == "samples.tpch"


def test_sample_table_columns(w: WorkspaceClient) -> None:
    trips = w.tables.get("samples.nyctaxi.trips")
    assert trips.table_type == TableType.MANAGED
    assert trips.data_source_format.value == "DELTA"
    assert trips.comment and "taxi" in trips.comment.lower()
    columns = [(c.name, c.type_name, c.type_text, c.position) for c in trips.columns]
    assert columns == [
        ("tpep_pickup_datetime", ColumnTypeName.TIMESTAMP, "timestamp", 0),
        ("tpep_dropoff_datetime", ColumnTypeName.TIMESTAMP, "timestamp", 1),
        ("trip_distance", ColumnTypeName.DOUBLE, "double", 2),
        ("fare_amount", ColumnTypeName.DOUBLE, "double", 3),
        ("pickup_zip", ColumnTypeName.INT, "int", 4),
        ("dropoff_zip", ColumnTypeName.INT, "int", 5),
    ]
    orders = {c.name: c for c in w.tables.get("samples.tpch.orders").columns}
    assert orders["o_totalprice"].type_text == "decimal(18,2)"
    assert (orders["o_totalprice"].type_precision, orders["o_totalprice"].type_scale) == (18, 2)
    assert orders["o_orderkey"].type_name == ColumnTypeName.LONG


def test_tables_created_by_sql_appear(w: WorkspaceClient) -> None:
    warehouse = next(iter(w.warehouses.list())).id
    schema = f"s_{uuid.uuid4().hex[:8]}"
    for statement in (
        f"CREATE SCHEMA main.{schema}",
        f"CREATE TABLE main.{schema}.events "
        "(id BIGINT NOT NULL, at TIMESTAMP_NTZ, tags MAP<STRING, INT>)",
        f"CREATE VIEW main.{schema}.recent AS SELECT id FROM main.{schema}.events",
    ):
        response = w.statement_execution.execute_statement(
            statement=statement, warehouse_id=warehouse
        )
        assert response.status.state == StatementState.SUCCEEDED, response.status.error
    tables = {t.name: t for t in w.tables.list(catalog_name="main", schema_name=schema)}
    assert set(tables) == {"events", "recent"}
    assert tables["recent"].table_type == TableType.VIEW
    events = {c.name: c for c in tables["events"].columns}
    assert events["id"].nullable is False and events["at"].nullable is True
    assert events["at"].type_name == ColumnTypeName.TIMESTAMP_NTZ
    assert events["tags"].type_text == "map<string, int>"
    assert w.tables.get(f"main.{schema}.events").full_name == f"main.{schema}.events"


def test_pagination_and_missing_objects(w: WorkspaceClient, workspace: LocalWorkspace) -> None:
    with httpx.Client(base_url=workspace.host, headers=bearer(fetch_token(workspace))) as api:
        first = api.get(
            "/api/2.1/unity-catalog/schemas", params={"catalog_name": "samples", "max_results": 1}
        ).json()
        assert [s["name"] for s in first["schemas"]] == ["nyctaxi"]
        second = api.get(
            "/api/2.1/unity-catalog/schemas",
            params={
                "catalog_name": "samples",
                "max_results": 1,
                "page_token": first["next_page_token"],
            },
        ).json()
        assert [s["name"] for s in second["schemas"]] == ["tpch"]
        assert "next_page_token" not in second
        missing = api.get("/api/2.1/unity-catalog/tables", params={"catalog_name": "samples"})
        assert missing.status_code == 400 and "schema_name" in missing.json()["message"]
    with pytest.raises(NotFound):
        w.tables.get("samples.tpch.nope")
    with pytest.raises(NotFound):
        w.catalogs.get("nope")
    with pytest.raises(NotFound):
        list(w.schemas.list(catalog_name="nope"))
