"""Saved SQL queries (`/api/2.0/sql/queries`): what a job's `sql_task.query.query_id` runs."""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from lakegate.workspace.http import fail, json_body, not_found

if TYPE_CHECKING:
    from lakegate.workspace.state import WorkspaceState

BASE = "/api/2.0/sql/queries"


def get_query(ws: WorkspaceState, query_id: str) -> dict[str, Any]:
    query = ws.store.get("query", query_id)
    if query is None:
        raise not_found("Query", query_id)
    return query


def routes(ws: WorkspaceState) -> list[BaseRoute]:
    async def create(request: Request) -> Response:
        principal = await ws.identity.authenticate(request, scope="sql")
        body = (await json_body(request)).get("query")
        if not isinstance(body, dict):
            raise fail("INVALID_PARAMETER_VALUE", 'Send the query as {"query": {...}}.')
        text, name = body.get("query_text"), body.get("display_name")
        if not isinstance(text, str) or not text.strip():
            raise fail("INVALID_PARAMETER_VALUE", "query.query_text is required.")
        if not isinstance(name, str) or not name.strip():
            raise fail("INVALID_PARAMETER_VALUE", "query.display_name is required.")
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        query = {
            "id": str(uuid.uuid4()),
            "display_name": name,
            "query_text": text,
            "warehouse_id": body.get("warehouse_id"),
            "catalog": body.get("catalog"),
            "schema": body.get("schema"),
            "description": body.get("description", ""),
            "owner_user_name": principal.application_id,
            "create_time": now,
            "update_time": now,
            "lifecycle_state": "ACTIVE",
        }
        query = {k: v for k, v in query.items() if v is not None}
        ws.store.put("query", query["id"], query)
        return JSONResponse(query)

    async def get(request: Request) -> Response:
        await ws.identity.authenticate(request, scope="sql")
        return JSONResponse(get_query(ws, request.path_params["id"]))

    async def listing(request: Request) -> Response:
        await ws.identity.authenticate(request, scope="sql")
        return JSONResponse({"results": [q for _, q in ws.store.all("query")]})

    async def delete(request: Request) -> Response:
        await ws.identity.authenticate(request, scope="sql")
        get_query(ws, request.path_params["id"])
        ws.store.delete("query", request.path_params["id"])
        return JSONResponse({})

    return [
        Route(BASE, create, methods=["POST"]),
        Route(BASE, listing, methods=["GET"]),
        Route(BASE + "/{id}", get, methods=["GET"]),
        Route(BASE + "/{id}", delete, methods=["DELETE"]),
    ]
