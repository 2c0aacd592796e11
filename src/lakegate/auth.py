"""Auth strategies, one small factory per `auth.type`, found by name in a registry.

Static credentials (api_key, bearer, basic) are resolved once, on first use. OAuth2 goes
through a TokenSource (see `lakegate.tokens`): one per connector, shared by every call.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import math
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from lakegate._transport import HttpClient, SendError
from lakegate.connectors import secret_destination
from lakegate.errors import AuthError, ConfigError
from lakegate.project import AuthConfig, Connector
from lakegate.secrets import (
    SecretStore,
    is_reference,
    parse_reference,
    register_secret,
    resolve,
)
from lakegate.tokens import Token, TokenSource

__all__ = [
    "OIDC_TOKEN_ENV",
    "AuthEnvironment",
    "Authenticator",
    "CallerTokenAuth",
    "Credential",
    "StaticAuth",
    "TokenAuth",
    "acting_as",
    "auth_strategy",
    "build_authenticator",
    "caller_name",
    "caller_token",
    "strategies",
]


@dataclass(frozen=True, repr=False)
class Credential:
    """What one request carries: headers and query params, and the token it came from."""

    headers: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    from_cache: bool | None = None  # None: not a token (static or no auth)
    token: Token | None = None

    def __repr__(self) -> str:
        return (
            f"Credential(headers={sorted(self.headers)}, params={sorted(self.params)}, "
            f"from_cache={self.from_cache})"
        )


# -- who a call is made for ------------------------------------------------------------------
# A front that knows its caller (the MCP server over OAuth) runs each call inside
# `acting_as(token)`; a connector whose auth is `grant_type: token_exchange` exchanges that token
# for its own (Databricks token federation) and never sends the caller's token anywhere else.
# Without a front's caller, $DATABRICKS_OIDC_TOKEN is the local user's token, as the
# databricks-sdk's `env-oidc` auth reads it.

OIDC_TOKEN_ENV = "DATABRICKS_OIDC_TOKEN"  # noqa: S105 - a variable's name
_CALLER: ContextVar[str | None] = ContextVar("lakegate_caller_token", default=None)
_CALLER_NAME: ContextVar[str | None] = ContextVar("lakegate_caller_name", default=None)
ME_PATH = "/api/2.0/preview/scim/v2/Me"  # Databricks' current_user.me()


def caller_token() -> str | None:
    """The identity token of the person this call is for, else None."""
    token = _CALLER.get() or os.environ.get(OIDC_TOKEN_ENV) or None
    if token:
        register_secret(token)
    return token


def caller_name() -> str | None:
    """The user name a front verified for this call's caller (None: none verified)."""
    return _CALLER_NAME.get() if _CALLER.get() else None


@contextlib.contextmanager
def acting_as(token: str | None, user: str | None = None) -> Iterator[None]:
    """Make calls inside the block on behalf of the person `token` names (None: nobody);
    `user` is who the front verified it to be, which the exchanged token must be too."""
    if token:
        register_secret(token)
    reset, named = _CALLER.set(token), _CALLER_NAME.set(user)
    try:
        yield
    finally:
        _CALLER_NAME.reset(named)
        _CALLER.reset(reset)


class Authenticator:
    """Gives each request its credential; token-based ones can be told a token was rejected."""

    refreshable: bool = False

    @property
    def client_auth_used(self) -> str | None:
        return None

    async def credential(self) -> Credential:
        raise NotImplementedError

    def reject(self, credential: Credential) -> None:
        """The server refused `credential`: forget it if it can be replaced."""

    async def aclose(self) -> None:
        """Release what the authenticator holds."""


class StaticAuth(Authenticator):
    """Credentials that never change; secrets are resolved on first use, then kept."""

    def __init__(self, build: Callable[[], Credential], kind: str) -> None:
        self._build = build
        self._credential: Credential | None = None
        self.kind = kind

    def __repr__(self) -> str:
        return f"StaticAuth(kind={self.kind!r})"

    async def credential(self) -> Credential:
        if self._credential is None:
            self._credential = self._build()
        return self._credential


async def bearer_from(source: TokenSource) -> Credential:
    """The source's current token as an `Authorization: Bearer` credential."""
    token, from_cache = await source.token()
    return Credential(
        headers={"Authorization": f"Bearer {token.value}"}, from_cache=from_cache, token=token
    )


class TokenAuth(Authenticator):
    """A bearer token from a TokenSource; a rejected token is dropped and fetched again."""

    refreshable = True

    def __init__(self, source: TokenSource) -> None:
        self.source = source

    def __repr__(self) -> str:
        return f"TokenAuth(source={self.source!r})"

    @property
    def client_auth_used(self) -> str | None:
        return self.source.client_auth_used

    async def credential(self) -> Credential:
        return await bearer_from(self.source)

    def reject(self, credential: Credential) -> None:
        if credential.token is not None:
            self.source.invalidate(credential.token)

    async def aclose(self) -> None:
        await self.source.aclose()


class CallerTokenAuth(Authenticator):
    """`grant_type: token_exchange`: the token of the person who asks (`acting_as`),
    exchanged for one of this connector's, cached per person (one token source each: single
    flight, refreshed before expiry). The caller's own token is only ever sent to the token URL.
    Without a caller there is no credential: AuthError `auth.no_caller`, nothing is sent.

    On Databricks (a token URL at `/oidc/v1/token`) each new caller's exchanged token is first
    shown to current_user.me() (`GET /api/2.0/preview/scim/v2/Me`): unless it is the user the
    front verified, the call fails closed with `auth.identity_mismatch` and the token is
    dropped, so a federation policy that maps people to someone else (or to a service
    principal) never runs a statement."""

    refreshable = True
    MAX_CALLERS = 1024

    def __init__(self, config: Any, env: AuthEnvironment) -> None:
        self.config = config
        self.env = env
        self._sources: dict[str, TokenSource] = {}
        self._checked: set[str] = set()  # callers whose exchanged token Me confirmed
        self._expires: dict[str, float] = {}  # caller -> their own token's `exp`
        self._checking = asyncio.Lock()
        self.me_url = _databricks_me(config.token_url, env.connector.base_url)

    def __repr__(self) -> str:
        return (
            f"CallerTokenAuth(connector={self.env.connector.name!r}, callers={len(self._sources)})"
        )

    def _source(self) -> tuple[str, TokenSource]:
        token = caller_token()
        if not token:
            raise AuthError(
                f"Connector {self.env.connector.name} acts as the person who asks, and this call "
                "names nobody.",
                code="auth.no_caller",
                hint="Call it through `lakegate serve --http` with copilot.auth.type: oauth, or "
                f"export {OIDC_TOKEN_ENV} with your identity token.",
            )
        key = hashlib.sha256(token.encode()).hexdigest()
        source = self._sources.get(key)
        if source is not None and self._expires.get(key, math.inf) <= time.time():
            # Its Databricks token must not outlive the caller's own: exchanged again (and
            # refused by the token URL) rather than used on.
            self._forget(key)
            source = None
        if source is None:
            if len(self._sources) >= self.MAX_CALLERS:
                self._forget(next(iter(self._sources)))  # the oldest caller
            source = TokenSource(
                self.config,
                self.env.token_http,
                self.env.secret,
                name=self.env.connector.name,
                subject_token=token,
            )
            self._sources[key] = source
            self._expires[key] = _expiry(token)
        return key, source

    def _forget(self, key: str) -> None:
        self._sources.pop(key, None)
        self._checked.discard(key)
        self._expires.pop(key, None)

    async def credential(self) -> Credential:
        key, source = self._source()
        credential = await bearer_from(source)
        expected = caller_name()
        if expected and self.me_url and key not in self._checked:
            async with self._checking:  # one preflight per caller at a time
                if key not in self._checked:
                    await self._confirm(key, credential, expected)
        return credential

    async def _confirm(self, key: str, credential: Credential, expected: str) -> None:
        """current_user.me() with the exchanged token must be `expected`; else fail closed."""
        assert self.me_url is not None
        actual, why = None, ""
        try:
            reply = await self.env.token_http.get(self.me_url, headers=credential.headers)
            body = reply.json_object() if reply.is_success else {}
            actual = body.get("userName") if isinstance(body.get("userName"), str) else None
            why = "" if reply.is_success else f" (it answered HTTP {reply.status_code})"
        except (SendError, ValueError) as exc:
            why = f" ({type(exc).__name__})"
        if actual is not None and actual.casefold() == expected.casefold():
            self._checked.add(key)
            return
        source = self._sources.get(key)
        self._forget(key)
        if source is not None:
            await source.aclose()
        who = f"is {actual!r} on Databricks" if actual else f"could not be confirmed{why}"
        raise AuthError(
            f"The token exchanged for {expected} {who}; lakegate acts only as the person who "
            "asks, so nothing was run.",
            code="auth.identity_mismatch",
            hint="Make the federation policy's subject_claim and copilot.auth.user_claim name "
            "the same claim (e.g. both `email`), and leave the connector's client_id unset "
            "unless that service principal's policy maps each person to themself.",
        )

    def reject(self, credential: Credential) -> None:
        if credential.token is not None:
            for source in self._sources.values():
                source.invalidate(credential.token)

    async def aclose(self) -> None:
        for source in list(self._sources.values()):
            await source.aclose()


def _expiry(token: str) -> float:
    """When the caller's JWT says it expires (`exp`); infinity when it does not say."""
    import json

    from joserfc import jws
    from joserfc.errors import JoseError

    try:
        exp = json.loads(jws.extract_compact(token.encode()).payload).get("exp")
    except (JoseError, ValueError, TypeError, AttributeError):
        return math.inf
    return float(exp) if isinstance(exp, int | float) else math.inf


def _databricks_me(token_url: str, base_url: str) -> str | None:
    """The current_user.me() URL when the token URL is a Databricks one, else None."""
    if urlsplit(token_url).path.rstrip("/").endswith("/oidc/v1/token"):
        return base_url.rstrip("/") + ME_PATH
    return None


@dataclass(frozen=True)
class AuthEnvironment:
    """What a strategy may use: the connector, the secret store, an HTTP client for tokens."""

    connector: Connector
    secret_store: SecretStore | None
    token_http: HttpClient

    def secret(self, ref: str) -> str:
        """The secret behind `ref`, if it was stored for where this connector sends it."""
        return resolve(ref, self.secret_store, secret_destination(self.connector))


Factory = Callable[[Any, AuthEnvironment], Authenticator]


@dataclass(frozen=True)
class Strategy:
    auth_type: str
    required: tuple[str, ...]
    factory: Factory


_REGISTRY: dict[str, Strategy] = {}


def auth_strategy(auth_type: str, required: Sequence[str] = ()) -> Callable[[Factory], Factory]:
    """Register a factory for `auth.type == auth_type`, naming the settings it needs."""

    def register(factory: Factory) -> Factory:
        _REGISTRY[auth_type] = Strategy(auth_type, tuple(required), factory)
        return factory

    return register


def strategies() -> dict[str, Strategy]:
    """Every registered auth type."""
    return dict(_REGISTRY)


def build_authenticator(
    connector: Connector, secret_store: SecretStore | None, token_http: HttpClient
) -> Authenticator:
    """The authenticator for a connector's `auth`."""
    config: AuthConfig = connector.auth
    strategy = _REGISTRY.get(config.type)
    if strategy is None:
        raise ConfigError(
            f"Connector {connector.name!r}: auth type {config.type!r} is not supported.",
            hint=f"Use one of {', '.join(sorted(_REGISTRY))}.",
        )
    missing = [key for key in strategy.required if getattr(config, key, None) in (None, "")]
    if missing:
        raise ConfigError(
            f"Connector {connector.name!r}: auth type {config.type} needs {', '.join(missing)}.",
            hint="Add them under the connector's `auth:` in lakegate.yaml.",
        )
    return strategy.factory(config, AuthEnvironment(connector, secret_store, token_http))


@auth_strategy("none")
def _no_auth(config: Any, env: AuthEnvironment) -> Authenticator:
    return StaticAuth(Credential, "none")


@auth_strategy("api_key", ["key"])
def _api_key(config: Any, env: AuthEnvironment) -> Authenticator:
    def build() -> Credential:
        value = config.pattern.replace("%s", env.secret(config.key))
        register_secret(value)
        if config.header:
            return Credential(headers={config.header: value})
        return Credential(params={config.query_param: value})

    return StaticAuth(build, "api_key")


@auth_strategy("bearer", ["token"])
def _bearer(config: Any, env: AuthEnvironment) -> Authenticator:
    return StaticAuth(
        lambda: Credential(headers={"Authorization": f"Bearer {env.secret(config.token)}"}),
        "bearer",
    )


@auth_strategy("basic", ["username", "password"])
def _basic(config: Any, env: AuthEnvironment) -> Authenticator:
    def build() -> Credential:
        pair = f"{config.username}:{env.secret(config.password)}".encode()
        encoded = base64.b64encode(pair).decode("ascii")
        register_secret(encoded)  # the header value reveals the password to anyone who decodes it
        return Credential(headers={"Authorization": f"Basic {encoded}"})

    return StaticAuth(build, "basic")


@auth_strategy("oauth2", ["token_url", "grant_type"])
def _oauth2(config: Any, env: AuthEnvironment) -> Authenticator:
    if config.grant_type == "token_exchange":
        return CallerTokenAuth(config, env)
    keep = _rotation_keeper(config, env)
    source = TokenSource(
        config, env.token_http, env.secret, name=env.connector.name, keep_rotated=keep
    )
    return TokenAuth(source)


def _rotation_keeper(config: Any, env: AuthEnvironment) -> Callable[[str], None] | None:
    """Where a rotated refresh token goes: back into the secret store it came from (bound to
    the token URL, where alone it may be sent), so the next process starts from it."""
    ref = config.refresh_token if config.grant_type == "refresh_token" else None
    if not ref or env.secret_store is None or not is_reference(ref):
        return None
    kind, name = parse_reference(ref)
    if kind != "secret":
        return None  # ${env:...}: nothing lakegate may write
    store = env.secret_store
    return lambda value: store.set(name, value, origin=config.token_url)
