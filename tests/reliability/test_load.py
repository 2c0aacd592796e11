"""Load: 50 concurrent MCP streamable-HTTP sessions x 40 calls, no errors, bounded memory."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import mcp_types as types
import psutil

from _support import mcp_http_session
from lakegate.workspace import LocalWorkspace

from .conftest import MCP_TOKEN, http_server, pack_project

SESSIONS, CALLS = 50, 40
CLIENT = types.Implementation(name="reliability-load", version="1.0")


async def session(url: str, latencies: list[float]) -> int:
    """One client session making CALLS tool calls; the number of errors."""
    errors = 0
    async with mcp_http_session(url, MCP_TOKEN, CLIENT) as client:
        for _ in range(CALLS):
            started = time.perf_counter()
            result = await client.call_tool("list_warehouses", {})
            latencies.append(time.perf_counter() - started)
            errors += bool(result.is_error)
    return errors


async def test_50_sessions_x_40_calls(
    workspace_factory: Callable[..., LocalWorkspace], tmp_path: Path
) -> None:
    ws = workspace_factory()
    project = await pack_project(tmp_path / "p", ws)
    with http_server(project.path, tmp_path / "serve.err") as (url, pid):
        server = psutil.Process(pid)
        await session(url, [])  # warm up: imports, token, connection pool
        rss_before = server.memory_info().rss
        latencies: list[float] = []
        started = time.perf_counter()
        errors = await asyncio.gather(*(session(url, latencies) for _ in range(SESSIONS)))
        elapsed = time.perf_counter() - started
        rss_after = server.memory_info().rss
    latencies.sort()
    p50 = latencies[len(latencies) // 2] * 1000
    p95 = latencies[int(len(latencies) * 0.95)] * 1000
    growth = (rss_after - rss_before) / 2**20
    print(
        f"\nload: {SESSIONS} sessions x {CALLS} calls = {len(latencies)} calls in {elapsed:.1f} s "
        f"({len(latencies) / elapsed:.0f}/s); errors {sum(errors)}; p50 {p50:.0f} ms, "
        f"p95 {p95:.0f} ms; server RSS {rss_before / 2**20:.0f} -> {rss_after / 2**20:.0f} MiB "
        f"(+{growth:.1f} MiB)"
    )
    assert len(latencies) == SESSIONS * CALLS
    assert sum(errors) == 0
    assert growth < 50
