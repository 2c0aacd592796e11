"""`databricks connect` as a library: the connector the seed guide describes, plus the pack.

OAuth2 client credentials (scope `sql all-apis`, client auth in the request body), the token URL
found through `/.well-known/databricks-config` or OIDC discovery (falling back to
`<host>/oidc/v1/token`), read-only by default, a default warehouse pinned in `defaults`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from lakegate._wire import reach_hint
from lakegate.connectors import build_connector
from lakegate.databricks.pack import install_pack
from lakegate.errors import ConfigError, LakegateError, TransportError
from lakegate.gateway import Gateway
from lakegate.project import Connector, Project
from lakegate.results import ActionResult

__all__ = [
    "AZURE_DATABRICKS_SCOPE",
    "ConnectReport",
    "connect",
    "databricks_connector",
    "discover_token_url",
    "m2m_auth",
    "normalize_host",
    "well_known",
]

AZURE_DATABRICKS_SCOPE = "2ff814a6-3304-4ab8-85cb-cd0e6f879c1d/.default"
DATABRICKS_SCOPE = "sql all-apis"
# Discovery answers in milliseconds where it exists, and its fallback is the usual token URL: a
# dead or wrong host is retried for a blip's worth, not the 10 s a token request may take.
_DISCOVERY_BUDGET_S = 2.0
# Where a host says its token endpoint is: (path, key of the JSON answer, what the report says).
_DISCOVERY = (
    ("/.well-known/databricks-config", "oidc_endpoint", "databricks-config"),
    ("/oidc/.well-known/oauth-authorization-server", "token_endpoint", "oidc-discovery"),
)


@dataclass
class ConnectReport:
    """What `connect` did, for the CLI and the Studio to show."""

    connector: Connector
    actions: list[str]
    token_url: str
    token_url_source: str  # "databricks-config", "oidc-discovery", "fallback", "azure", "given"
    warehouse_id: str | None = None
    warehouse_source: str = ""  # "given", "first RUNNING", "first listed", "none visible"
    test: ActionResult | None = None
    notes: list[str] = field(default_factory=list)
    saved: bool = False  # False when Test failed: nothing was written
    # The copilot's warehouse: pinned to the chosen one, or the one the policy pinned before.
    copilot_warehouse: str | None = None
    copilot_pinned_now: bool = False


def normalize_host(host: str) -> str:
    """`dbc-1.cloud.databricks.com` or `https://.../` -> `https://dbc-1.cloud.databricks.com`."""
    host = host.strip()
    if not host:
        raise ConfigError("The workspace host is empty.", hint="Pass --host https://<workspace>.")
    if "://" not in host:
        host = "https://" + host
    parts = urlsplit(host)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"{host!r} is not a workspace URL.",
            hint="Pass --host https://dbc-1234.cloud.databricks.com (the URL in your browser).",
        )
    return f"{parts.scheme}://{parts.netloc}".rstrip("/")


async def discover_token_url(host: str, gateway: Gateway) -> tuple[str, str]:
    """(token URL, how it was found) for a workspace or account host, asked through `gateway`."""
    for path, key, how in _DISCOVERY:
        try:
            found = await well_known(host, path, gateway, _DISCOVERY_BUDGET_S, _DISCOVERY_BUDGET_S)
        except TransportError:
            break  # the host is unreachable: the token request will say so, with its hint
        except LakegateError:
            continue
        endpoint = found.get(key) if found is not None else None
        if isinstance(endpoint, str) and endpoint.startswith(("http://", "https://")):
            return (endpoint.rstrip("/") + "/v1/token" if key == "oidc_endpoint" else endpoint), how
    return f"{host}/oidc/v1/token", "fallback"


async def well_known(
    host: str, path: str, gateway: Gateway, timeout_s: float, budget_s: float
) -> dict[str, Any] | None:
    """The JSON object a host publishes at `path` (asked without credentials, retried like any
    GET), or None when it answers otherwise; TransportError when it cannot be reached."""
    probe = build_connector("lakegate_discovery", base_url=host, auth={"type": "none"})
    response = await gateway.request(
        probe, "GET", path, auth=False, timeout_s=timeout_s, deadline_s=budget_s
    )
    if not response.is_success:
        return None
    try:
        found = response.json()
    except ValueError:
        return None
    return found if isinstance(found, dict) else None


def m2m_auth(
    token_url: str, client_id: str | None, client_secret: str, scope: str
) -> dict[str, Any]:
    """Databricks OAuth M2M as a connector's `auth`: client credentials, the secret (a reference)
    in the request body, as the seed guide sets it up."""
    return {
        "type": "oauth2",
        "grant_type": "client_credentials",
        "token_url": token_url,
        "client_id": client_id,
        "client_secret": client_secret,
        "scope": scope,
        "client_auth": "request_body",
    }


def databricks_connector(
    name: str,
    host: str,
    client_id: str | None,
    client_secret: str,
    *,
    token_url: str,
    azure_tenant: str | None = None,
    read_only: bool = True,
    warehouse_id: str | None = None,
) -> Connector:
    """The connector for a Databricks workspace (`client_secret` is a secret reference); with
    no `client_id`, `client_secret` is a personal access token sent as a bearer token."""
    scope = AZURE_DATABRICKS_SCOPE if azure_tenant else DATABRICKS_SCOPE
    auth: dict[str, Any] = (
        m2m_auth(token_url, client_id, client_secret, scope)
        if client_id
        else {"type": "bearer", "token": client_secret}
    )
    kind = "Azure Databricks (Entra ID)" if azure_tenant else "Databricks"
    return build_connector(
        name,
        description=f"{kind} workspace {urlsplit(host).hostname}",
        base_url=host,
        auth=auth,
        read_only=read_only,
        defaults={"warehouse_id": warehouse_id} if warehouse_id else {},
    )


async def connect(
    project: Project,
    *,
    host: str,
    client_id: str | None,
    client_secret: str,
    name: str = "databricks",
    warehouse_id: str | None = None,
    allow_writes: bool = False,
    azure_tenant: str | None = None,
    token_url: str | None = None,
    run_test: bool = True,
) -> ConnectReport:
    """Add or replace connector `name` and the pack's actions, Test, pin a warehouse, save.
    With no `client_id`, `client_secret` is a personal access token (a reference).

    All or nothing: when Test fails the project (in memory and on disk) is left as it was, and
    `report.saved` is False.
    """
    host = normalize_host(host)
    before = dict(project.connectors), dict(project.actions)
    async with Gateway(project) as gw:
        token_url, source = (
            await _token_url(gw, host, token_url, azure_tenant) if client_id else ("", "pat")
        )
        connector = databricks_connector(
            name,
            host,
            client_id,
            client_secret,
            token_url=token_url,
            azure_tenant=azure_tenant,
            read_only=not allow_writes,
            warehouse_id=warehouse_id,
        )
        project.set_connector(name, connector)
        actions = install_pack(project, project.connectors[name])
        report = ConnectReport(project.connectors[name], actions, token_url, source)
        report.warehouse_id = warehouse_id
        report.warehouse_source = "given" if warehouse_id else ""
        if run_test:
            report.test = await gw.test("list_warehouses")
    if report.test is not None and not report.test.ok:
        project.connectors, project.actions = before  # nothing half-connected stays behind
        if source not in ("given", "azure"):
            _blame_the_host(report, host)
        return report
    if report.test is not None and not warehouse_id:
        report.warehouse_id, report.warehouse_source = _pick_warehouse(report.test.raw)
    if report.warehouse_id and not warehouse_id:
        pinned = connector.model_copy(
            update={"defaults": {**connector.defaults, "warehouse_id": report.warehouse_id}}
        )
        project.set_connector(name, pinned)
        install_pack(project, project.connectors[name])
        report.connector = project.connectors[name]
    _pin_copilot_warehouse(project, report)
    project.save()
    report.saved = True
    return report


def _blame_the_host(report: ConnectReport, host: str) -> None:
    """A token URL the user never gave is not theirs to check: an unreachable workspace is
    told as the --host it is."""
    error = report.test.error if report.test is not None else None
    reason = (error.details or {}).get("reason") if error is not None else None
    if error is None or not reason or error.code != "auth.token_failed":
        return
    report.test.error = TransportError(
        f"The workspace {host} could not be reached: {reason}.",
        code="request.connect_failed",
        hint=reach_hint(host, reason, "--host")
        + " --host is the URL in the browser when the workspace is open.",
        details={"reason": reason},
    )


def _pin_copilot_warehouse(project: Project, report: ConnectReport) -> None:
    """The copilot uses the warehouse `connect` chose and no other: a model cannot point SQL at
    (and so start) another listed warehouse. A warehouse the policy pinned before is kept."""
    policy = project.copilot
    report.copilot_warehouse = policy.pinned.warehouse_id
    if report.copilot_warehouse or not report.warehouse_id:
        return
    pinned = policy.pinned.model_copy(update={"warehouse_id": report.warehouse_id})
    project.set_copilot(policy.model_copy(update={"pinned": pinned}))
    report.copilot_warehouse, report.copilot_pinned_now = report.warehouse_id, True


async def _token_url(
    gw: Gateway, host: str, given: str | None, azure_tenant: str | None
) -> tuple[str, str]:
    """The token URL and where it came from: given, Entra ID's, or discovered on the host."""
    if given:
        return given, "given"
    if azure_tenant:
        return f"https://login.microsoftonline.com/{azure_tenant}/oauth2/v2.0/token", "azure"
    return await discover_token_url(host, gw)


def _pick_warehouse(raw: Any) -> tuple[str | None, str]:
    """The first RUNNING warehouse, else the first listed (it starts on the first statement)."""
    listed = [w for w in (raw or {}).get("warehouses") or [] if isinstance(w, dict) and w.get("id")]
    for warehouse in listed:
        if warehouse.get("state") == "RUNNING":
            return str(warehouse["id"]), "first RUNNING"
    if listed:
        return str(listed[0]["id"]), "first listed (not running yet)"
    return None, "none visible"
