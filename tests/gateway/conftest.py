"""Fixtures for gateway tests: a small OAuth2 + REST API served by uvicorn on a loopback port,
and helpers that write a project for it or for the local workspace."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from _support import access_log, databricks_connector, list_warehouses_action, serve_asgi
from lakegate.project import Action, Connector, Project

CLIENT_ID = "cid-123"
CLIENT_SECRET = "csecret-Zq81xL"
USER, PASSWORD = "ada", "pw-secret-7Hk2"
REFRESH_TOKEN = "rt-secret-Pp90"
API_KEY = "k-secret-4Mv7"
PAT = "pat-secret-Lw33"
SECRETS = (CLIENT_SECRET, PASSWORD, REFRESH_TOKEN, API_KEY, PAT)


@dataclass
class ApiState:
    """What the test API saw and how it behaves; reset by the `api` fixture for each test."""

    client_auth: str = "any"  # "body", "basic" or "any": where the client credentials must be
    expires_in: Any = 3600
    token_requests: list[dict[str, Any]] = field(default_factory=list)
    issued: set[str] = field(default_factory=set)
    counter: int = 0

    def reset(self) -> None:
        self.__init__()  # type: ignore[misc]


def _token_endpoint(state: ApiState) -> Callable[[Request], Any]:
    async def token(request: Request) -> Response:
        form = dict(await request.form())
        header = request.headers.get("authorization", "")
        via = "basic" if header.startswith("Basic ") else "body"
        cid, secret = form.get("client_id"), form.get("client_secret")
        if via == "basic":
            cid, _, secret = base64.b64decode(header[6:]).decode().partition(":")
        state.token_requests.append({"form": form, "via": via, "headers": dict(request.headers)})
        if form.get("grant_type") == "client_credentials":
            wrong_place = state.client_auth not in ("any", via)
            if wrong_place or (cid, secret) != (CLIENT_ID, CLIENT_SECRET):
                return JSONResponse(
                    {
                        "error": "invalid_client",
                        "error_description": "Client authentication failed",
                    },
                    status_code=401,
                )
        elif form.get("grant_type") == "password":
            if (form.get("username"), form.get("password")) != (USER, PASSWORD):
                return JSONResponse({"error": "invalid_grant"}, status_code=400)
        elif form.get("grant_type") == "refresh_token":
            if form.get("refresh_token") != REFRESH_TOKEN:
                return JSONResponse({"error": "invalid_grant"}, status_code=400)
        else:
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        if form.get("scope") == "forbidden":
            return JSONResponse({"error": "invalid_scope"}, status_code=400)
        state.counter += 1
        value = f"tok-{state.counter}-{form['grant_type']}"
        state.issued.add(value)
        key = request.query_params.get("key", "access_token")
        return JSONResponse({key: value, "token_type": "Bearer", "expires_in": state.expires_in})

    return token


def _app(state: ApiState) -> Starlette:
    def bearer_ok(request: Request) -> bool:
        header = request.headers.get("authorization", "")
        return header.startswith("Bearer ") and header[7:] in state.issued

    async def whoami(request: Request) -> Response:
        if not bearer_ok(request):
            return JSONResponse({"error_code": "UNAUTHENTICATED", "message": "no"}, 401)
        return JSONResponse({"token": request.headers["authorization"][7:]})

    async def key_header(request: Request) -> Response:
        ok = request.headers.get("x-api-key") == f"Key {API_KEY}"
        return JSONResponse({"ok": ok}, 200 if ok else 401)

    async def key_param(request: Request) -> Response:
        ok = request.query_params.get("api_key") == API_KEY
        return JSONResponse({"ok": ok}, 200 if ok else 401)

    async def static_bearer(request: Request) -> Response:
        ok = request.headers.get("authorization") == f"Bearer {PAT}"
        return JSONResponse({"ok": ok}, 200 if ok else 401)

    async def basic(request: Request) -> Response:
        expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        ok = request.headers.get("authorization") == expected
        return JSONResponse({"ok": ok}, 200 if ok else 401)

    async def echo(request: Request) -> Response:
        body = await request.body()
        return JSONResponse(
            {
                "method": request.method,
                "raw_path": request.scope["raw_path"].decode(),
                "query": request.scope["query_string"].decode(),
                "headers": dict(request.headers),
                "json": json.loads(body) if body else None,
            }
        )

    async def xml(request: Request) -> Response:
        return Response("<root><item>1</item><item>2</item></root>", media_type="application/xml")

    async def big(request: Request) -> Response:
        return PlainTextResponse("x" * (2 * 1024 * 1024))

    async def pages(request: Request) -> Response:
        page = int(request.query_params.get("page_token") or 0)
        body: dict[str, Any] = {"items": [page * 2, page * 2 + 1], "page": page}
        if page < 3:
            body["next_page_token"] = str(page + 1)
        return JSONResponse(body)

    async def redirect(request: Request) -> Response:
        return RedirectResponse(request.query_params["to"], status_code=302)

    async def slow(request: Request) -> Response:
        await asyncio.sleep(float(request.query_params.get("s", "2")))
        return JSONResponse({"slept": True})

    return Starlette(
        routes=[
            Route("/oauth/token", _token_endpoint(state), methods=["POST"]),
            Route("/api/whoami", whoami),
            Route("/api/key-header", key_header),
            Route("/api/key-param", key_param),
            Route("/api/static-bearer", static_bearer),
            Route("/api/basic", basic),
            Route("/api/echo/{rest:path}", echo, methods=["GET", "POST", "PUT", "DELETE"]),
            Route("/api/xml", xml),
            Route("/api/big", big),
            Route("/api/pages", pages),
            Route("/api/redirect", redirect),
            Route("/api/slow", slow),
        ]
    )


@dataclass
class ApiServer:
    url: str
    port: int
    state: ApiState


@pytest.fixture(scope="session")
def _api_server() -> Iterator[ApiServer]:
    state = ApiState()
    with serve_asgi(_app(state)) as url:
        yield ApiServer(url, int(url.rsplit(":", 1)[1]), state)


@pytest.fixture
def api(_api_server: ApiServer) -> ApiServer:
    """The test API, its state reset."""
    _api_server.state.reset()
    return _api_server


def make_project(path: Path, connector: Connector, actions: list[Action]) -> Project:
    """A saved project with one connector and `actions`."""
    project = Project.new(path / "lakegate.yaml")
    project.set_connector(connector.name, connector)
    for action in actions:
        project.set_action(action.name, action)
    project.save()
    return project


def databricks_project(tmp_path: Path, ws: Any, monkeypatch: pytest.MonkeyPatch) -> Project:
    """The seed-guide project on a local workspace: OAuth2 M2M, scope `sql all-apis`."""
    monkeypatch.setenv("LG_TEST_DATABRICKS_SECRET", ws.credentials["client_secret"])
    connector = databricks_connector(
        ws,
        "${env:LG_TEST_DATABRICKS_SECRET}",
        grant_type="client_credentials",
        client_auth="request_body",
    )
    actions = [
        list_warehouses_action(),
        Action.model_validate(
            {
                "name": "start_warehouse",
                "connector": "databricks",
                "method": "POST",
                "path": "/api/2.0/sql/warehouses/{{id}}/start",
                "inputs": {"id": {"type": "string", "required": True}},
            }
        ),
    ]
    return make_project(tmp_path, connector, actions)


def logged_requests(ws: Any, path: str, method: str | None = None) -> list[dict[str, Any]]:
    """Lines of the workspace's requests.jsonl for `path`."""
    return [
        e for e in access_log(ws) if e["path"] == path and (method is None or e["method"] == method)
    ]
