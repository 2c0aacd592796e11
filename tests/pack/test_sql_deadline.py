"""A statement is canceled on the server when the deadline passes or the caller goes away."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from lakegate.gateway import Gateway
from lakegate.project import Action, Project
from lakegate.workspace import LocalWorkspace

from .conftest import ProjectOn

# ~2.5 billion hashes: far longer than any deadline below, and interruptible.
SLOW = (
    "SELECT sum(hash(a.fare_amount, b.trip_distance)) AS h /* {marker} */ "
    "FROM samples.nyctaxi.trips a CROSS JOIN samples.nyctaxi.trips b"
)


def with_history(project: Project) -> Project:
    project.set_action(
        "history",
        Action(
            name="history",
            connector="databricks",
            path="/api/2.0/sql/history/queries",
            query={"max_results": 1000},
        ),
    )
    return project


@pytest.fixture
async def gw(workspace: LocalWorkspace, project_on: ProjectOn) -> AsyncIterator[Gateway]:
    """A gateway on the pack with the `history` action, to see a statement's state on the server."""
    async with Gateway(with_history(await project_on(workspace))) as gateway:
        yield gateway


@pytest.fixture
def marker() -> str:
    """A mark in the statement's text, to find it in the query history."""
    return uuid.uuid4().hex


async def history_of(gw: Gateway, marker: str) -> dict[str, Any] | None:
    result = await gw.call("history", {})
    assert result.ok, result.error
    found = [q for q in result.data["res"] if marker in q["query_text"]]
    return found[0] if found else None


async def wait_for_status(gw: Gateway, marker: str, status: str, within_s: float) -> dict:
    deadline = time.monotonic() + within_s
    while True:
        query = await history_of(gw, marker)
        if (query and query["status"] == status) or time.monotonic() > deadline:
            assert query is not None and query["status"] == status, query
            return query
        await asyncio.sleep(0.05)


async def test_deadline_cancels_the_statement_on_the_server(gw: Gateway, marker: str) -> None:
    started = time.monotonic()
    result = await gw.call(
        "execute_sql", {"statement": SLOW.format(marker=marker), "deadline_s": 1.5}
    )
    elapsed = time.monotonic() - started
    assert not result.ok
    assert result.error.code == "remote.statement_deadline"
    assert "canceled" in result.error.message and result.error.hint
    # It waited for the deadline; that it answered before the statement could end is shown
    # by the server canceling it below, not by the clock (a busy machine stretches it).
    assert elapsed > 1.4, elapsed
    statement_id = result.error.details["statement_id"]
    query = await wait_for_status(gw, marker, "CANCELED", within_s=10)
    assert query["query_id"] == statement_id
    state = await gw.call("get_statement", {"statement_id": statement_id})
    assert not state.ok and state.error.code == "remote.statement_canceled"
    assert state.error.details["state"] == "CANCELED" and "run the statement again" in (
        state.error.hint
    )


async def test_server_side_wait_cancels_at_a_deadline_within_reach(
    gw: Gateway, marker: str
) -> None:
    """With 6 s left, the one server-side wait ends at the deadline with on_wait_timeout=CANCEL."""
    result = await gw.call(
        "execute_sql", {"statement": SLOW.format(marker=marker), "deadline_s": 6.5}
    )
    assert not result.ok and result.error.code == "remote.statement_deadline"
    await wait_for_status(gw, marker, "CANCELED", within_s=10)


async def test_caller_going_away_cancels_the_statement(gw: Gateway, marker: str) -> None:
    call = asyncio.create_task(gw.call("execute_sql", {"statement": SLOW.format(marker=marker)}))
    await wait_for_status(gw, marker, "RUNNING", within_s=10)
    call.cancel()  # the copilot hung up
    with contextlib.suppress(asyncio.CancelledError):
        await call
    # Caught during the server-side wait (5 s): the cancel follows the submit's answer.
    await wait_for_status(gw, marker, "CANCELED", within_s=15)


def test_ctrl_c_in_a_script_cancels_the_statement(
    workspace: LocalWorkspace, project_on: ProjectOn, marker: str
) -> None:
    """SyncGateway: KeyboardInterrupt in the calling thread cancels the call on its loop, and
    closing waits for the statement's cancel to reach the server."""
    import signal
    import threading

    from lakegate.gateway import SyncGateway

    project = with_history(asyncio.run(project_on(workspace)))
    gw = SyncGateway(project)
    main = threading.main_thread().ident
    assert main == threading.get_ident()

    def ctrl_c(*_: object) -> None:
        raise KeyboardInterrupt

    # A signal of its own, raising what SIGINT raises: SIGINT itself is ignored in a suite run in
    # the background, and a blocked wait only wakes for a real signal.
    previous = signal.signal(signal.SIGUSR1, ctrl_c)

    def interrupt_when_running() -> None:
        async def running() -> None:
            async with Gateway(project) as watcher:
                await wait_for_status(watcher, marker, "RUNNING", within_s=60)

        asyncio.run(running())
        signal.pthread_kill(main, signal.SIGUSR1)

    threading.Thread(target=interrupt_when_running, daemon=True).start()
    try:
        with pytest.raises(KeyboardInterrupt):
            gw.call("execute_sql", {"statement": SLOW.format(marker=marker), "deadline_s": 120})
    finally:
        signal.signal(signal.SIGUSR1, previous)
    gw.close()
    assert any("was canceled on the workspace" in note for note in gw.gateway.cancel_notes), (
        gw.gateway.cancel_notes
    )

    async def canceled() -> None:
        async with Gateway(project) as watcher:
            await wait_for_status(watcher, marker, "CANCELED", within_s=10)

    asyncio.run(canceled())
