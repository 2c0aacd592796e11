"""A write is sent once: a 503 or a connection reset never makes lakegate resend it.

Every injected fault here is answered before the workspace runs the request, so resending would
be harmless to the data; what is pinned is the rule itself, read off the workspace's access log.
A read on a read-only connector is resent under the same faults: they are of a kind the gateway
retries.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from lakegate._exchange import MAX_RETRIES
from lakegate.gateway import Gateway
from lakegate.project import Project
from lakegate.workspace import LocalWorkspace

from .conftest import access_log, add_job_actions, list_runs, pack_project

STATEMENTS = "/api/2.0/sql/statements"
RUN_NOW = "/api/2.2/jobs/run-now"


def always(fault: str, path: str) -> dict:
    """Every POST to `path` answered with `fault` (503 without a wait, or a reset)."""
    return {"seed": 1, "rules": [{"path": path, "method": "POST", "fault": fault, "every": 1,
                                  "retry_after": 0}]}  # fmt: skip


def every_second(fault: str, path: str) -> dict:
    return {"seed": 1, "rules": [{"path": path, "method": "POST", "fault": fault, "every": 2,
                                  "retry_after": 0}]}  # fmt: skip


@pytest.fixture(scope="module")
def ws() -> Iterator[LocalWorkspace]:
    """A workspace of this module's own: its faults change between tests."""
    with LocalWorkspace(warehouse_delays=0.1) as workspace:
        yield workspace


@pytest.fixture
async def writer(ws: LocalWorkspace, tmp_path: Path) -> Project:
    ws.set_faults(None)
    return add_job_actions(await pack_project(tmp_path / "p", ws, allow_writes=True))


def posts(ws: LocalWorkspace, path: str, after: int) -> list[dict]:
    return [e for e in access_log(ws)[after:] if e["method"] == "POST" and e["path"] == path]


async def rows_in(gw: Gateway, table: str) -> int:
    found = await gw.call("execute_sql", {"statement": f"SELECT count(*) FROM {table}"})
    assert found.ok, found.error
    return int(found.data["rows"][0][0])


@pytest.mark.parametrize(
    ("fault", "code"), [("http_503", "remote.http_error"), ("reset", "request.connection_lost")]
)
async def test_execute_sql_sends_a_write_once(
    ws: LocalWorkspace, writer: Project, fault: str, code: str
) -> None:
    table = f"main.default.once_{uuid.uuid4().hex[:8]}"
    async with Gateway(writer) as gw:
        made = await gw.call("execute_sql", {"statement": f"CREATE TABLE {table} (x INT)"})
        assert made.ok, made.error
        before = len(access_log(ws))
        ws.set_faults(always(fault, STATEMENTS))
        try:
            insert = await gw.call("execute_sql", {"statement": f"INSERT INTO {table} VALUES (1)"})
        finally:
            ws.set_faults(None)
        sent = posts(ws, STATEMENTS, before)
        assert not insert.ok
        assert insert.error is not None and insert.error.code.startswith(code.split(".")[0])
        assert len(sent) == 1, sent  # never resent
        assert await rows_in(gw, table) == 0


@pytest.mark.parametrize("fault", ["http_503", "reset"])
async def test_a_read_under_the_same_fault_is_resent(
    ws: LocalWorkspace, tmp_path: Path, fault: str
) -> None:
    # Read-only connector: there a statement that passed the guard is known to be a read.
    reader = await pack_project(tmp_path / "r", ws)
    plan = always(fault, STATEMENTS) if fault == "http_503" else every_second(fault, STATEMENTS)
    async with Gateway(reader) as gw:
        before = len(access_log(ws))
        ws.set_faults(plan)
        try:
            if fault == "reset":  # the first POST goes through: the second is the one reset
                first = await gw.call("execute_sql", {"statement": "SELECT 1"})
                assert first.ok, first.error
            read = await gw.call("execute_sql", {"statement": "SELECT 2"})
        finally:
            ws.set_faults(None)
    sent = posts(ws, STATEMENTS, before)
    if fault == "http_503":
        assert not read.ok and len(sent) == 1 + MAX_RETRIES  # every attempt was refused
    else:
        assert read.ok, read.error
        assert len(sent) == 3 and read.attempts == 2


@pytest.mark.parametrize("fault", ["http_503", "reset"])
async def test_run_job_starts_one_run_per_call_under_faults(
    ws: LocalWorkspace, writer: Project, fault: str
) -> None:
    calls = 6
    task = {"task_key": "main", "notebook_task": {"notebook_path": "/Shared/etl"}}
    async with Gateway(writer) as gw:
        created = await gw.call("create_job", {"name": f"once-{fault}", "tasks": [task]})
        assert created.ok, created.error
        job_id = int(created.data["job_id"])
        before = len(access_log(ws))
        ws.set_faults(every_second(fault, RUN_NOW))
        try:
            # One at a time: every second run-now is faulted, so each call after the first
            # meets exactly one fault and one success.
            results = [await gw.call("run_job", {"job_id": job_id}) for _ in range(calls)]
        finally:
            ws.set_faults(None)
    assert all(r.ok for r in results), [r.error for r in results if not r.ok]
    sent = posts(ws, RUN_NOW, before)
    faulted = [e for e in sent if e.get("fault") == fault]
    assert len(faulted) == calls - 1 and len(sent) == 2 * calls - 1
    run_ids = [r.data["run_id"] for r in results]
    assert len(set(run_ids)) == calls
    runs = list_runs(ws, job_id)
    assert sorted(r["run_id"] for r in runs) == sorted(run_ids)  # none lost, none twice
