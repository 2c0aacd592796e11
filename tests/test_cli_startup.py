"""The CLI starts at once: heavy modules load only in the commands that need them.

Counted, not timed: each case runs in a fresh interpreter and reports which heavy modules ended
up in `sys.modules` (the wall-clock figures live in benchmarks/cli_start.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lakegate.workspace import LocalWorkspace

HEAVY = [
    "sqlglot", "duckdb", "pyarrow", "mcp", "starlette", "jinja2", "uvicorn", "lakegate.workspace",
    "httpx", "aiohttp", "jsonschema", "lakegate.gateway",
]  # fmt: skip

PROBE = """
import atexit, json, sys
heavy = json.loads(sys.argv[1])
atexit.register(lambda: print("LOADED=" + json.dumps([m for m in heavy if m in sys.modules])))
sys.argv = ["lakegate", *sys.argv[2:]]
if sys.argv[1:] == ["<import>"]:
    import lakegate.cli
else:
    from lakegate.cli import main
    main()
"""


def loaded(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> list[str]:
    """The heavy modules a fresh interpreter holds after `lakegate ARGS` (or the import)."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(HEAVY), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env={**os.environ, **(env or {})},
    )
    line = [x for x in done.stdout.splitlines() if x.startswith("LOADED=")]
    assert line, (done.returncode, done.stdout[-2000:], done.stderr[-2000:])
    return json.loads(line[-1][len("LOADED=") :])


def test_importing_the_cli_loads_no_heavy_module() -> None:
    assert loaded("<import>") == []


@pytest.mark.parametrize(
    "args",
    [["version"], ["--help"], ["databricks", "--help"], ["serve", "--help"], ["call", "--help"]],
)
def test_help_and_version_load_no_heavy_module(args: list[str]) -> None:
    assert loaded(*args) == []


def test_calling_a_rest_action_loads_the_gateway_but_no_sql_or_server_module(
    tmp_path: Path, workspace: LocalWorkspace
) -> None:
    creds = workspace.credentials
    env = {"LG_TEST_SECRET": creds["client_secret"]}
    connect = [
        sys.executable, "-m", "lakegate", "databricks", "connect", "--host", workspace.host,
        "--client-id", creds["client_id"], "--client-secret-env", "LG_TEST_SECRET", "--no-test",
    ]  # fmt: skip
    made = subprocess.run(
        connect, cwd=tmp_path, env={**os.environ, **env}, capture_output=True, timeout=120
    )
    assert made.returncode == 0, made.stderr[-2000:]
    heavy = loaded("call", "list_warehouses", cwd=tmp_path, env=env)
    assert "lakegate.gateway" in heavy and "aiohttp" in heavy  # the call really ran
    assert set(heavy) <= {"lakegate.gateway", "aiohttp"}, heavy
