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
# What `PATCH` may change, named in its `update_mask` ("*": all of them).
UPDATABLE = ("display_name", "description", "query_text", "warehouse_id", "catalog", "schema")


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

    async def update(request: Request) -> Response:
        principal = await ws.identity.authenticate(request, scope="sql")
        query = dict(get_query(ws, request.path_params["id"]))
        if not principal.is_admin and query.get("owner_user_name") != principal.application_id:
            raise fail("PERMISSION_DENIED", "Only the query's owner or an admin can change it.")
        body = await json_body(request)
        mask, changes = body.get("update_mask"), body.get("query")
        if not isinstance(mask, str) or not mask.strip():
            raise fail(
                "INVALID_PARAMETER_VALUE",
                f"update_mask is required: the fields to change, comma-separated, of "
                f"{', '.join(UPDATABLE)} (or *).",
            )
        if not isinstance(changes, dict):
            raise fail("INVALID_PARAMETER_VALUE", 'Send the changes as {"query": {...}}.')
        fields = UPDATABLE if mask.strip() == "*" else [f.strip() for f in mask.split(",")]
        unknown = [f for f in fields if f not in UPDATABLE]
        if unknown:
            raise fail(
                "INVALID_PARAMETER_VALUE",
                f"Cannot update {', '.join(unknown)}; update_mask takes {', '.join(UPDATABLE)}.",
            )
        for name in fields:
            value = changes.get(name)
            required = name in ("display_name", "query_text")
            if (required and not (isinstance(value, str) and value.strip())) or not isinstance(
                value, str | None
            ):
                kind = "a non-empty string" if required else "a string"
                raise fail("INVALID_PARAMETER_VALUE", f"query.{name} must be {kind}.")
            if value is None:
                query.pop(name, None)
            else:
                query[name] = value
        query["update_time"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        ws.store.put("query", query["id"], query)
        return JSONResponse(query)

    async def delete(request: Request) -> Response:
        await ws.identity.authenticate(request, scope="sql")
        get_query(ws, request.path_params["id"])
        ws.store.delete("query", request.path_params["id"])
        return JSONResponse({})

    return [
        Route(BASE, create, methods=["POST"]),
        Route(BASE, listing, methods=["GET"]),
        Route(BASE + "/{id}", get, methods=["GET"]),
        Route(BASE + "/{id}", update, methods=["PATCH"]),
        Route(BASE + "/{id}", delete, methods=["DELETE"]),
    ]
