"""The gateway and the HTTP clients it could stand on, side by side in one run.

Against a local workspace in its own process, `GET /api/2.0/sql/warehouses` at concurrency 32,
every candidate in alternated rounds (the order rotates, so a noisy neighbour hurts all alike):

  raw aiohttp ClientSession (the floor) | raw httpx AsyncClient | httpx + httpx-aiohttp |
  requests.Session on 32 threads | lakegate Gateway (aiohttp) | lakegate Gateway on httpx |
  databricks-sdk WorkspaceClient on 32 threads

Client CPU per call comes from getrusage (user + system, every thread of this process; the
workspace runs elsewhere). Then: one call at a time, the gateway's CPU on an in-memory transport
(both sides read through the same transport call), and token requests under short-lived tokens.

python benchmarks/gateway.py [--quick]
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _common import row, served_workspace, spread
from lakegate._transport import Reply
from lakegate.gateway import Gateway
from lakegate.project import Action, Connector, OAuth2Auth, Project

CONCURRENCY = 32
LIST_PATH = "/api/2.0/sql/warehouses"
FLOOR = "raw aiohttp"
GATEWAY = "lakegate Gateway"
SDK = "databricks-sdk, 32 threads"


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


@dataclass
class Sample:
    """One candidate's rounds: calls/s and CPU ms per call per round, every latency."""

    rates: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    failures: int = 0

    def add(self, calls: int, seconds: float, cpu_s: float, lat: list[float], failed: int) -> None:
        self.rates.append(calls / seconds)
        self.cpu_ms.append(cpu_s / calls * 1000)
        self.latencies += lat
        self.failures += failed


def cpu_now() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


Measured = tuple[float, float, list[float], int]  # seconds, CPU seconds, latencies ms, failed


async def drive(calls: int, one: Callable[[], Awaitable[bool]], concurrency: int) -> Measured:
    """`calls` calls on `concurrency` tasks, after a warm-up of 2 x concurrency calls."""
    for _ in range(2):
        await asyncio.gather(*(one() for _ in range(concurrency)))
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

    started, cpu = time.perf_counter(), cpu_now()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started, cpu_now() - cpu, latencies, failures


def drive_threads(calls: int, one: Callable[[], bool], concurrency: int) -> Measured:
    """The same on a thread pool, as the SDK's users run it."""
    latencies: list[float] = []
    failures = 0
    lock = threading.Lock()

    def timed(_: int) -> None:
        nonlocal failures
        started = time.perf_counter()
        try:
            ok = one()
        except Exception:
            ok = False
        with lock:
            latencies.append((time.perf_counter() - started) * 1000)
            failures += not ok

    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(lambda _: one(), range(2 * concurrency)))
        started, cpu = time.perf_counter(), cpu_now()
        list(pool.map(timed, range(calls)))
        return time.perf_counter() - started, cpu_now() - cpu, latencies, failures


def token_for(info: dict[str, Any]) -> str:
    import requests

    form = {"grant_type": "client_credentials", "scope": "sql all-apis",
            "client_id": info["client_id"], "client_secret": info["client_secret"]}  # fmt: skip
    return requests.post(f"{info['host']}/oidc/v1/token", data=form, timeout=30).json()[
        "access_token"
    ]


def raw_aiohttp(info: dict[str, Any], calls: int, concurrency: int) -> Measured:
    import aiohttp

    async def go() -> Measured:
        headers = {"Authorization": f"Bearer {info['token']}"}
        connector = aiohttp.TCPConnector(limit=100)
        async with aiohttp.ClientSession(connector=connector) as session:

            async def one() -> bool:
                async with session.get(info["host"] + LIST_PATH, headers=headers) as response:
                    await response.json()
                    return response.status == 200

            return await drive(calls, one, concurrency)

    return asyncio.run(go())


def raw_httpx(
    info: dict[str, Any], calls: int, concurrency: int, *, on_aiohttp: bool = False
) -> Measured:
    import httpx

    async def go() -> Measured:
        headers = {"Authorization": f"Bearer {info['token']}"}
        limits = httpx.Limits(max_connections=100, max_keepalive_connections=64)
        if on_aiohttp:
            from httpx_aiohttp import HttpxAiohttpClient

            client: Any = HttpxAiohttpClient(limits=limits)
        else:
            client = httpx.AsyncClient(limits=limits)
        async with client:

            async def one() -> bool:
                response = await client.get(info["host"] + LIST_PATH, headers=headers)
                response.json()
                return response.status_code == 200

            return await drive(calls, one, concurrency)

    return asyncio.run(go())


def raw_requests(info: dict[str, Any], calls: int, concurrency: int) -> Measured:
    import requests
    from requests.adapters import HTTPAdapter

    session = requests.Session()
    session.mount("http://", HTTPAdapter(pool_connections=4, pool_maxsize=concurrency))
    headers = {"Authorization": f"Bearer {info['token']}"}

    def one() -> bool:
        response = session.get(info["host"] + LIST_PATH, headers=headers, timeout=30)
        response.json()
        return response.status_code == 200

    with session:
        return drive_threads(calls, one, concurrency)


def gateway(info: dict[str, Any], calls: int, concurrency: int, *, http: str = "") -> Measured:
    async def go() -> Measured:
        os.environ["LAKEGATE_HTTP"] = http
        try:
            async with Gateway(info["project"]) as gw:

                async def one() -> bool:
                    return (await gw.call("list_warehouses")).ok

                return await drive(calls, one, concurrency)
        finally:
            os.environ.pop("LAKEGATE_HTTP", None)

    return asyncio.run(go())


def sdk(info: dict[str, Any], calls: int, concurrency: int) -> Measured:
    from databricks.sdk import WorkspaceClient

    client = WorkspaceClient(
        host=info["host"], client_id=info["client_id"], client_secret=info["client_secret"],
        auth_type="oauth-m2m",
    )  # fmt: skip

    def one() -> bool:
        list(client.warehouses.list())
        return True

    return drive_threads(calls, one, concurrency)


def candidates() -> dict[str, Callable[..., Measured]]:
    found: dict[str, Callable[..., Measured]] = {
        FLOOR: raw_aiohttp,
        "raw httpx": raw_httpx,
        "raw requests, 32 threads": raw_requests,
        GATEWAY: gateway,
        "lakegate Gateway on httpx (before)": lambda *a: gateway(*a, http="httpx"),
        SDK: sdk,
    }
    try:
        import httpx_aiohttp  # noqa: F401

        found["raw httpx + httpx-aiohttp"] = lambda *a: raw_httpx(*a, on_aiohttp=True)
    except ImportError:
        print("   (httpx-aiohttp is not installed: left out)", file=sys.stderr)
    return found


class MemoryTransport:
    """A lakegate Transport answering from memory: what is left is the caller's own CPU."""

    body = json.dumps({"warehouses": [{"id": "a1", "name": "Starter", "state": "RUNNING"}] * 2})

    async def send(self, method: str, url: str, headers: Any, body: Any, timeout_s: float,
                   max_bytes: Any) -> Reply:  # fmt: skip
        return Reply(200, "OK", {"content-type": "application/json"}, self.body.encode())

    def stream(self, *args: Any) -> Any:
        raise NotImplementedError

    async def aclose(self) -> None:
        return None


async def in_memory(calls: int, rounds: int) -> tuple[list[float], list[float]]:
    """(gateway, raw) microseconds of CPU per call, both reading through the same transport."""
    os.environ["LG_BENCH_TOKEN"] = "bench-token-value"
    project = Project.new(Path(tempfile.mkdtemp(prefix="lg-bench-mem-")) / "lakegate.yaml")
    auth = {"type": "bearer", "token": "${env:LG_BENCH_TOKEN}"}
    project.set_connector(
        "memory",
        Connector.model_validate({"name": "memory", "base_url": "http://mem", "auth": auth}),
    )
    project.set_action(
        "list_warehouses",
        Action(name="list_warehouses", connector="memory", path=LIST_PATH,
               output="warehouses[].{id: id, name: name, state: state}"),
    )  # fmt: skip
    transport = MemoryTransport()
    gw_us, raw_us = [], []
    headers = {"Authorization": "Bearer bench-token-value"}
    async with Gateway(project, transport=transport) as gw:
        await gw.call("list_warehouses")
        for _ in range(rounds):
            cpu = cpu_now()
            for _ in range(calls):
                await gw.call("list_warehouses")
            gw_us.append((cpu_now() - cpu) / calls * 1e6)
            cpu = cpu_now()
            for _ in range(calls):
                url = "http://mem" + LIST_PATH
                reply = await transport.send("GET", url, headers, None, 30, None)
                json.loads(reply.body)
            raw_us.append((cpu_now() - cpu) / calls * 1e6)
    return gw_us, raw_us


async def token_churn(
    project: Project, info: dict[str, Any], seconds: float
) -> tuple[int, int, int]:
    """(token requests, calls, failed calls) during `seconds` of load with 2 s tokens."""
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


def run(quick: bool) -> list[dict]:
    per_round = 150 if quick else 500
    rounds = 2 if quick else 4
    found = candidates()
    samples = {name: Sample() for name in found}
    serial: dict[str, Sample] = {FLOOR: Sample(), GATEWAY: Sample()}
    with served_workspace() as info:
        info["project"], info["token"] = project_for(info), token_for(info)
        names = list(found)
        for turn in range(rounds):
            for name in names[turn % len(names) :] + names[: turn % len(names)]:
                took, cpu, lat, failed = found[name](info, per_round, CONCURRENCY)
                samples[name].add(per_round, took, cpu, lat, failed)
            for name in serial:  # one call at a time: the cost per call without queueing
                took, cpu, lat, failed = found[name](info, per_round // 3, 1)
                serial[name].add(per_round // 3, took, cpu, lat, failed)
    with served_workspace(token_ttl=2) as info:
        churn = asyncio.run(token_churn(project_for(info), info, 3.0 if quick else 10.0))
    mem_gw, mem_raw = asyncio.run(in_memory(300 if quick else 2000, rounds))
    return rows(samples, serial, churn, mem_gw, mem_raw, per_round * rounds, quick)


def rows(
    samples: dict[str, Sample],
    serial: dict[str, Sample],
    churn: tuple[int, int, int],
    mem_gw: list[float],
    mem_raw: list[float],
    calls: int,
    quick: bool,
) -> list[dict]:
    med = statistics.median
    out = []
    for name, s in samples.items():
        out.append(row("gateway", f"{name}: calls/s @ {CONCURRENCY}", med(s.rates), "calls/s",
                       spread=spread(s.rates)))  # fmt: skip
        out.append(row("gateway", f"{name}: client CPU per call", med(s.cpu_ms), "ms",
                       spread=spread(s.cpu_ms)))  # fmt: skip
    gw, floor, dbsdk = samples[GATEWAY], samples[FLOOR], samples[SDK]
    out += [
        row("gateway", "Gateway client CPU per call vs raw aiohttp", med(gw.cpu_ms), "ms",
            FLOOR, med(floor.cpu_ms), goal="<= 1.5x", at_most=1.5),
        row("gateway", f"Gateway calls/s vs databricks-sdk on {CONCURRENCY} threads",
            med(gw.rates), "calls/s", SDK, med(dbsdk.rates), goal=">= 2x", at_least=2.0),
        row("gateway", f"p50 added over raw aiohttp @ {CONCURRENCY}",
            med(gw.latencies) - med(floor.latencies), "ms", "raw aiohttp p50 ms",
            med(floor.latencies), goal="<= 1 ms", value_at_most=1.0),
        row("gateway", "p50 added, one call at a time",
            med(serial[GATEWAY].latencies) - med(serial[FLOOR].latencies), "ms",
            "raw aiohttp p50 ms", med(serial[FLOOR].latencies), goal="<= 1 ms",
            value_at_most=1.0),
        row("gateway", "Gateway CPU per call, in-memory transport", med(mem_gw), "us",
            "transport.send + json.loads", med(mem_raw), goal="added <= 1000 us",
            value_at_most=med(mem_raw) + 1000, spread=spread(mem_gw)),
    ]  # fmt: skip
    tokens, churn_calls, churn_failed = churn
    failures = sum(s.failures for s in samples.values())
    out += [
        row("gateway", "token requests under load, TTL 2 s", tokens, "requests",
            "calls (failed)", f"{churn_calls} ({churn_failed})", goal="<= 6, 0 failed",
            met=(tokens <= 6 or quick) and churn_failed == 0),
        row("gateway", f"failed calls, all candidates ({calls} each)", failures, "calls",
            goal="0", met=failures == 0),
    ]  # fmt: skip
    return out


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from run import table

    print(table(run(quick="--quick" in sys.argv), markdown="--markdown" in sys.argv))
