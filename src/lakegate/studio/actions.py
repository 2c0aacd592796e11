"""Action pages: the editor, Import cURL, the Test panel (through the Gateway) and Save."""

from __future__ import annotations

import json
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from lakegate.databricks.doctor import diagnose
from lakegate.errors import AuthError, HTTPStatusError, LakegateError, TransportError
from lakegate.gateway import Gateway
from lakegate.project import METHODS, Action, Project
from lakegate.secrets import redact, redact_data
from lakegate.studio.action_form import INPUT_TYPES, LABELS, RISKS, ActionDraft
from lakegate.studio.connection import form_terms, step_view
from lakegate.studio.forms import check_name, chosen_name
from lakegate.studio.pages import Studio, done
from lakegate.studio.security import csrf_protected

__all__ = ["routes"]

DRAFT_NAME = "studio_draft"  # the name a Test uses while the action has no valid name yet


def routes(studio: Studio) -> list[BaseRoute]:
    def render(
        request: Request,
        draft: ActionDraft,
        existing: Action | None,
        test: dict[str, Any] | None = None,
        status: int = 200,
        intent: str = "",
    ) -> Response:
        project = studio.project()
        base = project.connectors.get(draft.connector)
        return studio.page(
            request,
            "action.html",
            {
                "draft": draft,
                "is_new": existing is None,
                "connectors": list(project.connectors.values()),
                "base_url": base.base_url if base else "",
                "methods": METHODS,
                "input_types": INPUT_TYPES,
                "risks": RISKS,
                "handler": existing.handler if existing else None,
                "test": test,
                "saved": request.query_params.get("saved"),
                "intent": intent,
                "labels": LABELS,
            },
            status,
        )

    async def new_form(request: Request) -> Response:
        draft = ActionDraft()
        connectors = studio.project().connectors
        wanted = request.query_params.get("connector")
        draft.connector = wanted if wanted in connectors else next(iter(connectors), "")
        return render(request, draft, None)

    async def edit_form(request: Request) -> Response:
        existing = studio.project().action(request.path_params["name"])
        return render(request, ActionDraft.from_action(existing), existing)

    async def submit(request: Request, form: FormData) -> Response:
        project = studio.project()
        original = request.path_params.get("name")
        existing = project.action(original) if original else None
        draft = ActionDraft.from_form(form)
        intent = str(form.get("intent") or "save")
        if intent == "import_curl":
            draft.import_curl(project.connectors)
            status = 422 if draft.errors else 200
            return render(request, draft, existing, status=status, intent=intent)
        if intent in ("test", "test_write"):  # test_write: the user confirmed a write
            draft.confirmed = draft.confirmed or intent == "test_write"
            test = await run_test(project, draft, original, existing)
            return render(request, draft, existing, test, intent=intent)
        if intent != "save":  # a table grew a row: show it
            return render(request, draft, existing, intent=intent)

        name = chosen_name(draft.errors, original, draft.name, project.actions, "action")
        action = draft.build(DRAFT_NAME if "name" in draft.errors else name, existing)
        if action is None or draft.errors:
            return render(request, draft, existing, status=422, intent="save")
        project.set_action(name, action)
        project.save()
        return done(request, f"/actions/{name}?saved=1")

    async def delete(request: Request, form: FormData) -> Response:
        project = studio.project()
        name = request.path_params["name"]
        project.action(name)  # an unknown action is a 404, asked or not
        if form.get("confirmed") != "yes":  # without JavaScript, nothing asked yet: ask here
            return studio.confirm(
                request,
                f"Remove action {name}?",
                f"lakegate.yaml loses action {name}; copilots no longer see it as a tool.",
                button="Remove action",
                back=f"/actions/{name}",
            )
        project.remove_action(name)
        project.save()
        return done(request, "/?saved=removed")

    return [
        Route("/actions/new", new_form, methods=["GET"]),
        Route("/actions/new", csrf_protected(submit, studio.refuse), methods=["POST"]),
        Route("/actions/{name}", edit_form, methods=["GET"]),
        Route("/actions/{name}", csrf_protected(submit, studio.refuse), methods=["POST"]),
        Route("/actions/{name}/delete", csrf_protected(delete, studio.refuse), methods=["POST"]),
    ]


async def run_test(
    project: Project, draft: ActionDraft, original: str | None, existing: Action | None
) -> dict[str, Any]:
    """Call the action as it stands in the form (unsaved) through the Gateway; a write is sent
    only once the user confirmed it."""
    name = original or (draft.name if check_name(draft.name, set(), "action") is None else "")
    name = name or DRAFT_NAME
    action = draft.build(name, existing)
    if action is None:
        return {"invalid": True}
    if action.risk != "read" and not draft.confirmed:
        connector = project.connectors.get(action.connector)
        return {"confirm": True, "action": action, "host": connector.base_url if connector else ""}
    project.set_action(name, action)  # in memory only: a Test never writes the file
    async with Gateway(project) as gateway:
        result = await gateway.test(name, draft.test_inputs())
    summary = result.to_dict()
    if result.error is not None:
        page = f"/connectors/{action.connector}"
        summary["error"]["hint"] = form_terms(result.error.hint, page) if result.error.hint else ""
    raw = redact_data(result.raw)
    text = raw if isinstance(raw, str) else json.dumps(raw, indent=2, ensure_ascii=False)
    panel: dict[str, Any] = {
        "result": result,
        "summary": summary,
        "raw": raw,
        "raw_text": redact(text) if result.raw is not None else "",
        "size": _size(len(text.encode())) if result.raw is not None else "",
    }
    if not result.ok and _worth_a_diagnosis(result.error):
        panel["diagnosis"] = await _diagnosis(project, action.connector)
    return panel


def _size(count: int) -> str:
    if count < 1024:
        return f"{count} B"
    return f"{count / 1024:.1f} KB" if count < 1024 * 1024 else f"{count / 1048576:.1f} MB"


def _worth_a_diagnosis(error: LakegateError | None) -> bool:
    """Connector-level failures (credentials, reach, refusals) are what the doctor explains."""
    if isinstance(error, AuthError | TransportError):
        return True
    return isinstance(error, HTTPStatusError) and error.status in (401, 403)


async def _diagnosis(project: Project, connector: str) -> dict[str, Any]:
    """The doctor's steps on the connector, as the page shows them."""
    page = f"/connectors/{connector}"
    try:
        steps = await diagnose(project, connector)
    except LakegateError as exc:
        return {"steps": [], "error": redact(exc.message), "hint": form_terms(exc.hint, page)}
    return {"steps": [step_view(step, page) for step in steps]}
