"""What every transport speaks: the `Transport` protocol, `Reply`, `SendError` and the encodings.

Its own module so the aiohttp transport (`_transport.py`) and the httpx adapter
(`_httpx_transport.py`) both build on it without importing each other: the transport picks the
adapter lazily, the adapter never imports the transport.
"""

from __future__ import annotations

import json as jsonlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote, urlencode

__all__ = [
    "KEEPALIVE_S",
    "MAX_CONNECTIONS",
    "Reply",
    "SendError",
    "StreamReply",
    "Transport",
    "capped",
    "encode_url",
    "json_body",
]

MAX_CONNECTIONS = 100  # per host, whichever transport holds the pool
KEEPALIVE_S = 30.0


class SendError(Exception):
    """A request that got no HTTP answer; `kind` is connect, lost, timeout or invalid."""

    def __init__(self, kind: str, cause: BaseException) -> None:
        super().__init__(f"{kind}: {type(cause).__name__}")
        self.kind = kind
        self.cause_name = type(cause).__name__


@dataclass
class Reply:
    """A response with its body read, at most `max_bytes` of it (`truncated` then)."""

    status: int
    reason: str
    headers: Mapping[str, str]  # case-insensitive
    body: bytes
    truncated: bool = False


class StreamReply(Protocol):
    status: int
    headers: Mapping[str, str]

    def chunks(self) -> AsyncIterator[bytes]: ...


class Transport(Protocol):
    """What the gateway needs from HTTP: one request, one capped answer; or a streamed one."""

    async def send(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        body: bytes | None,
        timeout_s: float,
        max_bytes: int | None,
    ) -> Reply: ...

    def stream(
        self, method: str, url: str, headers: dict[str, str], timeout_s: float
    ) -> Any: ...  # an async context manager giving a StreamReply

    async def aclose(self) -> None: ...


def encode_url(url: str, params: list[tuple[str, str]] | None) -> str:
    """`url` with `params` appended as a percent-encoded query (spaces as %20)."""
    if not params:
        return url
    query = urlencode(params, quote_via=quote, safe="")
    return f"{url}{'&' if '?' in url else '?'}{query}"


def json_body(value: Any) -> bytes:
    """JSON as httpx writes it: compact, UTF-8, no NaN."""
    return jsonlib.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


async def capped(chunks: AsyncIterator[bytes], max_bytes: int | None) -> tuple[bytes, bool]:
    """The chunks joined, cut at `max_bytes` (then True: the rest was not read)."""
    parts: list[bytes] = []
    size = 0
    async for chunk in chunks:
        if max_bytes is not None and size + len(chunk) > max_bytes:
            parts.append(chunk[: max_bytes - size])
            return b"".join(parts), True
        parts.append(chunk)
        size += len(chunk)
    return b"".join(parts), False
