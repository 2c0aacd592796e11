"""`databricks setup` as a library: service principal, OAuth secret, workspace assignment, grant.

An account admin's client credentials get an account token (OAuth M2M against the account's
token endpoint). Re-running is safe: the principal is found by display name, and a stored
secret that still works is kept instead of creating another one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from lakegate.connectors import build_connector
from lakegate.databricks.connect import discover_token_url, m2m_auth, normalize_host
from lakegate.errors import AuthError, InputError, LakegateError, RemoteError, TokenError
from lakegate.gateway import Gateway
from lakegate.project import Connector
from lakegate.results import decoded_or_error
from lakegate.secrets import SecretStore, register_secret

__all__ = ["AccountAdmin", "SetupReport", "read_grants", "setup_service_principal"]

_TIMEOUT_S = 30.0
_IDENT = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]*")  # a Unity Catalog name part, unquoted
# Names in setup's in-memory secret store (never written): the admin's and the new principal's.
_ADMIN_SECRET = "admin_client_secret"  # noqa: S105 - a store name, not a secret
_PRINCIPAL_SECRET = "principal_client_secret"  # noqa: S105 - a store name, not a secret


@dataclass
class AccountAdmin:
    """Where the account API is and the admin credentials to call it with."""

    account_host: str
    account_id: str
    client_id: str
    client_secret: str

    def __repr__(self) -> str:
        return f"AccountAdmin(account_host={self.account_host!r}, account_id={self.account_id!r})"


@dataclass
class SetupReport:
    """What setup found or did, step by step (never the secret itself)."""

    principal_id: str = ""
    application_id: str = ""
    display_name: str = ""
    created_principal: bool = False
    created_secret: bool = False
    secret_name: str = ""
    secret_value: str | None = field(default=None, repr=False)  # only for --show-secret
    assigned: bool = False
    granted_warehouse: str | None = None
    granted_read: list[str] = field(default_factory=list)  # securables it may now read
    visible_warehouses: int | None = None  # what list_warehouses shows the principal
    steps: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # what the person must still act on


async def setup_service_principal(
    admin: AccountAdmin,
    *,
    workspace_id: str,
    display_name: str,
    secret_store: SecretStore,
    secret_name: str,
    workspace_host: str | None = None,
    grant_warehouse: str | None = None,
    grant_read: list[str] | None = None,
    transport: Any = None,
) -> SetupReport:
    """Create (or find) the principal, its secret, its workspace assignment and grants:
    CAN_USE on `grant_warehouse`, and read access (USE CATALOG, USE SCHEMA, SELECT: nothing
    more) to each `grant_read` catalog, schema or table."""
    reads = read_grants(grant_read or [])  # refused before anything is created
    if (grant_warehouse or reads) and not workspace_host:
        raise InputError(
            "Granting a warehouse or read access needs the workspace URL.",
            hint="Pass --host https://<workspace host> with --grant-warehouse / --grant-read.",
        )
    report = SetupReport(display_name=display_name, secret_name=secret_name)
    register_secret(admin.client_secret)
    secrets = {_ADMIN_SECRET: admin.client_secret}
    async with Gateway.over([], secrets=secrets, transport=transport) as gw:
        account = await _account_connector(gw, admin)
        path = f"/api/2.0/accounts/{admin.account_id}"
        principal = await _find_principal(gw, account, path, display_name)
        if principal is None:
            principal = await _call(
                gw, account, "POST", f"{path}/scim/v2/ServicePrincipals",
                {"displayName": display_name, "active": True},
            )  # fmt: skip
            report.created_principal = True
        report.principal_id = str(principal["id"])
        report.application_id = str(principal.get("applicationId") or "")
        report.steps.append(
            f"{'Created' if report.created_principal else 'Found'} service principal "
            f"{display_name!r} (application id {report.application_id})"
        )
        await _call(
            gw, account, "PUT",
            f"{path}/workspaces/{workspace_id}/permissionassignments/principals/"
            f"{report.principal_id}",
            {"permissions": ["USER"]},
        )  # fmt: skip
        report.assigned = True
        report.steps.append(f"Assigned it to workspace {workspace_id} (USER)")
        # Its token URL found once: checking a kept secret, the grant and the listing use it.
        workspace = await _Workspace.discover(gw, workspace_host) if workspace_host else None
        secret = await _principal_secret(gw, account, path, secret_store, workspace, report)
        if grant_warehouse and workspace:
            await _grant_warehouse(gw, admin, workspace, grant_warehouse, report)
        if reads and workspace:
            await _grant_read(gw, admin, workspace, reads, report)
        if workspace and secret:
            await _check_listing(gw, workspace, report, secret, grant_warehouse)
    return report


async def _principal_secret(
    gw: Gateway,
    account: Connector,
    path: str,
    store: SecretStore,
    workspace: _Workspace | None,
    report: SetupReport,
) -> str:
    """The stored OAuth secret when it still works for this principal, else a new one."""
    kept = store.get(report.secret_name)
    if (
        kept
        and not report.created_principal
        and workspace
        and await _secret_works(gw, workspace, report.application_id, kept)
    ):
        report.steps.append(f"Kept its working OAuth secret ${{secret:{report.secret_name}}}")
        return kept
    created = await _call(
        gw, account, "POST", f"{path}/servicePrincipals/{report.principal_id}/credentials/secrets"
    )
    value = str(created.get("secret") or "")
    if not value:
        raise RemoteError("The account API created a secret but did not return it.")
    register_secret(value)
    store.set(report.secret_name, value)
    report.created_secret, report.secret_value = True, value
    report.steps.append(
        f"Created an OAuth secret, stored as ${{secret:{report.secret_name}}} (mode 0600)"
    )
    return value


async def _check_listing(
    gw: Gateway, workspace: _Workspace, report: SetupReport, secret: str, warehouse: str | None
) -> None:
    """What the copilot's list_warehouses will show the new principal: never an empty list."""
    principal = workspace.as_principal(gw, report.application_id, secret)
    usable = False
    try:
        listed = await _call(gw, principal, "GET", "/api/2.0/sql/warehouses")
        ids = {w.get("id") for w in listed.get("warehouses") or [] if isinstance(w, dict)}
        if warehouse and warehouse not in ids:  # CAN_USE alone: usable by id, maybe unlisted
            await _call(gw, principal, "GET", f"/api/2.0/sql/warehouses/{warehouse}")
            usable = True
    except LakegateError as exc:
        report.warnings.append(f"Could not check the warehouses as the principal yet: {exc}")
        return
    report.visible_warehouses = len(ids)
    if ids:
        report.steps.append(f"Checked: list_warehouses lists {len(ids)} warehouse(s) for it")
    if usable:
        report.steps.append(
            f"Checked: it can use warehouse {warehouse} (CAN_USE), which list_warehouses does "
            "not list for it (Databricks lists the warehouses a principal may manage); the "
            "copilot is pinned to it"
        )
    elif not ids:
        report.warnings.append(
            "It can use no warehouse yet, and list_warehouses lists none for it: rerun with "
            "--grant-warehouse ID (CAN_USE on the warehouse the copilot should use)."
        )


def _client_credentials(
    name: str, host: str, token_url: str, client_id: str, secret_name: str
) -> Connector:
    """A connector authenticating with OAuth M2M (scope all-apis, secret in the request body)."""
    secret = f"${{secret:{secret_name}}}"
    return build_connector(
        name, base_url=host, auth=m2m_auth(token_url, client_id, secret, "all-apis")
    )


async def _account_connector(gw: Gateway, admin: AccountAdmin) -> Connector:
    """The account API as the admin (its token from the account's token endpoint)."""
    host = normalize_host(admin.account_host)
    token_url, _ = await discover_token_url(host, gw)
    if token_url.endswith("/oidc/v1/token"):  # no discovery: the account endpoint's usual place
        token_url = f"{host}/oidc/accounts/{admin.account_id}/v1/token"
    return _client_credentials("setup_account", host, token_url, admin.client_id, _ADMIN_SECRET)


@dataclass(frozen=True)
class _Workspace:
    """The workspace's URL and token endpoint, to reach it as the admin or the new principal."""

    host: str
    token_url: str

    @classmethod
    async def discover(cls, gw: Gateway, workspace_host: str) -> _Workspace:
        host = normalize_host(workspace_host)
        token_url, _ = await discover_token_url(host, gw)
        return cls(host, token_url)

    def as_admin(self, admin: AccountAdmin) -> Connector:
        """With the admin's client id and secret (already in setup's in-memory store)."""
        return _client_credentials(
            "setup_workspace", self.host, self.token_url, admin.client_id, _ADMIN_SECRET
        )

    def as_principal(self, gw: Gateway, client_id: str, secret: str) -> Connector:
        """As the principal, `secret` put in the gateway's in-memory store."""
        gw.secret_store.set(_PRINCIPAL_SECRET, secret)
        return _client_credentials(
            "setup_principal", self.host, self.token_url, client_id, _PRINCIPAL_SECRET
        )


async def _find_principal(
    gw: Gateway, account: Connector, path: str, name: str
) -> dict[str, Any] | None:
    escaped = name.replace("\\", "\\\\").replace('"', '\\"')
    found = await _call(
        gw, account, "GET", f"{path}/scim/v2/ServicePrincipals",
        params={"filter": f'displayName eq "{escaped}"'},
    )  # fmt: skip
    for item in found.get("Resources") or []:
        if item.get("displayName") == name:
            return item
    return None


async def _secret_works(gw: Gateway, workspace: _Workspace, client_id: str, secret: str) -> bool:
    """True when the workspace's token endpoint accepts `client_id` with `secret`."""
    principal = workspace.as_principal(gw, client_id, secret)
    try:
        await gw.runtime(principal).authenticator.credential()
    except AuthError:
        return False
    return True


async def _grant_warehouse(
    gw: Gateway, admin: AccountAdmin, workspace: _Workspace, warehouse_id: str, report: SetupReport
) -> None:
    """CAN_USE for the principal, with the admin's workspace token."""
    acl = [{"service_principal_name": report.application_id, "permission_level": "CAN_USE"}]
    await _call(
        gw, workspace.as_admin(admin), "PATCH", f"/api/2.0/permissions/warehouses/{warehouse_id}",
        {"access_control_list": acl},
    )  # fmt: skip
    report.granted_warehouse = warehouse_id
    report.steps.append(f"Granted CAN_USE on warehouse {warehouse_id}")


def read_grants(names: list[str]) -> dict[str, list[tuple[str, str, list[str]]]]:
    """Each catalog, schema or table to read -> the (securable type, full name, privileges)
    that reading it needs: USE CATALOG on its catalog, USE SCHEMA on its schema, SELECT on it
    (inherited by everything below); InputError for a name that is none of them."""
    found: dict[str, list[tuple[str, str, list[str]]]] = {}
    for name in names:
        parts = name.split(".")
        if not 1 <= len(parts) <= 3 or not all(_IDENT.fullmatch(p) for p in parts):
            raise InputError(
                f"--grant-read {name!r} is not a catalog, catalog.schema or "
                "catalog.schema.table name.",
                hint="e.g. --grant-read main.sales (repeat it for each scope to read).",
            )
        catalog, schema = parts[0], ".".join(parts[:2])
        if len(parts) == 1:
            found[name] = [("catalog", catalog, ["USE_CATALOG", "USE_SCHEMA", "SELECT"])]
        elif len(parts) == 2:
            found[name] = [("catalog", catalog, ["USE_CATALOG"]),
                           ("schema", schema, ["USE_SCHEMA", "SELECT"])]  # fmt: skip
        else:
            found[name] = [("catalog", catalog, ["USE_CATALOG"]),
                           ("schema", schema, ["USE_SCHEMA"]),
                           ("table", name, ["SELECT"])]  # fmt: skip
    return found


async def _grant_read(
    gw: Gateway,
    admin: AccountAdmin,
    workspace: _Workspace,
    reads: dict[str, list[tuple[str, str, list[str]]]],
    report: SetupReport,
) -> None:
    """Unity Catalog grants for reading, with the admin's workspace token (a PATCH that adds
    privileges is the same on a re-run)."""
    for name, grants in reads.items():
        for kind, full_name, privileges in grants:
            change = {"principal": report.application_id, "add": privileges}
            await _call(
                gw, workspace.as_admin(admin), "PATCH",
                f"/api/2.1/unity-catalog/permissions/{kind}/{quote(full_name)}",
                {"changes": [change]},
            )  # fmt: skip
        report.granted_read.append(name)
        shown = "; ".join(
            f"{', '.join(p.replace('_', ' ') for p in privileges)} on {kind} {full_name}"
            for kind, full_name, privileges in grants
        )
        report.steps.append(f"Granted read access to {name}: {shown}")


async def _call(
    gw: Gateway,
    connector: Connector,
    method: str,
    path: str,
    body: Any = None,
    *,
    params: dict[str, str] | None = None,
) -> dict[str, Any]:
    """One API call through the gateway (a PUT is resent like a GET: it is idempotent)."""
    try:
        response = await gw.request(
            connector, method, path, json=body, params=params,
            idempotent=method in ("GET", "PUT"), timeout_s=_TIMEOUT_S,
        )  # fmt: skip
    except TokenError as exc:
        if connector.name != "setup_principal":  # the admin's credentials: name setup's flags
            exc.hint = (
                "Check --account-host (e.g. https://accounts.cloud.databricks.com)."
                if exc.status is None
                else "Use an account admin service principal's client id and OAuth secret "
                "(--admin-client-id, --admin-secret-env)."
            )
        raise
    data = decoded_or_error(response)
    return data if isinstance(data, dict) else {}
