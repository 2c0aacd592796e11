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
from lakegate.project import Project


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


@pytest.mark.parametrize("client", ["claude", "vscode", "cursor"])
def test_print_config_gives_a_snippet_to_paste(tmp_path: Path, client: str) -> None:
    project = tmp_path / "lakegate.yaml"
    code, out, err = lakegate(project, "serve", "--print-config", client)
    assert code == 0
    snippet = json.loads(out)
    servers = snippet.get("mcpServers") or snippet["servers"]
    entry = servers["lakegate"]
    assert entry["args"][-3:] == ["--project", str(project.resolve()), "serve"]
    assert "Paste this into" in err
    code, out, _ = lakegate(project, "serve", "--http", "--port", "9000", "--print-config", client)
    entry = (json.loads(out).get("mcpServers") or json.loads(out)["servers"])["lakegate"]
    assert entry["url"] == "http://127.0.0.1:9000/mcp"
    assert entry["headers"]["Authorization"].startswith("Bearer ${")  # a variable, never a token


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


def test_audit_on_a_project_without_calls_says_so(tmp_path: Path) -> None:
    code, out, err = lakegate(tmp_path / "lakegate.yaml", "audit", "stats")
    assert code == 0 and out == "" and "No tool calls" in err
