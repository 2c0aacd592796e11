"""The account API (own host): SCIM service principals, OAuth secrets, workspace assignments.

Every route needs an account-level token (from `/oidc/accounts/{id}/v1/token`) of an
account admin.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from lakegate.workspace.http import empty, fail, json_body, not_found
from lakegate.workspace.identity import scim
from lakegate.workspace.identity.host import IdentityHost
from lakegate.workspace.identity.principals import (
    DEFAULT_SECRET_LIFETIME_S,
    KNOWN_SCOPES,
    Principal,
    Secret,
)

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


def _account_admin(body: dict[str, Any]) -> bool:
    """Whether a SCIM body gives the `account_admin` role."""
    roles = {r.get("value") for r in body.get("roles") or [] if isinstance(r, dict)}
    return "account_admin" in roles


def _permissions(body: dict[str, Any]) -> list[str]:
    """The one level an assignment keeps: ADMIN when asked for, else USER."""
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
    return ["ADMIN"] if "ADMIN" in permissions else ["USER"]


def _assignment(p: Principal) -> dict[str, Any]:
    return {
        "principal": {
            "principal_id": int(p.id),
            "service_principal_name": p.application_id,
            "display_name": p.display_name,
        },
        "permissions": p.workspace_permissions,
    }


class AccountApi:
    """The account host's endpoints; each one first checks for an admin of this account."""

    def __init__(self, ws: IdentityHost) -> None:
        self.ws = ws
        self.identity = ws.identity

    def routes(self) -> list[BaseRoute]:
        base = "/api/2.0/accounts/{account_id}"
        sps = base + "/scim/v2/ServicePrincipals"
        secrets = base + "/servicePrincipals/{id}/credentials/secrets"
        assigned = base + "/workspaces/{workspace_id}/permissionassignments"
        return [
            Route(base + "/workspaces", self.workspaces, methods=["GET"]),
            Route(base + "/workspaces/{workspace_id}", self.workspace, methods=["GET"]),
            Route(sps, self.list_principals, methods=["GET"]),
            Route(sps, self.create_principal, methods=["POST"]),
            Route(sps + "/{id}", self.get_principal, methods=["GET"]),
            Route(sps + "/{id}", self.replace_principal, methods=["PUT"]),
            Route(sps + "/{id}", self.patch_principal, methods=["PATCH"]),
            Route(sps + "/{id}", self.delete_principal, methods=["DELETE"]),
            Route(secrets, self.list_secrets, methods=["GET"]),
            Route(secrets, self.create_secret, methods=["POST"]),
            Route(secrets + "/{secret_id}", self.delete_secret, methods=["DELETE"]),
            Route(assigned, self.assignments, methods=["GET"]),
            Route(assigned + "/permissions", self.assignment_levels, methods=["GET"]),
            Route(assigned + "/principals/{principal_id}", self.assign, methods=["PUT"]),
            Route(assigned + "/principals/{principal_id}", self.unassign, methods=["DELETE"]),
        ]

    async def _admin(self, request: Request) -> Principal:
        principal = await self.identity.authenticate(request, audience="account")
        if request.path_params.get("account_id") != self.ws.account_id:
            raise not_found("Account", request.path_params.get("account_id", ""))
        if not principal.account_admin:
            raise fail("PERMISSION_DENIED", "Only account admins can use the account API.")
        return principal

    async def _principal(self, request: Request, key: str = "id") -> Principal:
        """The service principal the path names, once the caller is known to be an admin."""
        await self._admin(request)
        return scim.principal_by_id(self.ws, str(request.path_params[key]))

    async def _in_workspace(self, request: Request) -> None:
        """The caller is an admin and the path names this account's one workspace."""
        await self._admin(request)
        if str(request.path_params["workspace_id"]) != self.ws.workspace_id:
            raise not_found("Workspace", str(request.path_params["workspace_id"]))

    def _workspace(self) -> dict[str, Any]:
        """The account's one workspace, as provisioning's `Workspace`."""
        return {
            "account_id": self.ws.account_id,
            "workspace_id": int(self.ws.workspace_id),
            "workspace_name": "lakegate-local",
            "deployment_name": "lakegate-local",
            "workspace_status": "RUNNING",
            "workspace_status_message": "Workspace is running.",
            "pricing_tier": "PREMIUM",
            "creation_time": int(self.ws.admin.created * 1000),
        }

    async def workspaces(self, request: Request) -> Response:
        await self._admin(request)
        return JSONResponse([self._workspace()])  # a bare array, as Databricks answers

    async def workspace(self, request: Request) -> Response:
        await self._in_workspace(request)
        return JSONResponse(self._workspace())

    async def list_principals(self, request: Request) -> Response:
        await self._admin(request)
        test = scim.principal_filter(request.query_params.get("filter"))
        found = [p for p in self.identity.principals.values() if test(p)]
        return scim.list_response(request, found, account=True)

    async def create_principal(self, request: Request) -> Response:
        await self._admin(request)
        body = await json_body(request)
        name = body.get("displayName")
        if not isinstance(name, str) or not name.strip():
            raise fail("INVALID_PARAMETER_VALUE", "displayName is required.")
        app_id = body.get("applicationId")
        if app_id is not None and not isinstance(app_id, str):
            raise fail("INVALID_PARAMETER_VALUE", "applicationId must be a string.")
        p = self.identity.create_principal(
            name,
            application_id=app_id,
            active=body.get("active", True) is not False,
            account_admin=_account_admin(body),
        )
        return JSONResponse(scim.service_principal(p, account=True), 201)

    async def get_principal(self, request: Request) -> Response:
        p = await self._principal(request)
        return JSONResponse(scim.service_principal(p, account=True))

    async def replace_principal(self, request: Request) -> Response:
        p = await self._principal(request)
        body = await json_body(request)
        p.account_admin = _account_admin(body)
        scim.replace(self.ws, p, body)
        return JSONResponse(scim.service_principal(p, account=True))

    async def patch_principal(self, request: Request) -> Response:
        p = await self._principal(request)
        scim.apply_patch(self.ws, p, await json_body(request), account=True)
        return JSONResponse(scim.service_principal(p, account=True))

    async def delete_principal(self, request: Request) -> Response:
        p = await self._principal(request)
        self.identity.delete_principal(p.id)
        return Response(status_code=204)

    async def list_secrets(self, request: Request) -> Response:
        p = await self._principal(request)
        infos = [secret_info(s) for s in self.identity.secrets_of(p.id)]
        return JSONResponse({"secrets": infos})

    async def create_secret(self, request: Request) -> Response:
        p = await self._principal(request)
        body = await json_body(request, required=False)
        secret, value = self.identity.create_secret(
            p, lifetime_s=_lifetime(body), scopes=_scopes(body)
        )
        return JSONResponse({**secret_info(secret), "secret": value})

    async def delete_secret(self, request: Request) -> Response:
        p = await self._principal(request)
        secret_id = request.path_params["secret_id"]
        secret = self.identity.secrets.get(secret_id)
        if secret is None or secret.principal_id != p.id:
            raise not_found("Secret", secret_id)
        self.identity.delete_secret(secret_id)
        return empty()

    async def assignments(self, request: Request) -> Response:
        await self._in_workspace(request)
        found = [_assignment(p) for p in self.identity.principals.values() if p.assigned]
        return JSONResponse({"permission_assignments": found})

    async def assignment_levels(self, request: Request) -> Response:
        await self._in_workspace(request)
        levels = [
            {"permission_level": "USER", "description": "Can use the workspace"},
            {"permission_level": "ADMIN", "description": "Can administer the workspace"},
        ]
        return JSONResponse({"permissions": levels})

    async def assign(self, request: Request) -> Response:
        await self._in_workspace(request)
        p = scim.principal_by_id(self.ws, str(request.path_params["principal_id"]))
        self.identity.assign(p, _permissions(await json_body(request)))
        return JSONResponse(_assignment(p))

    async def unassign(self, request: Request) -> Response:
        await self._in_workspace(request)
        p = scim.principal_by_id(self.ws, str(request.path_params["principal_id"]))
        if not p.assigned:
            raise not_found("Permission assignment for principal", p.id)
        self.identity.assign(p, [])
        return empty()


def routes(ws: IdentityHost) -> list[BaseRoute]:
    """The account API: service principals, their OAuth secrets, workspace assignments."""
    return AccountApi(ws).routes()
