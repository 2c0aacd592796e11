"""The SQL area's HTTP routes, assembled in one place: the Statement Execution API
(`/api/2.0/sql/statements`), its result chunks and external links, SQL sessions and history.

The services they serve (statements, sessions, history) do not know each other's routes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from lakegate.workspace.http import fail, json_body
from lakegate.workspace.identity.principals import Principal
from lakegate.workspace.sql import history, sessions, statements
from lakegate.workspace.sql.links import MEDIA_TYPES, STORAGE, storage_error, stream
from lakegate.workspace.sql.request import validated

if TYPE_CHECKING:
    from lakegate.workspace.state import WorkspaceState

__all__ = ["routes"]


def routes(ws: WorkspaceState) -> list[BaseRoute]:
    """Statement execution, result chunks and links, SQL sessions and query history."""
    svc = statements.service(ws)
    in_session = sessions.service(ws, svc)
    svc.on_use = in_session.use
    svc.on_set = in_session.set
    svc.on_view = in_session.view

    async def caller(request: Request) -> Principal:
        return await ws.identity.authenticate(request, scope="sql")

    async def execute(request: Request) -> Response:
        principal = await caller(request)
        body, params, wait_s, on_timeout = validated(await json_body(request))
        warehouse_id = body["warehouse_id"]
        ws.warehouses.live(warehouse_id)
        ws.permissions.check(principal, "warehouses", warehouse_id, "CAN_USE")
        session = in_session.bind(principal, body)
        stmt = svc.submit(
            principal, body, params, in_session.settings_of(session),
            views=in_session.views_of(session),
        )  # fmt: skip
        await svc.wait(stmt, wait_s)
        if wait_s > 0 and on_timeout == "CANCEL" and not stmt.done.is_set():
            svc.cancel(stmt)
            await svc.wait(stmt, 10)
        return svc.response(stmt)

    async def get(request: Request) -> Response:
        principal = await caller(request)
        return svc.response(svc.get(request.path_params["id"], principal))

    async def cancel(request: Request) -> Response:
        principal = await caller(request)
        svc.cancel(svc.get(request.path_params["id"], principal))
        return JSONResponse({})

    async def close(request: Request) -> Response:
        principal = await caller(request)
        await svc.close_statement(svc.get(request.path_params["id"], principal))
        return JSONResponse({})

    async def chunk(request: Request) -> Response:
        principal = await caller(request)
        stmt = svc.get(request.path_params["id"], principal)
        index = request.path_params["n"]
        if stmt.state != "SUCCEEDED" or stmt.result is None:
            raise fail(
                "INVALID_STATE" if stmt.state != "CLOSED" else "RESOURCE_DOES_NOT_EXIST",
                f"Statement {stmt.id} has no result to fetch: its state is {stmt.state}.",
            )
        if not 0 <= index < len(stmt.result.chunks):
            raise fail(
                "INVALID_PARAMETER_VALUE",
                f"chunk_index {index} is out of range: the result has "
                f"{len(stmt.result.chunks)} chunk(s).",
            )
        return Response(svc.chunk_body(stmt, index), media_type="application/json")

    async def download(request: Request) -> Response:
        """An external link, answered like a presigned cloud-storage URL would be."""
        ident, index = request.path_params["id"], request.path_params["n"]
        refused = svc.links.refusal(request, ident, index)
        if refused is not None:
            return refused
        stmt = svc.items.get(ident)
        svc.expire()
        if stmt is None or stmt.result is None or index >= len(stmt.result.chunks):
            return storage_error(404, "NoSuchKey", "The specified key does not exist.")
        lz4 = request.query_params.get("X-Compression") == "lz4"  # signed: checked above
        return stream(stmt.result.chunks[index], MEDIA_TYPES[stmt.format], lz4=lz4)

    return [
        Route(statements.BASE, execute, methods=["POST"]),
        Route(statements.BASE + "/{id}", get, methods=["GET"]),
        Route(statements.BASE + "/{id}", close, methods=["DELETE"]),
        Route(statements.BASE + "/{id}/cancel", cancel, methods=["POST"]),
        Route(statements.BASE + "/{id}/result/chunks/{n:int}", chunk, methods=["GET"]),
        Route(STORAGE + "/{id}/chunks/{n:int}", download, methods=["GET"]),
        *history.routes(ws, svc),
        *sessions.routes(ws, in_session),
    ]
