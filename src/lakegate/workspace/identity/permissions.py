"""Object permissions (`/api/2.0/permissions/{type}/{id}`) and the check every route makes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from lakegate.workspace.http import ApiError, fail, json_body, not_found
from lakegate.workspace.identity.principals import Identity, Principal
from lakegate.workspace.store import Store

PRINCIPAL_FIELDS = ("user_name", "group_name", "service_principal_name")
BUILTIN_GROUPS = ("admins", "users")
LEVEL_DESCRIPTIONS = {
    "CAN_USE": "Can use the object",
    "CAN_MONITOR": "Can monitor the object",
    "CAN_MANAGE": "Can manage the object",
    "IS_OWNER": "Is the owner of the object",
    "CAN_VIEW": "Can view the object",
    "CAN_MANAGE_RUN": "Can manage runs of the object",
}


class PermissionsHost(Protocol):
    """What the permissions routes need of the workspace: who calls, and the permissions."""

    identity: Identity
    permissions: Permissions


@dataclass(frozen=True)
class ObjectType:
    """A kind of object that has permissions: its levels (weakest first) and how ids are checked."""

    name: str  # as in the URL: "warehouses"
    path: str  # object_id prefix: "/sql/warehouses/"
    levels: tuple[str, ...]
    exists: Callable[[str], bool]


class Permissions:
    """Direct grants per object, kept in memory and written through to the store."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.types: dict[str, ObjectType] = {}
        # (type, id) -> {("service_principal_name", app_id): level, ...}
        self._acl: dict[tuple[str, str], dict[tuple[str, str], str]] = {}
        for key, body in store.all("acl"):
            type_name, _, ident = key.partition("/")
            self._acl[(type_name, ident)] = {
                (e["field"], e["name"]): e["level"] for e in body["entries"]
            }

    def register(self, object_type: ObjectType) -> None:
        """Make an object type's permissions served and checkable (WS2 registers jobs)."""
        self.types[object_type.name] = object_type

    def level_of(self, principal: Principal, type_name: str, ident: str) -> str | None:
        """The principal's strongest level on the object (admins: CAN_MANAGE at least)."""
        acl = self._acl.get((type_name, ident), {})
        levels = self.types[type_name].levels
        candidates = [
            acl.get(("service_principal_name", principal.application_id)),
            acl.get(("group_name", "users")),
        ]
        if principal.user_name:
            candidates.append(acl.get(("user_name", principal.user_name)))
        if principal.is_admin:
            candidates += [acl.get(("group_name", "admins")), "CAN_MANAGE"]
        found = [c for c in candidates if c in levels]
        return max(found, key=levels.index) if found else None

    def allows(self, principal: Principal, type_name: str, ident: str, level: str) -> bool:
        levels = self.types[type_name].levels
        have = self.level_of(principal, type_name, ident)
        return have is not None and levels.index(have) >= levels.index(level)

    def check(self, principal: Principal, type_name: str, ident: str, level: str) -> None:
        """Raise 403 PERMISSION_DENIED unless the principal holds `level` (or stronger)."""
        if not self.allows(principal, type_name, ident, level):
            noun = type_name.rstrip("s")
            raise fail(
                "PERMISSION_DENIED",
                f"Principal {principal.application_id} does not have {level} permission on "
                f"{noun} {ident}.",
            )

    def grant(self, type_name: str, ident: str, field: str, name: str, level: str) -> None:
        self._acl.setdefault((type_name, ident), {})[(field, name)] = level
        self._save(type_name, ident)

    def forget(self, type_name: str, ident: str) -> None:
        self._acl.pop((type_name, ident), None)
        self.store.delete("acl", f"{type_name}/{ident}")

    def set_acl(
        self, type_name: str, ident: str, entries: dict[tuple[str, str], str], *, replace: bool
    ) -> None:
        current = self._acl.get((type_name, ident), {})
        if replace:
            # The owner survives a PUT that does not name a new one, as on Databricks.
            keep = {k: v for k, v in current.items() if v == "IS_OWNER"}
            if "IS_OWNER" in entries.values():
                keep = {}
            merged = {**keep, **entries}
        else:
            merged = {**current, **entries}
        if list(merged.values()).count("IS_OWNER") > 1:
            raise fail("INVALID_PARAMETER_VALUE", "An object can only have one owner.")
        self._acl[(type_name, ident)] = merged
        self._save(type_name, ident)

    def view(self, type_name: str, ident: str, display: Callable[[str, str], str | None]) -> dict:
        """The Databricks `ObjectPermissions` document."""
        object_type = self.types[type_name]
        acl = [
            {
                field: name,
                **({"display_name": d} if (d := display(field, name)) else {}),
                "all_permissions": [{"permission_level": level, "inherited": False}],
            }
            for (field, name), level in self._acl.get((type_name, ident), {}).items()
        ]
        acl.append(
            {
                "group_name": "admins",
                "all_permissions": [
                    {
                        "permission_level": "CAN_MANAGE",
                        "inherited": True,
                        "inherited_from_object": [object_type.path],
                    }
                ],
            }
        )
        return {
            "object_id": f"{object_type.path}{ident}",
            "object_type": type_name,
            "access_control_list": acl,
        }

    def _save(self, type_name: str, ident: str) -> None:
        entries = [
            {"field": f, "name": n, "level": lv}
            for (f, n), lv in self._acl.get((type_name, ident), {}).items()
        ]
        self.store.put("acl", f"{type_name}/{ident}", {"entries": entries})


def _parse_acl(ws: PermissionsHost, object_type: ObjectType, body: dict[str, Any]) -> dict:
    raw = body.get("access_control_list", [])
    if not isinstance(raw, list):
        raise fail("INVALID_PARAMETER_VALUE", "access_control_list must be an array.")
    entries: dict[tuple[str, str], str] = {}
    for item in raw:
        if not isinstance(item, dict):
            raise fail("INVALID_PARAMETER_VALUE", "Each access control entry must be an object.")
        named = [(f, item[f]) for f in PRINCIPAL_FIELDS if item.get(f)]
        if len(named) != 1 or not isinstance(named[0][1], str):
            raise fail(
                "INVALID_PARAMETER_VALUE",
                "Each access control entry needs exactly one of user_name, group_name, "
                "service_principal_name.",
            )
        field, name = named[0]
        level = item.get("permission_level")
        if level not in object_type.levels:
            raise fail(
                "INVALID_PARAMETER_VALUE",
                f"Permission level {level!r} is not valid for {object_type.name}; use one of "
                f"{', '.join(object_type.levels)}.",
            )
        if field == "service_principal_name" and ws.identity.by_client_id(name) is None:
            raise fail(
                "INVALID_PARAMETER_VALUE",
                f"Principal: ServicePrincipalName({name}) does not exist.",
            )
        if field == "user_name" and not ws.identity.user_exists(name):
            raise fail("INVALID_PARAMETER_VALUE", f"Principal: UserName({name}) does not exist.")
        if field == "group_name" and name not in BUILTIN_GROUPS:
            raise fail("INVALID_PARAMETER_VALUE", f"Principal: GroupName({name}) does not exist.")
        if field == "group_name" and name == "admins":
            raise fail(
                "INVALID_PARAMETER_VALUE", "The admins group's permissions cannot be changed."
            )
        entries[(field, name)] = level
    return entries


def routes(ws: PermissionsHost) -> list[BaseRoute]:
    """`/api/2.0/permissions/{type}/{id}`: GET, PUT (replace), PATCH (add) and permissionLevels."""

    def display(field: str, name: str) -> str | None:
        if field == "service_principal_name" and (p := ws.identity.by_client_id(name)):
            return p.display_name
        return None

    async def target(request: Request) -> tuple[Principal, ObjectType, str]:
        principal = await ws.identity.authenticate(request)
        type_name = request.path_params["object_type"]
        ident = request.path_params["object_id"]
        object_type = ws.permissions.types.get(type_name)
        if object_type is None:
            raise fail(
                "INVALID_PARAMETER_VALUE",
                f"Object type {type_name!r} is not supported; use one of "
                f"{', '.join(sorted(ws.permissions.types))}.",
            )
        if not object_type.exists(ident):
            raise not_found(type_name.rstrip("s").capitalize(), ident)
        return principal, object_type, ident

    async def permissions(request: Request) -> JSONResponse:
        principal, object_type, ident = await target(request)
        ws.permissions.check(principal, object_type.name, ident, "CAN_MANAGE")
        if request.method != "GET":
            entries = _parse_acl(ws, object_type, await json_body(request))
            ws.permissions.set_acl(
                object_type.name, ident, entries, replace=request.method == "PUT"
            )
        return JSONResponse(ws.permissions.view(object_type.name, ident, display))

    async def levels(request: Request) -> JSONResponse:
        principal, object_type, ident = await target(request)
        if ws.permissions.level_of(principal, object_type.name, ident) is None:
            raise ApiError(403, "PERMISSION_DENIED", "No permission on this object.")
        return JSONResponse(
            {
                "permission_levels": [
                    {"permission_level": lv, "description": LEVEL_DESCRIPTIONS.get(lv, lv)}
                    for lv in object_type.levels
                ]
            }
        )

    base = "/api/2.0/permissions/{object_type}/{object_id}"
    return [
        Route(base, permissions, methods=["GET", "PUT", "PATCH"]),
        Route(base + "/permissionLevels", levels, methods=["GET"]),
    ]
