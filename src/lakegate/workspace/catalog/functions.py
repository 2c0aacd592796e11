"""Unity Catalog functions: the SQL functions (DuckDB macros) of a schema, as `FunctionInfo`
documents (`GET /api/2.1/unity-catalog/functions`) and as the managed MCP server's tools."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from lakegate.workspace.catalog.catalogs import (
    BASE,
    CatalogReader,
    catalog_reader,
    paged,
    required_param,
)
from lakegate.workspace.http import fail
from lakegate.workspace.sql.translate import Parameter, column_type, duck_catalog

if TYPE_CHECKING:
    from lakegate.workspace.state import WorkspaceState

_FUNCTIONS = """
SELECT function_name, function_type, parameters, parameter_types, macro_definition, comment
FROM duckdb_functions()
WHERE database_name = $c AND schema_name = $s AND NOT internal
  AND function_type IN ('macro', 'table_macro')
ORDER BY function_name
"""
_JSON_TYPES = {bool: "BOOLEAN", int: "BIGINT", float: "DOUBLE", str: "STRING"}


@dataclass
class Call:
    """A function call as one statement run in the function's schema."""

    sql: str
    params: list[Parameter]
    catalog: str
    schema: str


class FunctionReader:
    """The functions of one schema, read from DuckDB's catalog."""

    def __init__(self, catalogs: CatalogReader) -> None:
        self.catalogs = catalogs

    def schema_exists(self, path: dict[str, str]) -> None:
        """404 (SCHEMA_DOES_NOT_EXIST) unless `catalog.schema` exists."""
        self.catalogs.schema(f"{path['catalog']}.{path['schema']}")

    def functions(self, catalog: str, schema: str) -> list[dict[str, Any]]:
        self.catalogs.schema(f"{catalog}.{schema}")
        rows = self.catalogs.engine.metadata(_FUNCTIONS, {"c": duck_catalog(catalog), "s": schema})
        return [self._info(catalog, schema, *row) for row in rows]

    def _info(
        self,
        catalog: str,
        schema: str,
        name: str,
        kind: str,
        names: list[str],
        types: list[str | None],
        definition: str | None,
        comment: str | None,
    ) -> dict[str, Any]:
        full_name = f"{catalog}.{schema}.{name}"
        params = [_parameter(n, t, i) for i, (n, t) in enumerate(zip(names, types, strict=True))]
        info: dict[str, Any] = {
            "name": name,
            "catalog_name": catalog,
            "schema_name": schema,
            "full_name": full_name,
            "specific_name": name,
            "input_params": {"parameters": params},
            "data_type": "TABLE_TYPE" if kind == "table_macro" else None,
            "routine_body": "SQL",
            "routine_definition": definition or "",
            "parameter_style": "S",
            "is_deterministic": True,
            "is_null_call": False,
            "sql_data_access": "READS_SQL_DATA" if kind == "table_macro" else "CONTAINS_SQL",
            "security_type": "DEFINER",
            "comment": comment or "",
            "owner": self.catalogs.owner,
            "metastore_id": self.catalogs.metastore_id,
            "function_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"function:{full_name}")),
            "securable_type": "FUNCTION",
        }
        return {k: v for k, v in info.items() if v is not None}

    # -- as MCP tools ----------------------------------------------------------------------

    def tools(self, catalog: str, schema: str) -> list[tuple[str, str, dict, dict[str, bool]]]:
        """(name, description, input schema, hints) per function; names are `c__s__f`."""
        found = []
        for info in self.functions(catalog, schema):
            params = info["input_params"]["parameters"]
            schema_doc = {
                "type": "object",
                "properties": {p["name"]: _json_schema(p["type_name"]) for p in params},
                "required": [p["name"] for p in params],
            }
            about = info["comment"] or f"The Unity Catalog function {info['full_name']}."
            found.append(
                (
                    f"{catalog}__{schema}__{info['name']}",
                    about,
                    schema_doc,
                    {"read_only_hint": True, "destructive_hint": False, "idempotent_hint": True},
                )
            )
        return found

    def call(self, tool: str, arguments: dict[str, Any], catalog: str, schema: str) -> Call:
        prefix = f"{catalog}__{schema}__"
        name = tool.removeprefix(prefix) if tool.startswith(prefix) else ""
        info = next((f for f in self.functions(catalog, schema) if f["name"] == name), None)
        if info is None:
            raise fail(
                "RESOURCE_DOES_NOT_EXIST", f"There is no function {tool!r} in {catalog}.{schema}."
            )
        params, markers = [], []
        for p in info["input_params"]["parameters"]:
            if p["name"] not in arguments:
                raise fail("INVALID_PARAMETER_VALUE", f"Argument {p['name']!r} is required.")
            value = arguments[p["name"]]
            given = _JSON_TYPES.get(type(value), "STRING")
            kind = p["type_text"].upper() if p["type_name"] != "STRING" else given
            text = None if value is None else str(value).lower() if kind == "BOOLEAN" else value
            params.append(Parameter(p["name"], None if text is None else str(text), kind))
            markers.append(f":{p['name']}")
        call = f"`{name.replace('`', '``')}`({', '.join(markers)})"
        table = info.get("data_type") == "TABLE_TYPE"
        sql = f"SELECT * FROM {call}" if table else f"SELECT {call} AS result"
        return Call(sql, params, catalog, schema)


def _parameter(name: str, duck_type: str | None, position: int) -> dict[str, Any]:
    kind = column_type(duck_type) if duck_type else None
    return {
        "name": name,
        "type_text": kind.type_text.lower() if kind else "string",
        "type_name": kind.type_name if kind else "STRING",
        "position": position,
        "parameter_mode": "IN",
        "parameter_type": "PARAM",
    }


def _json_schema(type_name: str) -> dict[str, str]:
    kinds = {"BOOLEAN": "boolean", "DOUBLE": "number", "FLOAT": "number", "DECIMAL": "number"}
    if type_name in ("INT", "LONG", "SHORT", "BYTE"):
        return {"type": "integer"}
    return {"type": kinds.get(type_name, "string")}


def reader(ws: WorkspaceState) -> FunctionReader:
    """The workspace's function reader, created once."""
    found = getattr(ws, "uc_functions", None)
    if found is None:
        found = FunctionReader(catalog_reader(ws))
        ws.uc_functions = found  # type: ignore[attr-defined]
    return found


def routes(ws: WorkspaceState) -> list[BaseRoute]:
    functions = reader(ws)

    async def listing(request: Request) -> Response:
        await ws.identity.authenticate(request)
        catalog = required_param(request, "catalog_name")
        schema = required_param(request, "schema_name")
        items = await asyncio.to_thread(functions.functions, catalog, schema)
        return paged(request, items, "functions")

    return [Route(f"{BASE}/functions", listing, methods=["GET"])]
