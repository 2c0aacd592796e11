"""Who may use the Studio: a one-time login link, a session cookie, CSRF tokens, strict headers.

The Studio edits a project and can read its secrets' effects, so it trusts nothing by default:
only loopback Host names (no DNS rebinding), only requests carrying a session made from the
one-time link printed by `lakegate studio`, and only state changes carrying the session's CSRF
token. Every response forbids framing, inline scripts and caching.

CSRF design: the token (form field or `X-CSRF-Token` header) is what proves a request came from
our page; the cookie is `SameSite=Strict`, so no other site's request carries a session at all.
`Referrer-Policy: same-origin` keeps the login token out of any other site's Referer while letting
Chromium send our own `Origin` on a form post; `Origin: null` (privacy settings, some browsers'
plain form posts) is accepted with a valid token, and a foreign Origin is refused even with one.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "COOKIE",
    "CSRF_FIELD",
    "CSRF_HEADER",
    "Gate",
    "GateMiddleware",
    "Session",
    "csrf_protected",
]

COOKIE = "lakegate_studio"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SESSION_IDLE_S = 12 * 3600
MAX_PENDING = 64
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}
# Paths served without a session: the login link itself and the (public, static) assets.
PUBLIC_PREFIXES = ("/static/", "/login")

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "object-src 'none'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    # The login link carries a token: never let it travel to another site in a Referer. Not
    # `no-referrer`: with it Chromium sends `Origin: null` on our own form posts.
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
]

# refuse(request, status, *, reason="", form=None): the refusal page for a request.
Refuse = Callable[..., Response]


@dataclass
class Session:
    """One browser's session: its CSRF token, and secrets typed into forms but not yet saved."""

    id: str
    csrf: str
    last_seen: float = field(default_factory=time.monotonic)
    # Draft key -> a secret typed into a form that was re-rendered before being saved. Memory
    # only: the page carries the key, never the value.
    pending: dict[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"Session(pending={len(self.pending)})"

    def keep(self, value: str) -> str:
        """Hold a typed secret until the form is saved; the key is what the page carries."""
        key = secrets.token_urlsafe(12)
        self.pending[key] = value
        while len(self.pending) > MAX_PENDING:  # forms abandoned mid-edit: forget the oldest
            self.pending.pop(next(iter(self.pending)))
        return key


class Gate:
    """One-time login tokens and the sessions they open."""

    def __init__(self) -> None:
        self._tokens: set[str] = set()
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()
        # What `lakegate studio --link` shows (it reads it from the 0600 secret store) to get
        # a new login link from this running Studio: same user, same machine.
        self.link_key = secrets.token_urlsafe(32)

    def new_link_allowed(self, authorization: str) -> bool:
        """True when `authorization` is `Bearer <link_key>`."""
        return hmac.compare_digest(authorization, f"Bearer {self.link_key}")

    def __repr__(self) -> str:
        return f"Gate(sessions={len(self._sessions)})"

    def issue_login_token(self) -> str:
        """A new token for `/login?token=...`, valid once."""
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._tokens.add(token)
        return token

    def redeem(self, token: str) -> Session | None:
        """Open a session with a login token (which is then spent), or None."""
        with self._lock:
            match = next((t for t in self._tokens if hmac.compare_digest(t, token)), None)
            if match is None:
                return None
            self._tokens.discard(match)
            session = Session(id=secrets.token_urlsafe(32), csrf=secrets.token_urlsafe(32))
            self._sessions[session.id] = session
            return session

    def session(self, session_id: str | None) -> Session | None:
        """The live session with this id, or None (unknown or idle too long)."""
        if not session_id:
            return None
        with self._lock:
            found = self._sessions.get(session_id)
            now = time.monotonic()
            if found is None or now - found.last_seen > SESSION_IDLE_S:
                self._sessions.pop(session_id, None)
                return None
            found.last_seen = now
            return found

    def end(self, session_id: str) -> None:
        with self._lock:
            self._sessions.pop(session_id, None)


def _host_name(scope: Scope) -> str:
    for key, value in scope.get("headers", []):
        if key == b"host":
            host = value.decode("latin-1").strip().lower()
            if host.startswith("["):  # [::1]:8765
                return host[1 : host.find("]")]
            return host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    return ""


def _cookie(scope: Scope) -> str | None:
    for key, value in scope.get("headers", []):
        if key == b"cookie":
            jar: SimpleCookie = SimpleCookie()
            try:
                jar.load(value.decode("latin-1"))
            except Exception:  # a malformed cookie header is no session
                return None
            morsel = jar.get(COOKIE)
            return morsel.value if morsel else None
    return None


class GateMiddleware:
    """Refuses foreign Host names and requests without a session; adds the security headers."""

    def __init__(self, app: ASGIApp, gate: Gate, refuse: Refuse) -> None:
        self.app = app
        self.gate = gate
        self.refuse = refuse

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        path = scope.get("path", "")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if not path.startswith("/static/"):  # pages carry project data: never cache them
                    headers = [(k, v) for k, v in headers if k.lower() != b"cache-control"]
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers + SECURITY_HEADERS
            await send(message)

        request = Request(scope)
        if _host_name(scope) not in LOOPBACK_HOSTS:
            await self.refuse(request, 400)(scope, receive, send_with_headers)
            return
        session = self.gate.session(_cookie(scope))
        scope.setdefault("state", {})["session"] = session
        if session is None and not path.startswith(PUBLIC_PREFIXES):
            form = None
            if scope.get("method") == "POST":  # the refusal page shows what was sent
                form = await Request(scope, receive).form()
            await self.refuse(request, 401, form=form)(scope, receive, send_with_headers)
            return
        await self.app(scope, receive, send_with_headers)


Endpoint = Callable[[Request, FormData], Awaitable[Response]]


def csrf_problem(request: Request, session: Session, form: FormData) -> str | None:
    """Why a state change is refused ("missing", "stale" or "origin"), or None when it may go on."""
    # A browser sends Origin on POST: it must be this very server, not another local port. It
    # is checked first: another page's forged form is "origin" whether or not it has a token, so
    # it is never offered for resending. "null" carries no origin at all (privacy settings):
    # the token and the Strict cookie decide.
    origin = request.headers.get("origin")
    own = f"{request.url.scheme}://{request.headers.get('host', '')}"
    if origin and origin not in ("null", own):
        return "origin"
    given = request.headers.get(CSRF_HEADER) or form.get(CSRF_FIELD)
    if not isinstance(given, str) or not given:
        return "missing"
    if not hmac.compare_digest(given, session.csrf):
        return "stale"
    return None


def csrf_protected(endpoint: Endpoint, refuse: Refuse) -> Callable[[Request], Awaitable[Response]]:
    """Wrap a state-changing endpoint: the session's CSRF token (field or header) is required."""

    async def checked(request: Request) -> Response:
        session: Session | None = request.state.session
        form = await request.form()
        if session is None:
            return refuse(request, 401, form=form)
        problem = csrf_problem(request, session, form)
        if problem is not None:
            return refuse(request, 403, reason=problem, form=form)
        return await endpoint(request, form)

    checked.__name__ = getattr(endpoint, "__name__", "checked")
    checked.csrf_protected = True  # type: ignore[attr-defined]
    return checked


def cookie_header(session: Session, *, secure: bool) -> str:
    """The Set-Cookie value for a new session."""
    parts = [f"{COOKIE}={session.id}", "Path=/", "HttpOnly", "SameSite=Strict"]
    if secure:
        parts.append("Secure")
    return "; ".join(parts)


def context(request: Request) -> dict[str, Any]:
    """What every template needs from the session."""
    session: Session | None = getattr(request.state, "session", None)
    return {"csrf_token": session.csrf if session else ""}
