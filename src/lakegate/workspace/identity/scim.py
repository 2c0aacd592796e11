"""SCIM service principals: the document shape, filters, PATCH, and the workspace-level routes.

The account host (accounts.py) serves the same documents under
`/api/2.0/accounts/{account_id}/scim/v2/ServicePrincipals`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from lakegate.workspace.http import fail, int_param, json_body, not_found
from lakegate.workspace.identity.host import IdentityHost
from lakegate.workspace.identity.principals import Principal

SP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ServicePrincipal"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
# A value is quoted ("a b"), or (as Databricks also takes it) one unquoted word (true/false).
_CLAUSE = re.compile(r'\s*(\w+)\s+(eq|ne|co|sw)\s+(?:"((?:[^"\\]|\\.)*)"|([^\s"]+))\s*', re.I)
_OPS: dict[str, Callable[[str, str], bool]] = {
    "eq": lambda have, want: have.lower() == want.lower(),
    "ne": lambda have, want: have.lower() != want.lower(),
    "co": lambda have, want: want.lower() in have.lower(),
    "sw": lambda have, want: have.lower().startswith(want.lower()),
}
SP_ATTRIBUTES = ("displayName", "applicationId", "id", "active")


def service_principal(p: Principal, *, account: bool) -> dict[str, Any]:
    """The SCIM document of a service principal, account- or workspace-level."""
    doc: dict[str, Any] = {
        "schemas": [SP_SCHEMA],
        "id": p.id,
        "applicationId": p.application_id,
        "displayName": p.display_name,
        "active": p.active,
    }
    if account:
        doc["roles"] = [{"value": "account_admin"}] if p.account_admin else []
    else:
        doc["groups"] = [{"display": "admins", "value": "admins"}] if p.is_admin else []
        doc["entitlements"] = [{"value": "databricks-sql-access"}]
    return doc


def compile_filter(text: str | None, attributes: tuple[str, ...]) -> Callable[[dict], bool]:
    """A SCIM filter of `attr op "value"` clauses (eq, ne, co, sw; case-insensitive; a boolean
    field compares as true/false) joined by and/or, over a document's `attributes`."""
    if not text:
        return lambda doc: True
    parts = re.split(r"\s+(and|or)\s+", text.strip(), flags=re.I)
    clauses = [_clause(part, attributes) for part in parts[::2]]
    joins = [j.lower() for j in parts[1::2]]

    def matches(doc: dict) -> bool:
        result = clauses[0](doc)
        for join, clause in zip(joins, clauses[1:], strict=True):
            result = (result and clause(doc)) if join == "and" else (result or clause(doc))
        return result

    return matches


def _clause(text: str, attributes: tuple[str, ...]) -> Callable[[dict], bool]:
    match = _CLAUSE.fullmatch(text)
    if match is None or match.group(1) not in attributes:
        raise fail(
            "INVALID_PARAMETER_VALUE",
            f'Unsupported SCIM filter {text!r}; use e.g. {attributes[0]} eq "name" (attributes '
            f"{', '.join(attributes)}; operators eq, ne, co, sw; joined by and/or).",
        )
    attribute, op, quoted, bare = match.groups()
    value = quoted.replace('\\"', '"') if quoted is not None else bare
    test = _OPS[op.lower()]
    return lambda doc: test(_text(doc.get(attribute, "")), value)


def _text(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def principal_filter(text: str | None) -> Callable[[Principal], bool]:
    """A SCIM filter over service principals (displayName, applicationId, id, active)."""
    keep = compile_filter(text, SP_ATTRIBUTES)
    return lambda p: keep({"displayName": p.display_name, "applicationId": p.application_id,
                           "id": p.id, "active": p.active})  # fmt: skip


def list_response(request: Request, found: list[Principal], *, account: bool) -> JSONResponse:
    """One page of a SCIM list of service principals."""
    return page(request, found, lambda p: service_principal(p, account=account))


def page(request: Request, found: list[Any], document: Callable[[Any], dict]) -> JSONResponse:
    """One page (`startIndex` is 1-based, `count` defaults to 10000) of a SCIM list."""
    start = int_param(request, "startIndex", default=1, low=1)
    count = int_param(request, "count", default=10000, low=0, high=10000)
    shown = found[start - 1 : start - 1 + count]
    return JSONResponse(
        {
            "schemas": [LIST_SCHEMA],
            "totalResults": len(found),
            "startIndex": start,
            "itemsPerPage": len(shown),
            "Resources": [document(item) for item in shown],
        }
    )


def apply_patch(ws: IdentityHost, p: Principal, body: dict[str, Any], *, account: bool) -> None:
    """SCIM PATCH: replace/add of active and displayName; account_admin role on the account."""
    for kind, attribute, new in patch_operations(body):
        _set_attribute(p, kind, attribute, new, account=account)
    ws.identity.save_principal(p)


def patch_operations(body: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """A SCIM PATCH body as `(op, path, value)` triples; `{op, value: {attr: v}}` is split up."""
    operations = body.get("Operations", body.get("operations"))
    if not isinstance(operations, list) or not operations:
        raise fail("INVALID_PARAMETER_VALUE", "PATCH needs a non-empty 'Operations' array.")
    found = []
    for op in operations:
        kind = str(op.get("op", "")).lower() if isinstance(op, dict) else ""
        if kind not in ("add", "replace", "remove"):
            raise fail("INVALID_PARAMETER_VALUE", "Each operation needs op: add|replace|remove.")
        path, value = op.get("path"), op.get("value")
        pairs = value.items() if path is None and isinstance(value, dict) else [(path, value)]
        found += [(kind, attribute, new) for attribute, new in pairs]
    return found


def _set_attribute(p: Principal, kind: str, attribute: Any, value: Any, *, account: bool) -> None:
    if attribute == "active" and kind != "remove":
        if not isinstance(value, bool):
            value = str(value).lower() == "true"
        p.active = value
    elif attribute == "displayName" and kind != "remove":
        if not isinstance(value, str) or not value.strip():
            raise fail("INVALID_PARAMETER_VALUE", "displayName must be a non-empty string.")
        p.display_name = value
    elif attribute == "roles" and account:
        values = {v.get("value") for v in value or [] if isinstance(v, dict)}
        if "account_admin" in values or (kind == "remove" and not value):
            p.account_admin = kind != "remove"
    else:
        raise fail(
            "INVALID_PARAMETER_VALUE",
            f"Cannot {kind} {attribute!r}; supported: active, displayName"
            + (", roles" if account else "")
            + ".",
        )


def principal_by_id(ws: IdentityHost, ident: str) -> Principal:
    p = ws.identity.principal(ident)
    if p is None:
        raise not_found("Service principal", ident)
    return p


def routes(ws: IdentityHost) -> list[BaseRoute]:
    """Workspace SCIM: ServicePrincipals (assigned ones) and Me."""
    identity = ws.identity

    async def caller(request: Request, *, admin: bool = False) -> Principal:
        principal = await identity.authenticate(request)
        if admin and not principal.is_admin:
            raise fail("PERMISSION_DENIED", "Only workspace admins can change service principals.")
        return principal

    def assigned(ident: str) -> Principal:
        p = identity.principal(ident)
        if p is None or not p.assigned:
            raise not_found("Service principal", ident)
        return p

    async def collection(request: Request) -> Response:
        if request.method == "GET":
            await caller(request)
            test = principal_filter(request.query_params.get("filter"))
            found = [p for p in identity.principals.values() if p.assigned and test(p)]
            return list_response(request, found, account=False)
        await caller(request, admin=True)
        body = await json_body(request)
        app_id = body.get("applicationId")
        existing = identity.by_client_id(app_id) if isinstance(app_id, str) else None
        if existing is not None:  # adding an account principal to this workspace
            if existing.assigned:
                raise fail("RESOURCE_ALREADY_EXISTS", f"Service principal {app_id} already exists.")
            identity.assign(existing, ["USER"])
            return JSONResponse(service_principal(existing, account=False), 201)
        name = body.get("displayName")
        if not isinstance(name, str) or not name.strip():
            raise fail("INVALID_PARAMETER_VALUE", "displayName is required.")
        p = identity.create_principal(
            name,
            application_id=app_id,
            active=body.get("active", True) is not False,
            workspace_permissions=["USER"],
        )
        return JSONResponse(service_principal(p, account=False), 201)

    async def item(request: Request) -> Response:
        ident = request.path_params["id"]
        if request.method == "GET":
            await caller(request)
            return JSONResponse(service_principal(assigned(ident), account=False))
        await caller(request, admin=True)
        p = assigned(ident)
        if request.method == "DELETE":
            identity.assign(p, [])  # removes it from this workspace, not from the account
            return Response(status_code=204)
        body = await json_body(request)
        if request.method == "PATCH":
            apply_patch(ws, p, body, account=False)
        else:
            replace(ws, p, body)
        return JSONResponse(service_principal(p, account=False))

    async def me(request: Request) -> Response:
        p = await caller(request)
        doc = {
            "schemas": [USER_SCHEMA],
            "id": p.id,
            "userName": p.application_id,
            "displayName": p.display_name,
            "active": p.active,
            "emails": [{"value": p.user_name, "type": "work", "primary": True}]
            if p.user_name
            else [],
            "groups": [{"display": "admins", "value": "admins"}] if p.is_admin else [],
        }
        return JSONResponse(doc, headers={"X-Databricks-Org-Id": ws.workspace_id})

    base = "/api/2.0/preview/scim/v2"
    return [
        Route(base + "/Me", me, methods=["GET"]),
        Route(base + "/ServicePrincipals", collection, methods=["GET", "POST"]),
        Route(base + "/ServicePrincipals/{id}", item, methods=["GET", "PUT", "PATCH", "DELETE"]),
    ]


def replace(ws: IdentityHost, p: Principal, body: dict[str, Any]) -> None:
    """SCIM PUT: displayName and active are replaced."""
    name = body.get("displayName", p.display_name)
    if not isinstance(name, str) or not name.strip():
        raise fail("INVALID_PARAMETER_VALUE", "displayName must be a non-empty string.")
    active = body.get("active", True)
    if not isinstance(active, bool):
        raise fail("INVALID_PARAMETER_VALUE", "active must be true or false.")
    p.display_name, p.active = name, active
    ws.identity.save_principal(p)
