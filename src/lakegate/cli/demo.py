"""`lakegate demo`: the seed flow end to end on an embedded local Databricks workspace.

The demo is the list `STEPS` of small async step functions run in order against one `DemoRun`.
Each step does one thing and returns the line printed after its tick; the first line of its
docstring names it if it fails. A step may queue tables or text with `run.show(...)` (printed
under its tick) and leave values for later steps in `run.results`.

To extend the demo (pack, copilot tools), write a step and add it to the list, e.g.:

    async def run_sql(run: DemoRun) -> str:
        \"\"\"Run a SQL statement.\"\"\"
        result = await run.gateway.call("execute_sql", {"statement": "SELECT 1"})
        ...
        return "SQL ran"

    STEPS.insert(STEPS.index(test_list_warehouses) + 1, run_sql)   # or STEPS.append(run_sql)

Steps after `add_list_warehouses` can rely on `run.workspace`, `run.project` (saved, with the
`databricks` connector) and `run.gateway` (an open Gateway over it).
"""

from __future__ import annotations

import contextlib
import tempfile
import textwrap
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import typer
from rich.console import RenderableType
from rich.markup import escape
from rich.table import Table

from lakegate.cli import _output
from lakegate.errors import LakegateError
from lakegate.secrets import SecretStore, redact

CONNECTOR = "databricks"
SECRET_NAME = "databricks_client_secret"  # noqa: S105 - a name, not a value
OUTPUT = "warehouses[].{id: id, name: name, state: state, size: cluster_size}"


@dataclass
class DemoRun:
    """What the steps share: the workspace, the throwaway project, and an open gateway."""

    folder: Path
    stack: contextlib.AsyncExitStack
    workspace: Any = None  # LocalWorkspace
    project: Any = None  # Project
    gateway: Any = None  # Gateway
    results: dict[str, Any] = field(default_factory=dict)
    shown: list[RenderableType] = field(default_factory=list)

    @property
    def project_path(self) -> Path:
        return self.folder / "lakegate.yaml"

    def show(self, renderable: RenderableType) -> None:
        """Print `renderable` under this step's tick (a plain string exactly as it is)."""
        self.shown.append(renderable)


DemoStep = Callable[[DemoRun], Awaitable[str]]


async def start_workspace(run: DemoRun) -> str:
    """Start the local workspace."""
    from lakegate.workspace import LocalWorkspace

    run.workspace = run.stack.enter_context(LocalWorkspace(warehouse_delays=0.1, idp=True))
    return f"Local Databricks workspace running at {run.workspace.host}"


async def service_principal(run: DemoRun) -> str:
    """Find the service principal."""
    ws = run.workspace
    return f"Service principal {ws.credentials['client_id']} with an OAuth secret"


async def create_project(run: DemoRun) -> str:
    """Create the project and store the client secret."""
    from lakegate.project import Project

    run.project = Project.new(run.project_path)
    run.project.save()
    SecretStore(run.project.state_dir).set(SECRET_NAME, run.workspace.credentials["client_secret"])
    return f"Project created; client secret stored as ${{secret:{SECRET_NAME}}}"


async def add_connector(run: DemoRun) -> str:
    """Add the databricks connector."""
    from lakegate.project import Connector, OAuth2Auth

    host = run.workspace.host
    auth = OAuth2Auth(
        grant_type="client_credentials",
        token_url=f"{host}/oidc/v1/token",
        client_id=run.workspace.credentials["client_id"],
        client_secret=f"${{secret:{SECRET_NAME}}}",
        scope="sql all-apis",
        client_auth="request_body",
    )
    connector = Connector(
        name=CONNECTOR, description="The local workspace", base_url=host, auth=auth
    )
    run.project.set_connector(CONNECTOR, connector)
    run.project.save()
    return f"Connector {CONNECTOR}: OAuth2 client credentials, scope 'sql all-apis'"


async def add_list_warehouses(run: DemoRun) -> str:
    """Add the list_warehouses action."""
    from lakegate.gateway import Gateway
    from lakegate.project import Action

    action = Action(
        name="list_warehouses",
        connector=CONNECTOR,
        description="List the SQL warehouses this service principal can manage.",
        method="GET",
        path="/api/2.0/sql/warehouses",
        risk="read",
        output=OUTPUT,
    )
    run.project.set_action("list_warehouses", action)
    run.project.save()
    secrets = SecretStore(run.project.state_dir)
    run.gateway = await run.stack.enter_async_context(Gateway(run.project, secret_store=secrets))
    text = run.project.to_yaml()
    text = text[text.index("connectors:") :]  # the file's header comment is for editors
    text = textwrap.indent(text.rstrip(), "  ")
    if _output.console.is_terminal:
        from rich.syntax import Syntax  # pygments: only for a terminal

        run.show(
            Syntax(text, "yaml", theme="ansi_dark", background_color="default", word_wrap=True)
        )
    else:
        run.show(text)  # piped: the file as it is, no line broken inside a value
    return "Action list_warehouses: GET /api/2.0/sql/warehouses; lakegate.yaml:"


async def test_list_warehouses(run: DemoRun) -> str:
    """Test list_warehouses."""
    result = await run.gateway.test("list_warehouses", {})
    if not result.ok:
        raise result.error
    run.results["warehouses"] = result.data
    table = Table("id", "name", "state", "size", title="SQL warehouses", title_justify="left")
    for row in result.data or []:
        table.add_row(*(escape(str(row.get(k, ""))) for k in ("id", "name", "state", "size")))
    run.show(table)
    token = "from cache" if result.token_from_cache else "fetched"
    return (
        f"Test: {result.status} OK in {result.elapsed_ms:.0f} ms "
        f"(token {token}, client auth {result.client_auth_used or 'request_body'})"
    )


# The demo, in order. Later features append or insert their steps here (see the docstring).
STEPS: list[DemoStep] = [
    start_workspace,
    service_principal,
    create_project,
    add_connector,
    add_list_warehouses,
    test_list_warehouses,
]

_NEXT = """
[bold]Try it yourself[/]: `lakegate demo --keep` keeps this workspace and project running, with
the commands to call them. [bold]On a real workspace[/], in a folder of your own:
  lakegate init
  export DATABRICKS_CLIENT_SECRET=...   # the service principal's OAuth secret
  lakegate databricks connect --host https://<workspace>.cloud.databricks.com \\
      --client-id <client-id> --client-secret-env DATABRICKS_CLIENT_SECRET
  lakegate test list_warehouses
"""


def register(app: typer.Typer) -> None:
    """Add `lakegate demo` to the app."""
    app.command("demo")(demo)


def demo(
    keep: bool = typer.Option(
        False, "--keep", help="Leave the workspace and project running until Ctrl-C."
    ),
) -> None:
    """Run the whole flow on an embedded local Databricks workspace; no cloud account needed.

    Service principal, connector (OAuth2 client credentials), action, Test: each step is shown
    with a tick, then the warehouses the action returned.

    Examples:

        lakegate demo
        lakegate demo --keep     # then, in another shell: lakegate call list_warehouses
    """
    import asyncio

    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="lakegate-demo-") as folder:
        try:
            ok = asyncio.run(_run_steps(Path(folder), keep, started))
        except KeyboardInterrupt:
            ok = keep  # Ctrl-C is how --keep ends
            if not keep:
                raise
    if not ok:
        raise typer.Exit(1)


async def _run_steps(folder: Path, keep: bool, started: float) -> bool:
    console = _output.console
    async with contextlib.AsyncExitStack() as stack:
        run = DemoRun(folder=folder, stack=stack)
        for step in STEPS:
            try:
                line = await step(run)
            except Exception as exc:  # the demo reports any failure and cleans up
                title = (step.__doc__ or step.__name__).strip().splitlines()[0].rstrip(".")
                _output.err_console.print(f"[red]✗[/] {escape(redact(title))} failed")
                if isinstance(exc, LakegateError):
                    _output.print_error(exc)
                else:
                    _output.err_console.print(escape(redact(f"{type(exc).__name__}: {exc}")))
                return False
            console.print(f"[green]✓[/] {escape(redact(line))}")
            for renderable in run.shown:
                if isinstance(renderable, str):
                    console.print(renderable, markup=False, highlight=False, soft_wrap=True)
                else:
                    console.print(renderable)
            run.shown.clear()
        console.print(f"[green]Demo passed[/] in {time.monotonic() - started:.1f} s.")
        console.print(_NEXT, soft_wrap=True)
        if keep:
            await _keep_running(run)
    return True


async def _keep_running(run: DemoRun) -> None:
    import asyncio

    console = _output.console
    console.print(
        f"[bold]Still running[/] (Ctrl-C to stop). In another shell:\n"
        f"  export LAKEGATE_PROJECT={run.project_path}\n"
        f"  lakegate call list_warehouses\n"
        f"  lakegate tools list\n"
        f"  workspace credentials: {run.workspace.credentials_path}",
        soft_wrap=True,
    )
    try:
        await asyncio.Event().wait()
    finally:  # Ctrl-C cancels this task; the exit stack then stops the workspace
        console.print("Stopped.")
