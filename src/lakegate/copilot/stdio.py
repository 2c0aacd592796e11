"""stdio for the MCP server without a thread hop per line: asyncio pipes on private descriptors.

The SDK's `stdio_server` reads and writes through worker threads, a few hundred microseconds
per message on a busy machine. This hands it stream objects on asyncio pipe transports instead,
and, like the SDK, points fd 0 at /dev/null and fd 1 at stderr while serving, so a stray print
(ours or a library's) can never corrupt the protocol stream. `sys.stdout` itself is pointed at
stderr too: a print buffered in it would otherwise reach the real stdout once fd 1 is restored.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator
from typing import Any

from mcp.server.stdio import stdio_server

__all__ = ["fast_stdio_server"]

MAX_LINE = 64 * 1024 * 1024  # one JSON-RPC message per line; tool arguments can be large


class _Lines:
    """What `stdio_server` iterates: text lines from an asyncio StreamReader."""

    def __init__(self, reader: asyncio.StreamReader) -> None:
        self._reader = reader

    def __aiter__(self) -> _Lines:
        return self

    async def __anext__(self) -> str:
        try:
            line = await self._reader.readuntil(b"\n")
        except asyncio.IncompleteReadError as exc:
            line = exc.partial
        except asyncio.LimitOverrunError:
            line = await self._reader.read(MAX_LINE)  # oversized: handed on, fails validation
        if not line:
            raise StopAsyncIteration
        return line.decode("utf-8", "replace")


class _Writer:
    """What `stdio_server` writes to: text into an asyncio pipe transport."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self._writer = writer

    async def write(self, text: str) -> None:
        self._writer.write(text.encode("utf-8"))

    async def flush(self) -> None:
        await self._writer.drain()


def _divert(fd: int, target: int) -> int:
    """Keep a private duplicate of `fd` for the protocol and point `fd` itself at `target`."""
    private = os.dup(fd)
    os.dup2(target, fd)
    return private


@contextlib.asynccontextmanager
async def fast_stdio_server() -> AsyncIterator[tuple[Any, Any]]:
    """Like `mcp.server.stdio.stdio_server()`, on asyncio pipes; falls back to it when stdin or
    stdout is not a pipe, socket or character device (a regular file, say)."""
    loop = asyncio.get_running_loop()
    sys.stdout.flush()
    real_stdout, sys.stdout = sys.stdout, sys.stderr
    devnull = os.open(os.devnull, os.O_RDONLY)
    private_in = _divert(0, devnull)
    private_out = _divert(1, 2)
    os.close(devnull)
    stdin = os.fdopen(private_in, "rb", buffering=0)
    stdout = os.fdopen(private_out, "wb", buffering=0)
    try:
        reader = asyncio.StreamReader(limit=MAX_LINE)
        try:
            await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), stdin)
            transport, protocol = await loop.connect_write_pipe(
                asyncio.streams.FlowControlMixin, stdout
            )
        except (ValueError, OSError):
            os.dup2(private_in, 0)
            os.dup2(private_out, 1)
            sys.stdout = real_stdout  # the SDK finds the protocol's descriptor through it
            async with stdio_server() as streams:
                sys.stdout = sys.stderr
                yield streams
            return
        writer = asyncio.StreamWriter(transport, protocol, reader, loop)
        async with stdio_server(_Lines(reader), _Writer(writer)) as streams:  # type: ignore[arg-type]
            yield streams
        writer.close()
    finally:
        # Whatever was printed while serving leaves now, to stderr, before fd 1 is stdout again.
        with contextlib.suppress(OSError, ValueError):
            sys.stdout.flush()
        sys.stdout = real_stdout
        with contextlib.suppress(OSError):
            os.dup2(private_in, 0)
        with contextlib.suppress(OSError):
            os.dup2(private_out, 1)
