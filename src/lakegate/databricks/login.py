"""`lakegate login`: a person signs in to Databricks in a browser (OAuth U2M: authorization code
with PKCE S256, as `databricks auth login` does) and the connector acts as them from then on.

The browser comes back to a one-shot loopback listener on `http://localhost:PORT` (8020, the
port the databricks CLI's public client is registered with). The refresh token goes into the
secret store (mode 0600, bound to the token URL), the connector's auth becomes
`grant_type: refresh_token`, and each rotated refresh token is written back there (tokens.py),
so every later process (a stdio copilot the client starts, `lakegate call`) runs as that person.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from lakegate._transport import HttpClient, SendError
from lakegate.databricks.connect import normalize_host, well_known
from lakegate.errors import AuthError, InputError, TransportError
from lakegate.gateway import Gateway
from lakegate.project import OAuth2Auth, Project
from lakegate.secrets import SecretStore, register_secret

__all__ = ["DEFAULT_CLIENT_ID", "DEFAULT_PORT", "LoginReport", "login"]

DEFAULT_CLIENT_ID = "databricks-cli"  # a public client every Databricks account has
DEFAULT_PORT = 8020  # its registered redirect: http://localhost:8020
_SCOPE = "all-apis offline_access"
_DONE_PAGE = (
    "<!doctype html><meta charset='utf-8'><title>lakegate</title>"
    "<p>Signed in. You can close this tab and go back to the terminal.</p>"
)


@dataclass
class LoginReport:
    """Who signed in, and where the connector's credential now lives (never the token)."""

    user: str
    connector: str
    secret_name: str
    redirect_uri: str


async def login(
    project: Project,
    connector_name: str,
    *,
    open_browser: Callable[[str], Any],
    secret_store: SecretStore,
    client_id: str = DEFAULT_CLIENT_ID,
    port: int = DEFAULT_PORT,
    timeout_s: float = 300.0,
) -> LoginReport:
    """Sign the person in and switch `connector_name` to act as them; the project is saved
    only when everything worked."""
    connector = project.connector(connector_name)
    host = normalize_host(connector.base_url)
    async with Gateway.over([]) as gw:
        meta = await well_known(host, "/oidc/.well-known/oauth-authorization-server", gw, 10, 20)
    if not meta or not meta.get("authorization_endpoint") or not meta.get("token_endpoint"):
        raise InputError(
            f"{host} publishes no OAuth sign-in (/oidc/.well-known/oauth-authorization-server).",
            hint="Check the connector's base_url: it must be the workspace URL.",
        )
    verifier = secrets.token_urlsafe(64)
    state = secrets.token_urlsafe(16)
    arrived: asyncio.Future[dict[str, str]] = asyncio.get_running_loop().create_future()
    async with _Listener(port, arrived) as listener:
        redirect_uri = f"http://localhost:{listener.port}"
        query = {
            "client_id": client_id, "redirect_uri": redirect_uri, "response_type": "code",
            "scope": _SCOPE, "state": state, "code_challenge": _s256(verifier),
            "code_challenge_method": "S256",
        }  # fmt: skip
        opened = open_browser(f"{meta['authorization_endpoint']}?{urlencode(query)}")
        if asyncio.iscoroutine(opened):
            await opened
        try:
            answer = await asyncio.wait_for(arrived, timeout_s)
        except TimeoutError:
            raise AuthError(
                f"Nobody finished signing in within {timeout_s:g} s.",
                code="auth.login_timeout",
                hint="Run `lakegate login` again and complete the sign-in in the browser.",
            ) from None
    if answer.get("state") != state:
        raise AuthError(
            "The sign-in came back with another state: it was not this login's.",
            code="auth.login_refused",
            hint="Run `lakegate login` again; close other sign-in tabs first.",
        )
    if answer.get("error") or not answer.get("code"):
        raise AuthError(
            f"Databricks refused the sign-in: {answer.get('error', 'no code')}"
            f" ({answer.get('error_description', '')}).",
            code="auth.login_refused",
            hint=f"Check that the OAuth app {client_id} is enabled for the account, or pass "
            "--client-id of one that is.",
        )
    token_url = str(meta["token_endpoint"])
    tokens = await _redeem(token_url, answer["code"], verifier, redirect_uri, client_id)
    user = await _who(host, tokens["access_token"])
    secret_name = f"{connector_name}_refresh_token"
    secret_store.set(secret_name, tokens["refresh_token"], origin=token_url)
    auth = OAuth2Auth(
        grant_type="refresh_token", token_url=token_url, client_id=client_id,
        refresh_token=f"${{secret:{secret_name}}}",
    )  # fmt: skip
    project.set_connector(connector_name, connector.model_copy(update={"auth": auth}))
    project.save()
    return LoginReport(user, connector_name, secret_name, redirect_uri)


class _Listener:
    """A one-shot loopback HTTP server (Starlette on uvicorn) for the browser's return."""

    def __init__(self, port: int, arrived: asyncio.Future[dict[str, str]]) -> None:
        import socket

        import uvicorn
        from starlette.applications import Starlette
        from starlette.requests import Request
        from starlette.responses import HTMLResponse
        from starlette.routing import Route

        async def back(request: Request) -> HTMLResponse:
            params = dict(request.query_params)
            if not arrived.done() and ("code" in params or "error" in params):
                arrived.set_result(params)
            return HTMLResponse(_DONE_PAGE)

        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            self.sock.bind(("127.0.0.1", port))
        except OSError as exc:
            self.sock.close()
            raise InputError(
                f"Cannot listen on localhost:{port} for the browser's return ({exc.strerror}).",
                hint="Free that port (another `lakegate login` or `databricks auth login`?), "
                "or pass --port with one your OAuth app allows.",
            ) from None
        self.port = self.sock.getsockname()[1]
        app = Starlette(routes=[Route("/", back)])
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> _Listener:
        self.task = asyncio.create_task(self.server.serve(sockets=[self.sock]))
        # uvicorn says it is up through a flag only
        while not self.server.started and not self.task.done():  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.server.should_exit = True
        if self.task is not None:
            await self.task
        self.sock.close()


async def _redeem(
    token_url: str, code: str, verifier: str, redirect_uri: str, client_id: str
) -> dict[str, str]:
    form = {"grant_type": "authorization_code", "code": code, "code_verifier": verifier,
            "redirect_uri": redirect_uri, "client_id": client_id}  # fmt: skip
    try:
        async with HttpClient() as http:
            reply = await http.post(token_url, data=form, headers={"Accept": "application/json"})
    except SendError as exc:
        raise TransportError(f"The token endpoint {token_url} could not be reached.") from exc
    body = reply.json_object()
    access, refresh = body.get("access_token"), body.get("refresh_token")
    if not reply.is_success or not isinstance(access, str) or not isinstance(refresh, str):
        raise AuthError(
            f"The code could not be redeemed: {body.get('error', reply.status_code)} "
            f"({body.get('error_description', '')}).",
            code="auth.login_refused",
            hint="Run `lakegate login` again (a code works once, for 5 minutes); ask for "
            "offline_access if no refresh token came back.",
        )
    register_secret(access)
    register_secret(refresh)
    return {"access_token": access, "refresh_token": refresh}


async def _who(host: str, token: str) -> str:
    async with HttpClient() as http:
        reply = await http.get(f"{host}/api/2.0/preview/scim/v2/Me",
                               headers={"Authorization": f"Bearer {token}"})  # fmt: skip
    body = reply.json_object() if reply.is_success else {}
    return str(body.get("userName") or "?")


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")
