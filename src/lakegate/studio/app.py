"""The Studio application: pages over one project file, behind the login gate.

Every request reads `lakegate.yaml` afresh (the CLI or an editor may have changed it) and every
save goes through `Project.save()`; requests are sent only by the Gateway.
"""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from lakegate.errors import LakegateError, NotFoundError
from lakegate.secrets import redact
from lakegate.studio import actions, connectors, copilot, security
from lakegate.studio.pages import HERE, Studio, done
from lakegate.studio.security import GateMiddleware

__all__ = ["Studio", "create_app", "done"]


def create_app(project_path: str | Path, studio: Studio | None = None) -> Starlette:
    """The Studio's ASGI app for the project at `project_path`."""
    studio = studio or Studio(project_path)

    async def login(request: Request) -> Response:
        session = studio.gate.redeem(request.query_params.get("token", ""))
        if session is None:
            if request.state.session is not None:  # already signed in: the link was reused
                return RedirectResponse("/", status_code=303)
            return studio.refuse(request, 401)
        response = RedirectResponse("/", status_code=303)
        secure = request.url.scheme == "https"
        response.headers["set-cookie"] = security.cookie_header(session, secure=secure)
        return response

    async def index(request: Request) -> Response:
        project = studio.project()
        return studio.page(
            request,
            "index.html",
            {
                "connectors": list(project.connectors.values()),
                "actions": list(project.actions.values()),
                "saved": request.query_params.get("saved"),
            },
        )

    async def session_token(request: Request) -> Response:
        """The signed-in session's CSRF token: a page opened before a restart picks up the new
        session with it (same-origin only: no CORS, and the Host check stops rebinding)."""
        return JSONResponse({"csrf_token": request.state.session.csrf})

    async def failed(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, LakegateError)
        return studio.page(
            request,
            "problem.html",
            {"message": redact(exc.message), "hint": redact(exc.hint), "code": exc.code},
            status=404 if isinstance(exc, NotFoundError) else 409,
        )

    async def new_link(request: Request) -> Response:
        """A fresh one-time login link for `lakegate studio --link` (a second browser)."""
        if not studio.gate.new_link_allowed(request.headers.get("authorization", "")):
            return JSONResponse({"error": "not allowed"}, status_code=401)
        token = studio.gate.issue_login_token()
        return JSONResponse({"url": f"{request.base_url}login?token={token}"})

    # No cookie, no form: a bearer key a browser cannot send cross-site, so no CSRF token.
    new_link.bearer_only = True  # type: ignore[attr-defined]

    routes: list[BaseRoute] = [
        Route("/", index),
        Route("/login", login),
        Route("/login/new", new_link, methods=["POST"]),
        Route("/session", session_token),
        *connectors.routes(studio),
        *actions.routes(studio),
        *copilot.routes(studio),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    app = Starlette(routes=routes, exception_handlers={LakegateError: failed})
    app.state.studio = studio
    app.add_middleware(GateMiddleware, gate=studio.gate, refuse=studio.refuse)
    return app
