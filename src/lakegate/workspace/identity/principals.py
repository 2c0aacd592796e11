"""Service principals, OAuth secrets (scrypt hashes), access tokens, and the bearer-token check.

Every request's token check is a SHA-256 and two dict lookups: grants and principals live in
memory and are written through to the store, so a restart keeps them.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import anyio
from starlette.requests import Request

from lakegate.workspace.http import ApiError, fail
from lakegate.workspace.store import Store

Audience = Literal["workspace", "account"]
KNOWN_SCOPES = frozenset({"all-apis", "sql"})
MAX_SECRETS = 5
DEFAULT_SECRET_LIFETIME_S = 730 * 24 * 3600
PRINCIPAL_KEY = "lakegate.principal"  # request.scope key the access log reads
_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}


def invalid_token() -> ApiError:
    """What Databricks answers for an unknown or expired token: 403, not 401."""
    reason = "Invalid access token."
    return ApiError(403, 403, reason, headers={"X-Databricks-Reason-Phrase": reason})


class OAuthError(Exception):
    """A token-endpoint failure, answered as `{"error", "error_description", "error_id"}`."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status


@dataclass
class Principal:
    """A service principal or a user (`user_name` set): an account-level identity, optionally
    assigned to the workspace. A user's `application_id` is its user name (it has no OAuth
    client of its own), so grants, the access log and `current_user()` name the person."""

    id: str  # SCIM id, a numeric string
    application_id: str  # the OAuth client id
    display_name: str
    active: bool = True
    account_admin: bool = False
    workspace_permissions: list[str] = field(default_factory=list)  # [] | ["USER"] | ["ADMIN"]
    created: float = field(default_factory=time.time)
    user_name: str = ""  # set for a user (its email); empty for a service principal

    @property
    def is_admin(self) -> bool:
        """Workspace admin."""
        return "ADMIN" in self.workspace_permissions

    @property
    def assigned(self) -> bool:
        return bool(self.workspace_permissions)


@dataclass
class Secret:
    """An OAuth secret; only its salted scrypt hash is kept."""

    id: str
    principal_id: str
    salt: str
    hash: str
    secret_hash: str  # the short, public fingerprint Databricks shows in listings
    create_time: float
    expire_time: float
    scopes: list[str] | None = None
    status: str = "ACTIVE"


@dataclass
class Grant:
    """What a token is good for."""

    principal_id: str
    scopes: list[str]
    expires_at: float
    audience: Audience = "workspace"
    kind: Literal["oauth", "pat"] = "oauth"
    token_id: str | None = None
    comment: str = ""
    created: float = field(default_factory=time.time)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Identity:
    """Principals, secrets and tokens of one account with one workspace."""

    def __init__(self, store: Store, *, token_ttl: int) -> None:
        self.store = store
        self.token_ttl = token_ttl
        self.principals: dict[str, Principal] = {
            ident: Principal(**body) for ident, body in store.all("principal")
        }
        self._by_client_id = {p.application_id: p for p in self.principals.values()}
        self.secrets: dict[str, Secret] = {
            ident: Secret(**body) for ident, body in store.all("secret")
        }
        now = time.time()
        self._grants: dict[str, Grant] = {}
        for key, body in store.all("token"):
            grant = Grant(**body)
            if grant.expires_at > now:
                self._grants[key] = grant
            else:
                store.delete("token", key)
        # Verified (client id, secret) pairs, keyed by an HMAC with a per-process key, so
        # scrypt runs once per secret per process and nothing reusable sits in memory.
        self._verify_key = secrets.token_bytes(32)
        self._verified: dict[str, str] = {}
        self._issued = 0

    # -- principals --------------------------------------------------------------------------

    def create_principal(
        self,
        display_name: str,
        *,
        application_id: str | None = None,
        active: bool = True,
        account_admin: bool = False,
        workspace_permissions: list[str] | None = None,
    ) -> Principal:
        app_id = application_id or str(uuid.uuid4())
        if app_id in self._by_client_id:
            raise fail("RESOURCE_ALREADY_EXISTS", f"Application id {app_id} is already in use.")
        ident = str(self.store.next_id("principal", 7_000_000_000_000_001))
        principal = Principal(
            id=ident,
            application_id=app_id,
            display_name=display_name,
            active=active,
            account_admin=account_admin,
            workspace_permissions=list(workspace_permissions or []),
        )
        self.save_principal(principal)
        return principal

    def user_principal(self, user: dict[str, Any]) -> Principal:
        """The principal a SCIM user (`{id, userName, displayName, active}`) signs in as,
        created on its first sign-in and kept in step with the user record after."""
        found = self.principals.get(user["id"])
        wanted = {
            "application_id": user["userName"],
            "display_name": user.get("displayName") or user["userName"],
            "active": user.get("active", True) is not False,
            "user_name": user["userName"],
        }
        if found is None:
            found = Principal(id=user["id"], workspace_permissions=["USER"], **wanted)
        elif all(getattr(found, k) == v for k, v in wanted.items()):
            return found
        else:
            for key, value in wanted.items():
                setattr(found, key, value)
        self.save_principal(found)
        return found

    def user_named(self, user_name: str) -> dict[str, Any] | None:
        """The account's SCIM user record named `user_name` (case-insensitive), else None."""
        wanted = user_name.lower()
        return next(
            (u for _, u in self.store.all("scim_user") if u["userName"].lower() == wanted), None
        )

    def user_exists(self, user_name: str) -> bool:
        """Whether the account has a user (SCIM) named `user_name`."""
        return self.user_named(user_name) is not None

    def issue_for(self, principal: Principal, scope: str, audience: Audience) -> dict[str, Any]:
        """A token for `principal` (already authenticated another way: token federation)."""
        requested = scope.split() or ["all-apis"]
        unknown = [s for s in requested if s not in KNOWN_SCOPES]
        if unknown:
            raise OAuthError("invalid_scope", f"Invalid scope: {' '.join(unknown)}")
        return self._mint(principal, requested, audience)

    def _mint(self, principal: Principal, requested: list[str], audience: Audience) -> dict:
        token = secrets.token_urlsafe(48)
        self._add_grant(
            token,
            Grant(
                principal_id=principal.id,
                scopes=requested,
                expires_at=time.time() + self.token_ttl,
                audience=audience,
            ),
        )
        return {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": self.token_ttl,
            "scope": " ".join(requested),
        }

    def save_principal(self, principal: Principal) -> None:
        self.principals[principal.id] = principal
        self._by_client_id[principal.application_id] = principal
        self.store.put("principal", principal.id, asdict(principal))

    def delete_principal(self, principal_id: str) -> None:
        principal = self.principals.pop(principal_id, None)
        if principal is None:
            return
        self._by_client_id.pop(principal.application_id, None)
        self.store.delete("principal", principal_id)
        for secret in [s for s in self.secrets.values() if s.principal_id == principal_id]:
            self.delete_secret(secret.id)

    def principal(self, principal_id: str) -> Principal | None:
        return self.principals.get(principal_id)

    def by_client_id(self, client_id: str) -> Principal | None:
        return self._by_client_id.get(client_id)

    def assign(self, principal: Principal, permissions: list[str]) -> None:
        principal.workspace_permissions = list(permissions)
        self.save_principal(principal)

    # -- secrets -----------------------------------------------------------------------------

    def create_secret(
        self,
        principal: Principal,
        *,
        lifetime_s: float = DEFAULT_SECRET_LIFETIME_S,
        scopes: list[str] | None = None,
    ) -> tuple[Secret, str]:
        """A new secret and its value; the value is returned here and never again."""
        if len(self.secrets_of(principal.id)) >= MAX_SECRETS:
            raise ApiError(
                400,
                "RESOURCE_LIMIT_EXCEEDED",
                f"A service principal can have at most {MAX_SECRETS} OAuth secrets; "
                "delete one before creating another.",
            )
        value = "dose" + secrets.token_hex(32)
        salt = secrets.token_bytes(16)
        now = time.time()
        secret = Secret(
            id=uuid.uuid4().hex,
            principal_id=principal.id,
            salt=salt.hex(),
            hash=hashlib.scrypt(value.encode(), salt=salt, **_SCRYPT).hex(),
            secret_hash=hashlib.sha256(salt + value.encode()).hexdigest()[:8],
            create_time=now,
            expire_time=now + lifetime_s,
            scopes=scopes,
        )
        self.secrets[secret.id] = secret
        self.store.put("secret", secret.id, asdict(secret))
        return secret, value

    def secrets_of(self, principal_id: str) -> list[Secret]:
        return sorted(
            (s for s in self.secrets.values() if s.principal_id == principal_id),
            key=lambda s: s.create_time,
        )

    def delete_secret(self, secret_id: str) -> None:
        self.secrets.pop(secret_id, None)
        self.store.delete("secret", secret_id)

    async def verify_secret(self, principal: Principal, value: str) -> Secret | None:
        """The principal's live secret matching `value`, or None (scrypt runs off the loop)."""
        key = hmac.new(self._verify_key, f"{principal.id}:{value}".encode(), "sha256").hexdigest()
        known = self.secrets.get(self._verified.get(key, ""))
        if known is not None:
            return known if _live(known) else None
        secret = await anyio.to_thread.run_sync(self.matching_secret, principal, value)
        if secret is not None:
            self._verified[key] = secret.id
        return secret

    def matching_secret(self, principal: Principal, value: str) -> Secret | None:
        """The principal's live secret matching `value`, or None; blocking (scrypt)."""
        for secret in self.secrets_of(principal.id):
            if not _live(secret):
                continue
            computed = hashlib.scrypt(value.encode(), salt=bytes.fromhex(secret.salt), **_SCRYPT)
            if hmac.compare_digest(computed.hex(), secret.hash):
                return secret
        return None

    # -- tokens ------------------------------------------------------------------------------

    async def issue_token(
        self, client_id: str, client_secret: str, scope: str, audience: Audience
    ) -> dict[str, Any]:
        """Client-credentials grant: the token response, or an OAuthError as Databricks answers."""
        principal = self.by_client_id(client_id)
        refused = OAuthError("invalid_client", "Client authentication failed", 401)
        if principal is None or not principal.active:
            raise refused
        if audience == "workspace" and not principal.assigned:
            raise refused  # real Databricks refuses principals not assigned to the workspace
        secret = await self.verify_secret(principal, client_secret)
        if secret is None:
            raise refused
        requested = scope.split() or ["all-apis"]
        unknown = [s for s in requested if s not in KNOWN_SCOPES]
        if unknown:
            raise OAuthError("invalid_scope", f"Invalid scope: {' '.join(unknown)}")
        if secret.scopes is not None and not set(requested) <= set(secret.scopes):
            raise OAuthError(
                "access_denied",
                f"The secret is not bound to the requested scope(s): {scope}",
            )
        return self._mint(principal, requested, audience)

    def create_pat(self, principal: Principal, lifetime_s: int | None, comment: str) -> dict:
        """A personal access token (`dapi...`) for the caller."""
        token = "dapi" + secrets.token_hex(16)
        token_id = uuid.uuid4().hex
        now = time.time()
        grant = Grant(
            principal_id=principal.id,
            scopes=["all-apis"],
            # Databricks: no lifetime means the token never expires.
            expires_at=now + lifetime_s if lifetime_s and lifetime_s > 0 else float(2**40),
            kind="pat",
            token_id=token_id,
            comment=comment,
            created=now,
        )
        self._add_grant(token, grant)
        return {"token_value": token, "token_info": pat_info(grant)}

    def pats_of(self, principal: Principal) -> list[Grant]:
        return [
            g
            for g in self._grants.values()
            if g.kind == "pat" and g.principal_id == principal.id and g.expires_at > time.time()
        ]

    def revoke_pat(self, principal: Principal, token_id: str) -> bool:
        for key, grant in list(self._grants.items()):
            if grant.token_id == token_id and grant.principal_id == principal.id:
                del self._grants[key]
                self.store.delete("token", key)
                return True
        return False

    def _add_grant(self, token: str, grant: Grant) -> None:
        key = digest(token)
        self._grants[key] = grant
        self.store.put("token", key, asdict(grant))
        self._issued += 1
        if self._issued % 256 == 0:
            self._prune()

    def _prune(self) -> None:
        now = time.time()
        for key, grant in list(self._grants.items()):
            if grant.expires_at <= now:
                del self._grants[key]
                self.store.delete("token", key)

    # -- the check on every API call ---------------------------------------------------------

    async def authenticate(
        self, request: Request, scope: str = "all-apis", *, audience: Audience = "workspace"
    ) -> Principal:
        """The caller of `request`, or the 401/403 ApiError Databricks would answer."""
        return self.check_bearer(
            request.headers.get("authorization"), request.scope, scope, audience
        )

    def check_bearer(
        self, header: str | None, asgi_scope: dict, scope: str, audience: Audience
    ) -> Principal:
        if not header:
            raise ApiError(
                401,
                "UNAUTHENTICATED",
                "No access token: send 'Authorization: Bearer <token>' "
                "(get one from /oidc/v1/token with client credentials).",
            )
        kind, _, token = header.partition(" ")
        if kind.lower() != "bearer" or not token.strip():
            raise ApiError(
                401, "UNAUTHENTICATED", "The Authorization header must be 'Bearer <token>'."
            )
        grant = self._grants.get(digest(token.strip()))
        if grant is None or grant.expires_at <= time.time():
            raise invalid_token()
        principal = self.principals.get(grant.principal_id)
        if principal is None or not principal.active:
            raise invalid_token()
        if audience == "account" and grant.audience != "account":
            raise invalid_token()  # workspace tokens do not open the account console
        asgi_scope[PRINCIPAL_KEY] = principal.application_id
        if audience == "workspace" and not principal.assigned:
            raise fail(
                "PERMISSION_DENIED",
                f"Service principal {principal.application_id} is not assigned to this workspace.",
            )
        if "all-apis" not in grant.scopes and scope not in grant.scopes:
            raise fail(
                "PERMISSION_DENIED",
                f"Provided OAuth token does not have required scopes: {scope}",
            )
        return principal


def _live(secret: Secret) -> bool:
    return secret.status == "ACTIVE" and secret.expire_time > time.time()


def pat_info(grant: Grant) -> dict[str, Any]:
    return {
        "token_id": grant.token_id,
        "creation_time": int(grant.created * 1000),
        "expiry_time": -1 if grant.expires_at >= 2**40 else int(grant.expires_at * 1000),
        "comment": grant.comment,
    }
