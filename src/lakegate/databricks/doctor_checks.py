"""The checks `lakegate doctor` runs, in order; each returns what it found or raises Failed."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from lakegate._transport import Response
from lakegate.connectors import build_connector, secret_destination
from lakegate.databricks.connect import AZURE_DATABRICKS_SCOPE, m2m_auth, well_known
from lakegate.databricks.doctor_failures import (
    Failed,
    Warned,
    api_failure,
    client_refused,
    message_of,
    oauth_error,
    store_fix,
    token_failure,
)
from lakegate.errors import LakegateError, TokenError
from lakegate.gateway import Gateway
from lakegate.project import ApiKeyAuth, BasicAuth, BearerAuth, Connector, OAuth2Auth
from lakegate.secrets import is_reference, parse_reference, resolve
from lakegate.tokens import Token

__all__ = ["Checks", "Failed", "Warned"]

_NO_WAREHOUSE = (
    "The list is empty: the service principal has CAN_MANAGE on no warehouse "
    "(list_warehouses only shows warehouses it can manage)."
)
_ACCOUNT_HOSTS = {
    "aws": "https://accounts.cloud.databricks.com",
    "azure": "https://accounts.azuredatabricks.net",
    "gcp": "https://accounts.gcp.databricks.com",
}
_EXPIRY_WARNING_DAYS = 7
_DISCOVERY_TIMEOUT_S = 10.0
_DISCOVERY_BUDGET_S = 20.0  # retries of a busy host included
_STATEMENT_TIMEOUT_S = 45.0  # the statement's own wait_timeout is 30 s


class Checks:
    """Shared state of one diagnosis (the discovery, the warehouses found) and its checks.

    Every request goes through `gw`: credentials, token refresh and safe retries as an action's.
    """

    def __init__(self, connector: Connector, gw: Gateway, account_host: str | None) -> None:
        self.connector, self.gw = connector, gw
        self.project, self.store = gw.project, gw.secret_store
        self.host = connector.base_url
        self.account_host = account_host
        self.config: dict[str, Any] = {}
        self.granted: str | None = None
        self.warehouses: list[dict[str, Any]] = []
        self._account_api: Connector | None = None

    # --- Databricks ------------------------------------------------------------------------

    async def is_databricks(self, *, probe: bool = True) -> bool:
        """A workspace answers `/.well-known/databricks-config` (or its host says Databricks).

        Without `probe` (the host is not reachable) only the host name is looked at.
        """
        if probe:
            try:
                found = await well_known(
                    self.host, "/.well-known/databricks-config", self.gw,
                    _DISCOVERY_TIMEOUT_S, _DISCOVERY_BUDGET_S,
                )  # fmt: skip
            except LakegateError:
                found = None
            if found is not None:
                self.config = found
                return True
        host = urlsplit(self.host).hostname or ""
        return host.endswith(("databricks.com", "azuredatabricks.net", "databricks.azure.cn"))

    async def discovery(self) -> str:
        auth = self.connector.auth
        oidc = self.config.get("oidc_endpoint")
        if not oidc:
            raise Failed(
                f"{self.host}/.well-known/databricks-config gave no oidc_endpoint.",
                "Check that base_url is the workspace URL (https://<workspace host>), not an "
                "account console or a proxy path.",
            )
        expected = f"{str(oidc).rstrip('/')}/v1/token"
        if isinstance(auth, OAuth2Auth) and _is_entra(auth):
            return f"Microsoft Entra ID token endpoint {auth.token_url}"
        if isinstance(auth, OAuth2Auth) and auth.token_url.rstrip("/") != expected:
            raise Failed(
                f"The connector's token_url {auth.token_url} is not this workspace's token "
                f"endpoint {expected}.",
                f"Set `token_url: {expected}` on the connector (or re-run "
                "`lakegate databricks connect`).",
            )
        return f"token endpoint {expected}"

    async def token(self) -> str:
        """Try both client-auth modes through the gateway's token source; say which works."""
        auth = self.connector.auth
        if not isinstance(auth, OAuth2Auth):
            return await self.credentials()
        self._check_secret(auth.client_secret)  # a missing secret is named before anything is sent
        outcomes: dict[str, str] = {}
        granted: dict[str, Token] = {}
        refusal: TokenError | None = None
        # A refresh token may be single-use: other grants get one token, in the connector's mode.
        both = auth.grant_type == "client_credentials"
        for mode in ("request_body", "basic_header") if both else (auth.client_auth,):
            try:
                granted[mode] = await self._token_in_mode(auth, mode)
                outcomes[mode] = "works"
            except TokenError as exc:
                if exc.status is None:  # unreachable, or an answer without a token
                    raise Failed(exc.message, exc.hint) from None
                outcomes[mode] = f"refused ({oauth_error(exc)})"
                refusal = refusal or exc
            except LakegateError as exc:
                raise Failed(exc.message, exc.hint) from None
        works = [m for m, o in outcomes.items() if o == "works"]
        summary = "; ".join(f"{m}: {o}" for m, o in outcomes.items())
        if works:
            self.granted = granted[works[0]].scope
            chosen = auth.client_auth
            if chosen != "auto" and chosen not in works:
                raise Failed(
                    f"The connector uses client_auth {chosen}, which the token endpoint refuses.",
                    f"Set `client_auth: {works[0]}` on the connector.",
                    summary,
                )
            return summary
        assert refusal is not None  # no mode worked, and each refusal raised or was kept
        raise await self._token_failure(auth, refusal, summary)

    async def scopes(self) -> str:
        if self.granted is None:
            return "skipped: the token response does not list scopes"
        granted = set(str(self.granted).split())
        if "all-apis" in granted or AZURE_DATABRICKS_SCOPE in granted:
            return f"granted: {self.granted}"
        # `sql` alone lists warehouses and runs SQL, but the pack's catalog and jobs actions
        # answer PERMISSION_DENIED: say so here rather than at the copilot's first such call.
        raise Failed(
            f"The token only carries the scopes {self.granted!r}; the REST APIs (Unity Catalog, "
            "Jobs, ...) also need `all-apis`.",
            "Set `scope: sql all-apis` on the connector, and allow those scopes on the "
            "service principal's OAuth secret.",
        )

    async def list_warehouses(self) -> str:
        response = await self._api("GET", "/api/2.0/sql/warehouses")
        if response.status_code != 200:
            raise api_failure(response, "listing warehouses")
        self.warehouses = list(response.json_object().get("warehouses") or [])
        return f"HTTP 200, {len(self.warehouses)} warehouse(s)"

    async def visibility(self) -> str:
        pinned = self.connector.defaults.get("warehouse_id")
        if self.warehouses:
            names = ", ".join(f"{w.get('name')} ({w.get('state')})" for w in self.warehouses[:5])
            return f"visible: {names}"
        if pinned:
            # What the copilot's list_warehouses shows: the pinned warehouse, fetched by id.
            response = await self._api("GET", f"/api/2.0/sql/warehouses/{pinned}")
            if response.status_code == 200:
                found = response.json_object()
                return (
                    f"list_warehouses shows the pinned {found.get('name')} "
                    f"({found.get('state')}); Databricks' own listing is empty (no CAN_MANAGE)"
                )
            raise Failed(
                f"list_warehouses would be empty: the listing is, and the pinned warehouse "
                f"{pinned} cannot be read (HTTP {response.status_code}).",
                f"Grant the service principal CAN_USE on warehouse {pinned} "
                f"(`lakegate databricks setup --grant-warehouse {pinned}`), or pin another.",
            )
        raise Failed(
            _NO_WAREHOUSE,
            "Grant the service principal CAN_MANAGE on a warehouse to see it listed, or CAN_USE "
            "and pin it: `lakegate databricks connect --warehouse-id ID` "
            "(or `lakegate databricks setup --grant-warehouse ID`).",
        )

    async def select_one(self) -> str:
        warehouse_id = self.connector.defaults.get("warehouse_id")
        if not warehouse_id and self.warehouses:
            warehouse_id = self.warehouses[0].get("id")
        if not warehouse_id:
            return "skipped: no warehouse pinned or visible"
        response = await self._api(
            "POST",
            "/api/2.0/sql/statements",
            json={
                "statement": "SELECT 1",
                "warehouse_id": warehouse_id,
                "wait_timeout": "30s",
                "on_wait_timeout": "CANCEL",
                "query_tags": [{"key": "lakegate", "value": "doctor"}],
            },
            timeout_s=_STATEMENT_TIMEOUT_S,
        )
        body = response.json_object()
        if response.status_code == 403:
            raise Failed(
                f"The service principal may not use warehouse {warehouse_id}: "
                f"{message_of(body) or 'PERMISSION_DENIED'}.",
                f"Grant it CAN_USE on warehouse {warehouse_id} (warehouse > Permissions, or "
                f"`lakegate databricks setup --grant-warehouse {warehouse_id}`).",
            )
        if response.status_code == 404:
            raise Failed(
                f"Warehouse {warehouse_id} does not exist.",
                "Pin an existing one: `lakegate databricks connect --warehouse-id ID` "
                "(ids from `lakegate call list_warehouses`).",
            )
        if response.status_code != 200:
            raise api_failure(response, "running SELECT 1")
        state = (body.get("status") or {}).get("state")
        if state != "SUCCEEDED":
            error = (body.get("status") or {}).get("error") or {}
            raise Failed(
                f"SELECT 1 on warehouse {warehouse_id} ended {state}: {error.get('message', '')}",
                "Check the warehouse's state with `lakegate call get_warehouse`; start it with "
                "`lakegate call start_warehouse`.",
            )
        return f"SELECT 1 answered on warehouse {warehouse_id}"

    async def least_privilege(self) -> str:
        """A copilot's principal should read its pinned scope and use its warehouse, no more."""
        from lakegate.databricks.privilege import pinned_securables, principal_reach

        auth = self.connector.auth
        if isinstance(auth, OAuth2Auth) and auth.grant_type == "token_exchange":
            return "skipped: the connector acts as each person who asks"
        pinned = self.project.copilot.pinned if self.project is not None else None
        securables = (
            pinned_securables(list(pinned.catalogs), list(pinned.schemas)) if pinned else []
        )
        reach = await principal_reach(self.gw, self.connector, securables)
        concerns = "; ".join(reach.warnings())
        if concerns:
            raise Warned(
                concerns[0].upper() + concerns[1:] + ".",
                "Give the copilot a principal of its own that is not an admin, with only USE "
                "CATALOG, USE SCHEMA and SELECT on what it may read and CAN_USE on its "
                "warehouse: `lakegate databricks setup ... --grant-read CATALOG.SCHEMA "
                "--grant-warehouse ID`; or set `grant_type: token_exchange` so it acts as each "
                "person who asks.",
                detail=f"{reach.principal}: " + ("workspace admin" if reach.admin else "writes"),
            )
        scope = f" on {len(securables)} pinned securable(s)" if securables else ""
        return f"{reach.principal} is not a workspace admin and cannot write{scope}"

    async def secret_expiry(self) -> str:
        """Readable only through the account API, with an account admin's token."""
        auth = self.connector.auth
        account = self._account_host()
        if not isinstance(auth, OAuth2Auth) or account is None or _is_entra(auth):
            return "skipped: the secret's expiry is not readable from here"
        base = f"/api/2.0/accounts/{self.config.get('account_id')}"
        try:
            api = self._account(auth, account)
            found = await self.gw.request(
                api,
                "GET",
                f"{base}/scim/v2/ServicePrincipals",
                params={"filter": f'applicationId eq "{auth.client_id}"'},
            )
            resources = found.json_object().get("Resources") or []
            if found.status_code != 200 or not resources:
                return "skipped: the account API does not show this principal"
            listed = await self.gw.request(
                api, "GET", f"{base}/servicePrincipals/{resources[0]['id']}/credentials/secrets"
            )
        except (LakegateError, ValueError, KeyError):
            return "skipped: the secret's expiry is not readable with this principal"
        expiries = [
            datetime.fromisoformat(str(s["expire_time"]).replace("Z", "+00:00"))
            for s in listed.json_object().get("secrets") or []
            if s.get("status") == "ACTIVE" and s.get("expire_time")
        ]
        if listed.status_code != 200 or not expiries:
            return "skipped: no readable secret expiry"
        latest = max(expiries)
        days = (latest.timestamp() - time.time()) / 86400
        if days < _EXPIRY_WARNING_DAYS:
            raise Failed(
                f"The principal's newest OAuth secret expires on {latest.date()} "
                f"(in {days:.1f} days).",
                "Create a new secret (`lakegate databricks setup ...` re-run, or the account "
                f"console), then {store_fix(auth)}",
            )
        return f"newest secret expires {latest.date().isoformat()} (in {days:.0f} days)"

    # --- generic ---------------------------------------------------------------------------

    async def credentials(self) -> str:
        auth = self.connector.auth
        if isinstance(auth, OAuth2Auth):
            return await self.token()
        refs = {
            ApiKeyAuth: lambda a: [a.key],
            BearerAuth: lambda a: [a.token],
            BasicAuth: lambda a: [a.password],
        }.get(type(auth), lambda a: [])(auth)
        for ref in refs:
            self._check_secret(ref)
        return f"{auth.type}: {len(refs)} secret reference(s) resolved" if refs else "no auth"

    async def read_action(self) -> str:
        candidates = [
            a
            for a in self.project.actions.values()
            if a.connector == self.connector.name
            and a.risk == "read"
            and all(not i.required or i.example is not None for i in a.inputs.values())
        ]
        if not candidates:
            return "skipped: no read action without required inputs on this connector"
        action = candidates[0]
        result = await self.gw.test(action.name)
        if result.ok:
            return f"{action.name}: HTTP {result.status} in {result.elapsed_ms:.0f} ms"
        error = result.error or LakegateError("unknown failure")
        raise Failed(f"{action.name} failed: {error.message}", error.hint or "See the error.")

    # --- helpers ---------------------------------------------------------------------------

    def _check_secret(self, ref: str | None) -> None:
        if not ref:
            raise Failed("The connector has no client secret.", "Add `client_secret: ${env:VAR}`.")
        try:
            resolve(ref, self.store)
        except LakegateError as exc:
            raise Failed(exc.message, exc.hint) from None

    async def _token_in_mode(self, auth: OAuth2Auth, mode: str) -> Token:
        """A token from the gateway's token source, the client authenticating as `mode`."""
        probe = self.connector
        if mode != auth.client_auth:
            probe = probe.model_copy(
                update={
                    "name": f"{self.connector.name}__doctor_{mode}",
                    "auth": auth.model_copy(update={"client_auth": mode}),
                }
            )
        credential = await self.gw.runtime(probe).authenticator.credential()
        assert credential.token is not None  # an oauth2 connector's credential is a token
        return credential.token

    def _account_host(self) -> str | None:
        if self.account_host:
            return self.account_host.rstrip("/")
        host = urlsplit(self.host).hostname or ""
        cloud = str(self.config.get("cloud") or "")
        if not self.config.get("account_id") or host in ("localhost", "127.0.0.1", "::1"):
            return None
        return _ACCOUNT_HOSTS.get(cloud)

    def _account(self, auth: OAuth2Auth, account: str) -> Connector:
        """The account API, reached with the connector's own client id and secret."""
        if self._account_api is None:
            account_id = self.config.get("account_id")
            token_url = f"{account}/oidc/accounts/{account_id}/v1/token"
            self._account_api = build_connector(
                "doctor_account",
                base_url=account,
                auth=m2m_auth(token_url, auth.client_id, auth.client_secret or "", "all-apis"),
            )
            self._allow_on_account(auth, token_url)
        return self._account_api

    def _allow_on_account(self, auth: OAuth2Auth, account_token_url: str) -> None:
        """The account host accepts the workspace principal's secret too: let a stored one go
        there (the host is Databricks' own for the cloud, or the --account-host given)."""
        ref = auth.client_secret or ""
        if is_reference(ref) and parse_reference(ref)[0] == "secret" and self.store is not None:
            name = parse_reference(ref)[1]
            self.store.allow(name, secret_destination(self.connector), account_token_url)

    async def _account_accepts(self, auth: OAuth2Auth, account: str) -> bool:
        try:
            await self.gw.runtime(self._account(auth, account)).authenticator.credential()
        except (LakegateError, ValueError):
            return False
        return True

    async def _token_failure(self, auth: OAuth2Auth, refusal: TokenError, summary: str) -> Failed:
        """The refusal's cause and fix; a refused client is tried on the account to tell a wrong
        secret from a principal not assigned to the workspace."""
        account = self._account_host()
        accepted = None
        if account is not None and client_refused(refusal):
            accepted = await self._account_accepts(auth, account)
        discovered = self.config.get("oidc_endpoint")
        right = f"{discovered}/v1/token" if discovered else f"{self.host}/oidc/v1/token"
        return token_failure(auth, refusal, summary, right_url=right, account_accepts=accepted)

    async def _api(self, method: str, path: str, **kwargs: Any) -> Response:
        """A workspace API call with the connector's own credentials (refreshed, retried)."""
        try:
            return await self.gw.request(self.connector, method, path, **kwargs)
        except LakegateError as exc:
            raise Failed(
                f"{method} {path} failed: {exc.message}",
                exc.hint or "Check the workspace's health.",
            ) from None


def _is_entra(auth: OAuth2Auth) -> bool:
    return (urlsplit(auth.token_url).hostname or "").endswith("login.microsoftonline.com")
