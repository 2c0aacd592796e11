"""SCIM Users and Groups, on the workspace (`/api/2.0/preview/scim/v2/Users`, `/Groups`) and on
the account host (`/api/2.0/accounts/{account_id}/scim/v2/Users`, `/Groups`, account admins).

Users are created through the API (the local workspace has no people of its own). The built-in
groups `admins` and `users` list their members from the workspace's assignments; other groups
keep the members they were created with.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from lakegate.workspace.http import ApiError, fail, json_body, not_found
from lakegate.workspace.identity.host import IdentityHost
from lakegate.workspace.identity.scim import USER_SCHEMA, compile_filter, page, patch_operations

GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
BASE = "/api/2.0/preview/scim/v2"
BUILT_IN = ("admins", "users")
_MEMBER_PATH = re.compile(r'^members\[value eq "([^"]+)"\]$', re.I)


def _new_id() -> str:
    return str(random.SystemRandom().randrange(10**14, 10**15))


def listing(request: Request, docs: list[dict[str, Any]], attributes: tuple[str, ...]) -> Response:
    """One page (`startIndex` is 1-based) of the documents the filter keeps."""
    keep = compile_filter(request.query_params.get("filter"), attributes)
    return page(request, [d for d in docs if keep(d)], lambda doc: doc)


class Directory:
    """Users and groups of the workspace, in the state store."""

    def __init__(self, ws: IdentityHost) -> None:
        self.ws = ws
        for name in BUILT_IN:
            if not any(g["displayName"] == name for _, g in ws.store.all("scim_group")):
                ident = _new_id()
                ws.store.put("scim_group", ident, {"id": ident, "displayName": name, "members": []})

    # -- users -----------------------------------------------------------------------------

    def users(self) -> list[dict[str, Any]]:
        return [self.user_doc(u) for _, u in sorted(self.ws.store.all("scim_user"))]

    def user(self, ident: str) -> dict[str, Any]:
        found = self.ws.store.get("scim_user", ident)
        if found is None:
            raise not_found("User", ident)
        return self.user_doc(found)

    def create_user(self, body: dict[str, Any]) -> dict[str, Any]:
        name = body.get("userName")
        if not isinstance(name, str) or not name.strip():
            raise fail("INVALID_PARAMETER_VALUE", "userName is required (usually an email).")
        if any(u["userName"].lower() == name.lower() for _, u in self.ws.store.all("scim_user")):
            raise fail("RESOURCE_ALREADY_EXISTS", f"User with username {name} already exists.")
        display = body.get("displayName") or name
        if not isinstance(display, str):
            raise fail("INVALID_PARAMETER_VALUE", "displayName must be a string.")
        user = {
            "id": _new_id(),
            "userName": name,
            "displayName": display,
            "active": body.get("active", True) is not False,
        }
        self.ws.store.put("scim_user", user["id"], user)
        return self.user_doc(user)

    def patch_user(self, ident: str, body: dict[str, Any]) -> dict[str, Any]:
        """PATCH `active` and `displayName` (userName and emails stay, as on Databricks)."""
        self.user(ident)
        user = dict(self.ws.store.get("scim_user", ident) or {})
        for kind, attribute, value in patch_operations(body):
            if attribute == "active" and kind != "remove":
                user["active"] = value is True or str(value).lower() == "true"
            elif attribute == "displayName" and kind != "remove":
                if not isinstance(value, str) or not value.strip():
                    raise fail("INVALID_PARAMETER_VALUE", "displayName must be a non-empty string.")
                user["displayName"] = value
            else:
                raise fail(
                    "INVALID_PARAMETER_VALUE",
                    f"Cannot {kind} {attribute!r} of a user; supported: active, displayName.",
                )
        self.ws.store.put("scim_user", ident, user)
        return self.user_doc(user)

    def replace_user(self, ident: str, body: dict[str, Any]) -> dict[str, Any]:
        """PUT: the user as the body gives it (`userName`, which cannot change; `displayName`,
        else the user name; `active`, else true). Group membership changes through Groups."""
        self.user(ident)
        user = dict(self.ws.store.get("scim_user", ident) or {})
        name = body.get("userName")
        if not isinstance(name, str) or name.lower() != user["userName"].lower():
            raise fail(
                "INVALID_PARAMETER_VALUE",
                f"userName is required and cannot change: send {user['userName']!r}.",
            )
        unsupported = sorted(k for k in ("groups", "roles", "entitlements") if body.get(k))
        if unsupported:
            raise fail(
                "INVALID_PARAMETER_VALUE",
                f"Cannot replace {', '.join(unsupported)} of a user here; change group "
                "membership with PATCH on the group.",
            )
        display = body.get("displayName") or name
        if not isinstance(display, str):
            raise fail("INVALID_PARAMETER_VALUE", "displayName must be a string.")
        active = body.get("active", True)
        if not isinstance(active, bool):
            raise fail("INVALID_PARAMETER_VALUE", "active must be true or false.")
        user.update(displayName=display, active=active)
        self.ws.store.put("scim_user", ident, user)
        return self.user_doc(user)

    def delete_user(self, ident: str) -> None:
        self.user(ident)
        self.ws.store.delete("scim_user", ident)

    def user_doc(self, user: dict[str, Any]) -> dict[str, Any]:
        groups = [
            {"display": g["displayName"], "value": g["id"], "$ref": f"Groups/{g['id']}"}
            for g in self.groups()
            if any(m["value"] == user["id"] for m in g["members"])
        ]
        return {
            "schemas": [USER_SCHEMA],
            "id": user["id"],
            "userName": user["userName"],
            "displayName": user["displayName"],
            "active": user["active"],
            "emails": [{"value": user["userName"], "type": "work", "primary": True}],
            "groups": groups,
            "entitlements": [{"value": "workspace-access"}, {"value": "databricks-sql-access"}],
        }

    # -- groups ----------------------------------------------------------------------------

    def groups(self) -> list[dict[str, Any]]:
        return [self.group_doc(g) for _, g in sorted(self.ws.store.all("scim_group"))]

    def group(self, ident: str) -> dict[str, Any]:
        found = self.ws.store.get("scim_group", ident)
        if found is None:
            raise not_found("Group", ident)
        return self.group_doc(found)

    def create_group(self, body: dict[str, Any]) -> dict[str, Any]:
        name = body.get("displayName")
        if not isinstance(name, str) or not name.strip():
            raise fail("INVALID_PARAMETER_VALUE", "displayName is required.")
        if any(g["displayName"] == name for _, g in self.ws.store.all("scim_group")):
            raise fail("RESOURCE_ALREADY_EXISTS", f"Group with name {name} already exists.")
        members = _member_ids(body.get("members") or [])
        for member in members:
            self._member(member)
        group = {"id": _new_id(), "displayName": name, "members": members}
        self.ws.store.put("scim_group", group["id"], group)
        return self.group_doc(group)

    def patch_group(self, ident: str, body: dict[str, Any]) -> dict[str, Any]:
        """PATCH members (add, remove, `members[value eq "id"]`, replace) and displayName."""
        if self.group(ident)["displayName"] in BUILT_IN:
            raise fail(
                "INVALID_PARAMETER_VALUE",
                "The members of admins and users follow the workspace's assignments.",
            )
        group = dict(self.ws.store.get("scim_group", ident) or {})
        members: list[str] = list(group["members"])
        for kind, attribute, value in patch_operations(body):
            one = _MEMBER_PATH.match(attribute or "")
            if one is not None and kind == "remove":
                members = [m for m in members if m != one.group(1)]
            elif attribute == "members":
                given = _member_ids(value)
                if kind == "remove":
                    members = [m for m in members if m not in given]
                    continue
                for member in given:
                    self._member(member)
                base = members if kind == "add" else []
                members = base + [m for m in given if m not in base]
            elif attribute == "displayName" and kind != "remove" and isinstance(value, str):
                group["displayName"] = value
            else:
                raise fail(
                    "INVALID_PARAMETER_VALUE",
                    f"Cannot {kind} {attribute!r} of a group; supported: members, displayName.",
                )
        group["members"] = members
        self.ws.store.put("scim_group", ident, group)
        return self.group_doc(group)

    def delete_group(self, ident: str) -> None:
        group = self.group(ident)
        if group["displayName"] in BUILT_IN:
            raise fail("PERMISSION_DENIED", f"The built-in group {group['displayName']} stays.")
        self.ws.store.delete("scim_group", ident)

    def _member(self, ident: str) -> dict[str, Any]:
        user = self.ws.store.get("scim_user", ident)
        if user is not None:
            return {"value": ident, "display": user["displayName"], "$ref": f"Users/{ident}"}
        principal = self.ws.identity.principal(ident)
        if principal is None or not principal.assigned:
            raise fail("INVALID_PARAMETER_VALUE", f"Member {ident} is not a user or principal.")
        ref = f"ServicePrincipals/{ident}"
        return {"value": ident, "display": principal.display_name, "$ref": ref}

    def group_doc(self, group: dict[str, Any]) -> dict[str, Any]:
        name = group["displayName"]
        if name in BUILT_IN:
            principals = [
                p
                for p in self.ws.identity.principals.values()
                if p.assigned and (p.is_admin or name == "users")
            ]
            ids = [p.id for p in principals]
            if name == "users":
                ids += [u["id"] for _, u in sorted(self.ws.store.all("scim_user"))]
        else:
            ids = group["members"]
        members = []
        for ident in ids:
            try:
                members.append(self._member(ident))
            except ApiError:
                continue  # deleted since, or no longer assigned: no longer a member
        return {
            "schemas": [GROUP_SCHEMA],
            "id": group["id"],
            "displayName": name,
            "members": members,
            "meta": {"resourceType": "WorkspaceGroup"},
        }


def _member_ids(value: Any) -> list[str]:
    if not isinstance(value, list) or not all(
        isinstance(m, dict) and isinstance(m.get("value"), str) for m in value
    ):
        raise fail("INVALID_PARAMETER_VALUE", "members must be an array of {value: id}.")
    return [m["value"] for m in value]


def routes(ws: IdentityHost) -> list[BaseRoute]:
    """The workspace's SCIM Users and Groups."""

    async def caller(request: Request, *, change: bool = False) -> None:
        principal = await ws.identity.authenticate(request)
        if change and not principal.is_admin:
            raise fail("PERMISSION_DENIED", "Only workspace admins can change users and groups.")

    return _routes(ws, BASE, caller)


def account_routes(ws: IdentityHost) -> list[BaseRoute]:
    """The account's SCIM Users and Groups (`/api/2.0/accounts/{account_id}/scim/v2/...` on the
    account host), for account admins: the same people the workspace sees (one workspace)."""

    async def caller(request: Request, *, change: bool = False) -> None:
        principal = await ws.identity.authenticate(request, audience="account")
        if request.path_params.get("account_id") != ws.account_id:
            raise not_found("Account", request.path_params.get("account_id", ""))
        if not principal.account_admin:
            raise fail("PERMISSION_DENIED", "Only account admins can use the account API.")

    return _routes(ws, "/api/2.0/accounts/{account_id}/scim/v2", caller)


def _routes(ws: IdentityHost, base: str, caller: Callable[..., Any]) -> list[BaseRoute]:
    directory = Directory(ws)

    async def users(request: Request) -> Response:
        if request.method == "GET":
            await caller(request)
            return listing(request, directory.users(), ("userName", "displayName", "id"))
        await caller(request, change=True)
        return JSONResponse(directory.create_user(await json_body(request)), 201)

    async def user(request: Request) -> Response:
        ident = request.path_params["id"]
        if request.method == "GET":
            await caller(request)
            return JSONResponse(directory.user(ident))
        await caller(request, change=True)
        if request.method == "PATCH":
            return JSONResponse(directory.patch_user(ident, await json_body(request)))
        if request.method == "PUT":
            return JSONResponse(directory.replace_user(ident, await json_body(request)))
        directory.delete_user(ident)
        return Response(status_code=204)

    async def groups(request: Request) -> Response:
        if request.method == "GET":
            await caller(request)
            return listing(request, directory.groups(), ("displayName", "id"))
        await caller(request, change=True)
        return JSONResponse(directory.create_group(await json_body(request)), 201)

    async def group(request: Request) -> Response:
        ident = request.path_params["id"]
        if request.method == "GET":
            await caller(request)
            return JSONResponse(directory.group(ident))
        await caller(request, change=True)
        if request.method == "PATCH":
            return JSONResponse(directory.patch_group(ident, await json_body(request)))
        directory.delete_group(ident)
        return Response(status_code=204)

    return [
        Route(base + "/Users", users, methods=["GET", "POST"]),
        Route(base + "/Users/{id}", user, methods=["GET", "PATCH", "PUT", "DELETE"]),
        Route(base + "/Groups", groups, methods=["GET", "POST"]),
        Route(base + "/Groups/{id}", group, methods=["GET", "PATCH", "DELETE"]),
    ]
