"""`lakegate workspace serve`: run the local Databricks workspace in the foreground."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import typer

from lakegate.cli import _output
from lakegate.errors import ConfigError

workspace_app = typer.Typer(
    name="workspace",
    help="A local Databricks workspace (OAuth M2M, SQL warehouses, account API) for tests.",
    no_args_is_help=True,
)


@workspace_app.command()
def serve(
    port: int = typer.Option(8765, "--port", help="Workspace API port (0 picks a free one)."),
    state_dir: Path | None = typer.Option(
        None,
        "--state-dir",
        help="Where state, credentials.json and requests.jsonl live; kept across restarts "
        "(default: a temporary folder, removed on exit).",
        show_default=False,
    ),
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on."),
    account_port: int | None = typer.Option(
        None, "--account-port", help="Account API port (default: --port + 1).", show_default=False
    ),
    token_ttl: int = typer.Option(3600, "--token-ttl", min=1, help="Access token lifetime, s."),
    faults: Path | None = typer.Option(
        None,
        "--faults",
        help="A YAML fault plan (429/500/503/reset/delay by path).",
        show_default=False,
    ),
) -> None:
    """Serve the local workspace until Ctrl-C.

    Example: lakegate workspace serve --port 8765 --state-dir .lakegate/workspace
    """
    from lakegate.workspace import LocalWorkspace
    from lakegate.workspace.faults import FaultPlanError

    if not 0 <= port <= 65535 or (account_port is not None and not 0 <= account_port <= 65535):
        raise ConfigError("ports must be between 0 and 65535", hint="Pick a free port, e.g. 8765.")
    try:
        ws = LocalWorkspace(
            state_dir=state_dir,
            token_ttl=token_ttl,
            faults=faults,
            host=host,
            port=port,
            account_port=account_port,
        ).start()
    except FaultPlanError as exc:
        raise ConfigError(
            f"--faults: {exc}", hint="See docs/workspace.md for the format."
        ) from None
    except OSError as exc:
        raise ConfigError(
            str(exc), hint="Choose another --port (or --account-port), or stop what holds it."
        ) from None
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    lines = [
        f"workspace   {ws.host}",
        f"account     {ws.account_host}  (account id {ws.account_id})",
        f"credentials {ws.credentials_path}  (client id {ws.credentials['client_id']})",
        f"access log  {ws.requests_log}",
        "Ctrl-C to stop.",
    ]
    for line in lines:  # the secret stays in credentials.json (mode 0600), never on screen
        _output.console.print(line, soft_wrap=True, markup=False)
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        ws.stop()


def register(app: typer.Typer) -> None:
    """Add the `workspace` command group to the lakegate app."""
    app.add_typer(workspace_app, name="workspace")
