"""One request/response exchange on a connector: credentials, reactive token refresh, redirects,
safe retries with backoff inside a total budget, and a capped body read.

Retry rules: a request that never left (connect error, pool timeout) may always be retried; once
it may have reached the server (reset, 429, 502-504) only idempotent calls are resent. A 401 or an
invalid-token 403 is retried once with a fresh token, whatever the method: the server refused it.
"""

from __future__ import annotations

import asyncio
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin

import httpx

from lakegate.auth import Authenticator, Credential
from lakegate.errors import GuardError, InputError, TransportError
from lakegate.project import ApiKeyAuth, Connector
from lakegate.render import check_url
from lakegate.results import RequestSummary

LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=64, keepalive_expiry=30)
RETRY_STATUSES = frozenset({429, 502, 503, 504})
# 8 retries: at a 20% fault rate a call still fails 1 time in 3 million (4 gave 1 in 4,000);
# the time budget (`budget_s`, the call deadline) bounds the waiting whatever the count.
MAX_REAUTHS = 3
MAX_RETRIES = 8
MAX_REDIRECTS = 5
BACKOFF_BASE_S = 0.2
BACKOFF_CAP_S = 8.0
_INVALID_TOKEN = re.compile(
    r"invalid[ _](access[ _])?token|token[ _](is[ _])?(invalid|expired)|expired[ _]token",
    re.IGNORECASE,
)
_DROP_ON_REBUILD = {"content-encoding", "content-length", "transfer-encoding"}


def user_agent(extra: str | None) -> str:
    from lakegate import __version__

    return f"lakegate/{__version__}" + (f" {extra}" if extra else "")


@dataclass
class Runtime:
    """A connector's HTTP client, authenticator and the names whose values are credentials."""

    connector: Connector
    client: httpx.AsyncClient
    authenticator: Authenticator
    secret_names: set[str]

    @classmethod
    def create(
        cls,
        connector: Connector,
        authenticator: Authenticator,
        transport: httpx.AsyncBaseTransport | None,
    ) -> Runtime:
        client = httpx.AsyncClient(
            transport=transport,
            limits=LIMITS,
            follow_redirects=False,  # redirects are followed here, deciding about credentials
            headers={"User-Agent": user_agent(connector.user_agent_extra)},
        )
        names: set[str] = set()
        if isinstance(connector.auth, ApiKeyAuth):
            names.add(connector.auth.header or connector.auth.query_param or "")
        return cls(connector, client, authenticator, names)


@dataclass
class Trace:
    """What the exchanges of one call did; kept even when one of them fails."""

    attempts: int = 0
    summary: RequestSummary | None = None
    token_from_cache: bool | None = None
    client_auth_used: str | None = None
    status: int | None = None
    truncated: bool = False


@dataclass
class Exchange:
    """The final answer of one logical request, body read (and maybe truncated)."""

    status: int
    reason: str
    headers: httpx.Headers
    body: bytes
    truncated: bool
    attempts: int
    token_from_cache: bool | None
    client_auth_used: str | None
    summary: RequestSummary
    request: httpx.Request

    def response(self) -> httpx.Response:
        """As an httpx.Response with the body already decoded."""
        headers = [(k, v) for k, v in self.headers.multi_items() if k not in _DROP_ON_REBUILD]
        return httpx.Response(self.status, headers=headers, content=self.body, request=self.request)


async def exchange(
    runtime: Runtime,
    method: str,
    url: str,
    *,
    plain: Callable[[], httpx.AsyncClient],
    params: list[tuple[str, str]],
    headers: dict[str, str],
    json_body: Any,
    has_body: bool,
    idempotent: bool,
    timeout_s: float,
    auth: bool,
    deadline: float,
    max_bytes: int | None,
    trace: Trace,
) -> Exchange:
    """Send until there is an answer worth returning, within `deadline` (monotonic seconds)."""
    connector, authenticator = runtime.connector, runtime.authenticator
    attempts = retries = redirects = 0
    reauths = 0
    client, credentialed = runtime.client, auth
    while True:
        attempts += 1
        trace.attempts += 1
        credential = await authenticator.credential() if credentialed else Credential()
        if credential.from_cache is not None:
            trace.token_from_cache = credential.from_cache
        trace.client_auth_used = authenticator.client_auth_used
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise _timeout(connector, method, url)
        try:
            request = client.build_request(
                method,
                url,
                params=[*params, *credential.params.items()] or None,
                headers={**headers, **credential.headers},
                json=json_body if has_body else None,
                timeout=min(timeout_s, remaining),
            )
        except (httpx.InvalidURL, UnicodeEncodeError) as exc:
            # httpx refuses URLs over 64 kB and non-ASCII header values: an input problem.
            raise InputError(
                f"The request of {connector.name!r} cannot be built: {type(exc).__name__}"
                + (" (URL too long)." if isinstance(exc, httpx.InvalidURL) else "."),
                hint="Shorten the inputs placed in the path or query, and keep header values "
                "ASCII.",
            ) from None
        summary = trace.summary = RequestSummary.of(
            method, str(request.url), {**headers, **credential.headers}, runtime.secret_names
        )
        try:
            response, body, truncated = await _read(client, request, max_bytes)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            # Nothing reached the server: safe to resend whatever the method.
            if retries < MAX_RETRIES and await _pause(_backoff(retries), deadline):
                retries += 1
                continue
            raise _transport(connector, exc, summary, "request.connect_failed") from None
        except httpx.TimeoutException as exc:
            raise _timeout(connector, method, url, exc) from None
        except httpx.LocalProtocolError as exc:
            # h11 refused to write the request (e.g. a blank or illegal header value): nothing
            # was sent, and resending the same request cannot help.
            raise InputError(
                f"The request of {connector.name!r} cannot be sent: {exc}.",
                hint="Check the inputs placed in headers: no blank or control-character values.",
            ) from None
        except (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError) as exc:
            # The request may have reached the server: only an idempotent call is resent.
            if idempotent and retries < MAX_RETRIES and await _pause(_backoff(retries), deadline):
                retries += 1
                continue
            raise _transport(connector, exc, summary, "request.connection_lost") from None
        status = response.status_code
        if status in (301, 302, 303, 307, 308) and "location" in response.headers:
            if redirects >= MAX_REDIRECTS:
                raise TransportError(
                    f"Too many redirects from {summary.url}.",
                    code="request.redirect_loop",
                    hint="Check the connector's base_url.",
                )
            redirects += 1
            target = urljoin(str(request.url), response.headers["location"])
            try:
                check_url(connector, target)
                same_origin = True
            except GuardError:
                same_origin = False
            if not same_origin and method not in ("GET", "HEAD"):
                pass  # never replay a body to another origin: return the redirect as the answer
            else:
                if status == 303 or (status in (301, 302) and method == "POST"):
                    method, has_body, json_body = "GET", False, None
                url, params = target, []
                if not same_origin:
                    # Credentials stay with the connector's origin.
                    client, credentialed, headers = plain(), False, {}
                continue
        if (
            credentialed
            and authenticator.refreshable
            # Once per call; again only when the rejected token came from the cache (it may
            # have expired during a long call), never for a token fetched just now.
            and (reauths == 0 or (credential.from_cache and reauths < MAX_REAUTHS))
            and _token_rejected(status, response.headers, body)
        ):
            authenticator.reject(credential)
            reauths += 1
            continue
        if idempotent and status in RETRY_STATUSES and retries < MAX_RETRIES:
            delay = _retry_after(response.headers.get("retry-after"))
            if await _pause(delay if delay is not None else _backoff(retries), deadline):
                retries += 1
                continue
        trace.status, trace.truncated = status, trace.truncated or truncated
        return Exchange(
            status=status,
            reason=response.reason_phrase,
            headers=response.headers,
            body=body,
            truncated=truncated,
            attempts=attempts,
            token_from_cache=credential.from_cache,
            client_auth_used=authenticator.client_auth_used,
            summary=summary,
            request=request,
        )


async def _read(
    client: httpx.AsyncClient, request: httpx.Request, max_bytes: int | None
) -> tuple[httpx.Response, bytes, bool]:
    response = await client.send(request, stream=True)
    chunks: list[bytes] = []
    size, truncated = 0, False
    try:
        async for chunk in response.aiter_bytes():
            if max_bytes is not None and size + len(chunk) > max_bytes:
                chunks.append(chunk[: max_bytes - size])
                truncated = True
                break
            chunks.append(chunk)
            size += len(chunk)
    finally:
        await response.aclose()
    return response, b"".join(chunks), truncated


def _token_rejected(status: int, headers: httpx.Headers, body: bytes) -> bool:
    """401, or a 403 that says the token itself is invalid or expired (as Databricks does)."""
    if status == 401:
        return True
    if status != 403:
        return False
    reason = headers.get("x-databricks-reason-phrase", "")
    return bool(
        _INVALID_TOKEN.search(reason)
        or _INVALID_TOKEN.search(body[:4096].decode("utf-8", "replace"))
    )


def _backoff(retry: int) -> float:
    """Exponential backoff with full jitter."""
    return random.uniform(0, min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2**retry))


def _retry_after(value: str | None) -> float | None:
    """Retry-After as seconds: a number, or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


async def _pause(delay: float, deadline: float) -> bool:
    """Sleep `delay` if the budget allows it and one more attempt could still fit."""
    if time.monotonic() + delay >= deadline:
        return False
    if delay > 0:
        await asyncio.sleep(delay)
    return True


def _transport(
    connector: Connector, exc: Exception, summary: RequestSummary, code: str
) -> TransportError:
    what = "could not connect to" if code == "request.connect_failed" else "lost the connection to"
    return TransportError(
        f"lakegate {what} {connector.base_url} ({type(exc).__name__}) for {summary.line}.",
        code=code,
        hint=(
            "Check that the base URL is right and the host is reachable from here."
            if code == "request.connect_failed"
            else "The server closed the connection; it may be overloaded. Try again."
        ),
    )


def _timeout(
    connector: Connector, method: str, url: str, exc: Exception | None = None
) -> TransportError:
    return TransportError(
        f"{method} on {connector.name!r} timed out"
        + (f" ({type(exc).__name__})." if exc else " (the call's time budget ran out)."),
        code="request.timeout",
        hint="Raise the action's `timeout_s`, or check that the server is healthy.",
    )
