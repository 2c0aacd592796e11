"""Reach a real `lakegate serve` process with the official MCP client, over stdio or HTTP."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import mcp_types as types
from mcp import ClientSession, StdioServerParameters, stdio_client

from _support import mcp_http_session, serve_http

CLIENT = types.Implementation(name="pytest-copilot", version="1.2.3")


def serve_args(project: Path, *extra: str) -> list[str]:
    return ["-m", "lakegate", "--project", str(project), "serve", *extra]


@contextlib.asynccontextmanager
async def stdio_session(project: Path, **session: Any) -> AsyncIterator[ClientSession]:
    """An initialized ClientSession talking to `python -m lakegate serve` over its stdin/stdout."""
    params = StdioServerParameters(command=sys.executable, args=serve_args(project))
    with open(os.devnull, "w") as errlog:  # the server's stderr logs are not the test's output
        async with (
            stdio_client(params, errlog=errlog) as (read, write),
            ClientSession(read, write, client_info=CLIENT, **session) as client,
        ):
            await client.initialize()
            yield client


@contextlib.contextmanager
def http_server(project: Path, token: str, *extra: str) -> Iterator[str]:
    """`lakegate serve --http --port 0` in a subprocess; yields its /mcp URL."""
    with serve_http(project, *extra, token=token) as served:
        yield served.url


@contextlib.asynccontextmanager
async def http_session(url: str, token: str, **session: Any) -> AsyncIterator[ClientSession]:
    """An initialized ClientSession over streamable HTTP with the bearer token."""
    async with mcp_http_session(url, token, CLIENT, **session) as client:
        yield client


def text_of(result: types.CallToolResult) -> str:
    return "\n".join(c.text for c in result.content if isinstance(c, types.TextContent))
