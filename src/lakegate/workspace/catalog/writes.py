"""Unity Catalog's create, update and delete of catalogs, schemas and tables
(`POST /api/2.1/unity-catalog/catalogs`, `PATCH .../catalogs/{name}`, `DELETE ...`, and the
same for schemas; `DELETE .../tables/{full_name}`).

Each create and delete runs the SQL statement it stands for (`CREATE CATALOG`, `DROP SCHEMA
... CASCADE`, ...) as the caller, so a REST call and its SQL pass one privilege check and one
ownership rule: the creator owns what it made, a drop takes the object's grants with it.
An update needs MANAGE on the securable (its owner holds it). Comments, properties and the
owner live in `catalog.descriptions`.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from lakegate.workspace.catalog.catalogs import BASE, CatalogReader, catalog_reader
from lakegate.workspace.catalog.privileges import EVERYONE, Privileges
from lakegate.workspace.http import ApiError, fail, field, json_body
from lakegate.workspace.identity.principals import Principal
from lakegate.workspace.sql.access import Access
from lakegate.workspace.sql.plan import SqlError
from lakegate.workspace.sql.statements import StatementService, service

if TYPE_CHECKING:
    from lakegate.workspace.state import WorkspaceState

Endpoint = Callable[[Request], Awaitable[Response]]
# Unity Catalog refuses these in a name: periods, spaces, slashes, control characters (and a
# backtick, which could not be quoted in the SQL it stands for).
_BAD_NAME = re.compile(r"[.\s/`\x00-\x1f\x7f]")
# A SQL failure's error class -> the REST answer (status, error_code).
_ANSWERS = {
    "INSUFFICIENT_PERMISSIONS": (403, "PERMISSION_DENIED"),
    "CATALOG_ALREADY_EXISTS": (409, "CATALOG_ALREADY_EXISTS"),
    "SCHEMA_ALREADY_EXISTS": (409, "SCHEMA_ALREADY_EXISTS"),
    "NO_SUCH_CATALOG_EXCEPTION": (404, "CATALOG_DOES_NOT_EXIST"),
    "SCHEMA_NOT_FOUND": (404, "SCHEMA_DOES_NOT_EXIST"),
    "TABLE_OR_VIEW_NOT_FOUND": (404, "TABLE_DOES_NOT_EXIST"),
    "CATALOG_NOT_EMPTY": (400, "CATALOG_NOT_EMPTY"),
    "SCHEMA_NOT_EMPTY": (400, "SCHEMA_NOT_EMPTY"),
}


def answer(exc: SqlError) -> ApiError:
    """A SQL failure as the REST API words it: the message without its class and SQLSTATE."""
    found = re.match(r"\[([A-Z_.]+)\] (.*?)(?: SQLSTATE: \w{5})?$", exc.message, re.S)
    error_class, words = (found.group(1), found.group(2)) if found else ("", exc.message)
    status, code = _ANSWERS.get(error_class, (400, "INVALID_PARAMETER_VALUE"))
    return ApiError(status, code, words)


def _name(body: dict[str, Any], key: str) -> str:
    value = field(body, key, str)
    if not value:
        raise fail("INVALID_PARAMETER_VALUE", f"Missing required field: {key}")
    if len(value) > 255 or _BAD_NAME.search(value):
        raise fail(
            "INVALID_PARAMETER_VALUE",
            f"Invalid {key} {value!r}: a name holds at most 255 characters and no period, "
            "space, slash, backtick or control character.",
        )
    return value


def _quoted(*parts: str) -> str:
    return ".".join(f"`{p}`" for p in parts)


def _properties(body: dict[str, Any]) -> dict[str, str] | None:
    found = field(body, "properties", dict)
    if found is not None and not all(isinstance(v, str) for v in found.values()):
        raise fail("INVALID_PARAMETER_VALUE", "Every value of properties must be a string.")
    return found


def _force(request: Request) -> bool:
    value = request.query_params.get("force", "false").lower()
    if value not in ("true", "false"):
        raise fail("INVALID_PARAMETER_VALUE", f"force must be true or false, got {value!r}.")
    return value == "true"


class Writer:
    """Creates, changes and drops securables as the principal who asks."""

    def __init__(self, ws: WorkspaceState) -> None:
        self.ws = ws
        self.statements: StatementService = service(ws)
        self.reader: CatalogReader = catalog_reader(ws)
        self.privileges = Privileges(ws)

    def run(self, principal: Principal, sql: str) -> None:
        try:
            self.statements.run_as(principal, sql)
        except SqlError as exc:
            raise answer(exc) from None

    def describe(self, principal: Principal, kind: str, name: str, body: dict) -> None:
        """Record what the create or update says beyond the name."""
        comment, properties = field(body, "comment", str), _properties(body)
        if comment is not None or properties is not None:
            self.reader.descriptions.change(
                kind, name, principal.application_id, comment=comment, properties=properties
            )

    def update(self, principal: Principal, kind: str, name: str, body: dict) -> None:
        """An update needs MANAGE on the securable; a new owner takes over its rights."""
        parts = name.split(".")
        try:
            self.privileges.authorize(principal.id, (Access("MANAGE", *parts),))
        except SqlError as exc:
            raise answer(exc) from None
        if field(body, "new_name", str):
            raise fail(
                "INVALID_PARAMETER_VALUE",
                f"Renaming a {kind.lower()} is not supported by the local workspace; create a "
                "new one and move the objects.",
            )
        owner = field(body, "owner", str)
        previous = self.reader.descriptions.get(kind, name).get("owner")
        if owner is not None and owner != previous:
            self._hand_over(principal, kind, name, owner, previous)
        self.describe(principal, kind, name, body)

    def _hand_over(
        self, principal: Principal, kind: str, name: str, owner: str, previous: str | None
    ) -> None:
        identity = self.ws.identity
        known = {p.application_id for p in identity.principals.values()}
        known |= {g.get("displayName") for _, g in self.ws.store.all("scim_group")}
        if owner not in known | set(EVERYONE) and not identity.user_exists(owner):
            raise fail(
                "INVALID_PARAMETER_VALUE",
                f"Owner {owner!r} is not a user, service principal or group of this workspace.",
            )
        rights = ["ALL_PRIVILEGES", "MANAGE"]
        changes = [{"principal": owner, "add": rights}]
        if previous:
            changes.insert(0, {"principal": previous, "remove": rights})
        self.privileges.grants.update(kind, name, changes)
        self.reader.descriptions.change(kind, name, principal.application_id, owner=owner)


def routes(ws: WorkspaceState) -> list[BaseRoute]:
    writer = Writer(ws)
    reader = writer.reader

    async def run(fn: Any, *args: Any) -> Any:
        return await asyncio.to_thread(fn, *args)  # DuckDB work stays off the event loop

    async def create_catalog(request: Request) -> Response:
        principal = await ws.identity.authenticate(request)
        body = await json_body(request)
        name = _name(body, "name")

        def work() -> dict[str, Any]:
            writer.run(principal, f"CREATE CATALOG {_quoted(name)}")
            writer.describe(principal, "CATALOG", name, body)
            return reader.catalog(name)

        return JSONResponse(await run(work))

    def updating(kind: str, found: Callable[[str], dict[str, Any]]) -> Endpoint:
        """PATCH of a catalog or schema: its document after the update, 404 if it is missing."""

        async def update(request: Request) -> Response:
            principal = await ws.identity.authenticate(request)
            name = request.path_params["name"]
            body = await json_body(request)

            def work() -> dict[str, Any]:
                found(name)
                writer.update(principal, kind, name, body)
                return found(name)

            return JSONResponse(await run(work))

        return update

    async def delete_catalog(request: Request) -> Response:
        principal = await ws.identity.authenticate(request)
        name, cascade = request.path_params["name"], " CASCADE" if _force(request) else ""
        await run(writer.run, principal, f"DROP CATALOG {_quoted(name)}{cascade}")
        return JSONResponse({})

    async def create_schema(request: Request) -> Response:
        principal = await ws.identity.authenticate(request)
        body = await json_body(request)
        name, catalog = _name(body, "name"), _name(body, "catalog_name")

        def work() -> dict[str, Any]:
            reader.catalog(catalog)
            writer.run(principal, f"CREATE SCHEMA {_quoted(catalog, name)}")
            writer.describe(principal, "SCHEMA", f"{catalog}.{name}", body)
            return reader.schema(f"{catalog}.{name}")

        return JSONResponse(await run(work))

    async def delete_schema(request: Request) -> Response:
        principal = await ws.identity.authenticate(request)
        name, cascade = request.path_params["name"], " CASCADE" if _force(request) else ""

        def work() -> None:
            reader.schema(name)
            writer.run(principal, f"DROP SCHEMA {_quoted(*name.split('.'))}{cascade}")

        await run(work)
        return JSONResponse({})

    async def delete_table(request: Request) -> Response:
        principal = await ws.identity.authenticate(request)
        name = request.path_params["name"]

        def work() -> None:
            kind = "VIEW" if reader.table(name)["table_type"] == "VIEW" else "TABLE"
            writer.run(principal, f"DROP {kind} {_quoted(*name.split('.'))}")

        await run(work)
        return JSONResponse({})

    return [
        Route(f"{BASE}/catalogs", create_catalog, methods=["POST"]),
        Route(BASE + "/catalogs/{name}", updating("CATALOG", reader.catalog), methods=["PATCH"]),
        Route(BASE + "/catalogs/{name}", delete_catalog, methods=["DELETE"]),
        Route(f"{BASE}/schemas", create_schema, methods=["POST"]),
        Route(BASE + "/schemas/{name}", updating("SCHEMA", reader.schema), methods=["PATCH"]),
        Route(BASE + "/schemas/{name}", delete_schema, methods=["DELETE"]),
        Route(BASE + "/tables/{name}", delete_table, methods=["DELETE"]),
    ]
