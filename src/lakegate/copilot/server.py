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

from lakegate.auth import acting_as
from lakegate.copilot import tools as tooling
from lakegate.copilot.approval import confirm_with_user
from lakegate.copilot.audit import AuditLog, call_record
from lakegate.copilot.oauth import caller, caller_jwt
from lakegate.copilot.policy import CallPlan, ToolPlan, filter_listing, plan_tools, prepare_call
from lakegate.copilot.running import STATEMENT_TOOLS, RunningStatements, connection_key
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


def _outcome_of(error: LakegateError) -> str:
    if isinstance(error, PolicyError):
        return "refused"
    if isinstance(error, InputError):
        return "invalid"
    return "error"


class CopilotServer:
    """One MCP server over one Gateway; serve it with `run_stdio()` or `http_app()`."""

    def __init__(self, gateway: Any, *, audit: AuditLog | None = None, name: str = "lakegate"):
        from lakegate._version import version

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
        self.statements = RunningStatements(cancel_tool=self._cancel_tool())
        self.server: Server[Any] = Server(
            name,
            version=version(),
            instructions=tooling.instructions(self.policy, self.exposed, self.warehouse),
            on_list_tools=self._list_tools,
            on_call_tool=self._call_tool,
        )

    def _cancel_tool(self) -> str | None:
        actions = self.project.actions.values()
        return next((a.name for a in actions if tooling.tool_kind(a) == "cancel_statement"), None)

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
        try:
            plan = self._plan(name)
            call = await self._prepare(ctx, plan, arguments)
            result = await self._call_gateway(ctx, plan, call, client)
            record["status"] = result.status
            if not result.ok:
                raise _failure(name, result)
        except LakegateError as exc:
            return self._error(record, exc)
        return self._answer(ctx, plan, call, result, record)

    def _plan(self, name: str) -> ToolPlan:
        plan = self.plans.get(name)
        if plan is None:
            raise PolicyError(
                f"There is no tool called {name!r}.",
                code="policy.unknown_tool",
                hint=f"Call one of: {', '.join(sorted(self._exposed_names)) or 'none'}.",
            )
        return plan

    async def _prepare(
        self, ctx: ServerRequestContext[Any], plan: ToolPlan, arguments: Any
    ) -> CallPlan:
        """The model's arguments checked against the policy, and approved by the user if asked."""
        call = prepare_call(plan, self.policy, arguments if isinstance(arguments, dict) else {})
        if plan.confirm_required:
            await confirm_with_user(ctx, plan, call.inputs)
        takes_statement = tooling.tool_kind(plan.action) in STATEMENT_TOOLS
        if (plan.own_statements_only or takes_statement) and not self.statements.owns(
            call.inputs.get("statement_id"), _session_id(ctx), caller()
        ):
            raise PolicyError(
                f"{plan.name} only works on statements that execute_sql started in this "
                "session; this statement_id is not one of them.",
                code="policy.not_yours",
                hint="Pass a statement_id that execute_sql returned to you in this session.",
            )
        return call

    async def _call_gateway(
        self,
        ctx: ServerRequestContext[Any],
        plan: ToolPlan,
        call: CallPlan,
        client: dict[str, Any],
    ) -> Any:
        """The action's result from the gateway, which gets the call's deadline plus a grace."""

        async def progress(done: float, total: float | None, message: str) -> None:
            await ctx.session.report_progress(done, total, redact(message))

        # `handles`: a statement still running at the deadline is answered with its id, not
        # canceled; `client`/`version`/`tool`/`user` end up in Databricks query_tags.
        who = {
            "client": client.get("name"),
            "version": client.get("version"),
            "tool": plan.name,
            "front": "mcp",
            "user": caller(),
            "handles": True,
            # A read-only copilot runs SQL on a RUNNING warehouse only (the pack checks first).
            "warehouse_must_run": self.policy.profile == "readonly"
            and not self.policy.allow_warehouse_start,
        }
        # Over OAuth the call is made for the person whose token came with the request: a
        # connector with grant_type token_exchange exchanges it (never sends it on).
        with (
            anyio.move_on_after(call.deadline_s + DEADLINE_GRACE_S),
            acting_as(caller_jwt(), caller()),
        ):
            return await self.gateway.call(
                plan.action.name,
                call.inputs,
                caller=who,
                progress=progress,
                deadline_s=call.deadline_s,
            )
        raise TransportError(  # reached only when the deadline's scope gave up on the gateway
            f"{plan.name} did not answer within {call.deadline_s:g} s.",
            code="request.timeout",
            hint="Try again with a narrower request, or raise copilot.caps.deadline_s.",
        )

    def _answer(
        self,
        ctx: ServerRequestContext[Any],
        plan: ToolPlan,
        call: CallPlan,
        result: Any,
        record: dict[str, Any],
    ) -> types.CallToolResult:
        """The result within the pinned scope and the call's bounds; its statement tracked."""
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
        if error.code.startswith("auth."):  # the operator's to fix: their words go to the log
            log.warning("%s: %s %s", error.code, redact(error.message), redact(error.hint or ""))
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
                    user=caller(),
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
        sid = answer.statement_id or inputs.get("statement_id")
        if sid:
            kind, state = tooling.tool_kind(plan.action), (answer.state or "").upper()
            self.statements.track(
                kind, sid, state, lambda: self._connection_key(ctx), _session_id(ctx), caller()
            )

    def _connection_key(self, ctx: ServerRequestContext[Any]) -> object | None:
        """A key for the client connection, whose close cancels its running statements."""
        return connection_key(ctx.session, on_close=self.cancel_abandoned)

    async def cancel_abandoned(self, key: object | None = None) -> list[str]:
        """Cancel the running statements of one closed connection (or of every connection)."""
        return await self.statements.cancel(key, self.gateway, self.audit)

    # -- transports -----------------------------------------------------------------------------

    async def run_stdio(self) -> None:
        """Serve one client on stdin/stdout until it closes the pipe."""
        try:
            async with fast_stdio_server() as (read, write):
                await self.name_warehouse()  # before initialize: its instructions name it
                await self.server.run(read, write, self.server.create_initialization_options())
        finally:
            await self.cancel_abandoned()


def _failure(name: str, result: Any) -> LakegateError:
    """The error a failed result carries, with the HTTP status it came with."""
    error = result.error or RemoteError(f"{name} failed.")
    if error.status is None and result.status:
        error.status = result.status
    return error


def _internal(name: str, exc: BaseException) -> LakegateError:
    return LakegateError(
        f"lakegate failed while calling {name}: {type(exc).__name__}.",
        code="lakegate.internal",
        hint="This is a bug in lakegate; the server's log (stderr) has the details.",
    )


def _session_id(ctx: ServerRequestContext[Any]) -> str | None:
    connection = getattr(ctx.session, "_connection", None)
    return getattr(connection, "session_id", None)
