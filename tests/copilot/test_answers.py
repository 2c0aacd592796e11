"""Answers a model can trust, through the official MCP client: every row reachable, errors that
say what to fix, truthful descriptions, a scope that holds, warehouses a copilot may use."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from databricks.sdk.service.sql import Disposition, Format, StatementState
from mcp import ClientSession

from _support import workspace_client
from lakegate.project import Project
from lakegate.secrets import SecretStore

from ._clients import http_server, http_session, stdio_session, text_of
from .conftest import SECRET, SLOW_SQL, build_sql_project, running_warehouse

# What a hint for a person looks like: a command, a flag, a lakegate.yaml key.
PERSON_WORDS = re.compile(r"lakegate |\.yaml|--[a-z]|action's path|read_only|`[a-z_]+:`?\s")
TOKEN = "answers-token-0123456789abcdef0123456789"
# 150,000 rows in two chunks (DuckDB hands them over in batches of 131,072), fully ordered.
PAGED_SQL = (
    "SELECT t.pickup_zip, t.dropoff_zip, t.fare_amount, r.k FROM samples.nyctaxi.trips AS t "
    "CROSS JOIN range(3) AS r(k) ORDER BY r.k, t.pickup_zip, t.dropoff_zip, t.fare_amount"
)


@contextlib.asynccontextmanager
async def session(project: Project, transport: str) -> AsyncIterator[ClientSession]:
    if transport == "stdio":
        async with stdio_session(project.path) as client:
            yield client
        return
    with http_server(project.path, TOKEN) as url:
        async with http_session(url, TOKEN) as client:
            yield client


def tsv_line(row: list[Any]) -> str:
    """A row of the warehouse's JSON_ARRAY answer as the contract's TSV writes it."""
    escapes = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
    return "\t".join("NULL" if v is None else str(v).translate(escapes) for v in row)


def lines_of(answer: dict[str, Any]) -> list[str]:
    rows = answer["rows"]
    if isinstance(rows, str):
        return rows.split("\n") if rows else []
    return [tsv_line([c if isinstance(c, str) or c is None else str(c) for c in r]) for r in rows]


async def test_paging_reaches_each_of_100k_rows_across_chunk_boundaries(
    workspace: Any, tmp_path: Path
) -> None:
    project = build_sql_project(
        workspace, tmp_path, caps={"max_rows": 7000, "max_bytes": 4 << 20, "deadline_s": 60}
    )
    own = workspace_client(workspace).statement_execution
    truth = own.execute_statement(
        statement=PAGED_SQL,
        warehouse_id=running_warehouse(workspace),
        wait_timeout="30s",
        disposition=Disposition.INLINE,
        format=Format.JSON_ARRAY,
    )
    for _ in range(600):  # a busy machine may need longer than one wait
        if truth.status.state not in (StatementState.PENDING, StatementState.RUNNING):
            break
        await asyncio.sleep(0.2)
        truth = own.get_statement(truth.statement_id)
    assert truth.status.state == StatementState.SUCCEEDED
    expected, chunk = [], truth.result
    while chunk is not None:
        expected += [tsv_line(r) for r in chunk.data_array or []]
        if chunk.next_chunk_index is None:
            break
        chunk = own.get_statement_result_chunk_n(truth.statement_id, chunk.next_chunk_index)
    chunks = truth.manifest.chunks or []
    assert len(expected) == truth.manifest.total_row_count >= 100_000
    assert any((c.row_offset or 0) % 7000 for c in chunks)  # pages straddle chunk boundaries

    seen: list[str] = []
    calls = 0
    async with stdio_session(project.path) as client:
        answer = (await client.call_tool("execute_sql", {"statement": PAGED_SQL})).model_dump()
        while "statement_id" in answer["structured_content"]:  # a handle: still running
            handle = {"statement_id": answer["structured_content"]["statement_id"]}
            answer = (await client.call_tool("get_statement", handle)).model_dump()
        while True:
            calls += 1
            data = answer["structured_content"]
            assert not answer["is_error"], data
            assert data.get("row_offset", 0) == len(seen)
            assert data["total_row_count"] == len(expected)
            seen += lines_of(data)
            if "next" not in data:
                break
            answer = (await client.call_tool("fetch_rows", data["next"])).model_dump()
    assert calls == -(-len(expected) // 7000)
    assert seen == expected  # every row, in order, as the warehouse itself answers it


@pytest.mark.parametrize("transport", ["stdio", "http"])
async def test_errors_say_what_to_fix_in_the_models_terms(
    sql_project: Project, transport: str
) -> None:
    async with session(sql_project, transport) as client:
        handle = await client.call_tool("execute_sql", {"statement": SLOW_SQL, "deadline_s": 1})
        sid = handle.structured_content["statement_id"]
        # It waited for its deadline (not 0.03 s, as it did when the cancel margin ate the
        # whole second); then get_statement tells the statement's age and its own wait apart.
        assert handle.structured_content["elapsed_s"] >= 0.5, handle.structured_content
        again = await client.call_tool("get_statement", {"statement_id": sid, "deadline_s": 1})
        polled = again.structured_content
        assert polled["state"] in ("PENDING", "RUNNING") and polled["waited_s"] <= 2
        assert polled["elapsed_s"] >= handle.structured_content["elapsed_s"] + polled["waited_s"]
        sql = {
            "syntax": "SELECT pickup_zip\nFROM samples.nyctaxi.trips\nWHERE\nORDER BY 1",
            "write": "DROP TABLE main.x.y",
            "missing_table": "SELECT * FROM samples.nyctaxi.nope",
            "missing_column": "SELECT nope FROM samples.nyctaxi.trips",
            "file": "SELECT * FROM read_text('/etc/hostname')",
            "typo": "SELEC pickup_zip FROM samples.nyctaxi.trips",
            "function": "SELECT no_such_fn(1) AS x",
        }
        calls: dict[str, tuple[str, dict[str, Any]]] = {
            **{key: ("execute_sql", {"statement": text}) for key, text in sql.items()},
            "describe": ("describe_table", {"full_name": "samples.nyctaxi.nope"}),
            "running": ("fetch_rows", {"statement_id": sid}),
            "range": ("execute_sql", {"statement": "SELECT 1", "max_rows": 5000}),
            "unknown_statement": (
                "get_statement",
                {"statement_id": "01f00000-0000-0000-0000-000000000000"},
            ),
        }
        results = {key: await client.call_tool(*call) for key, call in calls.items()}
        await client.call_tool("cancel_statement", {"statement_id": sid})
    assert all(r.is_error for r in results.values()), [k for k, r in results.items()]
    errors = {k: r.structured_content["error"] for k, r in results.items()}
    assert errors["syntax"]["code"] == "sql.parse_error"
    assert errors["syntax"]["line"] == 4 and errors["syntax"]["token"] == "ORDER BY"
    assert "line 4, column 8" in errors["syntax"]["message"]
    assert errors["write"]["code"] == "policy.read_only"
    assert "only read" in errors["write"]["hint"] and "SELECT" in errors["write"]["hint"]
    for key in ("missing_table", "missing_column"):
        assert errors[key]["code"] == "sql.not_found", errors[key]
        assert "describe_table" in errors[key]["hint"]
    assert "list_tables" in errors["missing_table"]["hint"]
    assert "TABLE_OR_VIEW_NOT_FOUND" in errors["missing_table"]["message"]
    assert "list_tables" in errors["describe"]["hint"]
    assert errors["running"]["code"] == "remote.statement_running"
    assert f"get_statement with statement_id {sid}" in errors["running"]["hint"]
    assert "from 1 to 200" in errors["range"]["message"]
    assert errors["file"]["code"] == "policy.read_only" and "Files" in errors["file"]["hint"]
    assert (
        "function" in errors["function"]["hint"]
        and "list_tables" not in (errors["function"]["hint"])
    )
    assert errors["unknown_statement"]["code"] == "policy.not_yours"
    assert "execute_sql" in errors["unknown_statement"]["hint"]
    assert "list_catalogs" not in errors["unknown_statement"]["hint"]
    assert all("status: 200" not in text_of(r) for r in results.values())
    # A typo is a syntax error with the word meant, not a policy refusal.
    assert errors["typo"]["code"] == "sql.parse_error", errors["typo"]
    assert errors["typo"]["hint"].startswith("Did you mean SELECT?")
    for key, error in errors.items():
        assert not PERSON_WORDS.search(error["hint"]), (key, error["hint"])
        assert not PERSON_WORDS.search(text_of(results[key]).split("hint: ")[-1]), key


@pytest.mark.parametrize("transport", ["stdio", "http"])
async def test_descriptions_and_instructions_tell_the_effective_policy(
    workspace: Any, tmp_path: Path, transport: str
) -> None:
    """Over HTTP too the first session's instructions name the warehouse (looked up at start)."""
    project = build_sql_project(
        workspace, tmp_path, caps={"max_rows": 50, "max_bytes": 16384, "deadline_s": 20}
    )
    warehouse = running_warehouse(workspace)
    name = workspace_client(workspace).warehouses.get(warehouse).name
    async with session(project, transport) as client:
        hello = await client.initialize()
        tools = {t.name: t for t in (await client.list_tools()).tools}
    assert f"{name} ({warehouse})" in (hello.instructions or "")
    assert "fetch_rows" in (hello.instructions or "") and "next" in (hello.instructions or "")
    sql = tools["execute_sql"].description or ""
    assert f"{name} ({warehouse})" in sql and "At most 50 rows, 16384 bytes" in sql
    assert "default 20 s, at most 20 s" in sql and "not canceled" in sql
    assert "DECIMAL as exact strings" in sql and "TSV" in sql  # the shapes a model will get
    assert "200" not in sql.replace(warehouse, "")  # the id is random hex: it may hold "200"
    props = tools["execute_sql"].input_schema["properties"]
    assert props["max_rows"]["maximum"] == 50 and props["max_bytes"]["maximum"] == 16384
    for tool in tools.values():  # row caps only where rows come back
        caps = {"max_rows", "max_bytes"} & set(tool.input_schema.get("properties", {}))
        rows = tool.name in ("execute_sql", "get_statement", "fetch_rows", "list_catalogs",
                             "list_schemas", "list_tables", "list_jobs")  # fmt: skip
        assert bool(caps) == rows, tool.name
        assert "deadline_s" not in tool.input_schema["properties"] or tool.name in (
            "execute_sql",
            "get_statement",
            "wait_for_run",
        )
    assert tools["fetch_rows"].output_schema is not None


@pytest.mark.parametrize("transport", ["stdio", "http"])
async def test_a_pinned_scope_filters_browsing_and_show(
    workspace: Any, tmp_path: Path, transport: str
) -> None:
    project = build_sql_project(workspace, tmp_path, pinned={"catalogs": ["samples"]})
    async with session(project, transport) as client:
        catalogs = await client.call_tool("list_catalogs", {})
        show = await client.call_tool("execute_sql", {"statement": "SHOW CATALOGS"})
        schemas = await client.call_tool("execute_sql", {"statement": "SHOW SCHEMAS IN samples"})
        other = await client.call_tool("execute_sql", {"statement": "SHOW SCHEMAS IN main"})
        files = await client.call_tool(
            "execute_sql", {"statement": "SELECT * FROM read_text('/etc/hostname')"}
        )
        hidden = await client.call_tool(
            "execute_sql",
            {"statement": "WITH a AS (SELECT * FROM main.default.x) SELECT * FROM a"},
        )
    assert [c["name"] for c in catalogs.structured_content["result"]] == ["samples"]
    assert not show.is_error, text_of(show)
    assert show.structured_content["rows"] == [["samples"]]
    assert not schemas.is_error and ["nyctaxi"] in schemas.structured_content["rows"]
    for refused in (other, files, hidden):
        assert refused.is_error and refused.structured_content["error"]["code"] == "policy.scope"


def _as_principal(project: Project, creds: dict[str, str], **defaults: Any) -> Project:
    SecretStore(project.state_dir).set(SECRET, creds["client_secret"])
    connector = project.connectors["databricks"]
    auth = connector.auth.model_copy(update={"client_id": creds["client_id"]})
    project.set_connector(
        "databricks", connector.model_copy(update={"auth": auth, "defaults": defaults})
    )
    project.save()
    return project


async def test_list_warehouses_shows_the_warehouse_a_can_use_principal_runs_sql_on(
    workspace: Any, tmp_path: Path
) -> None:
    import uuid

    warehouse = running_warehouse(workspace)
    user = workspace.create_service_principal(
        f"user-{uuid.uuid4().hex[:6]}", warehouse_permission={warehouse: "CAN_USE"}
    )
    as_user = workspace_client(workspace, user["client_id"], user["client_secret"])
    assert list(as_user.warehouses.list()) == []  # what Databricks lists for it
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    usable = _as_principal(build_sql_project(workspace, tmp_path / "a"), user,
                           warehouse_id=warehouse)  # fmt: skip
    nothing = _as_principal(build_sql_project(workspace, tmp_path / "b"), user)
    async with stdio_session(usable.path) as client:
        listed = await client.call_tool("list_warehouses", {})
        ran = await client.call_tool("execute_sql", {"statement": "SELECT 1 AS one"})
    async with stdio_session(nothing.path) as client:
        empty = await client.call_tool("list_warehouses", {})
    assert not ran.is_error
    (only,) = listed.structured_content["result"]
    assert only["id"] == warehouse and only["default"] is True and only["permission"] == "CAN_USE"
    assert empty.structured_content["warehouses"] == []
    assert "CAN_USE" in empty.structured_content["note"]
