"""The checks `lakegate doctor` runs, in order; each returns what it found or raises Failed."""

from __future__ import annotations

import base64
import time
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from lakegate._transport import HttpClient, Response, SendError
from lakegate.databricks.connect import AZURE_DATABRICKS_SCOPE
from lakegate.errors import LakegateError
from lakegate.project import ApiKeyAuth, BasicAuth, BearerAuth, Connector, OAuth2Auth, Project
from lakegate.secrets import SecretStore, redact, register_secret, resolve

__all__ = ["Checks", "Failed"]

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


class Failed(Exception):
    """A failed step: what is wrong (cause), what to do (fix), and what was seen."""

    def __init__(self, cause: str, fix: str, detail: str = "") -> None:
        super().__init__(cause)
        self.cause, self.fix, self.detail = redact(cause), redact(fix), redact(detail)


class Checks:
    """Shared state of one diagnosis (the token, the warehouses found) and its checks."""

    def __init__(
        self,
        project: Project,
        connector: Connector,
        store: SecretStore,
        http: HttpClient,
        account_host: str | None,
    ) -> None:
        self.project, self.connector, self.store, self.http = project, connector, store, http
        self.host = connector.base_url
        self.account_host = account_host
        self.config: dict[str, Any] = {}
        self.access_token: str | None = None
        self.granted: str | None = None
        self.warehouses: list[dict[str, Any]] = []

    # --- Databricks ------------------------------------------------------------------------

    async def is_databricks(self) -> bool:
        """A workspace answers `/.well-known/databricks-config` (or its host says Databricks)."""
        try:
            response = await self.http.get(f"{self.host}/.well-known/databricks-config")
            if response.is_success and isinstance(response.json(), dict):
                self.config = response.json()
                return True
        except (SendError, ValueError):
            pass
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
        """Try both client-auth modes; say which works."""
        auth = self.connector.auth
        if not isinstance(auth, OAuth2Auth):
            return await self.credentials()
        secret = self._secret(auth.client_secret)
        outcomes: dict[str, str] = {}
        answers: dict[str, Any] = {}
        for mode in ("request_body", "basic_header"):
            status, body = await self._token_request(auth, secret, mode)
            if status == 200 and isinstance(body, dict) and body.get(auth.access_token_key):
                outcomes[mode] = "works"
                answers[mode] = body
            else:
                outcomes[mode] = f"refused ({_oauth_error(status, body)})"
                answers.setdefault("failure", (status, body))
        works = [m for m, o in outcomes.items() if o == "works"]
        summary = "; ".join(f"{m}: {o}" for m, o in outcomes.items())
        if works:
            body = answers[works[0]]
            self.access_token = str(body[auth.access_token_key])
            register_secret(self.access_token)
            self.granted = body.get("scope")
            chosen = auth.client_auth
            if chosen != "auto" and chosen not in works:
                raise Failed(
                    f"The connector uses client_auth {chosen}, which the token endpoint refuses.",
                    f"Set `client_auth: {works[0]}` on the connector.",
                    summary,
                )
            return summary
        raise await self._token_failure(auth, secret, *answers["failure"], summary)

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
            raise self._api_failure(response, "listing warehouses")
        self.warehouses = list((response.json() or {}).get("warehouses") or [])
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
                found = _json(response)
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
        )
        body = _json(response)
        if response.status_code == 403:
            raise Failed(
                f"The service principal may not use warehouse {warehouse_id}: "
                f"{_message(body) or 'PERMISSION_DENIED'}.",
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
            raise self._api_failure(response, "running SELECT 1")
        state = (body.get("status") or {}).get("state")
        if state != "SUCCEEDED":
            error = (body.get("status") or {}).get("error") or {}
            raise Failed(
                f"SELECT 1 on warehouse {warehouse_id} ended {state}: {error.get('message', '')}",
                "Check the warehouse's state with `lakegate call get_warehouse`; start it with "
                "`lakegate call start_warehouse`.",
            )
        return f"SELECT 1 answered on warehouse {warehouse_id}"

    async def secret_expiry(self) -> str:
        """Readable only through the account API, with an account admin's token."""
        auth = self.connector.auth
        account = self._account_host()
        if not isinstance(auth, OAuth2Auth) or account is None or _is_entra(auth):
            return "skipped: the secret's expiry is not readable from here"
        account_id = self.config.get("account_id")
        try:
            token = await self._account_token(auth, account)
            base = f"{account}/api/2.0/accounts/{account_id}"
            headers = {"Authorization": f"Bearer {token}"}
            found = await self.http.get(
                f"{base}/scim/v2/ServicePrincipals",
                params={"filter": f'applicationId eq "{auth.client_id}"'},
                headers=headers,
            )
            resources = _json(found).get("Resources") or []
            if found.status_code != 200 or not resources:
                return "skipped: the account API does not show this principal"
            listed = await self.http.get(
                f"{base}/servicePrincipals/{resources[0]['id']}/credentials/secrets",
                headers=headers,
            )
        except (SendError, Failed, KeyError):
            return "skipped: the secret's expiry is not readable with this principal"
        expiries = [
            datetime.fromisoformat(str(s["expire_time"]).replace("Z", "+00:00"))
            for s in _json(listed).get("secrets") or []
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
                f"console), then {_store_fix(auth)}",
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
            self._secret(ref)
        return f"{auth.type}: {len(refs)} secret reference(s) resolved" if refs else "no auth"

    async def read_action(self) -> str:
        from lakegate.gateway import Gateway

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
        async with Gateway(self.project, secret_store=self.store) as gw:
            result = await gw.test(action.name)
        if result.ok:
            return f"{action.name}: HTTP {result.status} in {result.elapsed_ms:.0f} ms"
        error = result.error or LakegateError("unknown failure")
        raise Failed(f"{action.name} failed: {error.message}", error.hint or "See the error.")

    # --- helpers ---------------------------------------------------------------------------

    def _secret(self, ref: str | None) -> str:
        if not ref:
            raise Failed("The connector has no client secret.", "Add `client_secret: ${env:VAR}`.")
        try:
            return resolve(ref, self.store)
        except LakegateError as exc:
            raise Failed(exc.message, exc.hint) from None

    async def _token_request(
        self, auth: OAuth2Auth, secret: str, mode: str, url: str | None = None
    ) -> tuple[int, Any]:
        form = {"grant_type": "client_credentials", **auth.extra_token_params}
        if auth.scope:
            form["scope"] = auth.scope
        headers = dict(auth.extra_token_headers)
        if mode == "request_body":
            form.update(client_id=auth.client_id or "", client_secret=secret)
        else:
            pair = base64.b64encode(f"{auth.client_id or ''}:{secret}".encode()).decode("ascii")
            register_secret(pair)
            headers["Authorization"] = f"Basic {pair}"
        try:
            response = await self.http.post(url or auth.token_url, data=form, headers=headers)
        except SendError as exc:
            raise Failed(
                f"The token endpoint {url or auth.token_url} is unreachable ({exc.cause_name}).",
                "Check `token_url` (for Databricks: https://<workspace>/oidc/v1/token).",
            ) from None
        return response.status_code, _json(response) or response.text[:200]

    async def _token_failure(
        self, auth: OAuth2Auth, secret: str, status: int, body: Any, summary: str
    ) -> Failed:
        error = _oauth_error(status, body)
        if status in (404, 405):
            discovered = self.config.get("oidc_endpoint")
            right = f"{discovered}/v1/token" if discovered else f"{self.host}/oidc/v1/token"
            return Failed(
                f"There is no token endpoint at {auth.token_url} (HTTP {status}).",
                f"Set `token_url: {right}`.",
                summary,
            )
        if "invalid_scope" in error:
            return Failed(
                f"The token endpoint refuses the scope {auth.scope!r}.",
                f"Use `scope: sql all-apis` (Azure Entra ID: `scope: {AZURE_DATABRICKS_SCOPE}`).",
                summary,
            )
        if "invalid_client" in error or status == 401:
            account = self._account_host()
            if account is not None and await self._account_accepts(auth, secret, account):
                return Failed(
                    "The client id and secret are right (the account accepts them), but the "
                    "service principal is not assigned to this workspace.",
                    "Assign it: account console > Workspaces > (workspace) > Permissions > Add, "
                    "or `lakegate databricks setup ... --principal-name <its name>`, which "
                    "assigns it.",
                    summary,
                )
            also = "" if account else ", or the service principal is not assigned to it"
            fix = f"Create a new OAuth secret for the service principal and {_store_fix(auth)}"
            if account is None:
                fix += (
                    " To tell a wrong secret from an unassigned principal, run again with "
                    "`--account-host` (e.g. https://accounts.cloud.databricks.com)."
                )
            return Failed(
                f"The workspace refused the client credentials ({error}): the client secret is "
                f"wrong or expired, or the client id is wrong{also}.",
                fix,
                summary,
            )
        return Failed(
            f"The token request failed ({error}).", "Check the connector's auth settings.", summary
        )

    def _account_host(self) -> str | None:
        if self.account_host:
            return self.account_host.rstrip("/")
        host = urlsplit(self.host).hostname or ""
        cloud = str(self.config.get("cloud") or "")
        if not self.config.get("account_id") or host in ("localhost", "127.0.0.1", "::1"):
            return None
        return _ACCOUNT_HOSTS.get(cloud)

    async def _account_token(self, auth: OAuth2Auth, account: str) -> str:
        url = f"{account}/oidc/accounts/{self.config.get('account_id')}/v1/token"
        status, body = await self._token_request(
            auth.model_copy(update={"scope": "all-apis"}),
            self._secret(auth.client_secret),
            "request_body",
            url,
        )
        if status != 200 or not isinstance(body, dict) or "access_token" not in body:
            raise Failed("The account refused the credentials.", "")
        register_secret(str(body["access_token"]))
        return str(body["access_token"])

    async def _account_accepts(self, auth: OAuth2Auth, secret: str, account: str) -> bool:
        try:
            await self._account_token(auth, account)
        except Failed:
            return False
        return True

    async def _api(self, method: str, path: str, **kwargs: Any) -> Response:
        headers = {"Authorization": f"Bearer {self.access_token}"}
        try:
            return await self.http.request(method, f"{self.host}{path}", headers=headers, **kwargs)
        except SendError as exc:
            raise Failed(
                f"{method} {path} failed ({exc.cause_name}).", "Check the workspace's health."
            ) from None

    def _api_failure(self, response: Response, doing: str) -> Failed:
        body = _json(response)
        message = _message(body) or f"HTTP {response.status_code}"
        if "not assigned" in message:
            return Failed(
                f"The service principal is not assigned to this workspace ({message}).",
                "Assign it in the account console (Workspaces > Permissions) or with "
                "`lakegate databricks setup`.",
            )
        if "scope" in message.lower():
            return Failed(message, "Set `scope: sql all-apis` on the connector.")
        if response.status_code == 401:
            return Failed(
                f"The workspace rejected the token while {doing} ({message}).",
                "The token came from another workspace or account: check `token_url`.",
            )
        return Failed(f"{doing} failed: {message}.", "See the message; retry later if it is 5xx.")


def _store_fix(auth: OAuth2Auth) -> str:
    """Where the new secret goes: where the connector reads it from."""
    kind, _, name = (auth.client_secret or "").removeprefix("${").removesuffix("}").partition(":")
    if kind == "env":
        return (
            f"put it in the environment variable the connector reads: export {name}=<the new "
            "secret> (where lakegate and the copilot run); then check client_id."
        )
    if kind == "secret":
        return f"store it: `lakegate secret set {name}` (pipe it in); then check client_id."
    return (
        "store it with `lakegate secret set NAME` and write `client_secret: ${secret:NAME}`; "
        "then check client_id."
    )


def _is_entra(auth: OAuth2Auth) -> bool:
    return (urlsplit(auth.token_url).hostname or "").endswith("login.microsoftonline.com")


def _json(response: Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _message(body: dict[str, Any]) -> str:
    parts = [str(body[k]) for k in ("error_code", "message") if body.get(k)]
    return ": ".join(parts)


def _oauth_error(status: int, body: Any) -> str:
    if isinstance(body, dict):
        text = " ".join(str(body[k]) for k in ("error", "error_description") if body.get(k))
        if text:
            return f"HTTP {status} {text}"
    return f"HTTP {status}"
