"""Statement Execution API 2.0 over DuckDB: submit, wait or poll, cancel, fetch chunks.

A statement is an asyncio task that waits for its warehouse, then runs in one of the engine's
worker threads. Every statement is recorded in the state store; a restart turns the ones that
were still running into FAILED and finished ones into CLOSED (results live in memory only).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa
from starlette.responses import JSONResponse, Response

from lakegate.workspace.http import ApiError, not_found
from lakegate.workspace.identity.principals import Principal
from lakegate.workspace.sql import grants_sql, settings
from lakegate.workspace.sql.engine import (
    DEFAULT_CATALOG,
    DEFAULT_SCHEMA,
    Execution,
    Interrupted,
    Output,
    SqlEngine,
)
from lakegate.workspace.sql.links import ResultLinks
from lakegate.workspace.sql.results import ResultSet, collect
from lakegate.workspace.sql.translate import ColumnType, Parameter, SqlError, duck_catalog, plan

if TYPE_CHECKING:
    from lakegate.workspace.state import WorkspaceState

log = logging.getLogger(__name__)
TERMINAL = frozenset({"SUCCEEDED", "FAILED", "CANCELED", "CLOSED"})
MAX_RESULT_BYTES = 2 * 1024**3  # results kept in memory; the oldest are CLOSED beyond this
BASE = "/api/2.0/sql/statements"


@dataclass
class Statement:
    """One submitted statement; the persisted fields come first."""

    id: str
    principal_id: str
    principal_name: str
    warehouse_id: str
    text: str
    catalog: str
    schema: str
    disposition: str
    format: str
    row_limit: int | None
    byte_limit: int | None
    state: str = "PENDING"
    error: dict[str, str] | None = None
    statement_type: str = "OTHER"
    rows: int = 0
    created: float = field(default_factory=time.time)
    started: float | None = None
    ended: float | None = None
    source: str = "Databricks SQL Statement Execution API"
    session_id: str | None = None  # a SQL session (SEA): a USE in it moves the session too
    compression: str | None = None  # result_compression: LZ4_FRAME for ARROW_STREAM links
    # The session's settings when it was submitted (settings.py: TIMEZONE, ANSI_MODE, ...).
    confs: dict[str, str] = field(default_factory=dict)
    # What it changed in its session when it SUCCEEDED (a SET / RESET: key -> value or None).
    changed: dict[str, str | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.result: ResultSet | None = None
        self.execution = Execution()
        self.done = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self.queued = False  # handed to the engine: from then on only the engine ends it
        # The session's temporary views when it was submitted (temp_views.py), and the one it
        # made or dropped when it SUCCEEDED: session state, not kept with the statement.
        self.views: dict[str, str] = {}
        self.view_change: tuple[str, str | None] | None = None

    def record(self) -> dict[str, Any]:
        return asdict(self)


class StatementService:
    """Every statement of the workspace, the DuckDB engine, and signed result links."""

    def __init__(self, ws: WorkspaceState) -> None:
        self.ws = ws
        self.engine = SqlEngine(ws.settings.data_dir, samples_scale=ws.settings.samples_scale)
        self.link_ttl_s = 900.0
        self.result_ttl_s = 3600.0
        self.links = ResultLinks(ws.host)
        self.items: dict[str, Statement] = {}
        # Told when a `USE` succeeds inside a SQL session (the session service moves its
        # catalog and schema); set where the SQL routes are assembled.
        self.on_use: Callable[[str, str, str], None] | None = None
        # Told (session id, {key: value or None}) when a SET / RESET succeeds in a SQL session.
        self.on_set: Callable[[str, dict[str, str | None]], None] | None = None
        # Told (session id, (name, query or None)) when a temporary view is made or dropped.
        self.on_view: Callable[[str, tuple[str, str | None]], None] | None = None
        # Raises SqlError when the principal (by id) lacks a privilege the plan needs; set by
        # the host, which holds the Unity Catalog grants. None: nothing is checked.
        self.authorize: Callable[[str, tuple[Any, ...]], None] | None = None
        # What a principal (by id) may see in listings (None: everything); set by the host
        # with `authorize`, asked only by the statements that list (SHOW, information_schema).
        self.seen: Callable[[str], Any] | None = None
        # Runs GRANT / REVOKE / SHOW GRANTS (grants_sql plans) for the principal (by id) and
        # answers SHOW GRANTS' rows; set by the host, which keeps the grants.
        self.on_grants: Callable[[str, Any], list[tuple[str, str, str, str]]] | None = None
        # Told (principal id, securable type, full name) after a CREATE succeeds: the creator
        # owns what it made. Set by the host.
        self.on_created: Callable[[str, str, str], None] | None = None
        # Told (securable type, full name) after a DROP succeeds: its grants go. Set by the host.
        self.on_dropped: Callable[[str, str], None] | None = None
        self._background: set[asyncio.Task[None]] = set()
        for ident, body in ws.store.all("statement"):
            stmt = Statement(**body)
            stmt.done.set()
            self.items[ident] = stmt
            if stmt.state in ("CLOSED", "FAILED", "CANCELED"):
                continue
            if stmt.state == "SUCCEEDED":
                stmt.state = "CLOSED"  # results do not survive a restart
            else:
                stmt.state, stmt.ended = "FAILED", stmt.ended or time.time()
                stmt.error = {
                    "error_code": "INTERNAL_ERROR",
                    "message": "The statement was interrupted because the workspace restarted.",
                }
            self.save(stmt)

    def save(self, stmt: Statement) -> None:
        self.ws.store.put("statement", stmt.id, stmt.record())

    def close(self) -> None:
        for stmt in self.items.values():
            if stmt.state not in TERMINAL:
                stmt.execution.interrupt()
        self.engine.close()

    # -- lifecycle ---------------------------------------------------------------------------

    def submit(
        self,
        principal: Principal,
        body: dict[str, Any],
        params: list[Parameter],
        confs: dict[str, str] | None = None,
        views: dict[str, str] | None = None,
    ) -> Statement:
        self.expire()
        stmt = Statement(
            id=_statement_id(),
            principal_id=principal.id,
            principal_name=principal.application_id,
            warehouse_id=body["warehouse_id"],
            text=body["statement"],
            catalog=body.get("catalog") or DEFAULT_CATALOG,
            schema=body.get("schema") or DEFAULT_SCHEMA,
            disposition=body.get("disposition") or "INLINE",
            format=body.get("format") or "JSON_ARRAY",
            row_limit=body.get("row_limit"),
            byte_limit=body.get("byte_limit"),
            session_id=body.get("session_id"),
            compression=body.get("result_compression"),
            confs=dict(confs or {}),
        )
        stmt.views = dict(views or {})
        self.items[stmt.id] = stmt
        self.save(stmt)
        stmt.task = asyncio.create_task(self._run(stmt, params))
        return stmt

    async def _run(self, stmt: Statement, params: list[Parameter]) -> None:
        try:
            await self.ws.warehouses.ensure_running(stmt.warehouse_id)
            if stmt.execution.cancelled.is_set():
                raise Interrupted
            loop = asyncio.get_running_loop()
            stmt.queued = True
            stmt.result = await loop.run_in_executor(self.engine.executor, self._work, stmt, params)
            stmt.rows = stmt.result.total_rows
            self._finish(stmt, "SUCCEEDED")
        except Interrupted:
            self._finish(stmt, "CANCELED")
        except SqlError as exc:
            self._finish(stmt, "FAILED", exc.error_code, exc.message, exc.sql_state)
        except ApiError as exc:  # the warehouse was deleted or never started
            self._finish(stmt, "FAILED", "BAD_REQUEST", exc.message)
        except asyncio.CancelledError:
            if not stmt.execution.cancelled.is_set():
                raise  # the server is stopping: the next start marks it FAILED
            self._finish(stmt, "CANCELED")
        except Exception as exc:
            log.exception("statement %s crashed", stmt.id)
            self._finish(stmt, "FAILED", "INTERNAL_ERROR", f"Internal error: {type(exc).__name__}")

    def _work(self, stmt: Statement, params: list[Parameter]) -> ResultSet:
        """In a worker thread: translate, execute, encode."""
        if stmt.execution.cancelled.is_set():
            raise Interrupted  # canceled while it waited for a connection
        stmt.state, stmt.started = "RUNNING", time.time()
        self.save(stmt)
        return self._execute(stmt, params)

    def run_as(self, principal: Principal, text: str, *, catalog: str = DEFAULT_CATALOG) -> None:
        """Run one DDL statement for a REST call (Unity Catalog's create and delete), as
        `principal`: the same plan, privilege check and ownership rule as the SQL it stands
        for. Blocking (call it off the event loop); raises SqlError; leaves no history."""
        stmt = Statement(
            id=_statement_id(), principal_id=principal.id,
            principal_name=principal.application_id, warehouse_id="", text=text,
            catalog=catalog, schema=DEFAULT_SCHEMA, disposition="INLINE", format="JSON_ARRAY",
            row_limit=None, byte_limit=None,
        )  # fmt: skip
        self._execute(stmt, [])

    def _execute(self, stmt: Statement, params: list[Parameter]) -> ResultSet:
        seen = self.seen

        def seeing() -> Any:
            return seen(stmt.principal_id) if seen is not None else None

        translated = plan(
            stmt.text, params, catalog=stmt.catalog, schema=stmt.schema,
            user=stmt.principal_name, seen=seeing, confs=stmt.confs, views=stmt.views,
            columns=self.engine.column_types,
        )  # fmt: skip
        stmt.statement_type = translated.statement_type
        if self.authorize is not None:
            self.authorize(stmt.principal_id, translated.access)
        if translated.kind in ("grant", "revoke", "show_grants"):
            return self._grants(stmt, translated)
        existed = self._exists(translated.created)
        if existed and translated.if_exists:  # CREATE ... IF NOT EXISTS makes nothing
            translated.after, translated.keys, translated.commit = (), None, None
        if translated.commit is not None:
            translated.commit.user_id = stmt.principal_id
        zone = settings.duckdb_zone(stmt.confs.get("TIMEZONE", settings.DEFAULTS["TIMEZONE"]))
        with self.engine.execute(
            stmt.execution, translated, catalog=stmt.catalog, schema=stmt.schema, timezone=zone
        ) as output:
            result = self._collect(stmt, output)
        if translated.created is not None and not existed and self.on_created is not None:
            self.on_created(stmt.principal_id, *translated.created)
        if translated.dropped is not None:
            self.engine.forget(*translated.dropped)
            if self.on_dropped is not None:
                self.on_dropped(*translated.dropped)
        if translated.kind == "use" and stmt.session_id and self.on_use is not None:
            self.on_use(stmt.session_id, *translated.target)
        stmt.changed = translated.settings
        if translated.settings and stmt.session_id and self.on_set is not None:
            self.on_set(stmt.session_id, translated.settings)
        stmt.view_change = translated.view
        if translated.view and stmt.session_id and self.on_view is not None:
            self.on_view(stmt.session_id, translated.view)
        return result

    def _exists(self, created: tuple[str, str] | None) -> bool:
        """Whether what a CREATE names is already there: `IF NOT EXISTS` then makes nothing,
        and its caller must not become the owner of someone else's object."""
        if created is None:
            return False
        kind, full_name = created
        parts = full_name.lower().split(".")
        if parts[0] not in [c.lower() for c in self.engine.catalogs()]:
            return False
        if kind == "CATALOG":
            return True
        params = {"c": duck_catalog(parts[0]), "s": parts[1]}
        if kind == "SCHEMA":
            sql = ("SELECT 1 FROM duckdb_schemas() WHERE database_name = $c "
                   "AND lower(schema_name) = $s")  # fmt: skip
        else:
            params["t"] = parts[2]
            sql = ("SELECT 1 FROM duckdb_tables() WHERE database_name = $c AND lower(schema_name)"
                   " = $s AND lower(table_name) = $t UNION ALL SELECT 1 FROM duckdb_views() "
                   "WHERE database_name = $c AND lower(schema_name) = $s "
                   "AND lower(view_name) = $t")  # fmt: skip
        return bool(self.engine.metadata(sql, params))

    def _grants(self, stmt: Statement, translated: Any) -> ResultSet:
        if self.on_grants is None:
            raise SqlError(
                "[UNSUPPORTED_FEATURE] GRANT is not supported here. SQLSTATE: 0A000",
                sql_state="0A000",
            )
        rows = self.on_grants(stmt.principal_id, translated)
        table = pa.Table.from_pylist(
            [dict(zip(grants_sql.COLUMNS.names, r, strict=True)) for r in rows], grants_sql.COLUMNS
        )
        types = [ColumnType("STRING", "STRING")] * table.num_columns
        output = Output(table.column_names, types, table.schema, iter(table.to_batches()))
        return self._collect(stmt, output)

    def _collect(self, stmt: Statement, output: Output) -> ResultSet:
        return collect(
            output,
            format=stmt.format,
            inline=stmt.disposition == "INLINE",
            row_limit=stmt.row_limit,
            byte_limit=stmt.byte_limit,
            stopped=stmt.execution.cancelled.is_set,
            compression=stmt.compression,
        )

    def _finish(
        self, stmt: Statement, state: str, code: str = "", message: str = "", sql_state: str = ""
    ) -> None:
        stmt.state, stmt.ended = state, time.time()
        if state == "CANCELED":
            stmt.result = None
        if code:
            stmt.error = {"error_code": code, "message": message}
            if sql_state:
                stmt.error["sql_state"] = sql_state
        self.save(stmt)
        stmt.done.set()

    async def wait(self, stmt: Statement, timeout_s: float) -> None:
        if timeout_s > 0 and not stmt.done.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stmt.done.wait(), timeout_s)

    def cancel(self, stmt: Statement) -> None:
        """Interrupt DuckDB (repeatedly, until the statement ends) or stop waiting."""
        if stmt.state in TERMINAL:
            return
        stmt.execution.interrupt()
        if not stmt.queued and stmt.task:
            stmt.task.cancel()  # still waiting for its warehouse to start
        task = asyncio.create_task(self._keep_interrupting(stmt))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def close_statement(self, stmt: Statement) -> None:
        """Cancel it if it still runs and free its result; a finished statement becomes CLOSED."""
        if stmt.state not in TERMINAL:
            self.cancel(stmt)
            await self.wait(stmt, 10)
        stmt.result = None
        if stmt.state == "SUCCEEDED":
            stmt.state = "CLOSED"
        self.save(stmt)

    async def _keep_interrupting(self, stmt: Statement) -> None:
        # An interrupt that lands between taking a connection and starting the query is lost.
        for _ in range(200):
            await self.wait(stmt, 0.05)
            if stmt.done.is_set():
                return
            stmt.execution.interrupt()

    def expire(self) -> None:
        now, kept = time.time(), 0
        live = [s for s in self.items.values() if s.result is not None]
        for stmt in sorted(live, key=lambda s: s.ended or 0, reverse=True):
            kept += stmt.result.total_bytes if stmt.result else 0
            if now - (stmt.ended or now) > self.result_ttl_s or kept > MAX_RESULT_BYTES:
                stmt.result, stmt.state = None, "CLOSED"
                self.save(stmt)

    def get(self, ident: str, principal: Principal) -> Statement:
        stmt = self.items.get(ident)
        if stmt is None or not (principal.is_admin or stmt.principal_id == principal.id):
            raise not_found("Statement", ident)
        self.expire()
        return stmt

    # -- responses ---------------------------------------------------------------------------

    def response(self, stmt: Statement) -> Response:
        status: dict[str, Any] = {"state": stmt.state}
        if stmt.error:
            status["error"] = {k: stmt.error[k] for k in ("error_code", "message")}
            if "sql_state" in stmt.error:
                status["sql_state"] = stmt.error["sql_state"]
        body: dict[str, Any] = {"statement_id": stmt.id, "status": status}
        if stmt.state != "SUCCEEDED" or stmt.result is None:
            return JSONResponse(body)
        body["manifest"] = stmt.result.manifest()
        if not stmt.result.chunks:
            return JSONResponse(body)
        return _json_with(body, "result", self.chunk_body(stmt, 0))

    def chunk_body(self, stmt: Statement, index: int) -> bytes:
        """The `result` object of chunk `index`, as JSON bytes (INLINE data embedded verbatim)."""
        assert stmt.result is not None
        chunk = stmt.result.chunks[index]
        nxt: dict[str, Any] = {}
        if index + 1 < len(stmt.result.chunks):
            nxt = {
                "next_chunk_index": index + 1,
                "next_chunk_internal_link": f"{BASE}/{stmt.id}/result/chunks/{index + 1}",
            }
        if stmt.disposition == "EXTERNAL_LINKS":
            expires = time.time() + self.link_ttl_s
            link = {
                **chunk.describe(),
                "external_link": self.links.url(stmt.id, index, expires),
                "expiration": _iso(expires),
                **nxt,
            }
            return json.dumps({"external_links": [link]}).encode()
        meta = json.dumps({**chunk.describe(), **nxt})
        return f'{meta[:-1]},"data_array":'.encode() + chunk.data + b"}"


def _json_with(body: dict[str, Any], key: str, raw: bytes) -> Response:
    text = json.dumps(body).encode()
    return Response(text[:-1] + f',"{key}":'.encode() + raw + b"}", media_type="application/json")


def _statement_id() -> str:
    return "01f0" + str(uuid.uuid4())[4:]


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


# -- the workspace's one service ------------------------------------------------------------


def service(ws: WorkspaceState) -> StatementService:
    """The workspace's statement service, created on first use (shared with catalog and jobs)."""
    svc = getattr(ws, "sql_statements", None)
    if svc is None:
        svc = StatementService(ws)
        ws.sql_statements = svc  # type: ignore[attr-defined]
        ws.closers.append(svc.close)
    return svc
