"""Under injected faults every idempotent call succeeds, and run_job never runs a job twice."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from lakegate import _exchange, tokens
from lakegate.gateway import Gateway
from lakegate.workspace import LocalWorkspace

from .conftest import access_log, add_job_actions, list_runs, pack_project

WAREHOUSES = "/api/2.0/sql/warehouses"
RUN_NOW = "/api/2.2/jobs/run-now"
CALLS, CONCURRENCY = 1000, 50
RUN_JOB_CALLS = 200
# The faults are seeded, but which call meets which fault depends on how 50 concurrent calls
# interleave. What is under test is that retries absorb the faults (and never start a second
# run), not the size of the retry budgets (tests/gateway pins those): the budgets here cannot
# run out by chance. At these fault rates (at most 25%) 40 API retries in a row all fail with
# p < 1e-24, 20 token retries with p < 1e-14; a call has 10 minutes, beyond 40 backoffs capped
# at 8 s plus Retry-After waits of 1 s. (With the shipped 8 and 4, one run in nine failed.)
RETRIES, TOKEN_RETRIES, BUDGET_S = 40, 20, 600.0


@pytest.fixture(autouse=True)
def ample_retry_budgets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_exchange, "MAX_RETRIES", RETRIES)
    monkeypatch.setattr(tokens, "_TOKEN_RETRIES", TOKEN_RETRIES)


# 10% 429 (Retry-After: 1), 5% 503, 5% resets on the API; 20% 503 on the token endpoint.
FAULTS = {
    "seed": 2057,  # the first two token requests of this seed are refused: worst case
    "rules": [
        {"path": "/oidc/v1/token", "fault": "http_503", "rate": 0.20, "retry_after": 0},
        {"path": WAREHOUSES, "fault": "http_429", "rate": 0.10, "retry_after": 1},
        {"path": WAREHOUSES, "fault": "http_503", "rate": 0.05, "retry_after": 0},
        {"path": WAREHOUSES, "fault": "reset", "rate": 0.05},
    ],
}


async def bounded(n: int, concurrency: int, call: Callable[[int], object]) -> list[object]:
    """Run `call(i)` for i in range(n), at most `concurrency` at a time."""
    gate = asyncio.Semaphore(concurrency)

    async def one(i: int) -> object:
        async with gate:
            return await call(i)  # type: ignore[misc]

    return await asyncio.gather(*(one(i) for i in range(n)))


async def test_1000_idempotent_calls_all_succeed_under_faults(
    workspace_factory: Callable[..., LocalWorkspace], tmp_path: Path
) -> None:
    ws = workspace_factory(token_ttl=3)
    project = await pack_project(tmp_path / "p", ws)
    ws.set_faults(FAULTS)
    started = time.monotonic()
    async with Gateway(project, budget_s=BUDGET_S) as gw:
        results = await bounded(CALLS, CONCURRENCY, lambda i: gw.call("list_warehouses"))
    elapsed = time.monotonic() - started
    ws.set_faults(None)
    failed = [r for r in results if not r.ok]  # type: ignore[attr-defined]
    attempts = sum(r.attempts for r in results)  # type: ignore[attr-defined]
    most = max(r.attempts for r in results)  # type: ignore[attr-defined]
    log = access_log(ws)
    api = [e for e in log if e["path"] == WAREHOUSES]
    tokens = [e for e in log if e["path"] == "/oidc/v1/token"]
    injected = [e for e in api if e["status"] in (429, 503) or e["status"] is None]
    print(
        f"\nfaults: {CALLS} calls, concurrency {CONCURRENCY}: {CALLS - len(failed)} ok, "
        f"{len(failed)} failed; {attempts} attempts ({attempts - CALLS} retries, "
        f"at most {most} for one call); "
        f"workspace saw {len(api)} API requests ({len(injected)} faulted), "
        f"{len(tokens)} token requests "
        f"({sum(1 for e in tokens if e['status'] == 503)} x 503); {elapsed:.1f} s"
    )
    assert not failed, [r.error for r in failed[:3]]  # type: ignore[attr-defined]
    assert attempts > CALLS  # faults were really injected and retried
    assert any(e["status"] == 503 for e in tokens)


async def test_200_run_job_calls_under_503_start_exactly_200_runs(
    workspace_factory: Callable[..., LocalWorkspace], tmp_path: Path
) -> None:
    ws = workspace_factory()
    project = add_job_actions(await pack_project(tmp_path / "p", ws, allow_writes=True))
    async with Gateway(project, budget_s=BUDGET_S) as gw:
        task = {"task_key": "main", "notebook_task": {"notebook_path": "/Shared/etl"}}
        created = await gw.call("create_job", {"name": "reliability", "tasks": [task]})
        assert created.ok, created.error
        job_id = int(created.data["job_id"])
        ws.set_faults(
            {
                "seed": 8,
                "rules": [
                    {
                        "path": RUN_NOW,
                        "method": "POST",
                        "fault": "http_503",
                        "rate": 0.25,
                        "retry_after": 0,
                    }
                ],
            }
        )
        started = time.monotonic()
        results = await bounded(RUN_JOB_CALLS, 25, lambda i: gw.call("run_job", {"job_id": job_id}))
        elapsed = time.monotonic() - started
        ws.set_faults(None)
    failed = [r for r in results if not r.ok]  # type: ignore[attr-defined]
    assert not failed, [r.error for r in failed[:3]]  # type: ignore[attr-defined]
    returned = [r.data["run_id"] for r in results]  # type: ignore[attr-defined]
    runs = list_runs(ws, job_id)
    posts = [e for e in access_log(ws) if e["path"] == RUN_NOW]
    faulted = sum(1 for e in posts if e["status"] == 503)
    print(
        f"\nrun_job: {RUN_JOB_CALLS} calls, {len(posts)} run-now requests ({faulted} x 503); "
        f"{len(runs)} runs in the workspace, {len(set(returned))} distinct run ids returned; "
        f"{elapsed:.1f} s"
    )
    assert faulted > 0
    assert len(runs) == RUN_JOB_CALLS  # none lost, none duplicated
    assert sorted(r["run_id"] for r in runs) == sorted(returned)
    assert len(set(returned)) == RUN_JOB_CALLS
