"""SQL through the copilot: answers, handles for slow statements, cancel, progress, disconnects."""

from __future__ import annotations

import asyncio
import json
import re
import time

import anyio
import pytest

from lakegate.gateway import Gateway
from lakegate.project import Project

from ._clients import http_server, http_session, stdio_session, text_of
from .conftest import SLOW_SQL


async def statement_state(project: Project, statement_id: str, want: str, within: float) -> str:
    """Poll the workspace for the statement's state until it is `want` or time runs out."""
    deadline = time.monotonic() + within
    async with Gateway(project) as gw:
        while True:
            result = await gw.call("statement_status", {"statement_id": statement_id})
            assert result.ok, result.error
            if result.data == want or time.monotonic() > deadline:
                return str(result.data)
            await asyncio.sleep(0.1)


async def test_sql_tools_are_listed_and_execute_sql_answers(sql_project: Project) -> None:
    async with stdio_session(sql_project.path) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        result = await client.call_tool("execute_sql", {"statement": "SELECT 1 AS one"})
    assert {"execute_sql", "get_statement", "fetch_rows", "cancel_statement"} <= set(tools)
    assert "stop_warehouse" not in tools and "run_job" not in tools  # destructive / write
    sql = tools["execute_sql"]
    assert sql.annotations is not None and sql.annotations.read_only_hint is True
    assert sql.input_schema["properties"]["max_rows"]["maximum"] == 200
    assert "statement_id" in (sql.description or "")
    assert sql.output_schema is not None and tools["fetch_rows"].output_schema is not None
    assert not result.is_error, text_of(result)  # the client checked it against outputSchema
    assert result.structured_content == {
        "columns": [{"name": "one", "type": "INT"}],
        "rows": [[1]],
        "row_count": 1,
        "total_row_count": 1,
        "truncated": False,
        "truncated_reason": None,
    }
    assert json.loads(text_of(result)) == result.structured_content
    audit = [json.loads(line) for line in (sql_project.state_dir / "audit.jsonl").open()]
    ran = next(r for r in audit if r["tool"] == "execute_sql")
    assert ran["statement_id"] and ran["row_count"] == 1  # the audit keeps what the model skips


async def test_a_slow_statement_answers_with_a_handle_then_cancel_ends_it(
    sql_project: Project,
) -> None:
    progress: list[str] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append(message or "")

    async with stdio_session(sql_project.path) as client:
        started = time.monotonic()
        handle = await client.call_tool(
            "execute_sql", {"statement": SLOW_SQL, "deadline_s": 2}, progress_callback=on_progress
        )
        waited = time.monotonic() - started
        assert not handle.is_error, text_of(handle)
        sid = handle.structured_content["statement_id"]
        assert handle.structured_content["state"] in ("PENDING", "RUNNING")
        assert "get_statement" in handle.structured_content["next_call"]
        polls: list[str] = []

        async def on_poll(done: float, total: float | None, message: str | None) -> None:
            polls.append(message or "")

        still = await client.call_tool(
            "get_statement", {"statement_id": sid, "deadline_s": 2}, progress_callback=on_poll
        )
        assert still.structured_content["state"] == "RUNNING"
        assert still.structured_content["elapsed_s"] >= 1  # it waited, not answered at once
        assert len(polls) >= 2  # and polled while it waited
        cancel = await client.call_tool("cancel_statement", {"statement_id": sid})
        assert not cancel.is_error, text_of(cancel)
        after = await client.call_tool("get_statement", {"statement_id": sid})
        other = await client.call_tool("cancel_statement", {"statement_id": "not-ours"})
    # It waited for its deadline, and answered while the statement still ran (the state above
    # is PENDING or RUNNING): no upper bound on the clock, which a busy machine may stretch.
    assert waited > 0.5
    assert any(sid in m and "RUNNING" in m for m in progress)
    assert await statement_state(sql_project, sid, "CANCELED", 10) == "CANCELED"
    assert after.is_error and "remote.statement_canceled" in text_of(after)
    assert other.is_error and "policy.not_yours" in text_of(other)
    records = [
        json.loads(line)
        for line in (sql_project.state_dir / "audit.jsonl").read_text().splitlines()
    ]
    first = next(r for r in records if r["tool"] == "execute_sql")
    assert first["statement_id"] == sid and first["outcome"] == "ok"


async def test_a_handle_abandoned_by_its_client_is_canceled(sql_project: Project) -> None:
    async with stdio_session(sql_project.path) as client:
        handle = await client.call_tool("execute_sql", {"statement": SLOW_SQL, "deadline_s": 1})
        sid = handle.structured_content["statement_id"]
    # The client closed the pipe without canceling: the server cancels what it handed out.
    assert await statement_state(sql_project, sid, "CANCELED", 15) == "CANCELED"


async def test_a_call_canceled_by_the_client_cancels_its_statement(sql_project: Project) -> None:
    seen: list[str] = []
    running = anyio.Event()

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        found = re.search(r"statement (\S+) RUNNING", message or "")
        if found:
            seen.append(found.group(1))
            running.set()

    async with stdio_session(sql_project.path) as client:
        async with anyio.create_task_group() as group:

            async def call() -> None:
                await client.call_tool(
                    "execute_sql",
                    {"statement": SLOW_SQL, "deadline_s": 6},
                    progress_callback=on_progress,
                )

            group.start_soon(call)
            with anyio.fail_after(20):
                await running.wait()
            group.cancel_scope.cancel()  # the MCP client sends notifications/cancelled
        assert await statement_state(sql_project, seen[0], "CANCELED", 15) == "CANCELED"
        records = (sql_project.state_dir / "audit.jsonl").read_text()
    assert '"outcome":"cancelled"' in records


@pytest.mark.parametrize("transport", ["http"])
async def test_closing_an_http_session_cancels_its_handles(
    sql_project: Project, transport: str
) -> None:
    token = "sql-token-0123456789abcdef0123456789abcdef"
    with http_server(sql_project.path, token) as url:
        async with http_session(url, token) as client:
            handle = await client.call_tool("execute_sql", {"statement": SLOW_SQL, "deadline_s": 1})
            sid = handle.structured_content["statement_id"]
        # The client ended its session (DELETE); the server is still up.
        assert await statement_state(sql_project, sid, "CANCELED", 15) == "CANCELED"


def stopped_warehouse(workspace: object) -> str:
    """The id of the seed warehouse that starts STOPPED, asked over HTTP as a client would."""
    import httpx

    from _support import client_token

    creds = workspace.credentials  # type: ignore[attr-defined]
    token = client_token(workspace.host, creds["client_id"], creds["client_secret"], "sql")  # type: ignore[attr-defined]
    listing = httpx.get(
        f"{workspace.host}/api/2.0/sql/warehouses",  # type: ignore[attr-defined]
        headers={"Authorization": f"Bearer {token}"},
    ).json()
    return next(w["id"] for w in listing["warehouses"] if w["state"] == "STOPPED")


@pytest.mark.parametrize("allowed", [False, True], ids=["readonly", "allow_warehouse_start"])
async def test_a_readonly_copilot_does_not_start_a_stopped_warehouse(
    workspace_factory: object, tmp_path: object, allowed: bool
) -> None:
    from .conftest import build_sql_project

    ws = workspace_factory()  # type: ignore[operator]
    warehouse = stopped_warehouse(ws)
    project = build_sql_project(ws, tmp_path, allow_warehouse_start=allowed)  # type: ignore[arg-type]
    async with stdio_session(project.path) as client:
        result = await client.call_tool(
            "execute_sql", {"statement": "SELECT 1 AS one", "warehouse_id": warehouse}
        )
        listing = await client.call_tool("list_warehouses", {})
    states = {w["id"]: w["state"] for w in listing.structured_content["result"]}
    if allowed:
        assert not result.is_error, text_of(result)
        assert states[warehouse] != "STOPPED"  # the statement started it, as the policy allows
        return
    assert result.is_error
    assert "policy.warehouse_stopped" in text_of(result)
    assert warehouse in text_of(result) and "list_warehouses" in text_of(result)
    assert states[warehouse] == "STOPPED"  # nothing was sent that could start it
    statements = [
        line
        for line in (ws.state_dir / "requests.jsonl").read_text().splitlines()  # type: ignore[attr-defined]
        if '"POST"' in line and "/api/2.0/sql/statements" in line
    ]
    assert statements == []
