"""`databricks connect` as a library: the connector the seed guide describes, plus the pack.

OAuth2 client credentials (scope `sql all-apis`, client auth in the request body), the token URL
found through `/.well-known/databricks-config` or OIDC discovery (falling back to
`<host>/oidc/v1/token`), read-only by default, a default warehouse pinned in `defaults`.
"""

from __future__ import annotations

import configparser
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from lakegate._transport import HttpClient, SendError
from lakegate.connectors import build_connector
from lakegate.databricks.pack import install_pack
from lakegate.errors import ConfigError
from lakegate.project import Connector, Project
from lakegate.results import ActionResult

__all__ = [
    "AZURE_DATABRICKS_SCOPE",
    "ConnectReport",
    "Profile",
    "connect",
    "databricks_connector",
    "discover_token_url",
    "normalize_host",
    "read_profile",
]

AZURE_DATABRICKS_SCOPE = "2ff814a6-3304-4ab8-85cb-cd0e6f879c1d/.default"
DATABRICKS_SCOPE = "sql all-apis"
_DISCOVERY_TIMEOUT_S = 10.0


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


@dataclass
class Profile:
    """A `~/.databrickscfg` profile: what lakegate can use from it."""

    name: str
    host: str | None
    client_id: str | None
    client_secret: str | None
    azure_tenant_id: str | None = None


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


def read_profile(name: str, path: str | Path | None = None) -> Profile:
    """A profile of the Databricks CLI's config file (`~/.databrickscfg`)."""
    file = Path(path or os.environ.get("DATABRICKS_CONFIG_FILE") or "~/.databrickscfg")
    file = file.expanduser()
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"There is no {file} to read profile {name!r} from.",
            hint="Create it with `databricks auth login`, or pass --host and --client-id.",
        ) from None
    except (OSError, configparser.Error) as exc:
        raise ConfigError(f"Cannot read {file}: {exc}.", hint="Fix the file.") from None
    if name != "DEFAULT" and not parser.has_section(name):
        known = ", ".join(parser.sections()) or "none"
        raise ConfigError(f"{file} has no profile {name!r}.", hint=f"Profiles in it: {known}.")
    section = parser[name]
    return Profile(
        name=name,
        host=section.get("host"),
        client_id=section.get("client_id"),
        client_secret=section.get("client_secret"),
        azure_tenant_id=section.get("azure_tenant_id"),
    )


async def discover_token_url(host: str, http: HttpClient | Any) -> tuple[str, str]:
    """(token URL, how it was found) for a workspace or account host."""
    try:
        response = await http.get(
            f"{host}/.well-known/databricks-config", timeout=_DISCOVERY_TIMEOUT_S
        )
        if response.is_success:
            oidc = (response.json() or {}).get("oidc_endpoint")
            if isinstance(oidc, str) and oidc.startswith(("http://", "https://")):
                return oidc.rstrip("/") + "/v1/token", "databricks-config"
    except (SendError, ValueError):
        pass
    try:
        response = await http.get(
            f"{host}/oidc/.well-known/oauth-authorization-server", timeout=_DISCOVERY_TIMEOUT_S
        )
        if response.is_success:
            endpoint = (response.json() or {}).get("token_endpoint")
            if isinstance(endpoint, str) and endpoint.startswith(("http://", "https://")):
                return endpoint, "oidc-discovery"
    except (SendError, ValueError):
        pass
    return f"{host}/oidc/v1/token", "fallback"


def databricks_connector(
    name: str,
    host: str,
    client_id: str,
    client_secret: str,
    *,
    token_url: str,
    azure_tenant: str | None = None,
    read_only: bool = True,
    warehouse_id: str | None = None,
) -> Connector:
    """The connector for a Databricks workspace (`client_secret` is a secret reference)."""
    auth = {
        "type": "oauth2",
        "grant_type": "client_credentials",
        "token_url": token_url,
        "client_id": client_id,
        "client_secret": client_secret,
        "scope": AZURE_DATABRICKS_SCOPE if azure_tenant else DATABRICKS_SCOPE,
        "client_auth": "request_body",
    }
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
    client_id: str,
    client_secret: str,
    name: str = "databricks",
    warehouse_id: str | None = None,
    allow_writes: bool = False,
    azure_tenant: str | None = None,
    token_url: str | None = None,
    run_test: bool = True,
) -> ConnectReport:
    """Add or replace connector `name` and the pack's actions, Test, pin a warehouse, save.

    All or nothing: when Test fails the project (in memory and on disk) is left as it was, and
    `report.saved` is False.
    """
    from lakegate.gateway import Gateway

    host = normalize_host(host)
    if token_url:
        source = "given"
    elif azure_tenant:
        token_url = f"https://login.microsoftonline.com/{azure_tenant}/oauth2/v2.0/token"
        source = "azure"
    else:
        async with HttpClient() as http:
            token_url, source = await discover_token_url(host, http)
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
    before = dict(project.connectors), dict(project.actions)
    project.set_connector(name, connector)
    actions = install_pack(project, project.connectors[name])
    report = ConnectReport(project.connectors[name], actions, token_url, source)
    report.warehouse_id = warehouse_id
    report.warehouse_source = "given" if warehouse_id else ""
    if not run_test:
        project.save()
        report.saved = True
        return report
    async with Gateway(project) as gw:
        report.test = await gw.test("list_warehouses")
    if not report.test.ok:
        project.connectors, project.actions = before  # nothing half-connected stays behind
        return report
    if not warehouse_id:
        report.warehouse_id, report.warehouse_source = _pick_warehouse(report.test.raw)
    if report.warehouse_id and not warehouse_id:
        pinned = connector.model_copy(
            update={"defaults": {**connector.defaults, "warehouse_id": report.warehouse_id}}
        )
        project.set_connector(name, pinned)
        install_pack(project, project.connectors[name])
        report.connector = project.connectors[name]
    project.save()
    report.saved = True
    return report


def _pick_warehouse(raw: Any) -> tuple[str | None, str]:
    """The first RUNNING warehouse, else the first listed (it starts on the first statement)."""
    listed = [w for w in (raw or {}).get("warehouses") or [] if isinstance(w, dict) and w.get("id")]
    for warehouse in listed:
        if warehouse.get("state") == "RUNNING":
            return str(warehouse["id"]), "first RUNNING"
    if listed:
        return str(listed[0]["id"]), "first listed (not running yet)"
    return None, "none visible"
