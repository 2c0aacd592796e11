"""The statements a copilot left running: which connection waits on each, cancelled when it goes.

A statement still running at its call's deadline is answered with its id; if the client that
holds that id disconnects, nobody will poll or cancel it, so the server does.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from lakegate.copilot.audit import call_record

__all__ = ["STATEMENT_TOOLS", "RunningStatements", "connection_key"]

# Statement states that end a statement; a handle in any other state is still running.
TERMINAL_STATES = frozenset({"SUCCEEDED", "FAILED", "CANCELED", "CLOSED"})


# Tools that act on a statement by id: only on one their caller started here.
STATEMENT_TOOLS = frozenset({"get_statement", "fetch_rows", "cancel_statement"})


class RunningStatements:
    """The statements started through one server, and the connection each running one waits on."""

    def __init__(self, cancel_tool: str | None) -> None:
        self.cancel_tool = (
            cancel_tool  # the action that cancels a statement, if the project has one
        )
        # Every statement execute_sql started through this server -> its owner: the MCP session
        # that started it (None on stdio, whose one client owns the process, and in stateless
        # mode, where the signed handle is the proof) and the OAuth caller (None without one).
        self.started: dict[str, tuple[str | None, str | None]] = {}
        # statement_id -> connection key, for statements a tool answered with a running handle.
        self.open: dict[str, object] = {}

    def track(
        self,
        kind: str,
        sid: str,
        state: str,
        owner: Callable[[], object | None],
        session: str | None = None,
        user: str | None = None,
    ) -> None:
        """Note what a tool call of `kind` says about statement `sid` (state upper-cased)."""
        if kind == "execute_sql":
            self.started[sid] = (session, user)
        if kind == "cancel_statement" or state in TERMINAL_STATES:
            self.open.pop(sid, None)
        elif kind == "execute_sql" and state:
            self.open[sid] = owner()

    def owns(self, sid: Any, session: str | None, user: str | None = None) -> bool:
        """True when `user` in `session` started statement `sid` through this server."""
        return isinstance(sid, str) and self.started.get(sid) == (session, user)

    async def cancel(self, key: object | None, gateway: Any, audit: Any) -> list[str]:
        """Cancel the running statements owned by `key` (every one for None), each audited."""
        ids = [sid for sid, owner in self.open.items() if key is None or owner == key]
        for sid in ids:
            self.open.pop(sid, None)
        if not ids or self.cancel_tool is None:
            return []
        with anyio.CancelScope(shield=True):
            for sid in ids:
                await _cancel_one(self.cancel_tool, sid, gateway, audit)
        return ids


async def _cancel_one(tool: str, sid: str, gateway: Any, audit: Any) -> None:
    started = time.perf_counter()
    try:
        result = await gateway.call(
            tool,
            {"statement_id": sid},
            caller={"client": "lakegate", "tool": "cancel_abandoned", "front": "mcp"},
            deadline_s=10,
        )
        outcome, status = ("ok" if result.ok else "error"), result.status
    except Exception:
        outcome, status = "error", None
    audit.write(
        call_record(
            client={"name": "lakegate", "version": None},
            tool=tool,
            arguments={"statement_id": sid, "reason": "client disconnected"},
            outcome=outcome,
            status=status,
            statement_id=sid,
            elapsed_ms=(time.perf_counter() - started) * 1000,
        )
    )


def connection_key(session: Any, on_close: Callable[[object], Awaitable[Any]]) -> object | None:
    """A key for the session's client connection; `on_close(key)` runs when it closes."""
    connection = getattr(session, "_connection", None)  # the SDK keeps it private
    if connection is None or connection.protocol_version in MODERN_PROTOCOL_VERSIONS:
        return None  # a modern connection lives for one request: cancel at server shutdown
    if not connection.state.get("lakegate.cleanup"):
        connection.state["lakegate.cleanup"] = True
        connection.exit_stack.push_async_callback(on_close, id(connection))
    return id(connection)
