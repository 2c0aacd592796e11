"""The CLI starts at once: heavy modules load only in the commands that need them.

Counted, not timed: each case runs in a fresh interpreter and reports which of the watched
modules ended up in `sys.modules` (the wall-clock figures live in benchmarks/cli_start.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.core import _TyperParameter
from typer.testing import CliRunner

from lakegate.cli import _help
from lakegate.workspace import LocalWorkspace

HEAVY = [
    "sqlglot", "duckdb", "pyarrow", "mcp", "starlette", "jinja2", "uvicorn", "lakegate.workspace",
    "httpx", "aiohttp", "jsonschema", "lakegate.gateway",
]  # fmt: skip
# What help has no use for: rich's Markdown (markdown-it) and Traceback (pygments), which typer's
# help module imports at its top, and asyncio, which only running a command needs.
NOT_FOR_HELP = ["markdown_it", "rich.markdown", "pygments", "rich.traceback", "asyncio"]

PROBE = """
import atexit, json, sys
watched = json.loads(sys.argv[1])
atexit.register(lambda: print("LOADED=" + json.dumps([m for m in watched if m in sys.modules])))
sys.argv = ["lakegate", *sys.argv[2:]]
if sys.argv[1:] == ["<import>"]:
    import lakegate.cli
else:
    from lakegate.cli import main
    main()
"""


def loaded(
    *args: str,
    watch: list[str] = HEAVY,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
) -> list[str]:
    """The `watch`ed modules a fresh interpreter holds after `lakegate ARGS` (or the import)."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(watch), *args],
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


@pytest.mark.parametrize(
    "args", [["--help"], ["-h"], ["call", "--help"], ["serve", "--help"], ["no-such-command"]]
)
def test_help_loads_no_markdown_traceback_or_asyncio_module(args: list[str]) -> None:
    assert loaded(*args, watch=NOT_FOR_HELP) == []


@pytest.mark.parametrize(
    "args", [["--help"], ["version"], ["call", "--help"], ["databricks", "connect", "--help"]]
)
def test_help_and_version_load_no_pydantic(args: list[str]) -> None:
    # typer coerces option values through pydantic; the options help and version leave unset
    # (`--project`) must not make it load
    assert loaded(*args, watch=["pydantic"]) == []


def _probe_app() -> typer.Typer:
    app = typer.Typer()

    def seen(value: object) -> object:
        print("callback got", repr(value))
        return value

    @app.command()
    def probe(
        name: str = typer.Option(..., "--name"),
        count: int | None = typer.Option(None, "--count", callback=seen),
        tags: list[str] | None = typer.Option(None, "--tag"),
        path: Path | None = typer.Option(None, "--path", envvar="LG_PROBE_PATH"),
    ) -> None:
        print(repr((name, count, tags, path)))

    return app


@pytest.mark.parametrize(
    "args",
    [[], ["--name", "a"], ["--name", "a", "--count", "5", "--tag", "x", "--path", "p"],
     ["--name", "a", "--count", "five"], ["--name", "a", "--tag"]],
)  # fmt: skip
def test_unset_options_mean_what_they_meant_to_typer(
    args: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ours = CliRunner().invoke(_probe_app(), args)
    monkeypatch.setattr(_TyperParameter, "process_value", _help._process_value)  # typer's own
    typers = CliRunner().invoke(_probe_app(), args)
    assert (ours.exit_code, ours.output) == (typers.exit_code, typers.output)


TYPER_EXTRAS = """
import io
import lakegate.cli  # typer's help module now holds stand-ins for Markdown and Traceback
import rich.traceback
import typer
from rich.console import Console
from typer import rich_utils
from typer.models import DeveloperExceptionConfig
from typer.testing import CliRunner

app = typer.Typer(rich_markup_mode="markdown")

@app.command()
def hello() -> None:
    \"\"\"Say **hello** in `markdown`.\"\"\"

@app.command()
def bye() -> None:
    \"\"\"Say bye.\"\"\"

print(CliRunner().invoke(app, ["hello", "--help"], terminal_width=80).output)
try:
    raise ValueError("boom")
except ValueError as exc:
    shown = rich_utils.get_traceback(exc, DeveloperExceptionConfig(), [])
out = io.StringIO()
Console(file=out, width=80).print(shown)
print(type(shown) is rich.traceback.Traceback, "ValueError: boom" in out.getvalue())
"""


def test_markdown_help_and_pretty_tracebacks_still_work_after_the_cli_is_imported() -> None:
    done = subprocess.run(
        [sys.executable, "-c", TYPER_EXTRAS], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Say hello in markdown." in done.stdout  # rendered: no ** or ` left
    assert done.stdout.rstrip().endswith("True True"), done.stdout[-2000:]


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
