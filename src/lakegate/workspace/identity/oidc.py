"""Discovery documents, the OAuth token endpoints and personal access tokens."""

from __future__ import annotations

import base64
import binascii
import uuid
from urllib.parse import parse_qsl, unquote

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from lakegate.workspace.http import empty, fail, field, json_body
from lakegate.workspace.identity.federation import EXCHANGE, federation
from lakegate.workspace.identity.host import IdentityHost
from lakegate.workspace.identity.principals import PRINCIPAL_KEY, Audience, OAuthError, pat_info
from lakegate.workspace.identity.u2m import u2m


def oauth_error(exc: OAuthError) -> JSONResponse:
    """Databricks' token-endpoint error shape, always JSON."""
    body = {"error": exc.error, "error_description": exc.description, "error_id": str(uuid.uuid4())}
    return JSONResponse(body, exc.status)


def discovery(issuer: str) -> dict:
    """The OAuth authorization-server / OpenID metadata for an issuer URL."""
    return {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/v1/authorize",
        "token_endpoint": f"{issuer}/v1/token",
        "jwks_uri": f"{issuer}/jwks.json",
        "grant_types_supported": [
            "client_credentials",
            "authorization_code",
            "refresh_token",
            EXCHANGE,
        ],
        "response_types_supported": ["code"],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": ["all-apis", "sql"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
    }


def _client_credentials(request: Request, form: dict[str, str]) -> tuple[str, str]:
    """(client_id, client_secret) from exactly one of: the form body, HTTP Basic."""
    header = request.headers.get("authorization", "")
    in_body = "client_secret" in form
    if header:
        kind, _, encoded = header.partition(" ")
        if kind.lower() != "basic":
            raise OAuthError("invalid_request", "Only HTTP Basic client authentication is allowed.")
        if in_body:
            raise OAuthError(
                "invalid_request",
                "Client credentials were sent both in the body and as HTTP Basic; send one.",
            )
        try:
            client_id, sep, secret = (
                base64.b64decode(encoded, validate=True).decode().partition(":")
            )
        except (binascii.Error, UnicodeDecodeError):
            raise OAuthError("invalid_request", "Malformed HTTP Basic credentials.") from None
        if not sep:
            raise OAuthError("invalid_request", "Malformed HTTP Basic credentials.")
        return unquote(client_id), unquote(secret)
    if not in_body or not form.get("client_id"):
        raise OAuthError(
            "invalid_request",
            "Client authentication is missing: send client_id and client_secret in the body, "
            "or as HTTP Basic.",
        )
    return form["client_id"], form["client_secret"]


def token_endpoint(ws: IdentityHost, audience: Audience):
    """POST handler for a token endpoint: client credentials, token exchange, and (on the
    workspace) authorization code with PKCE and refresh tokens (u2m.py)."""

    async def token(request: Request) -> Response:
        if audience == "account" and request.path_params["account_id"] != ws.account_id:
            return oauth_error(OAuthError("invalid_request", "Unknown account id."))
        content_type = request.headers.get("content-type", "")
        try:
            if not content_type.startswith("application/x-www-form-urlencoded"):
                raise OAuthError(
                    "invalid_request",
                    "The token request must be form-encoded "
                    "(Content-Type: application/x-www-form-urlencoded).",
                )
            try:
                form = dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))
            except UnicodeDecodeError:
                raise OAuthError("invalid_request", "The form body is not UTF-8.") from None
            grant_type = form.get("grant_type")
            if not grant_type:
                raise OAuthError("invalid_request", "Missing grant_type.")
            if grant_type == EXCHANGE:
                who, answer = await federation(ws).exchange(form, audience)
                request.scope[PRINCIPAL_KEY] = who.application_id
                return JSONResponse(answer, headers={"Cache-Control": "no-store"})
            if grant_type in ("authorization_code", "refresh_token") and audience == "workspace":
                flow = u2m(ws)
                redeem = flow.redeem_code if grant_type == "authorization_code" else flow.refresh
                who, answer = redeem(form)
                request.scope[PRINCIPAL_KEY] = who.application_id
                return JSONResponse(answer, headers={"Cache-Control": "no-store"})
            if grant_type != "client_credentials":
                raise OAuthError(
                    "unsupported_grant_type", f"Grant type {grant_type!r} is not supported."
                )
            client_id, secret = _client_credentials(request, form)
            answer = await ws.identity.issue_token(
                client_id, secret, form.get("scope", ""), audience
            )
            request.scope[PRINCIPAL_KEY] = client_id  # logged once authenticated
        except OAuthError as exc:
            return oauth_error(exc)
        return JSONResponse(answer, headers={"Cache-Control": "no-store"})

    return token


def workspace_routes(ws: IdentityHost) -> list[BaseRoute]:
    """Discovery, the workspace token endpoint and `/api/2.0/token/*`."""

    async def databricks_config(request: Request) -> Response:
        return JSONResponse(
            {
                "oidc_endpoint": f"{ws.host}/oidc",
                "account_id": ws.account_id,
                "workspace_id": ws.workspace_id,
                "cloud": "aws",
            }
        )

    async def metadata(request: Request) -> Response:
        return JSONResponse(discovery(f"{ws.host}/oidc"))

    async def create_pat(request: Request) -> Response:
        principal = await ws.identity.authenticate(request)
        body = await json_body(request, required=False)
        lifetime = field(body, "lifetime_seconds", int)
        comment = field(body, "comment", str, default="")
        return JSONResponse(ws.identity.create_pat(principal, lifetime, comment))

    async def list_pats(request: Request) -> Response:
        principal = await ws.identity.authenticate(request)
        return JSONResponse({"token_infos": [pat_info(g) for g in ws.identity.pats_of(principal)]})

    async def delete_pat(request: Request) -> Response:
        principal = await ws.identity.authenticate(request)
        body = await json_body(request)
        token_id = field(body, "token_id", str)
        if not token_id or not ws.identity.revoke_pat(principal, token_id):
            raise fail("RESOURCE_DOES_NOT_EXIST", f"Token {token_id} does not exist.")
        return empty()

    return [
        Route("/.well-known/databricks-config", databricks_config, methods=["GET"]),
        Route("/oidc/.well-known/oauth-authorization-server", metadata, methods=["GET"]),
        Route("/oidc/.well-known/openid-configuration", metadata, methods=["GET"]),
        Route("/oidc/v1/token", token_endpoint(ws, "workspace"), methods=["POST"]),
        Route("/api/2.0/token/create", create_pat, methods=["POST"]),
        Route("/api/2.0/token/list", list_pats, methods=["GET"]),
        Route("/api/2.0/token/delete", delete_pat, methods=["POST"]),
    ]


def account_routes(ws: IdentityHost) -> list[BaseRoute]:
    """Discovery and the token endpoint of the account host."""

    async def databricks_config(request: Request) -> Response:
        # No workspace_id: that is how clients tell an account host from a workspace.
        return JSONResponse(
            {
                "oidc_endpoint": f"{ws.account_host}/oidc/accounts/{ws.account_id}",
                "account_id": ws.account_id,
                "cloud": "aws",
            }
        )

    async def metadata(request: Request) -> Response:
        if request.path_params["account_id"] != ws.account_id:
            raise fail("RESOURCE_DOES_NOT_EXIST", "Unknown account id.")
        return JSONResponse(discovery(f"{ws.account_host}/oidc/accounts/{ws.account_id}"))

    base = "/oidc/accounts/{account_id}"
    return [
        Route("/.well-known/databricks-config", databricks_config, methods=["GET"]),
        Route(base + "/.well-known/oauth-authorization-server", metadata, methods=["GET"]),
        Route(base + "/.well-known/openid-configuration", metadata, methods=["GET"]),
        Route(base + "/v1/token", token_endpoint(ws, "account"), methods=["POST"]),
    ]
