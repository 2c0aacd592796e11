"""The MCP server over streamable HTTP, locked down: bearer token, loopback, Host/Origin checks.

A copilot's HTTP endpoint is a door into the data platform, so every request needs the token,
a non-loopback bind needs `--allow-remote`, and Host/Origin are checked against DNS rebinding.

A request is answered with one plain JSON body unless it needs a stream: the client asked for
progress (`_meta.progressToken`), or the tool may ask the user to confirm (elicitation). An SSE
stream per call costs the server ~2x the CPU of the call itself. With `stateless=True` any
replica serves any request (no session); statement handles are then signed (copilot/handles.py).
"""

from __future__ import annotations

import asyncio
import contextvars
import hmac
import ipaddress
import json
import logging
import os
import secrets as pysecrets
import time
from typing import Any

import mcp.server.streamable_http_manager as _manager
from mcp.server.streamable_http import StreamableHTTPServerTransport
from mcp.server.transport_security import TransportSecuritySettings
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lakegate.copilot.audit import AuditLog, now_iso
from lakegate.errors import ConfigError, LakegateError
from lakegate.secrets import SecretStore, register_secret, resolve

__all__ = [
    "TOKEN_ENV",
    "TOKEN_SECRET",
    "BearerGuard",
    "check_bind",
    "http_app",
    "http_copilot",
    "replica_id",
    "server_token",
]

log = logging.getLogger("lakegate.copilot.http")

TOKEN_ENV = "LAKEGATE_MCP_TOKEN"  # noqa: S105 - a variable's name
TOKEN_SECRET = "lakegate_mcp_token"  # noqa: S105 - the secret's name in the store, not a value
LOOPBACK_NAMES = ("localhost",)


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and localhost."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, *, allow_remote: bool) -> None:
    """Refuse a non-loopback bind unless the operator said --allow-remote."""
    if is_loopback(host):
        return
    if not allow_remote:
        raise ConfigError(
            f"Refusing to serve MCP on {host}: it is not a loopback address, so other machines "
            "could reach your data platform through it.",
            code="config.remote_bind",
            hint="Bind 127.0.0.1 (the default), or pass --allow-remote and keep the bearer token "
            "secret (put TLS in front of it).",
        )


def server_token(store: SecretStore, ref: str | None = None) -> tuple[str, bool]:
    """The bearer token and whether it was generated now (stored in the secret store).

    `ref` is a `${env:...}`/`${secret:...}` reference; default: $LAKEGATE_MCP_TOKEN, else the
    store's `lakegate_mcp_token`, else a new random token saved there.
    """
    if ref:
        return _strong(resolve(ref, store), ref), False
    from_env = os.environ.get(TOKEN_ENV)
    if from_env:
        register_secret(from_env)
        return _strong(from_env, f"${TOKEN_ENV}"), False
    stored = store.get(TOKEN_SECRET)
    if stored:
        return stored, False
    token = pysecrets.token_urlsafe(32)
    store.set(TOKEN_SECRET, token)
    return token, True


MIN_TOKEN_CHARS = 32


def _strong(token: str, source: str) -> str:
    """Refuse a bearer token short enough to guess: it guards a door into the data platform."""
    if len(token) < MIN_TOKEN_CHARS:
        raise ConfigError(
            f"The MCP bearer token from {source} has {len(token)} characters; at least "
            f"{MIN_TOKEN_CHARS} are needed.",
            code="config.weak_token",
            hint="Unset it to use the generated one (`lakegate serve --show-token`), or make a "
            'long random one: python3 -c "import secrets; print(secrets.token_urlsafe(32))".',
        )
    return token


class BearerGuard:
    """ASGI middleware: `Authorization: Bearer <token>` or 401 (logged and audited)."""

    def __init__(self, app: ASGIApp, token: str, audit: AuditLog | None = None) -> None:
        self.app = app
        self._token = token.encode()
        self.audit = audit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = b""
        for key, value in scope.get("headers", []):
            if key == b"authorization":
                given = value
                break
        scheme, _, token = given.partition(b" ")
        if scheme.lower() == b"bearer" and hmac.compare_digest(token.strip(), self._token):
            await self.app(scope, receive, send)
            return
        self._record(scope, bool(given))
        body = (
            b'{"error":"unauthorized","message":"Send Authorization: Bearer <token>; '
            b'see lakegate serve --print-config."}'
        )
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"www-authenticate", b'Bearer realm="lakegate"'),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    def _record(self, scope: Scope, had_header: bool) -> None:
        client = scope.get("client") or ("?", 0)
        reason = "wrong token" if had_header else "no Authorization header"
        log.warning(
            "401 %s %s from %s: %s", scope.get("method"), scope.get("path"), client[0], reason
        )
        if self.audit is not None:
            try:
                self.audit.write(
                    {
                        "ts": now_iso(),
                        "event": "http.unauthorized",
                        "outcome": "unauthorized",
                        "remote": client[0],
                        "method": scope.get("method"),
                        "path": scope.get("path"),
                        "reason": reason,
                        "status": 401,
                    }
                )
            except OSError:
                log.exception("could not write the audit log")


def security_settings(
    host: str, port: int, extra_hosts: list[str] | None = None
) -> TransportSecuritySettings:
    """Host/Origin allow lists: loopback names on any port, plus the bind address itself."""
    hosts = ["127.0.0.1:*", "localhost:*", "[::1]:*"]
    origins = ["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"]
    for name in [host, *(extra_hosts or [])]:
        if is_loopback(name):
            continue
        shown = f"[{name}]" if ":" in name and not name.startswith("[") else name
        hosts += [f"{shown}:{port}", shown] if port else [f"{shown}:*"]
        origins += [f"http://{shown}:{port}", f"https://{shown}:{port}", f"https://{shown}"]
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=origins
    )


# Whether the current HTTP request needs an SSE stream (None: not decided here, so the server's
# own setting holds); read by the transport below.
_STREAMED: contextvars.ContextVar[bool | None] = contextvars.ContextVar(
    "lakegate_streamed", default=None
)


class _PerRequestTransport(StreamableHTTPServerTransport):
    """The SDK's transport, answering JSON or SSE per request instead of per server."""

    @property  # type: ignore[override]
    def is_json_response_enabled(self) -> bool:
        chosen = _STREAMED.get()
        return self._configured_json if chosen is None else not chosen

    @is_json_response_enabled.setter
    def is_json_response_enabled(self, value: bool) -> None:
        self._configured_json = value  # what the server was built with: the fallback


# The session manager builds its transports by this module-level name (no factory argument).
# Servers not behind `StreamChooser` (the workspace's own MCP endpoint) keep their setting.
_manager.StreamableHTTPServerTransport = _PerRequestTransport  # type: ignore[misc]


class StreamChooser:
    """ASGI middleware: reads a POST's JSON-RPC body and says whether it needs a stream."""

    def __init__(self, app: ASGIApp, confirming: set[str]) -> None:
        self.app = app
        self.confirming = confirming  # tools that may ask the user (elicitation needs SSE)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") != "POST":
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        token = _STREAMED.set(self._streamed(body))
        try:
            await self.app(scope, replay, send)
        finally:
            _STREAMED.reset(token)

    def _streamed(self, body: bytes) -> bool | None:
        try:
            message = json.loads(body)
        except ValueError:
            return None  # the SDK answers the parse error
        if not isinstance(message, dict) or message.get("method") in (None, "initialize"):
            # initialize starts the session's router, which keeps this choice for its life:
            # the server's own setting (SSE), under which it routes every kind of message
            return None
        params = message.get("params") if isinstance(message.get("params"), dict) else {}
        meta = params.get("_meta") if isinstance(params.get("_meta"), dict) else {}
        if meta.get("progressToken") is not None:
            return True
        return message.get("method") == "tools/call" and params.get("name") in self.confirming


def http_app(
    copilot: Any,
    *,
    token: str,
    host: str = "127.0.0.1",
    port: int = 0,
    extra_hosts: list[str] | None = None,
    stateless: bool = False,
) -> ASGIApp:
    """The ASGI app serving `copilot` (a CopilotServer) at `/mcp`, behind the bearer guard."""
    app = copilot.server.streamable_http_app(
        streamable_http_path="/mcp",
        transport_security=security_settings(host, port, extra_hosts),
        host=host,
        stateless_http=stateless,
    )
    confirming = {name for name, plan in copilot.plans.items() if plan.confirm_required}
    return BearerGuard(StreamChooser(app, confirming), token, copilot.audit)


IDLE_CANCEL_S = 600.0  # a statement nobody polls for this long is cancelled
REPLICA_ENV = "LAKEGATE_REPLICA_ID"


def replica_id() -> str:
    """This process's name in the audit log: $LAKEGATE_REPLICA_ID, else host:pid."""
    import socket

    return os.environ.get(REPLICA_ENV) or f"{socket.gethostname()}:{os.getpid()}"


class _ReplicaAudit:
    """The audit log, every line stamped with the replica that wrote it."""

    def __init__(self, inner: Any, replica: str) -> None:
        self.inner, self.replica = inner, replica

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def write(self, record: dict[str, Any]) -> Any:
        return self.inner.write({**record, "replica": self.replica})


def http_copilot(
    gateway: Any, *, stateless: bool = False, idle_cancel_s: float = IDLE_CANCEL_S
) -> Any:
    """The copilot server for HTTP: replica-stamped audit, idle statements cancelled, and in
    stateless mode signed statement handles (key from the gateway's secret store)."""
    from lakegate.copilot.server import CopilotServer

    class HttpCopilot(CopilotServer):
        async def _run(
            self, ctx: Any, name: str, arguments: dict[str, Any], client: Any, record: Any
        ) -> Any:
            self._watch_idle()
            if self.handles is not None and isinstance(arguments, dict):
                try:
                    arguments, opened = self.handles.open_arguments(arguments)
                except LakegateError as exc:
                    return self._error(record, exc)
                if opened:
                    self.started.add(opened)  # the signature proves this server started it
            result = await super()._run(ctx, name, arguments, client, record)
            answer = record.get("answer")
            sid = getattr(answer, "statement_id", None)
            if self.handles is not None and sid and not result.is_error:
                result.structured_content = self.handles.seal_data(result.structured_content, sid)
                for part in result.content:
                    if getattr(part, "text", None):
                        part.text = self.handles.seal_text(part.text, sid)
            return result

        def _track_statement(self, ctx: Any, plan: Any, answer: Any, inputs: Any) -> None:
            super()._track_statement(ctx, plan, answer, inputs)
            sid = answer.statement_id or inputs.get("statement_id")
            state = (answer.state or "").upper()
            if not sid:
                return
            if state and state not in _TERMINAL and self.kind_of(plan) != "cancel_statement":
                # Started or polled here: the idle clock of this replica restarts.
                self.open_statements.setdefault(sid, None)
                self.last_seen[sid] = time.monotonic()
            else:
                self.last_seen.pop(sid, None)

        def _connection_key(self, ctx: Any) -> object | None:
            if self.handles is not None:
                # Stateless: a "connection" is one request; the idle clock ends statements.
                return None
            return super()._connection_key(ctx)

        @staticmethod
        def kind_of(plan: Any) -> str | None:
            from lakegate.copilot import tools

            return tools.tool_kind(plan.action)

        def _watch_idle(self) -> None:
            if self.idle_task is None or self.idle_task.done():
                self.idle_task = asyncio.get_running_loop().create_task(self.cancel_idle_forever())

        async def cancel_idle_forever(self) -> None:
            while True:
                await asyncio.sleep(min(30.0, self.idle_cancel_s / 4))
                await self.cancel_idle()

        async def cancel_idle(self) -> list[str]:
            """Cancel the statements nobody polled here for `idle_cancel_s`."""
            now = time.monotonic()
            idle = [s for s, t in self.last_seen.items() if now - t >= self.idle_cancel_s]
            for sid in idle:
                self.last_seen.pop(sid, None)
                self.open_statements[sid] = _IDLE
            return await self.cancel_abandoned(_IDLE) if idle else []

    copilot = HttpCopilot(gateway)
    _drop_idle_tracing(copilot.server)
    copilot.replica = replica_id()
    copilot.audit = _ReplicaAudit(copilot.audit, copilot.replica)
    copilot.idle_cancel_s = idle_cancel_s
    copilot.last_seen = {}
    copilot.idle_task = None
    copilot.handles = None
    if stateless:
        from lakegate.copilot.handles import HandleSigner, signing_key

        copilot.handles = HandleSigner(signing_key(gateway.secret_store), idle_cancel_s)
    return copilot


def _drop_idle_tracing(server: Any) -> None:
    """Without a configured OpenTelemetry SDK the SDK's span per message only costs CPU."""
    from opentelemetry import trace

    if type(trace.get_tracer_provider()).__name__ not in (
        "ProxyTracerProvider",
        "NoOpTracerProvider",
    ):
        return
    from mcp.server._otel import OpenTelemetryMiddleware

    server.middleware = [m for m in server.middleware if not isinstance(m, OpenTelemetryMiddleware)]


_IDLE = "idle"  # the owner key of statements cancelled for idleness
_TERMINAL = frozenset({"SUCCEEDED", "FAILED", "CANCELED", "CANCELLED", "CLOSED"})
