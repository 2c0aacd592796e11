"""databricks-mcp's DatabricksMCPClient, unchanged, against the workspace's managed MCP servers."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import httpx2
import pytest
from databricks.sdk import WorkspaceClient
from databricks_mcp import DatabricksMCPClient
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from workspace_http import bearer, fetch_token

from _support import workspace_client
from lakegate.workspace import LocalWorkspace
from lakegate.workspace.sql.readonly import read_refusal

SQL_TOOLS = {"execute_sql", "execute_sql_read_only", "poll_sql_result"}


@pytest.fixture(scope="module")
def ws() -> Any:
    """A workspace of this module's own: one test tunes how long execute_sql waits."""
    with LocalWorkspace(warehouse_delays=0.1) as workspace:
        yield workspace


@pytest.fixture(scope="module")
def w(ws: LocalWorkspace) -> WorkspaceClient:
    return workspace_client(ws)


@pytest.fixture
def sql(ws: LocalWorkspace, w: WorkspaceClient) -> DatabricksMCPClient:
    return DatabricksMCPClient(server_url=f"{ws.host}/api/2.0/mcp/sql", workspace_client=w)


def answer(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content[0].text
    return json.loads(result.content[0].text)


def test_lists_the_documented_tools(sql: DatabricksMCPClient) -> None:
    tools = {t.name: t for t in sql.list_tools()}
    assert set(tools) == SQL_TOOLS
    assert tools["execute_sql"].input_schema["required"] == ["query"]
    assert tools["execute_sql_read_only"].input_schema["required"] == ["query"]
    assert tools["poll_sql_result"].input_schema["required"] == ["statement_id"]
    assert tools["execute_sql_read_only"].annotations.read_only_hint is True
    assert tools["execute_sql"].annotations.read_only_hint is False


def test_execute_sql_on_the_samples_matches_the_statement_api(
    sql: DatabricksMCPClient, w: WorkspaceClient
) -> None:
    query = "SELECT count(*) AS n, max(trip_distance) AS longest FROM samples.nyctaxi.trips"
    got = answer(sql.call_tool("execute_sql", {"query": query}))
    assert got["status"]["state"] == "SUCCEEDED"
    assert [c["name"] for c in got["manifest"]["schema"]["columns"]] == ["n", "longest"]
    warehouse = next(x.id for x in w.warehouses.list() if x.name == "Starter Warehouse")
    expected = w.statement_execution.execute_statement(query, warehouse, wait_timeout="30s")
    assert got["result"]["data_array"] == expected.result.data_array
    assert int(got["result"]["data_array"][0][0]) > 0


def test_read_only_tool_refuses_writes_and_runs_reads(sql: DatabricksMCPClient) -> None:
    created = answer(
        sql.call_tool("execute_sql", {"query": "CREATE TABLE main.default.mcp_ro AS SELECT 1 AS x"})
    )
    assert created["status"]["state"] == "SUCCEEDED"
    for write in (
        "INSERT INTO main.default.mcp_ro VALUES (2)",
        "DROP TABLE main.default.mcp_ro",
        "SELECT * INTO main.default.mcp_copy FROM main.default.mcp_ro",
        "USE CATALOG samples",
    ):
        refused = sql.call_tool("execute_sql_read_only", {"query": write})
        assert refused.is_error, write
        assert "refused" in refused.content[0].text
    rows = answer(
        sql.call_tool("execute_sql_read_only", {"query": "SELECT x FROM main.default.mcp_ro"})
    )
    assert rows["result"]["data_array"] == [["1"]]  # the INSERT never ran, the table is still there
    show = {"query": "SHOW TABLES IN samples.nyctaxi"}
    shown = answer(sql.call_tool("execute_sql_read_only", show))
    assert shown["status"]["state"] == "SUCCEEDED"


def test_poll_sql_result_follows_a_long_statement(
    ws: LocalWorkspace, sql: DatabricksMCPClient
) -> None:
    server = ws.state.managed_mcp  # type: ignore[union-attr]
    server.wait_s = 0.0  # execute_sql answers at once, before the statement could finish
    try:
        query = "SELECT count(*) AS n FROM range(30000000) t(i) WHERE i % 7 = 0"
        started = answer(sql.call_tool("execute_sql", {"query": query}))
    finally:
        server.wait_s = 5.0
    assert started["status"]["state"] in ("PENDING", "RUNNING")
    assert "result" not in started
    ident = started["statement_id"]
    for _ in range(60):  # each poll waits up to wait_s on the server for the statement to end
        polled = answer(sql.call_tool("poll_sql_result", {"statement_id": ident}))
        if polled["status"]["state"] not in ("PENDING", "RUNNING"):
            break
    assert polled["status"]["state"] == "SUCCEEDED"
    assert polled["result"]["data_array"] == [[str(len(range(0, 30000000, 7)))]]


def test_meta_warehouse_id_picks_the_warehouse(ws: LocalWorkspace, w: WorkspaceClient) -> None:
    shared = next(x for x in w.warehouses.list() if x.name == "Shared Endpoint")
    w.warehouses.stop(shared.id)
    url, headers = f"{ws.host}/api/2.0/mcp/sql", bearer(fetch_token(ws))
    query = {"query": "SELECT 7 AS n"}
    got = asyncio.run(_call(url, headers, "execute_sql", query, {"warehouse_id": shared.id}))
    assert json.loads(got.content[0].text)["status"]["state"] in ("PENDING", "RUNNING", "SUCCEEDED")
    # The statement went to the stopped warehouse named in _meta, so that warehouse started.
    assert w.warehouses.get(shared.id).state.value in ("STARTING", "RUNNING")
    missing = asyncio.run(_call(url, headers, "execute_sql", query, {"warehouse_id": "0" * 16}))
    assert missing.is_error
    assert "does not exist" in missing.content[0].text


def test_a_sql_scoped_token_opens_the_sql_server_only(ws: LocalWorkspace) -> None:
    sp = ws.create_service_principal("mcp-sql-only", scopes=["sql"], warehouse_permission="CAN_USE")
    headers = bearer(fetch_token(ws, sp["client_id"], sp["client_secret"], scope="sql"))
    tools = asyncio.run(_list_tools(f"{ws.host}/api/2.0/mcp/sql", headers))
    assert {t.name for t in tools.tools} == SQL_TOOLS
    refused = httpx.post(
        f"{ws.host}/api/2.0/mcp/functions/main/default",
        json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        headers=headers,
    )
    assert refused.status_code == 403
    assert refused.json()["error_code"] == "PERMISSION_DENIED"


def test_poll_sql_result_of_an_unknown_statement_is_a_tool_error(sql: DatabricksMCPClient) -> None:
    result = sql.call_tool("poll_sql_result", {"statement_id": "01f0-not-a-statement"})
    assert result.is_error
    assert "does not exist" in result.content[0].text
    missing = sql.call_tool("execute_sql", {})
    assert missing.is_error
    assert "query" in missing.content[0].text


def test_a_failed_statement_is_answered_with_its_error(sql: DatabricksMCPClient) -> None:
    got = answer(sql.call_tool("execute_sql", {"query": "SELECT * FROM main.default.nope"}))
    assert got["status"]["state"] == "FAILED"
    assert "TABLE_OR_VIEW_NOT_FOUND" in got["status"]["error"]["message"]


def test_functions_server_lists_and_calls_the_schemas_functions(
    ws: LocalWorkspace, w: WorkspaceClient, sql: DatabricksMCPClient
) -> None:
    samples = DatabricksMCPClient(
        server_url=f"{ws.host}/api/2.0/mcp/functions/samples/nyctaxi", workspace_client=w
    )
    assert samples.list_tools() == []
    created = answer(
        sql.call_tool(
            "execute_sql",
            {"query": "CREATE FUNCTION main.default.plus_one(x INT) RETURNS INT RETURN x + 1"},
        )
    )
    assert created["status"]["state"] == "SUCCEEDED"
    functions = DatabricksMCPClient(
        server_url=f"{ws.host}/api/2.0/mcp/functions/main/default", workspace_client=w
    )
    tools = {t.name: t for t in functions.list_tools()}
    assert tools["main__default__plus_one"].input_schema["properties"] == {"x": {"type": "integer"}}
    called = answer(functions.call_tool("main__default__plus_one", {"x": 41}))
    assert called["result"]["data_array"] == [["42"]]
    assert [r.name for r in functions.get_databricks_resources()] == ["main.default.plus_one"]


def test_functions_server_of_a_missing_schema_is_not_found(ws: LocalWorkspace) -> None:
    response = httpx.post(
        f"{ws.host}/api/2.0/mcp/functions/main/no_such_schema",
        json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        headers={**bearer(fetch_token(ws)), "Accept": "application/json"},
    )
    assert response.status_code == 404
    assert response.json()["error_code"] == "SCHEMA_DOES_NOT_EXIST"


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [({}, 401, "UNAUTHENTICATED"), ({"Authorization": "Bearer not-a-token"}, 403, 403)],
)
def test_refuses_a_missing_or_bad_bearer(
    ws: LocalWorkspace, headers: dict[str, str], status: int, code: Any
) -> None:
    listing = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    for path in ("/api/2.0/mcp/sql", "/api/2.0/mcp/functions/main/default"):
        response = httpx.post(f"{ws.host}{path}", json=listing, headers=headers)
        assert response.status_code == status
        assert response.json()["error_code"] == code
    # The official MCP client gets no further either.
    with pytest.raises(Exception) as raised:
        asyncio.run(_list_tools(f"{ws.host}/api/2.0/mcp/sql", headers))
    assert any(isinstance(e, MCPError) for e in _leaves(raised.value))


def _leaves(error: BaseException) -> list[BaseException]:
    if isinstance(error, BaseExceptionGroup):
        return [leaf for inner in error.exceptions for leaf in _leaves(inner)]
    return [error]


async def _list_tools(url: str, headers: dict[str, str]) -> Any:
    async with (
        httpx2.AsyncClient(headers=headers) as http,
        Client(streamable_http_client(url, http_client=http)) as session,
    ):
        return await session.list_tools()


async def _call(url: str, headers: dict[str, str], tool: str, arguments: dict, meta: dict) -> Any:
    async with (
        httpx2.AsyncClient(headers=headers) as http,
        Client(streamable_http_client(url, http_client=http)) as session,
    ):
        return await session.call_tool(tool, arguments, meta=meta)


@pytest.mark.parametrize(
    ("query", "refused"),
    [
        ("SELECT 1", False),
        ("WITH a AS (SELECT 1 AS x) SELECT x FROM a UNION ALL SELECT 2", False),
        ("VALUES (1), (2)", False),
        ("DESCRIBE samples.nyctaxi.trips", False),
        ("SHOW SCHEMAS IN samples", False),
        ("SELECT * INTO t2 FROM t", True),
        ("CREATE TABLE t2 AS SELECT 1", True),
        ("UPDATE t SET x = 1", True),
        ("MERGE INTO t USING s ON t.x = s.x WHEN MATCHED THEN DELETE", True),
        ("COPY t TO '/tmp/out.csv'", True),
        ("CREATE CATALOG c2", True),
        ("SELECT 1; DROP TABLE t", True),
        ("EXPLAIN SELECT 1", True),  # not a form the workspace models: refused, not guessed
    ],
)
def test_what_the_read_only_tool_lets_through(query: str, refused: bool) -> None:
    assert (read_refusal(query, user="u") is not None) is refused
