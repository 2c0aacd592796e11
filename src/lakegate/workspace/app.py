"""WorkspaceState (everything a route needs) and the two ASGI apps: workspace and account."""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import logging
import random
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute
from starlette.types import ASGIApp

from lakegate.workspace import (
    accounts,
    grants,
    mcp_sql,
    oidc,
    permissions,
    scim,
    scim_users,
    sessions,
    thriftapi,
    ucfunctions,
    warehouses,
)
from lakegate.workspace.accesslog import AccessLog, AccessLogMiddleware
from lakegate.workspace.faults import FaultInjector, FaultPlan
from lakegate.workspace.http import ApiError, api_error
from lakegate.workspace.identity import Identity, Principal
from lakegate.workspace.permissions import Permissions
from lakegate.workspace.store import Store
from lakegate.workspace.warehouses import Warehouses

log = logging.getLogger(__name__)

# Part 2's feature modules; each exposes `routes(ws) -> list[BaseRoute]` once it exists.
FEATURE_MODULES = ("statements", "catalog", "jobs")
SEED_WAREHOUSES = (("Starter Warehouse", "RUNNING"), ("Shared Endpoint", "STOPPED"))
ADMIN_NAME = "lakegate-admin"


@dataclass
class Settings:
    """How this workspace was started."""

    state_dir: Path
    host: str
    account_host: str
    token_ttl: int = 3600
    delays: dict[str, float] = field(default_factory=warehouses.delays_from)
    samples_scale: float = 0.01  # TPC-H scale factor of samples.tpch

    @property
    def data_dir(self) -> Path:
        """Where part 2 keeps its DuckDB file."""
        return self.state_dir

    @property
    def duckdb_path(self) -> Path:
        return self.state_dir / "warehouse.duckdb"


class WorkspaceState:
    """One account with one workspace: identity, permissions, warehouses, faults, access log."""

    api_error = staticmethod(api_error)

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.host = settings.host
        self.account_host = settings.account_host
        self.store = Store(settings.state_dir / "state.sqlite")
        self.identity = Identity(self.store, token_ttl=settings.token_ttl)
        self.permissions = Permissions(self.store)
        self.warehouses = Warehouses(self.store, settings.delays, settings.host)
        self.permissions.register(self.warehouses.object_type())
        self.access_log = AccessLog(settings.state_dir / "requests.jsonl")
        self.faults: list[FaultInjector] = []  # one per server, sharing the same plan
        # Part 2's services (DuckDB engine, jobs) register how to stop; run first on close.
        self.closers: list[Callable[[], None]] = []
        meta = self.store.get("meta", "workspace")
        if meta is None:
            meta = {
                "account_id": str(uuid.uuid4()),
                "workspace_id": str(random.SystemRandom().randrange(10**15, 10**16)),
            }
            self.store.put("meta", "workspace", meta)
        self.account_id: str = meta["account_id"]
        self.workspace_id: str = meta["workspace_id"]
        self.admin = self._seed()

    def _seed(self) -> Principal:
        """The admin service principal and the two seed warehouses, on first start only."""
        meta = self.store.get("meta", "admin")
        if meta is not None:
            admin = self.identity.principal(meta["principal_id"])
            if admin is not None:
                return admin
        admin = self.identity.create_principal(
            ADMIN_NAME, account_admin=True, workspace_permissions=["ADMIN"]
        )
        self.store.put("meta", "admin", {"principal_id": admin.id})
        for name, state in SEED_WAREHOUSES:
            warehouse_id = self.warehouses.create(
                {"name": name, "cluster_size": "2X-Small", "auto_stop_mins": 0},
                admin.application_id,
                state=state,
            )
            self.permissions.grant(
                "warehouses",
                warehouse_id,
                "service_principal_name",
                admin.application_id,
                "IS_OWNER",
            )
        return admin

    def set_fault_plan(self, plan: FaultPlan | None) -> None:
        for injector in self.faults:
            injector.plan = plan

    def close(self) -> None:
        for closer in reversed(self.closers):
            closer()
        self.access_log.close()
        self.store.close()


async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return exc.response()


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    if exc.status_code in (404, 405):
        return api_error(
            404, "ENDPOINT_NOT_FOUND", f"No API found for '{request.method} {request.url.path}'"
        )
    return api_error(exc.status_code, "BAD_REQUEST", str(exc.detail))


def _caller_named(ws: WorkspaceState, server: str) -> Callable[..., Awaitable[JSONResponse]]:
    """`_http_error`, after naming a valid caller for the access log (no route checked it)."""
    audience = "account" if server == "account" else "workspace"

    async def handler(request: Request, exc: Exception) -> JSONResponse:
        with contextlib.suppress(ApiError):
            header = request.headers.get("authorization")
            ws.identity.check_bearer(header, request.scope, "all-apis", audience)
        return await _http_error(request, exc)

    return handler


async def _crash(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return api_error(500, "INTERNAL_ERROR", f"Internal error: {type(exc).__name__}")


def feature_routes(ws: WorkspaceState) -> list[BaseRoute]:
    """Routes from part 2's modules that exist already (statements, catalog, jobs)."""
    found: list[BaseRoute] = []
    for name in FEATURE_MODULES:
        qualified = f"lakegate.workspace.{name}"
        if importlib.util.find_spec(qualified) is None:
            continue
        module = importlib.import_module(qualified)
        if hasattr(module, "routes"):
            found.extend(module.routes(ws))
    return found


def _wrap(ws: WorkspaceState, routes: list[BaseRoute], server: str) -> ASGIApp:
    app = Starlette(
        routes=routes,
        exception_handlers={
            ApiError: _api_error,
            HTTPException: _caller_named(ws, server),
            Exception: _crash,
        },
    )
    injector = FaultInjector(app)
    ws.faults.append(injector)
    return AccessLogMiddleware(injector, ws.access_log, server)


def create_workspace_app(ws: WorkspaceState) -> ASGIApp:
    """The workspace host: OIDC, tokens, warehouses, permissions, SCIM, and part 2's features."""
    routes = [
        *oidc.workspace_routes(ws),
        *warehouses.routes(ws),
        *permissions.routes(ws),
        *scim.routes(ws),
        *feature_routes(ws),
        *sessions.routes(ws),
        *ucfunctions.routes(ws),
        *grants.routes(ws),
        *scim_users.routes(ws),
        *mcp_sql.routes(ws),
        *thriftapi.routes(ws),
    ]
    return _wrap(ws, routes, "workspace")


def create_account_app(ws: WorkspaceState) -> ASGIApp:
    """The account host: account OIDC, SCIM service principals, secrets, assignments."""
    return _wrap(ws, [*oidc.account_routes(ws), *accounts.routes(ws)], "account")
