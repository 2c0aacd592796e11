"""`serve --http` as an OAuth 2.1 protected resource (the MCP authorization spec).

With `copilot.auth.type: oauth` the server accepts no static token: each request carries the
company IdP's JWT for this server. It is verified here (joserfc: the issuer's keys from
`jwks_uri`, fetched and cached, fetched again when a token names an unknown key id, at most once
a minute; or `jwks_file`), then `iss`, `aud` (this server's resource URL, RFC 8707), `exp` /
`nbf` with 30 s of skew and the required scopes. The mcp SDK's `AuthSettings` serves the
Protected Resource Metadata (RFC 9728) and answers a missing or refused token with 401 and
`WWW-Authenticate: Bearer ... resource_metadata="..."`. The person is read from `user_claim`
(default `email`, else `sub`); the token itself is never passed on to another API.
"""

from __future__ import annotations

import json
import logging
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

import httpx
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings

from lakegate.errors import ConfigError

__all__ = ["JwtVerifier", "auth_settings", "caller", "caller_jwt"]

log = logging.getLogger("lakegate.copilot.oauth")

SKEW_S = 30
REFETCH_AFTER_S = 60.0  # an unknown key id fetches the JWKS again, at most this often
KEYS_TTL_S = 3600.0
VERIFIED_TTL_S = 300.0  # a token's checked signature is trusted again for this long
VERIFIED_MAX = 4096  # tokens remembered as verified (oldest forgotten first)
ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "ES256", "ES384"]


class JwtVerifier:
    """The mcp SDK's TokenVerifier for the company IdP's JWTs."""

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        jwks_uri: str | None = None,
        jwks_file: str | None = None,
        required_scopes: list[str] | None = None,
        user_claim: str = "email",
        clock: Any = time.time,
    ) -> None:
        self.issuer = issuer
        self.audience = audience
        self.jwks_uri = jwks_uri
        self.jwks_file = jwks_file
        self.required_scopes = list(required_scopes or [])
        self.user_claim = user_claim
        self._clock = clock
        self._keys: KeySet | None = None
        self._fetched = float("-inf")
        self.fetches = 0  # how many times the JWKS was read (tests count rotations)
        self._file_keys = _read_keys(jwks_file) if jwks_file else None
        # token -> (its claims, when its signature must be checked again): a client sends the
        # same token with every request, and the signature check is most of the cost.
        self._verified: OrderedDict[str, tuple[dict[str, Any], float]] = OrderedDict()

    async def verify_token(self, token: str) -> AccessToken | None:
        now = self._clock()
        known = self._verified.get(token)
        if known is not None and known[1] > now:
            claims = known[0]
        else:
            try:
                claims = await self._decode(token)
            except (JoseError, ValueError, KeyError) as exc:
                log.info("refused a bearer token: %s", exc)
                return None
            self._verified[token] = (claims, now + VERIFIED_TTL_S)
            if len(self._verified) > VERIFIED_MAX:
                self._verified.popitem(last=False)
        # iss, aud, exp, nbf and scopes: checked on every request, against the clock of now.
        problem = self._problem(claims)
        if problem:
            log.info("refused a bearer token: %s", problem)
            return None
        scopes = _scopes(claims)
        user = claims.get(self.user_claim) or claims.get("sub")
        return AccessToken(
            token=token,
            client_id=str(claims.get("azp") or claims.get("client_id") or ""),
            scopes=scopes,
            expires_at=int(claims["exp"]),
            resource=self.audience,
            subject=str(claims.get("sub") or ""),
            claims={"iss": claims.get("iss"), "user": str(user or "")},
        )

    async def _decode(self, token: str) -> dict[str, Any]:
        header = _header(token)
        keys = await self._key_set(header.get("kid"))
        return dict(jwt.decode(token, keys, algorithms=ALGORITHMS).claims)

    def _problem(self, claims: dict[str, Any]) -> str:
        now = self._clock()
        if claims.get("iss") != self.issuer:
            return f"issuer {claims.get('iss')!r} is not {self.issuer!r}"
        aud = claims.get("aud")
        if self.audience not in (aud if isinstance(aud, list) else [aud]):
            return f"audience {aud!r} is not this server ({self.audience})"
        exp, nbf = claims.get("exp"), claims.get("nbf")
        if not isinstance(exp, int | float) or exp + SKEW_S < now:
            return "expired (or no exp)"
        if isinstance(nbf, int | float) and nbf - SKEW_S > now:
            return "not valid yet"
        missing = set(self.required_scopes) - set(_scopes(claims))
        if missing:
            return f"missing scope(s) {', '.join(sorted(missing))}"
        if not (claims.get(self.user_claim) or claims.get("sub")):
            return f"no {self.user_claim!r} or 'sub' claim names the person"
        return ""

    async def _key_set(self, kid: str | None) -> KeySet:
        if self._file_keys is not None:
            return self._file_keys
        now = time.monotonic()
        known = self._keys is not None and (
            kid is None or any(k.kid == kid for k in self._keys.keys)
        )
        fresh = now - self._fetched < KEYS_TTL_S
        if self._keys is not None and known and fresh:
            return self._keys
        if self._keys is not None and now - self._fetched < REFETCH_AFTER_S:
            return self._keys  # an unknown kid: not fetched again within the minute
        async with httpx.AsyncClient(timeout=10) as client:
            answer = await client.get(str(self.jwks_uri))
        answer.raise_for_status()
        self._keys = KeySet.import_key_set(answer.json())
        self._fetched = now
        self.fetches += 1
        return self._keys


def auth_settings(verifier: JwtVerifier) -> AuthSettings:
    """What the SDK serves as Protected Resource Metadata, and checks on every request."""
    return AuthSettings(
        issuer_url=verifier.issuer,
        resource_server_url=verifier.audience,
        required_scopes=verifier.required_scopes or None,
        # The verifier checked `aud` already; the SDK's own check of the token's resource
        # against this server's URL is kept on as a second lock.
        validate_token_resource=True,
    )


def caller() -> str | None:
    """The person behind the current request (OAuth mode), else None."""
    token = get_access_token()
    if token is None or not token.claims:
        return None
    return str(token.claims.get("user") or "") or None


def _read_keys(path: str) -> KeySet:
    try:
        return KeySet.import_key_set(json.loads(Path(path).read_text()))
    except (OSError, ValueError, TypeError, JoseError) as exc:
        raise ConfigError(
            f"copilot.auth.jwks_file {path} is not a readable JWKS: {exc}",
            hint="Point it at the IdP's JSON Web Key Set (the document at its jwks_uri).",
        ) from None


def caller_jwt() -> str | None:
    """The verified token of the current request's caller (OAuth mode), else None."""
    token = get_access_token()
    return token.token if token is not None else None


def _scopes(claims: dict[str, Any]) -> list[str]:
    scope = claims.get("scope")
    if isinstance(scope, str):
        return scope.split()
    scp = claims.get("scp")
    if isinstance(scp, list):
        return [str(s) for s in scp]
    return scp.split() if isinstance(scp, str) else []


def _header(token: str) -> dict[str, Any]:
    try:
        return dict(jws.extract_compact(token.encode()).headers())
    except (JoseError, ValueError, TypeError):
        raise ValueError("not a JWT") from None
