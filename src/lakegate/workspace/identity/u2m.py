"""User-to-machine OAuth on the workspace: authorization code with PKCE (S256) and refresh
tokens, as the databricks CLI's `auth login`, the databricks-sdk's `external-browser` auth and
the SQL connectors' browser sign-in use them.

`GET /oidc/v1/authorize` checks the client and its loopback `redirect_uri` and shows a minimal
consent page on the workspace's own host, where a named user of the account signs in (this local
workspace asks no password: it stands in for the company's sign-in page). `POST` of that page
sends the browser back to `redirect_uri?code=...&state=...`. `/oidc/v1/token` then takes
`grant_type=authorization_code` (with the `code_verifier`) and `grant_type=refresh_token`;
a refresh token is used once and replaced (rotation), as Databricks does.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import secrets
import time
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from lakegate.workspace.identity.host import IdentityHost
from lakegate.workspace.identity.principals import PRINCIPAL_KEY, OAuthError, Principal

__all__ = ["PUBLIC_CLIENTS", "U2M", "routes", "u2m"]

# The public OAuth clients every Databricks account has ("published app integrations").
PUBLIC_CLIENTS = frozenset(
    {"databricks-cli", "databricks-sql-python", "databricks-sql-jdbc", "databricks-sql-odbc",
     "databricks-dbt-adapter", "lakegate"}
)  # fmt: skip
CODE_TTL_S = 300.0
REFRESH_TTL_S = 90 * 24 * 3600.0
_CODE = "u2m_code"  # store kinds
_REFRESH = "u2m_refresh"
_PARAMS = ("client_id", "redirect_uri", "response_type", "scope", "state", "code_challenge",
           "code_challenge_method", "nonce")  # fmt: skip


class _Refused(Exception):
    """An authorize request that cannot even be redirected back (bad client or redirect_uri)."""


class U2M:
    """Codes and refresh tokens (kept hashed in the state store, so a restart keeps them)."""

    def __init__(self, ws: IdentityHost) -> None:
        self.ws = ws

    # -- the authorize step ---------------------------------------------------------------------

    def check(self, params: dict[str, str]) -> None:
        """Refuse what cannot be sent back to the client (RFC 6749 4.1.2.1: shown, not
        redirected); what can is answered by `problem` as a redirect."""
        if params.get("client_id") not in PUBLIC_CLIENTS:
            raise _Refused(f"Unknown OAuth client {params.get('client_id')!r}.")
        uri = urlsplit(params.get("redirect_uri", ""))
        if uri.scheme != "http" or uri.hostname not in ("localhost", "127.0.0.1", "::1"):
            raise _Refused("redirect_uri must be a loopback http:// URL (http://localhost:PORT).")

    @staticmethod
    def problem(params: dict[str, str]) -> tuple[str, str] | None:
        if params.get("response_type") != "code":
            return "unsupported_response_type", "response_type must be code."
        if params.get("code_challenge_method") != "S256" or not params.get("code_challenge"):
            return "invalid_request", "PKCE is required: code_challenge with method S256."
        return None

    def grant_code(self, params: dict[str, str], principal: Principal) -> str:
        code = secrets.token_urlsafe(32)
        self.ws.store.put(_CODE, _hash(code), {
            "principal_id": principal.id, "client_id": params["client_id"],
            "redirect_uri": params["redirect_uri"], "challenge": params["code_challenge"],
            "scope": params.get("scope", ""), "expires": time.time() + CODE_TTL_S,
        })  # fmt: skip
        return code

    # -- the token endpoint ---------------------------------------------------------------------

    def redeem_code(self, form: dict[str, str]) -> tuple[Principal, dict[str, Any]]:
        code, verifier = form.get("code", ""), form.get("code_verifier", "")
        held = self.ws.store.get(_CODE, _hash(code)) if code else None
        if held is not None:
            self.ws.store.delete(_CODE, _hash(code))  # a code is used once, right or wrong
        if held is None or held["expires"] < time.time():
            raise OAuthError("invalid_grant", "The authorization code is invalid or expired.")
        if form.get("client_id") != held["client_id"]:
            raise OAuthError("invalid_grant", "The code was issued to another client.")
        if form.get("redirect_uri", held["redirect_uri"]) != held["redirect_uri"]:
            raise OAuthError("invalid_grant", "redirect_uri does not match the authorize request.")
        if not verifier or not hmac.compare_digest(_s256(verifier), held["challenge"]):
            raise OAuthError("invalid_grant", "PKCE verification failed (code_verifier).")
        return self._answer(held["principal_id"], held["client_id"], held["scope"])

    def refresh(self, form: dict[str, str]) -> tuple[Principal, dict[str, Any]]:
        token = form.get("refresh_token", "")
        held = self.ws.store.get(_REFRESH, _hash(token)) if token else None
        if held is not None:
            self.ws.store.delete(_REFRESH, _hash(token))  # rotation: used once
        if held is None or held["expires"] < time.time():
            raise OAuthError("invalid_grant", "The refresh token is invalid or expired.")
        if form.get("client_id") != held["client_id"]:
            raise OAuthError("invalid_grant", "The refresh token was issued to another client.")
        return self._answer(held["principal_id"], held["client_id"], held["scope"])

    def _answer(
        self, principal_id: str, client_id: str, scope: str
    ) -> tuple[Principal, dict[str, Any]]:
        principal = self.ws.identity.principal(principal_id)
        if principal is None or not principal.active or not principal.assigned:
            raise OAuthError("invalid_grant", "The user can no longer sign in to this workspace.")
        wanted = [s for s in scope.split() if s != "offline_access"]
        answer = self.ws.identity.issue_for(principal, " ".join(wanted), "workspace")
        refresh = secrets.token_urlsafe(32)
        self.ws.store.put(_REFRESH, _hash(refresh), {
            "principal_id": principal.id, "client_id": client_id, "scope": scope,
            "expires": time.time() + REFRESH_TTL_S,
        })  # fmt: skip
        return principal, {**answer, "refresh_token": refresh}


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def u2m(ws: IdentityHost) -> U2M:
    found = getattr(ws, "_u2m", None)
    if found is None:
        found = U2M(ws)
        ws._u2m = found  # type: ignore[attr-defined]
    return found


def _back(params: dict[str, str], **answer: str) -> RedirectResponse:
    """The browser, sent back to the client's redirect_uri with `answer` and the state."""
    if params.get("state"):
        answer["state"] = params["state"]
    joiner = "&" if "?" in params["redirect_uri"] else "?"
    return RedirectResponse(params["redirect_uri"] + joiner + urlencode(answer), 302)


def _page(params: dict[str, str], note: str = "") -> HTMLResponse:
    hidden = "".join(
        f'<input type="hidden" name="{k}" value="{html.escape(params[k])}">'
        for k in _PARAMS
        if params.get(k)
    )
    hint = html.escape(params.get("login_hint", ""))
    warning = f'<p role="alert">{html.escape(note)}</p>' if note else ""
    body = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in to the local Databricks workspace</title></head><body>
<main><h1>Sign in</h1>
<p>{html.escape(params["client_id"])} asks to act as you on this local workspace
(scope: {html.escape(params.get("scope") or "all-apis")}).</p>{warning}
<form method="post" action="/oidc/v1/authorize">{hidden}
<label for="user">User name (email)</label>
<input id="user" name="user_name" type="email" required autocomplete="username" value="{hint}">
<button type="submit">Sign in and allow</button></form>
<p><small>A local stand-in for your company's sign-in: it asks no password.</small></p>
</main></body></html>"""
    return HTMLResponse(body, headers={"Cache-Control": "no-store", "X-Frame-Options": "DENY"})


def routes(ws: IdentityHost) -> list[BaseRoute]:
    flow = u2m(ws)

    async def authorize(request: Request) -> Response:
        if request.method == "GET":
            params = dict(request.query_params)
        else:
            raw = (await request.body()).decode(errors="replace")
            params = dict(parse_qsl(raw, keep_blank_values=True))
        try:
            flow.check(params)
        except _Refused as exc:
            why = html.escape(str(exc))
            return HTMLResponse(f"<!doctype html><title>Sign-in refused</title><p>{why}</p>", 400)
        problem = flow.problem(params)
        if problem is not None:
            return _back(params, error=problem[0], error_description=problem[1])
        if request.method == "GET":
            return _page(params)
        user = ws.identity.user_named(params.get("user_name", "").strip())
        if user is None or user.get("active") is False:
            return _page(params, "No active user of this account has that name.")
        principal = ws.identity.user_principal(user)
        if not principal.assigned:
            return _page(params, "That user is not assigned to this workspace.")
        request.scope[PRINCIPAL_KEY] = principal.application_id
        return _back(params, code=flow.grant_code(params, principal))

    return [Route("/oidc/v1/authorize", authorize, methods=["GET", "POST"])]
