"""The gateway's Transport on any `httpx.AsyncBaseTransport`: the tests' in-memory and recording
transports, `httpx.MockTransport`, ASGI apps; and httpx's own pool for comparisons."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from lakegate._wire import KEEPALIVE_S, MAX_CONNECTIONS, Reply, SendError, capped

__all__ = ["HttpxTransport"]


class HttpxTransport:
    """Any `httpx.AsyncBaseTransport` (in-memory, recording, ASGI) under the gateway."""

    def __init__(self, transport: httpx.AsyncBaseTransport | None = None) -> None:
        limits = httpx.Limits(
            max_connections=MAX_CONNECTIONS,
            max_keepalive_connections=64,
            keepalive_expiry=KEEPALIVE_S,
        )
        self._client = httpx.AsyncClient(transport=transport, limits=limits, follow_redirects=False)

    async def send(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        body: bytes | None,
        timeout_s: float,
        max_bytes: int | None,
    ) -> Reply:
        async with self.stream(method, url, headers, timeout_s, body) as response:
            data, truncated = await capped(response.chunks(), max_bytes)
            return Reply(response.status, response.reason, response.headers, data, truncated)

    @asynccontextmanager
    async def stream(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        timeout_s: float,
        body: bytes | None = None,
    ) -> AsyncIterator[Any]:
        try:
            request = self._client.build_request(
                method, url, headers=headers, content=body, timeout=timeout_s
            )
            response = await self._client.send(request, stream=True)
        except (httpx.HTTPError, httpx.InvalidURL, UnicodeEncodeError) as exc:
            raise _httpx_error(exc) from None
        try:
            yield _HttpxStream(response)
        finally:
            await response.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()


class _HttpxStream:
    def __init__(self, response: httpx.Response) -> None:
        self.status = response.status_code
        self.reason = response.reason_phrase
        self.headers = response.headers
        self._response = response

    async def chunks(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.aiter_bytes():
                yield chunk
        except httpx.HTTPError as exc:
            raise _httpx_error(exc) from None


def _httpx_error(exc: Exception) -> SendError:
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
        return SendError("connect", exc)
    if isinstance(exc, httpx.TimeoutException):
        return SendError("timeout", exc)
    if isinstance(exc, httpx.InvalidURL | UnicodeEncodeError | httpx.LocalProtocolError):
        return SendError("invalid", exc)
    return SendError("lost", exc)
