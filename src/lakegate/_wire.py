"""What every transport speaks: the `Transport` protocol, `Reply`, `SendError` and the encodings.

Its own module so the aiohttp transport (`_transport.py`) and the httpx adapter
(`_httpx_transport.py`) both build on it without importing each other: the transport picks the
adapter lazily, the adapter never imports the transport.
"""

from __future__ import annotations

import json as jsonlib
import socket
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote, urlencode, urlsplit

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
        self.reason = failure_reason(cause)  # in words: "the host name does not resolve (DNS)"


def failure_reason(cause: BaseException) -> str:
    """Why a connection failed, in words a person acts on (its class name alone says little)."""
    seen: list[BaseException] = []
    current: BaseException | None = cause
    while current is not None and len(seen) < 8:  # the cause, what it wraps, what that wraps
        seen.append(current)
        current = getattr(current, "os_error", None) or current.__cause__ or current.__context__
    names = " ".join(type(e).__name__ for e in seen)
    text = " ".join(str(e) for e in seen).lower()
    if "DNS" in names or any(isinstance(e, socket.gaierror) for e in seen):
        return "the host name does not resolve (DNS)"
    if any(isinstance(e, ConnectionRefusedError) for e in seen) or "connection refused" in text:
        return "connection refused: nothing listens on that port"
    if "Certificate" in names or "certificate verify failed" in text:
        return "its TLS certificate is not trusted here"
    if "wrong version number" in text or "record layer failure" in text:
        return "TLS failed: that port does not speak HTTPS"
    if "SSL" in names:
        return "TLS failed"
    if "ServerDisconnected" in names or any(isinstance(e, ConnectionResetError) for e in seen):
        return "the server closed the connection without an answer"
    if any(isinstance(e, TimeoutError) for e in seen):
        return "no answer in time"
    return type(cause).__name__


def reach_hint(url: str, reason: str, field: str) -> str:
    """What to do about `reason` (a `failure_reason`) for `url`, which `field` sets."""
    parts = urlsplit(url)
    host = parts.netloc
    if reason.startswith("the host name"):
        return f"Check the host name {parts.hostname} in {field}."
    if reason.startswith("connection refused"):
        return (
            f"Check the port of {host} in {field}, and that a server there is running and "
            "reachable."
        )
    if "certificate" in reason:
        return "A proxy may intercept TLS: set SSL_CERT_FILE to its CA bundle, or check the host."
    if "does not speak HTTPS" in reason:
        return f"Use http:// for {host}, or the port that serves HTTPS."
    if reason.startswith("the server closed") and parts.scheme == "http":
        return (
            f"If {host} speaks HTTPS (a Databricks workspace always does), use https:// in {field}."
        )
    return f"Check that {host} in {field} is right and reachable from here (VPN, proxy, firewall)."


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
