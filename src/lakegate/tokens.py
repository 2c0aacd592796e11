"""OAuth2 TokenSource: one per connector, shared by every concurrent call.

- single flight: concurrent callers with no valid token share ONE token request;
- proactive refresh: past `refresh_at` a background task fetches the next token while callers
  keep using the current one; only a token past `stale_at` makes callers wait;
- reactive: the gateway calls `invalidate(token)` after a 401 / invalid-token 403;
- no lock is held across API requests: callers hold nothing while their request is in flight.

Why not authlib's AsyncOAuth2Client: its token handling assumes the standard response keys and an
integer `expires_in`, its error mapping loses the HTTP status we need for hints (404 -> the token
URL), and the `auto` client-auth fallback and single flight would have to be built around it anyway.
The request itself is one form POST; doing it here keeps every failure mode in one place.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from lakegate._transport import HttpClient, Response, SendError
from lakegate._wire import reach_hint
from lakegate.errors import TokenError
from lakegate.project import OAuth2Auth
from lakegate.secrets import is_reference, redact, register_secret

__all__ = ["DEFAULT_TTL_S", "Token", "TokenSource", "token_windows"]

DEFAULT_TTL_S = 3600.0
_TOKEN_TIMEOUT_S = 30.0
# A token endpoint answering 429/5xx (or dropping the connection) is busy, not refusing us:
# retry a few times with jittered backoff before failing every call waiting for the token.
_TOKEN_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_TOKEN_RETRIES = 4
_TOKEN_BACKOFF_S = 0.2


EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"
JWT_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:jwt"  # noqa: S105 - a URN, not a secret


def token_windows(ttl: float) -> tuple[float, float]:
    """(refresh margin, stale margin) in seconds before expiry, for a token living `ttl` seconds.

    Long-lived tokens are refreshed at least 40 s early (Databricks rejects tokens close to
    expiry) and are no longer handed out in their last 30 s; short test tokens (a few seconds)
    use fractions of their life instead: a 2 s token is renewed in the background after 1.7 s
    and callers wait only if it is still not renewed after 1.96 s.
    """
    refresh = max(40.0, 0.15 * ttl) if ttl >= 80 else 0.15 * ttl
    stale = min(30.0, 0.02 * ttl)
    return refresh, stale


@dataclass(frozen=True, repr=False)
class Token:
    """An access token and, in monotonic seconds, when to refresh it and when to stop using it."""

    value: str
    ttl: float
    refresh_at: float
    stale_at: float
    expires_at: float
    scope: str | None = None  # what the token response says was granted (`doctor` checks it)

    def __repr__(self) -> str:
        return f"Token(value='***', ttl={self.ttl:g})"


class TokenSource:
    """Gets and caches the access token of one OAuth2 connector."""

    def __init__(
        self,
        config: OAuth2Auth,
        http: HttpClient,
        secret: Callable[[str], str],
        *,
        name: str = "",
        clock: Callable[[], float] = time.monotonic,
        subject_token: str | None = None,
        keep_rotated: Callable[[str], None] | None = None,
    ) -> None:
        self.config = config
        # refresh_token grant: where a rotated refresh token is written (the secret store), so
        # the next process starts from it; a rotated token kept only here dies with the process.
        self.keep_rotated = keep_rotated
        self.subject_token = subject_token  # token_exchange: the caller's identity token
        self.name = name
        self.requests = 0  # token requests sent (for tests, benchmarks and `doctor`)
        self._http = http
        self._secret = secret
        self._clock = clock
        self._token: Token | None = None
        self._inflight: asyncio.Task[Token] | None = None
        self._background_not_before = 0.0
        self._client_auth_used: str | None = None
        self._refresh_token: str | None = None  # a rotated refresh token from the last response

    def __repr__(self) -> str:
        return (
            f"TokenSource(connector={self.name!r}, grant_type={self.config.grant_type!r}, "
            f"token_url={self.config.token_url!r}, cached={self._token is not None})"
        )

    @property
    def client_auth_used(self) -> str | None:
        """How the client authenticated at the token endpoint last time (`auto` resolves here)."""
        return self._client_auth_used

    async def token(self) -> tuple[Token, bool]:
        """A valid token, and whether it came from the cache."""
        now = self._clock()
        current = self._token
        if current is not None and now < current.stale_at:
            due = now >= current.refresh_at and now >= self._background_not_before
            if due and self._inflight is None:
                self._start_fetch(background=True)
            return current, True
        return await asyncio.shield(self._inflight or self._start_fetch(background=False)), False

    def invalidate(self, token: Token) -> None:
        """The server rejected `token`: drop it, unless a newer one already replaced it."""
        if self._token is token:
            self._token = None

    async def aclose(self) -> None:
        task, self._inflight = self._inflight, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(BaseException):
                await task

    def _start_fetch(self, *, background: bool) -> asyncio.Task[Token]:
        task = asyncio.get_running_loop().create_task(self._fetch())
        self._inflight = task

        def done(finished: asyncio.Task[Token]) -> None:
            if self._inflight is finished:
                self._inflight = None
            if finished.cancelled():
                return
            if finished.exception() is not None and background:
                # Keep serving the current token; try again a little later, not on every call.
                current = self._token
                pause = (current.stale_at - current.refresh_at) / 4 if current else 1.0
                self._background_not_before = self._clock() + min(5.0, max(pause, 0.05))

        task.add_done_callback(done)
        return task

    async def _fetch(self) -> Token:
        cfg = self.config
        form = self._grant_form()
        headers = {"Accept": "application/json", **cfg.extra_token_headers}
        if self._client_auth_used and cfg.client_auth == "auto":
            methods = [self._client_auth_used]
        elif cfg.client_auth == "auto":
            methods = ["request_body", "basic_header"]
        else:
            methods = [cfg.client_auth]
        started = self._clock()
        for i, method in enumerate(methods):
            response = await self._post_retrying(form, headers, method)
            body = response.json_object()
            fallback = i + 1 < len(methods) and response.status_code in (400, 401)
            if fallback and body.get("error") == "invalid_client":
                continue  # auto: this server wants the other client authentication method
            break
        if not response.is_success and self._rotated_elsewhere(form, body):
            # Another process used and replaced the refresh token: go on from the stored one.
            response = await self._post_retrying(form, headers, methods[-1])
            body = response.json_object()
        if not response.is_success:
            raise self._failure(response.status_code, body)
        value = body.get(cfg.access_token_key)
        if not isinstance(value, str) or not value:
            raise TokenError(
                f"The token endpoint {cfg.token_url} answered without `{cfg.access_token_key}`.",
                hint="Set `access_token_key` (and `expires_in_key`) to the keys this endpoint "
                f"uses; it answered with keys {sorted(body)}.",
                details={"token_url": cfg.token_url, "status": response.status_code},
            )
        register_secret(value)
        rotated = body.get("refresh_token")
        if isinstance(rotated, str) and rotated:
            register_secret(rotated)
            if rotated != form.get("refresh_token") and self.keep_rotated is not None:
                self.keep_rotated(rotated)
            self._refresh_token = rotated
        self._client_auth_used = method
        ttl = _ttl(body.get(cfg.expires_in_key))
        refresh, stale = token_windows(ttl)
        granted = body.get("scope")
        token = Token(
            value,
            ttl,
            started + ttl - refresh,
            started + ttl - stale,
            started + ttl,
            scope=granted if isinstance(granted, str) else None,
        )
        self._token = token
        return token

    def _rotated_elsewhere(self, form: dict[str, str], body: dict[str, Any]) -> bool:
        """For a refused refresh token: True (and `form` updated) when the secret store now
        holds a newer one, written by another process after it rotated the token."""
        cfg = self.config
        if cfg.grant_type != "refresh_token" or body.get("error") != "invalid_grant":
            return False
        if self.keep_rotated is None or not cfg.refresh_token:
            return False
        stored = self._secret(cfg.refresh_token)
        if not stored or stored == form.get("refresh_token"):
            return False
        self._refresh_token, form["refresh_token"] = None, stored
        return True

    def _grant_form(self) -> dict[str, str]:
        cfg = self.config
        form = {"grant_type": cfg.grant_type}
        if cfg.grant_type == "token_exchange":
            form = {
                "grant_type": EXCHANGE_GRANT,
                "subject_token": self.subject_token or "",
                "subject_token_type": JWT_TOKEN_TYPE,
            }
        elif cfg.grant_type == "refresh_token":
            form["refresh_token"] = self._refresh_token or self._secret(cfg.refresh_token or "")
        elif cfg.grant_type == "password":
            form["username"] = cfg.username or ""
            form["password"] = self._secret(cfg.password or "")
        if cfg.scope:
            form["scope"] = cfg.scope
        for key, value in cfg.extra_token_params.items():
            form[key] = self._secret(value) if is_reference(value) else value
        return form

    async def _post_retrying(
        self, form: dict[str, str], headers: dict[str, str], method: str
    ) -> Response:
        """`_post`, retried on transient answers and lost connections (a token POST is safe)."""
        for retry in range(_TOKEN_RETRIES + 1):
            last = retry == _TOKEN_RETRIES
            try:
                response = await self._post(form, headers, method)
            except TokenError as exc:
                # A timeout already waited long enough; a rotated refresh token may already be
                # spent server-side. (`from None` hides the send error but keeps __context__.)
                cause = exc.__context__
                timed_out = isinstance(cause, SendError) and cause.kind == "timeout"
                if last or timed_out or self.config.grant_type == "refresh_token":
                    raise
                await asyncio.sleep(random.uniform(0, _TOKEN_BACKOFF_S * 2**retry))
                continue
            if last or response.status_code not in _TOKEN_RETRY_STATUSES:
                return response
            wait = response.headers.get("retry-after", "")
            delay = float(wait) if wait.replace(".", "", 1).isdigit() else None
            await asyncio.sleep(
                min(delay, 10.0)
                if delay is not None
                else random.uniform(0, _TOKEN_BACKOFF_S * 2**retry)
            )
        raise AssertionError("unreachable")  # the loop returns or raises on its last turn

    async def _post(self, form: dict[str, str], headers: dict[str, str], method: str) -> Response:
        cfg = self.config
        form, headers = dict(form), dict(headers)
        secret = self._secret(cfg.client_secret) if cfg.client_secret else None
        if method == "basic_header" and cfg.client_id:
            # Plain `id:secret` as curl -u, requests and the Databricks SDK send it.
            pair = f"{cfg.client_id}:{secret or ''}".encode()
            encoded = base64.b64encode(pair).decode("ascii")
            register_secret(encoded)
            headers["Authorization"] = f"Basic {encoded}"
        else:
            if cfg.client_id:
                form["client_id"] = cfg.client_id
            if secret:
                form["client_secret"] = secret
        self.requests += 1
        try:
            return await self._http.post(
                cfg.token_url, data=form, headers=headers, timeout=_TOKEN_TIMEOUT_S
            )
        except SendError as exc:
            what = "timed out" if exc.kind == "timeout" else "could not be reached"
            raise self._unreachable(what, exc) from None

    def _unreachable(self, what: str, exc: SendError) -> TokenError:
        url = self.config.token_url
        return TokenError(
            f"The token endpoint {url} {what}: {exc.reason}.",
            hint=reach_hint(url, exc.reason, "`token_url`"),
            details={"token_url": url, "reason": exc.reason},
        )

    def _failure(self, status: int, body: dict[str, Any]) -> TokenError:
        cfg = self.config
        error = str(body.get("error") or "")
        description = str(body.get("error_description") or body.get("message") or "")
        said = ": ".join(part for part in (error, description) if part) or "no error details"
        if status == 404:
            hint = (
                f"The token URL {cfg.token_url} does not exist: check `token_url` "
                "(Databricks: https://<workspace-host>/oidc/v1/token)."
            )
        elif error in ("invalid_client", "unauthorized_client"):
            # Only a Databricks token URL (/oidc/...) has principals to assign to a workspace.
            unassigned = (
                ", or the service principal is not assigned to this workspace"
                if "/oidc/" in urlsplit(cfg.token_url).path
                else ""
            )
            hint = (
                f"Wrong client id or secret{unassigned}. Check `client_id`, the secret behind "
                "`client_secret`"
                + (", and try `client_auth: auto`." if cfg.client_auth != "auto" else ".")
            )
        elif error in ("invalid_scope", "access_denied"):
            hint = (
                f"The scope {cfg.scope!r} was refused: check `scope` "
                "(Databricks: `all-apis`, or `sql all-apis`)."
            )
        elif error == "invalid_grant":
            hint = (
                "The refresh token expired or was revoked: get a new one."
                if cfg.grant_type == "refresh_token"
                else "The user name or password is wrong."
            )
        elif error == "unsupported_grant_type":
            hint = f"This endpoint does not accept grant_type {cfg.grant_type}."
        else:
            hint = "Check the connector's credentials with `lakegate doctor`."
        return TokenError(
            redact(f"The token endpoint {cfg.token_url} answered {status}: {said}."),
            hint=hint,
            status=status,
            details={
                "token_url": cfg.token_url,
                "error": redact(error),
                "error_description": redact(description),
            },
        )


def _ttl(raw: Any) -> float:
    """`expires_in` as seconds; strings are accepted, anything unusable means the default."""
    try:
        ttl = float(raw)
    except (TypeError, ValueError):
        return DEFAULT_TTL_S
    return ttl if ttl > 0 else DEFAULT_TTL_S
