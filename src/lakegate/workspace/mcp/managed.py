"""The workspace's managed MCP servers on the official `mcp` SDK (streamable HTTP, stateless):
`/api/2.0/mcp/sql` (execute_sql, execute_sql_read_only, poll_sql_result) and
`/api/2.0/mcp/functions/{catalog}/{schema}` (the schema's Unity Catalog functions as tools).

Both take the workspace's Bearer tokens and run statements through the workspace's own
statement service. `mcp` is imported on the first MCP request, so start-up stays fast.
"""

from __future__ import annotations

import asyncio
import json
import logging
from importlib import metadata
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

from lakegate.workspace.catalog import functions
from lakegate.workspace.http import ApiError
from lakegate.workspace.identity.principals import Principal
from lakegate.workspace.sql.readonly import read_refusal
from lakegate.workspace.sql.statements import Statement, service
from lakegate.workspace.sql.translate import Parameter

if TYPE_CHECKING:
    from lakegate.workspace.state import WorkspaceState

log = logging.getLogger(__name__)
SQL_PATH = "/api/2.0/mcp/sql"
FUNCTIONS_PATH = "/api/2.0/mcp/functions/{catalog}/{schema}"
PRINCIPAL = "lakegate.mcp.caller"  # request.scope key: the authenticated caller
MAX_ROWS = 1000  # rows a tool answer carries; the manifest says `truncated` beyond
SOURCE = "Databricks SQL MCP server"

_QUERY = {
    "type": "object",
    "properties": {
        "query": {"type": "string", "description": "One Databricks SQL statement to run."}
    },
    "required": ["query"],
}
_POLL = {
    "type": "object",
    "properties": {
        "statement_id": {
            "type": "string",
            "description": "The statement_id that execute_sql or execute_sql_read_only returned.",
        }
    },
    "required": ["statement_id"],
}
_ANSWER = (
    " Answers with JSON: statement_id, status.state and, once SUCCEEDED, manifest (columns) "
    "and result.data_array (rows, at most 1000). While the state is PENDING or RUNNING, call "
    "poll_sql_result with the statement_id."
)
SQL_TOOLS: list[tuple[str, str, dict[str, Any], dict[str, bool]]] = [
    (
        "execute_sql",
        "Run one SQL statement on a SQL warehouse, including statements that write data "
        "(INSERT, CREATE, DROP ...)." + _ANSWER,
        _QUERY,
        {"read_only_hint": False, "destructive_hint": True, "idempotent_hint": False},
    ),
    (
        "execute_sql_read_only",
        "Run one read-only SQL statement (SELECT, SHOW or DESCRIBE) on a SQL warehouse; "
        "statements that write are refused." + _ANSWER,
        _QUERY,
        {"read_only_hint": True, "destructive_hint": False, "idempotent_hint": True},
    ),
    (
        "poll_sql_result",
        "Return the current state and, once SUCCEEDED, the rows of a statement started by "
        "execute_sql or execute_sql_read_only.",
        _POLL,
        {"read_only_hint": True, "destructive_hint": False, "idempotent_hint": True},
    ),
]


class ToolError(Exception):
    """A tool call the server refuses: answered as a tool result with isError."""


class ManagedMcp:
    """One stateless MCP server for both paths; the tools depend on the request's path."""

    def __init__(self, ws: WorkspaceState) -> None:
        self.ws = ws
        self.wait_s = 5.0  # execute_sql answers after this, with a statement to poll
        self._manager: Any = None
        self._ready: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None

    # -- HTTP ------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        path = scope.get("path_params", {})
        if "catalog" in path:
            principal = await self.ws.identity.authenticate(request)
            # A schema that does not exist is a 404, as for any Unity Catalog path.
            await asyncio.to_thread(functions.reader(self.ws).schema_exists, path)
        else:
            principal = await self.ws.identity.authenticate(request, scope="sql")
        scope[PRINCIPAL] = principal
        await self._started()
        await self._manager.handle_request(scope, receive, send)

    async def _started(self) -> None:
        """Start the SDK's session manager on the server loop on first use; it runs until the
        loop ends (the workspace stopping cancels it)."""
        if self._ready is None:
            self._ready = asyncio.Event()
            self._manager = self._build()
            self._task = asyncio.create_task(self._serve(), name="lakegate-managed-mcp")
        if not self._ready.is_set():
            assert self._task is not None
            ready = asyncio.ensure_future(self._ready.wait())
            await asyncio.wait({ready, self._task}, return_when=asyncio.FIRST_COMPLETED)
            ready.cancel()
        if not self._ready.is_set() or self._task is None or self._task.done():
            raise ApiError(503, "TEMPORARILY_UNAVAILABLE", "The managed MCP server is not running.")

    async def _serve(self) -> None:
        assert self._ready is not None
        try:
            async with self._manager.run():
                self._ready.set()
                await asyncio.Event().wait()
        except Exception:
            log.exception("the managed MCP server stopped")

    def _build(self) -> Any:
        from mcp.server import Server
        from mcp.server.streamable_http_manager import StreamableHTTPSessionManager

        server: Any = Server(
            "databricks-sql",
            version=_version(),
            instructions=(
                "Databricks SQL on the local lakegate workspace: run statements with "
                "execute_sql, then poll_sql_result until the state is terminal."
            ),
            on_list_tools=self._list_tools,
            on_call_tool=self._call_tool,
        )
        # Stateless: every request stands alone, as the managed servers behave.
        return StreamableHTTPSessionManager(app=server, json_response=True, stateless=True)

    # -- MCP -------------------------------------------------------------------------------

    async def _list_tools(self, ctx: Any, params: Any) -> Any:
        import mcp_types as types

        request: Request = ctx.request
        if "catalog" in request.path_params:
            specs = await asyncio.to_thread(functions.reader(self.ws).tools, **request.path_params)
        else:
            specs = SQL_TOOLS
        tools = [
            types.Tool(
                name=name,
                description=description,
                input_schema=schema,
                annotations=types.ToolAnnotations(**hints),
            )
            for name, description, schema, hints in specs
        ]
        return types.ListToolsResult(tools=tools)

    async def _call_tool(self, ctx: Any, params: Any) -> Any:
        import mcp_types as types

        request: Request = ctx.request
        principal: Principal = request.scope[PRINCIPAL]
        arguments = params.arguments or {}
        meta = getattr(params, "meta", None) or {}
        try:
            if "catalog" in request.path_params:
                answer = await self._function_tool(principal, params.name, arguments, meta, request)
            else:
                answer = await self._sql_tool(principal, params.name, arguments, meta)
        except ToolError as exc:
            return types.CallToolResult(
                content=[types.TextContent(type="text", text=str(exc))], is_error=True
            )
        text = json.dumps(answer)
        return types.CallToolResult(
            content=[types.TextContent(type="text", text=text)], structured_content=answer
        )

    async def _function_tool(
        self,
        principal: Principal,
        name: str,
        arguments: dict[str, Any],
        meta: dict[str, Any],
        request: Request,
    ) -> dict[str, Any]:
        reader = functions.reader(self.ws)
        try:
            call = await asyncio.to_thread(reader.call, name, arguments, **request.path_params)
        except ApiError as exc:
            raise ToolError(exc.message) from None
        return await self._run(principal, call.sql, meta, call.params, (call.catalog, call.schema))

    async def _sql_tool(
        self, principal: Principal, name: str, arguments: dict[str, Any], meta: dict[str, Any]
    ) -> dict[str, Any]:
        if name == "poll_sql_result":
            ident = _text_argument(arguments, "statement_id")
            try:
                stmt = service(self.ws).get(ident, principal)
            except ApiError as exc:
                raise ToolError(exc.message) from None
            await service(self.ws).wait(stmt, self.wait_s)
            return self._answer(stmt)
        if name not in ("execute_sql", "execute_sql_read_only"):
            known = ", ".join(t[0] for t in SQL_TOOLS)
            raise ToolError(f"There is no tool called {name!r}; call one of: {known}.")
        query = _text_argument(arguments, "query")
        if name == "execute_sql_read_only":
            refusal = read_refusal(query, user=principal.application_id)
            if refusal is not None:
                raise ToolError(
                    f"execute_sql_read_only refused the statement: {refusal}. It runs only "
                    "SELECT, SHOW and DESCRIBE; use execute_sql to write."
                )
        return await self._run(principal, query, meta, [])

    async def _run(
        self,
        principal: Principal,
        query: str,
        meta: dict[str, Any],
        params: list[Parameter],
        where: tuple[str, str] | None = None,
    ) -> dict[str, Any]:
        svc = service(self.ws)
        try:
            warehouse_id = self._warehouse(principal, meta.get("warehouse_id"))
        except ApiError as exc:
            raise ToolError(exc.message) from None
        body = {
            "warehouse_id": warehouse_id,
            "statement": query,
            "disposition": "INLINE",
            "format": "JSON_ARRAY",
            "row_limit": MAX_ROWS,
            **(dict(zip(("catalog", "schema"), where, strict=True)) if where else {}),
        }
        stmt = svc.submit(principal, body, params)
        stmt.source = SOURCE
        await svc.wait(stmt, self.wait_s)
        return self._answer(stmt)

    def _warehouse(self, principal: Principal, wanted: Any) -> str:
        """`_meta.warehouse_id`, else a warehouse the caller may use, running ones first."""
        warehouses, permissions = self.ws.warehouses, self.ws.permissions
        if wanted is not None:
            if not isinstance(wanted, str) or not wanted:
                raise ToolError("_meta.warehouse_id must be a warehouse id (a string).")
            warehouses.live(wanted)
            permissions.check(principal, "warehouses", wanted, "CAN_USE")
            return wanted
        usable = [
            i for i in warehouses.ids() if permissions.allows(principal, "warehouses", i, "CAN_USE")
        ]
        if not usable:
            raise ToolError(
                "No SQL warehouse this caller can use: ask for CAN_USE on one, or pass "
                "_meta.warehouse_id."
            )
        running = [i for i in usable if warehouses.get(i)["state"] == "RUNNING"]
        return (running or usable)[0]

    def _answer(self, stmt: Statement) -> dict[str, Any]:
        """The Statement Execution API's answer for `stmt` (state, manifest, first chunk)."""
        return json.loads(service(self.ws).response(stmt).body)


def _version() -> str:
    """lakegate's version, read from the installed metadata (the workspace imports no other
    part of lakegate)."""
    try:
        return metadata.version("lakegate")
    except metadata.PackageNotFoundError:
        return ""


def _text_argument(arguments: dict[str, Any], name: str) -> str:
    value = arguments.get(name)
    if not isinstance(value, str) or not value.strip():
        raise ToolError(f"Argument {name!r} is required and must be a non-empty string.")
    return value


def managed_mcp(ws: WorkspaceState) -> ManagedMcp:
    """The workspace's managed MCP servers, created once (tests tune `wait_s`)."""
    found = getattr(ws, "managed_mcp", None)
    if found is None:
        found = ManagedMcp(ws)
        ws.managed_mcp = found  # type: ignore[attr-defined]
    return found


def routes(ws: WorkspaceState) -> list[BaseRoute]:
    endpoint = managed_mcp(ws)
    return [Route(SQL_PATH, endpoint), Route(FUNCTIONS_PATH, endpoint)]
