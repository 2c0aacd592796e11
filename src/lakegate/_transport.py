"""The HTTP transport under the gateway: aiohttp by default, any httpx transport through an adapter.

Measured side by side (benchmarks/transport.py), httpx's own pool (httpcore) spends ~10x the CPU
per call of aiohttp, and even httpx on an aiohttp transport ~2x; so the gateway talks to a small
`Transport` protocol and the default one is a bare aiohttp session. An `httpx.AsyncBaseTransport`
(the tests' in-memory and recording transports, `httpx.MockTransport`) still works: it is wrapped
in `HttpxTransport`. aiohttp and httpx are imported only when a transport is created.

Failures are one exception, `SendError`, whose `kind` says what the retry rules need to know:
`connect` (nothing reached the server), `lost` (it may have), `timeout`, `invalid` (refused here).
It and the `Transport` protocol live in `_wire.py`, shared with the adapter; importable from here.
"""

from __future__ import annotations

import json as jsonlib
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

# The primitives live in _wire, which the httpx adapter shares without importing this module;
# they stay importable from here, where the gateway and the packs take them.
from lakegate._wire import (
    KEEPALIVE_S,
    MAX_CONNECTIONS,
    Reply,
    SendError,
    StreamReply,
    Transport,
    capped,
    encode_url,
    json_body,
)

if TYPE_CHECKING:
    from lakegate._httpx_transport import HttpxTransport

__all__ = [
    "HttpClient",
    "HttpxTransport",
    "Reply",
    "Response",
    "SendError",
    "Transport",
    "default_transport",
    "encode_url",
    "json_body",
    "to_transport",
]

CHUNK = 64 * 1024
TRANSPORT_ENV = "LAKEGATE_HTTP"  # "httpx" picks httpx's own pool (for comparisons)


class AiohttpTransport:
    """One aiohttp session: a keep-alive pool of up to 100 connections, no redirects followed."""

    def __init__(self) -> None:
        self._session: Any = None
        self._timeout: Any = None

    def _open(self) -> Any:
        import aiohttp

        self._timeout = aiohttp.ClientTimeout
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                limit=0, limit_per_host=MAX_CONNECTIONS, keepalive_timeout=KEEPALIVE_S
            )
            # No cookie jar: the gateway keeps no state between calls but tokens, and never
            # mixes connectors'. trust_env looks proxies and .netrc up in a worker thread on
            # every request (two thread hops, ~2 ms): only when a proxy is configured.
            self._session = aiohttp.ClientSession(
                connector=connector,
                trust_env=_proxy_configured(),
                cookie_jar=aiohttp.DummyCookieJar(),
                skip_auto_headers=("User-Agent",),
            )
            # aiohttp silently resends PUT/DELETE/GET once on a dropped keep-alive connection;
            # the gateway's retry rules (the action's `idempotent`, backoff, attempts) decide.
            self._session._retry_connection = False
        return self._session

    async def send(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        body: bytes | None,
        timeout_s: float,
        max_bytes: int | None,
    ) -> Reply:
        session = self._session if self._session is not None else self._open()
        try:
            async with session.request(
                method,
                _yarl(url),
                headers=headers,
                data=body,
                allow_redirects=False,
                timeout=self._timeout(total=timeout_s),
            ) as response:
                length = response.content_length
                if max_bytes is None or (length is not None and length <= max_bytes):
                    data, truncated = await response.read(), False
                else:
                    data, truncated = await capped(response.content.iter_chunked(CHUNK), max_bytes)
                    if truncated:
                        response.close()  # the rest is not wanted: do not reuse the connection
                reason = response.reason or ""
                return Reply(response.status, reason, response.headers, data, truncated)
        except Exception as exc:  # mapped to a SendError kind, or re-raised
            raise _aiohttp_error(exc) from None

    @asynccontextmanager
    async def stream(
        self, method: str, url: str, headers: dict[str, str], timeout_s: float
    ) -> AsyncIterator[StreamReply]:
        import aiohttp

        session = self._open()
        # A download may take long: bound each read, not the whole transfer.
        limits = aiohttp.ClientTimeout(total=None, sock_connect=timeout_s, sock_read=timeout_s)
        try:
            async with session.request(
                method, _yarl(url), headers=headers, allow_redirects=False, timeout=limits
            ) as response:
                yield _AiohttpStream(response)
        except SendError:
            raise
        except Exception as exc:
            raise _aiohttp_error(exc) from None

    async def aclose(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()


class _AiohttpStream:
    def __init__(self, response: Any) -> None:
        self.status = response.status
        self.headers = response.headers
        self._response = response

    async def chunks(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.content.iter_chunked(CHUNK):
                yield chunk
        except Exception as exc:
            raise _aiohttp_error(exc) from None


def _proxy_configured() -> bool:
    names = ("https_proxy", "http_proxy", "all_proxy")
    return any(os.environ.get(n) or os.environ.get(n.upper()) for n in names)


def default_transport() -> Transport:
    """aiohttp, unless LAKEGATE_HTTP=httpx asks for httpx's own pool."""
    if os.environ.get(TRANSPORT_ENV, "").lower() == "httpx":
        from lakegate._httpx_transport import HttpxTransport

        return HttpxTransport()
    return AiohttpTransport()


def to_transport(given: Any) -> Transport:
    """A Transport for what a caller passed: None (the default), an httpx transport, or one."""
    if given is None:
        return default_transport()
    if hasattr(given, "handle_async_request"):
        from lakegate._httpx_transport import HttpxTransport

        return HttpxTransport(given)
    return given


def _yarl(url: str) -> Any:
    from yarl import URL

    # The URL is already percent-encoded (render.py, encode_url): keep it byte for byte, so
    # yarl neither re-encodes nor normalises `..` segments the guards already checked.
    return URL(url, encoded=True) if url.isascii() else URL(url)


def _aiohttp_error(exc: Exception) -> Exception:
    import asyncio

    import aiohttp

    if isinstance(exc, SendError):
        return exc
    if isinstance(exc, asyncio.TimeoutError | aiohttp.ServerTimeoutError):
        return SendError("timeout", exc)
    if isinstance(exc, aiohttp.ClientConnectorError | aiohttp.ClientProxyConnectionError):
        return SendError("connect", exc)
    if isinstance(exc, aiohttp.InvalidURL | ValueError | UnicodeError):
        return SendError("invalid", exc)
    if isinstance(exc, aiohttp.ClientError | OSError):
        return SendError("lost", exc)
    return exc


class Response:
    """An answer with its body read: the small httpx.Response subset handlers and checks use."""

    def __init__(self, reply: Reply, url: str, attempts: int = 1) -> None:
        self.attempts = attempts  # how many times the request was sent (retries included)
        self.status_code = reply.status
        self.reason_phrase = reply.reason
        self.headers = reply.headers
        self.content = reply.body
        self.url = url

    def __repr__(self) -> str:
        return f"<Response [{self.status_code}]>"

    @property
    def is_success(self) -> bool:
        return 200 <= self.status_code < 300

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        """The body as JSON; ValueError when it is not."""
        return jsonlib.loads(self.content)

    def json_object(self) -> dict[str, Any]:
        """The body as a JSON object; {} when it is anything else (an error page, a list)."""
        try:
            data = self.json()
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}


class HttpClient:
    """The gateway's plain client on its Transport: token requests and presigned downloads (never
    a connector's API: that goes through `Gateway.request`). No credentials of its own; redirects
    are not followed."""

    def __init__(
        self,
        transport: Transport | Any = None,
        *,
        headers: dict[str, str] | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.transport = to_transport(transport)
        self.headers = dict(headers or {})
        self.timeout = timeout

    async def __aenter__(self) -> HttpClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self.transport.aclose()

    async def request(
        self,
        method: str,
        url: str,
        *,
        params: dict[str, Any] | list[tuple[str, str]] | None = None,
        headers: dict[str, str] | None = None,
        json: Any = None,
        data: dict[str, str] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - httpx's name: code takes either client
        max_bytes: int | None = None,
    ) -> Response:
        """Send one request; SendError when no answer came."""
        sent = {**self.headers, **(headers or {})}
        body = None
        if json is not None:
            body = json_body(json)
            sent.setdefault("Content-Type", "application/json")
        elif data is not None:
            body = urlencode(data).encode()
            sent.setdefault("Content-Type", "application/x-www-form-urlencoded")
        pairs = list(params.items()) if isinstance(params, dict) else params
        full = encode_url(url, [(k, str(v)) for k, v in pairs or []])
        reply = await self.transport.send(
            method.upper(), full, sent, body, timeout or self.timeout, max_bytes
        )
        return Response(reply, full)

    async def get(self, url: str, **kwargs: Any) -> Response:
        return await self.request("GET", url, **kwargs)

    async def post(self, url: str, **kwargs: Any) -> Response:
        return await self.request("POST", url, **kwargs)

    def stream(
        self, method: str, url: str, *, headers: dict[str, str] | None = None,
        timeout: float | None = None,
    ) -> Any:  # fmt: skip
        """An async context manager giving a StreamReply (`status`, `headers`, `chunks()`)."""
        sent = {**self.headers, **(headers or {})}
        return self.transport.stream(method.upper(), url, sent, timeout or self.timeout)


def __getattr__(name: str) -> Any:
    if name == "HttpxTransport":  # kept in its own module: httpx loads only when it is used
        from lakegate._httpx_transport import HttpxTransport

        return HttpxTransport
    raise AttributeError(f"module 'lakegate._transport' has no attribute {name!r}")
