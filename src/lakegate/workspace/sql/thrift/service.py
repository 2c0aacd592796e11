"""TCLIService over the workspace's statement service: sessions, operations, and their results.

An ExecuteStatement is an ordinary statement of the Statement Execution service (same engine,
same history, its id is the operation's guid); metadata calls are answered from the catalog.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lakegate.workspace.identity.principals import Principal
from lakegate.workspace.sql import settings, temp_views
from lakegate.workspace.sql.engine import DEFAULT_CATALOG, DEFAULT_SCHEMA
from lakegate.workspace.sql.request import validated
from lakegate.workspace.sql.results import ResultSet
from lakegate.workspace.sql.statements import TERMINAL, Statement, service
from lakegate.workspace.sql.thrift import tcli
from lakegate.workspace.sql.thrift.metadata import CatalogBrowser
from lakegate.workspace.sql.thrift.rowsets import RowSource, ok
from lakegate.workspace.sql.translate import SqlError, plan

if TYPE_CHECKING:
    from lakegate.workspace.state import WorkspaceState

log = logging.getLogger(__name__)
DIRECT_WAIT_S = 5.0  # ExecuteStatement waits this long to answer with the results directly
POLL_WAIT_S = 1.0  # GetOperationStatus holds a running operation's poll this long
STATES = {
    "PENDING": tcli.PENDING,
    "RUNNING": tcli.RUNNING,
    "SUCCEEDED": tcli.FINISHED,
    "FAILED": tcli.ERROR,
    "CANCELED": tcli.CANCELED,
    "CLOSED": tcli.CLOSED,
}


class HandleError(Exception):
    """A session or operation handle that is unknown, closed, or someone else's."""


@dataclass
class Session:
    guid: bytes
    principal_id: str
    warehouse_id: str
    catalog: str
    schema: str
    operations: set[bytes] = field(default_factory=set)
    confs: dict[str, str] = field(default_factory=dict)  # its settings (settings.py)
    views: dict[str, str] = field(default_factory=dict)  # its temporary views (temp_views.py)


@dataclass
class Operation:
    guid: bytes
    session: Session
    kind: int
    statement: Statement | None = None
    result: ResultSet | None = None  # metadata calls: ready at once
    cloud_fetch: bool = False
    complex_as_json: bool = False  # the client reads ARRAY/MAP/STRUCT as JSON text
    lz4: bool = False  # the client decompresses LZ4 frames
    position: int = 0  # the next row FETCH_NEXT returns
    links_sent: bool = False
    closed: bool = False
    settled: bool = False  # its end has been applied to the session (a USE)
    source: RowSource | None = None

    def handle(self) -> tcli.Struct:
        return tcli.TOperationHandle(
            operationId=tcli.THandleIdentifier(guid=self.guid, secret=secrets.token_bytes(16)),
            operationType=self.kind,
            hasResultSet=True,
        )

    @property
    def state(self) -> str:
        if self.closed:
            return "CLOSED"
        return self.statement.state if self.statement is not None else "SUCCEEDED"

    def rows(self) -> RowSource:
        """The result, once the operation has SUCCEEDED (and until the service expires it)."""
        result = self.statement.result if self.statement is not None else self.result
        if self.state != "SUCCEEDED" or result is None:
            self.source = None  # an expired result must not live on here
            raise HandleError(f"The operation has no result to fetch: it is {self.state}.")
        if self.source is None or self.source.result is not result:
            ident = self.statement.id if self.statement is not None else ""
            self.source = RowSource(
                result, cloud_fetch=self.cloud_fetch, statement_id=ident,
                complex_as_json=self.complex_as_json, lz4=self.lz4,
            )  # fmt: skip
        return self.source


class ThriftService:
    """The TCLIService methods; each takes the caller, the warehouse and the request struct."""

    def __init__(self, ws: WorkspaceState) -> None:
        self.ws = ws
        self.statements = service(ws)
        self.browser = CatalogBrowser(self.statements.engine)
        self.sessions: dict[bytes, Session] = {}
        self.operations: dict[bytes, Operation] = {}

    # -- handles -----------------------------------------------------------------------------

    def _session(self, handle: Any, principal: Principal, warehouse_id: str) -> Session:
        guid = handle.sessionId.guid if handle and handle.sessionId else None
        session = self.sessions.get(guid) if guid else None
        if session is None or session.principal_id != principal.id:
            raise HandleError(f"Invalid SessionHandle: {_hex(guid)}")
        if session.warehouse_id != warehouse_id:
            raise HandleError(f"SessionHandle {_hex(guid)} belongs to another warehouse.")
        return session

    def _operation(self, handle: Any, principal: Principal) -> Operation:
        guid = handle.operationId.guid if handle and handle.operationId else None
        op = self.operations.get(guid) if guid else None
        if op is None or op.session.principal_id != principal.id:
            raise HandleError(f"Invalid OperationHandle: {_hex(guid)}")
        return op

    # -- sessions ----------------------------------------------------------------------------

    async def OpenSession(self, principal: Principal, warehouse_id: str, req: Any) -> Any:
        namespace = req.initialNamespace
        catalog = (namespace and namespace.catalogName) or DEFAULT_CATALOG
        schema = (namespace and namespace.schemaName) or DEFAULT_SCHEMA
        # The connector's session_configuration ({"timezone": ..., "ansi_mode": ...}) arrives
        # here, beside its own flags (spark.thriftserver.*), which are not settings.
        confs = settings.checked(req.configuration or {})
        session = Session(uuid.uuid4().bytes, principal.id, warehouse_id, catalog, schema)
        session.confs = confs
        self.sessions[session.guid] = session
        version = min(req.client_protocol_i64 or req.client_protocol or 0, tcli.PROTOCOL_V8)
        return tcli.TOpenSessionResp(
            status=ok(),
            serverProtocolVersion=max(version, tcli.PROTOCOL_V7),
            sessionHandle=tcli.TSessionHandle(
                sessionId=tcli.THandleIdentifier(guid=session.guid, secret=secrets.token_bytes(16)),
            ),
            configuration={},
            initialNamespace=tcli.TNamespace(catalogName=catalog, schemaName=schema),
            canUseMultipleCatalogs=True,
        )

    async def CloseSession(self, principal: Principal, warehouse_id: str, req: Any) -> Any:
        session = self._session(req.sessionHandle, principal, warehouse_id)
        for guid in list(session.operations):
            await self._close(self.operations[guid])
        del self.sessions[session.guid]
        return tcli.TStatusResp(status=ok())

    async def GetInfo(self, principal: Principal, warehouse_id: str, req: Any) -> Any:
        self._session(req.sessionHandle, principal, warehouse_id)
        if req.infoType not in tcli.INFO:
            raise SqlError(f"Unrecognized GetInfoType value: {req.infoType}", sql_state="HY096")
        value = tcli.TGetInfoValue(stringValue=tcli.INFO[req.infoType])
        return tcli.TGetInfoResp(status=ok(), infoValue=value)

    # -- statements --------------------------------------------------------------------------

    async def ExecuteStatement(self, principal: Principal, warehouse_id: str, req: Any) -> Any:
        session = self._session(req.sessionHandle, principal, warehouse_id)
        if req.canReadArrowResult is False:
            raise SqlError(
                "This workspace returns Arrow results only; enable Arrow in the client.",
                sql_state="0A000",
            )
        body: dict[str, Any] = {
            "warehouse_id": warehouse_id,
            "statement": req.statement,
            "catalog": session.catalog,
            "schema": session.schema,
            "disposition": "EXTERNAL_LINKS",  # no inline ceiling: FetchResults pages it
            "format": "ARROW_STREAM",
            "row_limit": req.resultRowLimit or None,
            "wait_timeout": "0s",
            "parameters": [_parameter(p) for p in req.parameters or []],
        }
        body, params, _, _ = validated(body, positional=True)
        confs = {**session.confs, **settings.checked(req.confOverlay or {})}  # this one only
        stmt = self.statements.submit(principal, body, params, confs, views=session.views)
        op = self._track(session, tcli.EXECUTE_STATEMENT, statement=stmt)
        op.cloud_fetch = bool(req.canDownloadResult)
        op.lz4 = bool(req.canDecompressLZ4Result)
        native = req.useArrowNativeTypes
        op.complex_as_json = native is not None and native.complexTypesAsArrow is False
        if req.getDirectResults is not None:
            await self.statements.wait(stmt, DIRECT_WAIT_S)
        return await self._answer(op, req.getDirectResults)

    def _track(self, session: Session, kind: int, **fields: Any) -> Operation:
        guid = uuid.UUID(fields["statement"].id).bytes if "statement" in fields else None
        op = Operation(guid or uuid.uuid4().bytes, session, kind, **fields)
        self.operations[op.guid] = op
        session.operations.add(op.guid)
        return op

    async def _answer(self, op: Operation, direct: Any) -> Any:
        """The reply to an operation's creation: its handle, and its results when it is done."""
        if direct is None:
            return tcli.TOperationResp(status=ok(), operationHandle=op.handle())
        self._after(op)
        results = tcli.TSparkDirectResults(operationStatus=self._status(op))
        if op.state == "SUCCEEDED":
            rows = op.rows()
            results.resultSetMetadata = rows.metadata()
            results.resultSet = self._fetch(op, direct.maxRows, direct.maxBytes)
        return tcli.TOperationResp(status=ok(), operationHandle=op.handle(), directResults=results)

    def _after(self, op: Operation) -> None:
        """A finished USE moves its session, a SET or RESET changes its settings, as on
        Databricks (once: a later one wins)."""
        stmt = op.statement
        if op.settled or stmt is None or not stmt.done.is_set():
            return
        op.settled = True
        if stmt.state != "SUCCEEDED":
            return
        settings.apply(op.session.confs, stmt.changed)
        if stmt.view_change is not None:
            temp_views.apply(op.session.views, stmt.view_change)
        if stmt.statement_type != "USE":
            return
        target = plan(stmt.text, [], catalog=stmt.catalog, schema=stmt.schema, user="").target
        op.session.catalog, op.session.schema = target[0], target[1]

    def _status(self, op: Operation) -> Any:
        state = op.state
        reply = tcli.TGetOperationStatusResp(
            status=ok(), operationState=STATES[state], hasResultSet=state == "SUCCEEDED"
        )
        stmt = op.statement
        if stmt is not None:
            reply.operationStarted = int((stmt.started or stmt.created) * 1000)
            if stmt.ended:
                reply.operationCompleted = int(stmt.ended * 1000)
            if stmt.error:
                reply.errorMessage = reply.displayMessage = stmt.error["message"]
                reply.sqlState = stmt.error.get("sql_state")
                reply.errorCode = 0
            if state == "SUCCEEDED" and stmt.statement_type in ("INSERT", "UPDATE", "DELETE"):
                reply.numModifiedRows = _affected(stmt.result)
        return reply

    async def GetOperationStatus(self, principal: Principal, warehouse_id: str, req: Any) -> Any:
        op = self._operation(req.operationHandle, principal)
        if op.statement is not None:
            # Clients poll in a tight loop: hold the answer until the statement ends, a little.
            await self.statements.wait(op.statement, POLL_WAIT_S)
            self._after(op)
        return self._status(op)

    async def GetResultSetMetadata(self, principal: Principal, warehouse_id: str, req: Any) -> Any:
        return self._operation(req.operationHandle, principal).rows().metadata()

    async def FetchResults(self, principal: Principal, warehouse_id: str, req: Any) -> Any:
        op = self._operation(req.operationHandle, principal)
        if req.startRowOffset is not None:
            op.position, op.links_sent = req.startRowOffset, False
        elif req.orientation == tcli.FETCH_FIRST:
            op.position, op.links_sent = 0, False
        reply = self._fetch(op, req.maxRows, req.maxBytes)
        if req.includeResultSetMetadata:
            reply.resultSetMetadata = op.rows().metadata()
        return reply

    def _fetch(self, op: Operation, max_rows: int | None, max_bytes: int | None) -> Any:
        """The next rows from the operation's position (all the links, with CloudFetch)."""
        rows = op.rows()
        if rows.cloud_fetch:
            if op.links_sent:
                results = tcli.TRowSet(startRowOffset=rows.total_rows, rows=[], resultLinks=[])
            else:
                links = self.statements.links
                results = rows.links(op.position, links, self.statements.link_ttl_s)
                op.links_sent, op.position = True, rows.total_rows
            more = False
        else:
            results, op.position = rows.batches(
                op.position, max_rows or 100_000, max_bytes or 100 * 1024 * 1024
            )
            more = op.position < rows.total_rows
        return tcli.TFetchResultsResp(status=ok(), hasMoreRows=more, results=results)

    async def CancelOperation(self, principal: Principal, warehouse_id: str, req: Any) -> Any:
        op = self._operation(req.operationHandle, principal)
        if op.statement is not None:
            self.statements.cancel(op.statement)
        return tcli.TStatusResp(status=ok())

    async def CloseOperation(self, principal: Principal, warehouse_id: str, req: Any) -> Any:
        await self._close(self._operation(req.operationHandle, principal))
        return tcli.TStatusResp(status=ok())

    async def _close(self, op: Operation) -> None:
        """Stop it if it runs and free its result; its handle is unknown from now on."""
        op.closed = True
        self.operations.pop(op.guid, None)
        op.session.operations.discard(op.guid)
        stmt = op.statement
        if stmt is None:
            return
        if stmt.state not in TERMINAL:
            self.statements.cancel(stmt)
        elif stmt.state == "SUCCEEDED":
            stmt.result, stmt.state = None, "CLOSED"
            self.statements.save(stmt)

    # -- metadata ----------------------------------------------------------------------------

    async def _metadata(
        self, principal: Principal, warehouse_id: str, req: Any, kind: int, read: Any
    ) -> Any:
        session = self._session(req.sessionHandle, principal, warehouse_id)
        await self.ws.warehouses.ensure_running(warehouse_id)
        result = await asyncio.to_thread(read)  # DuckDB work stays off the event loop
        op = self._track(session, kind, result=result)
        return await self._answer(op, req.getDirectResults)

    async def GetCatalogs(self, principal: Principal, warehouse_id: str, req: Any) -> Any:
        read = self.browser.catalogs
        return await self._metadata(principal, warehouse_id, req, tcli.GET_CATALOGS, read)

    async def GetSchemas(self, principal: Principal, warehouse_id: str, req: Any) -> Any:
        def read() -> ResultSet:
            return self.browser.schemas(req.catalogName, req.schemaName)

        return await self._metadata(principal, warehouse_id, req, tcli.GET_SCHEMAS, read)

    async def GetTables(self, principal: Principal, warehouse_id: str, req: Any) -> Any:
        def read() -> ResultSet:
            names = (req.catalogName, req.schemaName, req.tableName)
            return self.browser.tables(*names, req.tableTypes)

        return await self._metadata(principal, warehouse_id, req, tcli.GET_TABLES, read)

    async def GetColumns(self, principal: Principal, warehouse_id: str, req: Any) -> Any:
        def read() -> ResultSet:
            names = (req.catalogName, req.schemaName, req.tableName)
            return self.browser.columns(*names, req.columnName)

        return await self._metadata(principal, warehouse_id, req, tcli.GET_COLUMNS, read)

    async def GetTableTypes(self, principal: Principal, warehouse_id: str, req: Any) -> Any:
        read = self.browser.table_types
        return await self._metadata(principal, warehouse_id, req, tcli.GET_TABLE_TYPES, read)

    async def GetTypeInfo(self, principal: Principal, warehouse_id: str, req: Any) -> Any:
        read = self.browser.type_info
        return await self._metadata(principal, warehouse_id, req, tcli.GET_TYPE_INFO, read)

    def close(self) -> None:
        self.sessions.clear()
        self.operations.clear()


def _parameter(param: Any) -> dict[str, Any]:
    """A TSparkParameter as a Statement Execution parameter (`{name, value, type}`; no name:
    positional, for the statement's `?` markers in order)."""
    value = param.value
    text = None
    if value is not None:
        if value.stringValue is not None:
            text = value.stringValue
        elif value.booleanValue is not None:
            text = "true" if value.booleanValue else "false"
        elif value.doubleValue is not None:
            text = repr(value.doubleValue)
    # The connector types None as VOID: an untyped NULL binds the same way.
    kind = None if (param.type or "").upper() == "VOID" else param.type
    found = {"name": param.name or None, "value": text, "type": kind}
    if param.arguments is not None:  # ARRAY / MAP: its elements, each typed
        found["arguments"] = [_argument(a) for a in param.arguments]
    return found


def _argument(arg: Any) -> dict[str, Any]:
    """One element of an ARRAY or MAP parameter (TSparkParameterValueArg), nested alike."""
    void = (arg.type or "").upper() == "VOID"  # a NULL element (its value reads "None")
    found: dict[str, Any] = {
        "value": None if void else arg.value,
        "type": None if void else arg.type,
    }
    if arg.arguments is not None:
        found["arguments"] = [_argument(a) for a in arg.arguments]
    return found


def _affected(result: ResultSet | None) -> int | None:
    if result is None or result.names != ["num_affected_rows"] or not result.chunks:
        return None
    batches = result.chunks[0].batches
    return int(batches[0].column(0)[0].as_py()) if batches and batches[0].num_rows else None


def _hex(guid: bytes | None) -> str:
    return str(uuid.UUID(bytes=guid)) if guid and len(guid) == 16 else "?"
