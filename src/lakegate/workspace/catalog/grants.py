"""Unity Catalog grants: privilege assignments on catalogs, schemas, tables and functions
(`/api/2.1/unity-catalog/permissions` and `/effective-permissions`).

Grants are recorded and reported like Databricks does, and enforced on every SQL statement
(`catalog.privileges`).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from lakegate.workspace.catalog import functions
from lakegate.workspace.catalog.catalogs import BASE
from lakegate.workspace.http import fail, json_body

if TYPE_CHECKING:
    from lakegate.workspace.state import WorkspaceState

# The privileges of databricks-sdk's catalog.Privilege that apply to these securables.
PRIVILEGES = frozenset({
    "ALL_PRIVILEGES", "APPLY_TAG", "BROWSE", "CREATE_FUNCTION", "CREATE_MATERIALIZED_VIEW",
    "CREATE_MODEL", "CREATE_SCHEMA", "CREATE_TABLE", "CREATE_VIEW", "CREATE_VOLUME", "EXECUTE",
    "EXTERNAL_USE_SCHEMA", "MANAGE", "MODIFY", "READ_VOLUME", "REFRESH", "SELECT", "USE_CATALOG",
    "USE_SCHEMA", "WRITE_VOLUME",
})  # fmt: skip
KINDS = ("catalog", "schema", "table", "function")


class Grants:
    """Who holds which privileges on which securable, kept in the state store."""

    def __init__(self, ws: WorkspaceState) -> None:
        self.ws = ws
        self.functions = functions.reader(ws)

    def check(self, kind: str, full_name: str) -> str:
        """The securable type in upper case; 400 if unknown, 404 if the object does not exist."""
        kind = kind.lower()
        if kind not in KINDS:
            raise fail(
                "INVALID_PARAMETER_VALUE",
                f"Securable type {kind!r} is not supported here; use one of: {', '.join(KINDS)}.",
            )
        catalogs = self.functions.catalogs
        if kind == "catalog":
            catalogs.catalog(full_name)
        elif kind == "schema":
            catalogs.schema(full_name)
        elif kind == "table":
            catalogs.table(full_name)
        else:
            catalog, schema, name = [*full_name.split("."), "", ""][:3]
            found = self.functions.functions(catalog, schema) if catalog and schema else []
            if not any(f["name"] == name for f in found):
                raise fail("RESOURCE_DOES_NOT_EXIST", f"Function '{full_name}' does not exist.")
        return kind.upper()

    def direct(self, kind: str, full_name: str) -> dict[str, list[str]]:
        """Unity Catalog names are case-insensitive: grants are kept under the lower-case name."""
        return self.ws.store.get("uc_grant", f"{kind}:{full_name.lower()}") or {}

    def update(self, kind: str, full_name: str, changes: Any) -> dict[str, list[str]]:
        if not isinstance(changes, list):
            raise fail("INVALID_PARAMETER_VALUE", "changes must be an array.")
        held = {p: set(v) for p, v in self.direct(kind, full_name).items()}
        for change in changes:
            principal = change.get("principal") if isinstance(change, dict) else None
            if not isinstance(principal, str) or not principal.strip():
                raise fail("INVALID_PARAMETER_VALUE", "Every change needs a principal.")
            add, remove = _privileges(change, "add"), _privileges(change, "remove")
            held[principal] = (held.get(principal, set()) | add) - remove
        kept = {p: sorted(v) for p, v in sorted(held.items()) if v}
        self.ws.store.put("uc_grant", f"{kind}:{full_name.lower()}", kept)
        return kept

    def effective(self, kind: str, full_name: str) -> dict[str, list[dict[str, str]]]:
        """Direct privileges plus those inherited from the parent catalog and schema."""
        parts = full_name.split(".")
        parents = [("CATALOG", parts[0])] if kind != "CATALOG" else []
        if kind in ("TABLE", "FUNCTION"):
            parents.append(("SCHEMA", ".".join(parts[:2])))
        found: dict[str, list[dict[str, str]]] = {}
        for parent_kind, parent in parents:
            for principal, privileges in self.direct(parent_kind, parent).items():
                origin = {"inherited_from_type": parent_kind, "inherited_from_name": parent}
                found.setdefault(principal, []).extend(
                    {"privilege": p, **origin} for p in privileges
                )
        for principal, privileges in self.direct(kind, full_name).items():
            found.setdefault(principal, []).extend({"privilege": p} for p in privileges)
        return dict(sorted(found.items()))


def _privileges(change: dict[str, Any], key: str) -> set[str]:
    values = change.get(key) or []
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise fail("INVALID_PARAMETER_VALUE", f"'{key}' must be an array of privilege names.")
    unknown = sorted(set(values) - PRIVILEGES)
    if unknown:
        raise fail(
            "INVALID_PARAMETER_VALUE",
            f"Unknown privilege(s) {', '.join(unknown)}; use e.g. SELECT, MODIFY, USE_CATALOG, "
            "USE_SCHEMA, EXECUTE or ALL_PRIVILEGES.",
        )
    return set(values)


def _assignments(found: dict[str, Any], request: Request) -> list[dict[str, Any]]:
    wanted = request.query_params.get("principal")
    return [
        {"principal": principal, "privileges": privileges}
        for principal, privileges in found.items()
        if wanted is None or principal == wanted
    ]


def routes(ws: WorkspaceState) -> list[BaseRoute]:
    grants = Grants(ws)

    async def securable(request: Request) -> tuple[str, str]:
        params = request.path_params
        kind = await asyncio.to_thread(grants.check, params["kind"], params["name"])
        return kind, params["name"]

    async def permissions(request: Request) -> Response:
        principal = await ws.identity.authenticate(request)
        kind, name = await securable(request)
        if request.method == "GET":
            found = grants.direct(kind, name)
        else:
            if not principal.is_admin:
                raise fail(
                    "PERMISSION_DENIED",
                    f"Only the owner of {kind.lower()} '{name}' or an admin can change its grants.",
                )
            found = grants.update(kind, name, (await json_body(request)).get("changes"))
        return JSONResponse({"privilege_assignments": _assignments(found, request)})

    async def effective(request: Request) -> Response:
        await ws.identity.authenticate(request)
        kind, name = await securable(request)
        found = grants.effective(kind, name)
        return JSONResponse({"privilege_assignments": _assignments(found, request)})

    return [
        Route(BASE + "/permissions/{kind}/{name}", permissions, methods=["GET", "PATCH"]),
        Route(BASE + "/effective-permissions/{kind}/{name}", effective, methods=["GET"]),
    ]
