"""The copilot server's cost, side by side in one run, against a local workspace in its own process.

(a) 500 `list_warehouses` tool calls over stdio (`lakegate serve`, official MCP client) against
    the same 500 calls through `Gateway.call` directly: the median latency MCP adds (goal <= 2 ms).
(b) 50 concurrent streamable-HTTP sessions x 20 calls against `lakegate serve --http`: errors
    (goal 0), calls/s (goal >= 0.5x the same concurrency through Gateway.call), the server's CPU
    per tool call (goal <= 1.5 ms; beside the same server as it was before it was tuned: uvicorn
    on h11, the interpreter's default garbage collection) and its RSS growth (goal < 50 MB).
(c) the same load through a small round-robin proxy to one `serve --http --stateless` replica,
    then to three: the replicas' CPU per call (summed over the three) against one's (goal within
    10%: no coordination cost; this machine has 2 cores, so CPU per call, not throughput).
(d) the same load against `serve --http` as an OAuth protected resource whose connector acts as
    each caller (`grant_type: token_exchange`), five test-IdP users spread over the sessions:
    its server CPU per call against the bearer server's (goal <= 1.15x: JWT verification with
    cached keys and the per-user token cache cost little; each user's first exchange and
    current_user.me() check happen in the warm-up, as they would once per user per hour).
Rounds alternate (direct, one server, the untuned server, one replica, three replicas, OAuth)
so noise hurts all alike.

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
# `lakegate` as serve --http was before it was tuned: the baseline of its CPU per call.
UNTUNED = """
import uvicorn, lakegate.copilot.http as copilot_http
copilot_http.freeze_startup_heap = lambda: None
tuned = uvicorn.Config
uvicorn.Config = lambda app, **kw: tuned(app, **{**kw, "http": "h11"})
from lakegate.cli import main
main()
"""
CLIENT = types.Implementation(name="lakegate-bench", version="1")


USERS = [f"user{i}@example.com" for i in range(5)]


@contextmanager
def served_workspace() -> Iterator[SimpleNamespace]:
    """`lakegate workspace serve` in a subprocess, so its CPU is not the client's GIL; with its
    test IdP and five users for the OAuth server."""
    users = tuple(arg for user in USERS for arg in ("--user", user))
    with served_info(extra_args=("--idp", *users)) as info:
        yield SimpleNamespace(host=info["host"], credentials=info)


def make_oauth_project(ws: SimpleNamespace) -> Project:
    """The same action, on a connector that acts as each caller, behind OAuth."""
    from lakegate.project import CopilotPolicy

    folder = Path(tempfile.mkdtemp(prefix="lg-mcp-oauth-"))
    project = Project.new(folder / "lakegate.yaml")
    auth = OAuth2Auth(
        grant_type="token_exchange", token_url=f"{ws.host}/oidc/v1/token", scope="all-apis"
    )
    project.set_connector("databricks", Connector(name="databricks", base_url=ws.host, auth=auth))
    project.set_action("list_warehouses", make_project(ws).actions["list_warehouses"])
    issuer = f"{ws.credentials['account_host']}/idp"
    oauth = {"type": "oauth", "issuer": issuer, "jwks_uri": f"{issuer}/jwks.json"}
    project.set_copilot(CopilotPolicy.model_validate({"auth": oauth}))
    project.save()
    return project


def idp_tokens(ws: SimpleNamespace, url: str) -> list[str]:
    """One token per user, for the MCP server at `url` and the account's federation policy."""
    import httpx

    issuer = f"{ws.credentials['account_host']}/idp/token"
    audience = [url, ws.credentials["account_id"]]
    return [
        httpx.post(issuer, data={"grant_type": "password", "username": user,
                                 "audience": audience}).json()["access_token"]
        for user in USERS
    ]  # fmt: skip


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
def http_server(
    project: Project, *extra: str, untuned: bool = False
) -> Iterator[tuple[str, psutil.Process]]:
    start = ["-c", UNTUNED] if untuned else ["-m", "lakegate"]
    proc = subprocess.Popen(
        [sys.executable, *start, "--project", str(project.path), "serve", "--http",
         "--port", "0", *extra],
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


async def http_session(url: str, calls: int, token: str = TOKEN) -> tuple[int, int]:
    """One session making `calls` calls: (ok, errors)."""
    ok = errors = 0
    http = create_mcp_http_client(headers={"Authorization": f"Bearer {token}"})
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


async def http_load(
    url: str, sessions: int, calls: int, tokens: list[str] | None = None
) -> tuple[int, int, float]:
    tokens = tokens or [TOKEN]
    started = time.perf_counter()
    done = await asyncio.gather(
        *(http_session(url, calls, tokens[i % len(tokens)]) for i in range(sessions))
    )
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


HOP = {"host", "content-length", "transfer-encoding", "connection"}


@contextmanager
def round_robin(backends: list[str]) -> Iterator[str]:
    """A small aiohttp reverse proxy in a thread: each request to the next backend in turn."""
    import itertools
    import threading

    from aiohttp import ClientSession, web

    ready = threading.Event()
    box: dict[str, Any] = {}

    async def main() -> None:
        turn = itertools.count()
        async with ClientSession() as session:

            async def forward(request: web.Request) -> web.StreamResponse:
                backend = backends[next(turn) % len(backends)]
                headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP}
                async with session.request(
                    request.method, backend + request.path_qs, headers=headers,
                    data=await request.read(), allow_redirects=False,
                ) as up:  # fmt: skip
                    out = {k: v for k, v in up.headers.items() if k.lower() not in HOP}
                    response = web.StreamResponse(status=up.status, headers=out)
                    await response.prepare(request)
                    try:
                        async for chunk in up.content.iter_any():
                            await response.write(chunk)
                        await response.write_eof()
                    except ConnectionResetError:
                        pass  # the client left (a closed session): nothing to forward
                    return response

            app = web.Application()
            app.router.add_route("*", "/{tail:.*}", forward)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            box["url"] = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/mcp"
            box["stop"] = asyncio.Event()
            ready.set()
            await box["stop"].wait()
            await runner.cleanup()

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    ready.wait(30)
    try:
        yield box["url"]
    finally:
        loop.call_soon_threadsafe(box["stop"].set)
        thread.join(10)


def server_cpu(servers: list[psutil.Process]) -> float:
    return sum(sum(p.cpu_times()[:2]) for p in servers)


def measured_load(
    url: str,
    servers: list[psutil.Process],
    sessions: int,
    per_session: int,
    tokens: list[str] | None = None,
) -> dict[str, float]:
    """Run the load once; calls/s, errors and the servers' CPU ms per call."""
    # warm: imports, first token (each user's first exchange), first sessions
    asyncio.run(http_load(url, max(2, len(tokens or [])), 5, tokens))
    rss_before = sum(p.memory_info().rss for p in servers)
    cpu_before = server_cpu(servers)
    ok, errors, elapsed = asyncio.run(http_load(url, sessions, per_session, tokens))
    calls = max(1, ok + errors)
    return {
        "rate": ok / elapsed, "errors": errors, "calls": calls,
        "cpu_ms": (server_cpu(servers) - cpu_before) * 1000 / calls,
        "rss_growth_mb": (sum(p.memory_info().rss for p in servers) - rss_before) / 2**20,
    }  # fmt: skip


def run(quick: bool) -> list[dict[str, Any]]:
    from _common import row, spread

    calls = 50 if quick else 500
    sessions, per_session = (10, 5) if quick else (50, 20)
    rounds = 1 if quick else 2
    with served_workspace() as ws:
        project = make_project(ws)
        oauth_project = make_oauth_project(ws)
        direct = asyncio.run(direct_latencies(project, calls))
        stdio = asyncio.run(stdio_latencies(project, calls))
        d_med, s_med = statistics.median(direct), statistics.median(stdio)
        base_rates, one, before, single, triple, oauth = [], [], [], [], [], []
        with (
            http_server(project) as (url, server),
            http_server(oauth_project) as (url_oauth, server_oauth),
            http_server(project, untuned=True) as (url_before, server_before),
            http_server(project, "--stateless") as (a, pa),
            http_server(project, "--stateless") as (b, pb),
            http_server(project, "--stateless") as (c, pc),
            round_robin([a.removesuffix("/mcp")]) as via_one,
            round_robin([u.removesuffix("/mcp") for u in (a, b, c)]) as via_three,
        ):
            for _ in range(rounds):  # alternated: a noisy neighbour hurts every side alike
                base_rates.append(asyncio.run(direct_load(project, sessions, per_session)))
                one.append(measured_load(url, [server], sessions, per_session))
                before.append(measured_load(url_before, [server_before], sessions, per_session))
                single.append(measured_load(via_one, [pa], sessions, per_session))
                triple.append(measured_load(via_three, [pa, pb, pc], sessions, per_session))
                tokens = idp_tokens(ws, url_oauth)
                oauth.append(
                    measured_load(url_oauth, [server_oauth], sessions, per_session, tokens)
                )
    med = statistics.median
    rate, base = med(r["rate"] for r in one), med(base_rates)
    cpu_one, cpu_before = med(r["cpu_ms"] for r in one), med(r["cpu_ms"] for r in before)
    everything = one + before + single + triple + oauth
    cpu_oauth = med(r["cpu_ms"] for r in oauth)
    errors = sum(r["errors"] for r in everything)
    cpu_single, cpu_triple = med(r["cpu_ms"] for r in single), med(r["cpu_ms"] for r in triple)
    load = f"{sessions} sessions x {per_session} calls"
    return [
        row("mcp", f"stdio tool call, median of {calls}: latency added", s_med - d_med, "ms",
            "Gateway.call direct, median ms", d_med, goal="<= 2 ms", value_at_most=2.0,
            ratio=s_med / d_med),
        row("mcp", f"HTTP {load}: calls/s", rate, "calls/s",
            f"Gateway.call direct, {sessions} concurrent", base, goal=">= 0.5x", at_least=0.5,
            spread=spread([r["rate"] for r in one])),
        row("mcp", "HTTP server CPU per tool call", cpu_one, "ms",
            "untuned: h11, default GC (spread " + spread([r["cpu_ms"] for r in before]) + ")",
            cpu_before, goal="<= 1.5 ms", value_at_most=1.5,
            spread=spread([r["cpu_ms"] for r in one])),
        row("mcp", f"HTTP {load}, 1 + 1 + 1 + 3 replicas + OAuth: errors", errors, "calls",
            "calls made", sum(r["calls"] for r in everything), goal="0",
            met=errors == 0, ratio=False),
        row("mcp", "3 stateless replicas behind round robin: server CPU per call", cpu_triple,
            "ms", "1 stateless replica, same proxy", cpu_single, goal="<= 1.1x", at_most=1.1),
        row("mcp", f"OAuth + token exchange, {len(USERS)} users: server CPU per call", cpu_oauth,
            "ms", "bearer token, same load (spread " + spread([r["cpu_ms"] for r in one]) + ")",
            cpu_one, goal="<= 1.15x", at_most=1.15, spread=spread([r["cpu_ms"] for r in oauth])),
        row("mcp", "HTTP server RSS growth under that load", med(r["rss_growth_mb"] for r in one),
            "MB", goal="< 50 MB", value_at_most=50),
    ]  # fmt: skip


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="50 stdio calls, 10 sessions x 5 calls, 1 round"
    )
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from run import table

    print(table(run(quick=args.quick), markdown=args.markdown))
