"""`lakegate tools`, `lakegate audit` and `lakegate serve --print-config` as a person uses them."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lakegate.cli import main
from lakegate.copilot.audit import AuditLog, call_record
from lakegate.project import Connector, Project


def lakegate(project: Path, *args: str) -> tuple[int, str, str]:
    """Run the CLI in-process as the console script does: (exit code, stdout, stderr)."""
    runner = CliRunner()
    argv = sys.argv
    with runner.isolation(env={"LAKEGATE_PROJECT": str(project), "COLUMNS": "120"}) as (
        out,
        err,
        _,
    ):
        sys.argv = ["lakegate", *args]
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        finally:
            sys.argv = argv
            sys.stdout.flush()
            sys.stderr.flush()
        stdout, stderr = out.getvalue().decode(), err.getvalue().decode()
    assert "Traceback" not in stdout + stderr
    return code, stdout, stderr


@pytest.mark.parametrize(
    ("fmt", "name_of", "schema_key"),
    [
        ("openai", lambda t: t["function"]["name"], lambda t: t["function"]["parameters"]),
        ("anthropic", lambda t: t["name"], lambda t: t["input_schema"]),
        ("mcp", lambda t: t["name"], lambda t: t["inputSchema"]),
    ],
)
def test_tools_export_prints_the_policy_adjusted_schemas(
    project_factory: Callable[..., Project],
    fmt: str,
    name_of: Callable[[dict], str],
    schema_key: Callable[[dict], dict],
) -> None:
    project = project_factory(profile="operator", pinned={"warehouse_id": "w-pinned"})
    code, out, _ = lakegate(project.path, "tools", "export", "--format", fmt)
    assert code == 0
    tools = json.loads(out)
    assert sorted(name_of(t) for t in tools) == ["list_warehouses", "start_warehouse"]
    start = next(t for t in tools if name_of(t) == "start_warehouse")
    assert "warehouse_id" not in schema_key(start)["properties"]  # pinned: the model can't set it
    if fmt == "mcp":
        assert start["annotations"]["readOnlyHint"] is False


def test_tools_export_refuses_an_unknown_format(project_factory: Callable[..., Project]) -> None:
    code, _, err = lakegate(project_factory().path, "tools", "export", "--format", "yaml")
    assert code == 2 and "openai" in err


def test_tools_list_says_why_a_tool_is_hidden(project_factory: Callable[..., Project]) -> None:
    code, out, _ = lakegate(project_factory().path, "tools", "list")
    assert code == 0
    assert "does not allow writes" in out and "only profile admin" in out


def _env_project(folder: Path) -> Path:
    """A project whose connector reads its secret from ${env:LG_PC_SECRET}, as the README's does."""
    project = Project.new(folder / "lakegate.yaml")
    project.set_connector(
        "databricks",
        Connector.model_validate(
            {
                "name": "databricks",
                "base_url": "https://dbc-1.cloud.databricks.com",
                "auth": {
                    "type": "oauth2",
                    "client_id": "abc",
                    "client_secret": "${env:LG_PC_SECRET}",
                    "token_url": "https://dbc-1.cloud.databricks.com/oidc/v1/token",
                },
            }
        ),
    )
    project.save()
    return project.path


def _entry(out: str) -> dict:
    snippet = json.loads(out)
    return (snippet.get("mcpServers") or snippet["servers"])["lakegate"]


PC_VALUE = "pc-secret-value-9f8e7d6c5b4a"


@pytest.mark.parametrize(
    ("client", "env_value"),
    [
        ("claude", "<the value of LG_PC_SECRET>"),  # Claude Desktop expands nothing: fill it in
        ("claude-desktop", "<the value of LG_PC_SECRET>"),
        ("claude-code", "${LG_PC_SECRET}"),
        ("vscode", "${input:lg-pc-secret}"),
        ("cursor", "${env:LG_PC_SECRET}"),
    ],
)
def test_print_config_names_the_env_the_server_needs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, client: str, env_value: str
) -> None:
    monkeypatch.setenv("LG_PC_SECRET", PC_VALUE)
    project = _env_project(tmp_path)
    code, out, err = lakegate(project, "serve", "--print-config", client)
    assert code == 0, err
    entry = _entry(out)
    assert entry["args"][-3:] == ["--project", str(project.resolve()), "serve"]
    assert entry["env"] == {"LG_PC_SECRET": env_value}  # the name, never the value
    assert PC_VALUE not in out + err
    assert "Paste this into" in err and "LG_PC_SECRET" in err  # what to fill, and how
    if client == "vscode":
        prompt = json.loads(out)["inputs"][0]
        assert prompt["id"] == "lg-pc-secret" and prompt["password"] is True


def test_print_config_without_env_references_has_no_env_block(tmp_path: Path) -> None:
    project = tmp_path / "lakegate.yaml"
    code, out, err = lakegate(project, "serve", "--print-config", "claude-code")
    assert code == 2 and out == ""  # no config for a server that could not load its project
    assert "There is no project at" in " ".join(err.split())
    Project.new(project).save()
    code, out, _ = lakegate(project, "serve", "--print-config", "claude-code")
    assert code == 0 and "env" not in _entry(out)


def test_print_config_warns_when_the_shell_lacks_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LG_PC_SECRET", raising=False)
    project = _env_project(tmp_path)
    code, _, err = lakegate(project, "serve", "--http", "--print-config", "cursor")
    assert code == 0 and "warning" in err
    assert "LG_PC_SECRET is not set in this shell" in " ".join(err.split())


def test_print_config_over_http_matches_each_clients_format(tmp_path: Path) -> None:
    project = tmp_path / "lakegate.yaml"
    Project.new(project).save()
    http = ("serve", "--http", "--port", "9000", "--print-config")
    url = "http://127.0.0.1:9000/mcp"

    code, out, err = lakegate(project, *http, "claude")
    desktop = _entry(out)  # Claude Desktop's file starts stdio servers: a bridge to the URL
    assert code == 0 and "url" not in desktop
    assert desktop["command"] == "npx" and desktop["args"][1:3] == ["mcp-remote", url]
    assert desktop["env"] == {"LAKEGATE_AUTH_HEADER": "Bearer <token>"}
    assert "--show-token" in err

    code, out, err = lakegate(project, *http, "claude-code")
    assert _entry(out) == {
        "type": "http",
        "url": url,
        "headers": {"Authorization": "Bearer ${LAKEGATE_MCP_TOKEN}"},
    }
    assert ".mcp.json" in err

    code, out, err = lakegate(project, *http, "vscode")
    assert _entry(out)["headers"] == {"Authorization": "Bearer ${input:lakegate-token}"}
    assert "asks for the token" in err and "export" not in err  # the note matches the prompt

    code, out, err = lakegate(project, *http, "cursor")
    assert _entry(out)["headers"] == {"Authorization": "Bearer ${env:LAKEGATE_MCP_TOKEN}"}
    assert "Export LAKEGATE_MCP_TOKEN" in err


def test_serve_http_defaults_to_a_port_the_readme_does_not_use(tmp_path: Path) -> None:
    Project.new(tmp_path / "lakegate.yaml").save()
    code, out, _ = lakegate(tmp_path / "lakegate.yaml", "serve", "--http", "--print-config",
                            "claude-code")  # fmt: skip
    port = int(_entry(out)["url"].rsplit(":", 1)[1].split("/")[0])
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    assert code == 0 and f"--port {port}" not in readme and f":{port}" not in readme
    assert "--port 8765" in readme  # the workspace's port, which serve must not take


def test_a_busy_port_generates_no_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    monkeypatch.delenv("LAKEGATE_MCP_TOKEN", raising=False)
    project = tmp_path / "lakegate.yaml"
    assert lakegate(project, "init")[0] == 0
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = str(busy.getsockname()[1])
        code, _, err = lakegate(project, "serve", "--http", "--port", port)
    assert code == 2 and "Cannot bind" in err
    assert not (tmp_path / ".lakegate" / "secrets.json").exists()  # nothing to lose
    code, out, err = lakegate(project, "serve", "--show-token")
    assert code == 2 and out == "" and "--rotate-token" in err


def test_show_and_rotate_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from lakegate.secrets import SecretStore

    monkeypatch.delenv("LAKEGATE_MCP_TOKEN", raising=False)
    project = tmp_path / "lakegate.yaml"
    assert lakegate(project, "init")[0] == 0
    code, first, _ = lakegate(project, "serve", "--rotate-token")
    token = first.strip()
    assert code == 0 and len(token) >= 32
    assert SecretStore(tmp_path / ".lakegate").get("lakegate_mcp_token") == token
    assert lakegate(project, "serve", "--show-token")[1].strip() == token
    code, second, _ = lakegate(project, "serve", "--rotate-token")
    assert code == 0 and second.strip() not in ("", token)
    assert lakegate(project, "serve", "--show-token")[1].strip() == second.strip()


def test_a_short_token_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = tmp_path / "lakegate.yaml"
    assert lakegate(project, "init")[0] == 0
    monkeypatch.setenv("LAKEGATE_MCP_TOKEN", "abcde")
    code, out, err = lakegate(project, "serve", "--show-token")
    assert code == 2 and "config.weak_token" in err and "abcde" not in out + err
    code, _, err = lakegate(project, "serve", "--http", "--port", "0")
    assert code == 2 and "config.weak_token" in err
    monkeypatch.setenv("LAKEGATE_MCP_TOKEN", "x" * 32)
    code, out, _ = lakegate(project, "serve", "--show-token")
    assert code == 0 and out.strip() == "x" * 32


def test_audit_tail_and_stats_read_the_log(tmp_path: Path) -> None:
    project = tmp_path / "lakegate.yaml"
    log = AuditLog(tmp_path / ".lakegate" / "audit.jsonl")
    for i, ms in enumerate([10, 20, 30, 40]):
        log.write(
            call_record(
                client={"name": "claude", "version": "9"},
                tool="list_warehouses" if i < 3 else "execute_sql",
                arguments={"i": i},
                outcome="ok" if i != 1 else "error",
                elapsed_ms=ms,
                status=200,
                user="alice@example.com" if i % 2 else None,
            )
        )
    code, out, _ = lakegate(project, "audit", "tail", "-n", "2", "--json")
    assert code == 0
    assert [json.loads(line)["arguments"]["i"] for line in out.splitlines()] == [2, 3]
    code, out, _ = lakegate(project, "audit", "tail")
    assert code == 0 and "claude/9" in out and out.count("list_warehouses") == 3
    code, out, _ = lakegate(project, "audit", "stats", "--json")
    rows = {r["tool"]: r for r in json.loads(out)}
    assert rows["list_warehouses"] == {
        "tool": "list_warehouses",
        "calls": 3,
        "errors": 1,
        "p50_ms": 20.0,
        "p95_ms": 30.0,
    }
    code, out, _ = lakegate(project, "audit", "stats")
    assert code == 0 and "execute_sql" in out
    code, out, _ = lakegate(project, "audit", "tail")
    assert out.count("user=alice@example.com") == 2
    code, out, _ = lakegate(project, "audit", "stats", "--by", "user", "--json")
    assert code == 0 and json.loads(out) == [
        {"user": "-", "calls": 2, "errors": 0, "p50_ms": 10.0, "p95_ms": 30.0},
        {"user": "alice@example.com", "calls": 2, "errors": 1, "p50_ms": 20.0, "p95_ms": 40.0},
    ]
    code, out, _ = lakegate(project, "audit", "stats", "--by", "user")
    assert code == 0 and "alice@example.com" in out
    code, out, err = lakegate(project, "audit", "stats", "--by", "host")
    assert code == 2 and "--by user" in err and "Traceback" not in err


def test_audit_on_a_project_without_calls_says_so(tmp_path: Path) -> None:
    code, out, err = lakegate(tmp_path / "lakegate.yaml", "audit", "stats")
    assert code == 0 and out == "" and "No tool calls" in err


def test_a_start_that_generates_the_token_shows_it(tmp_path: Path) -> None:
    import os
    import subprocess
    import threading

    from lakegate.secrets import SecretStore

    project = tmp_path / "lakegate.yaml"
    assert lakegate(project, "init")[0] == 0
    env = {k: v for k, v in os.environ.items() if k != "LAKEGATE_MCP_TOKEN"}
    server = subprocess.Popen(
        [sys.executable, "-m", "lakegate", "--project", str(project), "serve", "--http",
         "--port", "0"],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env,
    )  # fmt: skip
    watchdog = threading.Timer(60, server.kill)  # a server that never says it ends the loop
    watchdog.start()
    try:
        seen: list[str] = []
        for line in server.stderr:  # the server prints, then serves until stopped
            seen.append(line)
            if "--show-token" in line:
                break
    finally:
        watchdog.cancel()
        server.terminate()
        server.wait(30)
    stored = SecretStore(tmp_path / ".lakegate").get("lakegate_mcp_token")
    assert stored and f"    {stored}\n" in seen, "".join(seen)
