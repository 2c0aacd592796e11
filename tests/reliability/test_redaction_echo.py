"""A server that echoes the API key back in its error body: only redaction keeps it out of sight.

Every output scanned here really carries the server's message (the `***` where the key was is
checked), so the scan fails if redaction stops working, not just if lakegate prints the key itself.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import httpx
import mcp_types as types
import pytest
from mcp import ClientSession, StdioServerParameters, stdio_client

from lakegate.project import Action, ApiKeyAuth, Connector, Project
from lakegate.secrets import SecretStore
from lakegate.studio import StudioServer

CANARY = "canary-" + secrets.token_hex(16)
ACTION = "echo_status"


class EchoingHandler(BaseHTTPRequestHandler):
    """Answers 400 with the request's X-Api-Key in the message, as careless APIs do."""

    seen: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        key = self.headers.get("X-Api-Key", "")
        self.seen.append(key)
        body = json.dumps(
            {"error_code": "INVALID_PARAMETER_VALUE", "message": f"API key {key} is not valid."}
        ).encode()
        self.send_response(400)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def echo_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), EchoingHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def project(echo_server: str, tmp_path: Path) -> Path:
    project = Project.new(tmp_path / "lakegate.yaml")
    auth = ApiKeyAuth(key="${secret:echo_key}", header="X-Api-Key")
    project.set_connector("echo", Connector(name="echo", base_url=echo_server, auth=auth))
    project.set_action(
        ACTION,
        Action(name=ACTION, connector="echo", method="GET", path="/status", risk="read",
               description="The echo server's status."),
    )  # fmt: skip
    project.save()
    SecretStore(project.state_dir).set("echo_key", CANARY)
    return project.path


def assert_redacted(text: str, where: str) -> None:
    assert CANARY not in text, f"the canary leaked in {where}"
    assert re.search(r"API key \*+ is not valid", text), f"the echoed message is not in {where}"


def lakegate(project: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "lakegate", "--project", str(project), *args],
        capture_output=True, text=True, timeout=60, env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip
    assert done.returncode == 1, done.stderr  # failed remotely
    return done.stdout + done.stderr


@pytest.mark.parametrize(
    "args", [["test", ACTION], ["test", ACTION, "--json"], ["call", ACTION, "--json"]]
)
def test_cli_shows_the_echoed_error_without_the_key(project: Path, args: list[str]) -> None:
    EchoingHandler.seen.clear()
    out = lakegate(project, *args)
    assert EchoingHandler.seen == [CANARY]  # the server really had the key to echo
    assert_redacted(out, "lakegate " + " ".join(args))


async def test_mcp_tool_error_carries_the_echo_without_the_key(project: Path) -> None:
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "lakegate", "--project", str(project), "serve"]
    )
    errlog = project.parent / "serve.log"
    with errlog.open("w") as err:
        async with (
            stdio_client(params, errlog=err) as (read, write),
            ClientSession(
                read, write, client_info=types.Implementation(name="t", version="1")
            ) as client,
        ):
            await client.initialize()
            result = await client.call_tool(ACTION, {})
    assert result.is_error
    assert_redacted(json.dumps(result.model_dump(mode="json")), "the MCP tool result")
    audit = project.parent / ".lakegate" / "audit.jsonl"
    for path in (errlog, audit):
        if path.exists():
            assert CANARY not in path.read_text(), f"the canary leaked in {path.name}"


def test_studio_test_panel_shows_the_echo_without_the_key(project: Path) -> None:
    form = {"intent": "test", "name": ACTION, "connector": "echo", "method": "GET",
            "path": "/status", "risk": "read"}  # fmt: skip
    with (
        StudioServer(project, port=0) as studio,
        httpx.Client(base_url=studio.url, timeout=30) as client,
    ):
        assert client.get(studio.login_url()).status_code == 303
        page = client.get(f"/actions/{ACTION}").text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert csrf, "the editor carries no CSRF token"
        tested = client.post(f"/actions/{ACTION}", data={"csrf_token": csrf.group(1), **form})
    assert tested.status_code == 200
    assert_redacted(tested.text, "the Studio's Test panel")
