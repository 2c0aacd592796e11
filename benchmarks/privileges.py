"""The cost of Unity Catalog privilege checks: a 100-row query through the Statement Execution
API as a non-admin service principal (every grant looked up), with the check on and off in the
same workspace, alternating rounds.

    uv run python benchmarks/privileges.py [--quick]

Goal: the check adds at most 5% to the statement's time (issue 23).
"""

from __future__ import annotations

import statistics
import sys
import time
from typing import Any

import httpx

from _common import row, spread
from lakegate.workspace import LocalWorkspace

QUERY = "SELECT o.* FROM main.bench.orders o JOIN main.bench.orders p USING (id) ORDER BY id"


def _token(ws: LocalWorkspace, client_id: str, secret: str) -> str:
    answer = httpx.post(
        f"{ws.host}/oidc/v1/token",
        data={"grant_type": "client_credentials", "scope": "all-apis"},
        auth=(client_id, secret),
    )
    return answer.json()["access_token"]


def _statement(api: httpx.Client, warehouse: str) -> float:
    t0 = time.perf_counter()
    body = api.post(
        "/api/2.0/sql/statements",
        json={"statement": QUERY, "warehouse_id": warehouse, "wait_timeout": "30s"},
    ).json()
    elapsed = time.perf_counter() - t0
    assert body["status"]["state"] == "SUCCEEDED", body["status"]
    assert len(body["result"]["data_array"]) == 100
    return elapsed


def run(quick: bool) -> list[dict[str, Any]]:
    rounds, per_round = (3, 20) if quick else (9, 60)
    with LocalWorkspace(warehouse_delays=0.05) as ws:
        admin = httpx.Client(
            base_url=ws.host,
            headers={"Authorization": f"Bearer {_token(ws, **_admin(ws))}"},
            timeout=60,
        )
        warehouse = next(
            w["id"]
            for w in admin.get("/api/2.0/sql/warehouses").json()["warehouses"]
            if w["state"] == "RUNNING"
        )
        for sql in (
            "CREATE SCHEMA IF NOT EXISTS main.bench",
            "CREATE OR REPLACE TABLE main.bench.orders AS SELECT id, "
            "id * 3 AS amount, 'x' || id AS label FROM range(100)",
        ):
            body = {"statement": sql, "warehouse_id": warehouse, "wait_timeout": "30s"}
            admin.post("/api/2.0/sql/statements", json=body)
        sp = ws.create_service_principal("bench-analyst", warehouse_permission="CAN_USE")
        uc = "/api/2.1/unity-catalog/permissions"
        who = sp["client_id"]
        for securable, privilege in (
            ("catalog/main", "USE_CATALOG"),
            ("schema/main.bench", "USE_SCHEMA"),
            ("table/main.bench.orders", "SELECT"),
        ):
            change = {"changes": [{"principal": who, "add": [privilege]}]}
            admin.patch(f"{uc}/{securable}", json=change)
        api = httpx.Client(
            base_url=ws.host,
            headers={"Authorization": f"Bearer {_token(ws, who, sp['client_secret'])}"},
            timeout=60,
        )
        service = ws.state.sql_statements  # type: ignore[union-attr]
        check = service.authorize
        for _ in range(10):  # warm both paths
            _statement(api, warehouse)
        on: list[float] = []
        off: list[float] = []
        for index in range(rounds * 2):  # alternate: on, off, on, off ...
            checking = index % 2 == 0
            service.authorize = check if checking else None
            times = [_statement(api, warehouse) for _ in range(per_round)]
            (on if checking else off).append(statistics.median(times) * 1000)
        service.authorize = check
    ratios = [a / b for a, b in zip(on, off, strict=True)]
    resolve_ms, statement_ms = _resolution(rounds), statistics.median(off)
    return [
        row(
            "privileges",
            "100-row query as a non-admin, privilege check on (ms per statement)",
            round(statistics.median(on), 2),
            "ms",
            "the same query with the check off, alternating rounds",
            round(statistics.median(off), 2),
            goal="<= 1.05",
            at_most=1.05,
            spread=spread(ratios),
            ratio=round(statistics.median(ratios), 3),
        ),
        row(
            "privileges",
            "resolving the statement's names (sql.access, part of every statement)",
            round(resolve_ms, 3),
            "ms",
            "the statement's whole time, check off",
            round(statement_ms, 2),
            goal="<= 0.05",
            at_most=0.05,
        ),
    ]


def _resolution(rounds: int) -> float:
    """Median ms of `accesses()` on the benchmark query (it runs whether or not grants are
    checked, so the on/off rounds above do not see it)."""
    import sqlglot

    from lakegate.workspace.sql.access import accesses

    tree = sqlglot.parse_one(QUERY, read="databricks")
    samples = []
    for _ in range(rounds * 3):
        t0 = time.perf_counter()
        for _ in range(100):
            accesses(tree, "main", "default")
        samples.append((time.perf_counter() - t0) * 10)  # ms per call
    return statistics.median(samples)


def _admin(ws: LocalWorkspace) -> dict[str, str]:
    return {"client_id": ws.credentials["client_id"], "secret": ws.credentials["client_secret"]}


if __name__ == "__main__":
    for line in run("--quick" in sys.argv):
        print(line)
