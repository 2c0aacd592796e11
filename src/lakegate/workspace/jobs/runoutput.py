"""Jobs API one-time runs (`runs/submit`) and run output (`runs/get-output`).

A one-time run is a run of a hidden job that is never listed; only its creator and admins see it.
"""

from __future__ import annotations

from typing import Any

from lakegate.workspace.http import fail
from lakegate.workspace.identity.principals import Principal
from lakegate.workspace.jobs.runs import JobRuns, view

SUBMIT_FIELDS = ("tasks", "timeout_seconds", "queue")


def one_time_job(
    job_id: int, body: dict[str, Any], settings: dict[str, Any], principal: Principal
) -> dict[str, Any]:
    """The hidden job a `runs/submit` call runs once."""
    run_name = body.get("run_name") or "Untitled"
    if not isinstance(run_name, str):
        raise fail("INVALID_PARAMETER_VALUE", "run_name must be a string.")
    return {
        "job_id": job_id,
        "creator_user_name": principal.application_id,
        "run_as_user_name": principal.application_id,
        # One-time runs never wait for each other.
        "settings": {**settings, "name": run_name, "max_concurrent_runs": 1000},
    }


def mark_submitted(runs: JobRuns, run: dict[str, Any]) -> None:
    run["run_type"] = "SUBMIT_RUN"
    runs.save(run)


def find(runs: JobRuns, run_id: int) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The run that `run_id` names (a run or one of its task runs) and the task run, if one."""
    run = runs.runs.get(run_id)
    if run is not None:
        if len(run["tasks"]) > 1:
            raise fail(
                "INVALID_PARAMETER_VALUE",
                "Retrieving the output of runs with multiple tasks is not supported. Please "
                "retrieve the output of each individual task run instead.",
            )
        return run, run["tasks"][0] if run["tasks"] else None
    for candidate in runs.runs.values():
        for task in candidate["tasks"]:
            if task["run_id"] == run_id:
                return candidate, task
    raise fail("RESOURCE_DOES_NOT_EXIST", f"Run {run_id} does not exist.")


def output(runs: JobRuns, run: dict[str, Any], task: dict[str, Any] | None) -> dict[str, Any]:
    """A `RunOutput`: the task run as metadata, and the output of its kind of task."""
    metadata = view(run)
    if task is None:
        return {"metadata": metadata}
    metadata = {
        **metadata,
        "run_id": task["run_id"],
        "job_run_id": run["run_id"],
        "state": task["state"],
        "start_time": task["start_time"],
        "end_time": task["end_time"],
        "run_page_url": task.get("run_page_url", metadata["run_page_url"]),
        "tasks": [task],
    }
    answer: dict[str, Any] = {"metadata": metadata}
    state = task["state"]
    if state.get("result_state") in ("FAILED", "TIMEDOUT", "CANCELED"):
        answer["error"] = state.get("state_message", "")
        answer["error_trace"] = ""
    if "notebook_task" in task:
        answer["notebook_output"] = {}  # the simulated notebooks exit without a value
    statement = runs.sql_outputs.get(task["run_id"])
    if statement is not None:
        answer["sql_output"] = {
            "query_output": {
                "query_text": statement["query_text"],
                "warehouse_id": statement["warehouse_id"],
                "sql_statements": [{"lookup_key": statement["statement_id"]}],
                "output_link": f"{runs.ws.host}/sql/history?lookup_key={statement['statement_id']}",
            }
        }
    return answer
