"""The Databricks SQL connector's SEA backend (`use_sea=True`) against a plain-HTTP local
workspace: sessions, statements with CloudFetch and LZ4, parameters, metadata calls, close."""

from __future__ import annotations

import datetime
import io
import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import httpx
import lz4.frame
import pyarrow as pa
import pytest
from databricks import sql
from databricks.sql.client import Connection
from databricks.sql.exc import ServerOperationError
from workspace_http import bearer, downloads, fetch_token

from _support import access_log
from lakegate.workspace import LocalWorkspace

Connect = Callable[..., Connection]


def statement(ws: LocalWorkspace, ident: str) -> Any:
    assert ws.state is not None
    return ws.state.sql_statements.items[ident]  # type: ignore[attr-defined]


# -- statements -------------------------------------------------------------------------------


def test_execute_fetchall_and_description(sea_connect: Connect) -> None:
    with sea_connect().cursor() as cursor:
        cursor.execute(
            "SELECT i AS id, i * 2 AS twice, 'r' || i AS label, i % 3 = 0 AS third "
            "FROM range(5) AS t(i) ORDER BY i"
        )
        rows = [tuple(row) for row in cursor.fetchall()]
        described = [column[:2] for column in cursor.description]
    assert rows == [(i, 2 * i, f"r{i}", i % 3 == 0) for i in range(5)]
    assert described == [
        ("id", "bigint"),
        ("twice", "bigint"),
        ("label", "string"),
        ("third", "boolean"),
    ]


def test_fetchone_and_fetchmany_walk_a_multi_batch_result(sea_connect: Connect) -> None:
    total = 300_000
    with sea_connect().cursor() as cursor:
        cursor.execute(f"SELECT i FROM range({total}) AS t(i) ORDER BY i")
        first = cursor.fetchone()
        seen = [first[0]]
        sizes = []
        while batch := cursor.fetchmany(100_000):
            sizes.append(len(batch))
            seen.extend(row[0] for row in batch)
    assert seen == list(range(total))
    assert sizes == [100_000, 100_000, 99_999]


def test_fetchall_arrow_of_a_million_rows_matches_duckdb_row_for_row(
    sea_connect: Connect, plain_workspace: LocalWorkspace
) -> None:
    query = (
        "SELECT i, i * 3 AS j, 'row ' || i AS label, i / 7 AS ratio "
        "FROM range(1000000) AS t(i) ORDER BY i"
    )
    before = downloads(plain_workspace)
    with sea_connect().cursor() as cursor:
        cursor.execute(query)
        ident = cursor.active_command_id.to_sea_statement_id()
        table = cursor.fetchall_arrow()
    expected = duckdb.sql(query).to_arrow_table()
    assert table.num_rows == 1_000_000
    assert table.column_names == ["i", "j", "label", "ratio"]
    for name in table.column_names:
        assert table.column(name).to_pylist() == expected.column(name).to_pylist(), name
    # CloudFetch: several chunks downloaded from external links, LZ4-compressed as asked.
    assert downloads(plain_workspace) - before >= 2
    assert statement(plain_workspace, ident).compression == "LZ4_FRAME"


def test_uncompressed_results_when_the_client_does_not_ask_for_lz4(
    sea_connect: Connect, plain_workspace: LocalWorkspace
) -> None:
    with sea_connect(enable_query_result_lz4_compression=False).cursor() as cursor:
        cursor.execute("SELECT i FROM range(1000) AS t(i) ORDER BY i")
        ident = cursor.active_command_id.to_sea_statement_id()
        assert [row[0] for row in cursor.fetchall()] == list(range(1000))
    assert statement(plain_workspace, ident).compression is None


def test_inline_json_results_without_cloud_fetch(sea_connect: Connect) -> None:
    with sea_connect(use_cloud_fetch=False).cursor() as cursor:
        cursor.execute("SELECT i, CAST(i AS DOUBLE) / 4 AS q FROM range(3) AS t(i) ORDER BY i")
        assert [tuple(r) for r in cursor.fetchall()] == [(0, 0.0), (1, 0.25), (2, 0.5)]


def test_native_parameters(sea_connect: Connect) -> None:
    with sea_connect().cursor() as cursor:
        cursor.execute(
            "SELECT :n + 1 AS next, :s AS s, :d AS d, :f AS f",
            {"n": 41, "s": "it's; DROP TABLE x", "d": datetime.date(2024, 1, 2), "f": 1.5},
        )
        assert tuple(cursor.fetchone()) == (
            42,
            "it's; DROP TABLE x",
            datetime.date(2024, 1, 2),
            1.5,
        )


def test_errors_are_databricks_shaped(sea_connect: Connect) -> None:
    with sea_connect().cursor() as cursor, pytest.raises(ServerOperationError) as raised:
        cursor.execute("SELECT * FROM main.default.missing")
    message = str(raised.value)
    assert "[TABLE_OR_VIEW_NOT_FOUND]" in message
    assert "`main`.`default`.`missing`" in message and "SQLSTATE: 42P01" in message


# -- sessions ---------------------------------------------------------------------------------


def current(cursor: Any) -> tuple[str, str]:
    cursor.execute("SELECT current_catalog(), current_schema()")
    return tuple(cursor.fetchone())


def test_use_moves_only_its_own_session(sea_connect: Connect) -> None:
    first = sea_connect(catalog="samples", schema="tpch").cursor()
    second = sea_connect(catalog="samples", schema="tpch").cursor()
    first.execute("USE SCHEMA nyctaxi")
    first.execute("SELECT count(*) FROM trips")  # unqualified: found in the session's schema
    assert first.fetchone()[0] > 0
    assert current(first) == ("samples", "nyctaxi")
    assert current(second) == ("samples", "tpch")
    first.execute("USE CATALOG main")
    assert current(first) == ("main", "default")
    with pytest.raises(ServerOperationError, match="SCHEMA_NOT_FOUND"):
        second.execute("USE SCHEMA nowhere")
    assert current(second) == ("samples", "tpch")  # a failed USE moves nothing


def test_session_settings_hold_for_their_session_only(sea_connect: Connect) -> None:
    """The connector's session_configuration opens the session with its confs; a SET inside
    it holds for the statements that follow; another session keeps the defaults."""
    first = sea_connect(session_configuration={"timezone": "America/New_York"})
    other = sea_connect()
    with first.cursor() as cursor, other.cursor() as elsewhere:
        cursor.execute("SELECT current_timezone() AS tz, "
                       "hour(CAST('2024-01-01 12:00:00+00:00' AS TIMESTAMP)) AS h")  # fmt: skip
        assert tuple(cursor.fetchone()) == ("America/New_York", 7)
        with pytest.raises(ServerOperationError, match=r"\[REMAINDER_BY_ZERO\]"):
            cursor.execute("SELECT 10 % 0 AS r")
        cursor.execute("SET ansi_mode = false")
        cursor.execute("SELECT 10 % 0 AS r, 1 / 0 AS d, 1.5 / 0 AS e")
        assert tuple(cursor.fetchone()) == (None, None, None)
        elsewhere.execute("SELECT current_timezone() AS tz")
        assert elsewhere.fetchone().tz == "Etc/UTC"
        with pytest.raises(ServerOperationError, match=r"\[DIVIDE_BY_ZERO\]"):
            elsewhere.execute("SELECT 1 / 0 AS d")
        with pytest.raises(ServerOperationError, match=r"\[DIVIDE_BY_ZERO\]"):
            elsewhere.execute("SELECT 1.5 / CAST(0 AS DECIMAL(3, 1)) AS e")


def test_close_closes_statements_then_the_session(
    sea_connect: Connect, plain_workspace: LocalWorkspace, rest: httpx.Client
) -> None:
    connection = sea_connect()
    cursor = connection.cursor()
    cursor.execute("SELECT 1 AS one")
    ident = cursor.active_command_id.to_sea_statement_id()
    session_id = connection.session.session_id.to_sea_session_id()
    assert cursor.fetchall()[0].one == 1
    cursor.close()
    assert rest.get(f"/api/2.0/sql/statements/{ident}").json()["status"]["state"] == "CLOSED"
    connection.close()
    assert {"method": "DELETE", "path": f"/api/2.0/sql/sessions/{session_id}", "status": 200} in [
        {k: line[k] for k in ("method", "path", "status")} for line in access_log(plain_workspace)
    ]
    gone = rest.post(
        "/api/2.0/sql/statements",
        json={
            "statement": "SELECT 1",
            "warehouse_id": connection.session.backend.warehouse_id,
            "session_id": session_id,
        },
    )
    assert gone.status_code == 404 and gone.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"


def test_sessions_api_refuses_bad_input(
    plain_workspace: LocalWorkspace, rest: httpx.Client, warehouse: str
) -> None:
    def create(body: dict[str, Any]) -> httpx.Response:
        return rest.post("/api/2.0/sql/sessions", json=body)

    def refused(response: httpx.Response, status: int, code: str) -> str:
        assert response.status_code == status, response.text
        assert response.json()["error_code"] == code
        return response.json()["message"]

    refused(create({}), 400, "INVALID_PARAMETER_VALUE")
    refused(create({"warehouse_id": "0123456789abcdef"}), 404, "RESOURCE_DOES_NOT_EXIST")
    bad_conf = {"warehouse_id": warehouse, "session_confs": {"spark.sql.shuffle": "1"}}
    assert "spark.sql.shuffle" in refused(create(bad_conf), 400, "INVALID_PARAMETER_VALUE")
    no_catalog = {"warehouse_id": warehouse, "catalog": "nowhere"}
    assert "NO_SUCH_CATALOG" in refused(create(no_catalog), 400, "INVALID_PARAMETER_VALUE")
    no_schema = {"warehouse_id": warehouse, "catalog": "main", "schema": "nowhere"}
    assert "SCHEMA_NOT_FOUND" in refused(create(no_schema), 400, "INVALID_PARAMETER_VALUE")
    refused(rest.delete("/api/2.0/sql/sessions/nope"), 404, "RESOURCE_DOES_NOT_EXIST")

    ok = create({"warehouse_id": warehouse, "session_confs": {"TIMEZONE": "UTC"}})
    session_id = ok.json()["session_id"]
    assert state_of(plain_workspace).sql_sessions.items[session_id].confs == {"timezone": "UTC"}
    other_warehouse = next(w for w in state_of(plain_workspace).warehouses.ids() if w != warehouse)
    wrong = rest.post(
        "/api/2.0/sql/statements",
        json={"statement": "SELECT 1", "warehouse_id": other_warehouse, "session_id": session_id},
    )
    refused(wrong, 400, "INVALID_PARAMETER_VALUE")
    bad_compression = rest.post(
        "/api/2.0/sql/statements",
        json={"statement": "SELECT 1", "warehouse_id": warehouse, "result_compression": "ZIP"},
    )
    refused(bad_compression, 400, "INVALID_PARAMETER_VALUE")
    assert rest.delete(f"/api/2.0/sql/sessions/{session_id}").json() == {}
    refused(rest.delete(f"/api/2.0/sql/sessions/{session_id}"), 404, "RESOURCE_DOES_NOT_EXIST")


def state_of(ws: LocalWorkspace) -> Any:
    assert ws.state is not None
    return ws.state


def test_sessions_belong_to_their_principal(
    plain_workspace: LocalWorkspace, rest: httpx.Client, warehouse: str
) -> None:
    user = plain_workspace.create_service_principal("sea-user", warehouse_permission="CAN_USE")
    outsider = plain_workspace.create_service_principal("sea-outsider")

    def client_of(principal: dict[str, str]) -> httpx.Client:
        id_, secret = principal["client_id"], principal["client_secret"]
        token = fetch_token(plain_workspace, id_, secret, scope="sql")
        return httpx.Client(base_url=plain_workspace.host, headers=bearer(token))

    admins_session = rest.post("/api/2.0/sql/sessions", json={"warehouse_id": warehouse})
    with client_of(user) as as_user, client_of(outsider) as as_outsider:
        denied = as_outsider.post("/api/2.0/sql/sessions", json={"warehouse_id": warehouse})
        assert denied.status_code == 403 and denied.json()["error_code"] == "PERMISSION_DENIED"
        borrowed = as_user.post(
            "/api/2.0/sql/statements",
            json={
                "statement": "SELECT 1",
                "warehouse_id": warehouse,
                "session_id": admins_session.json()["session_id"],
            },
        )
        assert borrowed.status_code == 404
        own = as_user.post("/api/2.0/sql/sessions", json={"warehouse_id": warehouse}).json()
        answer = as_user.post(
            "/api/2.0/sql/statements",
            json={"statement": "SELECT 1", "warehouse_id": warehouse, **own},
        ).json()
        assert answer["status"]["state"] == "SUCCEEDED"


def test_sessions_and_their_use_survive_a_restart(tmp_path: Path) -> None:
    def client(ws: LocalWorkspace) -> httpx.Client:
        return httpx.Client(base_url=ws.host, headers=bearer(fetch_token(ws)))

    def current_schema(http: httpx.Client, warehouse: str, session_id: str) -> list[list[str]]:
        body = http.post(
            "/api/2.0/sql/statements",
            json={
                "statement": "SELECT current_schema()",
                "warehouse_id": warehouse,
                "session_id": session_id,
                "wait_timeout": "50s",
            },
        ).json()
        return body["result"]["data_array"]

    with LocalWorkspace(state_dir=tmp_path, warehouse_delays=0.1) as ws, client(ws) as http:
        warehouse = state_of(ws).warehouses.ids()[0]
        opened = http.post("/api/2.0/sql/sessions", json={"warehouse_id": warehouse}).json()
        for statement in ("CREATE SCHEMA main.kept", "USE SCHEMA kept"):
            done = http.post(
                "/api/2.0/sql/statements",
                json={
                    "statement": statement,
                    "warehouse_id": warehouse,
                    **opened,
                    "wait_timeout": "50s",
                },
            ).json()
            assert done["status"]["state"] == "SUCCEEDED", done
        assert current_schema(http, warehouse, opened["session_id"]) == [["kept"]]
    with LocalWorkspace(state_dir=tmp_path, warehouse_delays=0.1) as again, client(again) as http:
        assert current_schema(http, warehouse, opened["session_id"]) == [["kept"]]


# -- LZ4 over the REST API ---------------------------------------------------------------------


def arrow_request(warehouse: str, **extra: Any) -> dict[str, Any]:
    return {
        "statement": "SELECT i, repeat('lakegate', 8) AS pad FROM range(50000) AS t(i) ORDER BY i",
        "warehouse_id": warehouse,
        "format": "ARROW_STREAM",
        "disposition": "EXTERNAL_LINKS",
        "wait_timeout": "50s",
        **extra,
    }


def test_lz4_frame_compresses_arrow_links_and_keeps_byte_counts(
    rest: httpx.Client, warehouse: str
) -> None:
    body = rest.post(
        "/api/2.0/sql/statements", json=arrow_request(warehouse, result_compression="LZ4_FRAME")
    ).json()
    assert body["manifest"]["result_compression"] == "LZ4_FRAME"
    link = body["result"]["external_links"][0]
    download = httpx.get(link["external_link"])
    assert download.status_code == 200
    assert int(download.headers["content-length"]) == len(download.content)
    raw = lz4.frame.decompress(download.content)
    assert len(raw) == link["byte_count"]  # byte_count is the uncompressed Arrow size
    assert len(download.content) < len(raw) / 4  # the padding compresses well
    table = pa.ipc.open_stream(io.BytesIO(raw)).read_all()
    assert table.column("i").to_pylist() == list(range(50000))

    plain = rest.post("/api/2.0/sql/statements", json=arrow_request(warehouse)).json()
    assert "result_compression" not in plain["manifest"]
    uncompressed = httpx.get(plain["result"]["external_links"][0]["external_link"]).content
    assert pa.ipc.open_stream(io.BytesIO(uncompressed)).read_all().equals(table)


def test_inline_json_ignores_lz4(rest: httpx.Client, warehouse: str) -> None:
    body = rest.post(
        "/api/2.0/sql/statements",
        json={
            "statement": "SELECT 1 AS one",
            "warehouse_id": warehouse,
            "result_compression": "LZ4_FRAME",
        },
    ).json()
    assert "result_compression" not in body["manifest"]
    assert body["result"]["data_array"] == [["1"]]


# -- metadata calls ----------------------------------------------------------------------------


def test_catalogs_schemas_tables_columns(
    sea_connect: Connect,
    run_sql: Callable[[str], dict[str, Any]],
    sent_statements: Callable[[], list[tuple[str, str]]],
) -> None:
    run_sql("CREATE SCHEMA IF NOT EXISTS main.sea_meta")
    run_sql(
        "CREATE TABLE main.sea_meta.items (id BIGINT NOT NULL, name STRING, price DECIMAL(10,2))"
    )
    run_sql("CREATE VIEW main.sea_meta.cheap AS SELECT * FROM main.sea_meta.items WHERE price < 5")
    cursor = sea_connect().cursor()

    assert {"main", "samples"} <= {row.catalog for row in cursor.catalogs().fetchall()}
    schemas = cursor.schemas(catalog_name="main").fetchall()
    assert {"default", "sea_meta"} <= {row[0] for row in schemas}
    tables = cursor.tables(catalog_name="main", schema_name="sea_meta").fetchall()
    assert sorted((row.tableName, row.tableType) for row in tables) == [
        ("cheap", "VIEW"),
        ("items", "TABLE"),
    ]
    assert [row[0] for row in cursor.schemas(catalog_name="main", schema_name="sea%")] == [
        "sea_meta"
    ]
    views = cursor.tables(catalog_name="main", schema_name="sea%", table_types=["VIEW"])
    assert [row.tableName for row in views.fetchall()] == ["cheap"]
    columns = cursor.columns(catalog_name="main", schema_name="sea_meta", table_name="items")
    assert [
        (row.col_name, row.columnType, row.isNullable, row.ordinalPosition)
        for row in columns.fetchall()
    ] == [
        ("id", "BIGINT", "false", 0),
        ("name", "STRING", "true", 1),
        ("price", "DECIMAL(10,2)", "true", 2),
    ]
    sent = dict(sent_statements())
    # What the connector sent; every earlier result was closed when the next one replaced it.
    assert sent["SHOW TABLES IN CATALOG main SCHEMA LIKE 'sea_meta'"] == "CLOSED"
    show_columns = "SHOW COLUMNS IN CATALOG main SCHEMA LIKE 'sea_meta' TABLE LIKE 'items'"
    assert sent[show_columns] == "SUCCEEDED"


def test_sea_over_tls_with_only_the_ca_file(tmp_path: Path) -> None:
    """`LocalWorkspace(tls=True)`: the SEA backend on https, CloudFetch links included."""
    with LocalWorkspace(state_dir=tmp_path, warehouse_delays=0.1, tls=True) as ws:
        assert ws.ca_file is not None
        host, port = ws.host.removeprefix("https://").rsplit(":", 1)
        token = fetch_token(ws, verify=ssl.create_default_context(cafile=str(ws.ca_file)))
        connection = sql.connect(
            server_hostname=host,
            _port=int(port),
            http_path=f"/sql/1.0/warehouses/{state_of(ws).warehouses.ids()[0]}",
            access_token=token,
            _tls_trusted_ca_file=str(ws.ca_file),
            use_sea=True,
            enable_telemetry=False,
        )
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT i FROM range(200000) AS t(i) ORDER BY i")
                assert cursor.fetchall_arrow().column("i").to_pylist() == list(range(200000))
        finally:
            connection.close()
        assert downloads(ws) >= 1  # the external link was fetched over verified https
