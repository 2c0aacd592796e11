"""SQL sessions (`/api/2.0/sql/sessions`), as the SQL connector's SEA backend uses them.

A session pins a warehouse, a current catalog and schema, and a few session confs. Statements
that name it start from its catalog and schema, and a `USE` inside it moves them for the
statements that follow. Sessions are kept in the state store, so a restart keeps them.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from lakegate.workspace.http import fail, json_body, not_found, required_field
from lakegate.workspace.http import field as body_field
from lakegate.workspace.identity.principals import Principal
from lakegate.workspace.sql import settings, temp_views
from lakegate.workspace.sql.engine import DEFAULT_CATALOG, DEFAULT_SCHEMA
from lakegate.workspace.sql.translate import NAME, SqlError, duck_catalog

if TYPE_CHECKING:
    from lakegate.workspace.sql.statements import StatementService
    from lakegate.workspace.state import WorkspaceState

BASE = "/api/2.0/sql/sessions"
# The session confs the Statement Execution API accepts (the connector filters to these too).
SESSION_CONFS = frozenset(
    {"ansi_mode", "enable_photon", "legacy_time_parser_policy", "max_file_partition_bytes"}
    | {"read_only_external_metastore", "statement_timeout", "timezone", "use_cached_result"}
    | {"query_tags"}
)


@dataclass
class SqlSession:
    """One open session; every field is persisted."""

    id: str
    principal_id: str
    warehouse_id: str
    catalog: str
    schema: str
    confs: dict[str, str] = field(default_factory=dict)
    created: float = field(default_factory=time.time)
    views: dict[str, str] = field(default_factory=dict)  # its temporary views (temp_views.py)


class SessionService:
    """The workspace's open sessions."""

    def __init__(self, ws: WorkspaceState, statements: StatementService) -> None:
        self.ws = ws
        self.statements = statements
        self._lock = threading.Lock()  # USE updates arrive from the engine's worker threads
        self.items = {ident: SqlSession(**body) for ident, body in ws.store.all("sql_session")}

    def open(self, principal: Principal, body: dict[str, Any]) -> SqlSession:
        warehouse_id = required_field(body, "warehouse_id", str)
        catalog = body_field(body, "catalog", str) or DEFAULT_CATALOG
        schema = body_field(body, "schema", str) or DEFAULT_SCHEMA
        confs = _confs(body_field(body, "session_confs", dict, default={}))
        try:
            settings.checked(confs)
        except SqlError as exc:
            raise fail("INVALID_PARAMETER_VALUE", exc.message) from None
        self.ws.warehouses.live(warehouse_id)
        self.ws.permissions.check(principal, "warehouses", warehouse_id, "CAN_USE")
        self._check_names(catalog, schema)
        self.ws.warehouses.start(warehouse_id)  # statements wait for RUNNING; opening does not
        session = SqlSession(
            id=str(uuid.uuid4()),
            principal_id=principal.id,
            warehouse_id=warehouse_id,
            catalog=catalog,
            schema=schema,
            confs=confs,
        )
        self._save(session)
        return session

    def _check_names(self, catalog: str, schema: str) -> None:
        engine = self.statements.engine
        if catalog not in engine.catalogs():
            raise fail(
                "INVALID_PARAMETER_VALUE",
                f"[NO_SUCH_CATALOG_EXCEPTION] Catalog '{catalog}' was not found. SQLSTATE: 42704",
            )
        found = engine.metadata(
            "SELECT 1 FROM duckdb_schemas() WHERE database_name = $c AND schema_name = $s",
            {"c": duck_catalog(catalog), "s": schema},
        )
        if not found:
            raise fail(
                "INVALID_PARAMETER_VALUE",
                f"[SCHEMA_NOT_FOUND] The schema `{catalog}`.`{schema}` cannot be found. "
                "SQLSTATE: 42704",
            )

    def get(self, ident: str, principal: Principal) -> SqlSession:
        session = self.items.get(ident)
        if session is None or not (principal.is_admin or session.principal_id == principal.id):
            raise not_found("Session", ident)
        return session

    def close(self, session: SqlSession) -> None:
        """Forget the session and cancel what still runs in it."""
        with self._lock:
            self.items.pop(session.id, None)
            self.ws.store.delete("sql_session", session.id)
        for stmt in list(self.statements.items.values()):
            if getattr(stmt, "session_id", None) == session.id:
                self.statements.cancel(stmt)

    def bind(self, principal: Principal, body: dict[str, Any]) -> SqlSession | None:
        """The session a statement request names (its catalog and schema become the defaults)."""
        ident = body_field(body, "session_id", str)
        if not ident:
            return None
        session = self.get(ident, principal)
        if body["warehouse_id"] != session.warehouse_id:
            raise fail(
                "INVALID_PARAMETER_VALUE",
                f"Session {ident} belongs to warehouse {session.warehouse_id}, "
                f"not {body['warehouse_id']}.",
            )
        with self._lock:
            body.setdefault("catalog", session.catalog)
            body.setdefault("schema", session.schema)
        return session

    def settings_of(self, session: SqlSession | None) -> dict[str, str]:
        """The session's settings (settings.py) for a statement submitted in it now."""
        if session is None:
            return {}
        with self._lock:
            return settings.checked(session.confs)

    def set(self, ident: str, changed: dict[str, str | None]) -> None:
        """A SET / RESET succeeded inside the session: later statements run with it."""
        with self._lock:
            session = self.items.get(ident)
            if session is None:
                return  # closed meanwhile
            # Kept as the client sent them (lower case), read back by settings.checked.
            settings.apply(session.confs, {k.lower(): v for k, v in changed.items()})
            self.ws.store.put("sql_session", session.id, asdict(session))

    def views_of(self, session: SqlSession | None) -> dict[str, str]:
        """The session's temporary views for a statement submitted in it now."""
        if session is None:
            return {}
        with self._lock:
            return dict(session.views)

    def view(self, ident: str, change: tuple[str, str | None]) -> None:
        """A temporary view was made or dropped inside the session."""
        with self._lock:
            session = self.items.get(ident)
            if session is None:
                return  # closed meanwhile
            temp_views.apply(session.views, change)
            self.ws.store.put("sql_session", session.id, asdict(session))

    def use(self, ident: str, catalog: str, schema: str) -> None:
        """A `USE` succeeded inside the session: later statements start there."""
        with self._lock:
            session = self.items.get(ident)
            if session is None:
                return  # closed meanwhile
            session.catalog, session.schema = catalog, schema
            self.ws.store.put("sql_session", session.id, asdict(session))

    def _save(self, session: SqlSession) -> None:
        with self._lock:
            self.items[session.id] = session
            self.ws.store.put("sql_session", session.id, asdict(session))


def _confs(raw: dict[str, Any]) -> dict[str, str]:
    confs: dict[str, str] = {}
    for key, value in raw.items():
        if key.lower() not in SESSION_CONFS or not NAME.match(key):
            raise fail(
                "INVALID_PARAMETER_VALUE",
                f"Configuration {key} is not available. Session confs accepted here: "
                f"{', '.join(sorted(SESSION_CONFS))}.",
            )
        if not isinstance(value, str | int | float | bool):
            raise fail(
                "INVALID_PARAMETER_VALUE", f"The value of session conf {key} must be a string."
            )
        confs[key.lower()] = str(value)
    return confs


def service(ws: WorkspaceState, statements: StatementService) -> SessionService:
    """The workspace's session service, created once, next to its statement service."""
    svc = getattr(ws, "sql_sessions", None)
    if svc is None:
        svc = SessionService(ws, statements)
        ws.sql_sessions = svc  # type: ignore[attr-defined]
    return svc


def routes(ws: WorkspaceState, svc: SessionService) -> list[BaseRoute]:
    """Mounted by the statements module, whose statements the sessions hold."""

    async def create(request: Request) -> Response:
        principal = await ws.identity.authenticate(request, scope="sql")
        session = svc.open(principal, await json_body(request))
        return JSONResponse({"session_id": session.id})

    async def delete(request: Request) -> Response:
        principal = await ws.identity.authenticate(request, scope="sql")
        svc.close(svc.get(request.path_params["id"], principal))
        return JSONResponse({})

    return [
        Route(BASE, create, methods=["POST"]),
        Route(BASE + "/{id}", delete, methods=["DELETE"]),
    ]
