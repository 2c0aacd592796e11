"""The Copilot page: which actions a copilot sees as tools, the writes switch, the pinned
warehouse, and the latest lines of the audit log."""

from __future__ import annotations

from collections import deque
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from lakegate.copilot.audit import AUDIT_FILE, read_records
from lakegate.copilot.policy import PROFILES, plan_tools
from lakegate.secrets import redact_data
from lakegate.studio.app import Studio, done
from lakegate.studio.security import csrf_protected

__all__ = ["routes"]

AUDIT_LINES = 50


def routes(studio: Studio) -> list[BaseRoute]:
    async def page(request: Request) -> Response:
        project = studio.project()
        return studio.page(
            request,
            "copilot.html",
            {
                "policy": project.copilot,
                "plans": plan_tools(project),
                "profiles": PROFILES,
                "audit": recent_audit(studio),
                "saved": request.query_params.get("saved"),
            },
        )

    async def save(request: Request, form: FormData) -> Response:
        project = studio.project()
        policy = project.copilot
        profile = str(form.get("profile") or policy.profile)
        warehouse = str(form.get("warehouse_id") or "").strip() or None
        project.set_copilot(
            policy.model_copy(
                update={
                    "profile": profile if profile in PROFILES else policy.profile,
                    "allow_writes": form.get("allow_writes") == "on",
                    "pinned": policy.pinned.model_copy(update={"warehouse_id": warehouse}),
                }
            )
        )
        project.save()
        return done(request, "/copilot?saved=1")

    return [
        Route("/copilot", page, methods=["GET"]),
        Route("/copilot", csrf_protected(save, studio.refuse), methods=["POST"]),
    ]


def recent_audit(studio: Studio) -> list[dict[str, Any]]:
    """The newest audit records first (already redacted when written; redacted again here)."""
    path = studio.project_path.parent / ".lakegate" / AUDIT_FILE
    newest: deque[dict[str, Any]] = deque(read_records(path), maxlen=AUDIT_LINES)
    return [redact_data(record) for record in reversed(newest)]
