"""The two ASGI apps, workspace and account, each mounting its route modules explicitly."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute
from starlette.types import ASGIApp

from lakegate.workspace import workspace_conf
from lakegate.workspace.accesslog import AccessLogMiddleware
from lakegate.workspace.catalog import catalogs, functions, grants, privileges, writes
from lakegate.workspace.compute import warehouses
from lakegate.workspace.faults import FaultInjector
from lakegate.workspace.http import ApiError, api_error
from lakegate.workspace.identity import (
    accounts,
    federation,
    idp,
    oidc,
    permissions,
    scim,
    scim_users,
    u2m,
)
from lakegate.workspace.jobs import jobs
from lakegate.workspace.mcp import managed
from lakegate.workspace.sql import routes as sql_routes
from lakegate.workspace.sql import statements, thrift
from lakegate.workspace.state import Settings, WorkspaceState

__all__ = ["Settings", "WorkspaceState", "create_account_app", "create_workspace_app"]

log = logging.getLogger(__name__)


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
    """The workspace host: OIDC, tokens, warehouses, permissions, SCIM, SQL, catalog, jobs."""
    routes = [
        *oidc.workspace_routes(ws),
        *u2m.routes(ws),
        *warehouses.routes(ws),
        *permissions.routes(ws),
        *scim.routes(ws),
        *sql_routes.routes(ws),
        *catalogs.routes(ws),
        *writes.routes(ws),
        *jobs.routes(ws),
        *functions.routes(ws),
        *grants.routes(ws),
        *scim_users.routes(ws),
        *managed.routes(ws),
        *thrift.routes(ws),
        *workspace_conf.routes(ws),
    ]
    # Every SQL path (REST, sessions, Thrift, jobs, the managed MCP server) submits through the
    # one statement service: Unity Catalog privileges are checked there, before DuckDB runs.
    checker = privileges.Privileges(ws)
    statements.service(ws).authorize = checker.authorize
    statements.service(ws).seen = checker.seen
    statements.service(ws).on_grants = checker.sql_grants
    statements.service(ws).on_created = checker.owner_created
    statements.service(ws).on_dropped = checker.dropped
    return _wrap(ws, routes, "workspace")


def create_account_app(ws: WorkspaceState) -> ASGIApp:
    """The account host: account OIDC, SCIM service principals, secrets, assignments."""
    routes = [
        *oidc.account_routes(ws),
        *accounts.routes(ws),
        *federation.routes(ws),
        *scim_users.account_routes(ws),
    ]
    if ws.settings.idp:
        idp.idp(ws).ensure_policy()
        routes += idp.routes(ws)
    return _wrap(ws, routes, "account")
