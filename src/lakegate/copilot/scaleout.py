"""The copilot server as `serve --http` runs it: ready to be one replica of several.

Every audit line names the replica that wrote it; a running statement nobody polls for
`idle_cancel_s` is cancelled; in stateless mode statement handles are signed (handles.py), a
request is one connection, and nothing is remembered between requests but the idle clocks.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

from lakegate.copilot.oauth import caller
from lakegate.errors import LakegateError

__all__ = ["IDLE_CANCEL_S", "REPLICA_ENV", "http_copilot", "replica_id"]

IDLE_CANCEL_S = 600.0  # a statement nobody polls for this long is cancelled
REPLICA_ENV = "LAKEGATE_REPLICA_ID"


def replica_id() -> str:
    """This process's name in the audit log: $LAKEGATE_REPLICA_ID, else host:pid."""
    import socket

    return os.environ.get(REPLICA_ENV) or f"{socket.gethostname()}:{os.getpid()}"


class _ReplicaAudit:
    """The audit log, every line stamped with the replica that wrote it."""

    def __init__(self, inner: Any, replica: str) -> None:
        self.inner, self.replica = inner, replica

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def write(self, record: dict[str, Any]) -> Any:
        return self.inner.write({**record, "replica": self.replica})


def http_copilot(
    gateway: Any, *, stateless: bool = False, idle_cancel_s: float = IDLE_CANCEL_S
) -> Any:
    """The copilot server for HTTP: replica-stamped audit, idle statements cancelled, and in
    stateless mode signed statement handles (key from the gateway's secret store)."""
    from lakegate.copilot.server import CopilotServer

    class HttpCopilot(CopilotServer):
        async def _run(
            self, ctx: Any, name: str, arguments: dict[str, Any], client: Any, record: Any
        ) -> Any:
            self._watch_idle()
            if self.handles is not None and isinstance(arguments, dict):
                try:
                    arguments, opened = self.handles.open_arguments(arguments, caller())
                except LakegateError as exc:
                    return self._error(record, exc)
                if opened:  # the signature proves this server started it, for this caller
                    self.statements.started[opened] = (None, caller())
            result = await super()._run(ctx, name, arguments, client, record)
            if self.handles is not None and len(self.statements.started) > _REMEMBERED:
                # The handle is the proof; the set only serves calls in flight: keep it bounded.
                self.statements.started.clear()
            answer = record.get("answer")
            sid = getattr(answer, "statement_id", None)
            if self.handles is not None and sid and not result.is_error:
                user = caller()
                result.structured_content = self.handles.seal_data(
                    result.structured_content, sid, user
                )
                for part in result.content:
                    if getattr(part, "text", None):
                        part.text = self.handles.seal_text(part.text, sid, user)
            return result

        def _track_statement(self, ctx: Any, plan: Any, answer: Any, inputs: Any) -> None:
            super()._track_statement(ctx, plan, answer, inputs)
            sid = answer.statement_id or inputs.get("statement_id")
            state = (answer.state or "").upper()
            if not sid:
                return
            if state and state not in _TERMINAL and self.kind_of(plan) != "cancel_statement":
                # Started or polled here: the idle clock of this replica restarts.
                self.statements.open.setdefault(sid, None)
                self.last_seen[sid] = time.monotonic()
            else:
                self.last_seen.pop(sid, None)

        def _connection_key(self, ctx: Any) -> object | None:
            if self.handles is not None:
                # Stateless: a "connection" is one request; the idle clock ends statements.
                return None
            return super()._connection_key(ctx)

        @staticmethod
        def kind_of(plan: Any) -> str | None:
            from lakegate.copilot import tools

            return tools.tool_kind(plan.action)

        def _watch_idle(self) -> None:
            if self.idle_task is None or self.idle_task.done():
                self.idle_task = asyncio.get_running_loop().create_task(self.cancel_idle_forever())

        async def cancel_idle_forever(self) -> None:
            while True:
                await asyncio.sleep(min(30.0, self.idle_cancel_s / 4))
                await self.cancel_idle()

        async def cancel_idle(self) -> list[str]:
            """Cancel the statements nobody polled here for `idle_cancel_s`."""
            now = time.monotonic()
            idle = [s for s, t in self.last_seen.items() if now - t >= self.idle_cancel_s]
            for sid in idle:
                self.last_seen.pop(sid, None)
                self.statements.open[sid] = _IDLE
            return await self.cancel_abandoned(_IDLE) if idle else []

    copilot = HttpCopilot(gateway)
    _drop_idle_tracing(copilot.server)
    copilot.replica = replica_id()
    copilot.audit = _ReplicaAudit(copilot.audit, copilot.replica)
    copilot.idle_cancel_s = idle_cancel_s
    copilot.last_seen = {}
    copilot.idle_task = None
    copilot.handles = None
    if stateless:
        from lakegate.copilot.handles import HandleSigner, signing_key

        copilot.handles = HandleSigner(signing_key(gateway.secret_store), idle_cancel_s)
    return copilot


def _drop_idle_tracing(server: Any) -> None:
    """Without a configured OpenTelemetry SDK the SDK's span per message only costs CPU."""
    from opentelemetry import trace

    if type(trace.get_tracer_provider()).__name__ not in (
        "ProxyTracerProvider",
        "NoOpTracerProvider",
    ):
        return
    from mcp.server._otel import OpenTelemetryMiddleware

    server.middleware = [m for m in server.middleware if not isinstance(m, OpenTelemetryMiddleware)]


_IDLE = "idle"  # the owner key of statements cancelled for idleness
_REMEMBERED = 4096  # statement ids a stateless replica keeps before starting afresh
_TERMINAL = frozenset({"SUCCEEDED", "FAILED", "CANCELED", "CANCELLED", "CLOSED"})
