"""Databricks SQL metadata over the Statement Execution API: the SHOW / DESCRIBE forms clients
send, information_schema, INSERT OVERWRITE, Spark's column names and error wording."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from workspace_http import fetch_token

from _support import access_log
from lakegate.workspace import LocalWorkspace

Run = Callable[..., dict[str, Any]]


@pytest.fixture(scope="module")
def schema(workspace: LocalWorkspace) -> str:
    return f"meta_{uuid.uuid4().hex[:8]}"


@pytest.fixture
def run(workspace: LocalWorkspace, admin: httpx.Client) -> Iterator[Run]:
    """`run(statement, state="SUCCEEDED")`: the statement's answer, in the expected state."""
    assert workspace.state is not None
    warehouse = workspace.state.warehouses.ids()[0]

    def execute(statement: str, state: str = "SUCCEEDED") -> dict[str, Any]:
        body = admin.post(
            "/api/2.0/sql/statements",
            json={"statement": statement, "warehouse_id": warehouse, "wait_timeout": "50s"},
        ).json()
        assert body["status"]["state"] == state, body
        return body

    yield execute


def columns(body: dict[str, Any]) -> list[str]:
    return [c["name"] for c in body["manifest"]["schema"]["columns"]]


def rows(body: dict[str, Any]) -> list[list[str | None]]:
    return body.get("result", {}).get("data_array", [])


@pytest.fixture(scope="module", autouse=True)
def tables(workspace: LocalWorkspace, schema: str) -> None:
    """main.<schema>.items (a table) and .cheap (a view), made over the REST API."""
    token = fetch_token(workspace)
    assert workspace.state is not None
    warehouse = workspace.state.warehouses.ids()[0]
    for statement in (
        f"CREATE SCHEMA main.{schema}",
        f"CREATE TABLE main.{schema}.items (id BIGINT NOT NULL, name STRING, price DECIMAL(10,2))",
        f"INSERT INTO main.{schema}.items VALUES (1, 'pen', 1.50), (2, 'book', 12.00)",
        f"CREATE VIEW main.{schema}.cheap AS SELECT * FROM main.{schema}.items WHERE price < 5",
    ):
        body = httpx.post(
            f"{workspace.host}/api/2.0/sql/statements",
            headers={"Authorization": f"Bearer {token}"},
            json={"statement": statement, "warehouse_id": warehouse, "wait_timeout": "50s"},
        ).json()
        assert body["status"]["state"] == "SUCCEEDED", body


def test_show_tables_in_catalog_as_the_connector_sends_it(run: Run, schema: str) -> None:
    body = run(f"SHOW TABLES IN CATALOG main SCHEMA LIKE '{schema}'")
    assert columns(body) == [
        "catalogName",
        "namespace",
        "tableName",
        "isTemporary",
        "information",
        "tableType",
        "remarks",
    ]
    assert [r[:3] + r[5:6] for r in rows(body)] == [
        ["main", schema, "cheap", "VIEW"],
        ["main", schema, "items", "TABLE"],
    ]
    like = run("SHOW TABLES IN ALL CATALOGS SCHEMA LIKE 'meta%' LIKE 'it*'")
    assert ["main", schema, "items"] in [r[:3] for r in rows(like)]
    assert all(r[2] == "items" for r in rows(like))


def test_show_columns_in_catalog(run: Run, schema: str) -> None:
    body = run(f"SHOW COLUMNS IN CATALOG main SCHEMA LIKE '{schema}' TABLE LIKE 'items' LIKE 'p*'")
    assert columns(body)[:5] == ["catalogName", "namespace", "tableName", "col_name", "columnType"]
    (price,) = [dict(zip(columns(body), r, strict=True)) for r in rows(body)]
    assert price["col_name"] == "price" and price["columnType"] == "DECIMAL(10,2)"
    assert price["columnSize"] == "10" and price["decimalDigits"] == "2"
    assert price["ordinalPosition"] == "2" and price["isNullable"] == "true"
    all_of_them = run(f"SHOW COLUMNS IN CATALOG main SCHEMA LIKE '{schema}' TABLE LIKE 'items'")
    assert [[*r[3:5], r[8]] for r in rows(all_of_them)] == [
        ["id", "BIGINT", "false"],
        ["name", "STRING", "true"],
        ["price", "DECIMAL(10,2)", "true"],
    ]


def test_show_views_columns_and_create_table(run: Run, schema: str) -> None:
    for form in (f"SHOW VIEWS FROM main.{schema}", f"SHOW VIEWS IN `main`.`{schema}` LIKE 'ch*'"):
        body = run(form)
        assert columns(body) == ["namespace", "viewName", "isTemporary", "isMaterialized"]
        assert rows(body) == [[schema, "cheap", "false", "false"]]
    assert rows(run(f"SHOW COLUMNS IN main.{schema}.items")) == [["id"], ["name"], ["price"]]
    assert rows(run(f"SHOW COLUMNS IN items IN main.{schema}")) == [["id"], ["name"], ["price"]]
    created = rows(run(f"SHOW CREATE TABLE main.{schema}.items"))[0][0]
    assert created == (
        f"CREATE TABLE main.{schema}.items (\n  id BIGINT NOT NULL,\n  name STRING,\n"
        "  price DECIMAL(10,2))\nUSING delta\nTBLPROPERTIES (\n"
        "  'delta.minReaderVersion' = '1',\n  'delta.minWriterVersion' = '2')"
    )
    view = rows(run(f"SHOW CREATE TABLE main.{schema}.cheap"))[0][0]
    assert view.startswith(f"CREATE VIEW main.{schema}.cheap (\n  id,\n  name,\n  price)\nAS ")
    missing = run(f"SHOW CREATE TABLE main.{schema}.nope", state="FAILED")
    assert missing["status"]["error"]["message"].startswith(
        f"[TABLE_OR_VIEW_NOT_FOUND] The table or view `main`.`{schema}`.`nope` cannot be found."
    )
    assert missing["status"]["sql_state"] == "42P01"


def test_information_schema(run: Run, schema: str) -> None:
    tables = run(
        "SELECT table_catalog, table_schema, table_name, table_type "
        f"FROM main.information_schema.tables WHERE table_schema = '{schema}' ORDER BY 3"
    )
    assert rows(tables) == [["main", schema, "cheap", "VIEW"], ["main", schema, "items", "MANAGED"]]
    cols = run(
        "SELECT column_name, ordinal_position, is_nullable, data_type, full_data_type, "
        f"numeric_precision, numeric_scale FROM system.information_schema.columns "
        f"WHERE table_schema = '{schema}' AND table_name = 'items' ORDER BY ordinal_position"
    )
    assert rows(cols) == [
        ["id", "0", "NO", "BIGINT", "bigint", "19", "0"],
        ["name", "1", "YES", "STRING", "string", None, None],
        ["price", "2", "YES", "DECIMAL", "decimal(10,2)", "10", "2"],
    ]
    schemata = run(
        f"SELECT schema_name FROM information_schema.schemata WHERE schema_name = '{schema}'"
    )
    assert rows(schemata) == [[schema]]
    catalogs = rows(run("SELECT catalog_name FROM system.information_schema.catalogs ORDER BY 1"))
    assert ["main"] in catalogs and ["samples"] in catalogs
    views = run(
        "SELECT i.table_name, i.view_definition FROM information_schema.views AS i "
        f"WHERE i.table_schema = '{schema}'"
    )
    assert rows(views)[0][0] == "cheap" and "price" in rows(views)[0][1]
    only_samples = rows(run("SELECT DISTINCT table_catalog FROM samples.information_schema.tables"))
    assert only_samples == [["samples"]]
    unknown = run("SELECT * FROM information_schema.nope", state="FAILED")
    assert "[TABLE_OR_VIEW_NOT_FOUND]" in unknown["status"]["error"]["message"]


def test_insert_overwrite_replaces_atomically(run: Run, schema: str) -> None:
    run(f"CREATE TABLE main.{schema}.scores (who STRING, points INT)")
    run(f"INSERT INTO main.{schema}.scores VALUES ('a', 1), ('b', 2)")
    body = run(f"INSERT OVERWRITE main.{schema}.scores (who, points) VALUES ('c', 3)")
    assert columns(body) == ["num_affected_rows"] and rows(body) == [["1"]]
    assert rows(run(f"SELECT * FROM main.{schema}.scores")) == [["c", "3"]]
    # A failing overwrite leaves the table as it was: the DELETE is rolled back with it.
    run(f"INSERT OVERWRITE TABLE main.{schema}.scores SELECT 'd', 'not a number'", state="FAILED")
    assert rows(run(f"SELECT * FROM main.{schema}.scores")) == [["c", "3"]]
    run(f"TRUNCATE TABLE main.{schema}.scores")
    assert rows(run(f"SELECT count(*) FROM main.{schema}.scores")) == [["0"]]


def test_aggregate_column_names_follow_spark(run: Run, schema: str) -> None:
    body = run(
        f"SELECT count(*), COUNT(1), count(name), SUM(price), avg(price), max(id) "
        f"FROM main.{schema}.items"
    )
    assert columns(body) == [
        "count(1)",
        "count(1)",
        "count(name)",
        "sum(price)",
        "avg(price)",
        "max(id)",
    ]
    assert rows(body)[0][:3] == ["2", "2", "2"]
    assert columns(run(f"SELECT count(*) AS n FROM main.{schema}.items")) == ["n"]


def test_errors_use_spark_wording_and_quoting(run: Run, schema: str) -> None:
    unqualified = run("SELECT * FROM nope", state="FAILED")["status"]
    assert unqualified["error"]["message"].startswith(
        "[TABLE_OR_VIEW_NOT_FOUND] The table or view `nope` cannot be found."
    )
    assert unqualified["sql_state"] == "42P01"
    qualified = run(f"SELECT * FROM `main`.{schema}.nope", state="FAILED")["status"]
    assert f"`main`.`{schema}`.`nope`" in qualified["error"]["message"]
    column = run(f"SELECT nme FROM main.{schema}.items", state="FAILED")["status"]
    assert column["error"]["message"].startswith(
        "[UNRESOLVED_COLUMN.WITH_SUGGESTION] A column, variable, or function parameter with "
        "name `nme` cannot be resolved. Did you mean one of the following? ["
    )
    assert "`name`" in column["error"]["message"] and column["sql_state"] == "42703"
    # A selected column neither grouped nor aggregated: Spark's words, not DuckDB's ANY_VALUE.
    grouping = run(f"SELECT name, count(*) FROM main.{schema}.items GROUP BY price", state="FAILED")
    assert grouping["status"]["error"]["message"].startswith(
        '[MISSING_AGGREGATION] The non-aggregating expression "name" is based on columns which '
        "are not participating in the GROUP BY clause."
    )
    assert grouping["status"]["sql_state"] == "42803"


def test_more_errors_in_spark_words(run: Run, schema: str) -> None:
    def message(statement: str) -> str:
        status = run(statement, state="FAILED")["status"]
        return f"{status['error']['message']} | {status['sql_state']}"

    assert message("SELECT * FROM nocat.s.t").startswith(
        "[TABLE_OR_VIEW_NOT_FOUND] The table or view `nocat`.`s`.`t` cannot be found."
    )
    assert message(f"CREATE TABLE main.{schema}.items (a INT)").startswith(
        f"[TABLE_OR_VIEW_ALREADY_EXISTS] Cannot create table or view `main`.`{schema}`.`items` "
        "because it already exists."
    )
    assert message("SELECT no_such_function(1)") == (
        "[UNRESOLVED_ROUTINE] Cannot resolve routine `no_such_function` on search path "
        "[`system`.`builtin`, `system`.`session`]. SQLSTATE: 42883 | 42883"
    )


def test_no_duckdb_words_reach_the_client(run: Run, schema: str) -> None:
    """The failures clients meet most, each in Spark's error class and SQLSTATE: none answers
    INTERNAL_ERROR in DuckDB's words."""
    items = f"main.{schema}.items"
    cases = {
        f"SELECT id FROM {items} a JOIN {items} b ON a.id = b.id": ("AMBIGUOUS_REFERENCE", "42704"),
        f"INSERT INTO {items} VALUES (9)": (
            "INSERT_COLUMN_ARITY_MISMATCH.NOT_ENOUGH_DATA_COLUMNS", "21S01"),
        f"INSERT INTO {items} VALUES (9, 'x', 1.0, 4)": (
            "INSERT_COLUMN_ARITY_MISMATCH.TOO_MANY_DATA_COLUMNS", "21S01"),
        f"INSERT INTO {items} VALUES (NULL, 'x', 1.0)": (
            "DELTA_NOT_NULL_CONSTRAINT_VIOLATED", "23502"),
        f"SELECT sum(name) FROM {items}": ("DATATYPE_MISMATCH.UNEXPECTED_INPUT_TYPE", "42K09"),
        "SELECT 'a' + 1": ("DATATYPE_MISMATCH.UNEXPECTED_INPUT_TYPE", "42K09"),
        f"SELECT * FROM {items} LIMIT -1": ("INVALID_LIMIT_LIKE_EXPRESSION.IS_NEGATIVE", "42K0E"),
        "SELECT 1 UNION SELECT 1, 2": ("NUM_COLUMNS_MISMATCH", "42826"),
        f"SELECT items.nope FROM {items}": ("UNRESOLVED_COLUMN.WITHOUT_SUGGESTION", "42703"),
        f"ALTER TABLE {items} ADD COLUMN name STRING": ("FIELD_ALREADY_EXISTS", "42710"),
        f"ALTER TABLE {items} RENAME COLUMN nope TO yes": (
            "UNRESOLVED_COLUMN.WITHOUT_SUGGESTION", "42703"),
        "SELECT 2147483647 + 1": ("ARITHMETIC_OVERFLOW", "22003"),
        "SELECT CAST(300 AS TINYINT)": ("CAST_OVERFLOW", "22003"),
        "SELECT CAST('x' AS INT)": ("CAST_INVALID_INPUT", "22018"),
    }  # fmt: skip
    for statement, (error_class, sql_state) in cases.items():
        status = run(statement, state="FAILED")["status"]
        message = status["error"]["message"]
        assert message.startswith(f"[{error_class}] "), (statement, message)
        assert message.endswith(f"SQLSTATE: {sql_state}") and status["sql_state"] == sql_state
    overflow = run("SELECT 2147483647 + 1", state="FAILED")["status"]["error"]["message"]
    assert overflow.startswith("[ARITHMETIC_OVERFLOW] integer overflow. Use 'try_add' ")
    malformed = run("SELECT CAST('x' AS INT)", state="FAILED")["status"]["error"]["message"]
    assert malformed.startswith(
        '[CAST_INVALID_INPUT] The value \'x\' of the type "STRING" cannot be cast to "INT" '
        "because it is malformed."
    )


def test_describe_table_extended_as_sqlalchemy_sends_it(run: Run, schema: str) -> None:
    run(f"COMMENT ON TABLE main.{schema}.items IS 'things to sell'")
    body = run(f"DESCRIBE TABLE EXTENDED `main`.`{schema}`.`items`")
    assert columns(body) == ["col_name", "data_type", "comment"]
    assert rows(body) == [
        ["id", "bigint", None],
        ["name", "string", None],
        ["price", "decimal(10,2)", None],
        ["", "", ""],
        ["# Detailed Table Information", "", ""],
        ["Catalog", "main", ""],
        ["Database", schema, ""],
        ["Table", "items", ""],
        ["Type", "MANAGED", ""],
        ["Comment", "things to sell", ""],
        ["Provider", "delta", ""],
        ["Table Properties", "[delta.minReaderVersion=1,delta.minWriterVersion=2]", ""],
    ]
    view = rows(run(f"DESC EXTENDED main.{schema}.cheap"))
    assert ["Type", "VIEW", ""] in view and not any(r[0] == "Provider" for r in view)
    missing = run(f"DESCRIBE TABLE EXTENDED `main`.`{schema}`.`nope`", state="FAILED")
    assert missing["status"]["error"]["message"].startswith(
        f"[TABLE_OR_VIEW_NOT_FOUND] The table or view `main`.`{schema}`.`nope` cannot be found."
    )


def test_unknown_endpoint_log_lines_name_the_caller(
    workspace: LocalWorkspace, admin: httpx.Client
) -> None:
    marker = f"/api/2.0/no-such-api/{uuid.uuid4().hex}"
    response = admin.get(marker)
    assert response.status_code == 404 and response.json()["error_code"] == "ENDPOINT_NOT_FOUND"
    anonymous = httpx.get(f"{workspace.host}{marker}/anonymous")
    assert anonymous.status_code == 404
    by_path = {line["path"]: line for line in access_log(workspace)}
    assert by_path[marker]["principal"] == workspace.credentials["client_id"]
    assert by_path[f"{marker}/anonymous"]["principal"] is None
