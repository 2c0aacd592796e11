"""The MCP server: the project's exposed actions as tools, every call through one Gateway.

A model's mistake is an answer (`isError: true` with code, message and hint), never a protocol
error or a crash. Every call is audited. Statements a client abandons are cancelled.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import Any

import anyio
import mcp_types as types
from mcp.server import Server
from mcp.server.context import ServerRequestContext
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from lakegate.copilot import tools as tooling
from lakegate.copilot.audit import AuditLog, call_record
from lakegate.copilot.policy import ToolPlan, filter_listing, plan_tools, prepare_call
from lakegate.copilot.stdio import fast_stdio_server
from lakegate.errors import (
    InputError,
    LakegateError,
    PolicyError,
    RemoteError,
    TransportError,
)
from lakegate.secrets import redact

__all__ = ["CopilotServer"]

log = logging.getLogger("lakegate.copilot")

# Extra time past a call's deadline before the server itself gives up on the gateway.
DEADLINE_GRACE_S = 5.0
CONFIRM_SCHEMA = {
    "type": "object",
    "properties": {
        "approve": {
            "type": "boolean",
            "title": "Approve",
            "description": "Run this destructive action now.",
        }
    },
    "required": ["approve"],
}


def _outcome_of(error: LakegateError) -> str:
    if isinstance(error, PolicyError):
        return "refused"
    if isinstance(error, InputError):
        return "invalid"
    return "error"


class CopilotServer:
    """One MCP server over one Gateway; serve it with `run_stdio()` or `http_app()`."""

    def __init__(self, gateway: Any, *, audit: AuditLog | None = None, name: str = "lakegate"):
        from lakegate import __version__

        self.gateway = gateway
        self.project = gateway.project
        self.policy = self.project.copilot
        self.audit = audit if audit is not None else AuditLog.for_project(self.project)
        self.plans: dict[str, ToolPlan] = {p.name: p for p in plan_tools(self.project)}
        self.exposed = [p for p in self.plans.values() if p.exposed]
        self._exposed_names = {p.name for p in self.exposed}
        # The warehouse SQL runs on: "name (id)" once resolved, else the id.
        self.warehouse = tooling.default_warehouse(self.project, self.exposed)
        self._named = False
        self._tools = [self._tool(p) for p in self.exposed]
        # statement_id -> connection key, for statements a tool answered with a running handle.
        self.open_statements: dict[str, object] = {}
        self.started: set[str] = set()  # every statement execute_sql started through this server
        self._cancel_tool = next(
            (
                a.name
                for a in self.project.actions.values()
                if tooling.tool_kind(a) == "cancel_statement"
            ),
            None,
        )
        self.server: Server[Any] = Server(
            name,
            version=__version__,
            instructions=tooling.instructions(self.policy, self.exposed, self.warehouse),
            on_list_tools=self._list_tools,
            on_call_tool=self._call_tool,
        )

    # -- listing --------------------------------------------------------------------------------

    def _tool(self, plan: ToolPlan) -> types.Tool:
        schema = {k: v for k, v in plan.input_schema.items() if k != "$schema"}
        ann = tooling.annotations_for(plan)
        read_only = ann["readOnlyHint"]
        # Hints left out mean the protocol's defaults (open world; for a read-only tool the
        # destructive and idempotent hints mean nothing): the same facts in fewer bytes.
        return types.Tool(  # no title: it would only repeat the name
            name=plan.name,
            description=tooling.describe(plan, self.policy, self._exposed_names, self.warehouse),
            input_schema=schema,
            output_schema=tooling.output_schema(plan),
            annotations=types.ToolAnnotations(
                read_only_hint=read_only,
                destructive_hint=None if read_only else ann["destructiveHint"],
                idempotent_hint=None if read_only else ann["idempotentHint"],
            ),
        )

    async def name_warehouse(self) -> None:
        """Put the default warehouse's name next to its id in descriptions and instructions."""
        if self._named or not self.warehouse:
            return
        self._named = True
        getter = next(
            (p.name for p in self.plans.values() if tooling.tool_kind(p.action) == "get_warehouse"),
            None,
        )
        if getter is None:
            return
        with anyio.move_on_after(3):  # an unreachable workspace must not hold up the session
            try:
                result = await self.gateway.call(getter, {"warehouse_id": self.warehouse})
            except Exception:  # the name is a nicety: the id alone still works
                return
            name = result.data.get("name") if result.ok and isinstance(result.data, dict) else None
            if name:
                self.warehouse = f"{name} ({self.warehouse})"
                self._tools = [self._tool(p) for p in self.exposed]
                self.server.instructions = tooling.instructions(
                    self.policy, self.exposed, self.warehouse
                )

    async def _list_tools(
        self, ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        await self.name_warehouse()
        return types.ListToolsResult(tools=self._tools)

    # -- calling --------------------------------------------------------------------------------

    @staticmethod
    def _client(ctx: ServerRequestContext[Any]) -> dict[str, Any]:
        params = ctx.session.client_params
        info = params.client_info if params is not None else None
        return {"name": getattr(info, "name", None), "version": getattr(info, "version", None)}

    async def _call_tool(
        self, ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        started = time.perf_counter()
        client = self._client(ctx)
        name, arguments = params.name, params.arguments or {}
        record: dict[str, Any] = {"outcome": "error", "status": None, "error": None}
        try:
            return await self._run(ctx, name, arguments, client, record)
        except Exception as exc:  # a bug must not end the session: answer, and log it
            log.exception("tool %s failed unexpectedly", name)
            return self._error(record, _internal(name, exc))
        except BaseException:
            record["outcome"] = "cancelled"  # the client went away or cancelled the request
            raise
        finally:
            self._audit(client, name, arguments, record, started, ctx)

    async def _run(
        self,
        ctx: ServerRequestContext[Any],
        name: str,
        arguments: dict[str, Any],
        client: dict[str, Any],
        record: dict[str, Any],
    ) -> types.CallToolResult:
        plan = self.plans.get(name)
        if plan is None:
            return self._error(
                record,
                PolicyError(
                    f"There is no tool called {name!r}.",
                    code="policy.unknown_tool",
                    hint=f"Call one of: {', '.join(sorted(self._exposed_names)) or 'none'}.",
                ),
            )
        try:
            call = prepare_call(plan, self.policy, arguments if isinstance(arguments, dict) else {})
            if plan.confirm_required:
                await self._confirm_with_user(ctx, plan, call.inputs)
        except LakegateError as exc:
            return self._error(record, exc)

        async def progress(done: float, total: float | None, message: str) -> None:
            await ctx.session.report_progress(done, total, redact(message))

        if plan.own_statements_only and call.inputs.get("statement_id") not in self.started:
            return self._error(
                record,
                PolicyError(
                    f"{name} may only cancel statements this copilot started.",
                    code="policy.not_yours",
                    hint="Pass a statement_id that execute_sql returned in this server.",
                ),
            )
        # `handles`: a statement still running at the deadline is answered with its id, not
        # canceled; `client`/`version`/`tool` end up in Databricks query_tags.
        caller = {
            "client": client.get("name"),
            "version": client.get("version"),
            "tool": name,
            "front": "mcp",
            "handles": True,
        }
        deadline = call.deadline_s
        result = None
        with anyio.move_on_after(deadline + DEADLINE_GRACE_S):
            try:
                result = await self.gateway.call(
                    plan.action.name,
                    call.inputs,
                    caller=caller,
                    progress=progress,
                    deadline_s=deadline,
                )
            except LakegateError as exc:
                return self._error(record, exc)
        if result is None:
            return self._error(
                record,
                TransportError(
                    f"{name} did not answer within {deadline:g} s.",
                    code="request.timeout",
                    hint="Try again with a narrower request, or raise copilot.caps.deadline_s.",
                ),
            )
        record["status"] = result.status
        if not result.ok:
            error = result.error or RemoteError(f"{name} failed.")
            if error.status is None and result.status:
                error.status = result.status
            return self._error(record, error)

        data = self._in_scope(plan, result.data)
        answer = tooling.answer_for(plan, data, max_rows=call.max_rows, max_bytes=call.max_bytes)
        if result.truncated and not answer.truncated:
            answer = dataclasses.replace(answer, truncated=True)
        record.update(outcome="ok", answer=answer)
        self._track_statement(ctx, plan, answer, call.inputs)
        structured = answer.data if isinstance(answer.data, dict) else {"result": answer.data}
        if answer.truncated:
            structured = {**structured, "truncated": True}
        return types.CallToolResult(
            content=[types.TextContent(type="text", text=answer.text)],
            structured_content=structured,
        )

    def _in_scope(self, plan: ToolPlan, data: Any) -> Any:
        """A catalog or schema listing without what the pinned scope forbids."""
        pinned = self.policy.pinned
        path = str(getattr(plan.action, "path", "") or "")
        return filter_listing(path, data, list(pinned.catalogs), list(pinned.schemas))

    def _error(self, record: dict[str, Any], error: LakegateError) -> types.CallToolResult:
        data = error.to_dict()
        data.pop("details", None)
        data["hint"] = tooling.model_hint(error)  # the CLI's hints name commands; a model's not
        if error.code == "sql.parse_error":  # where the SQL breaks, as data too
            where = ("line", "column", "token")
            data.update({k: error.details[k] for k in where if k in error.details})
        data = {k: redact(v) if isinstance(v, str) else v for k, v in data.items()}
        record.update(
            outcome=_outcome_of(error), error=data, status=record.get("status") or error.status
        )
        return types.CallToolResult(
            content=[types.TextContent(type="text", text=tooling.error_text(data))],
            structured_content={"error": data},
            is_error=True,
        )

    async def _confirm_with_user(
        self, ctx: ServerRequestContext[Any], plan: ToolPlan, inputs: dict[str, Any]
    ) -> None:
        """Ask the person too when the client can show a form: `confirm` alone is the model."""
        capability = types.ClientCapabilities(elicitation=types.ElicitationCapability())
        if not ctx.session.check_client_capability(capability) or not ctx.session.can_send_request:
            return
        shown = ", ".join(f"{k}={v!r}" for k, v in sorted(inputs.items()))
        try:
            reply = await ctx.session.elicit_form(
                redact(f"The copilot wants to run the destructive action {plan.name} ({shown})."),
                CONFIRM_SCHEMA,
                related_request_id=ctx.request_id,
            )
        except Exception as exc:
            raise PolicyError(
                f"{plan.name} needs the user's approval, and asking for it failed "
                f"({type(exc).__name__}).",
                code="policy.confirm_failed",
                hint="Try again; the user must approve destructive actions.",
            ) from None
        content = reply.content or {}
        if reply.action != "accept" or content.get("approve") is not True:
            raise PolicyError(
                f"The user did not approve {plan.name}.",
                code="policy.declined",
                hint="Do not retry unless the user asks for it again.",
            )

    def _audit(
        self,
        client: dict[str, Any],
        name: str,
        arguments: dict[str, Any],
        record: dict[str, Any],
        started: float,
        ctx: ServerRequestContext[Any],
    ) -> None:
        answer: tooling.Answer | None = record.get("answer")
        try:
            self.audit.write(
                call_record(
                    client=client,
                    tool=name,
                    arguments=arguments,
                    outcome=record["outcome"],
                    elapsed_ms=(time.perf_counter() - started) * 1000,
                    status=record.get("status"),
                    error=record.get("error"),
                    statement_id=answer.statement_id if answer else None,
                    run_id=answer.run_id if answer else None,
                    row_count=answer.row_count if answer else None,
                    truncated=answer.truncated if answer else False,
                    session=_session_id(ctx),
                )
            )
        except OSError:  # the audit disk being full must not take the copilot down
            log.exception("could not write the audit log")

    # -- statement handles ---------------------------------------------------------------------

    def _track_statement(
        self,
        ctx: ServerRequestContext[Any],
        plan: ToolPlan,
        answer: tooling.Answer,
        inputs: dict[str, Any],
    ) -> None:
        kind = tooling.tool_kind(plan.action)
        sid = answer.statement_id or inputs.get("statement_id")
        if not sid:
            return
        state = (answer.state or "").upper()
        if kind == "execute_sql":
            self.started.add(sid)
        if kind == "cancel_statement" or state in tooling.TERMINAL_STATES:
            self.open_statements.pop(sid, None)
        elif kind == "execute_sql" and state:
            self.open_statements[sid] = self._connection_key(ctx)

    def _connection_key(self, ctx: ServerRequestContext[Any]) -> object | None:
        """A key for the client connection, whose close cancels its running statements."""
        connection = getattr(ctx.session, "_connection", None)  # the SDK keeps it private
        if connection is None or connection.protocol_version in MODERN_PROTOCOL_VERSIONS:
            return None  # a modern connection lives for one request: cancel at server shutdown
        if not connection.state.get("lakegate.cleanup"):
            connection.state["lakegate.cleanup"] = True
            connection.exit_stack.push_async_callback(self.cancel_abandoned, id(connection))
        return id(connection)

    async def cancel_abandoned(self, key: object | None = None) -> list[str]:
        """Cancel the running statements of one closed connection (or of every connection)."""
        ids = [sid for sid, owner in self.open_statements.items() if key is None or owner == key]
        for sid in ids:
            self.open_statements.pop(sid, None)
        if not ids or self._cancel_tool is None:
            return []
        with anyio.CancelScope(shield=True):
            for sid in ids:
                started = time.perf_counter()
                try:
                    result = await self.gateway.call(
                        self._cancel_tool,
                        {"statement_id": sid},
                        caller={"client": "lakegate", "tool": "cancel_abandoned", "front": "mcp"},
                        deadline_s=10,
                    )
                    outcome, status = ("ok" if result.ok else "error"), result.status
                except Exception:
                    outcome, status = "error", None
                self.audit.write(
                    call_record(
                        client={"name": "lakegate", "version": None},
                        tool=self._cancel_tool,
                        arguments={"statement_id": sid, "reason": "client disconnected"},
                        outcome=outcome,
                        status=status,
                        statement_id=sid,
                        elapsed_ms=(time.perf_counter() - started) * 1000,
                    )
                )
        return ids

    # -- transports -----------------------------------------------------------------------------

    async def run_stdio(self) -> None:
        """Serve one client on stdin/stdout until it closes the pipe."""
        try:
            async with fast_stdio_server() as (read, write):
                await self.name_warehouse()  # before initialize: its instructions name it
                await self.server.run(read, write, self.server.create_initialization_options())
        finally:
            await self.cancel_abandoned()


def _internal(name: str, exc: BaseException) -> LakegateError:
    return LakegateError(
        f"lakegate failed while calling {name}: {type(exc).__name__}.",
        code="lakegate.internal",
        hint="This is a bug in lakegate; the server's log (stderr) has the details.",
    )


def _session_id(ctx: ServerRequestContext[Any]) -> str | None:
    connection = getattr(ctx.session, "_connection", None)
    return getattr(connection, "session_id", None)
