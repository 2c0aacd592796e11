"""`requests.jsonl`: one JSON line per request (ts, method, path, status, ms, principal).

Never a token, a secret, a query string or a body. Each line is one `write(2)` to an
O_APPEND descriptor: it lands in the page cache in microseconds (no fsync, no thread hop)
and is in the file before the response's last byte is sent, so a test can read it at once.
"""

from __future__ import annotations

import json
import os
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lakegate.workspace.faults import FAULT_KEY, LOG_NOW_KEY
from lakegate.workspace.identity.principals import PRINCIPAL_KEY


class AccessLog:
    """An append-only JSON-lines file, safe to share between the two servers."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._lock = threading.Lock()

    def write(self, entry: dict) -> None:
        line = (json.dumps(entry, separators=(",", ":")) + "\n").encode()
        with self._lock:
            if self._fd >= 0:
                os.write(self._fd, line)

    def close(self) -> None:
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1


class AccessLogMiddleware:
    """Outermost ASGI layer: times each request and logs it, faults included."""

    def __init__(self, app: ASGIApp, log: AccessLog, server: str) -> None:
        self.app = app
        self.log = log
        self.server = server  # "workspace" or "account"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status: list[int] = []
        logged = False

        def entry(code: int | None) -> dict:
            line = {
                "ts": datetime.now(UTC).isoformat(timespec="milliseconds"),
                "server": self.server,
                "method": scope["method"],
                "path": scope["path"],
                "status": code,
                "ms": round((time.perf_counter() - started) * 1000, 2),
                "principal": scope.get(PRINCIPAL_KEY),
            }
            if fault := scope.get(FAULT_KEY):
                line["fault"] = fault
            return line

        def log_now() -> None:
            nonlocal logged
            if not logged:
                self.log.write(entry(status[0] if status else None))
                logged = True

        async def logging_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                log_now()  # before the last byte: a client that has the answer can read the line
            await send(message)

        scope[LOG_NOW_KEY] = log_now
        try:
            await self.app(scope, receive, logging_send)
        finally:
            log_now()  # a client gone or a crash before the last byte
