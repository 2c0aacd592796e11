"""Local workspace SQL: Arrow results served through EXTERNAL_LINKS vs DuckDB in-process, and
short statements with and without a slow query running alongside.

    uv run python benchmarks/workspace_sql.py [--quick]
"""

from __future__ import annotations

import asyncio
import http.client
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

import duckdb
import httpx
import pyarrow as pa

from lakegate.workspace import LocalWorkspace

ROWS = 5_000_000
QUERY = "SELECT id, id * 2 AS twice, id::VARCHAR AS label FROM range({rows})"
SLOW = "SELECT sum(hash(a.id * b.id)) FROM range(1000000) a, range(100000) b"
HOG = f"import duckdb; duckdb.connect().sql({SLOW!r}).fetchall()"
SHORT = "SELECT count(*) FROM samples.tpch.orders WHERE o_custkey = :k"


def _token(ws: LocalWorkspace) -> str:
    c = ws.credentials
    response = httpx.post(
        f"{ws.host}/oidc/v1/token",
        data={"grant_type": "client_credentials", "scope": "all-apis"},
        auth=(c["client_id"], c["client_secret"]),
    )
    return response.json()["access_token"]


def in_process(sql: str) -> tuple[float, int]:
    """The floor: DuckDB producing the same Arrow table in this process."""
    con = duckdb.connect()
    t0 = time.perf_counter()
    table = con.sql(sql).to_arrow_table()
    elapsed = time.perf_counter() - t0
    con.close()
    return elapsed, table.nbytes


def served(api: httpx.Client, warehouse: str, sql: str, workers: int) -> tuple[float, int]:
    """Submit, follow every chunk link, download without auth, decode into Arrow tables."""
    t0 = time.perf_counter()
    body = api.post(
        "/api/2.0/sql/statements",
        json={
            "statement": sql,
            "warehouse_id": warehouse,
            "disposition": "EXTERNAL_LINKS",
            "format": "ARROW_STREAM",
            "wait_timeout": "50s",
        },
    ).json()
    assert body["status"]["state"] == "SUCCEEDED", body["status"]
    total = body["manifest"]["total_chunk_count"]
    statement = body["statement_id"]

    def fetch(index: int) -> pa.Table:
        if index == 0:
            link = body["result"]["external_links"][0]["external_link"]
        else:
            chunk = api.get(f"/api/2.0/sql/statements/{statement}/result/chunks/{index}").json()
            link = chunk["external_links"][0]["external_link"]
        # Presigned style: no Authorization header. http.client (under urllib3/requests, what
        # the SDK and the SQL connector use) reads a sized body in one call.
        url = urlsplit(link)
        conn = http.client.HTTPConnection(url.netloc, timeout=60)
        conn.request("GET", f"{url.path}?{url.query}")
        data = conn.getresponse().read()
        conn.close()
        return pa.ipc.open_stream(data).read_all()

    with ThreadPoolExecutor(workers) as pool:
        tables = list(pool.map(fetch, range(total)))
    elapsed = time.perf_counter() - t0
    nbytes = sum(t.nbytes for t in tables)
    assert sum(t.num_rows for t in tables) == body["manifest"]["total_row_count"]
    return elapsed, nbytes


async def short_batch(host: str, token: str, warehouse: str, count: int = 20) -> float:
    """Wall time for `count` short statements submitted at once."""
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=host, headers=headers, timeout=60) as api:

        async def one(k: int) -> None:
            response = await api.post(
                "/api/2.0/sql/statements",
                json={
                    "statement": SHORT,
                    "warehouse_id": warehouse,
                    "parameters": [{"name": "k", "value": str(k), "type": "INT"}],
                },
            )
            assert response.json()["status"]["state"] == "SUCCEEDED"

        t0 = time.perf_counter()
        await asyncio.gather(*(one(k) for k in range(count)))
        return time.perf_counter() - t0


def start_slow(api: httpx.Client, warehouse: str) -> str:
    """A query DuckDB needs minutes for, RUNNING when this returns."""
    body = {"statement": SLOW, "warehouse_id": warehouse, "wait_timeout": "0s"}
    slow = api.post("/api/2.0/sql/statements", json=body).json()["statement_id"]
    while api.get(f"/api/2.0/sql/statements/{slow}").json()["status"]["state"] != "RUNNING":
        time.sleep(0.005)
    return slow


def stop_slow(api: httpx.Client, slow: str) -> None:
    # Still running: it was alongside the whole measured batch.
    assert api.get(f"/api/2.0/sql/statements/{slow}").json()["status"]["state"] == "RUNNING"
    api.post(f"/api/2.0/sql/statements/{slow}/cancel")
    while api.get(f"/api/2.0/sql/statements/{slow}").json()["status"]["state"] != "CANCELED":
        time.sleep(0.005)


def run(quick: bool) -> list[dict[str, Any]]:
    rows = ROWS // 5 if quick else ROWS
    rounds = 3 if quick else 7
    short_rounds = 5 if quick else 15
    sql = QUERY.format(rows=rows)
    out: list[dict[str, Any]] = []
    with LocalWorkspace(warehouse_delays=0.05) as ws:
        token = _token(ws)
        with httpx.Client(base_url=ws.host, headers={"Authorization": f"Bearer {token}"}) as api:
            api.timeout = 120
            warehouse = api.get("/api/2.0/sql/warehouses").json()["warehouses"][0]["id"]
            api.post(
                "/api/2.0/sql/statements", json={"statement": "SELECT 1", "warehouse_id": warehouse}
            )
            floor = [in_process(sql) for _ in range(rounds)]
            through = [served(api, warehouse, sql, workers=4) for _ in range(rounds)]
            floor_s = statistics.median(t for t, _ in floor)
            served_s = statistics.median(t for t, _ in through)
            mb = floor[0][1] / 1e6
            out.append(
                {
                    "benchmark": "workspace_sql",
                    "figure": f"EXTERNAL_LINKS+ARROW_STREAM, {rows:,} rows x 3 cols ({mb:.0f} MB)",
                    "value": round(mb / served_s, 1),
                    "unit": "MB/s",
                    "baseline": "DuckDB to_arrow_table() in-process",
                    "baseline_value": round(mb / floor_s, 1),
                    "ratio": round(floor_s / served_s, 2),
                    "goal": ">= 0.5",
                }
            )
            # Alternate the conditions, so that other load on the machine hits them alike. The
            # control runs the same slow query in another process: what CPU contention alone costs.
            alone, beside, control = [], [], []
            for _ in range(short_rounds):
                alone.append(asyncio.run(short_batch(ws.host, token, warehouse)))
                slow = start_slow(api, warehouse)
                beside.append(asyncio.run(short_batch(ws.host, token, warehouse)))
                stop_slow(api, slow)
                hog = subprocess.Popen([sys.executable, "-c", HOG])
                time.sleep(0.3)  # imported and computing
                control.append(asyncio.run(short_batch(ws.host, token, warehouse)))
                hog.kill()
                hog.wait()
            alone_s, beside_s = statistics.median(alone), statistics.median(beside)
            out.append(
                {
                    "benchmark": "workspace_sql",
                    "figure": "20 concurrent short statements while a slow query runs",
                    "value": round(beside_s * 1000, 1),
                    "unit": "ms (batch wall time)",
                    "baseline": "the same 20 statements alone",
                    "baseline_value": round(alone_s * 1000, 1),
                    "ratio": round(beside_s / alone_s, 2),
                    "goal": "<= 1.10",
                }
            )
            control_s = statistics.median(control)
            out.append(
                {
                    "benchmark": "workspace_sql",
                    "figure": "control: the same 20 statements while the slow query runs in "
                    "another process",
                    "value": round(control_s * 1000, 1),
                    "unit": "ms (batch wall time)",
                    "baseline": "the same 20 statements alone",
                    "baseline_value": round(alone_s * 1000, 1),
                    "ratio": round(control_s / alone_s, 2),
                    "goal": "(machine CPU contention, for reference)",
                }
            )
    return out


if __name__ == "__main__":
    for row in run(quick="--quick" in sys.argv):
        print(
            f"{row['figure']}: {row['value']} {row['unit']} | {row['baseline']}: "
            f"{row['baseline_value']} | ratio {row['ratio']} (goal {row['goal']})"
        )
