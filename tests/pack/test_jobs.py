"""run_job starts exactly one run, whatever the network does; wait_for_run follows it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from _support import create_job_action
from lakegate.gateway import Gateway
from lakegate.project import Action, Input, Project
from lakegate.workspace import LocalWorkspace

from .conftest import ProjectOn, Recorder

RUN_NOW = "/api/2.2/jobs/run-now"


def with_job_admin(project: Project) -> Project:
    """Two plain actions the tests need beside the pack: create a job, list its runs."""
    project.set_action("create_job", create_job_action())
    project.set_action(
        "list_runs",
        Action(
            name="list_runs",
            connector="databricks",
            path="/api/2.2/jobs/runs/list",
            query={"job_id": "{{job_id}}"},
            inputs={"job_id": Input(type="integer", required=True)},
        ),
    )
    return project


async def create_job(gw: Gateway, seconds: float = 0.2) -> int:
    task = {
        "task_key": "main",
        "notebook_task": {
            "notebook_path": "/Shared/etl",
            "base_parameters": {"duration_s": str(seconds)},
        },
    }
    result = await gw.call("create_job", {"name": "nightly etl", "tasks": [task]})
    assert result.ok, result.error
    return int(result.data["job_id"])


async def runs_of(gw: Gateway, job_id: int) -> list[dict[str, Any]]:
    result = await gw.call("list_runs", {"job_id": job_id})
    assert result.ok, result.error
    return result.data.get("runs") or []


def lose_first_answer() -> Callable[..., Any]:
    """The first run-now reaches the server, but its answer is lost (connection reset)."""
    state = {"lost": False}
    inner = httpx.AsyncHTTPTransport()

    async def hook(request: httpx.Request, _: int) -> httpx.Response | None:
        if request.url.path != RUN_NOW or state["lost"]:
            return None
        state["lost"] = True
        response = await inner.handle_async_request(request)
        await response.aread()  # the server started the run...
        raise httpx.ReadError("connection reset by peer", request=request)  # ...we never hear

    return hook


async def test_run_job_under_503s_and_a_lost_answer_starts_exactly_one_run(
    workspace_factory: Callable[..., LocalWorkspace], project_on: ProjectOn
) -> None:
    faults = {
        "seed": 7,
        "rules": [
            {"path": RUN_NOW, "method": "POST", "fault": "http_503", "every": 2, "retry_after": 0}
        ],
    }
    ws = workspace_factory(faults=faults)
    recorder = Recorder(lose_first_answer())
    project = with_job_admin(await project_on(ws))
    async with Gateway(project, transport=recorder) as gw:
        job_id = await create_job(gw)
        result = await gw.call("run_job", {"job_id": job_id})
        assert result.ok, result.error
        runs = await runs_of(gw, job_id)
    posts = recorder.posts(RUN_NOW)
    # lost answer, then 503 (every 2nd request), then the answer: the same token each time
    assert len(posts) == 3
    assert len({p.body["idempotency_token"] for p in posts}) == 1
    assert result.data["idempotency_token"] == posts[0].body["idempotency_token"]
    assert [r["run_id"] for r in runs] == [result.data["run_id"]]


async def test_a_retried_call_with_the_same_token_returns_the_same_run(
    workspace: LocalWorkspace, project_on: ProjectOn
) -> None:
    project = with_job_admin(await project_on(workspace))
    async with Gateway(project) as gw:
        job_id = await create_job(gw)
        first = await gw.call("run_job", {"job_id": job_id})
        again = await gw.call(
            "run_job", {"job_id": job_id, "idempotency_token": first.data["idempotency_token"]}
        )
        other = await gw.call("run_job", {"job_id": job_id})  # a new logical call: a new run
        caller = {"client": "copilot", "call_id": "req-42"}
        by_call_1 = await gw.call("run_job", {"job_id": job_id}, caller=caller)
        by_call_2 = await gw.call("run_job", {"job_id": job_id}, caller=caller)
        runs = await runs_of(gw, job_id)
    assert first.ok and again.ok and other.ok
    assert again.data["run_id"] == first.data["run_id"]
    assert other.data["run_id"] != first.data["run_id"]
    assert by_call_1.data["run_id"] == by_call_2.data["run_id"]
    assert len(runs) == 3


async def test_wait_for_run_reports_progress_until_the_run_ends(
    workspace: LocalWorkspace, project_on: ProjectOn
) -> None:
    seen: list[str] = []

    async def progress(done: float, total: float | None, message: str) -> None:
        seen.append(message)

    project = with_job_admin(await project_on(workspace))
    async with Gateway(project) as gw:
        job_id = await create_job(gw, seconds=0.5)
        run = await gw.call("run_job", {"job_id": job_id})
        waited = await gw.call("wait_for_run", {"run_id": run.data["run_id"]}, progress=progress)
        state = await gw.call("get_run", {"run_id": run.data["run_id"]})
        short = await gw.call("run_job", {"job_id": job_id})
        timed_out = await gw.call(
            "wait_for_run", {"run_id": short.data["run_id"], "deadline_s": 0.1}
        )
        await gw.call("cancel_run", {"run_id": short.data["run_id"]})
    assert waited.ok, waited.error
    assert waited.data["finished"] is True
    assert waited.data["life_cycle_state"] == "TERMINATED"
    assert waited.data["result_state"] == "SUCCESS"
    assert seen and all(str(run.data["run_id"]) in m for m in seen)
    assert state.data["result_state"] == "SUCCESS"
    assert timed_out.ok and timed_out.data["finished"] is False
