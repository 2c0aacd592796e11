"""The configuration snippet each MCP client needs to start or reach `lakegate serve`.

One builder for the CLI (`serve --print-config`) and the Studio's Copilot page. A snippet names
the environment variables the server needs, never their values: each client has its own way
to fill them (a prompt, the shell's environment, or a placeholder to replace), told in `notes`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from lakegate.secrets import REFERENCE_PATTERN

__all__ = ["ALIASES", "CLIENTS", "ClientSnippet", "client_snippet", "env_names", "resolve_client"]

# client id -> (what a person calls it, where the snippet goes)
CLIENTS: dict[str, tuple[str, str]] = {
    "claude-desktop": ("Claude Desktop", "claude_desktop_config.json (Settings > Developer)"),
    "claude-code": ("Claude Code", ".mcp.json at the root of your project"),
    "vscode": ("VS Code", ".vscode/mcp.json in your workspace"),
    "cursor": ("Cursor", "~/.cursor/mcp.json (or .cursor/mcp.json in a project)"),
}
ALIASES = {"claude": "claude-desktop", "code": "vscode", "vs-code": "vscode"}
TOKEN_ENV = "LAKEGATE_MCP_TOKEN"  # noqa: S105 - a variable's name
_HEADER_ENV = "LAKEGATE_AUTH_HEADER"
_ENV_REF = re.compile(r"\$\{env:([A-Za-z_][A-Za-z0-9_.\-]{0,127})\}")


@dataclass
class ClientSnippet:
    """The JSON to paste, where it goes, and what a person still has to do."""

    client: str
    title: str
    where: str
    config: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    env: list[str] = field(default_factory=list)  # variables the snippet names


def resolve_client(name: str) -> str | None:
    """`claude` -> `claude-desktop`; None for a client we have no snippet for."""
    key = ALIASES.get(name.lower(), name.lower())
    return key if key in CLIENTS else None


def env_names(project: Any) -> list[str]:
    """The environment variables the project's connectors read (`${env:NAME}`), in file order."""
    found: list[str] = []
    for connector in project.connectors.values():
        _collect(connector.model_dump(mode="json"), found)
    return list(dict.fromkeys(found))


def _collect(value: Any, found: list[str]) -> None:
    if isinstance(value, str):
        match = REFERENCE_PATTERN.match(value)
        if match and match.group(1) == "env":
            found.append(match.group(2))
        else:
            found.extend(_ENV_REF.findall(value))
    elif isinstance(value, dict):
        for item in value.values():
            _collect(item, found)
    elif isinstance(value, list):
        for item in value:
            _collect(item, found)


def client_snippet(
    client: str, *, command: list[str], env: list[str], url: str | None = None
) -> ClientSnippet:
    """The snippet for `client`: stdio (the client starts `command`), or `url` over HTTP."""
    key = resolve_client(client)
    if key is None:
        raise ValueError(f"no snippet for client {client!r}")
    title, where = CLIENTS[key]
    snippet = ClientSnippet(key, title, where, {}, env=list(env))
    if url is None:
        _stdio(snippet, command, env)
    else:
        _http(snippet, url)
    return snippet


def _stdio(snippet: ClientSnippet, command: list[str], env: list[str]) -> None:
    program, *args = command
    entry: dict[str, Any] = {"command": program, "args": args}
    notes = snippet.notes
    if snippet.client == "claude-desktop":
        # Claude Desktop starts the server with this env block as it is: no variable expansion.
        entry["env"] = {name: f"<the value of {name}>" for name in env}
        if env:
            notes.append(
                f"Replace each <the value of ...> in `env` ({', '.join(env)}): Claude Desktop "
                "does not read your shell's environment. To keep the value out of this file, "
                "store it with `lakegate secret set NAME` and write ${secret:NAME} in "
                "lakegate.yaml instead."
            )
        config: dict[str, Any] = {"mcpServers": {"lakegate": entry}}
    elif snippet.client == "claude-code":
        entry = {"type": "stdio", **entry, "env": {name: f"${{{name}}}" for name in env}}
        if env:
            notes.append(
                f"Claude Code fills `env` from its own environment: export {', '.join(env)} "
                "in the shell you start it from."
            )
        config = {"mcpServers": {"lakegate": entry}}
    elif snippet.client == "vscode":
        inputs = [_prompt(_input_id(name), f"{name} for lakegate") for name in env]
        entry = {"type": "stdio", **entry, "env": {n: f"${{input:{_input_id(n)}}}" for n in env}}
        if env:
            notes.append(f"VS Code asks once for {', '.join(env)} and keeps it encrypted.")
        config = (
            {"inputs": inputs, "servers": {"lakegate": entry}}
            if inputs
            else {"servers": {"lakegate": entry}}
        )
    else:  # cursor
        entry = {"type": "stdio", **entry, "env": {name: f"${{env:{name}}}" for name in env}}
        if env:
            notes.append(
                f"Cursor fills `env` from its own environment: export {', '.join(env)} before "
                "starting it."
            )
        config = {"mcpServers": {"lakegate": entry}}
    if not env:
        del entry["env"]
    snippet.config = config


def _http(snippet: ClientSnippet, url: str) -> None:
    notes, token_hint = snippet.notes, "`lakegate serve --show-token` prints the token"
    snippet.env = [TOKEN_ENV] if snippet.client in ("claude-code", "cursor") else []
    if snippet.client == "claude-desktop":
        # Claude Desktop's config file starts stdio servers only: a bridge reaches the URL.
        args = ["-y", "mcp-remote", url, "--header", f"Authorization:${{{_HEADER_ENV}}}"]
        if url.startswith("http://"):
            args.append("--allow-http")
        entry = {"command": "npx", "args": args, "env": {_HEADER_ENV: "Bearer <token>"}}
        snippet.config = {"mcpServers": {"lakegate": entry}}
        snippet.env = [_HEADER_ENV]
        notes.append(
            "Claude Desktop starts local (stdio) servers from this file, so this runs the "
            "mcp-remote bridge (needs Node.js) to reach the HTTP server. Replace <token> in "
            f"`env`; {token_hint}."
        )
    elif snippet.client == "claude-code":
        entry = {"type": "http", "url": url, "headers": _bearer(f"${{{TOKEN_ENV}}}")}
        snippet.config = {"mcpServers": {"lakegate": entry}}
        notes.append(f"Export {TOKEN_ENV} before starting Claude Code; {token_hint}.")
    elif snippet.client == "vscode":
        entry = {"type": "http", "url": url, "headers": _bearer("${input:lakegate-token}")}
        snippet.config = {
            "inputs": [_prompt("lakegate-token", "lakegate MCP bearer token")],
            "servers": {"lakegate": entry},
        }
        notes.append(f"VS Code asks for the token once; {token_hint}.")
    else:  # cursor
        entry = {"url": url, "headers": _bearer(f"${{env:{TOKEN_ENV}}}")}
        snippet.config = {"mcpServers": {"lakegate": entry}}
        notes.append(f"Export {TOKEN_ENV} before starting Cursor; {token_hint}.")


def _bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


def _prompt(input_id: str, description: str) -> dict[str, Any]:
    return {"type": "promptString", "id": input_id, "description": description, "password": True}


def _input_id(name: str) -> str:
    return name.lower().replace("_", "-")
