"""Statement Execution API with the official databricks-sdk (OAuth M2M) against DuckDB."""

from __future__ import annotations

import csv
import io
import time
import uuid
from collections.abc import Callable, Iterator

import httpx
import pyarrow as pa
import pytest
from databricks.sdk import WorkspaceClient
from databricks.sdk.errors import PermissionDenied
from databricks.sdk.service.sql import (
    Disposition,
    ExecuteStatementRequestOnWaitTimeout,
    Format,
    QueryFilter,
    StatementParameterListItem,
    StatementResponse,
    StatementState,
)

from _support import workspace_client
from lakegate.workspace import LocalWorkspace

# Slow in DuckDB (minutes), streaming (no memory), and interruptible.
SLOW_QUERY = "SELECT sum(hash(a.id * b.id)) FROM range(1000000) a, range(100000) b"
DONE = (StatementState.SUCCEEDED, StatementState.FAILED, StatementState.CANCELED)


@pytest.fixture(scope="module")
def w(workspace: LocalWorkspace) -> WorkspaceClient:
    return workspace_client(workspace)


@pytest.fixture(scope="module")
def warehouse(w: WorkspaceClient) -> Iterator[str]:
    """A warehouse of this module's own, so other tests' starts and stops do not matter."""
    created = w.warehouses.create(
        name=f"statements-{uuid.uuid4().hex[:8]}", cluster_size="2X-Small"
    )
    yield created.response.id
    w.warehouses.delete(created.response.id)


def poll(
    w: WorkspaceClient,
    statement_id: str,
    until: Callable[[StatementResponse], bool],
    deadline_s: float = 120,
) -> StatementResponse:
    deadline = time.monotonic() + deadline_s
    while True:
        response = w.statement_execution.get_statement(statement_id)
        if until(response):
            return response
        assert time.monotonic() < deadline, f"statement stuck in {response.status.state}"
        time.sleep(0.02)


def test_inline_statement_with_typed_parameters(w: WorkspaceClient, warehouse: str) -> None:
    response = w.statement_execution.execute_statement(
        statement=(
            "SELECT pickup_zip, count(*) AS trips, max(trip_distance) AS longest "
            "FROM samples.nyctaxi.trips WHERE pickup_zip = :zip AND trip_distance > :min "
            "GROUP BY pickup_zip"
        ),
        warehouse_id=warehouse,
        parameters=[
            StatementParameterListItem(name="zip", value="10001", type="INT"),
            StatementParameterListItem(name="min", value="2.5", type="DOUBLE"),
        ],
    )
    assert response.status.state == StatementState.SUCCEEDED
    columns = response.manifest.schema.columns
    assert [(c.name, c.type_name.value, c.type_text) for c in columns] == [
        ("pickup_zip", "INT", "INT"),
        ("trips", "LONG", "BIGINT"),
        ("longest", "DOUBLE", "DOUBLE"),
    ]
    [[zip_code, trips, longest]] = response.result.data_array
    assert zip_code == "10001" and int(trips) > 0 and float(longest) > 2.5
    assert response.manifest.total_row_count == 1


def test_parameter_values_are_bound_not_pasted(w: WorkspaceClient, warehouse: str) -> None:
    attack = "x' OR '1'='1"
    response = w.statement_execution.execute_statement(
        statement="SELECT count(*) FROM samples.tpch.customer WHERE c_name = :name",
        warehouse_id=warehouse,
        parameters=[StatementParameterListItem(name="name", value=attack)],
    )
    assert response.result.data_array == [["0"]]  # pasted, the OR would match every row
    echoed = w.statement_execution.execute_statement(
        statement="SELECT :v AS v, :n AS n",
        warehouse_id=warehouse,
        parameters=[
            StatementParameterListItem(name="v", value="'); DROP TABLE x; --"),
            StatementParameterListItem(name="n"),
        ],
    )
    assert echoed.result.data_array == [["'); DROP TABLE x; --", None]]


def test_failing_statement_is_failed_not_an_http_error(w: WorkspaceClient, warehouse: str) -> None:
    response = w.statement_execution.execute_statement(
        statement="SELECT * FROM samples.nyctaxi.no_such_table", warehouse_id=warehouse
    )
    assert response.status.state == StatementState.FAILED
    assert "[TABLE_OR_VIEW_NOT_FOUND]" in response.status.error.message
    assert response.status.error.error_code.value == "BAD_REQUEST"
    assert response.manifest is None and response.result is None


def test_async_statement_polled_to_success(w: WorkspaceClient, warehouse: str) -> None:
    response = w.statement_execution.execute_statement(
        statement="SELECT count(*) FROM samples.tpch.orders o JOIN samples.tpch.customer c "
        "ON o.o_custkey = c.c_custkey",
        warehouse_id=warehouse,
        wait_timeout="0s",
    )
    assert response.status.state in (StatementState.PENDING, StatementState.RUNNING)
    done = poll(w, response.statement_id, lambda r: r.status.state in DONE)
    assert done.status.state == StatementState.SUCCEEDED
    assert done.result.data_array == [["15000"]]


def test_cancel_interrupts_duckdb_and_frees_the_warehouse(
    w: WorkspaceClient, warehouse: str, workspace: LocalWorkspace
) -> None:
    engine = workspace.state.sql_statements.engine
    started = w.statement_execution.execute_statement(
        statement=SLOW_QUERY, warehouse_id=warehouse, wait_timeout="0s"
    )
    poll(w, started.statement_id, lambda r: r.status.state == StatementState.RUNNING)
    t0 = time.monotonic()
    w.statement_execution.cancel_execution(started.statement_id)
    canceled = poll(w, started.statement_id, lambda r: r.status.state in DONE, deadline_s=60)
    assert canceled.status.state == StatementState.CANCELED
    assert time.monotonic() - t0 < 60  # a generous bound: the query itself runs for hours
    # Every connection is free again: as many concurrent statements as connections all run.
    ids = [
        w.statement_execution.execute_statement(
            statement="SELECT 42", warehouse_id=warehouse, wait_timeout="0s"
        ).statement_id
        for _ in range(engine.connections)
    ]
    for statement_id in ids:
        assert poll(w, statement_id, lambda r: r.status.state in DONE).result.data_array == [["42"]]


def test_on_wait_timeout_cancel(w: WorkspaceClient, warehouse: str) -> None:
    response = w.statement_execution.execute_statement(
        statement=SLOW_QUERY,
        warehouse_id=warehouse,
        wait_timeout="5s",
        on_wait_timeout=ExecuteStatementRequestOnWaitTimeout.CANCEL,
    )
    assert response.status.state == StatementState.CANCELED


def test_external_links_arrow_stream_over_several_chunks(
    w: WorkspaceClient, warehouse: str
) -> None:
    rows = 2_000_000
    response = w.statement_execution.execute_statement(
        statement=f"SELECT id, id * 2 AS twice, id::VARCHAR AS label FROM range({rows})",
        warehouse_id=warehouse,
        disposition=Disposition.EXTERNAL_LINKS,
        format=Format.ARROW_STREAM,
        wait_timeout="30s",
    )
    manifest = response.manifest
    assert response.status.state == StatementState.SUCCEEDED
    assert manifest.total_chunk_count >= 3 and manifest.total_row_count == rows
    links, result = [], response.result
    while True:
        link = result.external_links[0]
        links.append(link)
        if link.next_chunk_index is None:
            break
        result = w.statement_execution.get_statement_result_chunk_n(
            response.statement_id, link.next_chunk_index
        )
    assert [link.chunk_index for link in links] == list(range(manifest.total_chunk_count))
    total = checksum = 0
    with httpx.Client() as storage:  # no Authorization header, as for presigned URLs
        for link in links:
            body = storage.get(link.external_link)
            assert body.status_code == 200
            assert len(body.content) == link.byte_count
            table = pa.ipc.open_stream(body.content).read_all()
            assert table.num_rows == link.row_count
            assert table.schema.names == ["id", "twice", "label"]
            total += table.num_rows
            checksum += pa.compute.sum(table.column("id")).as_py()
    assert total == rows
    assert checksum == rows * (rows - 1) // 2


def test_csv_chunks_have_one_header_and_null_markers(w: WorkspaceClient, warehouse: str) -> None:
    response = w.statement_execution.execute_statement(
        statement="SELECT c_custkey, c_name, NULL AS nothing FROM samples.tpch.customer "
        "ORDER BY c_custkey LIMIT 3",
        warehouse_id=warehouse,
        disposition=Disposition.EXTERNAL_LINKS,
        format=Format.CSV,
    )
    link = response.result.external_links[0]
    text = httpx.get(link.external_link).text
    assert list(csv.reader(io.StringIO(text))) == [
        ["c_custkey", "c_name", "nothing"],
        ["1", "Customer#000000001", "null"],
        ["2", "Customer#000000002", "null"],
        ["3", "Customer#000000003", "null"],
    ]


def test_row_limit_truncates_and_says_so(w: WorkspaceClient, warehouse: str) -> None:
    cut = w.statement_execution.execute_statement(
        statement="SELECT * FROM samples.nyctaxi.trips", warehouse_id=warehouse, row_limit=10
    )
    assert cut.manifest.truncated is True
    assert cut.manifest.total_row_count == 10 and len(cut.result.data_array) == 10
    whole = w.statement_execution.execute_statement(
        statement="SELECT pickup_zip FROM samples.nyctaxi.trips",
        warehouse_id=warehouse,
        row_limit=50_000,
    )
    assert not whole.manifest.truncated and whole.manifest.total_row_count == 50_000
    chunks = whole.manifest.chunks
    assert sum(c.row_count for c in chunks) == 50_000


def test_databricks_sql_spelling(w: WorkspaceClient, warehouse: str) -> None:
    def rows(statement: str, **kwargs: str) -> list[list[str]]:
        r = w.statement_execution.execute_statement(
            statement=statement, warehouse_id=warehouse, **kwargs
        )
        assert r.status.state == StatementState.SUCCEEDED, r.status.error
        return r.result.data_array if r.result else []

    assert ["samples"] in rows("SHOW CATALOGS") and ["main"] in rows("SHOW CATALOGS")
    assert rows("SHOW SCHEMAS IN samples") == [["information_schema"], ["nyctaxi"], ["tpch"]]
    tpch = ["customer", "lineitem", "nation", "orders", "part", "partsupp", "region", "supplier"]
    assert rows("SHOW TABLES IN samples.tpch") == [["tpch", t, "false"] for t in tpch]
    described = {r[0]: r[1:] for r in rows("DESCRIBE TABLE `samples`.`tpch`.`orders`")}
    assert described["o_totalprice"][0] == "decimal(18,2)"
    assert "total price" in described["o_totalprice"][1].lower()
    named = w.statement_execution.execute_statement(
        statement="SELECT current_catalog(), current_schema()",
        warehouse_id=warehouse,
        catalog="samples",
        schema="tpch",
    )
    assert named.result.data_array == [["samples", "tpch"]]
    assert [c.name for c in named.manifest.schema.columns] == [
        "current_catalog()",
        "current_schema()",
    ]
    assert rows("SELECT count(*) FROM orders", catalog="samples", schema="tpch") == [["15000"]]
    table = f"t_{uuid.uuid4().hex[:8]}"
    created = w.statement_execution.execute_statement(
        statement=f"CREATE TABLE main.default.{table} (id INT, tags ARRAY<STRING>, at TIMESTAMP)",
        warehouse_id=warehouse,
    )
    assert created.status.state == StatementState.SUCCEEDED
    assert created.manifest.schema.column_count == 0 and created.result is None
    inserted = rows(
        f"INSERT INTO {table} VALUES (1, array('a', 'b'), timestamp'2024-05-01 12:30:00')"
    )
    assert inserted == [["1"]]
    assert rows(f"SELECT * FROM main.default.{table}") == [
        ["1", '["a","b"]', "2024-05-01T12:30:00.000Z"]
    ]


def test_statement_on_stopped_warehouse_starts_it(w: WorkspaceClient) -> None:
    warehouse_id = w.warehouses.create(name=f"stopped-{uuid.uuid4().hex[:8]}").response.id
    w.warehouses.stop(warehouse_id)
    deadline = time.monotonic() + 60
    while w.warehouses.get(warehouse_id).state.value != "STOPPED":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    response = w.statement_execution.execute_statement(
        statement="SELECT 1", warehouse_id=warehouse_id
    )
    assert response.status.state == StatementState.SUCCEEDED
    assert w.warehouses.get(warehouse_id).state.value == "RUNNING"
    w.warehouses.delete(warehouse_id)


def test_caller_needs_can_use(workspace: LocalWorkspace, warehouse: str) -> None:
    outsider = workspace.create_service_principal(f"no-grant-{uuid.uuid4().hex[:6]}")
    w = workspace_client(workspace, outsider["client_id"], outsider["client_secret"])
    with pytest.raises(PermissionDenied, match="CAN_USE"):
        w.statement_execution.execute_statement(statement="SELECT 1", warehouse_id=warehouse)


def test_query_history_records_every_statement(w: WorkspaceClient, warehouse: str) -> None:
    ok = w.statement_execution.execute_statement(statement="SELECT 7", warehouse_id=warehouse)
    bad = w.statement_execution.execute_statement(statement="SELECT nope", warehouse_id=warehouse)
    history = list(
        w.query_history.list(
            filter_by=QueryFilter(statement_ids=[ok.statement_id, bad.statement_id])
        ).res
    )
    by_id = {q.query_id: q for q in history}
    assert by_id[ok.statement_id].status.value == "FINISHED"
    assert by_id[ok.statement_id].rows_produced == 1
    assert by_id[ok.statement_id].query_text == "SELECT 7"
    assert by_id[bad.statement_id].status.value == "FAILED"
    assert "nope" in by_id[bad.statement_id].error_message
    user_id = by_id[ok.statement_id].user_id
    mine = w.query_history.list(filter_by=QueryFilter(user_ids=[user_id]), max_results=1000).res
    assert {ok.statement_id, bad.statement_id} <= {q.query_id for q in mine}
    assert all(q.user_id == user_id for q in mine)


@pytest.mark.parametrize(
    ("statement", "rows"),
    [
        ("SET TIME ZONE 'America/New_York'", [["TIMEZONE", "America/New_York"]]),
        ("SET TIME ZONE LOCAL", [["TIMEZONE", "Etc/UTC"]]),
        ("SET ansi_mode = false", [["ansi_mode", "false"]]),
        ("set STATEMENT_TIMEOUT = 600", [["STATEMENT_TIMEOUT", "600"]]),
        ("SET timezone = '+08:00'", [["timezone", "+08:00"]]),
        ("SET use_cached_result", [["use_cached_result", "true"]]),
        ("RESET", None),
    ],
)
def test_set_and_reset_answer_as_a_sql_warehouse(
    w: WorkspaceClient, warehouse: str, statement: str, rows: list[list[str]] | None
) -> None:
    response = w.statement_execution.execute_statement(statement=statement, warehouse_id=warehouse)
    assert response.status.state == StatementState.SUCCEEDED, response.status
    assert (response.result.data_array if response.result else None) == rows


def test_bare_set_lists_the_warehouse_parameters(w: WorkspaceClient, warehouse: str) -> None:
    response = w.statement_execution.execute_statement(statement="SET", warehouse_id=warehouse)
    assert [c.name for c in response.manifest.schema.columns] == ["key", "value"]
    assert ["ANSI_MODE", "true"] in response.result.data_array
    assert ["TIMEZONE", "Etc/UTC"] in response.result.data_array


@pytest.mark.parametrize(
    ("statement", "error"),
    [
        ("SET spark.sql.shuffle.partitions = 10", "[CONFIG_NOT_AVAILABLE]"),
        ("SET threads = 1", "[CONFIG_NOT_AVAILABLE]"),  # the engine's own settings stay shut
        ("SET memory_limit = '1GB'", "[CONFIG_NOT_AVAILABLE]"),
        ("SET ansi_mode = maybe", "[INVALID_CONF_VALUE]"),
        ("SET statement_timeout = -5", "[INVALID_CONF_VALUE]"),
        ("SET TIME ZONE 'Mars/Olympus'", "[INVALID_CONF_VALUE]"),
        ("SET = 1", "[PARSE_SYNTAX_ERROR]"),
    ],
)
def test_a_set_the_warehouse_does_not_take_fails_with_its_error_class(
    w: WorkspaceClient, warehouse: str, statement: str, error: str
) -> None:
    response = w.statement_execution.execute_statement(statement=statement, warehouse_id=warehouse)
    assert response.status.state == StatementState.FAILED
    assert response.status.error.message.startswith(error), response.status.error.message
