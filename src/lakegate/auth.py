"""Auth strategies, one small factory per `auth.type`, found by name in a registry.

Static credentials (api_key, bearer, basic) are resolved once, on first use. OAuth2 goes
through a TokenSource (see `lakegate.tokens`): one per connector, shared by every call.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lakegate.connectors import secret_destination
from lakegate.errors import ConfigError
from lakegate.project import AuthConfig, Connector
from lakegate.secrets import SecretStore, register_secret, resolve
from lakegate.tokens import Token, TokenSource

if TYPE_CHECKING:
    from lakegate._transport import HttpClient

__all__ = [
    "AuthEnvironment",
    "Authenticator",
    "Credential",
    "StaticAuth",
    "TokenAuth",
    "auth_strategy",
    "build_authenticator",
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
        token, from_cache = await self.source.token()
        return Credential(
            headers={"Authorization": f"Bearer {token.value}"}, from_cache=from_cache, token=token
        )

    def reject(self, credential: Credential) -> None:
        if credential.token is not None:
            self.source.invalidate(credential.token)

    async def aclose(self) -> None:
        await self.source.aclose()


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
    return TokenAuth(TokenSource(config, env.token_http, env.secret, name=env.connector.name))
