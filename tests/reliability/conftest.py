"""Helpers for the reliability suite: projects on a local workspace, the access log, leak scans."""

from __future__ import annotations

import contextlib
import hashlib
import re
from collections.abc import Iterator
from pathlib import Path

import httpx

from _support import access_log as access_log  # the folder's tests import it from here
from _support import client_token, create_job_action, serve_http
from lakegate.databricks.connect import connect
from lakegate.project import Project
from lakegate.secrets import SecretStore
from lakegate.workspace import LocalWorkspace

TOKEN_LIKE = re.compile(r"[A-Za-z0-9_\-]{40,}")
MCP_TOKEN = "mcp-bearer-for-the-test-0123456789"


async def pack_project(
    folder: Path, ws: LocalWorkspace, *, allow_writes: bool = False, secret: str | None = None
) -> Project:
    """A project connected to `ws` with `connect()` (the pack), its secret in the store."""
    folder.mkdir(parents=True, exist_ok=True)
    project = Project.new(folder / "lakegate.yaml")
    SecretStore(project.state_dir).set("db_secret", secret or ws.credentials["client_secret"])
    await connect(
        project,
        host=ws.host,
        client_id=ws.credentials["client_id"],
        client_secret="${secret:db_secret}",
        allow_writes=allow_writes,
        warehouse_id=sorted(ws.call(lambda: ws.state.warehouses.ids()))[0],  # type: ignore[union-attr]
        run_test=False,
    )
    return project


def add_job_actions(project: Project) -> Project:
    """`create_job` beside the pack (the pack only runs jobs), saved."""
    project.set_action("create_job", create_job_action())
    project.save()
    return project


def admin_token(ws: LocalWorkspace) -> str:
    """A token for the workspace admin, fetched directly (used only to inspect state)."""
    creds = ws.credentials
    # The token endpoint may be under injected faults.
    return client_token(ws.host, creds["client_id"], creds["client_secret"], tries=20)


def list_runs(ws: LocalWorkspace, job_id: int) -> list[dict]:
    """Every run of `job_id`, paging through the jobs runs list API."""
    headers = {"Authorization": f"Bearer {admin_token(ws)}"}
    runs: list[dict] = []
    params: dict[str, object] = {"job_id": job_id, "limit": 100}
    while True:
        page = httpx.get(f"{ws.host}/api/2.2/jobs/runs/list", params=params, headers=headers)
        page.raise_for_status()
        body = page.json()
        runs += body.get("runs") or []
        if not body.get("has_more"):
            return runs
        params["page_token"] = body["next_page_token"]


def issued_token_digests(ws: LocalWorkspace) -> set[str]:
    """SHA-256 digests of every token the workspace has issued and still knows."""
    assert ws.state is not None
    return set(ws.call(lambda: set(ws.state.identity._grants)))


def leaked_tokens(text: str, digests: set[str]) -> list[str]:
    """Token-like strings in `text` whose digest is an issued token's (shown shortened)."""
    found = []
    for candidate in TOKEN_LIKE.findall(text):
        # A token may sit inside a longer run of URL-safe characters; try every 64-char window.
        for start in range(0, max(1, len(candidate) - 63)):
            piece = candidate[start : start + 64]
            if hashlib.sha256(piece.encode()).hexdigest() in digests:
                found.append(piece[:6] + "...")
    return found


@contextlib.contextmanager
def http_server(project: Path, errlog: Path) -> Iterator[tuple[str, int]]:
    """`lakegate serve --http --port 0`; yields its /mcp URL and pid; stderr goes to `errlog`."""
    with serve_http(project, token=MCP_TOKEN, errlog=errlog) as served:
        yield served
