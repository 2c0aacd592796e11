"""Read timeouts for every HTTP server lakegate runs (MCP, Studio, local workspace).

uvicorn closes idle keep-alive connections, but not one whose request arrives slowly or never:
a client that connects and sends half a request line held its connection open for ever (200 such
connections stayed open past 20 s). Here a request has HEADER_TIMEOUT_S from its first byte (or
from the connection) to finish its headers, then BODY_TIMEOUT_S to finish its body; past either
the server answers 408 and closes the connection. How long the application takes to answer is
not limited here. `LAKEGATE_HEADER_TIMEOUT_S` / `LAKEGATE_BODY_TIMEOUT_S` change the bounds.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = [
    "BODY_TIMEOUT_S",
    "HEADER_TIMEOUT_S",
    "ReadTimeouts",
    "TimedH11Protocol",
    "TimedHttpToolsProtocol",
]

HEADER_TIMEOUT_S = 10.0
BODY_TIMEOUT_S = 60.0
_TIMED_OUT = b"The request was not received in time; send it again.\n"
_RESPONSE_408 = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"connection: close\r\ncontent-length: %d\r\n\r\n%s" % (len(_TIMED_OUT), _TIMED_OUT)
)


def _bound(name: str, default: float) -> float:
    try:
        value = float(os.environ.get(name, default))
    except ValueError:
        return default
    return value if value > 0 else default


class ReadTimeouts:
    """Mixin over a uvicorn HTTP protocol: bounds how long a request may take to arrive.

    It follows uvicorn's request cycle (`self.cycle`): no cycle, or a finished one, means the
    next request's headers are awaited; a cycle with `more_body` means its body is.
    """

    cycle: Any
    transport: Any

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._read_timer: asyncio.TimerHandle | None = None
        self._read_phase = ""
        super().connection_made(transport)  # type: ignore[misc]
        self._watch("headers")

    def data_received(self, data: bytes) -> None:
        super().data_received(data)  # type: ignore[misc]
        self._follow()

    def connection_lost(self, exc: Exception | None) -> None:
        self._watch("")
        super().connection_lost(exc)  # type: ignore[misc]

    def _follow(self) -> None:
        cycle = self.cycle
        if cycle is None or cycle.response_complete:
            if self._read_phase != "headers":
                self._watch("headers")
        elif cycle.more_body:
            if self._read_phase != "body":
                self._watch("body")
        else:
            self._watch("")  # the request is in: the application answers in its own time

    def _watch(self, phase: str) -> None:
        if self._read_timer is not None:
            self._read_timer.cancel()
            self._read_timer = None
        self._read_phase = phase
        if phase:
            bound = (
                _bound("LAKEGATE_HEADER_TIMEOUT_S", HEADER_TIMEOUT_S)
                if phase == "headers"
                else _bound("LAKEGATE_BODY_TIMEOUT_S", BODY_TIMEOUT_S)
            )
            self._read_timer = asyncio.get_running_loop().call_later(bound, self._expired)

    def _expired(self) -> None:
        self._read_timer = None
        if self.transport is None or self.transport.is_closing():
            return
        cycle = self.cycle
        # A 408 answers a request nobody answered yet: none began (no cycle, or the last one is
        # done with its body read: the bytes since are a new request's), or the application is
        # still waiting for this one's body. After an early answer (a 401 before the body was
        # read) the connection is only closed.
        fresh = cycle is None or (cycle.response_complete and not cycle.more_body)
        if fresh or not cycle.response_started:
            self.transport.write(_RESPONSE_408)
        self.transport.close()


class TimedH11Protocol(ReadTimeouts, H11Protocol):
    """uvicorn's h11 protocol with read timeouts."""


class TimedHttpToolsProtocol(ReadTimeouts, HttpToolsProtocol):
    """uvicorn's httptools protocol with read timeouts."""
