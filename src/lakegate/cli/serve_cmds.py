"""`lakegate serve`: the project's actions as MCP tools, over stdio (default) or streamable HTTP.

In stdio mode stdout carries the protocol and nothing else: every log line goes to stderr.
"""

from __future__ import annotations

import json
import shutil
import socket
import sys
from pathlib import Path
from typing import Any

import typer

from lakegate.cli import _context
from lakegate.cli._project import open_project, usage, warn

DEFAULT_HTTP_PORT = 8770  # not the README's `workspace serve --port 8765`, nor the Studio's 8787


def register(app: typer.Typer) -> None:
    """Add `lakegate serve` to the app, and the copilot's step to the end of `lakegate demo`."""
    from lakegate.cli import demo
    from lakegate.copilot.demo_people import people_ask
    from lakegate.copilot.demo_step import copilot_tools

    app.command("serve")(serve)
    for step in (copilot_tools, people_ask):
        if step not in demo.STEPS:
            demo.STEPS.append(step)


def serve(
    http: bool = typer.Option(False, "--http", help="Serve MCP streamable HTTP instead of stdio."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind (with --http)."),
    port: int = typer.Option(
        DEFAULT_HTTP_PORT, "--port", help="Port (with --http; 0 = any free one)."
    ),
    allow_remote: bool = typer.Option(
        False, "--allow-remote", help="Allow binding a non-loopback address (with --http)."
    ),
    allowed_hosts: list[str] = typer.Option(
        [], "--allowed-host", help="Another Host header to accept (with --http; repeatable)."
    ),
    stateless: bool = typer.Option(
        False,
        "--stateless",
        help="No sessions: any replica behind a load balancer serves any request; statement "
        "handles are signed with a key from the secret store (with --http).",
    ),
    idle_cancel_s: float = typer.Option(
        600.0,
        "--idle-cancel-s",
        min=10,
        help="Cancel a running statement nobody polled for this many seconds (with --http).",
    ),
    token_ref: str | None = typer.Option(
        None,
        "--token",
        metavar="REF",
        help="The bearer token as ${env:NAME} or ${secret:NAME} (default: $LAKEGATE_MCP_TOKEN, "
        "else the secret store's lakegate_mcp_token, generated on first run).",
    ),
    show_token: bool = typer.Option(
        False, "--show-token", help="Print the bearer token `serve --http` uses, and exit."
    ),
    rotate_token: bool = typer.Option(
        False,
        "--rotate-token",
        help="Replace the stored bearer token with a new random one, print it, and exit.",
    ),
    print_config: str | None = typer.Option(
        None,
        "--print-config",
        metavar="CLIENT",
        help="Print the configuration snippet for claude-desktop (or claude), claude-code, "
        "vscode or cursor, and exit.",
    ),
) -> None:
    """Serve the project's actions as MCP tools to a copilot (Claude, VS Code, Cursor, ...).

    The copilot policy (`copilot:` in lakegate.yaml) decides which tools exist; every call is
    written to .lakegate/audit.jsonl.

    Examples:

        lakegate serve                          # stdio: the copilot starts this command
        lakegate serve --print-config claude-code   # the snippet to paste into the client
        lakegate serve --http                   # http://127.0.0.1:8770/mcp, bearer token
        lakegate serve --show-token             # the token for the client's configuration
    """
    import asyncio  # here, not at the top: `lakegate --help` should not load them
    import logging

    if print_config is not None:
        _print_config(print_config, http=http, host=host, port=port)
        return
    if show_token or rotate_token:
        _token_command(token_ref, rotate=rotate_token)
        return
    logging.basicConfig(
        stream=sys.stderr, level=logging.WARNING, format="lakegate %(levelname)s %(message)s"
    )
    project = open_project()
    if http:
        from lakegate.copilot.http import check_bind

        check_bind(host, allow_remote=allow_remote)
        scale = {"stateless": stateless, "idle_cancel_s": idle_cancel_s}
        asyncio.run(_serve_http(project, host, port, allowed_hosts, token_ref, scale))
    else:
        asyncio.run(_serve_stdio(project))


async def _serve_stdio(project: Any) -> None:
    from lakegate.copilot.server import CopilotServer
    from lakegate.gateway import Gateway

    async with Gateway(project) as gateway:
        copilot = CopilotServer(gateway)
        await _warn_about_principals(copilot)
        await copilot.run_stdio()


async def _warn_about_principals(copilot: Any) -> None:
    """On stderr: a copilot acting as a workspace admin, or able to write where it is pinned."""
    from lakegate.databricks.privilege import copilot_warnings

    gateway = copilot.gateway
    names = sorted({p.action.connector for p in copilot.exposed if p.action.connector})
    connectors = [copilot.project.connector(n) for n in names]
    for line in await copilot_warnings(gateway, connectors, copilot.policy.pinned):
        warn(
            f"{line}. Give the copilot a principal of its own (`lakegate doctor` says how), "
            "or set `grant_type: token_exchange` to act as each person who asks."
        )


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
    project: Any,
    host: str,
    port: int,
    allowed_hosts: list[str],
    token_ref: str | None,
    scale: dict[str, Any],
) -> None:
    from lakegate.copilot.http import (
        TOKEN_SECRET,
        freeze_startup_heap,
        http_app,
        http_copilot,
        oauth_verifier,
        server_token,
        uvicorn_server,
    )
    from lakegate.gateway import Gateway
    from lakegate.secrets import SecretStore

    store = SecretStore(project.state_dir)
    sock = _bind(host, port)  # first: a token generated for a port we cannot bind would be lost
    auth = project.copilot.auth
    token: str | None = None
    created = False
    try:
        if auth.type == "bearer":
            token, created = server_token(store, token_ref)
    except BaseException:
        sock.close()
        raise
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    verifier = oauth_verifier(auth, f"http://{shown}:{bound}/mcp")
    async with Gateway(project, secret_store=store) as gateway:
        copilot = http_copilot(gateway, **scale)
        await copilot.name_warehouse()  # so the first session's instructions name it too
        await _warn_about_principals(copilot)
        app = http_app(
            copilot, token=token, host=host, port=bound, extra_hosts=allowed_hosts,
            stateless=scale["stateless"], verifier=verifier,
        )  # fmt: skip
        server = uvicorn_server(app)
        err = sys.stderr
        print(
            f"lakegate MCP server listening on http://{shown}:{bound}/mcp "
            f"({len(copilot.exposed)} tools, profile {project.copilot.profile}); Ctrl-C stops it.",
            file=err,
            flush=True,
        )
        if verifier is not None:
            print(
                f"OAuth: tokens from {verifier.issuer} for the resource {verifier.audience} "
                "(metadata at /.well-known/oauth-protected-resource/mcp)",
                file=err,
                flush=True,
            )
        if created:
            # Deliberately unredacted: the operator must copy it into the client.
            print(
                f"A bearer token was generated and stored as ${{secret:{TOKEN_SECRET}}}:\n\n"
                f"    {token}\n\n`lakegate serve --show-token` prints it again.",
                file=err,
                flush=True,
            )
        try:
            freeze_startup_heap()
            await server.serve(sockets=[sock])
        finally:
            await copilot.cancel_abandoned()


def _token_command(token_ref: str | None, *, rotate: bool) -> None:
    """`--show-token` / `--rotate-token`: the token itself on stdout, for the client's config."""
    import os
    import secrets as pysecrets

    from lakegate.copilot.http import TOKEN_ENV, TOKEN_SECRET, server_token
    from lakegate.secrets import SecretStore

    store = SecretStore(open_project().state_dir)
    if rotate:
        token = pysecrets.token_urlsafe(32)
        store.set(TOKEN_SECRET, token)
        print(f"Stored a new bearer token as ${{secret:{TOKEN_SECRET}}}; a running `serve "
              "--http` keeps the old one until it restarts.", file=sys.stderr)  # fmt: skip
        if os.environ.get(TOKEN_ENV) and not token_ref:
            warn(f"${TOKEN_ENV} is set in this shell and wins over the stored token; unset it.")
    elif token_ref or os.environ.get(TOKEN_ENV) or store.get(TOKEN_SECRET):
        token, _ = server_token(store, token_ref)
    else:
        raise usage(
            "There is no MCP bearer token yet.",
            "`lakegate serve --http` generates one on its first start, or run "
            "`lakegate serve --rotate-token`.",
        )
    sys.stdout.write(token + "\n")  # asked for by name: printed as it is
    sys.stdout.flush()


def _command() -> list[str]:
    found = shutil.which("lakegate")
    return [found] if found else [sys.executable, "-m", "lakegate"]


def _print_config(client: str, *, http: bool, host: str, port: int) -> None:
    import os

    from lakegate.copilot.clientconfig import CLIENTS, client_snippet, env_names, resolve_client

    key = resolve_client(client)
    if key is None:
        raise usage(
            f"--print-config takes one of {', '.join(CLIENTS)} (or claude), not {client!r}.",
            "e.g. lakegate serve --print-config claude-code",
        )
    project_path = Path(_context.project_path()).resolve()
    if not project_path.exists():
        raise usage(
            f"There is no project at {project_path}: a copilot configured with it would start "
            "a server that cannot load its actions.",
            "Run this where lakegate.yaml is (or pass --project PATH before `serve`); create "
            "one with `lakegate init` or `lakegate databricks connect`.",
        )
    env = env_names(open_project())
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}/mcp" if http else None
    command = [*_command(), "--project", str(project_path), "serve"]
    snippet = client_snippet(key, command=command, env=env, url=url)
    sys.stdout.write(json.dumps(snippet.config, indent=2) + "\n")
    sys.stdout.flush()
    print(f"Paste this into {snippet.where} ({snippet.title}).", file=sys.stderr)
    for note in snippet.notes:
        print(f"Then: {note}", file=sys.stderr)
    unset = [name for name in env if name not in os.environ]
    if unset and (http or key in ("claude-code", "cursor")):
        # Those read this shell's environment (or the HTTP server runs in it).
        when = "before `lakegate serve --http`" if http else f"before starting {snippet.title}"
        warn(f"{', '.join(unset)} is not set in this shell: export it {when}.")
