"""`lakegate serve` over stdio, driven by the official MCP client against the local workspace."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import mcp_types as types

from lakegate.project import Project

from ._clients import stdio_session, text_of


async def test_default_policy_lists_read_tools_with_schemas_and_annotations(
    project_factory: Callable[..., Project],
) -> None:
    project = project_factory()
    async with stdio_session(project.path) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    assert set(tools) == {"list_warehouses"}  # start_ (write), delete_ (destructive) hidden
    tool = tools["list_warehouses"]
    assert tool.annotations is not None
    assert tool.annotations.read_only_hint is True
    # Meaningless for a read-only tool (MCP spec): left out rather than sent as noise.
    assert tool.annotations.destructive_hint is None and tool.annotations.idempotent_hint is None
    assert tool.input_schema["type"] == "object"
    assert tool.input_schema["properties"]["max_rows"]["maximum"] == 200
    assert "At most 200 items" in (tool.description or "")


async def test_list_warehouses_answers_and_the_call_is_audited(
    project_factory: Callable[..., Project], workspace: Any
) -> None:
    project = project_factory()
    async with stdio_session(project.path) as client:
        result = await client.call_tool("list_warehouses", {})
        hidden = await client.call_tool("start_warehouse", {"warehouse_id": "x"})
        bad = await client.call_tool("list_warehouses", {"max_rows": "many"})
    assert not result.is_error
    rows = result.structured_content["result"]
    assert {"id", "name", "state"} <= set(rows[0])
    assert json.loads(text_of(result)) == rows

    assert hidden.is_error and "policy.not_exposed" in text_of(hidden)
    assert bad.is_error and "max_rows" in text_of(bad) and "integer" in text_of(bad)

    audit = (project.state_dir / "audit.jsonl").read_text()
    records = [json.loads(line) for line in audit.splitlines()]
    assert [r["outcome"] for r in records] == ["ok", "refused", "invalid"]
    first = records[0]
    assert first["client"] == {"name": "pytest-copilot", "version": "1.2.3"}
    assert first["tool"] == "list_warehouses" and first["status"] == 200
    assert first["row_count"] == len(rows) and first["elapsed_ms"] > 0
    assert workspace.credentials["client_secret"] not in audit


async def test_operator_profile_exposes_and_runs_write_tools(
    project_factory: Callable[..., Project], workspace: Any
) -> None:
    project = project_factory(profile="operator")
    async with stdio_session(project.path) as client:
        names = {t.name for t in (await client.list_tools()).tools}
        warehouses = (await client.call_tool("list_warehouses", {})).structured_content["result"]
        stopped = next(w for w in warehouses if w["state"] == "STOPPED")
        started = await client.call_tool("start_warehouse", {"warehouse_id": stopped["id"]})
    assert names == {"list_warehouses", "start_warehouse"}
    assert not started.is_error, text_of(started)


async def test_destructive_tool_needs_confirm_and_the_users_approval(
    project_factory: Callable[..., Project],
) -> None:
    project = project_factory(profile="admin")
    asked: list[str] = []
    approve = False

    async def elicit(context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        asked.append(params.message)
        return types.ElicitResult(action="accept", content={"approve": approve})

    async with stdio_session(project.path, elicitation_callback=elicit) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        no_confirm = await client.call_tool("delete_warehouse", {"warehouse_id": "nope"})
        declined = await client.call_tool(
            "delete_warehouse", {"warehouse_id": "nope", "confirm": True}
        )
        approve = True
        approved = await client.call_tool(
            "delete_warehouse", {"warehouse_id": "nope", "confirm": True}
        )
    annotations = tools["delete_warehouse"].annotations
    assert annotations is not None and annotations.destructive_hint is True
    assert "confirm" in tools["delete_warehouse"].input_schema["properties"]
    assert no_confirm.is_error and "policy.confirm_required" in text_of(no_confirm)
    assert declined.is_error and "policy.declined" in text_of(declined)
    assert len(asked) == 2 and "delete_warehouse" in asked[0]
    # Approved, the call reaches the workspace, which knows no warehouse "nope".
    assert approved.is_error and "404" in text_of(approved)
