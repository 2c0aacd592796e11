"""Gateway overhead, side by side in one run, against a local workspace in its own process.

(a) lakegate Gateway: `list_warehouses` through gw.call (render, validate, token, map)
(b) raw httpx.AsyncClient with a pre-fetched token (the floor)
(c) databricks-sdk WorkspaceClient, OAuth M2M, `warehouses.list()` on 32 threads
and: token requests during 10 s of load with a 2 s token TTL (goal <= 6, 0 failed calls).

python benchmarks/gateway.py [--quick]
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from _common import served_workspace
from lakegate.gateway import Gateway
from lakegate.project import Action, Connector, OAuth2Auth, Project

CONCURRENCY = 32
LIST_PATH = "/api/2.0/sql/warehouses"


def project_for(info: dict[str, Any]) -> Project:
    os.environ["LG_BENCH_SECRET"] = info["client_secret"]
    project = Project.new(Path(tempfile.mkdtemp(prefix="lg-bench-proj-")) / "lakegate.yaml")
    auth = OAuth2Auth(
        token_url=f"{info['host']}/oidc/v1/token",
        client_id=info["client_id"],
        client_secret="${env:LG_BENCH_SECRET}",
        scope="sql all-apis",
    )
    project.set_connector(
        "databricks", Connector(name="databricks", base_url=info["host"], auth=auth)
    )
    project.set_action(
        "list_warehouses",
        Action(name="list_warehouses", connector="databricks", path=LIST_PATH,
               output="warehouses[].{id: id, name: name, state: state}"),
    )  # fmt: skip
    project.save()
    return project


Measured = tuple[float, list[float], int]  # seconds, latencies in ms, failed calls


async def drive(
    calls: int, one: Callable[[], Awaitable[bool]], concurrency: int = CONCURRENCY
) -> Measured:
    """`calls` calls on `concurrency` workers."""
    latencies: list[float] = []
    failures = 0
    remaining = iter(range(calls))

    async def worker() -> None:
        nonlocal failures
        for _ in remaining:
            started = time.perf_counter()
            ok = await one()
            latencies.append((time.perf_counter() - started) * 1000)
            failures += not ok

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started, latencies, failures


async def bench_gateway(project: Project, calls: int, concurrency: int) -> Measured:
    async with Gateway(project) as gw:
        await gw.call("list_warehouses")  # token and connections warm, like (b)

        async def one() -> bool:
            return (await gw.call("list_warehouses")).ok

        await drive(CONCURRENCY * 2, one)
        return await drive(calls, one, concurrency)


async def bench_raw(info: dict[str, Any], calls: int, concurrency: int) -> Measured:
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=64)
    async with httpx.AsyncClient(base_url=info["host"], limits=limits) as client:
        token = (
            await client.post(
                "/oidc/v1/token",
                data={
                    "grant_type": "client_credentials",
                    "scope": "sql all-apis",
                    "client_id": info["client_id"],
                    "client_secret": info["client_secret"],
                },
            )
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}

        async def one() -> bool:
            response = await client.get(LIST_PATH, headers=headers)
            response.json()
            return response.status_code == 200

        await drive(CONCURRENCY * 2, one)
        return await drive(calls, one, concurrency)


def bench_sdk(info: dict[str, Any], calls: int) -> tuple[float, list[float], int]:
    from databricks.sdk import WorkspaceClient

    client = WorkspaceClient(
        host=info["host"], client_id=info["client_id"], client_secret=info["client_secret"],
        auth_type="oauth-m2m",
    )  # fmt: skip
    list(client.warehouses.list())
    latencies: list[float] = []
    failures = 0
    lock = threading.Lock()

    def one(_: int) -> None:
        nonlocal failures
        started = time.perf_counter()
        try:
            list(client.warehouses.list())
            ok = True
        except Exception:
            ok = False
        with lock:
            latencies.append((time.perf_counter() - started) * 1000)
            failures += not ok

    with ThreadPoolExecutor(CONCURRENCY) as pool:
        started = time.perf_counter()
        list(pool.map(one, range(calls)))
        return time.perf_counter() - started, latencies, failures


async def token_churn(
    project: Project, info: dict[str, Any], seconds: float
) -> tuple[int, int, int]:
    """(token requests, calls, failed calls) during `seconds` of load with short-lived tokens."""
    log: Path = info["requests_log"]
    async with Gateway(project) as gw:
        end = time.monotonic() + seconds
        calls = failed = 0

        async def worker() -> None:
            nonlocal calls, failed
            while time.monotonic() < end:
                result = await gw.call("list_warehouses")
                calls += 1
                failed += not result.ok

        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    lines = [json.loads(line) for line in log.read_text().splitlines() if line]  # noqa: ASYNC240
    tokens = sum(1 for e in lines if e["path"] == "/oidc/v1/token")
    return tokens, calls, failed


async def in_memory_overhead(calls: int) -> tuple[float, float]:
    """(gateway, raw httpx) microseconds per call on an in-memory transport: CPU cost only."""
    body = json.dumps({"warehouses": [{"id": "a1", "name": "Starter", "state": "RUNNING"}] * 2})

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "application/json"}, content=body)

    transport = httpx.MockTransport(answer)
    os.environ["LG_BENCH_TOKEN"] = "bench-token-value"
    project = Project.new(Path(tempfile.mkdtemp(prefix="lg-bench-mem-")) / "lakegate.yaml")
    auth = {"type": "bearer", "token": "${env:LG_BENCH_TOKEN}"}
    connector = {"name": "memory", "base_url": "http://mem", "auth": auth}
    project.set_connector("memory", Connector.model_validate(connector))
    project.set_action(
        "list_warehouses",
        Action(name="list_warehouses", connector="memory", path=LIST_PATH,
               output="warehouses[].{id: id, name: name, state: state}"),
    )  # fmt: skip
    async with Gateway(project, transport=transport) as gw:
        await gw.call("list_warehouses")
        started = time.perf_counter()
        for _ in range(calls):
            await gw.call("list_warehouses")
        gateway_us = (time.perf_counter() - started) / calls * 1e6
    async with httpx.AsyncClient(transport=transport) as client:
        headers = {"Authorization": "Bearer bench-token-value"}
        started = time.perf_counter()
        for _ in range(calls):
            (await client.get(f"http://mem{LIST_PATH}", headers=headers)).json()
        raw_us = (time.perf_counter() - started) / calls * 1e6
    return gateway_us, raw_us


def run(quick: bool) -> list[dict]:
    calls = 200 if quick else 2000
    churn_s = 3.0 if quick else 10.0
    with served_workspace() as info:
        project = project_for(info)
        # Alternate (b) and (a) in rounds, so a noisy neighbour hurts both alike.
        raw_s, raw_lat, raw_fail = 0.0, [], 0
        gw_s, gw_lat, gw_fail = 0.0, [], 0
        rounds = 2 if quick else 4
        for _ in range(rounds):
            took, lat, failed = asyncio.run(bench_raw(info, calls // rounds, CONCURRENCY))
            raw_s, raw_lat, raw_fail = raw_s + took, raw_lat + lat, raw_fail + failed
            took, lat, failed = asyncio.run(bench_gateway(project, calls // rounds, CONCURRENCY))
            gw_s, gw_lat, gw_fail = gw_s + took, gw_lat + lat, gw_fail + failed
        # One call at a time: the gateway's own cost per call, without queueing.
        serial = 100 if quick else 400
        raw_one = asyncio.run(bench_raw(info, serial, 1))[1]
        gw_one = asyncio.run(bench_gateway(project, serial, 1))[1]
        sdk_s, _, sdk_fail = bench_sdk(info, calls)
    gw_rate, raw_rate, sdk_rate = calls / gw_s, calls / raw_s, calls / sdk_s
    p50 = statistics.median
    with served_workspace(token_ttl=2) as info:
        churn = asyncio.run(token_churn(project_for(info), info, churn_s))
    tokens, churn_calls, churn_failed = churn
    failures = gw_fail + raw_fail + sdk_fail
    mem_gw, mem_raw = asyncio.run(in_memory_overhead(500 if quick else 3000))
    return [
        _row(f"(a) Gateway, {calls} calls @ {CONCURRENCY}", gw_rate, "calls/s",
             "(b) raw httpx + token", raw_rate, ">= 0.8"),
        _row(f"(a) Gateway vs (c) databricks-sdk, {CONCURRENCY} threads", gw_rate, "calls/s",
             "(c) databricks-sdk", sdk_rate, ">= 2"),
        _row(f"p50 latency added over (b) @ {CONCURRENCY}", p50(gw_lat) - p50(raw_lat), "ms",
             "(b) p50 ms", p50(raw_lat), "<= 1 ms", ratio=p50(gw_lat) / p50(raw_lat)),
        _row("p50 latency added, one call at a time", p50(gw_one) - p50(raw_one), "ms",
             "(b) p50 ms", p50(raw_one), "<= 1 ms", ratio=p50(gw_one) / p50(raw_one)),
        _row("CPU per call, in-memory transport", mem_gw, "us", "raw httpx us/call", mem_raw,
             "added <= 1000 us"),
        _row(f"token requests in {churn_s:g} s, TTL 2 s", tokens, "requests",
             "calls (failed)", f"{churn_calls} ({churn_failed})", "<= 6, 0 failed", ratio=None),
        _row("failed calls in (a), (b), (c)", failures, "calls", "", None, "0", ratio=None),
    ]  # fmt: skip


def _row(
    figure: str, value: Any, unit: str, baseline: str, base: Any, goal: str, **extra: Any
) -> dict[str, Any]:
    ratio = value / base if isinstance(base, int | float) and base else None
    return {
        "benchmark": "gateway", "figure": figure, "value": value, "unit": unit,
        "baseline": baseline, "baseline_value": base, "ratio": extra.get("ratio", ratio),
        "goal": goal,
    }  # fmt: skip


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from run import table

    print(table(run(quick="--quick" in sys.argv), markdown="--markdown" in sys.argv))
