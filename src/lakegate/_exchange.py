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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

from lakegate._transport import Reply, Response, SendError, Transport, encode_url, json_body
from lakegate._wire import reach_hint
from lakegate.auth import Authenticator, Credential
from lakegate.errors import GuardError, InputError, TransportError
from lakegate.project import ApiKeyAuth, Connector
from lakegate.render import check_url
from lakegate.results import RequestSummary, Retrying

RETRY_STATUSES = frozenset({429, 502, 503, 504})
_Announce = Callable[[str, float], None]  # (why, the wait in seconds): a retry is coming
# 8 retries: at a 20% fault rate a call still fails 1 time in 3 million (4 gave 1 in 4,000);
# the time budget (`budget_s`, the call deadline) bounds the waiting whatever the count.
MAX_REAUTHS = 3
MAX_RETRIES = 8
MAX_REDIRECTS = 5
MAX_URL_CHARS = 65536  # as httpx refused: a longer URL is an input problem, not a request
BACKOFF_BASE_S = 0.2
BACKOFF_CAP_S = 8.0
_INVALID_TOKEN = re.compile(
    r"invalid[ _](access[ _])?token|token[ _](is[ _])?(invalid|expired)|expired[ _]token",
    re.IGNORECASE,
)
# RFC 9110 field names are tokens; values are visible ASCII, space and tab (h11's rule).
_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_HEADER_VALUE = re.compile(r"[\t\x20-\x7e]*")


def user_agent(extra: str | None) -> str:
    from lakegate._version import version

    return f"lakegate/{version()}" + (f" {extra}" if extra else "")


@dataclass
class Runtime:
    """A connector's transport, authenticator, User-Agent and the names holding credentials."""

    connector: Connector
    transport: Transport
    authenticator: Authenticator
    secret_names: set[str]
    user_agent: str
    on_retry: Callable[[Retrying], None] | None = None  # told before each retry's wait

    @classmethod
    def create(
        cls, connector: Connector, authenticator: Authenticator, transport: Transport
    ) -> Runtime:
        names: set[str] = set()
        if isinstance(connector.auth, ApiKeyAuth):
            names.add(connector.auth.header or connector.auth.query_param or "")
        agent = user_agent(connector.user_agent_extra)
        return cls(connector, transport, authenticator, names, agent)


@dataclass
class Trace:
    """What the exchanges of one call did; kept even when one of them fails."""

    attempts: int = 0
    summary: RequestSummary | None = None
    token_from_cache: bool | None = None
    client_auth_used: str | None = None
    status: int | None = None
    truncated: bool = False
    response_headers: Mapping[str, str] = field(default_factory=dict)


@dataclass
class Exchange:
    """The final answer of one logical request, body read (and maybe truncated)."""

    status: int
    reason: str
    headers: Mapping[str, str]
    body: bytes
    truncated: bool
    attempts: int
    token_from_cache: bool | None
    client_auth_used: str | None
    summary: RequestSummary
    url: str

    def response(self) -> Response:
        """As a Response (status_code, headers, content, json())."""
        reply = Reply(self.status, self.reason, self.headers, self.body, self.truncated)
        return Response(reply, self.url, self.attempts)


@dataclass
class _Request:
    """What the next attempt sends; redirects change it, retries do not."""

    method: str
    url: str
    params: list[tuple[str, str]]
    headers: dict[str, str]
    body: bytes | None
    credentialed: bool
    attempts: int = 0
    retries: int = 0
    redirects: int = 0
    reauths: int = 0


async def exchange(
    runtime: Runtime,
    method: str,
    url: str,
    *,
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
    connector = runtime.connector
    body = _body(connector, json_body) if has_body else None
    _check_headers(connector, headers)
    request = _Request(method, url, params, headers, body, credentialed=auth)

    def announce(reason: str, delay: float) -> None:
        if runtime.on_retry is not None:
            host = urlsplit(request.url).netloc
            runtime.on_retry(Retrying(connector.name, request.method, host, reason, delay,
                                      request.attempts + 1, MAX_RETRIES + 1))  # fmt: skip

    while True:
        request.attempts += 1
        trace.attempts += 1
        credential = await _credential(runtime, request, trace)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise _timeout(connector, request.method, request.url)
        full_url, sent = _prepare(runtime, request, credential)
        summary = trace.summary = RequestSummary.of(
            request.method, full_url, {**request.headers, **credential.headers},
            runtime.secret_names,
        )  # fmt: skip
        try:
            reply = await runtime.transport.send(
                request.method, full_url, sent, request.body, min(timeout_s, remaining), max_bytes
            )
        except SendError as exc:
            await _resend_or_raise(connector, request, exc, summary, idempotent, deadline, announce)
            continue
        if _follow_redirect(connector, request, reply, full_url, summary):
            continue
        if _reauthenticate(runtime.authenticator, request, credential, reply):
            continue
        if await _retry_status(request, reply, idempotent, deadline, announce):
            continue
        trace.status, trace.truncated = reply.status, trace.truncated or reply.truncated
        trace.response_headers = reply.headers
        return Exchange(
            status=reply.status,
            reason=reply.reason,
            headers=reply.headers,
            body=reply.body,
            truncated=reply.truncated,
            attempts=request.attempts,
            token_from_cache=credential.from_cache,
            client_auth_used=runtime.authenticator.client_auth_used,
            summary=summary,
            url=full_url,
        )


async def _credential(runtime: Runtime, request: _Request, trace: Trace) -> Credential:
    """The connector's credential for this attempt (none once redirected off its origin)."""
    authenticator = runtime.authenticator
    credential = await authenticator.credential() if request.credentialed else Credential()
    if credential.from_cache is not None:
        trace.token_from_cache = credential.from_cache
    trace.client_auth_used = authenticator.client_auth_used
    return credential


def _prepare(
    runtime: Runtime, request: _Request, credential: Credential
) -> tuple[str, dict[str, str]]:
    """The full URL (credential query params included) and the headers to send."""
    connector = runtime.connector
    full_url = encode_url(request.url, [*request.params, *credential.params.items()])
    if len(full_url) > MAX_URL_CHARS:
        raise InputError(
            f"The request of {connector.name!r} cannot be built: the URL is "
            f"{len(full_url):,} characters long.",
            hint="Shorten the inputs placed in the path or query.",
        )
    sent = {"User-Agent": runtime.user_agent, **request.headers, **credential.headers}
    if request.body is not None:
        sent.setdefault("Content-Type", "application/json")
    return full_url, sent


async def _resend_or_raise(
    connector: Connector,
    request: _Request,
    exc: SendError,
    summary: RequestSummary,
    idempotent: bool,
    deadline: float,
    announce: _Announce,
) -> None:
    """Return when the request may be sent again after `exc`; raise what the call fails with."""
    said = (exc.reason, announce)
    if exc.kind == "connect":
        # Nothing reached the server: safe to resend whatever the method.
        if request.retries < MAX_RETRIES and await _pause(
            _backoff(request.retries), deadline, said
        ):
            request.retries += 1
            return
        raise _transport(connector, exc, summary, "request.connect_failed") from None
    if exc.kind == "timeout":
        raise _timeout(connector, request.method, request.url, exc) from None
    if exc.kind == "invalid":
        # Refused before sending (an illegal URL or header): resending cannot help.
        raise InputError(
            f"The request of {connector.name!r} cannot be sent ({exc.cause_name}).",
            hint="Check the inputs placed in the path, query and headers.",
        ) from None
    # The request may have reached the server: only an idempotent call is resent.
    if (
        idempotent
        and request.retries < MAX_RETRIES
        and await _pause(_backoff(request.retries), deadline, said)
    ):
        request.retries += 1
        return
    raise _transport(connector, exc, summary, "request.connection_lost") from None


def _follow_redirect(
    connector: Connector, request: _Request, reply: Reply, full_url: str, summary: RequestSummary
) -> bool:
    """True when `request` now points at the redirect's target and should be sent again."""
    if reply.status not in (301, 302, 303, 307, 308) or "location" not in reply.headers:
        return False
    if request.redirects >= MAX_REDIRECTS:
        raise TransportError(
            f"Too many redirects from {summary.url}.",
            code="request.redirect_loop",
            hint="Check the connector's base_url.",
        )
    request.redirects += 1
    target = urljoin(full_url, reply.headers["location"])
    try:
        check_url(connector, target)
        same_origin = True
    except GuardError:
        same_origin = False
    if not same_origin and request.method not in ("GET", "HEAD"):
        return False  # never replay a body to another origin: the redirect is the answer
    if reply.status == 303 or (reply.status in (301, 302) and request.method == "POST"):
        request.method, request.body = "GET", None
    request.url, request.params = target, []
    if not same_origin:
        # Credentials stay with the connector's origin.
        request.credentialed, request.headers = False, {}
    return True


def _reauthenticate(
    authenticator: Authenticator, request: _Request, credential: Credential, reply: Reply
) -> bool:
    """True when the token was refused and a fresh one should be tried."""
    if not (
        request.credentialed
        and authenticator.refreshable
        # Once per call; again only when the rejected token came from the cache (it may
        # have expired during a long call), never for a token fetched just now.
        and (request.reauths == 0 or (credential.from_cache and request.reauths < MAX_REAUTHS))
        and _token_rejected(reply.status, reply.headers, reply.body)
    ):
        return False
    authenticator.reject(credential)
    request.reauths += 1
    return True


async def _retry_status(
    request: _Request, reply: Reply, idempotent: bool, deadline: float, announce: _Announce
) -> bool:
    """True after waiting out a retryable status (429, 502-504) of an idempotent call."""
    if not (idempotent and reply.status in RETRY_STATUSES and request.retries < MAX_RETRIES):
        return False
    delay = _retry_after(reply.headers.get("retry-after"))
    wait = delay if delay is not None else _backoff(request.retries)
    if not await _pause(wait, deadline, (f"HTTP {reply.status}", announce)):
        return False
    request.retries += 1
    return True


def _body(connector: Connector, value: Any) -> bytes:
    try:
        return json_body(value)
    except (TypeError, ValueError) as exc:
        raise InputError(
            f"The JSON body of {connector.name!r} cannot be written: {exc}.",
            hint="Use JSON values only (no NaN or infinity).",
        ) from None


def _check_headers(connector: Connector, headers: dict[str, str]) -> None:
    """Refuse what h11 refused for httpx: illegal names, control or non-ASCII characters."""
    for name, value in headers.items():
        if not _HEADER_NAME.fullmatch(name) or not _HEADER_VALUE.fullmatch(value):
            raise InputError(
                f"The request of {connector.name!r} cannot be sent: header {name!r} has an "
                "illegal name or value.",
                hint="Check the inputs placed in headers: ASCII only, no control characters.",
            )


def _token_rejected(status: int, headers: Mapping[str, str], body: bytes) -> bool:
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


async def _pause(delay: float, deadline: float, said: tuple[str, _Announce]) -> bool:
    """Sleep `delay` if the budget allows it and one more attempt could still fit; `said`
    (why, and who to tell) is announced first, only when the retry will happen."""
    if time.monotonic() + delay >= deadline:
        return False
    reason, announce = said
    announce(reason, delay)
    if delay > 0:
        await asyncio.sleep(delay)
    return True


def _transport(
    connector: Connector, exc: SendError, summary: RequestSummary, code: str
) -> TransportError:
    what = "could not connect to" if code == "request.connect_failed" else "lost the connection to"
    return TransportError(
        f"lakegate {what} {connector.base_url} for {summary.line}: {exc.reason}.",
        code=code,
        hint=(
            reach_hint(connector.base_url, exc.reason, "the base URL")
            if code == "request.connect_failed" or connector.base_url.startswith("http://")
            else "The server closed the connection; it may be overloaded. Try again."
        ),
        details={"reason": exc.reason},
    )


def _timeout(
    connector: Connector, method: str, url: str, exc: SendError | None = None
) -> TransportError:
    return TransportError(
        f"{method} on {connector.name!r} timed out"
        + (f" ({exc.cause_name})." if exc else " (the call's time budget ran out)."),
        code="request.timeout",
        hint="Raise the action's `timeout_s`, or check that the server is healthy.",
    )
