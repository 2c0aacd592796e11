"""The account API (own host): SCIM service principals, OAuth secrets, workspace assignments.

Every route needs an account-level token (from `/oidc/accounts/{id}/v1/token`) of an
account admin.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from lakegate.workspace import scim
from lakegate.workspace.http import empty, fail, json_body, not_found
from lakegate.workspace.identity import DEFAULT_SECRET_LIFETIME_S, KNOWN_SCOPES, Principal, Secret

if TYPE_CHECKING:
    from lakegate.workspace.state import WorkspaceState

ASSIGNABLE = ("USER", "ADMIN")
_LIFETIME = re.compile(r"^(\d+)(?:\.\d+)?s?$")


def _time(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def secret_info(secret: Secret) -> dict[str, Any]:
    """A secret as listed: never its value."""
    expired = secret.expire_time <= time.time()
    info: dict[str, Any] = {
        "id": secret.id,
        "secret_hash": secret.secret_hash,
        "create_time": _time(secret.create_time),
        "update_time": _time(secret.create_time),
        "expire_time": _time(secret.expire_time),
        "status": "EXPIRED" if expired else secret.status,
    }
    if secret.scopes is not None:
        info["scopes"] = secret.scopes
    return info


def _lifetime(body: dict[str, Any]) -> float:
    raw = body.get("lifetime")
    if raw is None:
        return DEFAULT_SECRET_LIFETIME_S
    match = _LIFETIME.match(str(raw).strip())
    if match is None or int(match.group(1)) <= 0:
        raise fail(
            "INVALID_PARAMETER_VALUE",
            f"lifetime {raw!r} is not valid; give seconds such as '63072000s' (730 days).",
        )
    seconds = int(match.group(1))
    if seconds > DEFAULT_SECRET_LIFETIME_S:
        raise fail("INVALID_PARAMETER_VALUE", "lifetime may not exceed 730 days (63072000s).")
    return float(seconds)


def _scopes(body: dict[str, Any]) -> list[str] | None:
    raw = body.get("scopes")
    if raw is None or raw == []:
        return None  # unrestricted
    if not isinstance(raw, list) or not all(isinstance(s, str) for s in raw):
        raise fail("INVALID_PARAMETER_VALUE", "scopes must be an array of strings.")
    unknown = sorted(set(raw) - KNOWN_SCOPES)
    if unknown:
        raise fail(
            "INVALID_PARAMETER_VALUE",
            f"Unknown scope(s) {unknown}; this workspace knows {sorted(KNOWN_SCOPES)}.",
        )
    return list(raw)


def routes(ws: WorkspaceState) -> list[BaseRoute]:
    identity = ws.identity

    async def admin(request: Request) -> Principal:
        principal = await identity.authenticate(request, audience="account")
        if request.path_params.get("account_id") != ws.account_id:
            raise not_found("Account", request.path_params.get("account_id", ""))
        if not principal.account_admin:
            raise fail("PERMISSION_DENIED", "Only account admins can use the account API.")
        return principal

    def principal_of(request: Request, key: str = "id") -> Principal:
        return scim.principal_by_id(ws, str(request.path_params[key]))

    async def sp_collection(request: Request) -> Response:
        await admin(request)
        if request.method == "GET":
            test = scim.compile_filter(request.query_params.get("filter"))
            found = [p for p in identity.principals.values() if test(p)]
            return scim.list_response(request, found, account=True)
        body = await json_body(request)
        name = body.get("displayName")
        if not isinstance(name, str) or not name.strip():
            raise fail("INVALID_PARAMETER_VALUE", "displayName is required.")
        app_id = body.get("applicationId")
        if app_id is not None and not isinstance(app_id, str):
            raise fail("INVALID_PARAMETER_VALUE", "applicationId must be a string.")
        roles = {r.get("value") for r in body.get("roles") or [] if isinstance(r, dict)}
        p = identity.create_principal(
            name,
            application_id=app_id,
            active=body.get("active", True) is not False,
            account_admin="account_admin" in roles,
        )
        return JSONResponse(scim.service_principal(p, account=True), 201)

    async def sp_item(request: Request) -> Response:
        await admin(request)
        p = principal_of(request)
        if request.method == "GET":
            return JSONResponse(scim.service_principal(p, account=True))
        if request.method == "DELETE":
            identity.delete_principal(p.id)
            return Response(status_code=204)
        body = await json_body(request)
        if request.method == "PATCH":
            scim.apply_patch(ws, p, body, account=True)
        else:
            roles = {r.get("value") for r in body.get("roles") or [] if isinstance(r, dict)}
            p.account_admin = "account_admin" in roles
            scim.replace(ws, p, body)
        return JSONResponse(scim.service_principal(p, account=True))

    async def secrets_collection(request: Request) -> Response:
        await admin(request)
        p = principal_of(request)
        if request.method == "GET":
            infos = [secret_info(s) for s in identity.secrets_of(p.id)]
            return JSONResponse({"secrets": infos})
        body = await json_body(request, required=False)
        secret, value = identity.create_secret(p, lifetime_s=_lifetime(body), scopes=_scopes(body))
        return JSONResponse({**secret_info(secret), "secret": value})

    async def secret_item(request: Request) -> Response:
        await admin(request)
        p = principal_of(request)
        secret_id = request.path_params["secret_id"]
        secret = identity.secrets.get(secret_id)
        if secret is None or secret.principal_id != p.id:
            raise not_found("Secret", secret_id)
        identity.delete_secret(secret_id)
        return empty()

    def workspace_of(request: Request) -> None:
        if str(request.path_params["workspace_id"]) != ws.workspace_id:
            raise not_found("Workspace", str(request.path_params["workspace_id"]))

    def workspace() -> dict[str, Any]:
        """The account's one workspace, as provisioning's `Workspace`."""
        return {
            "account_id": ws.account_id,
            "workspace_id": int(ws.workspace_id),
            "workspace_name": "lakegate-local",
            "deployment_name": "lakegate-local",
            "workspace_status": "RUNNING",
            "workspace_status_message": "Workspace is running.",
            "pricing_tier": "PREMIUM",
            "creation_time": int(ws.admin.created * 1000),
        }

    async def workspaces(request: Request) -> Response:
        await admin(request)
        if "workspace_id" not in request.path_params:
            return JSONResponse([workspace()])  # a bare array, as Databricks answers
        workspace_of(request)
        return JSONResponse(workspace())

    def assignment(p: Principal) -> dict[str, Any]:
        return {
            "principal": {
                "principal_id": int(p.id),
                "service_principal_name": p.application_id,
                "display_name": p.display_name,
            },
            "permissions": p.workspace_permissions,
        }

    async def assignments(request: Request) -> Response:
        await admin(request)
        workspace_of(request)
        found = [assignment(p) for p in identity.principals.values() if p.assigned]
        return JSONResponse({"permission_assignments": found})

    async def assignment_levels(request: Request) -> Response:
        await admin(request)
        workspace_of(request)
        levels = [
            {"permission_level": "USER", "description": "Can use the workspace"},
            {"permission_level": "ADMIN", "description": "Can administer the workspace"},
        ]
        return JSONResponse({"permissions": levels})

    async def assign(request: Request) -> Response:
        await admin(request)
        workspace_of(request)
        p = principal_of(request, "principal_id")
        if request.method == "DELETE":
            if not p.assigned:
                raise not_found("Permission assignment for principal", p.id)
            identity.assign(p, [])
            return empty()
        body = await json_body(request)
        permissions = body.get("permissions")
        if (
            not isinstance(permissions, list)
            or not permissions
            or any(x not in ASSIGNABLE for x in permissions)
        ):
            raise fail(
                "INVALID_PARAMETER_VALUE",
                'permissions must be a non-empty array of "USER" or "ADMIN".',
            )
        identity.assign(p, ["ADMIN"] if "ADMIN" in permissions else ["USER"])
        return JSONResponse(assignment(p))

    base = "/api/2.0/accounts/{account_id}"
    sps = base + "/scim/v2/ServicePrincipals"
    secrets = base + "/servicePrincipals/{id}/credentials/secrets"
    assigned = base + "/workspaces/{workspace_id}/permissionassignments"
    return [
        Route(base + "/workspaces", workspaces, methods=["GET"]),
        Route(base + "/workspaces/{workspace_id}", workspaces, methods=["GET"]),
        Route(sps, sp_collection, methods=["GET", "POST"]),
        Route(sps + "/{id}", sp_item, methods=["GET", "PUT", "PATCH", "DELETE"]),
        Route(secrets, secrets_collection, methods=["GET", "POST"]),
        Route(secrets + "/{secret_id}", secret_item, methods=["DELETE"]),
        Route(assigned, assignments, methods=["GET"]),
        Route(assigned + "/permissions", assignment_levels, methods=["GET"]),
        Route(assigned + "/principals/{principal_id}", assign, methods=["PUT", "DELETE"]),
    ]
