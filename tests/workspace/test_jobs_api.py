"""Jobs API 2.2 (and 2.1 paths) with the official databricks-sdk: run-now, life cycle, restarts."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
from databricks.sdk import WorkspaceClient
from databricks.sdk.errors import DatabricksError, NotFound
from databricks.sdk.service import jobs, sql
from workspace_http import bearer, fetch_token

from _support import workspace_client
from lakegate.workspace import LocalWorkspace


@pytest.fixture(scope="module")
def w(workspace: LocalWorkspace) -> Iterator[WorkspaceClient]:
    runs = workspace.state.jobs
    saved = runs.setup_s, runs.notebook_s
    runs.setup_s, runs.notebook_s = 0.05, 0.3  # simulated work, kept short
    yield workspace_client(workspace)
    runs.setup_s, runs.notebook_s = saved


def notebook_job(w: WorkspaceClient, path: str = "/Shared/etl", **settings: object) -> int:
    task = jobs.Task(task_key="main", notebook_task=jobs.NotebookTask(notebook_path=path))
    return w.jobs.create(name=f"job-{uuid.uuid4().hex[:6]}", tasks=[task], **settings).job_id


def until_done(
    w: WorkspaceClient, run_id: int, deadline_s: float = 120
) -> tuple[jobs.Run, list[str]]:
    """Poll the run to its end; also return every life cycle state seen on the way."""
    seen: list[str] = []
    deadline = time.monotonic() + deadline_s
    while True:
        run = w.jobs.get_run(run_id)
        state = run.state.life_cycle_state.value
        if not seen or seen[-1] != state:
            seen.append(state)
        if state in ("TERMINATED", "SKIPPED", "INTERNAL_ERROR"):
            return run, seen
        assert time.monotonic() < deadline, seen
        time.sleep(0.02)


def test_run_now_is_idempotent_and_goes_through_the_life_cycle(w: WorkspaceClient) -> None:
    job_id = notebook_job(w)
    token = uuid.uuid4().hex
    first = w.jobs.run_now(job_id, idempotency_token=token).response
    second = w.jobs.run_now(job_id, idempotency_token=token).response
    assert first.run_id == second.run_id
    run, seen = until_done(w, first.run_id)
    assert seen[0] in ("QUEUED", "PENDING") and "RUNNING" in seen and seen[-1] == "TERMINATED"
    assert run.state.result_state == jobs.RunResultState.SUCCESS
    assert run.start_time > 0 and run.end_time >= run.start_time
    assert run.run_page_url.endswith(f"#job/{job_id}/run/{run.run_id}")
    assert [t.state.result_state for t in run.tasks] == [jobs.RunResultState.SUCCESS]
    third = w.jobs.run_now(job_id, idempotency_token=uuid.uuid4().hex).response
    assert third.run_id != first.run_id
    until_done(w, third.run_id)
    listed = [r.run_id for r in w.jobs.list_runs(job_id=job_id)]
    assert listed == [third.run_id, first.run_id]


def test_reusing_the_token_of_a_deleted_run_is_an_error(w: WorkspaceClient) -> None:
    job_id = notebook_job(w)
    token = uuid.uuid4().hex
    run_id = w.jobs.run_now(job_id, idempotency_token=token).response.run_id
    until_done(w, run_id)
    w.jobs.delete_run(run_id)
    with pytest.raises(NotFound):
        w.jobs.get_run(run_id)
    with pytest.raises(DatabricksError, match="was deleted"):
        w.jobs.run_now(job_id, idempotency_token=token)


def test_failing_notebook_has_a_clear_state_message(w: WorkspaceClient) -> None:
    job_id = notebook_job(w, "/Shared/will_fail")
    run, _ = until_done(w, w.jobs.run_now(job_id).response.run_id)
    assert run.state.result_state == jobs.RunResultState.FAILED
    assert "will_fail" in run.state.state_message
    assert "simulated failure" in run.tasks[0].state.state_message


def test_sql_task_runs_through_the_statement_engine(w: WorkspaceClient) -> None:
    warehouse = next(iter(w.warehouses.list())).id
    good = w.queries.create(
        query=sql.CreateQueryRequestQuery(
            display_name="orders",
            query_text="SELECT count(*) FROM samples.tpch.orders",
            warehouse_id=warehouse,
        )
    )
    bad = w.queries.create(
        query=sql.CreateQueryRequestQuery(display_name="bad", query_text="SELECT * FROM nowhere")
    )
    job_id = w.jobs.create(
        name="sql job",
        tasks=[
            jobs.Task(
                task_key="count",
                sql_task=jobs.SqlTask(
                    warehouse_id=warehouse, query=jobs.SqlTaskQuery(query_id=good.id)
                ),
            ),
            jobs.Task(
                task_key="broken",
                depends_on=[jobs.TaskDependency(task_key="count")],
                sql_task=jobs.SqlTask(
                    warehouse_id=warehouse, query=jobs.SqlTaskQuery(query_id=bad.id)
                ),
            ),
            jobs.Task(
                task_key="after",
                depends_on=[jobs.TaskDependency(task_key="broken")],
                notebook_task=jobs.NotebookTask(notebook_path="/Shared/never"),
            ),
        ],
    ).job_id
    run, _ = until_done(w, w.jobs.run_now(job_id).response.run_id)
    states = {t.task_key: t.state for t in run.tasks}
    assert states["count"].result_state == jobs.RunResultState.SUCCESS
    assert states["broken"].result_state == jobs.RunResultState.FAILED
    assert "TABLE_OR_VIEW_NOT_FOUND" in states["broken"].state_message
    assert states["after"].life_cycle_state == jobs.RunLifeCycleState.SKIPPED
    assert run.state.result_state == jobs.RunResultState.FAILED
    history = w.query_history.list(filter_by=sql.QueryFilter(warehouse_ids=[warehouse])).res
    assert "SELECT count(*) FROM samples.tpch.orders" in {q.query_text for q in history}


def test_cancel_a_running_run(w: WorkspaceClient, workspace: LocalWorkspace) -> None:
    job_id = notebook_job(w)
    run_id = w.jobs.run_now(job_id).response.run_id
    deadline = time.monotonic() + 60
    while w.jobs.get_run(run_id).state.life_cycle_state != jobs.RunLifeCycleState.RUNNING:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    w.jobs.cancel_run(run_id)
    run, _ = until_done(w, run_id)
    assert run.state.result_state == jobs.RunResultState.CANCELED
    assert run.state.user_cancelled_or_timedout is True


def test_concurrent_limit_skips_and_timeout(w: WorkspaceClient) -> None:
    job_id = notebook_job(w)
    first = w.jobs.run_now(job_id).response.run_id
    second = w.jobs.run_now(job_id).response.run_id
    skipped, _ = until_done(w, second)
    assert skipped.state.life_cycle_state == jobs.RunLifeCycleState.SKIPPED
    assert "maximum concurrent runs" in skipped.state.state_message
    until_done(w, first)
    task = jobs.Task(
        task_key="slow",
        notebook_task=jobs.NotebookTask(
            notebook_path="/Shared/slow", base_parameters={"duration_s": "30"}
        ),
    )
    slow = w.jobs.create(name="slow", tasks=[task]).job_id
    w.jobs.update(slow, new_settings=jobs.JobSettings(timeout_seconds=1))
    assert w.jobs.get(slow).settings.timeout_seconds == 1
    timed_out, _ = until_done(w, w.jobs.run_now(slow).response.run_id)
    assert timed_out.state.result_state == jobs.RunResultState.TIMEDOUT


def test_jobs_crud_and_the_2_1_paths(w: WorkspaceClient, workspace: LocalWorkspace) -> None:
    job_id = notebook_job(w)
    assert w.jobs.get(job_id).settings.tasks[0].notebook_task.notebook_path == "/Shared/etl"
    assert job_id in [j.job_id for j in w.jobs.list()]
    with httpx.Client(base_url=workspace.host, headers=bearer(fetch_token(workspace))) as api:
        legacy = api.get("/api/2.1/jobs/get", params={"job_id": job_id})
        assert legacy.status_code == 200 and legacy.json()["job_id"] == job_id
        bad = api.post(
            "/api/2.2/jobs/create",
            json={
                "name": "x",
                "tasks": [{"task_key": "a", "spark_python_task": {"python_file": "x.py"}}],
            },
        )
        assert bad.status_code == 400 and "sql_task or notebook_task" in bad.json()["message"]
    w.jobs.delete(job_id)
    with pytest.raises(NotFound):
        w.jobs.get(job_id)


def test_runs_interrupted_by_a_restart_end_internal_error(workspace_factory, tmp_path) -> None:
    ws = workspace_factory(state_dir=tmp_path)
    w = workspace_client(ws)
    job_id = notebook_job(w)  # notebooks take 2 s by default: still running at the stop
    run_id = w.jobs.run_now(job_id).response.run_id
    deadline = time.monotonic() + 60
    while w.jobs.get_run(run_id).state.life_cycle_state != jobs.RunLifeCycleState.RUNNING:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    ws.stop()
    again = workspace_client(workspace_factory(state_dir=tmp_path))
    run = again.jobs.get_run(run_id)
    assert run.state.life_cycle_state == jobs.RunLifeCycleState.INTERNAL_ERROR
    assert "restarted" in run.state.state_message
    assert run.end_time > 0
    assert again.jobs.get(job_id).job_id == job_id


def test_job_permissions(w: WorkspaceClient, workspace: LocalWorkspace) -> None:
    job_id = notebook_job(w)
    peer = workspace.create_service_principal(f"job-peer-{uuid.uuid4().hex[:6]}")
    other = workspace_client(workspace, peer["client_id"], peer["client_secret"])
    assert job_id not in [j.job_id for j in other.jobs.list()]
    with pytest.raises(DatabricksError, match="CAN_VIEW"):
        other.jobs.get(job_id)
    w.jobs.update_permissions(
        str(job_id),
        access_control_list=[
            jobs.JobAccessControlRequest(
                service_principal_name=peer["client_id"],
                permission_level=jobs.JobPermissionLevel.CAN_MANAGE_RUN,
            )
        ],
    )
    run_id = other.jobs.run_now(job_id).response.run_id
    until_done(other, run_id)
    with pytest.raises(DatabricksError, match="CAN_MANAGE"):
        other.jobs.delete(job_id)
