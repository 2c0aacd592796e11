"""Connector pages: the form whose fields follow the auth type and grant, the Databricks shortcut,
write-only secrets, and Save through `Project.save()`."""

from __future__ import annotations

from pathlib import Path

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from lakegate.connectors import orphaned_secrets, secret_destination, stored_secrets
from lakegate.project import Connector, Project
from lakegate.secrets import MemorySecretStore, SecretStore
from lakegate.studio.connection import ConnectionCheck, check_connection
from lakegate.studio.connector_form import (
    AUTH_TYPES,
    CLIENT_AUTH,
    GRANT_TYPES,
    LABELS,
    ConnectorDraft,
)
from lakegate.studio.forms import chosen_name
from lakegate.studio.pages import Studio, done
from lakegate.studio.security import Session, csrf_protected

__all__ = ["routes"]


def routes(studio: Studio) -> list[BaseRoute]:
    def render(
        request: Request,
        draft: ConnectorDraft,
        existing: Connector | None,
        status: int = 200,
        *,
        intent: str = "",
        connection: ConnectionCheck | None = None,
    ) -> Response:
        project = studio.project()
        session: Session = request.state.session
        users = sorted(a.name for a in project.actions.values() if a.connector == draft.name)
        return studio.page(
            request,
            "connector.html",
            {
                "draft": draft,
                "is_new": existing is None,
                "slots": draft.slots(existing, studio.secret_store(), session),
                "auth_types": AUTH_TYPES,
                "grant_types": GRANT_TYPES,
                "client_auths": CLIENT_AUTH,
                "users": users if existing is not None else [],
                "saved": request.query_params.get("saved"),
                "intent": intent,
                "labels": LABELS,
                "auth_label": _auth_label(existing),
                "connection": connection,
            },
            status,
        )

    async def new_form(request: Request) -> Response:
        return render(request, ConnectorDraft(), None)

    async def edit_form(request: Request) -> Response:
        existing = studio.project().connector(request.path_params["name"])
        return render(request, ConnectorDraft.from_connector(existing), existing)

    async def submit(request: Request, form: FormData) -> Response:
        project = studio.project()
        original = request.path_params.get("name")
        existing = project.connector(original) if original else None
        session: Session = request.state.session
        draft = ConnectorDraft.from_form(form, session)
        intent = str(form.get("intent") or "save")
        if intent == "enter":  # Enter in a field: Fill if a Databricks URL waits to be applied
            intent = "databricks" if draft.databricks_pending() else "save"
        if intent == "databricks":
            draft.apply_databricks()
            status = 422 if draft.errors else 200
            return render(request, draft, existing, status, intent=intent)
        if intent not in ("save", "test"):  # the type or grant changed: show the matching fields
            return render(request, draft, existing, intent=intent)

        name = chosen_name(draft.errors, original, draft.name, project.connectors, "connector")
        # An invalid name still lets the other fields be checked, under a stand-in name.
        connector, to_store = draft.build(
            "draft" if "name" in draft.errors else name, existing, session
        )
        if connector is None or draft.errors:
            return render(request, draft, existing, 422, intent="save")
        store = studio.secret_store()
        draft.check_secret_origins(connector, to_store, store)
        if draft.errors:
            return render(request, draft, existing, 422, intent="save")
        if intent == "test":  # Test before Save: nothing is written, typed secrets stay pending
            connection = await _test_draft(project.path, connector, to_store, store)
            return render(request, draft, existing, intent="test", connection=connection)
        for secret_name, value in to_store.items():
            store.set(secret_name, value, origin=secret_destination(connector))
        project.set_connector(name, connector)
        project.save()
        for key in draft.pending.values():
            session.pending.pop(key, None)
        return done(request, f"/connectors/{name}?saved=1")

    async def test_connection(request: Request, form: FormData) -> Response:
        project = studio.project()
        existing = project.connector(request.path_params["name"])
        connection = await check_connection(project, existing.name)
        draft = ConnectorDraft.from_connector(existing)
        return render(request, draft, existing, connection=connection)

    async def delete(request: Request, form: FormData) -> Response:
        project = studio.project()
        removed = project.connector(request.path_params["name"])
        if form.get("confirmed") != "yes":  # without JavaScript, nothing asked yet: ask here
            project.remove_connector(removed.name)
            secrets = orphaned_secrets(project, removed)
            return studio.confirm(
                request,
                f"Remove connector {removed.name}?",
                f"lakegate.yaml loses connector {removed.name}.",
                button="Remove connector",
                back=f"/connectors/{removed.name}",
                secrets=secrets,
            )
        project.remove_connector(removed.name)
        orphans = orphaned_secrets(project, removed)
        project.save()
        store = studio.secret_store()
        for secret in orphans:  # its own secrets go with it, once the file no longer names them
            store.remove(secret)
        return done(request, "/?saved=removed")

    return [
        Route("/connectors/new", new_form, methods=["GET"]),
        Route("/connectors/new", csrf_protected(submit, studio.refuse), methods=["POST"]),
        Route("/connectors/{name}", edit_form, methods=["GET"]),
        Route("/connectors/{name}", csrf_protected(submit, studio.refuse), methods=["POST"]),
        Route("/connectors/{name}/delete", csrf_protected(delete, studio.refuse), methods=["POST"]),
        Route(
            "/connectors/{name}/test",
            csrf_protected(test_connection, studio.refuse),
            methods=["POST"],
        ),
    ]


async def _test_draft(
    path: Path, connector: Connector, to_store: dict[str, str], store: SecretStore
) -> ConnectionCheck:
    """Test connection on what the form holds, in memory: the secrets it refers to (already
    stored, or typed now) are held in a store of its own, so nothing reaches the disk."""
    trial = Project.new(path)
    trial.set_connector(connector.name, connector)
    held = {name: value for name in stored_secrets(connector) if (value := store.get(name))}
    return await check_connection(trial, connector.name, MemorySecretStore({**held, **to_store}))


def _auth_label(connector: Connector | None) -> str:
    if connector is None:
        return ""
    auth = connector.auth
    text = dict(AUTH_TYPES).get(auth.type, auth.type)
    if auth.type == "oauth2":
        text += f", {dict(GRANT_TYPES).get(auth.grant_type, auth.grant_type).lower()}"
    return text
