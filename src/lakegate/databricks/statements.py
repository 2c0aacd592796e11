"""SQL through the Statement Execution API: submit, poll to a deadline, cancel what is abandoned.

`execute_sql` answers a copilot before it gives up: the statement is submitted with a server-side
wait, polled until the deadline, canceled on the server when the deadline passes or the caller
goes away, and answered compactly (a TSV or markdown table, capped in rows and bytes).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from typing import Any

from lakegate.databricks.answer import Answer, columns_of, render_rows
from lakegate.databricks.guard import check_read_only
from lakegate.errors import InputError, LakegateError, StatementError
from lakegate.gateway import ActionContext, handler

__all__ = [
    "DEFAULT_DEADLINE_S",
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_ROWS",
    "StatementRunner",
    "query_tags",
    "raise_unless_succeeded",
]

STATEMENTS = "/api/2.0/sql/statements"
DEFAULT_DEADLINE_S = 45.0
DEFAULT_MAX_ROWS = 200
DEFAULT_MAX_BYTES = 64 * 1024
MAX_ROWS_LIMIT = 10_000
TERMINAL = ("SUCCEEDED", "FAILED", "CANCELED", "CLOSED")
_CANCEL_BUDGET_S = 5.0  # a cancel is sent even after the deadline, within this budget
_MARGIN_S = 1.0  # stop before the gateway's own deadline so the cancel can still go out
_SERVER_WAIT_S = 5  # the shortest non-zero `wait_timeout` the API accepts
_BACKGROUND: set[asyncio.Task[Any]] = set()  # cancels still on their way after the caller left


class StatementRunner:
    """One statement's life on the server: submit, poll, cancel."""

    def __init__(self, ctx: ActionContext, *, deadline: float) -> None:
        self.ctx = ctx
        self.deadline = deadline
        self.statement_id: str | None = None
        self.submitted_at = time.monotonic()
        self._server_cancels = False  # submitted with on_wait_timeout=CANCEL at our deadline
        # A front that hands out statement handles (the copilot server) asks for the statement
        # to keep running past the answer's deadline instead of being canceled there.
        self.handles = bool((ctx.caller or {}).get("handles"))

    async def run(self, body: dict[str, Any], *, idempotent: bool = False) -> dict[str, Any]:
        """Submit `body` and wait for a terminal state; canceled on the server if abandoned."""
        post = asyncio.ensure_future(self.submit(body, idempotent=idempotent))
        try:
            response = await asyncio.shield(post)
        except asyncio.CancelledError:
            # The caller left during the server-side wait: the statement id only comes with
            # the answer, so finish the submit in the background and cancel it then.
            _in_background(self._cancel_when_submitted(post))
            raise
        try:
            return await self.wait(response)
        except asyncio.CancelledError:
            await self.cancel()
            raise

    async def submit(self, body: dict[str, Any], *, idempotent: bool = False) -> dict[str, Any]:
        """POST the statement; the server holds the answer a few seconds if it is fast."""
        self.submitted_at = time.monotonic()
        room = int(self.deadline - self.submitted_at - _MARGIN_S)
        body = dict(body)
        if room >= _SERVER_WAIT_S:
            # A short server-side wait: answers fast statements at once, and keeps the time a
            # departed caller's statement runs unnoticed short. When the wait ends at the
            # deadline anyway, the server cancels the statement there on its own.
            self._server_cancels = room <= _SERVER_WAIT_S and not self.handles
            body.update(
                wait_timeout=f"{_SERVER_WAIT_S}s",
                on_wait_timeout="CANCEL" if self._server_cancels else "CONTINUE",
            )
        else:
            body.update(wait_timeout="0s", on_wait_timeout="CONTINUE")
        response = await self.ctx.json(
            "POST", STATEMENTS, json=body, idempotent=idempotent, timeout_s=_SERVER_WAIT_S + 10
        )
        self.statement_id = str(response.get("statement_id") or "")
        return response

    async def _cancel_when_submitted(self, post: asyncio.Future[dict[str, Any]]) -> None:
        with contextlib.suppress(Exception):
            await post
        await self.cancel()

    async def wait(self, response: dict[str, Any]) -> dict[str, Any]:
        """Poll until the statement ends; past the deadline it is canceled and an error raised."""
        started, interval = time.monotonic(), 0.05
        while _state(response) not in TERMINAL:
            now = time.monotonic()
            if now >= self.deadline and self.handles:
                return response  # still running: the caller gets its statement_id as a handle
            if now >= self.deadline:
                await self.cancel()
                raise _deadline_error(self.statement_id, self.deadline - self.submitted_at)
            if self.ctx.progress is not None:
                await self.ctx.progress(
                    now - started, None, f"statement {self.statement_id} {_state(response)}"
                )
            await asyncio.sleep(min(interval, max(self.deadline - now, 0)))
            interval = min(interval * 2, 1.0)
            if time.monotonic() < self.deadline:
                response = await self.get()
        late = time.monotonic() >= self.deadline - _MARGIN_S - 1
        if _state(response) == "CANCELED" and self._server_cancels and late:
            # The server canceled it at our deadline (on_wait_timeout=CANCEL).
            raise _deadline_error(self.statement_id, self.deadline - self.submitted_at)
        return response

    async def get(self) -> dict[str, Any]:
        return await self.ctx.json("GET", f"{STATEMENTS}/{self.statement_id}")

    async def cancel(self) -> None:
        """Cancel on the server; best effort, bounded, and sent even when we are being canceled."""
        if not self.statement_id:
            return
        late = dataclasses.replace(self.ctx, deadline=time.monotonic() + _CANCEL_BUDGET_S)
        path = f"{STATEMENTS}/{self.statement_id}/cancel"
        task = asyncio.ensure_future(late.send("POST", path, idempotent=True))
        # If the caller is gone or the server is slow, the cancel keeps going in the background.
        with contextlib.suppress(asyncio.CancelledError, TimeoutError, LakegateError):
            await asyncio.wait_for(asyncio.shield(task), _CANCEL_BUDGET_S)


def _in_background(work: Any) -> None:
    task = asyncio.ensure_future(work)
    _BACKGROUND.add(task)
    task.add_done_callback(_BACKGROUND.discard)


def query_tags(ctx: ActionContext) -> list[dict[str, str]]:
    """Attribution on every statement: lakegate's version, the action and the caller."""
    from lakegate import __version__

    caller = ctx.caller or {}
    who = caller.get("client") or caller.get("name") or "lakegate"
    version = caller.get("version")
    tags = {
        "lakegate": __version__,
        "action": ctx.action.name,
        "caller": f"{who}/{version}" if version else str(who),
    }
    if caller.get("tool"):
        tags["tool"] = str(caller["tool"])
    return [{"key": k, "value": v[:128]} for k, v in tags.items()]


def statement_body(ctx: ActionContext, inputs: dict[str, Any]) -> dict[str, Any]:
    """The request body shared by every statement lakegate submits."""
    warehouse_id = inputs.get("warehouse_id")
    if not warehouse_id:
        raise InputError(
            "No warehouse to run the statement on.",
            hint="Pass `warehouse_id`, or pin one with `lakegate databricks connect "
            "--warehouse-id ID` (it goes into the connector's `defaults`).",
        )
    body: dict[str, Any] = {
        "statement": inputs["statement"],
        "warehouse_id": str(warehouse_id),
        "query_tags": query_tags(ctx),
    }
    for key in ("catalog", "schema"):
        if inputs.get(key):
            body[key] = inputs[key]
    if inputs.get("parameters"):
        body["parameters"] = _parameters(inputs["parameters"])
    return body


def guard(ctx: ActionContext, statement: Any) -> bool:
    """Refuse a non-read on a read-only connector; True when the statement is a known read."""
    if not isinstance(statement, str) or not statement.strip():
        raise InputError("`statement` is empty.", hint="Pass one SQL statement.")
    if ctx.connector.read_only:
        check_read_only(statement)
        return True
    return False


@handler("databricks.execute_sql")
async def execute_sql(ctx: ActionContext, inputs: dict[str, Any]) -> dict[str, Any]:
    """Run one statement and answer compactly (see the pack's description)."""
    is_read = guard(ctx, inputs.get("statement"))
    caps = _caps(inputs)
    max_rows, max_bytes = caps["max_rows"], caps["max_bytes"]
    body = statement_body(ctx, inputs)
    # One row more than shown tells whether the row cap cut the result.
    body.update(
        disposition="INLINE", format="JSON_ARRAY", row_limit=max_rows + 1, byte_limit=max_bytes
    )
    runner = StatementRunner(ctx, deadline=_deadline(ctx, inputs))
    # A read may be resent safely if the answer was lost; a write may not.
    response = await runner.run(body, idempotent=is_read)
    if runner.handles and _state(response) not in TERMINAL:
        return {"statement_id": runner.statement_id, "state": _state(response)}
    answer = await _answer(runner, response, inputs, max_rows=max_rows, max_bytes=max_bytes)
    return answer.to_dict()


@handler("databricks.get_statement")
async def get_statement(ctx: ActionContext, inputs: dict[str, Any]) -> dict[str, Any]:
    """A statement's state, and its first rows once it has succeeded."""
    runner = StatementRunner(ctx, deadline=ctx.deadline)
    runner.statement_id = _statement_id(inputs)
    response = await runner.get()
    state = _state(response)
    if state != "SUCCEEDED":
        out = {"statement_id": runner.statement_id, "state": state}
        error = (response.get("status") or {}).get("error") or {}
        if error.get("message"):
            out["error"] = str(error["message"])
        return out
    answer = await _answer(runner, response, inputs, **_caps(inputs))
    return answer.to_dict()


@handler("databricks.fetch_rows")
async def fetch_rows(ctx: ActionContext, inputs: dict[str, Any]) -> dict[str, Any]:
    """One chunk of a succeeded statement's result, as a compact table."""
    runner = StatementRunner(ctx, deadline=ctx.deadline)
    runner.statement_id = _statement_id(inputs)
    index = _bounded(inputs.get("chunk_index"), 0, 0, 1 << 31, "chunk_index")
    statement = await runner.get()
    raise_unless_succeeded(statement, runner.statement_id)
    chunk = await ctx.json("GET", f"{STATEMENTS}/{runner.statement_id}/result/chunks/{index}")
    return _render(statement, chunk, inputs, **_caps(inputs)).to_dict()


async def _answer(
    runner: StatementRunner,
    response: dict[str, Any],
    inputs: dict[str, Any],
    *,
    max_rows: int,
    max_bytes: int,
) -> Answer:
    raise_unless_succeeded(response, runner.statement_id)
    result = dict(response.get("result") or {})
    rows = list(result.get("data_array") or [])
    # Inline results may come in several chunks: follow them until the row cap is passed.
    while result.get("next_chunk_index") is not None and len(rows) <= max_rows:
        result = await runner.ctx.json(
            "GET", f"{STATEMENTS}/{runner.statement_id}/result/chunks/{result['next_chunk_index']}"
        )
        rows.extend(result.get("data_array") or [])
    result["data_array"] = rows
    return _render(response, result, inputs, max_rows=max_rows, max_bytes=max_bytes)


def _render(
    statement: dict[str, Any],
    result: dict[str, Any],
    inputs: dict[str, Any],
    *,
    max_rows: int,
    max_bytes: int,
) -> Answer:
    manifest = statement.get("manifest") or {}
    columns = columns_of(manifest)
    rows = list(result.get("data_array") or [])
    table_format = "markdown" if inputs.get("format") == "markdown" else "tsv"
    reason = None
    if len(rows) > max_rows:
        rows, reason = rows[:max_rows], f"max_rows={max_rows} reached"
    text, kept = render_rows(columns, rows, table_format=table_format, max_bytes=max_bytes)
    if kept < len(rows):
        reason = f"max_bytes={max_bytes} reached"
    elif reason is None and manifest.get("truncated"):
        reason = "the server's row_limit/byte_limit cut the result"
    total = manifest.get("total_row_count")
    next_index = result.get("next_chunk_index")
    return Answer(
        statement_id=str(statement.get("statement_id") or ""),
        state=_state(statement),
        columns=columns,
        rows=text,
        row_count=kept,
        total_row_count=int(total) if total is not None and reason is None else None,
        truncated=reason is not None,
        truncated_reason=reason,
        format=table_format,
        next_chunk_index=int(next_index) if next_index is not None and reason else None,
    )


def raise_unless_succeeded(response: dict[str, Any], statement_id: str | None) -> None:
    state = _state(response)
    if state == "SUCCEEDED":
        return
    error = (response.get("status") or {}).get("error") or {}
    code, message = error.get("error_code"), error.get("message")
    text = f"Statement {statement_id} {state.lower()}" + (f": {message}" if message else ".")
    raise StatementError(
        text,
        details={"statement_id": statement_id, "state": state, "error_code": code},
        hint=None if state == "FAILED" else "It was canceled or closed; run it again.",
    )


def _deadline(ctx: ActionContext, inputs: dict[str, Any]) -> float:
    seconds = inputs.get("deadline_s") or DEFAULT_DEADLINE_S
    if not isinstance(seconds, int | float) or seconds <= 0:
        raise InputError("`deadline_s` must be a positive number of seconds.")
    return min(time.monotonic() + float(seconds), ctx.deadline - _MARGIN_S)


def _deadline_error(statement_id: str | None, waited: float) -> StatementError:
    return StatementError(
        f"Statement {statement_id} did not finish within {waited:.0f} s and was canceled.",
        code="remote.statement_deadline",
        hint="Narrow it (filters, LIMIT, aggregates), or raise `deadline_s`.",
        details={"statement_id": statement_id, "state": "CANCELED"},
    )


def _caps(inputs: dict[str, Any]) -> dict[str, int]:
    rows = _bounded(inputs.get("max_rows"), DEFAULT_MAX_ROWS, 1, MAX_ROWS_LIMIT, "max_rows")
    size = _bounded(inputs.get("max_bytes"), DEFAULT_MAX_BYTES, 1024, 16 << 20, "max_bytes")
    return {"max_rows": rows, "max_bytes": size}


def _bounded(value: Any, default: int, low: int, high: int, name: str) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InputError(f"`{name}` must be an integer from {low} to {high}, not {value!r}.")
    return value


def _statement_id(inputs: dict[str, Any]) -> str:
    statement_id = str(inputs.get("statement_id") or "").strip()
    if not statement_id or "/" in statement_id:
        raise InputError("`statement_id` is missing or malformed.", hint="Use an answer's id.")
    return statement_id


def _state(response: dict[str, Any]) -> str:
    return str((response.get("status") or {}).get("state") or "PENDING")


def _parameters(value: Any) -> list[dict[str, Any]]:
    """`{"name": value}` or `[{"name", "value", "type"}]` as the API's parameter list."""
    if isinstance(value, dict):
        items = [{"name": k, "value": v} for k, v in value.items()]
    elif isinstance(value, list) and all(isinstance(i, dict) and "name" in i for i in value):
        items = [dict(i) for i in value]
    else:
        raise InputError(
            '`parameters` must be an object like {"city": "NYC"} (used as :city).',
        )
    out = []
    for item in items:
        raw, kind = item.get("value"), item.get("type")
        param: dict[str, Any] = {"name": str(item["name"])}
        if raw is not None:
            param["value"] = ("true" if raw else "false") if isinstance(raw, bool) else str(raw)
        kind = kind or (
            "BOOLEAN" if isinstance(raw, bool)
            else "BIGINT" if isinstance(raw, int)
            else "DOUBLE" if isinstance(raw, float)
            else None
        )  # fmt: skip
        if kind:
            param["type"] = kind
        out.append(param)
    return out
