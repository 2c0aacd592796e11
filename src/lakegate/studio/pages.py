"""The Studio's page helpers, shared by every route module: the project it edits, its login
gate and templates, the refusal page, and the redirect after a save."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.templating import Jinja2Templates

from lakegate.project import Project, load_project
from lakegate.secrets import SecretStore, redact
from lakegate.studio import security
from lakegate.studio.jsonview import json_html
from lakegate.studio.security import Gate

__all__ = ["HERE", "Studio", "done"]

HERE = Path(__file__).parent
REFUSALS = {
    400: ("Wrong address", "The Studio answers only on loopback (127.0.0.1 or localhost)."),
    401: (
        "Sign in with your link",
        "Open the Studio with the link printed by `lakegate studio` (it carries a one-time "
        "login token). If your session ended (the Studio restarted, or its cookie was cleared), "
        "get a new link: stop the running `lakegate studio` (Ctrl-C) and start it again.",
    ),
}
REASONS_403 = {
    "missing": "The form arrived without the page's security token (it may have been sent "
    "from another page or tool).",
    "stale": "The form carried the security token of an earlier session: the Studio restarted "
    "or you signed in again since the page was opened.",
    "origin": "The form was sent by another site or another local port, not by this Studio's "
    "own page, so it was not trusted.",
}
# Never shown back on a refusal page: write-only values, and pasted commands that may hold one.
UNECHOED = {"csrf_token", "client_secret", "refresh_token", "password", "key", "token", "curl"}


class Studio:
    """The project the Studio edits, its secret store, login gate and templates."""

    def __init__(self, project_path: str | Path) -> None:
        self.project_path = Path(project_path).resolve()
        self.gate = Gate()
        env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True
        )
        self.templates = Jinja2Templates(env=env)
        self.templates.env.globals["json_html"] = json_html
        self.templates.env.filters["redact"] = redact

    def __repr__(self) -> str:
        return f"Studio(project={str(self.project_path)!r})"

    def project(self) -> Project:
        """The project as it is on disk now (an empty one if the file does not exist yet)."""
        if self.project_path.exists():
            return load_project(self.project_path)
        return Project.new(self.project_path)

    def secret_store(self) -> SecretStore:
        return SecretStore(self.project_path.parent / ".lakegate")

    def page(
        self, request: Request, template: str, context: dict[str, Any], status: int = 200
    ) -> HTMLResponse:
        """A rendered page; the session's CSRF token and the project path are always there."""
        full = {
            **security.context(request),
            "project_path": str(self.project_path),
            "nav": request.url.path,
            **context,
        }
        return self.templates.TemplateResponse(request, template, full, status_code=status)

    def confirm(
        self,
        request: Request,
        title: str,
        text: str,
        *,
        button: str,
        back: str,
        secrets: list[str] | None = None,
    ) -> HTMLResponse:
        """The question a destructive button asks when the page had no JavaScript to ask it: the
        same post again, with `confirmed=yes`, or the way back."""
        context = {"title": title, "text": text, "button": button, "back": back,
                   "action": request.url.path, "secrets": secrets or []}  # fmt: skip
        return self.page(request, "confirm.html", context)

    def refuse(
        self, request: Request, status: int, *, reason: str = "", form: FormData | None = None
    ) -> Response:
        """The refusal page: what failed, what was sent (secrets left out), and the way back."""
        if status == 403:
            title, text = "Not saved: the request was refused", REASONS_403.get(reason, "")
        else:
            title, text = REFUSALS[status]
        # Another site's or port's form is not the user's: none of its values is shown back as
        # "what you sent" (a forged token URL would look like the user's own edit).
        foreign = status == 403 and reason == "origin"
        kept = [
            (key, str(value))
            for key, value in (form.multi_items() if form is not None and not foreign else [])
            if key not in UNECHOED and not key.startswith("pending_") and str(value).strip()
        ]
        session = getattr(request.state, "session", None)
        response = self.templates.TemplateResponse(
            request,
            "refused.html",
            {
                "title": title,
                "text": text,
                "status": status,
                "reason": reason,
                "kept": kept,
                "dropped": any(k in UNECHOED - {"csrf_token"} for k, _ in form.multi_items())
                if form is not None and not foreign
                else False,
                # Sending again is offered only for our own page's stale or missing token: the
                # user sees every value first. A foreign origin's request is never replayed.
                "resend": status == 403 and reason in ("missing", "stale") and session is not None,
                "action": request.url.path,
                "back": _back(request.url.path),
                "csrf_token": session.csrf if session and status != 401 else "",
                "signed_in": session is not None,
                "nav": request.url.path,
                "project_path": str(self.project_path),
            },
            status_code=status,
        )
        response.headers["x-lakegate-refusal"] = reason or str(status)
        return response


def _back(path: str) -> str:
    """The page a refused form came from."""
    if path.endswith("/delete"):
        return path.removesuffix("/delete")
    return path if path.startswith(("/connectors/", "/actions/", "/copilot")) else "/"


def done(request: Request, url: str) -> Response:
    """After a save: a redirect, which htmx turns into a full navigation."""
    if request.headers.get("hx-request"):
        return Response(status_code=200, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)
