"""Every HTTP server lakegate runs answers 408 and closes a connection whose request does not
arrive in time (slowloris): the local workspace, `serve --http` and the Studio.

The bounds are lowered to one second here (LAKEGATE_HEADER_TIMEOUT_S / _BODY_TIMEOUT_S); each
test waits for the server to close the connection (an event), under a generous socket timeout.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from _support import client_token, serve_http
from lakegate.project import Project
from lakegate.studio.server import StudioServer
from lakegate.workspace import LocalWorkspace

WAIT_S = 60  # far above the one-second bound: only a server that never closes fails
TOKEN = "read-timeout-token-0123456789abcdef-0123"


@pytest.fixture(autouse=True)
def short_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAKEGATE_HEADER_TIMEOUT_S", "1")
    monkeypatch.setenv("LAKEGATE_BODY_TIMEOUT_S", "1")


def _answer(address: tuple[str, int], sent: bytes) -> bytes:
    """Send `sent` (an unfinished request), then read until the server closes."""
    with socket.create_connection(address, timeout=WAIT_S) as sock:
        if sent:
            sock.sendall(sent)
        received = b""
        while chunk := sock.recv(4096):
            received += chunk
        return received


UNFINISHED = {
    "nothing": b"",
    "half a request line": b"POST /api",
    "headers without their end": b"POST /x HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: a",
}
SHORT_BODY = (
    b"POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n%s"
    b'Content-Length: 100\r\n\r\n{"a": '
)


def _check(address: tuple[str, int], path: bytes = b"/x", headers: bytes = b"") -> None:
    for what, sent in UNFINISHED.items():
        answer = _answer(address, sent)
        assert answer.startswith(b"HTTP/1.1 408 "), (what, answer[:200])
    # A body shorter than announced: 408 if the application waits for it; an application that
    # answered before reading it (a 401) keeps its one answer, and the connection is closed.
    answer = _answer(address, SHORT_BODY % (path, headers))
    assert answer.count(b"HTTP/1.1 ") == 1, answer[:300]
    if path != b"/x":
        assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]


@pytest.fixture
def workspace_address(
    workspace_factory: Callable[..., LocalWorkspace],
) -> tuple[str, int, LocalWorkspace]:
    ws = workspace_factory()
    parts = urlsplit(ws.host)
    return str(parts.hostname), int(parts.port or 0), ws


def test_the_local_workspace_closes_requests_that_never_arrive(
    workspace_address: tuple[str, int, LocalWorkspace],
) -> None:
    host, port, ws = workspace_address
    token = client_token(ws.host, ws.credentials["client_id"], ws.credentials["client_secret"])
    _check(
        (host, port), b"/api/2.0/sql/warehouses", b"Authorization: Bearer %s\r\n" % token.encode()
    )
    # 20 half-open connections at once are all closed, and the server still answers.
    socks = [socket.create_connection((host, port), timeout=WAIT_S) for _ in range(20)]
    try:
        for sock in socks:
            sock.sendall(b"GET /api/2.0/sql/warehouses HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        closed = sum(1 for sock in socks if _drain(sock).startswith(b"HTTP/1.1 408 "))
    finally:
        for sock in socks:
            sock.close()
    assert closed == 20
    assert httpx.get(f"{ws.host}/oidc/.well-known/oauth-authorization-server").status_code == 200


def _drain(sock: socket.socket) -> bytes:
    received = b""
    while chunk := sock.recv(4096):
        received += chunk
    return received


@pytest.fixture
def mcp_address(tmp_path: Path) -> Iterator[tuple[str, int]]:
    project = Project.new(tmp_path / "lakegate.yaml")
    project.save()
    with serve_http(project.path, token=TOKEN) as served:
        parts = urlsplit(served.url)
        yield str(parts.hostname), int(parts.port or 0)


def test_serve_http_closes_requests_that_never_arrive(mcp_address: tuple[str, int]) -> None:
    _check(mcp_address, b"/mcp", b"Authorization: Bearer %s\r\n" % TOKEN.encode())


def test_the_studio_closes_requests_that_never_arrive(tmp_path: Path) -> None:
    server = StudioServer(tmp_path / "lakegate.yaml", port=0).start()
    try:
        parts = urlsplit(server.url)
        _check((str(parts.hostname), int(parts.port or 0)))
        assert httpx.get(server.url).status_code in (200, 302, 303, 401, 403)
    finally:
        server.stop()


def test_a_request_that_arrives_in_time_is_not_cut(
    workspace_address: tuple[str, int, LocalWorkspace],
) -> None:
    _, _, ws = workspace_address
    with httpx.Client(base_url=ws.host, timeout=30) as client:
        for _ in range(3):  # keep-alive: the bound applies to each request, not the connection
            answer = client.get("/oidc/.well-known/oauth-authorization-server")
            assert answer.status_code == 200
