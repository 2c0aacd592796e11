"""A canary client secret and every issued token never appear in any output, file or log."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import mcp_types as types
from mcp import ClientSession, StdioServerParameters, stdio_client

from _support import mcp_http_session
from lakegate.workspace import LocalWorkspace

from .conftest import MCP_TOKEN, admin_token, http_server, issued_token_digests, leaked_tokens

CLIENT = types.Implementation(name="reliability", version="1.0")


def lakegate(folder: Path, *args: str, stdin: str | None = None, env: dict | None = None) -> str:
    """Run `python -m lakegate ARGS` in `folder`; its stdout and stderr, labelled."""
    proc = subprocess.run(
        [sys.executable, "-m", "lakegate", *args],
        cwd=folder,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
    )
    return f"$ lakegate {' '.join(args)} -> {proc.returncode}\n{proc.stdout}\n{proc.stderr}\n"


@contextlib.asynccontextmanager
async def stdio_session(project: Path, errlog: Path) -> AsyncIterator[ClientSession]:
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "lakegate", "--project", str(project), "serve"]
    )
    with errlog.open("w") as err:
        async with (
            stdio_client(params, errlog=err) as (read, write),
            ClientSession(read, write, client_info=CLIENT) as client,
        ):
            await client.initialize()
            yield client


async def tool_calls(client: ClientSession) -> str:
    """A few tool calls, good and bad; their text."""
    out = []
    tools = await client.list_tools()
    out.append(json.dumps([t.model_dump(mode="json") for t in tools.tools]))
    for name, args in [
        ("list_warehouses", {}),
        ("execute_sql", {"statement": "SELECT 1 AS one"}),
        ("execute_sql", {"statement": "DROP TABLE x"}),
        ("get_warehouse", {"id": "nope"}),
    ]:
        result = await client.call_tool(name, args)
        out.append(json.dumps(result.model_dump(mode="json")))
    return "\n".join(out)


async def test_no_canary_or_token_in_any_output(
    workspace_factory: Callable[..., LocalWorkspace], tmp_path: Path
) -> None:
    ws = workspace_factory()
    sp = ws.create_service_principal("canary-sp", admin=True)
    canary = sp["client_secret"]
    folder = tmp_path / "project"
    folder.mkdir()
    project = folder / "lakegate.yaml"
    env = {"CANARY_SECRET": canary, "WRONG_SECRET": canary + "x"}
    outputs = [lakegate(folder, "init")]
    # A wrong secret first: the error must not echo what was passed.
    connect = ("databricks", "connect", "--host", ws.host, "--client-id", sp["client_id"])
    outputs.append(lakegate(folder, *connect, "--client-secret-env", "WRONG_SECRET", env=env))
    outputs.append(lakegate(folder, *connect, "--client-secret-stdin", stdin=canary + "\n"))
    assert "-> 0" in outputs[-1].splitlines()[0], outputs[-1]
    for args in [
        ("test", "list_warehouses"),
        ("call", "list_warehouses"),
        ("call", "list_warehouses", "--json"),
        ("call", "execute_sql", "-i", "statement=SELECT 1 AS one", "--json"),
        ("call", "get_warehouse", "-i", "id=missing", "--json"),
        ("doctor",),
        ("connector", "show", "databricks"),
        ("connector", "list"),
        ("tools", "list"),
        ("secret", "list"),
    ]:
        outputs.append(lakegate(folder, *args))
    async with stdio_session(project, tmp_path / "stdio.err") as client:
        outputs.append(await tool_calls(client))
    with http_server(project, tmp_path / "http.err") as (url, _):
        async with mcp_http_session(url, MCP_TOKEN, CLIENT) as client:
            outputs.append(await tool_calls(client))
    outputs.append(lakegate(folder, "audit", "tail"))
    outputs.append(lakegate(folder, "audit", "stats"))

    scanned: dict[str, str] = {f"command output {i}": text for i, text in enumerate(outputs)}
    for path in [project, tmp_path / "stdio.err", tmp_path / "http.err", ws.requests_log]:
        scanned[str(path)] = path.read_text()
    state_files = [p for p in (folder / ".lakegate").rglob("*") if p.is_file()]
    for path in state_files:
        if path.name != "secrets.json":  # the one place the secret belongs (mode 0600)
            scanned[str(path)] = path.read_text(errors="replace")
    audit = folder / ".lakegate" / "audit.jsonl"
    assert audit.exists() and audit.read_text().strip(), "the copilot calls were audited"
    assert "SELECT 1" in "".join(outputs)  # the outputs are real answers, not empty
    digests = issued_token_digests(ws)
    canary_hits = [name for name, text in scanned.items() if canary in text]
    token_hits = {name: leaked_tokens(text, digests) for name, text in scanned.items()}
    token_hits = {k: v for k, v in token_hits.items() if v}
    size = sum(len(t) for t in scanned.values())
    print(
        f"\nsecrets: {len(outputs)} command/session outputs + {len(scanned) - len(outputs)} "
        f"files ({size:,} chars) scanned for the canary and {len(digests)} issued tokens: "
        f"{len(canary_hits)} canary hits, {sum(map(len, token_hits.values()))} token hits"
    )
    assert canary_hits == []
    assert token_hits == {}
    control = admin_token(ws)  # the detector does find a token when one is there
    assert leaked_tokens(f"Bearer {control}.", issued_token_digests(ws))
    secrets_file = folder / ".lakegate" / "secrets.json"
    assert canary in secrets_file.read_text()  # the scan would have seen it, had it leaked
    assert secrets_file.stat().st_mode & 0o077 == 0
