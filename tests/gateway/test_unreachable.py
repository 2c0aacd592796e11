"""An unreachable host is told in words a person acts on: refused port, DNS, plain http to TLS."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from lakegate._wire import failure_reason
from lakegate.gateway import Gateway
from lakegate.project import Action, Connector, Project


def _project(tmp_path, base_url: str) -> Project:
    project = Project.new(tmp_path / "lakegate.yaml")
    project.set_connector("api", Connector(name="api", base_url=base_url))
    project.set_action("ping", Action(name="ping", connector="api", path="/ping"))
    return project


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def tls_only() -> Iterator[int]:
    """A port that closes any connection that does not start a TLS handshake."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            conn.recv(1024)
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join(2)
    server.close()


async def test_a_closed_port_is_not_blamed_on_dns(tmp_path) -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    async with Gateway(_project(tmp_path, url), budget_s=3) as gw:
        result = await gw.call("ping")
    assert result.error.code == "request.connect_failed"
    assert "connection refused" in result.error.message
    assert "DNS" not in result.error.message + result.error.hint
    assert "port" in result.error.hint


async def test_plain_http_to_an_https_server_says_use_https(tmp_path, tls_only: int) -> None:
    async with Gateway(_project(tmp_path, f"http://127.0.0.1:{tls_only}"), budget_s=3) as gw:
        result = await gw.call("ping")
    assert not result.ok
    assert "closed the connection" in result.error.message
    assert "use https://" in result.error.hint


def test_dns_failures_are_named_as_such() -> None:
    assert failure_reason(socket.gaierror(-2, "Name or service not known")) == (
        "the host name does not resolve (DNS)"
    )
    wrapped = OSError("x")
    wrapped.__cause__ = ConnectionRefusedError(111, "Connection refused")
    assert failure_reason(wrapped).startswith("connection refused")
