"""Warehouse actions plain HTTP cannot express: a listing that shows the warehouse the copilot
uses, and start-and-wait until RUNNING."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from lakegate.errors import InputError, LakegateError, PolicyError, RemoteError
from lakegate.handlers import ActionContext, handler

__all__ = [
    "WAREHOUSES",
    "list_warehouses",
    "require_running",
    "start_warehouse",
    "wait_until_running",
]

WAREHOUSES = "/api/2.0/sql/warehouses"
_GONE = ("DELETED", "DELETING")
_LEVELS = ("CAN_VIEW", "CAN_MONITOR", "CAN_USE", "CAN_MANAGE", "IS_OWNER")  # weakest first


def _brief(warehouse: dict[str, Any]) -> dict[str, Any]:
    keys = (("id", "id"), ("name", "name"), ("state", "state"), ("size", "cluster_size"))
    return {out: warehouse.get(key) for out, key in keys}


@handler("databricks.list_warehouses")
async def list_warehouses(ctx: ActionContext, inputs: dict[str, Any]) -> dict[str, Any]:
    """The warehouses this principal can see, the default one always first with its permission.

    Databricks lists only warehouses a principal can manage; one it may merely use (CAN_USE,
    what `databricks setup --grant-warehouse` grants) is fetched by id and added.
    """
    listing = await ctx.json("GET", WAREHOUSES)
    items = [_brief(w) for w in listing.get("warehouses") or [] if isinstance(w, dict)]
    default = str(inputs.get("warehouse_id") or "")  # the pinned one, else the connector's
    if default:
        found = next((w for w in items if w["id"] == default), None)
        if found is None:
            try:
                found = _brief(await ctx.json("GET", f"{WAREHOUSES}/{default}"))
            except LakegateError:
                found = None  # not even usable: the listing says what there is
        if found is not None:
            items = [found, *(w for w in items if w is not found)]
            found.update(default=True, permission=await _permission(ctx, default))
    return {"warehouses": items}  # the API's shape; the action's output is the list


async def require_running(ctx: ActionContext, warehouse_id: str) -> None:
    """Refuse, before anything is submitted, SQL on a warehouse that is not RUNNING: a statement
    would start it, which costs money and is an operator's decision (policy.warehouse_stopped)."""
    warehouse = await ctx.json("GET", f"{WAREHOUSES}/{warehouse_id}")
    state = str(warehouse.get("state") or "UNKNOWN")
    if state != "RUNNING":
        name = warehouse.get("name") or warehouse_id
        raise PolicyError(
            f"Warehouse {name!r} ({warehouse_id}) is {state}; a read-only copilot does not start "
            "warehouses, so the statement was not sent.",
            code="policy.warehouse_stopped",
            hint=f"Ask an operator to start it (`lakegate call start_warehouse -i warehouse_id="
            f"{warehouse_id}`), use a running warehouse, or let the copilot start warehouses with "
            "`copilot.allow_warehouse_start: true` in lakegate.yaml.",
            details={"warehouse_id": warehouse_id, "state": state},
        )


async def _permission(ctx: ActionContext, warehouse_id: str) -> str:
    """This principal's level on the warehouse: from its ACL when it may read it (CAN_MANAGE),
    else CAN_USE (it could read the warehouse, but not its permissions)."""
    try:
        acl = await ctx.json("GET", f"/api/2.0/permissions/warehouses/{warehouse_id}")
    except LakegateError:
        return "CAN_USE"
    me = str(getattr(ctx.connector.auth, "client_id", "") or "")
    levels = [
        p.get("permission_level")
        for entry in acl.get("access_control_list") or []
        if me and entry.get("service_principal_name") == me
        for p in entry.get("all_permissions") or []
    ]
    known = [lv for lv in levels if lv in _LEVELS]
    return max(known, key=_LEVELS.index) if known else "CAN_MANAGE"


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
