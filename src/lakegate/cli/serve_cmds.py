"""`lakegate serve`: the project's actions as MCP tools, over stdio (default) or streamable HTTP.

In stdio mode stdout carries the protocol and nothing else: every log line goes to stderr.
"""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import socket
import sys
from pathlib import Path
from typing import Any

import typer

from lakegate.cli import _context
from lakegate.cli._project import open_project, usage

CONFIG_CLIENTS = ("claude", "vscode", "cursor")


def register(app: typer.Typer) -> None:
    """Add `lakegate serve` to the app, and the copilot's step to the end of `lakegate demo`."""
    from lakegate.cli import demo
    from lakegate.copilot.demo_step import copilot_tools

    app.command("serve")(serve)
    if copilot_tools not in demo.STEPS:
        demo.STEPS.append(copilot_tools)


def serve(
    http: bool = typer.Option(False, "--http", help="Serve MCP streamable HTTP instead of stdio."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind (with --http)."),
    port: int = typer.Option(8765, "--port", help="Port (with --http; 0 = any free one)."),
    allow_remote: bool = typer.Option(
        False, "--allow-remote", help="Allow binding a non-loopback address (with --http)."
    ),
    allowed_hosts: list[str] = typer.Option(
        [], "--allowed-host", help="Another Host header to accept (with --http; repeatable)."
    ),
    token_ref: str | None = typer.Option(
        None,
        "--token",
        metavar="REF",
        help="The bearer token as ${env:NAME} or ${secret:NAME} (default: $LAKEGATE_MCP_TOKEN, "
        "else the secret store's lakegate_mcp_token, generated on first run).",
    ),
    print_config: str | None = typer.Option(
        None,
        "--print-config",
        metavar="CLIENT",
        help="Print the configuration snippet for claude, vscode or cursor, and exit.",
    ),
) -> None:
    """Serve the project's actions as MCP tools to a copilot (Claude, VS Code, Cursor, ...).

    The copilot policy (`copilot:` in lakegate.yaml) decides which tools exist; every call is
    written to .lakegate/audit.jsonl.

    Examples:

        lakegate serve                          # stdio: the copilot starts this command
        lakegate serve --print-config claude    # the snippet to paste into the client
        lakegate serve --http --port 8765       # http://127.0.0.1:8765/mcp, bearer token
    """
    if print_config is not None:
        _print_config(print_config, http=http, host=host, port=port)
        return
    logging.basicConfig(
        stream=sys.stderr, level=logging.WARNING, format="lakegate %(levelname)s %(message)s"
    )
    project = open_project()
    if http:
        from lakegate.copilot.http import check_bind

        check_bind(host, allow_remote=allow_remote)
        asyncio.run(_serve_http(project, host, port, allowed_hosts, token_ref))
    else:
        asyncio.run(_serve_stdio(project))


async def _serve_stdio(project: Any) -> None:
    from lakegate.copilot.server import CopilotServer
    from lakegate.gateway import Gateway

    async with Gateway(project) as gateway:
        await CopilotServer(gateway).run_stdio()


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as exc:
        sock.close()
        raise usage(
            f"Cannot bind {host}:{port} ({exc.strerror}).",
            "Pick another --port (0 picks a free one), or stop what is using it.",
        ) from None
    sock.listen(128)
    sock.setblocking(False)
    return sock


async def _serve_http(
    project: Any, host: str, port: int, allowed_hosts: list[str], token_ref: str | None
) -> None:
    import uvicorn

    from lakegate.copilot.http import TOKEN_SECRET, http_app, server_token
    from lakegate.copilot.server import CopilotServer
    from lakegate.gateway import Gateway
    from lakegate.secrets import SecretStore

    store = SecretStore(project.state_dir)
    token, created = server_token(store, token_ref)
    sock = _bind(host, port)
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    async with Gateway(project, secret_store=store) as gateway:
        copilot = CopilotServer(gateway)
        app = http_app(copilot, token=token, host=host, port=bound, extra_hosts=allowed_hosts)
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
        server = uvicorn.Server(config)
        err = sys.stderr
        print(
            f"lakegate MCP server listening on http://{shown}:{bound}/mcp "
            f"({len(copilot.exposed)} tools, profile {project.copilot.profile}); Ctrl-C stops it.",
            file=err,
            flush=True,
        )
        if created:
            # Shown once, deliberately unredacted: the operator must copy it into the client.
            print(
                f"A bearer token was generated and stored as ${{secret:{TOKEN_SECRET}}}. "
                f"It is shown only this once:\n\n    {token}\n",
                file=err,
                flush=True,
            )
        try:
            await server.serve(sockets=[sock])
        finally:
            await copilot.cancel_abandoned()


def _command() -> list[str]:
    found = shutil.which("lakegate")
    return [found] if found else [sys.executable, "-m", "lakegate"]


def _print_config(client: str, *, http: bool, host: str, port: int) -> None:
    if client not in CONFIG_CLIENTS:
        raise usage(
            f"--print-config takes one of {', '.join(CONFIG_CLIENTS)}, not {client!r}.",
            "e.g. lakegate serve --print-config claude",
        )
    project_file = str(Path(_context.project_path()).resolve())
    command, *prefix = _command()
    args = [*prefix, "--project", project_file, "serve"]
    url = f"http://{host}:{port}/mcp"
    if client == "vscode":
        if http:
            snippet: dict[str, Any] = {
                "inputs": [
                    {
                        "type": "promptString",
                        "id": "lakegate-token",
                        "description": "lakegate MCP bearer token",
                        "password": True,
                    }
                ],
                "servers": {
                    "lakegate": {
                        "type": "http",
                        "url": url,
                        "headers": {"Authorization": "Bearer ${input:lakegate-token}"},
                    }
                },
            }
        else:
            snippet = {"servers": {"lakegate": {"type": "stdio", "command": command, "args": args}}}
        where = ".vscode/mcp.json in your workspace"
    else:
        if http:
            variable = (
                "${LAKEGATE_MCP_TOKEN}" if client == "claude" else "${env:LAKEGATE_MCP_TOKEN}"
            )
            entry: dict[str, Any] = {"url": url, "headers": {"Authorization": f"Bearer {variable}"}}
            if client == "claude":
                entry = {"type": "http", **entry}
        else:
            entry = {"command": command, "args": args}
        snippet = {"mcpServers": {"lakegate": entry}}
        where = (
            "claude_desktop_config.json (Claude Desktop) or .mcp.json (Claude Code)"
            if client == "claude"
            else "~/.cursor/mcp.json (or .cursor/mcp.json in a project)"
        )
    sys.stdout.write(json.dumps(snippet, indent=2) + "\n")
    sys.stdout.flush()
    note = f"Paste this into {where}."
    if http:
        note += " Export LAKEGATE_MCP_TOKEN with the token `lakegate serve --http` uses."
    print(note, file=sys.stderr)
