"""Job runs: the life cycle (QUEUED -> PENDING -> RUNNING -> TERMINATING -> TERMINATED), tasks
run in order (sql_task through the statement engine, notebook_task simulated), persistence.

Each run is an asyncio task on the server loop. A run that a restart interrupts ends
INTERNAL_ERROR on the next start: it never vanishes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from lakegate.workspace.identity.principals import Principal
from lakegate.workspace.sql.queries import get_query
from lakegate.workspace.sql.statements import StatementService
from lakegate.workspace.sql.translate import Parameter

if TYPE_CHECKING:
    from lakegate.workspace.state import WorkspaceState

log = logging.getLogger(__name__)
ACTIVE = frozenset({"QUEUED", "PENDING", "RUNNING", "TERMINATING", "BLOCKED"})
FAILURE_CODES = {
    "SUCCESS": ("SUCCESS", "SUCCESS"),
    "FAILED": ("RUN_EXECUTION_ERROR", "CLIENT_ERROR"),
    "CANCELED": ("USER_CANCELED", "SUCCESS"),
    "TIMEDOUT": ("TIMEOUT", "CLIENT_ERROR"),
}


def now_ms() -> int:
    return int(time.time() * 1000)


class TaskFailed(Exception):
    """A task ended FAILED; the message becomes its `state_message`."""


class JobRuns:
    """Every run of every job; `notebook_s` and `setup_s` make simulated work fast in tests."""

    def __init__(self, ws: WorkspaceState, statements: StatementService) -> None:
        self.ws = ws
        self.statements = statements
        self.setup_s = 0.2
        self.notebook_s = 2.0
        self.terminating_s = 0.05
        self.runs: dict[int, dict[str, Any]] = {}
        self.tokens: dict[str, int | None] = {}  # idempotency token -> run id (None: deleted)
        # sql_task run id -> the statement it ran (runs/get-output)
        self.sql_outputs = {int(k): v for k, v in ws.store.all("run_output")}
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._cancelled: set[int] = set()
        for _, run in ws.store.all("run"):
            if run["state"]["life_cycle_state"] in ACTIVE:
                self._interrupted(run)
            self.runs[run["run_id"]] = run
        for token, body in ws.store.all("run_token"):
            self.tokens[token] = body.get("run_id")

    def _interrupted(self, run: dict[str, Any]) -> None:
        message = "The run was interrupted because the workspace restarted."
        end = now_ms()
        for task in run["tasks"]:
            if task["state"]["life_cycle_state"] in ACTIVE:
                task["state"] = {
                    "life_cycle_state": "INTERNAL_ERROR",
                    "result_state": "FAILED",
                    "state_message": message,
                    "user_cancelled_or_timedout": False,
                }
                task["end_time"] = end
        run["state"] = {
            "life_cycle_state": "INTERNAL_ERROR",
            "result_state": "FAILED",
            "state_message": message,
            "user_cancelled_or_timedout": False,
        }
        run["status"] = {
            "state": "TERMINATED",
            "termination_details": {
                "code": "INTERNAL_ERROR",
                "type": "INTERNAL_ERROR",
                "message": message,
            },
        }
        run["end_time"] = end
        self.save(run)

    def page_url(self, job_id: int, run_id: int) -> str:
        return f"{self.ws.host}/?o={self.ws.workspace_id}#job/{job_id}/run/{run_id}"

    def save(self, run: dict[str, Any]) -> None:
        self.ws.store.put("run", str(run["run_id"]), run)

    # -- starting ----------------------------------------------------------------------------

    def start(self, job: dict[str, Any], principal: Principal, params: dict[str, Any]) -> dict:
        settings = job["settings"]
        run_id = self.ws.store.next_id("run", 700_000_000_001)
        number = sum(1 for r in self.runs.values() if r["job_id"] == job["job_id"]) + 1
        run: dict[str, Any] = {
            "job_id": job["job_id"],
            "run_id": run_id,
            "number_in_job": number,
            "original_attempt_run_id": run_id,
            "run_name": settings.get("name", "Untitled"),
            "creator_user_name": principal.application_id,
            "run_as_user_name": job.get("run_as_user_name", principal.application_id),
            "start_time": now_ms(),
            "end_time": 0,
            "setup_duration": 0,
            "execution_duration": 0,
            "cleanup_duration": 0,
            "run_duration": 0,
            "run_page_url": self.page_url(job["job_id"], run_id),
            "run_type": "JOB_RUN",
            "trigger": "ONE_TIME",
            "format": "MULTI_TASK",
            "attempt_number": 0,
            "job_parameters": [{"name": k, "value": str(v)} for k, v in params.items()],
            "tasks": [
                {
                    **{k: v for k, v in task.items() if k != "depends_on"},
                    **({"depends_on": task["depends_on"]} if task.get("depends_on") else {}),
                    "run_id": self.ws.store.next_id("run", 700_000_000_001),
                    "attempt_number": 0,
                    "start_time": 0,
                    "end_time": 0,
                    "state": {"life_cycle_state": "PENDING", "state_message": ""},
                }
                for task in settings.get("tasks", [])
            ],
        }
        for task in run["tasks"]:
            task["run_page_url"] = self.page_url(job["job_id"], task["run_id"])
        self._state(run, "QUEUED", message="")
        self.runs[run_id] = run
        self._tasks[run_id] = asyncio.create_task(self._drive(run, job, principal))
        return run

    def _state(
        self, run: dict[str, Any], cycle: str, *, result: str | None = None, message: str = ""
    ) -> None:
        state: dict[str, Any] = {
            "life_cycle_state": cycle,
            "state_message": message,
            "user_cancelled_or_timedout": result in ("CANCELED", "TIMEDOUT"),
        }
        status: dict[str, Any] = {"state": cycle if cycle != "SKIPPED" else "TERMINATED"}
        if result is not None:
            state["result_state"] = result
            code, kind = FAILURE_CODES.get(result, ("RUN_EXECUTION_ERROR", "CLIENT_ERROR"))
            status["termination_details"] = {"code": code, "type": kind, "message": message}
        run["state"], run["status"] = state, status
        self.save(run)

    # -- driving -----------------------------------------------------------------------------

    async def _drive(self, run: dict[str, Any], job: dict[str, Any], principal: Principal) -> None:
        settings = job["settings"]
        run_id = run["run_id"]
        try:
            limit = int(settings.get("max_concurrent_runs", 1) or 1)
            while self._active_others(run) >= limit:
                if not settings.get("queue", {}).get("enabled", False):
                    run["end_time"] = now_ms()
                    self._state(
                        run,
                        "SKIPPED",
                        message=(
                            f"Skipping this run because the limit of {limit} maximum concurrent "
                            "runs has been reached."
                        ),
                    )
                    return
                await asyncio.sleep(0.05)
            timeout = float(settings.get("timeout_seconds") or 0)
            work = self._work(run, principal)
            if timeout > 0:
                await asyncio.wait_for(work, timeout)
            else:
                await work
        except TimeoutError:
            await self._end(
                run, "TIMEDOUT", f"Run timed out after {settings['timeout_seconds']} s."
            )
        except asyncio.CancelledError:
            if run_id not in self._cancelled:
                raise  # the server is stopping: the next start marks it INTERNAL_ERROR
            await self._end(run, "CANCELED", "Run cancelled.")
        except Exception as exc:
            log.exception("run %s crashed", run_id)
            await self._end(run, "FAILED", f"Internal error: {type(exc).__name__}")
        finally:
            self._tasks.pop(run_id, None)

    def _active_others(self, run: dict[str, Any]) -> int:
        return sum(
            1
            for r in self.runs.values()
            if r["job_id"] == run["job_id"]
            and r["run_id"] < run["run_id"]
            and r["state"]["life_cycle_state"] in ACTIVE
        )

    async def _work(self, run: dict[str, Any], principal: Principal) -> None:
        self._state(run, "PENDING", message="Waiting for cluster")
        await asyncio.sleep(self.setup_s)
        run["setup_duration"] = now_ms() - run["start_time"]
        self._state(run, "RUNNING", message="In run")
        failed: str | None = None
        for task in _ordered(run["tasks"]):
            if failed is not None:
                task["state"] = {
                    "life_cycle_state": "SKIPPED",
                    "result_state": "UPSTREAM_FAILED",
                    "state_message": f"Upstream task failed: {failed}",
                }
                continue
            task["start_time"] = now_ms()
            task["state"] = {"life_cycle_state": "RUNNING", "state_message": "In run"}
            self.save(run)
            try:
                await self._task(task, principal, run)
                task["state"] = {
                    "life_cycle_state": "TERMINATED",
                    "result_state": "SUCCESS",
                    "state_message": "",
                }
            except TaskFailed as exc:
                failed = task["task_key"]
                task["state"] = {
                    "life_cycle_state": "TERMINATED",
                    "result_state": "FAILED",
                    "state_message": str(exc),
                }
            finally:
                task["end_time"] = now_ms()
                self.save(run)
        if failed is not None:
            await self._end(
                run,
                "FAILED",
                f"Task {failed} failed with message: "
                f"{_task(run, failed)['state']['state_message']}",
            )
        else:
            await self._end(run, "SUCCESS", "")

    async def _task(self, task: dict[str, Any], principal: Principal, run: dict[str, Any]) -> None:
        if "notebook_task" in task:
            path = task["notebook_task"].get("notebook_path", "")
            seconds = float(
                task["notebook_task"].get("base_parameters", {}).get("duration_s", self.notebook_s)
            )
            await asyncio.sleep(seconds)
            if "fail" in path.lower():
                raise TaskFailed(
                    f"Notebook {path} failed: simulated failure "
                    "(the notebook path contains 'fail')."
                )
            return
        await self._sql(task["sql_task"], principal, task["run_id"])

    async def _sql(self, sql_task: dict[str, Any], principal: Principal, task_run: int) -> None:
        warehouse_id = sql_task.get("warehouse_id", "")
        query = get_query(self.ws, sql_task["query"]["query_id"]) if "query" in sql_task else None
        text = query["query_text"] if query else ""
        try:
            self.ws.warehouses.live(warehouse_id)
            self.ws.permissions.check(principal, "warehouses", warehouse_id, "CAN_USE")
        except Exception as exc:
            raise TaskFailed(str(exc)) from None
        body = {
            "warehouse_id": warehouse_id,
            "statement": text,
            "catalog": query.get("catalog") if query else None,
            "schema": query.get("schema") if query else None,
        }
        params = [Parameter(k, str(v)) for k, v in (sql_task.get("parameters") or {}).items()]
        stmt = self.statements.submit(principal, body, params)
        stmt.source = "Databricks Jobs"
        ran = {"statement_id": stmt.id, "query_text": text, "warehouse_id": warehouse_id}
        self.sql_outputs[task_run] = ran
        self.ws.store.put("run_output", str(task_run), ran)
        try:
            await stmt.done.wait()
        except asyncio.CancelledError:
            self.statements.cancel(stmt)
            raise
        if stmt.state != "SUCCEEDED":
            message = (stmt.error or {}).get("message", f"Statement ended {stmt.state}.")
            raise TaskFailed(f"Query failed: {message}")

    async def _end(self, run: dict[str, Any], result: str, message: str) -> None:
        for task in run["tasks"]:
            if task["state"]["life_cycle_state"] in ACTIVE:
                task["state"] = {
                    "life_cycle_state": "TERMINATED",
                    "result_state": result,
                    "state_message": message,
                }
                task["end_time"] = now_ms()
        self._state(run, "TERMINATING", message=message)
        await asyncio.sleep(self.terminating_s)
        end = now_ms()
        run["end_time"] = end
        run["run_duration"] = end - run["start_time"]
        run["execution_duration"] = max(0, run["run_duration"] - run["setup_duration"])
        self._state(run, "TERMINATED", result=result, message=message)

    # -- control -----------------------------------------------------------------------------

    def cancel(self, run_id: int) -> None:
        task = self._tasks.get(run_id)
        if task is not None:
            self._cancelled.add(run_id)
            task.cancel()

    def delete(self, run_id: int) -> None:
        run = self.runs.pop(run_id)
        self.ws.store.delete("run", str(run_id))
        token = run.get("idempotency_token")
        if token:
            self.tokens[token] = None
            self.ws.store.put("run_token", token, {"run_id": None})


def _ordered(tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Tasks in dependency order (stable for independent tasks)."""
    done: set[str] = set()
    out: list[dict[str, Any]] = []
    pending = list(tasks)
    while pending:
        ready = [t for t in pending if all(d["task_key"] in done for d in t.get("depends_on", []))]
        if not ready:  # a cycle was rejected at create time; run the rest as given
            ready = pending[:1]
        for task in ready:
            out.append(task)
            done.add(task["task_key"])
            pending.remove(task)
    return out


def _task(run: dict[str, Any], key: str) -> dict[str, Any]:
    return next(t for t in run["tasks"] if t["task_key"] == key)


def view(run: dict[str, Any]) -> dict[str, Any]:
    """A run as `runs/get` answers it (internal fields left out)."""
    return {k: v for k, v in run.items() if k != "idempotency_token"}
