"""DuckDB's own names are not Databricks SQL: the workspace refuses them as Databricks would.

Each of these once listed every catalog and the host's paths, ran SQL text no check had read,
or changed the engine, for any principal (the admin here: nobody gets them).
"""

from __future__ import annotations

import httpx
import pytest

REFUSED = [
    ("SELECT * FROM duckdb_tables()", "UNRESOLVED_ROUTINE"),
    ("SELECT database_name FROM duckdb_databases()", "UNRESOLVED_ROUTINE"),
    ("SELECT * FROM duckdb_columns()", "UNRESOLVED_ROUTINE"),
    ("SELECT * FROM duckdb_settings()", "UNRESOLVED_ROUTINE"),
    ("SELECT * FROM query('SELECT 42')", "UNRESOLVED_ROUTINE"),
    ("SELECT * FROM query_table('samples.tpch.nation')", "UNRESOLVED_ROUTINE"),
    ("SELECT current_setting('temp_directory')", "UNRESOLVED_ROUTINE"),
    ("SELECT 1 FROM range(1) WHERE EXISTS (SELECT * FROM duckdb_views())", "UNRESOLVED_ROUTINE"),
    ("EXPLAIN SELECT * FROM duckdb_tables()", "UNRESOLVED_ROUTINE"),
    ("SELECT * FROM sqlite_master", "TABLE_OR_VIEW_NOT_FOUND"),
    ("SELECT * FROM pg_tables", "TABLE_OR_VIEW_NOT_FOUND"),
    ("SELECT * FROM pg_catalog.pg_namespace", "TABLE_OR_VIEW_NOT_FOUND"),
    ("SELECT * FROM pragma_database_list", "TABLE_OR_VIEW_NOT_FOUND"),
    ("SELECT * FROM system.duckdb_tables", "TABLE_OR_VIEW_NOT_FOUND"),
    ("SELECT * FROM duckdb_tables", "TABLE_OR_VIEW_NOT_FOUND"),
    ("CHECKPOINT", "PARSE_SYNTAX_ERROR"),
    ("FORCE CHECKPOINT", "PARSE_SYNTAX_ERROR"),
    ("PRAGMA database_list", "PARSE_SYNTAX_ERROR"),
    ("CALL duckdb_tables()", "PARSE_SYNTAX_ERROR"),
    ("DETACH samples", "PARSE_SYNTAX_ERROR"),
    ("SUMMARIZE samples.tpch.nation", "PARSE_SYNTAX_ERROR"),
    ("LOAD httpfs", "PARSE_SYNTAX_ERROR"),
    ("EXPLAIN ANALYZE SELECT 1", "PARSE_SYNTAX_ERROR"),
    # RETURNING is DuckDB's and PostgreSQL's; Databricks SQL has no such clause.
    ("INSERT INTO main.default.anything VALUES (1) RETURNING *", "PARSE_SYNTAX_ERROR"),
    ("DELETE FROM main.default.anything WHERE 1 = 1 RETURNING 1", "PARSE_SYNTAX_ERROR"),
    ("UPDATE main.default.anything SET a = 1 RETURNING a", "PARSE_SYNTAX_ERROR"),
]


def _run(api: httpx.Client, warehouse: str, sql: str) -> dict:
    body = {"statement": sql, "warehouse_id": warehouse, "wait_timeout": "30s"}
    response = api.post("/api/2.0/sql/statements", json=body)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize(("sql", "error_class"), REFUSED)
def test_a_duckdb_only_name_is_refused_in_databricks_words(
    api: httpx.Client, warehouse: str, sql: str, error_class: str
) -> None:
    status = _run(api, warehouse, sql)["status"]
    assert status["state"] == "FAILED", sql
    message = status["error"]["message"]
    assert message.startswith(f"[{error_class}]"), message
    assert "/tmp" not in message and ".duckdb" not in message


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT n_name FROM samples.tpch.nation ORDER BY n_nationkey LIMIT 1",
        "SELECT table_name FROM samples.information_schema.tables LIMIT 1",
        "EXPLAIN SELECT 1",
        "SELECT current_database()",
        "WITH pg AS (SELECT 1 AS a) SELECT a FROM pg",
    ],
)
def test_databricks_sql_around_them_still_runs(api: httpx.Client, warehouse: str, sql: str) -> None:
    status = _run(api, warehouse, sql)["status"]
    assert status["state"] == "SUCCEEDED", status


def test_a_statement_nested_past_the_parser_fails_as_a_syntax_error(
    api: httpx.Client, warehouse: str
) -> None:
    status = _run(api, warehouse, "SELECT " + "(" * 3000 + "1" + ")" * 3000)["status"]
    assert status["state"] == "FAILED"
    assert status["error"]["message"].startswith("[PARSE_SYNTAX_ERROR]"), status
    assert status["error"]["error_code"] == "BAD_REQUEST"
    assert _run(api, warehouse, "SELECT " + "(" * 200 + "1" + ")" * 200)["status"]["state"] == (
        "SUCCEEDED"
    )


@pytest.mark.parametrize(
    "sql",
    [
        "SET enable_external_access = true",
        "SET GLOBAL enable_external_access = true",
        "SET SESSION TimeZone = 'Asia/Tokyo'",
        "SET allowed_directories = ['/']",
        "SET VARIABLE x = 1",
        "RESET enable_external_access",
        "RESET ALL",
        "SET TIME ZONE 'UTC'; SET threads = 1",
        "SET ansi_mode = false; SELECT 1",
    ],
)
def test_no_set_or_reset_reaches_the_engines_own_configuration(
    api: httpx.Client, warehouse: str, sql: str
) -> None:
    status = _run(api, warehouse, sql)["status"]
    assert status["state"] == "FAILED", sql
    assert status["error"]["message"].startswith(
        ("[CONFIG_NOT_AVAILABLE]", "[PARSE_SYNTAX_ERROR]", "[INVALID_CONF_VALUE]")
    ), status


def test_the_engine_itself_keeps_the_host_shut(workspace) -> None:
    """The boundary under the SQL front: even a DuckDB SET that reached the engine could not
    reopen external access or widen the directories it may read."""
    engine = workspace.state.sql_statements.engine
    engine.wait_ready()
    cursor = engine._db.cursor()
    try:
        for sql in ("SET enable_external_access = true",
                    "SET allowed_directories = ['/']"):  # fmt: skip
            with pytest.raises(Exception, match=r"(?i)external access|cannot change"):
                cursor.execute(sql)
        with pytest.raises(Exception, match=r"(?i)permission|external|not allowed|disabled"):
            cursor.execute("SELECT * FROM read_text('/etc/hostname')").fetchall()
    finally:
        cursor.close()
