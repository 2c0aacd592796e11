"""The last step of `lakegate demo`: the tools a copilot sees, and one call through MCP."""

from __future__ import annotations

from textwrap import shorten
from typing import Any

from rich.markup import escape
from rich.table import Table


async def copilot_tools(run: Any) -> str:
    """List the copilot's tools and call one over MCP."""
    import mcp_types as types
    from mcp import Client

    from lakegate.copilot.server import CopilotServer

    copilot = CopilotServer(run.gateway)
    client_info = types.Implementation(name="lakegate-demo", version="1")
    async with Client(copilot.server, client_info=client_info) as client:
        tools = (await client.list_tools()).tools
        result = await client.call_tool("list_warehouses", {})
    table = Table("tool", "read-only", "destructive", "description", title="Copilot tools")
    for tool in tools:
        hints = tool.annotations or types.ToolAnnotations()
        table.add_row(
            escape(tool.name),
            "yes" if hints.read_only_hint else "no",
            "yes" if hints.destructive_hint else "no",
            escape(shorten(tool.description or "", 70, placeholder=" …")),  # between words
        )
    run.show(table)
    if result.is_error:
        text = " ".join(c.text for c in result.content if isinstance(c, types.TextContent))
        raise RuntimeError(f"the copilot's list_warehouses call failed: {text}")
    found = (result.structured_content or {}).get("result") or []
    policy = run.project.copilot.profile
    return (
        f"Copilot view (profile {policy}): {len(tools)} tool(s); list_warehouses over MCP "
        f"returned {len(found)} warehouse(s), audited in .lakegate/audit.jsonl"
    )
