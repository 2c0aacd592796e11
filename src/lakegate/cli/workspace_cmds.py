"""`lakegate workspace serve`: run the local Databricks workspace in the foreground."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from lakegate.cli import _output
from lakegate.errors import ConfigError

if TYPE_CHECKING:
    from lakegate.workspace import LocalWorkspace

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
    samples_scale: float = typer.Option(
        0.01,
        "--samples-scale",
        help="TPC-H scale factor of samples.tpch (0.01: 15,000 orders, ~60,000 line items; "
        "1: 1.5 million orders, generated in about a minute).",
    ),
    tls: bool = typer.Option(
        False,
        "--tls",
        help="Serve HTTPS with a certificate for 127.0.0.1/localhost from a CA kept in the "
        "state dir (clients such as the Databricks SQL connector insist on https://).",
    ),
    idp: bool = typer.Option(
        False,
        "--idp",
        help="Serve a test identity provider on the account host (<account>/idp) and trust "
        "it with an account federation policy, so users sign in with its JWTs.",
    ),
    users: list[str] = typer.Option(
        [],
        "--user",
        help="Add a user (an email) to the account and workspace; repeat for several.",
    ),
) -> None:
    """Serve the local workspace until Ctrl-C.

    Example: lakegate workspace serve --port 8765 --state-dir .lakegate/workspace
    """
    from lakegate.workspace import LocalWorkspace
    from lakegate.workspace.faults import FaultPlanError
    from lakegate.workspace.samples.tpch import check_scale

    if not 0 <= port <= 65535 or (account_port is not None and not 0 <= account_port <= 65535):
        raise ConfigError("ports must be between 0 and 65535", hint="Pick a free port, e.g. 8765.")
    try:
        check_scale(samples_scale)
    except ValueError as exc:
        raise ConfigError(
            f"--samples-scale: {exc}", hint="Use 0.01 (the default) for fast starts."
        ) from None
    try:
        ws = LocalWorkspace(
            state_dir=state_dir,
            token_ttl=token_ttl,
            faults=faults,
            host=host,
            port=port,
            account_port=account_port,
            samples_scale=samples_scale,
            tls=tls,
            idp=idp,
        ).start()
        for user in users:
            ws.create_user(user)
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
    ]
    if ws.ca_file is not None:
        lines.append(f"CA file     {ws.ca_file}  (trust it in HTTPS clients)")
    if idp:
        lines.append(f"test IdP    {ws.account_host}/idp  (trusted by policy local-idp)")
    for user in users:
        lines.append(f"user        {user}")
    for line in lines:  # the secret stays in credentials.json (mode 0600), never on screen
        _output.console.print(line, soft_wrap=True, markup=False)
    try:
        samples = _samples_line(ws, stop)
        if samples:
            _output.console.print(samples, soft_wrap=True, markup=False)
            _output.console.print("Ctrl-C to stop.", markup=False)
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        ws.stop()


def _samples_line(ws: LocalWorkspace, stop: threading.Event) -> str:
    """What the samples are and how long they took, once they are there ("" if stopped)."""
    from lakegate.workspace.sql.translate import SqlError

    info = None
    try:
        while info is None and not stop.is_set():  # a big scale takes minutes: stay stoppable
            info = ws.wait_samples(0.2)
    except SqlError as exc:
        return f"samples     not available: {exc.message}"
    if info is None:
        return ""
    how = (
        "kept from the state dir"
        if info.source == "kept"
        else f"{info.source} in {info.seconds:.2f} s"
    )
    return f"samples     samples.tpch at scale {info.scale:g}, {how}"


def register(app: typer.Typer) -> None:
    """Add the `workspace` command group to the lakegate app."""
    app.add_typer(workspace_app, name="workspace")
