"""Job actions plain HTTP cannot express: run exactly once, and wait for a run to end."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
import uuid
from typing import Any

from lakegate.errors import InputError
from lakegate.handlers import ActionContext, handler

__all__ = ["JOBS", "idempotency_token", "run_job", "wait_for_run"]

JOBS = "/api/2.2/jobs"
TERMINAL = ("TERMINATED", "SKIPPED", "INTERNAL_ERROR")


def idempotency_token(ctx: ActionContext, inputs: dict[str, Any]) -> str:
    """The token of this logical call: given, derived from the caller's call id, or fresh.

    The gateway resends the same body on a retry, so one call never starts two runs; a caller
    that retries the whole call passes the token back (or the same call id) to get the same run.
    """
    given = inputs.get("idempotency_token")
    if given:
        token = str(given)
        if len(token) > 64:
            raise InputError("`idempotency_token` may have at most 64 characters.")
        return token
    caller = ctx.caller or {}
    call_id = caller.get("call_id") or caller.get("request_id")
    if call_id is None:
        return uuid.uuid4().hex
    seed = json.dumps(
        [ctx.connector.name, inputs.get("job_id"), inputs.get("job_parameters"), str(call_id)],
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(seed.encode()).hexdigest()[:32]


@handler("databricks.run_job")
async def run_job(ctx: ActionContext, inputs: dict[str, Any]) -> dict[str, Any]:
    """Trigger a run now, exactly once per logical call."""
    token = idempotency_token(ctx, inputs)
    body: dict[str, Any] = {"job_id": inputs["job_id"], "idempotency_token": token}
    if inputs.get("job_parameters"):
        body["job_parameters"] = {k: str(v) for k, v in inputs["job_parameters"].items()}
    # With the token, resending is safe: the server returns the run it already started.
    found = await ctx.json("POST", f"{JOBS}/run-now", json=body, idempotent=True)
    return {
        "run_id": found.get("run_id"),
        "job_id": inputs["job_id"],
        "number_in_job": found.get("number_in_job"),
        "idempotency_token": token,
    }


@handler("databricks.wait_for_run")
async def wait_for_run(ctx: ActionContext, inputs: dict[str, Any]) -> dict[str, Any]:
    """Poll a run until it ends or the deadline passes, reporting progress."""
    run_id = inputs["run_id"]
    started = time.monotonic()
    deadline = min(started + float(inputs.get("deadline_s") or 300), ctx.deadline - 1.0)
    interval = 0.2
    while True:
        run = await ctx.json("GET", f"{JOBS}/runs/get", params={"run_id": run_id})
        state = run.get("state") or {}
        life_cycle = str(state.get("life_cycle_state") or "")
        now = time.monotonic()
        finished = life_cycle in TERMINAL
        if finished or now + interval >= deadline:
            return {
                "run_id": run_id,
                "finished": finished,
                "life_cycle_state": life_cycle,
                "result_state": state.get("result_state"),
                "message": state.get("state_message") or "",
                "run_page_url": run.get("run_page_url"),
                "waited_s": round(now - started, 1),
            }
        if ctx.progress is not None:
            await ctx.progress(now - started, None, f"run {run_id} {life_cycle}")
        await asyncio.sleep(interval)
        interval = min(interval * 2, 5.0)
