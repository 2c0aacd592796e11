"""Unity Catalog read API over the DuckDB catalogs: catalogs, schemas, tables (with columns).

Catalogs are the engine's attached databases, so a table created by SQL shows up here at once.
"""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from lakegate.workspace.catalog.descriptions import Descriptions
from lakegate.workspace.http import ApiError, fail, int_param
from lakegate.workspace.identity.principals import Principal
from lakegate.workspace.sql.access import to_see
from lakegate.workspace.sql.delta import tablelog
from lakegate.workspace.sql.engine import SAMPLES, SqlEngine
from lakegate.workspace.sql.plan import SqlError
from lakegate.workspace.sql.statements import service
from lakegate.workspace.sql.translate import column_type, duck_catalog, uc_catalog

if TYPE_CHECKING:
    from lakegate.workspace.state import WorkspaceState

BASE = "/api/2.1/unity-catalog"
_HIDDEN = "('pg_catalog', 'information_schema')"
_SCHEMAS = f"""
SELECT s.database_name, s.schema_name, s.comment FROM duckdb_schemas() s
WHERE s.database_name = $c AND s.schema_name NOT IN {_HIDDEN}
  AND (s.schema_name <> 'main' OR EXISTS (SELECT 1 FROM duckdb_tables() t
       WHERE t.database_name = s.database_name AND t.schema_name = 'main'))
ORDER BY 2
"""
_TABLES = """
SELECT database_name, schema_name, table_name, 'MANAGED' AS kind, comment, table_oid
FROM duckdb_tables() WHERE database_name = $c AND schema_name = $s
UNION ALL
SELECT database_name, schema_name, view_name, 'VIEW', comment, view_oid
FROM duckdb_views() WHERE NOT internal AND database_name = $c AND schema_name = $s
ORDER BY 3
"""
_SUMMARIES = f"""
SELECT schema_name, table_name, 'MANAGED' FROM duckdb_tables()
WHERE database_name = $c AND schema_name LIKE $sp AND table_name LIKE $tp
  AND schema_name NOT IN {_HIDDEN}
UNION ALL
SELECT schema_name, view_name, 'VIEW' FROM duckdb_views()
WHERE NOT internal AND database_name = $c AND schema_name LIKE $sp AND view_name LIKE $tp
  AND schema_name NOT IN {_HIDDEN}
ORDER BY 1, 2
"""
_COLUMNS = """
SELECT table_name, column_name, data_type, is_nullable, comment, column_index
FROM duckdb_columns() WHERE database_name = $c AND schema_name = $s
ORDER BY table_name, column_index
"""


def _missing(kind: str, name: str) -> ApiError:
    return ApiError(
        404, f"{kind.upper()}_DOES_NOT_EXIST", f"{kind.capitalize()} '{name}' does not exist."
    )


class CatalogReader:
    """Unity Catalog documents built from DuckDB's own catalog functions."""

    def __init__(
        self, engine: SqlEngine, metastore_id: str, owner: str, descriptions: Descriptions
    ) -> None:
        self.engine = engine
        self.metastore_id = metastore_id
        self.owner = owner
        self.descriptions = descriptions

    def _described(self, kind: str, full_name: str, info: dict[str, Any]) -> dict[str, Any]:
        """`info` with what Unity Catalog keeps of it: owner, comment, properties, audit."""
        kept = self.descriptions.get(kind, full_name)
        info["owner"] = kept.get("owner", self.owner)
        for key in ("comment", "properties", "created_at", "created_by", "updated_at",
                    "updated_by"):  # fmt: skip
            if key in kept:
                info[key] = kept[key]
        return info

    def catalogs(self) -> list[dict[str, Any]]:
        self.engine.wait_ready()
        return [self._catalog(name) for name in self.engine.catalogs()]

    def _catalog(self, name: str) -> dict[str, Any]:
        return self._described("CATALOG", name, {
            "name": name,
            "full_name": name,
            "owner": self.owner,
            "comment": "Sample datasets (read-only)." if name == SAMPLES else "",
            "catalog_type": "MANAGED_CATALOG",
            "metastore_id": self.metastore_id,
            "isolation_mode": "OPEN",
            "securable_type": "CATALOG",
            "securable_kind": "CATALOG_STANDARD",
            "browse_only": False,
        })  # fmt: skip

    def catalog(self, name: str) -> dict[str, Any]:
        self.engine.wait_ready()
        if name not in self.engine.catalogs():
            raise _missing("catalog", name)
        return self._catalog(name)

    def schemas(self, catalog: str) -> list[dict[str, Any]]:
        self.catalog(catalog)
        rows = self.engine.metadata(_SCHEMAS, {"c": duck_catalog(catalog)})
        return [self._schema(catalog, schema, comment) for _, schema, comment in rows]

    def _schema(self, catalog: str, schema: str, comment: str | None) -> dict[str, Any]:
        return self._described("SCHEMA", f"{catalog}.{schema}", {
            "name": schema,
            "catalog_name": catalog,
            "full_name": f"{catalog}.{schema}",
            "owner": self.owner,
            "comment": comment or "",
            "metastore_id": self.metastore_id,
            "catalog_type": "MANAGED_CATALOG",
            "securable_type": "SCHEMA",
            "schema_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{catalog}.{schema}".lower())),
        })  # fmt: skip

    def schema(self, full_name: str) -> dict[str, Any]:
        catalog, _, schema = full_name.partition(".")
        found = [s for s in self.schemas(catalog) if s["name"] == schema] if schema else []
        if not found:
            raise _missing("schema", full_name)
        return found[0]

    def tables(self, catalog: str, schema: str) -> list[dict[str, Any]]:
        self.schema(f"{catalog}.{schema}")
        params = {"c": duck_catalog(catalog), "s": schema}
        columns: dict[str, list[dict[str, Any]]] = {}
        for table, name, data_type, nullable, comment, index in self.engine.metadata(
            _COLUMNS, params
        ):
            columns.setdefault(table, []).append(_column(name, data_type, nullable, comment, index))
        # Delta's table properties (the engine's record of them: sql/delta/tablelog.py).
        properties: dict[str, dict[str, str]] = {}
        held = self.engine.metadata(tablelog.SCHEMA_PROPERTIES, {"catalog": catalog, "s": schema})
        for table, key, value in held:
            properties.setdefault(table, {})[key] = value
        return [
            self._table(row, columns.get(row[2], []), properties.get(row[2].lower(), {}))
            for row in self.engine.metadata(_TABLES, params)
        ]

    def _table(
        self, row: tuple, columns: list[dict[str, Any]], properties: dict[str, str]
    ) -> dict[str, Any]:
        database, schema, name, kind, comment, _oid = row
        catalog = uc_catalog(database)
        info = {
            "name": name,
            "catalog_name": catalog,
            "schema_name": schema,
            "full_name": f"{catalog}.{schema}.{name}",
            "table_type": kind,
            "data_source_format": "DELTA" if kind == "MANAGED" else None,
            "columns": columns,
            "comment": comment or "",
            "owner": self.owner,
            "metastore_id": self.metastore_id,
            "table_id": tablelog.table_id((catalog, schema, name)),
            "securable_type": "TABLE",
            "properties": {**tablelog.DEFAULTS, **properties} if kind == "MANAGED" else None,
        }
        info = self._described("TABLE", info["full_name"], info)
        return {k: v for k, v in info.items() if v is not None}

    def table(self, full_name: str) -> dict[str, Any]:
        parts = _table_parts(full_name)
        found = [t for t in self.tables(parts[0], parts[1]) if t["name"] == parts[2]]
        if not found:
            raise _missing("table", full_name)
        return found[0]

    def table_exists(self, full_name: str) -> bool:
        """Whether the table exists; a missing catalog or schema is a 404, as for `table`."""
        parts = _table_parts(full_name)
        self.schema(f"{parts[0]}.{parts[1]}")
        return any(t["name"] == parts[2] for t in self.tables(parts[0], parts[1]))

    def summaries(self, catalog: str, schema_pattern: str, table_pattern: str) -> list[dict]:
        """`TableSummary` documents; the patterns are SQL LIKE patterns (empty: all)."""
        self.catalog(catalog)
        patterns = {"sp": schema_pattern or "%", "tp": table_pattern or "%"}
        params = {"c": duck_catalog(catalog), **patterns}
        return [
            {"full_name": f"{catalog}.{schema}.{name}", "table_type": kind}
            for schema, name, kind in self.engine.metadata(_SUMMARIES, params)
        ]


def _table_parts(full_name: str) -> list[str]:
    parts = full_name.split(".")
    if len(parts) != 3 or not all(parts):
        raise fail(
            "INVALID_PARAMETER_VALUE",
            f"'{full_name}' is not a full table name: use catalog.schema.table.",
        )
    return parts


def _column(name: str, data_type: str, nullable: bool, comment: str | None, index: int) -> dict:
    kind = column_type(data_type)
    # Unity Catalog spells TIMESTAMP_NTZ out in type_name, and type_text in lower case.
    type_name = "TIMESTAMP_NTZ" if kind.type_text == "TIMESTAMP_NTZ" else kind.type_name
    spark = {"LONG": "long", "INT": "integer", "SHORT": "short", "BYTE": "byte"}
    column = {
        "name": name,
        "type_text": kind.type_text.lower(),
        "type_name": type_name,
        "type_json": json.dumps(
            {
                "name": name,
                "type": spark.get(kind.type_name, kind.type_text.lower()),
                "nullable": bool(nullable),
                "metadata": {},
            }
        ),
        "position": int(index) - 1,
        "nullable": bool(nullable),
        "comment": comment or "",
    }
    if kind.precision is not None:
        column.update(type_precision=kind.precision, type_scale=kind.scale)
    return column


def paged(request: Request, items: list[dict[str, Any]], key: str) -> Response:
    limit = int_param(request, "max_results", default=0, high=10_000)
    token = request.query_params.get("page_token")
    start = 0
    if token:
        try:
            start = int(base64.urlsafe_b64decode(token.encode()).decode().removeprefix("uc:"))
        except (ValueError, UnicodeDecodeError):
            raise fail("INVALID_PARAMETER_VALUE", "page_token is not valid.") from None
    end = start + limit if limit else len(items)
    body: dict[str, Any] = {key: items[start:end]}
    if end < len(items):
        body["next_page_token"] = base64.urlsafe_b64encode(f"uc:{end}".encode()).decode()
    return JSONResponse(body)


def required_param(request: Request, name: str) -> str:
    value = request.query_params.get(name)
    if not value:
        raise fail("INVALID_PARAMETER_VALUE", f"Missing required query parameter: {name}")
    return value


def catalog_reader(ws: WorkspaceState) -> CatalogReader:
    """A reader of the workspace's catalogs, with what Unity Catalog keeps about them."""
    return CatalogReader(
        service(ws).engine, ws.account_id, ws.admin.application_id, Descriptions(ws.store)
    )


def routes(ws: WorkspaceState) -> list[BaseRoute]:
    statements = service(ws)
    reader = catalog_reader(ws)

    async def run(fn: Any, *args: Any) -> Any:
        return await asyncio.to_thread(fn, *args)  # DuckDB work stays off the event loop

    def refusal(principal: Principal, name: str) -> SqlError | None:
        """Why `principal` may not see the object `name` (None: it may): what seeing it needs
        in Unity Catalog (a catalog's USE CATALOG, a schema's USE SCHEMA, a table's BROWSE or
        any privilege on it, each under its parents'), as SHOW and DESCRIBE need it too."""
        access = to_see(name.split("."))
        if principal.is_admin or statements.authorize is None or access is None:
            return None
        try:
            statements.authorize(principal.id, (access,))
        except SqlError as exc:
            return exc
        return None

    def visible(principal: Principal, items: list[dict[str, Any]], key: str) -> list[dict]:
        return [item for item in items if refusal(principal, str(item[key])) is None]

    def seen(principal: Principal, name: str, found: Any) -> Any:
        """`found`, or the 403 Databricks answers for an object the principal may not see."""
        refused = refusal(principal, name)
        if refused is not None:
            message = str(refused).split("] ", 1)[-1].split(" SQLSTATE")[0]
            raise fail("PERMISSION_DENIED", message)
        return found

    async def catalogs(request: Request) -> Response:
        principal = await ws.identity.authenticate(request)
        items = await run(lambda: visible(principal, reader.catalogs(), "name"))
        return paged(request, items, "catalogs")

    async def one_catalog(request: Request) -> Response:
        principal = await ws.identity.authenticate(request)
        name = request.path_params["name"]
        return JSONResponse(await run(lambda: seen(principal, name, reader.catalog(name))))

    async def schemas(request: Request) -> Response:
        principal = await ws.identity.authenticate(request)
        catalog = required_param(request, "catalog_name")
        items = await run(lambda: visible(principal, reader.schemas(catalog), "full_name"))
        return paged(request, items, "schemas")

    async def one_schema(request: Request) -> Response:
        principal = await ws.identity.authenticate(request)
        name = request.path_params["name"]
        return JSONResponse(await run(lambda: seen(principal, name, reader.schema(name))))

    async def tables(request: Request) -> Response:
        principal = await ws.identity.authenticate(request)
        catalog = required_param(request, "catalog_name")
        schema = required_param(request, "schema_name")
        items = await run(lambda: visible(principal, reader.tables(catalog, schema), "full_name"))
        return paged(request, items, "tables")

    async def one_table(request: Request) -> Response:
        principal = await ws.identity.authenticate(request)
        name = request.path_params["name"]
        return JSONResponse(await run(lambda: seen(principal, name, reader.table(name))))

    async def table_exists(request: Request) -> Response:
        principal = await ws.identity.authenticate(request)
        name = request.path_params["name"]
        found = await run(lambda: seen(principal, name, reader.table_exists(name)))
        return JSONResponse({"table_exists": found})

    async def summaries(request: Request) -> Response:
        principal = await ws.identity.authenticate(request)
        query = request.query_params
        catalog = required_param(request, "catalog_name")
        patterns = query.get("schema_name_pattern", ""), query.get("table_name_pattern", "")
        items = await run(
            lambda: visible(principal, reader.summaries(catalog, *patterns), "full_name")
        )
        return paged(request, items, "tables")

    async def volumes(request: Request) -> Response:
        """No volumes exist locally; the parent schema must."""
        await ws.identity.authenticate(request)
        catalog = required_param(request, "catalog_name")
        schema = required_param(request, "schema_name")
        await run(reader.schema, f"{catalog}.{schema}")
        return paged(request, [], "volumes")

    return [
        Route(f"{BASE}/catalogs", catalogs, methods=["GET"]),
        Route(BASE + "/catalogs/{name}", one_catalog, methods=["GET"]),
        Route(f"{BASE}/schemas", schemas, methods=["GET"]),
        Route(BASE + "/schemas/{name}", one_schema, methods=["GET"]),
        Route(f"{BASE}/tables", tables, methods=["GET"]),
        Route(BASE + "/tables/{name}", one_table, methods=["GET"]),
        Route(BASE + "/tables/{name}/exists", table_exists, methods=["GET"]),
        Route(f"{BASE}/table-summaries", summaries, methods=["GET"]),
        Route(f"{BASE}/volumes", volumes, methods=["GET"]),
    ]
