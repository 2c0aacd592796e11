"""Action pages: the editor, Import cURL, the Test panel (through the Gateway) and Save."""

from __future__ import annotations

import importlib
import inspect
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from lakegate.errors import AuthError, HTTPStatusError, LakegateError, TransportError
from lakegate.gateway import Gateway
from lakegate.project import METHODS, Action, Project
from lakegate.secrets import redact
from lakegate.studio.action_form import INPUT_TYPES, RISKS, ActionDraft
from lakegate.studio.app import Studio, done
from lakegate.studio.forms import check_name
from lakegate.studio.security import csrf_protected

__all__ = ["routes"]

RESERVED = {"new"}
DRAFT_NAME = "studio_draft"  # the name a Test uses while the action has no valid name yet


def routes(studio: Studio) -> list[BaseRoute]:
    def render(
        request: Request,
        draft: ActionDraft,
        existing: Action | None,
        test: dict[str, Any] | None = None,
        status: int = 200,
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
            return render(request, draft, existing, status=422 if draft.errors else 200)
        if intent == "test":
            test = await run_test(project, draft, original, existing)
            return render(request, draft, existing, test)
        if intent != "save":  # a table grew a row: show it
            return render(request, draft, existing)

        name = original or draft.name
        if existing is None:
            problem = check_name(draft.name, set(project.actions) | RESERVED, "action")
            if problem:
                draft.errors["name"] = problem
        action = draft.build(name if not draft.errors.get("name") else DRAFT_NAME, existing)
        if action is None or draft.errors:
            return render(request, draft, existing, status=422)
        project.set_action(name, action)
        project.save()
        return done(request, f"/actions/{name}?saved=1")

    async def delete(request: Request, form: FormData) -> Response:
        project = studio.project()
        project.remove_action(request.path_params["name"])
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
    """Call the action as it stands in the form (unsaved) through the Gateway."""
    name = original or (draft.name if check_name(draft.name, set(), "action") is None else "")
    name = name or DRAFT_NAME
    action = draft.build(name, existing)
    if action is None:
        return {"invalid": True}
    project.set_action(name, action)  # in memory only: a Test never writes the file
    async with Gateway(project) as gateway:
        result = await gateway.test(name, draft.test_inputs())
    panel: dict[str, Any] = {"result": result, "summary": result.to_dict()}
    if not result.ok and _worth_a_diagnosis(result.error):
        panel["diagnosis"] = await diagnose(project, action.connector)
    return panel


def _worth_a_diagnosis(error: LakegateError | None) -> bool:
    """Connector-level failures (credentials, reach, refusals) are what the doctor explains."""
    if isinstance(error, AuthError | TransportError):
        return True
    return isinstance(error, HTTPStatusError) and error.status in (401, 403)


async def diagnose(project: Project, connector: str) -> dict[str, Any] | None:
    """PACK's doctor on the connector, as plain steps; None when the doctor is not available."""
    try:
        doctor = importlib.import_module("lakegate.databricks.doctor")
    except ImportError:
        return None
    try:
        report = doctor.diagnose(project, connector)
        if inspect.isawaitable(report):
            report = await report
    except LakegateError as exc:
        return {"steps": [], "error": redact(exc.message), "hint": redact(exc.hint)}
    return {"steps": [_step(s) for s in _steps(report)]}


def _steps(report: Any) -> list[Any]:
    if isinstance(report, dict):
        return list(report.get("steps", []))
    if isinstance(report, list | tuple):
        return list(report)
    return list(getattr(report, "steps", []) or [])


def _step(step: Any) -> dict[str, Any]:
    """One doctor step, whatever its shape (dataclass or dict), as redacted text."""
    data = step if isinstance(step, dict) else getattr(step, "__dict__", {})
    if hasattr(step, "to_dict"):
        data = step.to_dict()

    def pick(*keys: str) -> Any:
        return next((data[k] for k in keys if data.get(k) not in (None, "")), None)

    ok = pick("ok", "passed")
    if ok is None:
        ok = str(pick("status", "outcome") or "").lower() in ("ok", "pass", "passed")
    return {
        "name": redact(str(pick("name", "title", "step") or "step")),
        "ok": bool(ok),
        "detail": redact(str(pick("detail", "message", "cause") or "")),
        "hint": redact(str(pick("hint", "fix") or "")),
        "elapsed_ms": pick("elapsed_ms", "ms"),
    }
