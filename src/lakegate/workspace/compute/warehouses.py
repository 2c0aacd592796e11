"""SQL warehouses: state machine with configurable delays, and `/api/2.0/sql/warehouses`.

States advance lazily (on read) from stored deadlines, so no background task is needed and a
warehouse that was STARTING when the server stopped is RUNNING after a restart.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
import time
from typing import Any, Protocol
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from lakegate.workspace.http import empty, fail, field, int_param, json_body, not_found
from lakegate.workspace.identity.permissions import ObjectType, Permissions
from lakegate.workspace.identity.principals import Identity, Principal
from lakegate.workspace.store import Store

LEVELS = ("CAN_USE", "CAN_MONITOR", "CAN_MANAGE", "IS_OWNER")
CLUSTER_SIZES = (
    "2X-Small",
    "X-Small",
    "Small",
    "Medium",
    "Large",
    "X-Large",
    "2X-Large",
    "3X-Large",
    "4X-Large",
)
DEFAULT_DELAYS = {"starting": 1.0, "stopping": 0.5, "deleting": 0.5}
_NEXT = {"STARTING": "RUNNING", "STOPPING": "STOPPED", "DELETING": "DELETED"}
_EDITABLE: dict[str, type | tuple[type, ...]] = {
    "name": str,
    "cluster_size": str,
    "min_num_clusters": int,
    "max_num_clusters": int,
    "auto_stop_mins": int,
    "warehouse_type": str,
    "enable_serverless_compute": bool,
    "enable_photon": bool,
    "tags": dict,
    "spot_instance_policy": str,
    "channel": dict,
}


def delays_from(value: float | dict[str, float] | None = None) -> dict[str, float]:
    """`warehouse_delays`: one number for every transition, or per transition name."""
    if value is None:
        return dict(DEFAULT_DELAYS)
    if isinstance(value, int | float):
        return dict.fromkeys(DEFAULT_DELAYS, float(value))
    unknown = set(value) - set(DEFAULT_DELAYS)
    if unknown:
        raise ValueError(
            f"unknown warehouse delay(s) {sorted(unknown)}; use {list(DEFAULT_DELAYS)}"
        )
    return {**DEFAULT_DELAYS, **{k: float(v) for k, v in value.items()}}


class Warehouses:
    """The workspace's SQL warehouses, in memory and written through to the store."""

    def __init__(self, store: Store, delays: dict[str, float], host: str) -> None:
        self.store = store
        self.delays = delays
        self.host = host  # the workspace URL, for odbc_params / jdbc_url
        url = urlsplit(host)  # parsed once: urlsplit's properties are slow on the hot path
        self._endpoint = (
            url.scheme,
            url.hostname,
            url.port or (443 if url.scheme == "https" else 80),
        )
        self._items: dict[str, dict[str, Any]] = dict(store.all("warehouse"))
        self._last_used: dict[str, float] = {}

    def object_type(self) -> ObjectType:
        return ObjectType("warehouses", "/sql/warehouses/", LEVELS, self.exists)

    def exists(self, warehouse_id: str) -> bool:
        item = self._items.get(warehouse_id)
        return item is not None and self._advance(item)["state"] != "DELETED"

    def create(self, config: dict[str, Any], creator: str, *, state: str = "STARTING") -> str:
        name = config["name"]
        if any(w["name"] == name and w["state"] != "DELETED" for w in self._items.values()):
            raise fail("RESOURCE_ALREADY_EXISTS", f"A SQL warehouse named {name!r} already exists.")
        warehouse_id = secrets.token_hex(8)
        item = {
            "id": warehouse_id,
            "name": name,
            "cluster_size": "Small",
            "min_num_clusters": 1,
            "max_num_clusters": 1,
            "auto_stop_mins": 120,
            "warehouse_type": "PRO",
            "enable_serverless_compute": False,
            "enable_photon": True,
            "spot_instance_policy": "COST_OPTIMIZED",
            "channel": {"name": "CHANNEL_NAME_CURRENT"},
            "tags": {},
            **{k: v for k, v in config.items() if k != "name"},
            "creator_name": creator,
            "state": "STOPPED",
            "until": 0.0,
        }
        self._items[warehouse_id] = item
        self._move(item, state)
        return warehouse_id

    def get(self, warehouse_id: str) -> dict[str, Any]:
        """The warehouse as Databricks' `GetWarehouseResponse` (also for a DELETED one)."""
        item = self._items.get(warehouse_id)
        if item is None:
            raise not_found("Warehouse", warehouse_id)
        return self._view(self._advance(item))

    def live(self, warehouse_id: str) -> dict[str, Any]:
        item = self._items.get(warehouse_id)
        if item is None or self._advance(item)["state"] in ("DELETING", "DELETED"):
            raise not_found("Warehouse", warehouse_id)
        return item

    def ids(self) -> list[str]:
        return [i for i in self._items if self.exists(i)]

    def start(self, warehouse_id: str) -> None:
        item = self.live(warehouse_id)
        if item["state"] == "STOPPING":
            # Databricks queues the start behind the stop; the delay covers both.
            item["state"] = "STOPPED"
        if item["state"] == "STOPPED":
            self._move(item, "STARTING")
        self._last_used[warehouse_id] = time.time()

    def stop(self, warehouse_id: str) -> None:
        item = self.live(warehouse_id)
        if item["state"] in ("RUNNING", "STARTING"):
            self._move(item, "STOPPING")

    def delete(self, warehouse_id: str) -> None:
        self._move(self.live(warehouse_id), "DELETING")

    def edit(self, warehouse_id: str, config: dict[str, Any]) -> None:
        item = self.live(warehouse_id)
        name = config.get("name")
        if name and any(
            w["name"] == name and w["id"] != warehouse_id and w["state"] != "DELETED"
            for w in self._items.values()
        ):
            raise fail("RESOURCE_ALREADY_EXISTS", f"A SQL warehouse named {name!r} already exists.")
        item.update(config)
        self.store.put("warehouse", warehouse_id, item)

    async def ensure_running(self, warehouse_id: str, timeout_s: float = 60.0) -> dict[str, Any]:
        """Wait until the warehouse is RUNNING, starting it if it is stopped."""
        deadline = time.monotonic() + timeout_s
        self.start(warehouse_id)
        while (item := self.live(warehouse_id))["state"] != "RUNNING":
            if item["state"] in ("STOPPED", "STOPPING"):
                self.start(warehouse_id)  # someone stopped it meanwhile
            if time.monotonic() > deadline:
                raise fail("TEMPORARILY_UNAVAILABLE", f"Warehouse {warehouse_id} did not start.")
            await asyncio.sleep(min(0.05, max(0.005, item["until"] - time.time())))
        self._last_used[warehouse_id] = time.time()
        return self._view(item)

    def _move(self, item: dict[str, Any], state: str) -> None:
        item["state"] = state
        delay = {"STARTING": "starting", "STOPPING": "stopping", "DELETING": "deleting"}.get(state)
        item["until"] = time.time() + self.delays[delay] if delay else 0.0
        if state == "RUNNING":
            self._last_used[item["id"]] = time.time()
        self.store.put("warehouse", item["id"], item)

    def _advance(self, item: dict[str, Any]) -> dict[str, Any]:
        now = time.time()
        state = item["state"]
        if state in _NEXT and now >= item["until"]:
            self._move(item, _NEXT[state])
        elif state == "RUNNING" and item["auto_stop_mins"] > 0:
            idle = now - self._last_used.setdefault(item["id"], now)
            if idle > item["auto_stop_mins"] * 60:
                self._move(item, "STOPPED")
        return item

    def _view(self, item: dict[str, Any]) -> dict[str, Any]:
        scheme, hostname, port = self._endpoint
        path = f"/sql/1.0/warehouses/{item['id']}"
        running = item["state"] == "RUNNING"
        view = {k: v for k, v in item.items() if k != "until"}
        view.update(
            num_clusters=item["min_num_clusters"] if running else 0,
            num_active_sessions=0,
            odbc_params={
                "hostname": hostname,
                "path": path,
                "protocol": scheme,
                "port": port,
            },
            jdbc_url=(
                f"jdbc:databricks://{hostname}:{port}/default;transportMode=http;"
                f"ssl={int(scheme == 'https')};AuthMech=3;httpPath={path};"
            ),
            health={"status": "HEALTHY"} if item["state"] != "DELETED" else {},
        )
        return view


def _validated(body: dict[str, Any], *, creating: bool) -> dict[str, Any]:
    config = {k: field(body, k, kind) for k, kind in _EDITABLE.items() if body.get(k) is not None}
    if creating and not config.get("name"):
        raise fail("INVALID_PARAMETER_VALUE", "Missing required field: name")
    if "name" in config and not config["name"].strip():
        raise fail("INVALID_PARAMETER_VALUE", "Warehouse name must not be empty.")
    if "cluster_size" in config and config["cluster_size"] not in CLUSTER_SIZES:
        raise fail(
            "INVALID_PARAMETER_VALUE",
            f"cluster_size {config['cluster_size']!r} is not valid; use one of "
            f"{', '.join(CLUSTER_SIZES)}.",
        )
    if config.get("warehouse_type", "PRO") not in ("PRO", "CLASSIC", "TYPE_UNSPECIFIED"):
        raise fail("INVALID_PARAMETER_VALUE", "warehouse_type must be PRO or CLASSIC.")
    low, high = config.get("min_num_clusters", 1), config.get("max_num_clusters", 1)
    if not 1 <= low <= high <= 40:
        raise fail(
            "INVALID_PARAMETER_VALUE",
            "Need 1 <= min_num_clusters <= max_num_clusters <= 40.",
        )
    stop = config.get("auto_stop_mins")
    if stop is not None and stop != 0 and stop < 1:
        raise fail("INVALID_PARAMETER_VALUE", "auto_stop_mins must be 0 (never) or positive.")
    return config


def _page_token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


def _offset(token: str) -> int:
    try:
        kind, _, value = base64.urlsafe_b64decode(token.encode()).decode().partition(":")
        if kind == "offset" and int(value) >= 0:
            return int(value)
    except (ValueError, UnicodeDecodeError):
        pass
    raise fail("INVALID_PARAMETER_VALUE", "page_token is not valid; pass the one a list returned.")


class WarehousesHost(Protocol):
    """What the warehouses routes need of the workspace: who calls, permissions, warehouses."""

    identity: Identity
    permissions: Permissions
    warehouses: Warehouses


class WarehousesApi:
    """The SQL warehouses endpoints; every one accepts tokens with the `sql` scope."""

    def __init__(self, ws: WarehousesHost) -> None:
        self.ws = ws
        self.warehouses, self.permissions = ws.warehouses, ws.permissions

    def routes(self) -> list[BaseRoute]:
        base = "/api/2.0/sql/warehouses"
        return [
            Route("/api/2.0/sql/config/warehouses", self.workspace_config, methods=["GET"]),
            Route(base, self.listing, methods=["GET"]),
            Route(base, self.create, methods=["POST"]),
            Route(base + "/{id}", self.get, methods=["GET"]),
            Route(base + "/{id}", self.delete, methods=["DELETE"]),
            Route(base + "/{id}/edit", self.edit, methods=["POST"]),
            Route(base + "/{id}/start", self.start, methods=["POST"]),
            Route(base + "/{id}/stop", self.stop, methods=["POST"]),
            Route("/api/2.0/preview/sql/data_sources", self.data_sources, methods=["GET"]),
        ]

    async def _caller(self, request: Request) -> Principal:
        return await self.ws.identity.authenticate(request, scope="sql")

    async def _live(self, request: Request, level: str) -> str:
        """The id of the live warehouse the path names, on which the caller holds `level`."""
        principal = await self._caller(request)
        warehouse_id = request.path_params["id"]
        self.warehouses.live(warehouse_id)
        self.permissions.check(principal, "warehouses", warehouse_id, level)
        return warehouse_id

    def _can_manage(self, principal: Principal, warehouse_id: str) -> bool:
        return principal.is_admin or self.permissions.allows(
            principal, "warehouses", warehouse_id, "CAN_MANAGE"
        )

    async def listing(self, request: Request) -> Response:
        principal = await self._caller(request)
        page_size = int_param(request, "page_size", default=0, high=1000)
        token = request.query_params.get("page_token")
        start = _offset(token) if token else 0
        # Databricks lists only the warehouses the caller can manage.
        visible = [i for i in self.warehouses.ids() if self._can_manage(principal, i)]
        end = start + page_size if page_size else len(visible)
        out: dict[str, Any] = {"warehouses": [self.warehouses.get(i) for i in visible[start:end]]}
        if end < len(visible):
            out["next_page_token"] = _page_token(end)
        return JSONResponse(out)

    async def data_sources(self, request: Request) -> Response:
        """The legacy SQL API's data sources (`w.data_sources.list()`, whose ids the legacy
        `queries.create` takes): one per warehouse the caller may use, a JSON array; here a data
        source's id is its warehouse's."""
        principal = await self._caller(request)
        usable = [
            i for i in self.warehouses.ids()
            if principal.is_admin or self.permissions.allows(principal, "warehouses", i, "CAN_USE")
        ]  # fmt: skip
        return JSONResponse([_data_source(self.warehouses.get(i)) for i in usable])

    async def create(self, request: Request) -> Response:
        principal = await self._caller(request)
        config = _validated(await json_body(request), creating=True)
        if not principal.is_admin:
            raise fail("PERMISSION_DENIED", "Only workspace admins can create SQL warehouses.")
        warehouse_id = self.warehouses.create(config, principal.application_id)
        self.permissions.grant(
            "warehouses",
            warehouse_id,
            "service_principal_name",
            principal.application_id,
            "IS_OWNER",
        )
        return JSONResponse({"id": warehouse_id})

    async def get(self, request: Request) -> Response:
        principal = await self._caller(request)
        warehouse_id = request.path_params["id"]
        view = self.warehouses.get(warehouse_id)
        if view["state"] != "DELETED":
            self.permissions.check(principal, "warehouses", warehouse_id, "CAN_USE")
        return JSONResponse(view)

    async def delete(self, request: Request) -> Response:
        self.warehouses.delete(await self._live(request, "CAN_MANAGE"))
        return empty()

    async def edit(self, request: Request) -> Response:
        principal = await self._caller(request)
        warehouse_id = request.path_params["id"]
        body = await json_body(request)
        self.warehouses.live(warehouse_id)
        self.permissions.check(principal, "warehouses", warehouse_id, "CAN_MANAGE")
        self.warehouses.edit(warehouse_id, _validated(body, creating=False))
        return empty()

    async def start(self, request: Request) -> Response:
        self.warehouses.start(await self._live(request, "CAN_USE"))
        return empty()

    async def stop(self, request: Request) -> Response:
        self.warehouses.stop(await self._live(request, "CAN_MANAGE"))
        return empty()

    async def workspace_config(self, request: Request) -> Response:
        """The workspace-wide warehouse settings (`get_workspace_warehouse_config`)."""
        await self._caller(request)
        types = [{"warehouse_type": t, "enabled": True} for t in ("PRO", "CLASSIC")]
        return JSONResponse(
            {
                "security_policy": "NONE",
                "data_access_config": [],
                "sql_configuration_parameters": {"configuration_pairs": []},
                "enabled_warehouse_types": types,
                "enable_serverless_compute": False,
            }
        )


def routes(ws: WarehousesHost) -> list[BaseRoute]:
    """The SQL warehouses API and the workspace's warehouse settings."""
    return WarehousesApi(ws).routes()


def _data_source(warehouse: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": warehouse["id"],
        "name": warehouse["name"],
        "warehouse_id": warehouse["id"],
        "endpoint_id": warehouse["id"],
        "type": "databricks_internal",
        "syntax": "sql",
        "paused": 0,
        "pause_reason": "",
        "view_only": False,
        "supports_auto_limit": True,
    }
