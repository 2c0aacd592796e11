"""`lakegate serve --http`: bearer token, loopback only, Host checks, the MCP client over HTTP."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from _support import client_token

from ._clients import http_server, http_session, serve_args, text_of
from .conftest import build_project

TOKEN = "test-token-0123456789abcdef-0123456789"  # tokens under 32 characters are refused
INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "curl", "version": "0"},
    },
}
HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


@pytest.fixture(scope="module")
def served(workspace: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    folder = tmp_path_factory.mktemp("http")
    project = build_project(workspace, folder)
    with http_server(project.path, TOKEN) as url:
        yield url, project.state_dir


def _records(state_dir: Path) -> list[dict[str, Any]]:
    text = (state_dir / "audit.jsonl").read_text()
    return [json.loads(line) for line in text.splitlines()]


async def test_mcp_client_with_the_token_lists_and_calls_tools(
    served: tuple[str, Path], workspace: Any
) -> None:
    url, state_dir = served
    async with http_session(url, TOKEN) as client:
        names = [t.name for t in (await client.list_tools()).tools]
        result = await client.call_tool("list_warehouses", {"max_rows": 1})
    assert names == ["list_warehouses"]
    assert not result.is_error, text_of(result)
    assert len(result.structured_content["result"]) == 1
    assert result.structured_content["truncated"] is True  # the workspace has two warehouses
    record = [r for r in _records(state_dir) if r.get("tool") == "list_warehouses"][-1]
    assert record["client"]["name"] == "pytest-copilot" and record["truncated"] is True
    assert record["session"]  # streamable HTTP sessions have an id
    assert workspace.credentials["client_secret"] not in (state_dir / "audit.jsonl").read_text()


@pytest.mark.parametrize("auth", [None, "Bearer wrong-token", f"Basic {TOKEN}"])
def test_requests_without_the_token_get_401_and_are_logged(
    served: tuple[str, Path], auth: str | None
) -> None:
    url, state_dir = served
    headers = dict(HEADERS) | ({"Authorization": auth} if auth else {})
    response = httpx.post(url, json=INIT, headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert TOKEN not in response.text
    refused = [r for r in _records(state_dir) if r.get("event") == "http.unauthorized"]
    assert refused and refused[-1]["status"] == 401 and refused[-1]["count"] >= 1
    assert TOKEN not in json.dumps(refused)


def test_a_foreign_host_header_is_refused_even_with_the_token(served: tuple[str, Path]) -> None:
    url, _ = served
    headers = HEADERS | {"Authorization": f"Bearer {TOKEN}", "Host": "evil.example.com"}
    assert httpx.post(url, json=INIT, headers=headers).status_code == 421
    origin = HEADERS | {"Authorization": f"Bearer {TOKEN}", "Origin": "http://evil.example.com"}
    assert httpx.post(url, json=INIT, headers=origin).status_code == 403
    ok = httpx.post(url, json=INIT, headers=HEADERS | {"Authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 200


def test_non_loopback_bind_is_refused_without_allow_remote(tmp_path: Path) -> None:
    (tmp_path / "lakegate.yaml").write_text("connectors: {}\nactions: {}\n")
    out = subprocess.run(
        [sys.executable, *serve_args(tmp_path / "lakegate.yaml", "--http", "--host", "0.0.0.0")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2
    assert "config.remote_bind" in out.stderr and "--allow-remote" in out.stderr
    assert "Traceback" not in out.stderr and out.stdout == ""


def test_a_token_is_generated_once_and_kept_in_the_secret_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lakegate.copilot.http import TOKEN_ENV, TOKEN_SECRET, server_token
    from lakegate.secrets import SecretStore

    monkeypatch.delenv(TOKEN_ENV, raising=False)
    store = SecretStore(tmp_path / ".lakegate")
    token, created = server_token(store)
    again, created_again = server_token(store)
    assert created and not created_again and token == again and len(token) >= 32
    assert store.get(TOKEN_SECRET) == token
    assert (store.path.stat().st_mode & 0o777) == 0o600


def test_a_tool_call_is_plain_json_unless_the_client_asks_for_progress(
    served: tuple[str, Path],
) -> None:
    url, _ = served
    auth = HEADERS | {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(timeout=30) as http:
        init = http.post(url, json=INIT, headers=auth)
        session = {
            "Mcp-Session-Id": init.headers["mcp-session-id"],
            "Mcp-Protocol-Version": "2025-11-25",
        }
        http.post(url, json={"jsonrpc": "2.0", "method": "notifications/initialized"},
                  headers=auth | session)  # fmt: skip
        call = {"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                "params": {"name": "list_warehouses", "arguments": {"max_rows": 1}}}  # fmt: skip
        plain = http.post(url, json=call, headers=auth | session)
        with_progress = dict(call, id=3)
        with_progress["params"] = dict(call["params"], _meta={"progressToken": "p1"})
        streamed = http.post(url, json=with_progress, headers=auth | session)
    assert plain.status_code == 200 and plain.headers["content-type"].startswith("application/json")
    answer = plain.json()
    assert answer["id"] == 2 and answer["result"]["structuredContent"]["truncated"] is True
    assert streamed.status_code == 200
    assert streamed.headers["content-type"].startswith("text/event-stream")
    assert '"id":3' in streamed.text.replace(" ", "")


def test_an_mcp_server_not_behind_lakegates_chooser_keeps_its_own_json_setting(
    workspace: Any,
) -> None:
    """The per-request transport is installed for the whole process: the local workspace's
    managed MCP endpoint (json_response=True), served in this process, must not change."""
    import lakegate.copilot.http  # noqa: F401  (installs the per-request transport)

    creds = workspace.credentials
    token = client_token(workspace.host, creds["client_id"], creds["client_secret"])
    listed = httpx.post(
        f"{workspace.host}/api/2.0/mcp/sql",
        json={"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}},
        headers=HEADERS
        | {"Authorization": f"Bearer {token}", "Mcp-Protocol-Version": "2025-06-18"},
        timeout=30,
    )
    assert listed.status_code == 200, listed.text
    assert listed.headers["content-type"].startswith("application/json")
    assert {t["name"] for t in listed.json()["result"]["tools"]} >= {"execute_sql"}


def test_refusals_are_sampled_per_remote_and_counted() -> None:
    """One audit line per remote per window, counting what it stands for: 1,400 refusals from
    one address within a minute are 1 line, then the next window's line counts the rest."""
    from lakegate.copilot.audit import AuditLog, read_records
    from lakegate.copilot.http import UNAUTHORIZED_WINDOW_S, BearerGuard

    clock = [1000.0]

    async def never(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("a refused request reached the app")

    async def refuse_from(guard: BearerGuard, remote: str) -> None:
        async def send(message: Any) -> None:
            pass

        scope = {"type": "http", "method": "POST", "path": "/mcp", "client": (remote, 1)}
        await guard({**scope, "headers": [(b"authorization", b"Bearer nope")]}, None, send)

    import asyncio
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        audit = AuditLog(Path(folder) / "audit.jsonl", max_bytes=65536)
        audit.write({"event": "tool.call", "tool": "list_warehouses", "outcome": "ok"})
        guard = BearerGuard(never, TOKEN, audit, clock=lambda: clock[0])

        async def attack() -> None:
            for _ in range(1400):
                await refuse_from(guard, "10.0.0.7")
            await refuse_from(guard, "10.0.0.8")
            clock[0] += UNAUTHORIZED_WINDOW_S
            await refuse_from(guard, "10.0.0.7")

        asyncio.run(attack())
        records = list(read_records(audit.path))
    refused = [r for r in records if r["event"] == "http.unauthorized"]
    assert [(r["remote"], r["count"]) for r in refused] == [
        ("10.0.0.7", 1),
        ("10.0.0.8", 1),
        ("10.0.0.7", 1400),  # 1,399 counted in the first window, and this one
    ]
    assert records[0]["tool"] == "list_warehouses"  # the real call was not rotated out


@pytest.mark.parametrize("depth", [100_000, 5_000])
def test_json_nested_too_deep_is_a_400_parse_error(served: tuple[str, Path], depth: int) -> None:
    url, _ = served
    auth = HEADERS | {"Authorization": f"Bearer {TOKEN}"}
    deep = b'{"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": ' + (
        b"[" * depth + b"]" * depth + b"}"
    )
    with httpx.Client(timeout=30) as http:
        answer = http.post(url, content=deep, headers=auth)
        assert answer.status_code == 400, answer.text
        assert answer.json()["error"]["code"] == -32700
        assert http.post(url, json=INIT, headers=auth).status_code == 200  # the server is fine


def test_serve_warns_when_the_copilot_acts_as_a_workspace_admin(
    workspace: Any, tmp_path: Path
) -> None:
    from _support import serve_http

    project = build_project(workspace, tmp_path)  # the workspace's own admin principal
    errlog = tmp_path / "serve.err"
    with serve_http(project.path, token=TOKEN, errlog=errlog):
        said = errlog.read_text()
    assert "warning" in said and "is a workspace admin" in said, said
    assert "connector databricks" in said and "token_exchange" in said
    assert workspace.credentials["client_secret"] not in said
