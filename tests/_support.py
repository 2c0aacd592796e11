"""Helpers shared by the test folders (tests/conftest.py puts this folder on sys.path):
starting `lakegate serve --http` and opening an MCP session on it, serving an ASGI app on a
loopback port, the official SDK's clients on a local workspace and its access log, the `databricks`
connector and `list_warehouses` action on it, and the `create_job` action the pack does not ship."""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import httpx
import mcp_types as types
import uvicorn
from databricks.sdk import AccountClient, WorkspaceClient
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from lakegate.project import Action, Connector, Input, OAuth2Auth

if TYPE_CHECKING:
    from lakegate.workspace import LocalWorkspace

READY = re.compile(r"listening on (http://\S+/mcp)")
START_BOUND_S = 60  # an upper bound on start-up, not a delay: 8 jobs may share 2 cores


class Served(NamedTuple):
    url: str  # the /mcp endpoint
    pid: int


@contextlib.contextmanager
def serve_http(
    project: Path, *extra: str, token: str, errlog: Path | None = None
) -> Iterator[Served]:
    """`lakegate serve --http --port 0 EXTRA` in a subprocess, until it says where it listens.

    Its stderr goes to `errlog` (a temporary file if not given), never to an undrained pipe.
    """
    with contextlib.ExitStack() as stack:
        if errlog is None:
            errlog = Path(stack.enter_context(tempfile.TemporaryDirectory())) / "serve.err"
        err = stack.enter_context(errlog.open("w"))
        proc = subprocess.Popen(
            [sys.executable, "-m", "lakegate", "--project", str(project), "serve", "--http",
             "--port", "0", *extra],
            stdin=subprocess.DEVNULL, stdout=err, stderr=err, text=True,
            env={**os.environ, "LAKEGATE_MCP_TOKEN": token},
        )  # fmt: skip
        try:
            deadline = time.monotonic() + START_BOUND_S
            while time.monotonic() < deadline:
                found = READY.search(errlog.read_text())
                if found:
                    yield Served(found.group(1), proc.pid)
                    return
                assert proc.poll() is None, f"lakegate serve --http exited: {errlog.read_text()}"
                time.sleep(0.05)
            raise AssertionError(f"lakegate serve --http did not start in {START_BOUND_S} s")
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@contextlib.asynccontextmanager
async def mcp_http_session(
    url: str, token: str, client_info: types.Implementation, **session: Any
) -> AsyncIterator[ClientSession]:
    """An initialized MCP ClientSession over streamable HTTP with the bearer token."""
    http = create_mcp_http_client(headers={"Authorization": f"Bearer {token}"})
    async with (
        http,
        streamable_http_client(url, http_client=http) as (read, write),
        ClientSession(read, write, client_info=client_info, **session) as client,
    ):
        await client.initialize()
        yield client


@contextlib.contextmanager
def serve_asgi(app: Any) -> Iterator[str]:
    """`app` served by uvicorn on a loopback port in a thread, until the block ends; yields its
    base URL (`http://127.0.0.1:PORT`)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + START_BOUND_S
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)


def client_token(
    host: str, client_id: str, client_secret: str, scope: str = "all-apis", *, tries: int = 1
) -> str:
    """An M2M token straight from `host`'s token endpoint (for a test to inspect state with);
    asked up to `tries` times while the endpoint may be under injected faults."""
    import httpx

    for _ in range(tries):
        response = httpx.post(
            f"{host}/oidc/v1/token",
            data={"grant_type": "client_credentials", "client_id": client_id,
                  "client_secret": client_secret, "scope": scope},
        )  # fmt: skip
        if response.status_code == 200:
            return str(response.json()["access_token"])
    raise AssertionError(f"no token from {host}: {response.status_code} {response.text}")


def workspace_client(
    ws: LocalWorkspace, client_id: str | None = None, client_secret: str | None = None
) -> WorkspaceClient:
    """The official databricks-sdk on `ws`, OAuth M2M, as the admin unless a principal is given."""
    return WorkspaceClient(
        host=ws.host,
        client_id=client_id or ws.credentials["client_id"],
        client_secret=client_secret or ws.credentials["client_secret"],
        auth_type="oauth-m2m",
    )


def account_client(ws: LocalWorkspace) -> AccountClient:
    """The official databricks-sdk on `ws`'s account host, OAuth M2M, as the account admin."""
    return AccountClient(
        host=ws.account_host,
        account_id=ws.credentials["account_id"],
        client_id=ws.credentials["client_id"],
        client_secret=ws.credentials["client_secret"],
        auth_type="oauth-m2m",
    )


def access_log(ws: LocalWorkspace) -> list[dict[str, Any]]:
    """Every request `ws` has served so far, one dict a line of its requests.jsonl."""
    if not ws.requests_log.exists():
        return []
    return [json.loads(line) for line in ws.requests_log.read_text().splitlines() if line]


def databricks_connector(ws: LocalWorkspace, client_secret: str, **auth: Any) -> Connector:
    """The `databricks` connector on `ws`: OAuth2 M2M as its admin, scope `sql all-apis`;
    `client_secret` is the reference the project stores (`${secret:...}`, `${env:...}`)."""
    return Connector(
        name="databricks",
        base_url=ws.host,
        auth=OAuth2Auth(
            token_url=f"{ws.host}/oidc/v1/token",
            client_id=ws.credentials["client_id"],
            client_secret=client_secret,
            scope="sql all-apis",
            **auth,
        ),
    )


def list_warehouses_action(**fields: Any) -> Action:
    """`list_warehouses` on the `databricks` connector: the id, name and state of each."""
    return Action(
        **{
            "name": "list_warehouses",
            "connector": "databricks",
            "path": "/api/2.0/sql/warehouses",
            "output": "warehouses[].{id: id, name: name, state: state}",
            **fields,
        }
    )


def create_job_action(connector: str = "databricks") -> Action:
    """`create_job`: POST /api/2.2/jobs/create with a name and tasks (the pack only runs jobs)."""
    return Action(
        name="create_job",
        connector=connector,
        method="POST",
        path="/api/2.2/jobs/create",
        body={"name": "{{name}}", "tasks": "{{tasks}}"},
        inputs={"name": Input(type="string"), "tasks": Input(type="array")},
    )


class _SignInForm(HTMLParser):
    """The fields of the local workspace's sign-in page (u2m.py), as a browser would post them."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: dict[str, str] = {}
        self.action = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "form":
            self.action = found.get("action") or ""
        if tag == "input" and found.get("name"):
            self.fields[str(found["name"])] = found.get("value") or ""


def sign_in(ws: LocalWorkspace, url: str, user: str) -> httpx.Response:
    """What a person does in the browser at an authorize `url`: open the sign-in page, give
    their user name, allow. The answer is the workspace's redirect (or the page again)."""
    page = httpx.get(url)
    assert page.status_code == 200 and "Sign in" in page.text, page.text
    form = _SignInForm()
    form.feed(page.text)
    return httpx.post(ws.host + form.action, data={**form.fields, "user_name": user})
