"""The copilot server's cost, side by side in one run, against a local workspace in its own process.

(a) 500 `list_warehouses` tool calls over stdio (`lakegate serve`, official MCP client) against
    the same 500 calls through `Gateway.call` directly: the median latency MCP adds (goal <= 2 ms).
(b) 20 concurrent streamable-HTTP sessions x 50 calls against `lakegate serve --http`: errors
    (goal 0), calls/s (baseline: the same concurrency through Gateway.call), and the server's
    RSS growth (goal < 50 MB).

python benchmarks/mcp_server.py [--quick]   (not mcp.py: that name would shadow the mcp SDK)
"""

from __future__ import annotations

import asyncio
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import mcp_types as types
import psutil
from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from _common import served_workspace as served_info
from lakegate.gateway import Gateway
from lakegate.project import Action, Connector, OAuth2Auth, Project
from lakegate.secrets import SecretStore

TOKEN = "bench-token-" + "x" * 24
CLIENT = types.Implementation(name="lakegate-bench", version="1")


@contextmanager
def served_workspace() -> Iterator[SimpleNamespace]:
    """`lakegate workspace serve` in a subprocess, so its CPU is not the client's GIL."""
    with served_info() as info:
        yield SimpleNamespace(host=info["host"], credentials=info)


def make_project(ws: SimpleNamespace) -> Project:
    folder = Path(tempfile.mkdtemp(prefix="lg-mcp-project-"))
    project = Project.new(folder / "lakegate.yaml")
    SecretStore(project.state_dir).set("bench_secret", ws.credentials["client_secret"])
    auth = OAuth2Auth(
        token_url=f"{ws.host}/oidc/v1/token",
        client_id=ws.credentials["client_id"],
        client_secret="${secret:bench_secret}",
        scope="sql all-apis",
    )
    project.set_connector("databricks", Connector(name="databricks", base_url=ws.host, auth=auth))
    project.set_action(
        "list_warehouses",
        Action(
            name="list_warehouses",
            connector="databricks",
            path="/api/2.0/sql/warehouses",
            output="warehouses[].{id: id, name: name, state: state}",
        ),
    )
    project.save()
    return project


async def direct_latencies(project: Project, calls: int) -> list[float]:
    async with Gateway(project) as gw:
        for _ in range(10):
            await gw.call("list_warehouses", {})
        out = []
        for _ in range(calls):
            started = time.perf_counter()
            result = await gw.call("list_warehouses", {})
            out.append((time.perf_counter() - started) * 1000)
            assert result.ok, result.error
        return out


async def stdio_latencies(project: Project, calls: int) -> list[float]:
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "lakegate", "--project", str(project.path), "serve"],
    )
    with open(os.devnull, "w") as errlog:  # noqa: ASYNC230 - opened once, before the loop
        async with (
            stdio_client(params, errlog=errlog) as (read, write),
            ClientSession(read, write, client_info=CLIENT) as client,
        ):
            await client.initialize()
            for _ in range(10):
                await client.call_tool("list_warehouses", {})
            out = []
            for _ in range(calls):
                started = time.perf_counter()
                result = await client.call_tool("list_warehouses", {})
                out.append((time.perf_counter() - started) * 1000)
                assert not result.is_error, result.content
            return out


@contextmanager
def http_server(project: Project) -> Iterator[tuple[str, psutil.Process]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "lakegate", "--project", str(project.path), "serve", "--http",
         "--port", "0"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "LAKEGATE_MCP_TOKEN": TOKEN},
    )  # fmt: skip
    try:
        assert proc.stderr is not None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            found = re.search(r"listening on (http://\S+/mcp)", proc.stderr.readline())
            if found:
                yield found.group(1), psutil.Process(proc.pid)
                return
            if proc.poll() is not None:
                break
        raise RuntimeError("lakegate serve --http did not start")
    finally:
        proc.terminate()
        proc.wait(10)


async def http_session(url: str, calls: int) -> tuple[int, int]:
    """One session making `calls` calls: (ok, errors)."""
    ok = errors = 0
    http = create_mcp_http_client(headers={"Authorization": f"Bearer {TOKEN}"})
    try:
        async with (
            http,
            streamable_http_client(url, http_client=http) as (read, write),
            ClientSession(read, write, client_info=CLIENT) as client,
        ):
            await client.initialize()
            for _ in range(calls):
                try:
                    result = await client.call_tool("list_warehouses", {})
                    errors += result.is_error
                    ok += not result.is_error
                except Exception:
                    errors += 1
    except Exception:
        errors += calls - ok - errors
    return ok, errors


async def http_load(url: str, sessions: int, calls: int) -> tuple[int, int, float]:
    started = time.perf_counter()
    done = await asyncio.gather(*(http_session(url, calls) for _ in range(sessions)))
    elapsed = time.perf_counter() - started
    return sum(d[0] for d in done), sum(d[1] for d in done), elapsed


async def direct_load(project: Project, sessions: int, calls: int) -> float:
    async with Gateway(project) as gw:
        await gw.call("list_warehouses", {})

        async def worker() -> None:
            for _ in range(calls):
                await gw.call("list_warehouses", {})

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(sessions)))
        return sessions * calls / (time.perf_counter() - started)


def run(quick: bool) -> list[dict[str, Any]]:
    calls = 50 if quick else 500
    sessions, per_session = (5, 10) if quick else (20, 50)
    rows: list[dict[str, Any]] = []
    with served_workspace() as ws:
        project = make_project(ws)
        direct = asyncio.run(direct_latencies(project, calls))
        stdio = asyncio.run(stdio_latencies(project, calls))
        d_med, s_med = statistics.median(direct), statistics.median(stdio)
        rows.append(
            {
                "benchmark": "mcp",
                "figure": f"stdio tool call, median of {calls} (list_warehouses)",
                "value": s_med,
                "unit": "ms",
                "baseline": "Gateway.call direct, median",
                "baseline_value": d_med,
                "ratio": s_med / d_med,
                "goal": "",
            }
        )
        rows.append(
            {
                "benchmark": "mcp",
                "figure": "median latency added by MCP over stdio",
                "value": s_med - d_med,
                "unit": "ms",
                "baseline": "Gateway.call direct, median",
                "baseline_value": d_med,
                "ratio": s_med / d_med,
                "goal": "<= 2 ms",
            }
        )
        baseline_rate = asyncio.run(direct_load(project, sessions, per_session))
        with http_server(project) as (url, server):
            asyncio.run(http_load(url, 2, 5))  # warm: imports, first token, first sessions
            rss_before = server.memory_info().rss
            cpu_before = sum(server.cpu_times()[:2])
            ok, errors, elapsed = asyncio.run(http_load(url, sessions, per_session))
            rss_after = server.memory_info().rss
            cpu_ms = (sum(server.cpu_times()[:2]) - cpu_before) * 1000 / max(1, ok + errors)
        rate = ok / elapsed
        rows.append(
            {
                "benchmark": "mcp",
                "figure": f"HTTP {sessions} sessions x {per_session} calls: calls/s",
                "value": rate,
                "unit": "calls/s",
                "baseline": f"Gateway.call direct, {sessions} concurrent",
                "baseline_value": baseline_rate,
                "ratio": rate / baseline_rate,
                "goal": "",
            }
        )
        rows.append(
            {
                "benchmark": "mcp",
                "figure": "HTTP server CPU per tool call (the rest is the client's)",
                "value": cpu_ms,
                "unit": "ms",
                "baseline": "wall time per call / sessions (ms)",
                "baseline_value": elapsed * 1000 / max(1, ok + errors),
                "ratio": cpu_ms / (elapsed * 1000 / max(1, ok + errors)),
                "goal": "",
            }
        )
        rows.append(
            {
                "benchmark": "mcp",
                "figure": f"HTTP {sessions} sessions x {per_session} calls: errors",
                "value": errors,
                "unit": "calls",
                "baseline": "calls made",
                "baseline_value": ok + errors,
                "ratio": errors / max(1, ok + errors),
                "goal": "0",
            }
        )
        growth = (rss_after - rss_before) / 2**20
        rows.append(
            {
                "benchmark": "mcp",
                "figure": "HTTP server RSS growth under that load",
                "value": growth,
                "unit": "MB",
                "baseline": "RSS after warm-up (MB)",
                "baseline_value": rss_before / 2**20,
                "ratio": rss_after / rss_before,
                "goal": "< 50 MB",
            }
        )
    return rows


if __name__ == "__main__":
    quick = "--quick" in sys.argv
    for row in run(quick):
        print(
            f"{row['figure']:<55} {row['value']:>10.3f} {row['unit']:<8} "
            f"baseline {row['baseline']}: {row['baseline_value']:.3f}  ratio {row['ratio']:.2f}  "
            f"goal {row['goal']}"
        )
