"""The Thrift endpoint that SQL warehouses advertise in `odbc_params`: TCLIService over HTTP,
as the Databricks SQL connector (default backend), ODBC and JDBC drivers speak it.

Only the route lives here: the Thrift machinery is imported on the first call, so a workspace
that never sees a Thrift client starts as fast as before.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

if TYPE_CHECKING:
    from lakegate.workspace.state import WorkspaceState

PATH = "/sql/1.0/warehouses/{id}"


def routes(ws: WorkspaceState) -> list[BaseRoute]:
    endpoint: list[Any] = []

    async def call(request: Request) -> Response:
        if not endpoint:
            from lakegate.workspace.sql.thrift.endpoint import ThriftEndpoint

            endpoint.append(ThriftEndpoint(ws))
        return await endpoint[0](request)

    return [Route(PATH, call, methods=["POST"])]
