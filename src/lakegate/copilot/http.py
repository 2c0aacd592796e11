"""The MCP server over streamable HTTP, locked down: bearer token, loopback, Host/Origin checks.

A copilot's HTTP endpoint is a door into the data platform, so every request needs the token,
a non-loopback bind needs `--allow-remote`, and Host/Origin are checked against DNS rebinding.

A request is answered with one plain JSON body unless it needs a stream: the client asked for
progress (`_meta.progressToken`), or the tool may ask the user to confirm (elicitation): a
stream per call costs the server CPU and needs proxies that pass streams. With `stateless=True`
any replica serves any request (no session); see copilot/scaleout.py and copilot/handles.py.
"""

from __future__ import annotations

import contextvars
import hmac
import json
import logging
import os
import secrets as pysecrets
import time
from collections.abc import Callable
from typing import Any

import mcp.server.streamable_http_manager as _manager
from mcp.server.streamable_http import StreamableHTTPServerTransport
from mcp.server.transport_security import TransportSecuritySettings
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lakegate.authconfig import is_loopback
from lakegate.copilot.audit import AuditLog, now_iso
from lakegate.copilot.oauth import JwtVerifier, auth_settings
from lakegate.copilot.scaleout import http_copilot, replica_id
from lakegate.errors import ConfigError
from lakegate.secrets import SecretStore, register_secret, resolve

__all__ = [
    "TOKEN_ENV",
    "TOKEN_SECRET",
    "BearerGuard",
    "check_bind",
    "freeze_startup_heap",
    "http_app",
    "http_copilot",
    "oauth_verifier",
    "replica_id",
    "server_token",
    "uvicorn_server",
]

log = logging.getLogger("lakegate.copilot.http")

TOKEN_ENV = "LAKEGATE_MCP_TOKEN"  # noqa: S105 - a variable's name
TOKEN_SECRET = "lakegate_mcp_token"  # noqa: S105 - the secret's name in the store, not a value


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
    kept = store.setdefault(TOKEN_SECRET, token)  # a replica started at once may have won
    return kept, kept == token


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


UNAUTHORIZED_WINDOW_S = 60.0  # one audit line per remote address per window, with a count
_MAX_REMOTES = 4096


class BearerGuard:
    """ASGI middleware: `Authorization: Bearer <token>` or 401 (logged and audited).

    Refusals are sampled: one line per remote address per minute, counting the refusals since
    its last line, so strangers who can reach the port cannot rotate real calls out of the log.
    """

    def __init__(
        self,
        app: ASGIApp,
        token: str,
        audit: AuditLog | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self._token = token.encode()
        self.audit = audit
        self._clock = clock
        self._refused: dict[str, tuple[float, int]] = {}  # remote -> (line written at, since)

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

    def _due(self, remote: str) -> int:
        """0 while `remote`'s window is open (the refusal is only counted), else how many
        refusals the line written now stands for (this one included)."""
        now = self._clock()
        written, since = self._refused.get(remote, (float("-inf"), 0))
        if now - written < UNAUTHORIZED_WINDOW_S:
            self._refused[remote] = (written, since + 1)
            return 0
        if len(self._refused) >= _MAX_REMOTES and remote not in self._refused:
            oldest = min(self._refused, key=lambda r: self._refused[r][0])
            del self._refused[oldest]
        self._refused[remote] = (now, 0)
        return since + 1

    def _record(self, scope: Scope, had_header: bool) -> None:
        client = scope.get("client") or ("?", 0)
        count = self._due(str(client[0]))
        if not count:
            return
        reason = "wrong token" if had_header else "no Authorization header"
        log.warning(
            "401 %s %s from %s: %s (%d refused since the last line)",
            scope.get("method"),
            scope.get("path"),
            client[0],
            reason,
            count,
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
                        "count": count,
                        "window_s": UNAUTHORIZED_WINDOW_S,
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
        try:
            streamed = self._streamed(body)
        except RecursionError:  # json.loads gives up on very deep nesting: the client's fault
            await _parse_error(send, "JSON nested too deeply")
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        token = _STREAMED.set(streamed)
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


async def _parse_error(send: Send, why: str) -> None:
    """A JSON-RPC parse error (-32700) with HTTP 400, as the SDK answers unreadable JSON."""
    body = json.dumps(
        {"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": f"Parse error: {why}"}}
    ).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": 400, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def http_app(
    copilot: Any,
    *,
    token: str | None,
    host: str = "127.0.0.1",
    port: int = 0,
    extra_hosts: list[str] | None = None,
    stateless: bool = False,
    verifier: JwtVerifier | None = None,
) -> ASGIApp:
    """The ASGI app serving `copilot` (a CopilotServer) at `/mcp`: behind the static bearer
    guard, or, with `verifier`, as an OAuth protected resource (copilot/oauth.py)."""
    app = copilot.server.streamable_http_app(
        streamable_http_path="/mcp",
        transport_security=security_settings(host, port, extra_hosts),
        host=host,
        stateless_http=stateless,
        auth=auth_settings(verifier) if verifier is not None else None,
        token_verifier=verifier,
    )
    confirming = {name for name, plan in copilot.plans.items() if plan.confirm_required}
    chooser = StreamChooser(app, confirming)
    if verifier is not None:
        return chooser
    if not token:
        raise ConfigError("serve --http needs a bearer token or copilot.auth.type: oauth.")
    return BearerGuard(chooser, token, copilot.audit)


def oauth_verifier(auth: Any, url: str) -> JwtVerifier | None:
    """The verifier for `copilot.auth` (None in bearer mode); `url`: this server's /mcp URL,
    the audience unless the policy names one."""
    if auth.type != "oauth":
        return None
    return JwtVerifier(
        issuer=str(auth.issuer),
        audience=auth.audience or url,
        jwks_uri=auth.jwks_uri,
        jwks_file=auth.jwks_file,
        required_scopes=auth.required_scopes,
        user_claim=auth.user_claim,
    )


def uvicorn_server(app: ASGIApp) -> Any:
    """A uvicorn Server for `app`, as `serve --http` runs it (serve it with `sockets=[...]`)."""
    import uvicorn

    # httptools: uvicorn's pure-Python h11 parser was ~19% of the server's CPU per tool call.
    from lakegate._serving import TimedHttpToolsProtocol

    config = uvicorn.Config(
        app, http=TimedHttpToolsProtocol, log_level="warning", access_log=False, lifespan="on"
    )
    return uvicorn.Server(config)


# Ten times the interpreter's default: one request allocates more than 700 short-lived objects,
# which the default scanned several times over before they died anyway.
YOUNG_GC_THRESHOLD = 7000


def freeze_startup_heap() -> None:
    """Keep what start-up built (modules, schemas, models: ~130k objects that live as long as
    the process) out of every later garbage collection; call once, just before serving."""
    import gc

    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_GC_THRESHOLD, *gc.get_threshold()[1:])
