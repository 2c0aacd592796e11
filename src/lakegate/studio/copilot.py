"""The Copilot page: which actions a copilot sees as tools, the profile and writes switch, the
pinned warehouse (chosen from the workspace's list), the snippet that connects each client, and
the latest lines of the audit log."""

from __future__ import annotations

import json
import shutil
import sys
from collections import deque
from datetime import UTC, datetime
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from lakegate.copilot import (
    AUDIT_FILE,
    PROFILES,
    ClientSnippet,
    client_snippet,
    env_names,
    plan_tools,
    read_records,
)
from lakegate.project import Project
from lakegate.secrets import redact_data
from lakegate.studio.connection import warehouses
from lakegate.studio.pages import Studio, done
from lakegate.studio.security import csrf_protected

__all__ = ["routes"]

AUDIT_LINES = 50
SNIPPET_CLIENTS = ("claude-desktop", "claude-code", "vscode", "cursor")
PROFILE_TEXT = {
    "readonly": "read tools only",
    "operator": "read and write tools",
    "admin": "read, write and destructive tools",
}


def routes(studio: Studio) -> list[BaseRoute]:
    async def page(request: Request) -> Response:
        project = studio.project()
        listed, why = await warehouses(studio.project())
        return studio.page(
            request,
            "copilot.html",
            {
                "policy": project.copilot,
                "plans": plan_tools(project),
                "profiles": [(p, PROFILE_TEXT.get(p, p)) for p in PROFILES],
                "audit": recent_audit(studio),
                "saved": request.query_params.get("saved"),
                "warehouses": listed,
                "warehouses_note": why,
                "snippets": snippets(studio, project),
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


def serve_command(studio: Studio) -> list[str]:
    """The command a client starts, as `lakegate serve --print-config` writes it."""
    found = shutil.which("lakegate")
    program = [found] if found else [sys.executable, "-m", "lakegate"]
    return [*program, "--project", str(studio.project_path), "serve"]


def snippets(studio: Studio, project: Project) -> list[dict[str, Any]]:
    """Claude Desktop, Claude Code, VS Code and Cursor: the JSON to paste, where, and what is
    left to do (Claude Desktop: the values to put in place of its placeholders)."""
    env = env_names(project)
    out = []
    for client in SNIPPET_CLIENTS:
        snippet: ClientSnippet = client_snippet(client, command=serve_command(studio), env=env)
        out.append(
            {
                "id": snippet.client,
                "title": snippet.title,
                "where": snippet.where,
                "json": json.dumps(snippet.config, indent=2),
                "notes": snippet.notes,
            }
        )
    return out


def recent_audit(studio: Studio) -> list[dict[str, Any]]:
    """The newest audit records first (already redacted when written; redacted again here)."""
    path = studio.project_path.parent / ".lakegate" / AUDIT_FILE
    newest: deque[dict[str, Any]] = deque(read_records(path), maxlen=AUDIT_LINES)
    now = datetime.now(UTC)
    out = []
    for record in reversed(newest):
        shown = redact_data(record)
        shown["when"], shown["ago"] = readable_time(str(record.get("ts") or ""), now)
        out.append(shown)
    return out


def readable_time(stamp: str, now: datetime) -> tuple[str, str]:
    """("2026-11-30 12:14:58 UTC", "5 min ago") for an ISO time stamp; the stamp itself if odd."""
    try:
        when = datetime.fromisoformat(stamp.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return stamp, ""
    seconds = int((now - when).total_seconds())
    if seconds < 0:
        ago = ""
    elif seconds < 60:
        ago = "just now"
    elif seconds < 3600:
        ago = f"{seconds // 60} min ago"
    elif seconds < 86400:
        ago = f"{seconds // 3600} h ago"
    else:
        ago = f"{seconds // 86400} d ago"
    return when.strftime("%Y-%m-%d %H:%M:%S UTC"), ago
