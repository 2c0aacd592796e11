"""OAuth token federation (RFC 8693): a JWT from the company's identity provider, exchanged at
`/oidc/v1/token` for a workspace token of the user (or service principal) it names.

Policies are kept as Databricks keeps them: account-wide ones
(`/api/2.0/accounts/{account_id}/federationPolicies`) map a token's subject claim to a user by
user name; a service principal's own (`.../servicePrincipals/{id}/federationPolicies`) lets a
workload sign in as that principal when the exchange names its `client_id` and the token's
subject is the policy's `subject`. The JWT is checked against the policy's keys (`jwks_json`,
or `jwks_uri` fetched on loopback), `iss`, `aud` (the account id when the policy names none),
`exp` / `nbf` with 30 s of skew, and the subject claim; each refusal is an OAuth error body
and nothing is issued.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import httpx
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from lakegate.workspace.http import empty, fail, json_body, not_found
from lakegate.workspace.identity.host import IdentityHost
from lakegate.workspace.identity.principals import Audience, OAuthError, Principal

__all__ = ["EXCHANGE", "JWT_TYPE", "Federation", "routes"]

EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
JWT_TYPE = "urn:ietf:params:oauth:token-type:jwt"
SKEW_S = 30
ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384", "PS256"]


class Federation:
    """The account's federation policies, and the token exchange they allow."""

    def __init__(self, ws: IdentityHost) -> None:
        self.ws = ws
        self._jwks: dict[str, tuple[float, KeySet]] = {}

    # -- policies ----------------------------------------------------------------------------

    def create(self, body: dict[str, Any], policy_id: str | None, sp: str | None) -> dict:
        oidc = body.get("oidc_policy")
        if not isinstance(oidc, dict) or not isinstance(oidc.get("issuer"), str):
            raise fail("INVALID_PARAMETER_VALUE", "oidc_policy.issuer is required.")
        if not oidc.get("jwks_uri") and not oidc.get("jwks_json"):
            raise fail(
                "INVALID_PARAMETER_VALUE",
                "oidc_policy needs jwks_uri or jwks_json: the keys the token is signed with.",
            )
        if oidc.get("jwks_json"):
            try:
                KeySet.import_key_set(json.loads(oidc["jwks_json"]))
            except (ValueError, TypeError, JoseError) as exc:
                raise fail("INVALID_PARAMETER_VALUE", f"jwks_json is not a JWKS: {exc}") from None
        if sp is not None and not oidc.get("subject"):
            raise fail(
                "INVALID_PARAMETER_VALUE",
                "A service principal's policy needs oidc_policy.subject (the workload's subject).",
            )
        ident = policy_id or uuid.uuid4().hex[:12]
        key = f"{sp or ''}:{ident}"
        if self.ws.store.get("federation_policy", key) is not None:
            raise fail("RESOURCE_ALREADY_EXISTS", f"Federation policy {ident} already exists.")
        now = _now()
        prefix = f"accounts/{self.ws.account_id}"
        if sp is not None:
            prefix += f"/servicePrincipals/{sp}"
        policy = {
            "name": f"{prefix}/federationPolicies/{ident}",
            "policy_id": ident,
            "uid": str(uuid.uuid4()),
            "description": str(body.get("description") or ""),
            "oidc_policy": {
                k: v
                for k, v in oidc.items()
                if k in ("issuer", "audiences", "subject_claim", "subject", "jwks_uri", "jwks_json")
            },
            "create_time": now,
            "update_time": now,
        }
        if sp is not None:
            policy["service_principal_id"] = int(sp)
        self.ws.store.put("federation_policy", key, policy)
        return policy

    def policies(self, sp: str | None) -> list[dict]:
        prefix = f"{sp or ''}:"
        return [
            p for k, p in sorted(self.ws.store.all("federation_policy")) if k.startswith(prefix)
        ]

    def get(self, sp: str | None, ident: str) -> dict:
        found = self.ws.store.get("federation_policy", f"{sp or ''}:{ident}")
        if found is None:
            raise not_found("Federation policy", ident)
        return found

    def delete(self, sp: str | None, ident: str) -> None:
        self.get(sp, ident)
        self.ws.store.delete("federation_policy", f"{sp or ''}:{ident}")

    # -- the exchange ------------------------------------------------------------------------

    async def exchange(
        self, form: dict[str, str], audience: Audience
    ) -> tuple[Principal, dict[str, Any]]:
        """Who signed in, and the token response, for a token-exchange request (or OAuthError)."""
        if form.get("subject_token_type") != JWT_TYPE:
            raise OAuthError(
                "invalid_request", f"subject_token_type must be {JWT_TYPE} (an OIDC ID token)."
            )
        token = form.get("subject_token") or ""
        if not token:
            raise OAuthError("invalid_request", "subject_token is required.")
        unverified = _claims_unverified(token)
        client_id = form.get("client_id") or ""
        if client_id:
            principal = self.ws.identity.by_client_id(client_id)
            if principal is None or principal.user_name:
                raise OAuthError("invalid_client", "Unknown client_id.", 401)
            candidates = self.policies(principal.id)
        else:
            principal = None
            candidates = self.policies(None)
        issuer = unverified.get("iss")
        matching = [p for p in candidates if p["oidc_policy"]["issuer"] == issuer]
        if not matching:
            raise OAuthError(
                "invalid_grant",
                f"No federation policy trusts the issuer {issuer!r}"
                + (" for this service principal." if principal else " in this account."),
            )
        last: OAuthError | None = None
        for policy in matching:
            try:
                claims = await self._verify(token, policy["oidc_policy"])
            except OAuthError as exc:
                last = exc
                continue
            who = self._principal(policy["oidc_policy"], claims, principal)
            return who, self.ws.identity.issue_for(who, form.get("scope", ""), audience)
        assert last is not None
        raise last

    async def _verify(self, token: str, oidc: dict[str, Any]) -> dict[str, Any]:
        keys = await self._keys(oidc)
        try:
            claims = jwt.decode(token, keys, algorithms=ALGORITHMS).claims
        except (JoseError, ValueError) as exc:
            raise OAuthError(
                "invalid_grant", f"The token's signature is not valid: {exc}"
            ) from None
        now = time.time()
        audiences = oidc.get("audiences") or [self.ws.account_id]
        aud = claims.get("aud")
        given = aud if isinstance(aud, list) else [aud]
        if not set(map(str, given)) & set(audiences):
            raise OAuthError(
                "invalid_grant", f"The token's audience {aud!r} is not one the policy accepts."
            )
        exp, nbf = claims.get("exp"), claims.get("nbf")
        if not isinstance(exp, int | float) or exp + SKEW_S < now:
            raise OAuthError("invalid_grant", "The token has expired (or has no exp).")
        if isinstance(nbf, int | float) and nbf - SKEW_S > now:
            raise OAuthError("invalid_grant", "The token is not valid yet (nbf).")
        return claims

    def _principal(
        self, oidc: dict[str, Any], claims: dict[str, Any], principal: Principal | None
    ) -> Principal:
        claim = oidc.get("subject_claim") or "sub"
        subject = claims.get(claim)
        if not isinstance(subject, str) or not subject:
            raise OAuthError("invalid_grant", f"The token has no {claim!r} claim.")
        if principal is not None:
            if subject != oidc.get("subject"):
                raise OAuthError(
                    "invalid_grant",
                    f"The token's {claim} is not the subject this service principal's policy "
                    "names.",
                )
            return principal
        user = self.ws.identity.user_named(subject)
        if user is None or user.get("active") is False:
            raise OAuthError(
                "invalid_grant",
                f"No active user {subject!r} in this account: add the user (SCIM) first.",
            )
        return self.ws.identity.user_principal(user)

    async def _keys(self, oidc: dict[str, Any]) -> KeySet:
        if oidc.get("jwks_json"):
            return KeySet.import_key_set(json.loads(oidc["jwks_json"]))
        uri = str(oidc["jwks_uri"])
        cached = self._jwks.get(uri)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        try:
            async with httpx.AsyncClient(timeout=10) as client:
                answer = await client.get(uri)
            answer.raise_for_status()
            keys = KeySet.import_key_set(answer.json())
        except (httpx.HTTPError, ValueError, JoseError) as exc:
            raise OAuthError(
                "temporarily_unavailable", f"The policy's jwks_uri could not be read: {exc}", 503
            ) from None
        self._jwks[uri] = (time.monotonic() + 300, keys)
        return keys


def _claims_unverified(token: str) -> dict[str, Any]:
    """The payload before its signature is checked: only to pick the policy by issuer."""
    try:
        claims = json.loads(jws.extract_compact(token.encode()).payload)
    except (JoseError, ValueError, TypeError):
        raise OAuthError("invalid_grant", "subject_token is not a JWT.") from None
    if not isinstance(claims, dict):
        raise OAuthError("invalid_grant", "subject_token is not a JWT.")
    return claims


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def federation(ws: IdentityHost) -> Federation:
    """The workspace's one Federation (its JWKS cache is shared by both token endpoints)."""
    found = getattr(ws, "federation", None)
    if found is None:
        found = Federation(ws)
        ws.federation = found  # type: ignore[attr-defined]
    return found


def routes(ws: IdentityHost) -> list[BaseRoute]:
    """The account API's federation policies (account-wide and per service principal)."""
    fed = federation(ws)

    async def admin(request: Request) -> None:
        if request.path_params["account_id"] != ws.account_id:
            raise fail("RESOURCE_DOES_NOT_EXIST", "Unknown account id.")
        principal = await ws.identity.authenticate(request, audience="account")
        if not principal.account_admin:
            raise fail("PERMISSION_DENIED", "Only account admins can manage federation policies.")

    def sp_of(request: Request) -> str | None:
        sp = request.path_params.get("sp")
        if sp is not None and ws.identity.principal(sp) is None:
            raise not_found("Service principal", sp)
        return sp

    async def collection(request: Request) -> Response:
        await admin(request)
        sp = sp_of(request)
        if request.method == "GET":
            return JSONResponse({"policies": fed.policies(sp)})
        body = await json_body(request)
        return JSONResponse(fed.create(body, request.query_params.get("policy_id"), sp))

    async def one(request: Request) -> Response:
        await admin(request)
        sp, ident = sp_of(request), request.path_params["policy_id"]
        if request.method == "DELETE":
            fed.delete(sp, ident)
            return empty()
        return JSONResponse(fed.get(sp, ident))

    base = "/api/2.0/accounts/{account_id}"
    return [
        Route(base + "/federationPolicies", collection, methods=["GET", "POST"]),
        Route(base + "/federationPolicies/{policy_id}", one, methods=["GET", "DELETE"]),
        Route(
            base + "/servicePrincipals/{sp}/federationPolicies",
            collection,
            methods=["GET", "POST"],
        ),
        Route(
            base + "/servicePrincipals/{sp}/federationPolicies/{policy_id}",
            one,
            methods=["GET", "DELETE"],
        ),
    ]
