"""`databricks setup` as a library: service principal, OAuth secret, workspace assignment, grant.

An account admin's client credentials get an account token (OAuth M2M against the account's
token endpoint). Re-running is safe: the principal is found by display name, and a stored
secret that still works is kept instead of creating another one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lakegate._transport import HttpClient, SendError
from lakegate.databricks.connect import discover_token_url, normalize_host
from lakegate.errors import AuthError, LakegateError, RemoteError, TokenError, TransportError
from lakegate.project import OAuth2Auth
from lakegate.results import decode_body, status_error
from lakegate.secrets import SecretStore, register_secret
from lakegate.tokens import TokenSource

__all__ = ["AccountAdmin", "SetupReport", "setup_service_principal"]

_TIMEOUT_S = 30.0
# The codes _exchange gives the same transport failures, so one cause has one code everywhere.
_SEND_CODES = {"connect": "request.connect_failed", "timeout": "request.timeout"}


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
    visible_warehouses: int | None = None  # what list_warehouses shows the principal
    steps: list[str] = field(default_factory=list)


async def setup_service_principal(
    admin: AccountAdmin,
    *,
    workspace_id: str,
    display_name: str,
    secret_store: SecretStore,
    secret_name: str,
    workspace_host: str | None = None,
    grant_warehouse: str | None = None,
    transport: Any = None,
) -> SetupReport:
    """Create (or find) the principal, its secret, its workspace assignment and grant."""
    report = SetupReport(display_name=display_name, secret_name=secret_name)
    account_host = normalize_host(admin.account_host)
    base = f"{account_host}/api/2.0/accounts/{admin.account_id}"
    async with HttpClient(transport, timeout=_TIMEOUT_S) as http:
        token = await _account_token(http, admin, account_host)
        headers = {"Authorization": f"Bearer {token}"}

        principal = await _find_principal(http, base, headers, display_name)
        if principal is None:
            principal = await _call(
                http,
                "POST",
                f"{base}/scim/v2/ServicePrincipals",
                headers,
                {"displayName": display_name, "active": True},
            )
            report.created_principal = True
        report.principal_id = str(principal["id"])
        report.application_id = str(principal.get("applicationId") or "")
        report.steps.append(
            f"{'Created' if report.created_principal else 'Found'} service principal "
            f"{display_name!r} (application id {report.application_id})"
        )

        await _call(
            http,
            "PUT",
            f"{base}/workspaces/{workspace_id}/permissionassignments/principals/"
            f"{report.principal_id}",
            headers,
            {"permissions": ["USER"]},
        )
        report.assigned = True
        report.steps.append(f"Assigned it to workspace {workspace_id} (USER)")

        kept = secret_store.get(secret_name)
        reuse = bool(
            kept
            and not report.created_principal
            and workspace_host
            and await _secret_works(http, workspace_host, report.application_id, kept)
        )
        secret = kept if reuse else None
        if reuse:
            report.steps.append(f"Kept its working OAuth secret ${{secret:{secret_name}}}")
        else:
            created = await _call(
                http,
                "POST",
                f"{base}/servicePrincipals/{report.principal_id}/credentials/secrets",
                headers,
                {},
            )
            value = str(created.get("secret") or "")
            if not value:
                raise RemoteError("The account API created a secret but did not return it.")
            register_secret(value)
            secret_store.set(secret_name, value)
            secret = value
            report.created_secret, report.secret_value = True, value
            report.steps.append(
                f"Created an OAuth secret, stored as ${{secret:{secret_name}}} (mode 0600)"
            )

        if grant_warehouse:
            if not workspace_host:
                raise RemoteError(
                    "Granting a warehouse needs the workspace URL.", hint="Pass --host."
                )
            await _grant_warehouse(http, admin, workspace_host, grant_warehouse, report)
        if workspace_host and secret:
            await _check_listing(http, workspace_host, report, secret, grant_warehouse)
    return report


async def _check_listing(
    http: HttpClient, workspace_host: str, report: SetupReport, secret: str, warehouse: str | None
) -> None:
    """What the copilot's list_warehouses will show the new principal: never an empty list."""
    host = normalize_host(workspace_host)
    try:
        token_url, _ = await discover_token_url(host, http)
        token = await _client_credentials(http, token_url, report.application_id, secret)
        headers = {"Authorization": f"Bearer {token}"}
        listed = await _call(http, "GET", f"{host}/api/2.0/sql/warehouses", headers)
        ids = {w.get("id") for w in listed.get("warehouses") or [] if isinstance(w, dict)}
        if warehouse and warehouse not in ids:  # CAN_USE: not listed, but readable by id
            await _call(http, "GET", f"{host}/api/2.0/sql/warehouses/{warehouse}", headers)
            ids.add(warehouse)
    except LakegateError as exc:
        report.steps.append(f"Could not check list_warehouses as the principal yet: {exc}")
        return
    report.visible_warehouses = len(ids)
    if ids:
        report.steps.append(f"Checked: list_warehouses shows it {len(ids)} warehouse(s)")
    else:
        report.steps.append(
            "Warning: list_warehouses shows it no warehouse; rerun with --grant-warehouse ID"
        )


async def _account_token(http: HttpClient, admin: AccountAdmin, host: str) -> str:
    """OAuth M2M against the account's token endpoint (scope all-apis)."""
    token_url, _ = await discover_token_url(host, http)
    if token_url.endswith("/oidc/v1/token"):  # no discovery: the account endpoint's usual place
        token_url = f"{host}/oidc/accounts/{admin.account_id}/v1/token"
    return await _client_credentials(http, token_url, admin.client_id, admin.client_secret)


async def _client_credentials(
    http: HttpClient, token_url: str, client_id: str, client_secret: str
) -> str:
    """An M2M token from the gateway's token source (its retries, its errors), setup's hints."""
    register_secret(client_secret)
    config = OAuth2Auth(
        grant_type="client_credentials",
        token_url=token_url,
        client_id=client_id,
        client_secret="${secret:setup_client_secret}",  # noqa: S106 - a reference, resolved below
        scope="all-apis",
        client_auth="request_body",
    )
    source = TokenSource(config, http, lambda _reference: client_secret, name="setup")
    try:
        token, _ = await source.token()
    except TokenError as exc:
        exc.hint = (
            "Check --account-host (e.g. https://accounts.cloud.databricks.com)."
            if exc.status is None
            else "Use an account admin service principal's client id and OAuth secret "
            "(--admin-client-id, --admin-secret-env)."
        )
        raise
    finally:
        await source.aclose()
    return token.value


async def _find_principal(
    http: HttpClient, base: str, headers: dict[str, str], name: str
) -> dict[str, Any] | None:
    escaped = name.replace("\\", "\\\\").replace('"', '\\"')
    found = await _call(
        http,
        "GET",
        f"{base}/scim/v2/ServicePrincipals",
        headers,
        params={"filter": f'displayName eq "{escaped}"'},
    )
    for item in found.get("Resources") or []:
        if item.get("displayName") == name:
            return item
    return None


async def _secret_works(http: HttpClient, workspace_host: str, client_id: str, secret: str) -> bool:
    host = normalize_host(workspace_host)
    token_url, _ = await discover_token_url(host, http)
    try:
        await _client_credentials(http, token_url, client_id, secret)
    except AuthError:
        return False
    return True


async def _grant_warehouse(
    http: HttpClient,
    admin: AccountAdmin,
    workspace_host: str,
    warehouse_id: str,
    report: SetupReport,
) -> None:
    """CAN_USE for the principal, with the admin's workspace token."""
    host = normalize_host(workspace_host)
    token_url, _ = await discover_token_url(host, http)
    token = await _client_credentials(http, token_url, admin.client_id, admin.client_secret)
    await _call(
        http,
        "PATCH",
        f"{host}/api/2.0/permissions/warehouses/{warehouse_id}",
        {"Authorization": f"Bearer {token}"},
        {
            "access_control_list": [
                {"service_principal_name": report.application_id, "permission_level": "CAN_USE"}
            ]
        },
    )
    report.granted_warehouse = warehouse_id
    report.steps.append(f"Granted CAN_USE on warehouse {warehouse_id}")


async def _call(
    http: HttpClient,
    method: str,
    url: str,
    headers: dict[str, str],
    body: Any = None,
    *,
    params: dict[str, str] | None = None,
) -> dict[str, Any]:
    try:
        response = await http.request(
            method,
            url,
            headers=headers,
            params=params,
            json=body,
        )
    except SendError as exc:
        raise TransportError(
            f"{method} {url} failed ({exc.cause_name}).",
            code=_SEND_CODES.get(exc.kind, "request.connection_lost"),
            hint="Check the host and your network.",
        ) from None
    data = decode_body(response.content, response.headers.get("content-type", ""), False)
    if not response.is_success:
        raise status_error(response.status_code, response.reason_phrase, data)
    return data if isinstance(data, dict) else {}
