"""Run the Studio with uvicorn on loopback: in the foreground (`lakegate studio`) or in a
background thread (tests, embedding)."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import uvicorn

from lakegate._serving import TimedHttpToolsProtocol
from lakegate.errors import ConfigError
from lakegate.studio.app import Studio, create_app

__all__ = ["StudioServer"]

HOST = "127.0.0.1"  # loopback only: the Studio edits secrets and has no other protection layer


class StudioServer:
    """`with StudioServer(path) as studio: studio.login_url()`; port 0 picks a free port."""

    def __init__(self, project_path: str | Path, *, port: int = 0) -> None:
        self.studio = Studio(project_path)
        self.app = create_app(project_path, self.studio)
        self._socket = _bind(port)
        self.port: int = self._socket.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            http=TimedHttpToolsProtocol,  # a request that never arrives is not waited for
            log_level="warning",
            access_log=False,  # access lines would show the one-time login token
            lifespan="off",
            timeout_graceful_shutdown=2,
        )
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"StudioServer(url={self.url!r})"

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def login_url(self) -> str:
        """A fresh one-time login link."""
        return f"{self.url}/login?token={self.studio.gate.issue_login_token()}"

    def serve_forever(self) -> None:
        """Serve in this thread until Ctrl-C."""
        self._server.run(sockets=[self._socket])

    def start(self, timeout_s: float = 10.0) -> StudioServer:
        """Serve in a background thread; return once it accepts requests."""
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the Studio server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._socket.close()

    def __enter__(self) -> StudioServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _bind(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((HOST, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(
            f"Port {port} on {HOST} is not available ({exc.strerror}).",
            code="config.port_in_use",
            hint="Choose another with `lakegate studio --port P` (0 picks a free one).",
        ) from None
    sock.listen(128)
    return sock
