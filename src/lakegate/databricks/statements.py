"""SQL through the Statement Execution API: submit, poll to a deadline, cancel what is abandoned.

`execute_sql` answers a copilot before it gives up: the statement is submitted with a server-side
wait, polled until the deadline, canceled on the server when the deadline passes or the caller
goes away, and answered in the contract of answer.py; `fetch_rows` pages through any result.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from typing import Any

from lakegate.databricks.answer import Answer, columns_of, handle, raise_unless_succeeded
from lakegate.databricks.guard import check_read_only
from lakegate.databricks.warehouses import require_running
from lakegate.errors import HTTPStatusError, InputError, LakegateError, StatementError
from lakegate.handlers import ActionContext, handler

__all__ = [
    "DEFAULT_DEADLINE_S",
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_ROWS",
    "StatementRunner",
    "query_tags",
    "raise_unless_succeeded",
]

STATEMENTS = "/api/2.0/sql/statements"
HISTORY = "/api/2.0/sql/history/queries"
_AGE_TIMEOUT_S = 3.0
DEFAULT_DEADLINE_S = 45.0
DEFAULT_MAX_ROWS = 200
DEFAULT_MAX_BYTES = 64 * 1024
DEFAULT_POLL_S = 10.0  # how long get_statement waits for a running statement by default
MAX_ROWS_LIMIT = 10_000
INLINE_BYTES = 8 * 1024 * 1024  # under the 25 MiB INLINE ceiling once encoded as JSON
TERMINAL = ("SUCCEEDED", "FAILED", "CANCELED", "CLOSED")
_CANCEL_BUDGET_S = 5.0  # a cancel is sent even after the deadline, within this budget
_MARGIN_S = 1.0  # stop before the gateway's own deadline so the cancel can still go out
_SERVER_WAIT_S = 5  # the shortest non-zero `wait_timeout` the API accepts


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
            self.ctx.on_cancel(self._cancel_when_submitted(post))
            raise
        try:
            return await self.wait(response)
        except asyncio.CancelledError:
            self.ctx.on_cancel(_said(await self.cancel()))
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

    async def _cancel_when_submitted(self, post: asyncio.Future[dict[str, Any]]) -> str | None:
        with contextlib.suppress(Exception):
            if _state(await post) in TERMINAL:
                return None  # it ended during the wait: nothing is left running
        return await self.cancel()

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
        try:
            return await self.ctx.json("GET", f"{STATEMENTS}/{self.statement_id}")
        except HTTPStatusError as exc:
            if exc.status not in (400, 404):
                raise
            raise StatementError(
                f"There is no statement {self.statement_id} to read ({exc.message}).",
                code="remote.statement_not_found",
                hint="The id is wrong or its result has expired (results are kept about an "
                "hour): run the statement again with execute_sql.",
                details={"statement_id": self.statement_id},
            ) from None

    async def cancel(self) -> str | None:
        """Cancel on the server; best effort, bounded, and sent even when we are being canceled.
        What happened, in a sentence (None when nothing had been submitted)."""
        if not self.statement_id:
            return None
        late = dataclasses.replace(self.ctx, deadline=time.monotonic() + _CANCEL_BUDGET_S)
        path = f"{STATEMENTS}/{self.statement_id}/cancel"
        task = asyncio.ensure_future(late.send("POST", path, idempotent=True))
        # If the caller is gone or the server is slow, the cancel keeps going in the background.
        with contextlib.suppress(asyncio.CancelledError, TimeoutError, LakegateError):
            response = await asyncio.wait_for(asyncio.shield(task), _CANCEL_BUDGET_S)
            if response.is_success:
                return f"Statement {self.statement_id} was canceled on the workspace."
        return (
            f"Statement {self.statement_id} may still be running (its cancel did not go "
            f"through): `lakegate call cancel_statement -i statement_id={self.statement_id}`."
        )


async def _said(note: str | None) -> str | None:
    return note


def query_tags(ctx: ActionContext) -> list[dict[str, str]]:
    """Attribution on every statement: lakegate's version, the action and the caller."""
    from lakegate._version import version as lakegate_version

    caller = ctx.caller or {}
    who = caller.get("client") or caller.get("name") or "lakegate"
    version = caller.get("version")
    tags = {
        "lakegate": lakegate_version(),
        "action": ctx.action.name,
        "caller": f"{who}/{version}" if version else str(who),
    }
    if caller.get("tool"):
        tags["tool"] = str(caller["tool"])
    if caller.get("user"):  # the OAuth caller the copilot acts for
        tags["user"] = str(caller["user"])
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


def guard(ctx: ActionContext, statement: Any, *, allow_files: bool = False) -> bool:
    """Refuse a non-read on a read-only connector; True when the statement is a known read."""
    if not isinstance(statement, str) or not statement.strip():
        raise InputError("`statement` is empty.", hint="Pass one SQL statement.")
    if ctx.connector.read_only:
        check_read_only(statement, allow_files=allow_files)
        return True
    return False


@handler("databricks.execute_sql")
async def execute_sql(ctx: ActionContext, inputs: dict[str, Any]) -> dict[str, Any]:
    """Run one statement and answer with the first page of its result (see answer.py)."""
    is_read = guard(ctx, inputs.get("statement"), allow_files=ctx.connector.allow_file_reads)
    caps = _caps(inputs)
    body = statement_body(ctx, inputs)
    # No row_limit: every row stays reachable with fetch_rows and total_row_count is exact.
    # The byte_limit keeps a huge result under the INLINE ceiling (truncated, not failed).
    body.update(disposition="INLINE", format="JSON_ARRAY", byte_limit=INLINE_BYTES)
    if (ctx.caller or {}).get("warehouse_must_run"):
        await require_running(ctx, body["warehouse_id"])
    runner = StatementRunner(ctx, deadline=_deadline(ctx, inputs))
    # A read may be resent safely if the answer was lost; a write may not.
    response = await runner.run(body, idempotent=is_read)
    if runner.handles and _state(response) not in TERMINAL:
        waited = time.monotonic() - runner.submitted_at
        return handle(runner.statement_id or "", _state(response), waited, DEFAULT_POLL_S)
    return (await _page(runner, response, 0, caps["max_rows"])).to_dict(**caps)


@handler("databricks.get_statement")
async def get_statement(ctx: ActionContext, inputs: dict[str, Any]) -> dict[str, Any]:
    """Wait up to `deadline_s` for a statement; its first page once it SUCCEEDED."""
    runner = StatementRunner(ctx, deadline=ctx.deadline)
    runner.statement_id = _statement_id(inputs)
    caps = _caps(inputs)
    started = time.monotonic()
    wait_s = float(inputs.get("deadline_s") or DEFAULT_POLL_S)
    # Only a GET is left to send after the wait: a short margin before the call's own deadline.
    deadline = min(started + wait_s, ctx.deadline - _MARGIN_S / 4)
    response, interval = await runner.get(), 0.05
    while _state(response) not in TERMINAL and time.monotonic() + interval < deadline:
        if ctx.progress is not None:
            await ctx.progress(
                time.monotonic() - started, None,
                f"statement {runner.statement_id} {_state(response)}",
            )  # fmt: skip
        await asyncio.sleep(interval)
        interval = min(interval * 2, 1.0)
        response = await runner.get()
    if _state(response) not in TERMINAL:
        waited = time.monotonic() - started
        age = await _age_s(runner)
        return handle(runner.statement_id, _state(response), waited if age is None else age,
                      wait_s, waited)  # fmt: skip
    return (await _page(runner, response, 0, caps["max_rows"])).to_dict(**caps)


async def _age_s(runner: StatementRunner) -> float | None:
    """How long a statement has run, from the query history (best effort: None if unknown)."""
    params = [("filter_by.statement_ids", runner.statement_id or ""), ("max_results", "1")]
    try:
        found = await runner.ctx.json("GET", HISTORY, params=params, timeout_s=_AGE_TIMEOUT_S)
    except LakegateError:
        return None
    for query in (found or {}).get("res") or []:
        started = query.get("query_start_time_ms")
        if isinstance(started, int | float) and query.get("query_id") == runner.statement_id:
            return max(time.time() - started / 1000, 0.0)
    return None


@handler("databricks.fetch_rows")
async def fetch_rows(ctx: ActionContext, inputs: dict[str, Any]) -> dict[str, Any]:
    """Rows of a SUCCEEDED statement from `row_offset` on, across chunk boundaries."""
    runner = StatementRunner(ctx, deadline=ctx.deadline)
    runner.statement_id = _statement_id(inputs)
    offset = _bounded(inputs.get("row_offset"), 0, 0, 1 << 62, "row_offset")
    caps = _caps(inputs)
    statement = await runner.get()
    return (await _page(runner, statement, offset, caps["max_rows"])).to_dict(**caps)


async def _page(
    runner: StatementRunner, statement: dict[str, Any], offset: int, max_rows: int
) -> Answer:
    """Up to `max_rows` rows from row `offset` on, reading the chunks that hold them."""
    sid = runner.statement_id or ""
    raise_unless_succeeded(statement, sid)
    manifest = statement.get("manifest") or {}
    total = manifest.get("total_row_count")
    if total is not None and offset > int(total):
        raise InputError(
            f"row_offset {offset} is past the end: the result has {total} rows.",
            hint=f"Use a row_offset from 0 to {total}.",
        )
    chunks = [c for c in manifest.get("chunks") or [] if isinstance(c, dict)]
    index = _chunk_holding(chunks, offset)
    result = statement.get("result") or {}
    if int(result.get("chunk_index") or 0) != index or "data_array" not in result:
        result = await _chunk(runner, index) if total is None or int(total) > 0 else {}
    rows: list[list[Any]] = []
    while len(rows) < max_rows:
        data = result.get("data_array") or []
        start = int(result.get("row_offset") or 0)
        skip = max(0, offset + len(rows) - start)
        rows.extend(data[skip : skip + max_rows - len(rows)])
        if result.get("next_chunk_index") is None or len(rows) >= max_rows:
            break
        result = await _chunk(runner, int(result["next_chunk_index"]))
    return Answer(
        statement_id=sid,
        columns=columns_of(manifest),
        rows=rows,
        row_offset=offset,
        total_row_count=int(total) if total is not None else None,
        server_truncated=bool(manifest.get("truncated")),
    )


def _chunk_holding(chunks: list[dict[str, Any]], offset: int) -> int:
    """The chunk whose rows include `offset` (chunk 0 when the manifest does not say)."""
    found = 0
    for chunk in chunks:
        if int(chunk.get("row_offset") or 0) <= offset:
            found = int(chunk.get("chunk_index") or 0)
    return found


async def _chunk(runner: StatementRunner, index: int) -> dict[str, Any]:
    path = f"{STATEMENTS}/{runner.statement_id}/result/chunks/{index}"
    return dict(await runner.ctx.json("GET", path))


def _deadline(ctx: ActionContext, inputs: dict[str, Any]) -> float:
    seconds = inputs.get("deadline_s") or DEFAULT_DEADLINE_S
    if not isinstance(seconds, int | float) or seconds <= 0:
        raise InputError("`deadline_s` must be a positive number of seconds.")
    # A front with handles answers at the deadline without canceling: only the last poll needs
    # room. Otherwise the cancel must still go out before the gateway's own deadline.
    handles = bool((ctx.caller or {}).get("handles"))
    return min(time.monotonic() + float(seconds), ctx.deadline - _MARGIN_S / (4 if handles else 1))


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
