"""Jobs API 2.2 (also served at the 2.1 paths): jobs, run-now with idempotency, runs.

Tasks: `sql_task` (a saved query run on a warehouse through the statement engine) and
`notebook_task` (simulated: succeeds after `JobRuns.notebook_s`, or fails when its path
contains `fail`).
"""

from __future__ import annotations

import base64
import time
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from lakegate.workspace.http import empty, fail, int_param, json_body
from lakegate.workspace.identity.permissions import ObjectType
from lakegate.workspace.identity.principals import Principal
from lakegate.workspace.jobs import runoutput
from lakegate.workspace.jobs.runs import ACTIVE, JobRuns, view
from lakegate.workspace.sql import queries
from lakegate.workspace.sql.statements import service as statement_service

if TYPE_CHECKING:
    from lakegate.workspace.state import WorkspaceState

LEVELS = ("CAN_VIEW", "CAN_MANAGE_RUN", "CAN_MANAGE", "IS_OWNER")
TASK_TYPES = ("notebook_task", "sql_task")


def _job_id(value: Any, name: str = "job_id") -> int:
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).isdigit():
        raise fail("INVALID_PARAMETER_VALUE", f"{name} must be a positive integer, got {value!r}.")
    return int(value)


def _validated_settings(settings: Any) -> dict[str, Any]:
    if not isinstance(settings, dict):
        raise fail("INVALID_PARAMETER_VALUE", "Job settings must be a JSON object.")
    tasks = settings.get("tasks", [])
    if not isinstance(tasks, list):
        raise fail("INVALID_PARAMETER_VALUE", "tasks must be an array.")
    keys: set[str] = set()
    for task in tasks:
        keys.add(_validated_task(task, keys))
    for task in tasks:
        for dep in task.get("depends_on", []):
            if dep.get("task_key") not in keys:
                raise fail(
                    "INVALID_PARAMETER_VALUE",
                    f"Task {task['task_key']!r} depends on unknown task {dep.get('task_key')!r}.",
                )
    timeout = settings.get("timeout_seconds", 0)
    if not isinstance(timeout, int | float) or timeout < 0:
        raise fail("INVALID_PARAMETER_VALUE", "timeout_seconds must be a non-negative number.")
    return settings


def _validated_task(task: Any, keys: set[str]) -> str:
    """The key of one task the local workspace can run; `keys` are those of the tasks before it."""
    key = task.get("task_key") if isinstance(task, dict) else None
    if not isinstance(key, str) or not key:
        raise fail("INVALID_PARAMETER_VALUE", "Every task needs a non-empty task_key.")
    if key in keys:
        raise fail("INVALID_PARAMETER_VALUE", f"Duplicate task_key {key!r}.")
    kinds = [k for k in task if k.endswith("_task")]
    if len(kinds) != 1 or kinds[0] not in TASK_TYPES:
        raise fail(
            "INVALID_PARAMETER_VALUE",
            f"Task {key!r}: the local workspace runs exactly one of sql_task or "
            f"notebook_task per task (got {', '.join(kinds) or 'none'}).",
        )
    if "notebook_task" in task and not task["notebook_task"].get("notebook_path"):
        raise fail("INVALID_PARAMETER_VALUE", f"Task {key!r}: notebook_path is required.")
    if "sql_task" in task:
        sql = task["sql_task"]
        if not sql.get("warehouse_id") or "query_id" not in sql.get("query", {}):
            raise fail(
                "INVALID_PARAMETER_VALUE",
                f"Task {key!r}: sql_task needs warehouse_id and query.query_id.",
            )
    return key


def _idempotency_token(body: dict[str, Any]) -> str | None:
    token = body.get("idempotency_token")
    if token is not None and (not isinstance(token, str) or not 0 < len(token) <= 64):
        raise fail("INVALID_PARAMETER_VALUE", "idempotency_token must be 1-64 characters.")
    return token


def _page(request: Request) -> tuple[int, int]:
    limit = int_param(request, "limit", default=20, low=1, high=100)
    offset = int_param(request, "offset", default=0, high=10**9)
    token = request.query_params.get("page_token")
    if token:
        try:
            offset = int(base64.urlsafe_b64decode(token.encode()).decode().removeprefix("o:"))
        except (ValueError, UnicodeDecodeError):
            raise fail("INVALID_PARAMETER_VALUE", "page_token is not valid.") from None
    return offset, limit


def _paged(items: list[Any], key: str, offset: int, limit: int) -> Response:
    body: dict[str, Any] = {key: items[offset : offset + limit]}
    body["has_more"] = offset + limit < len(items)
    if body["has_more"]:
        body["next_page_token"] = base64.urlsafe_b64encode(f"o:{offset + limit}".encode()).decode()
    return JSONResponse(body)


class JobsApi:
    """The Jobs endpoints over the workspace's jobs (kept in the store) and their runs."""

    def __init__(self, ws: WorkspaceState) -> None:
        self.ws = ws
        self.jobs: dict[int, dict[str, Any]] = {int(k): v for k, v in ws.store.all("job")}
        self.runs = JobRuns(ws, statement_service(ws))
        ws.jobs = self.runs  # type: ignore[attr-defined]  # tests tune runs.notebook_s / setup_s
        ws.permissions.register(ObjectType("jobs", "/jobs/", LEVELS, self._exists))

    def routes(self) -> list[BaseRoute]:
        found: list[BaseRoute] = []
        for version in ("2.2", "2.1"):
            base = f"/api/{version}/jobs"
            found += [
                Route(f"{base}/create", self.create, methods=["POST"]),
                Route(f"{base}/get", self.get, methods=["GET"]),
                Route(f"{base}/list", self.listing, methods=["GET"]),
                Route(f"{base}/delete", self.delete, methods=["POST"]),
                Route(f"{base}/reset", self.reset, methods=["POST"]),
                Route(f"{base}/update", self.update, methods=["POST"]),
                Route(f"{base}/run-now", self.run_now, methods=["POST"]),
                Route(f"{base}/runs/get", self.run_get, methods=["GET"]),
                Route(f"{base}/runs/submit", self.submit, methods=["POST"]),
                Route(f"{base}/runs/get-output", self.run_output, methods=["GET"]),
                Route(f"{base}/runs/list", self.runs_list, methods=["GET"]),
                Route(f"{base}/runs/cancel", self.run_cancel, methods=["POST"]),
                Route(f"{base}/runs/delete", self.run_delete, methods=["POST"]),
            ]
        return found

    def _exists(self, ident: str) -> bool:
        return ident.isdigit() and int(ident) in self.jobs

    async def _caller(self, request: Request) -> Principal:
        return await self.ws.identity.authenticate(request)

    def _job_for(self, principal: Principal, job_id: int, level: str) -> dict[str, Any]:
        job = self.jobs.get(job_id)
        if job is None:
            raise fail("RESOURCE_DOES_NOT_EXIST", f"Job {job_id} does not exist.")
        self.ws.permissions.check(principal, "jobs", str(job_id), level)
        return job

    def _run_for(self, principal: Principal, run_id: int, level: str) -> dict[str, Any]:
        run = self.runs.runs.get(run_id)
        if run is None:
            raise fail("RESOURCE_DOES_NOT_EXIST", f"Run {run_id} does not exist.")
        if run["job_id"] in self.jobs:
            self.ws.permissions.check(principal, "jobs", str(run["job_id"]), level)
        elif not (principal.is_admin or run["creator_user_name"] == principal.application_id):
            # No job to check (a one-time run, or its job was deleted): creator and admins only.
            raise fail("RESOURCE_DOES_NOT_EXIST", f"Run {run_id} does not exist.")
        return run

    def _visible(self, principal: Principal, job_id: int) -> bool:
        return self.ws.permissions.allows(principal, "jobs", str(job_id), "CAN_VIEW")

    async def _managed(self, request: Request) -> tuple[dict[str, Any], int, dict[str, Any]]:
        """The body of a change to one job, its id and the job, which the caller may manage."""
        principal = await self._caller(request)
        body = await json_body(request)
        job_id = _job_id(body.get("job_id"))
        return body, job_id, self._job_for(principal, job_id, "CAN_MANAGE")

    def _remember(self, token: str, run: dict[str, Any]) -> None:
        self.runs.tokens[token] = run["run_id"]
        self.ws.store.put("run_token", token, {"run_id": run["run_id"]})

    async def create(self, request: Request) -> Response:
        principal = await self._caller(request)
        settings = _validated_settings(await json_body(request))
        job_id = self.ws.store.next_id("job", 880_000_000_001)
        job = {
            "job_id": job_id,
            "creator_user_name": principal.application_id,
            "run_as_user_name": principal.application_id,
            "created_time": int(time.time() * 1000),
            "settings": {"max_concurrent_runs": 1, "format": "MULTI_TASK", **settings},
        }
        self.jobs[job_id] = job
        self.ws.store.put("job", str(job_id), job)
        self.ws.permissions.grant(
            "jobs", str(job_id), "service_principal_name", principal.application_id, "IS_OWNER"
        )
        return JSONResponse({"job_id": job_id})

    async def get(self, request: Request) -> Response:
        principal = await self._caller(request)
        job_id = _job_id(request.query_params.get("job_id"))
        return JSONResponse(self._job_for(principal, job_id, "CAN_VIEW"))

    async def listing(self, request: Request) -> Response:
        principal = await self._caller(request)
        offset, limit = _page(request)
        name = request.query_params.get("name")
        expand = request.query_params.get("expand_tasks") == "true"
        visible = []
        for job_id, job in sorted(self.jobs.items()):
            if not self._visible(principal, job_id):
                continue
            if name and job["settings"].get("name") != name:
                continue
            settings = job["settings"]
            if not expand:
                settings = {k: v for k, v in settings.items() if k != "tasks"}
            visible.append({**job, "settings": settings})
        return _paged(visible, "jobs", offset, limit)

    async def delete(self, request: Request) -> Response:
        _, job_id, _ = await self._managed(request)
        del self.jobs[job_id]
        self.ws.store.delete("job", str(job_id))
        self.ws.permissions.forget("jobs", str(job_id))
        return empty()

    async def reset(self, request: Request) -> Response:
        body, job_id, job = await self._managed(request)
        job["settings"] = _validated_settings(body.get("new_settings"))
        self.ws.store.put("job", str(job_id), job)
        return empty()

    async def update(self, request: Request) -> Response:
        """Merge the top-level fields of `new_settings`, then drop `fields_to_remove`."""
        body, job_id, job = await self._managed(request)
        merged = {**job["settings"], **(body.get("new_settings") or {})}
        for name in body.get("fields_to_remove") or []:
            merged.pop(name, None)
        job["settings"] = _validated_settings(merged)
        self.ws.store.put("job", str(job_id), job)
        return empty()

    async def run_now(self, request: Request) -> Response:
        principal = await self._caller(request)
        body = await json_body(request)
        job = self._job_for(principal, _job_id(body.get("job_id")), "CAN_MANAGE_RUN")
        token = _idempotency_token(body)
        if token in self.runs.tokens:
            run_id = self.runs.tokens[token]
            if run_id is None:
                raise fail(
                    "INVALID_STATE",
                    f"The run started with idempotency_token {token!r} was deleted; "
                    "use a new token to start another run.",
                )
            existing = self.runs.runs[run_id]
            return JSONResponse({"run_id": run_id, "number_in_job": existing["number_in_job"]})
        params = body.get("job_parameters") or {}
        if not isinstance(params, dict):
            raise fail("INVALID_PARAMETER_VALUE", "job_parameters must be an object.")
        run = self.runs.start(job, principal, params)
        if token is not None:
            run["idempotency_token"] = token
            self._remember(token, run)
            self.runs.save(run)
        return JSONResponse({"run_id": run["run_id"], "number_in_job": run["number_in_job"]})

    async def submit(self, request: Request) -> Response:
        """A one-time run (`runs/submit`), idempotent like run-now."""
        principal = await self._caller(request)
        body = await json_body(request)
        token = _idempotency_token(body)
        if token is not None and self.runs.tokens.get(token) is not None:
            return JSONResponse({"run_id": self.runs.tokens[token]})
        fields = {k: body[k] for k in runoutput.SUBMIT_FIELDS if k in body}
        job_id = self.ws.store.next_id("job", 880_000_000_001)
        job = runoutput.one_time_job(job_id, body, _validated_settings(fields), principal)
        run = self.runs.start(job, principal, {})
        runoutput.mark_submitted(self.runs, run)
        if token is not None:
            self._remember(token, run)
        return JSONResponse({"run_id": run["run_id"]})

    async def run_output(self, request: Request) -> Response:
        principal = await self._caller(request)
        run_id = _job_id(request.query_params.get("run_id"), "run_id")
        run, task = runoutput.find(self.runs, run_id)
        self._run_for(principal, run["run_id"], "CAN_VIEW")
        return JSONResponse(runoutput.output(self.runs, run, task))

    async def run_get(self, request: Request) -> Response:
        principal = await self._caller(request)
        run_id = _job_id(request.query_params.get("run_id"), "run_id")
        return JSONResponse(view(self._run_for(principal, run_id, "CAN_VIEW")))

    async def runs_list(self, request: Request) -> Response:
        principal = await self._caller(request)
        offset, limit = _page(request)
        job_id = request.query_params.get("job_id")
        active = request.query_params.get("active_only") == "true"
        completed = request.query_params.get("completed_only") == "true"
        if active and completed:
            raise fail("INVALID_PARAMETER_VALUE", "active_only and completed_only are exclusive.")
        found = []
        for run in sorted(self.runs.runs.values(), key=lambda r: r["run_id"], reverse=True):
            if job_id and str(run["job_id"]) != job_id:
                continue
            is_active = run["state"]["life_cycle_state"] in ACTIVE
            if (active and not is_active) or (completed and is_active):
                continue
            if run["job_id"] in self.jobs and not self._visible(principal, run["job_id"]):
                continue
            found.append(view(run))
        return _paged(found, "runs", offset, limit)

    async def run_cancel(self, request: Request) -> Response:
        principal = await self._caller(request)
        run_id = _job_id((await json_body(request)).get("run_id"), "run_id")
        self._run_for(principal, run_id, "CAN_MANAGE_RUN")
        self.runs.cancel(run_id)
        return empty()

    async def run_delete(self, request: Request) -> Response:
        principal = await self._caller(request)
        run_id = _job_id((await json_body(request)).get("run_id"), "run_id")
        run = self._run_for(principal, run_id, "CAN_MANAGE")
        if run["state"]["life_cycle_state"] in ACTIVE:
            raise fail("INVALID_STATE", f"Run {run_id} is still active; cancel it first.")
        self.runs.delete(run_id)
        return empty()


def routes(ws: WorkspaceState) -> list[BaseRoute]:
    """The saved queries the sql tasks run, and the Jobs API at its 2.2 and 2.1 paths."""
    return [*queries.routes(ws), *JobsApi(ws).routes()]
