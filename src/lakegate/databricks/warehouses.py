"""Warehouse actions plain HTTP cannot express: start and wait until RUNNING."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from lakegate.errors import InputError, RemoteError
from lakegate.gateway import ActionContext, handler

__all__ = ["WAREHOUSES", "start_warehouse", "wait_until_running"]

WAREHOUSES = "/api/2.0/sql/warehouses"
_GONE = ("DELETED", "DELETING")


@handler("databricks.start_warehouse")
async def start_warehouse(ctx: ActionContext, inputs: dict[str, Any]) -> dict[str, Any]:
    """Start a warehouse; with `wait`, poll until it is RUNNING or the deadline passes."""
    warehouse_id = str(inputs.get("warehouse_id") or "").strip()
    if not warehouse_id or "/" in warehouse_id:
        raise InputError("`warehouse_id` is missing or malformed.", hint="See list_warehouses.")
    started = time.monotonic()
    await ctx.json("POST", f"{WAREHOUSES}/{warehouse_id}/start", idempotent=True)
    if inputs.get("wait") is False:
        state = (await ctx.json("GET", f"{WAREHOUSES}/{warehouse_id}")).get("state")
        return {"id": warehouse_id, "state": state, "running": state == "RUNNING"}
    deadline = min(started + float(inputs.get("deadline_s") or 300), ctx.deadline - 1.0)
    state = await wait_until_running(ctx, warehouse_id, deadline)
    return {
        "id": warehouse_id,
        "state": state,
        "running": state == "RUNNING",
        "waited_s": round(time.monotonic() - started, 1),
    }


async def wait_until_running(ctx: ActionContext, warehouse_id: str, deadline: float) -> str:
    """Poll the warehouse until RUNNING (its state then), or its last state at the deadline."""
    interval, started = 0.1, time.monotonic()
    while True:
        state = str((await ctx.json("GET", f"{WAREHOUSES}/{warehouse_id}")).get("state") or "")
        if state == "RUNNING":
            return state
        if state in _GONE:
            raise RemoteError(
                f"Warehouse {warehouse_id} is {state}; it cannot be started.",
                code="remote.warehouse_gone",
                hint="Pick another warehouse with list_warehouses.",
            )
        now = time.monotonic()
        if ctx.progress is not None:
            await ctx.progress(now - started, None, f"warehouse {warehouse_id} {state}")
        if now + interval >= deadline:
            return state
        await asyncio.sleep(interval)
        interval = min(interval * 2, 2.0)
