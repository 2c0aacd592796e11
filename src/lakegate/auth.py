"""Auth strategies, one small factory per `auth.type`, found by name in a registry.

Static credentials (api_key, bearer, basic) are resolved once, on first use. OAuth2 goes
through a TokenSource (see `lakegate.tokens`): one per connector, shared by every call.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lakegate.connectors import secret_destination
from lakegate.errors import AuthError, ConfigError
from lakegate.project import AuthConfig, Connector
from lakegate.secrets import SecretStore, register_secret, resolve
from lakegate.tokens import Token, TokenSource

if TYPE_CHECKING:
    from lakegate._transport import HttpClient

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


def caller_token() -> str | None:
    """The identity token of the person this call is for, else None."""
    token = _CALLER.get() or os.environ.get(OIDC_TOKEN_ENV) or None
    if token:
        register_secret(token)
    return token


@contextlib.contextmanager
def acting_as(token: str | None) -> Iterator[None]:
    """Make calls inside the block on behalf of the person `token` names (None: nobody)."""
    if token:
        register_secret(token)
    reset = _CALLER.set(token)
    try:
        yield
    finally:
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
    Without a caller there is no credential: AuthError `auth.no_caller`, nothing is sent."""

    refreshable = True
    MAX_CALLERS = 1024

    def __init__(self, config: Any, env: AuthEnvironment) -> None:
        self.config = config
        self.env = env
        self._sources: dict[str, TokenSource] = {}

    def __repr__(self) -> str:
        return (
            f"CallerTokenAuth(connector={self.env.connector.name!r}, callers={len(self._sources)})"
        )

    def _source(self) -> TokenSource:
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
        if source is None:
            if len(self._sources) >= self.MAX_CALLERS:
                self._sources.pop(next(iter(self._sources)))  # the oldest caller
            source = TokenSource(
                self.config,
                self.env.token_http,
                self.env.secret,
                name=self.env.connector.name,
                subject_token=token,
            )
            self._sources[key] = source
        return source

    async def credential(self) -> Credential:
        return await bearer_from(self._source())

    def reject(self, credential: Credential) -> None:
        if credential.token is not None:
            for source in self._sources.values():
                source.invalidate(credential.token)

    async def aclose(self) -> None:
        for source in list(self._sources.values()):
            await source.aclose()


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
    return TokenAuth(TokenSource(config, env.token_http, env.secret, name=env.connector.name))
