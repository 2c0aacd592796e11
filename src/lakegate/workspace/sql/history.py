"""Query History API: `GET /api/2.0/sql/history/queries` over the recorded statements."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from lakegate.workspace.http import fail, int_param

if TYPE_CHECKING:
    from lakegate.workspace.sql.statements import Statement, StatementService
    from lakegate.workspace.state import WorkspaceState

# Statement states as the query history names them.
STATUS = {
    "PENDING": "QUEUED",
    "RUNNING": "RUNNING",
    "SUCCEEDED": "FINISHED",
    "CLOSED": "FINISHED",
    "FAILED": "FAILED",
    "CANCELED": "CANCELED",
}


def query_info(stmt: Statement) -> dict[str, Any]:
    """A statement as a Query History `QueryInfo`."""
    start = int(stmt.created * 1000)
    info: dict[str, Any] = {
        "query_id": stmt.id,
        "status": STATUS[stmt.state],
        "query_text": stmt.text,
        "statement_type": stmt.statement_type,
        "user_id": int(stmt.principal_id),
        "user_name": stmt.principal_name,
        "executed_as_user_id": int(stmt.principal_id),
        "executed_as_user_name": stmt.principal_name,
        "warehouse_id": stmt.warehouse_id,
        "endpoint_id": stmt.warehouse_id,
        "query_start_time_ms": start,
        "rows_produced": stmt.rows,
        "is_final": stmt.state in STATUS
        and STATUS[stmt.state] in ("FINISHED", "FAILED", "CANCELED"),
        "lookup_key": stmt.id,
        "client_application": stmt.source,
    }
    if stmt.ended is not None:
        end = int(stmt.ended * 1000)
        info.update(query_end_time_ms=end, execution_end_time_ms=end, duration=end - start)
    if stmt.error:
        info["error_message"] = stmt.error["message"]
    return info


def _many(request: Request, name: str) -> list[str]:
    """`filter_by.X` given repeated, or comma separated (both appear in the wild)."""
    values = request.query_params.getlist(f"filter_by.{name}")
    return [v for raw in values for v in raw.split(",") if v]


def _page(token: str | None) -> int:
    if not token:
        return 0
    try:
        kind, _, value = base64.urlsafe_b64decode(token.encode()).decode().partition(":")
        if kind == "history" and int(value) >= 0:
            return int(value)
    except (ValueError, UnicodeDecodeError):
        pass
    raise fail("INVALID_PARAMETER_VALUE", "page_token is not valid; pass the one a list returned.")


def routes(ws: WorkspaceState, svc: StatementService) -> list[BaseRoute]:
    async def listing(request: Request) -> Response:
        principal = await ws.identity.authenticate(request, scope="sql")
        limit = int_param(request, "max_results", default=100, low=1, high=1000)
        users, warehouses = _many(request, "user_ids"), _many(request, "warehouse_ids")
        statuses, ids = _many(request, "statuses"), _many(request, "statement_ids")
        since = request.query_params.get("filter_by.query_start_time_range.start_time_ms")
        until = request.query_params.get("filter_by.query_start_time_range.end_time_ms")
        try:
            since_ms = int(since) if since else None
            until_ms = int(until) if until else None
        except ValueError:
            raise fail(
                "INVALID_PARAMETER_VALUE", "query_start_time_range values must be integers (ms)."
            ) from None
        found = []
        for stmt in sorted(svc.items.values(), key=lambda s: s.created, reverse=True):
            if not principal.is_admin and stmt.principal_id != principal.id:
                continue  # non-admins see their own queries
            info = query_info(stmt)
            start = info["query_start_time_ms"]
            if (
                (users and stmt.principal_id not in users)
                or (warehouses and stmt.warehouse_id not in warehouses)
                or (statuses and info["status"] not in statuses)
                or (ids and stmt.id not in ids)
                or (since_ms is not None and start < since_ms)
                or (until_ms is not None and start > until_ms)
            ):
                continue
            found.append(info)
        offset = _page(request.query_params.get("page_token"))
        page = found[offset : offset + limit]
        body: dict[str, Any] = {"res": page, "has_next_page": offset + limit < len(found)}
        if body["has_next_page"]:
            token = base64.urlsafe_b64encode(f"history:{offset + limit}".encode()).decode()
            body["next_page_token"] = token
        return JSONResponse(body)

    return [Route("/api/2.0/sql/history/queries", listing, methods=["GET"])]
