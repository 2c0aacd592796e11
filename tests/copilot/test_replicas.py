"""Three `lakegate serve --http --stateless` replicas behind a round-robin proxy: any replica
serves any request, statement handles are signed, and idle statements are cancelled."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from _support import access_log, serve_asgi
from lakegate.copilot.handles import PREFIX, HandleSigner, signing_key
from lakegate.project import Project
from lakegate.secrets import SecretStore

from ._clients import http_server, http_session, text_of
from .conftest import SLOW_SQL, build_sql_project

TOKEN = "replica-token-0123456789abcdef0123456789"
HOP = {b"host", b"content-length", b"transfer-encoding", b"connection"}


class RoundRobin:
    """A tiny reverse proxy: each HTTP request goes to the next backend in turn."""

    def __init__(self, backends: list[str]) -> None:
        self.backends = backends
        self.served: list[str] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        backend = self.backends[len(self.served) % len(self.backends)]
        self.served.append(backend)
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        headers = [(k, v) for k, v in scope["headers"] if k not in HOP]
        query = scope.get("query_string", b"").decode()
        url = backend + scope["path"] + (f"?{query}" if query else "")
        async with httpx.AsyncClient(timeout=60) as client:
            request = client.build_request(scope["method"], url, headers=headers, content=body)
            response = await client.send(request, stream=True)
            try:
                out = [(k, v) for k, v in response.headers.raw if k.lower() not in HOP]
                await send({"type": "http.response.start", "status": response.status_code,
                            "headers": out})  # fmt: skip
                async for chunk in response.aiter_raw():
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                await send({"type": "http.response.body", "body": b""})
            finally:
                await response.aclose()


@contextlib.contextmanager
def proxy(backends: list[str]) -> Iterator[tuple[str, RoundRobin]]:
    """The round-robin proxy on a loopback port, in a thread; yields its /mcp URL."""
    app = RoundRobin([b.removesuffix("/mcp") for b in backends])
    with serve_asgi(app) as url:
        yield f"{url}/mcp", app


@pytest.fixture
def sql_project(workspace: Any, tmp_path: Path) -> Project:
    return build_sql_project(workspace, tmp_path)


async def cancel_reached(workspace: Any, statement_id: str, within: float) -> bool:
    """Whether the workspace got `POST .../statements/<id>/cancel` (polled, bounded)."""
    path = f"/api/2.0/sql/statements/{statement_id}/cancel"
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if any(e.get("path") == path for e in access_log(workspace)):
            return True
        await anyio.sleep(0.2)
    return False


def audit(project: Project) -> list[dict[str, Any]]:
    lines = (project.state_dir / "audit.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


async def test_three_stateless_replicas_share_statements_through_signed_handles(
    sql_project: Project, workspace: Any
) -> None:
    path = sql_project.path
    with (
        http_server(path, TOKEN, "--stateless") as one,
        http_server(path, TOKEN, "--stateless") as two,
        http_server(path, TOKEN, "--stateless") as three,
        proxy([one, two, three]) as (url, balancer),
    ):
        async with http_session(url, TOKEN) as client:
            started = await client.call_tool(
                "execute_sql", {"statement": SLOW_SQL, "deadline_s": 2}
            )
            assert not started.is_error, text_of(started)
            handle = started.structured_content["statement_id"]
            polled = await client.call_tool("get_statement", {"statement_id": handle})
            assert not polled.is_error, text_of(polled)
            fresh = polled.structured_content["statement_id"]
            cancelled = await client.call_tool("cancel_statement", {"statement_id": fresh})
            assert not cancelled.is_error, text_of(cancelled)
            forged = handle[:-4] + ("AAAA" if not handle.endswith("AAAA") else "BBBB")
            refused = await client.call_tool("get_statement", {"statement_id": forged})
            raw_id = handle[len(PREFIX) :].rsplit(".", 3)[0]
            raw = await client.call_tool("cancel_statement", {"statement_id": raw_id})
            past = HandleSigner(
                signing_key(SecretStore(sql_project.state_dir)), 60, clock=lambda: time.time() - 120
            )
            expired = await client.call_tool("get_statement", {"statement_id": past.seal(raw_id)})
    assert handle.startswith(PREFIX) and fresh.startswith(PREFIX)
    assert polled.structured_content["state"] in ("PENDING", "RUNNING")
    assert await cancel_reached(workspace, raw_id, 15)
    assert refused.is_error and "policy.bad_handle" in text_of(refused)
    assert raw.is_error and "policy.bad_handle" in text_of(raw)
    assert expired.is_error and "policy.handle_expired" in text_of(expired)
    assert set(balancer.served) == {b.removesuffix("/mcp") for b in (one, two, three)}
    calls = [r for r in audit(sql_project) if r.get("tool") in ("execute_sql", "get_statement",
                                                                 "cancel_statement")]  # fmt: skip
    replicas = {r["replica"] for r in calls}
    assert len(replicas) == 3, replicas  # each call was served and audited by some replica
    served_ok = {r["tool"]: r["replica"] for r in calls if r["outcome"] == "ok"}
    assert len(set(served_ok.values())) >= 2  # started on one, polled or cancelled on another


async def test_a_statement_nobody_polls_is_cancelled(sql_project: Project, workspace: Any) -> None:
    with http_server(sql_project.path, TOKEN, "--idle-cancel-s", "10") as url:
        async with http_session(url, TOKEN) as client:
            started = await client.call_tool(
                "execute_sql", {"statement": SLOW_SQL, "deadline_s": 2}
            )
            assert not started.is_error, text_of(started)
            sid = started.structured_content["statement_id"]
            # The session stays open and nobody polls: the idle clock, not a disconnect, ends it.
            reached = await cancel_reached(workspace, sid, 60)
    assert reached
    record = [r for r in audit(sql_project) if r.get("statement_id") == sid][-1]
    assert record["tool"] == "cancel_statement" and record["outcome"] == "ok"
    assert record["replica"]
