"""A test identity provider on the account host, so "alice signs in to the company IdP" runs on
one laptop: an OIDC issuer at `<account host>/idp` (discovery and JWKS) whose RS256 JWTs name
the account's users.

`LocalWorkspace(idp=True)` (`lakegate workspace serve --idp`) serves it and creates the account
federation policy `local-idp` that trusts it, exactly as an admin would for Entra ID, Okta or
Google (only the issuer, the keys and the subject claim differ). A token is minted with
`LocalWorkspace.idp_token(user)` or `POST /idp/token` (`grant_type=password`, `username=`,
`audience=` repeatable):
this IdP checks no password, it is a stand-in for the company's.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any
from urllib.parse import parse_qsl

from joserfc import jwt
from joserfc.jwk import RSAKey
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from lakegate.workspace.identity.federation import federation
from lakegate.workspace.identity.host import IdentityHost

__all__ = ["POLICY_ID", "TestIdp", "idp", "routes"]

POLICY_ID = "local-idp"
PATH = "/idp"


class TestIdp:
    """The issuer, its signing key (kept in the state store) and the tokens it mints."""

    __test__ = False  # not a pytest class

    def __init__(self, ws: IdentityHost) -> None:
        self.ws = ws
        self.issuer = f"{ws.account_host}{PATH}"
        stored = ws.store.get("meta", "idp_key")
        if stored is None:
            key = RSAKey.generate_key(2048, parameters={"kid": uuid.uuid4().hex[:16]})
            ws.store.put("meta", "idp_key", key.as_dict(private=True))
        else:
            key = RSAKey.import_key(stored)
        self.key = key

    def jwks(self) -> dict[str, Any]:
        return {"keys": [{**self.key.as_dict(private=False), "use": "sig", "alg": "RS256"}]}

    def mint(
        self,
        subject: str,
        *,
        audience: str | list[str] | None = None,
        lifetime_s: float = 3600,
        issuer: str | None = None,
        **claims: Any,
    ) -> str:
        """A signed ID token for `subject` (the account id is the default audience)."""
        now = int(time.time())
        payload = {
            "iss": issuer or self.issuer,
            "sub": subject,
            "aud": audience if audience is not None else self.ws.account_id,
            "iat": now,
            "nbf": now,
            "exp": int(now + lifetime_s),
            "email": subject,
            **claims,
        }
        header = {"alg": "RS256", "kid": self.key.kid, "typ": "JWT"}
        return jwt.encode(header, payload, self.key)

    def ensure_policy(self) -> None:
        """The account federation policy trusting this issuer (created once)."""
        fed = federation(self.ws)
        if any(p["policy_id"] == POLICY_ID for p in fed.policies(None)):
            return
        body = {
            "description": "The local workspace's test identity provider",
            "oidc_policy": {
                "issuer": self.issuer,
                "audiences": [self.ws.account_id],
                "subject_claim": "sub",
                "jwks_json": json.dumps(self.jwks()),
            },
        }
        fed.create(body, POLICY_ID, None)


def idp(ws: IdentityHost) -> TestIdp:
    found = getattr(ws, "test_idp", None)
    if found is None:
        found = TestIdp(ws)
        ws.test_idp = found  # type: ignore[attr-defined]
    return found


def routes(ws: IdentityHost) -> list[BaseRoute]:
    """Discovery, JWKS and a password-less token endpoint for the account's users."""
    issuer = idp(ws)

    async def configuration(request: Request) -> Response:
        return JSONResponse(
            {
                "issuer": issuer.issuer,
                "jwks_uri": f"{issuer.issuer}/jwks.json",
                "token_endpoint": f"{issuer.issuer}/token",
                "id_token_signing_alg_values_supported": ["RS256"],
                "subject_types_supported": ["public"],
                "response_types_supported": ["id_token"],
            }
        )

    async def keys(request: Request) -> Response:
        return JSONResponse(issuer.jwks())

    async def token(request: Request) -> Response:
        pairs = parse_qsl((await request.body()).decode(errors="replace"))
        form = dict(pairs)
        # `audience` may repeat: one token for an MCP server and the account's policy alike.
        audiences = [value for key, value in pairs if key == "audience" and value]
        user = form.get("username", "")
        if form.get("grant_type") != "password" or not user:
            return JSONResponse(
                {
                    "error": "invalid_request",
                    "error_description": "Send grant_type=password and username=<user name>.",
                },
                400,
            )
        audience = audiences if len(audiences) > 1 else (audiences[0] if audiences else None)
        minted = issuer.mint(user, audience=audience)
        return JSONResponse(
            {
                "id_token": minted,
                "access_token": minted,
                "token_type": "Bearer",
                "expires_in": 3600,
            },
            headers={"Cache-Control": "no-store"},
        )

    return [
        Route(PATH + "/.well-known/openid-configuration", configuration, methods=["GET"]),
        Route(PATH + "/jwks.json", keys, methods=["GET"]),
        Route(PATH + "/token", token, methods=["POST"]),
    ]
