"""`lakegate databricks connect|setup|query`: the Databricks pack from the command line.

Secrets never pass on the command line: `--client-secret-env VAR` writes `${env:VAR}`,
`--client-secret-stdin` stores the value and writes `${secret:NAME}`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.markup import escape
from rich.table import Table

from lakegate import connectors
from lakegate.cli import _context, _output
from lakegate.cli._project import env_reference, read_secret, say, secret_store, usage, warn
from lakegate.errors import ConfigError

if TYPE_CHECKING:
    from lakegate.databricks.config import DatabricksConfig
    from lakegate.databricks.export import ExportResult
    from lakegate.project import Project

databricks_app = typer.Typer(
    help="The Databricks pack: connect a workspace, set up a service principal, export SQL.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    """Add the `databricks` group, and the pack's steps to `lakegate demo`."""
    from lakegate.cli import demo
    from lakegate.databricks.demo_steps import add_to

    app.add_typer(databricks_app, name="databricks")
    app.command("login")(login_cmd)
    add_to(demo)


def login_cmd(
    connector_name: str = typer.Argument(
        "databricks", metavar="[CONNECTOR]", help="The connector to sign in for."
    ),
    client_id: str = typer.Option(
        "databricks-cli", "--client-id", help="The OAuth app (a public client of the account)."
    ),
    port: int = typer.Option(
        8020, "--port", help="Loopback port the browser returns to (the app's redirect URL)."
    ),
    no_browser: bool = typer.Option(
        False, "--no-browser", help="Only print the sign-in URL (open it yourself)."
    ),
    timeout_s: float = typer.Option(300.0, "--timeout-s", min=5, help="How long to wait."),
) -> None:
    """Sign in to Databricks in a browser; the connector then acts as you (OAuth U2M).

    The refresh token is kept in the secret store (never in lakegate.yaml) and renewed there,
    so `lakegate serve` over stdio and `lakegate call` run as you, with your Unity Catalog
    grants, instead of as a service principal.

    Example:

        lakegate login               # the `databricks` connector
        lakegate login --no-browser  # print the URL, e.g. on a remote shell
    """
    import asyncio
    import webbrowser

    from lakegate.cli._project import open_project
    from lakegate.databricks.login import login

    project = open_project()
    project.connector(connector_name)  # an unknown connector is refused before anything opens

    def show(url: str) -> None:
        _output.err_console.print(f"Sign in at:\n{url}", markup=False, soft_wrap=True)
        if not no_browser:
            webbrowser.open(url)

    report = asyncio.run(
        login(project, connector_name, open_browser=show, secret_store=secret_store(),
              client_id=client_id, port=port, timeout_s=timeout_s)
    )  # fmt: skip
    say(
        f"[green]✓[/] Signed in as {escape(report.user)}; connector {escape(report.connector)} "
        f"now acts as you (refresh token stored as ${{secret:{escape(report.secret_name)}}})."
    )


def _project_or_new() -> tuple[Project, bool]:
    from lakegate.project import Project, load_project

    path = _context.project_path()
    if path.exists():
        return load_project(path), False
    return Project.new(path), True


def _client_secret(
    name: str, env: str | None, stdin: bool, resolved: str | None
) -> tuple[str, str]:
    """(reference, where it came from) for the client secret; `resolved` is the reference
    `$DATABRICKS_CLIENT_SECRET` or the profile gives."""
    if env and stdin:
        raise usage(
            "Give --client-secret-env or --client-secret-stdin, not both.", "Keep one of them."
        )
    if env:
        return env_reference("--client-secret-env", env), f"${{env:{env}}}"
    if stdin:
        secret_name = connectors.secret_name(name, "client_secret")
        secret_store().set(secret_name, read_secret("Client secret"))
        reference = connectors.secret_reference(name, "client_secret")
        return reference, f"the secret store ({reference})"
    if resolved:
        return resolved, resolved
    raise usage(
        "No client secret given.",
        "Pass --client-secret-env VAR (an exported variable's name), --client-secret-stdin, "
        "--profile NAME, or export DATABRICKS_CLIENT_SECRET.",
    )


def _resolved_workspace(
    profile: str | None, host: str | None, client_id: str | None
) -> DatabricksConfig:
    """The workspace and credentials the flags, environment and ~/.databrickscfg name, as the
    databricks CLI resolves them; a usage error for no host or an account console host."""
    from lakegate.databricks.config import resolve_config

    found = resolve_config(profile=profile, host=host, client_id=client_id)
    if not found.host:
        raise usage(
            "No workspace URL.",
            "Pass --host https://<workspace>, set DATABRICKS_HOST, or name a profile with a "
            f"host (--profile NAME; {found.file} has none to use).",
        )
    if found.is_account:
        raise usage(
            f"{found.host} (from {found.describe('host')}) is the account console, not a "
            "workspace.",
            "Use the workspace's URL (https://<workspace>.cloud.databricks.com, as in the "
            "browser when a workspace is open) or a workspace profile; the account host is "
            "for `lakegate databricks setup --account-host`.",
        )
    return found


@databricks_app.command("connect")
def connect_cmd(
    host: str | None = typer.Option(
        None, "--host", help="Workspace URL (default: the profile's, else $DATABRICKS_HOST)."
    ),
    client_id: str | None = typer.Option(
        None, "--client-id", help="The service principal's application (client) id."
    ),
    client_secret_env: str | None = typer.Option(
        None, "--client-secret-env", metavar="VAR", help="Environment variable with the secret."
    ),
    client_secret_stdin: bool = typer.Option(
        False, "--client-secret-stdin", help="Read the secret from stdin into the secret store."
    ),
    profile: str | None = typer.Option(
        None,
        "--profile",
        help="A ~/.databrickscfg profile (default: $DATABRICKS_CONFIG_PROFILE, else [DEFAULT]), "
        "read as the databricks CLI reads it; its secret stays there.",
    ),
    name: str = typer.Option(
        "databricks", "--connector-name", help="The connector's name (as in `setup`)."
    ),
    old_name: str | None = typer.Option(None, "--name", hidden=True),  # the old spelling
    warehouse_id: str | None = typer.Option(
        None, "--warehouse-id", help="Default warehouse (else the first RUNNING one listed)."
    ),
    allow_writes: bool = typer.Option(
        False, "--allow-writes", help="Let execute_sql run writes (read-only by default)."
    ),
    azure_tenant: str | None = typer.Option(
        None, "--azure-tenant", help="Use a Microsoft Entra ID service principal of this tenant."
    ),
    token_url: str | None = typer.Option(
        None, "--token-url", help="Token endpoint (default: discovered from the workspace)."
    ),
    no_test: bool = typer.Option(False, "--no-test", help="Do not run Test on list_warehouses."),
) -> None:
    """Connect a Databricks workspace: connector, the pack's actions, a default warehouse, Test.

    The connector uses OAuth2 client credentials (scope `sql all-apis`), is read-only unless
    --allow-writes, and its token URL is discovered from the workspace. The copilot is pinned
    to the chosen warehouse (copilot.pinned.warehouse_id) unless the policy pins one already.

    Examples:

        export DATABRICKS_CLIENT_SECRET=...
        lakegate databricks connect --host https://dbc-1234.cloud.databricks.com \\
            --client-id 5f0c... --client-secret-env DATABRICKS_CLIENT_SECRET
        lakegate databricks connect --profile my-sp
    """
    import asyncio

    from lakegate.databricks.connect import connect

    name = old_name or name
    found = _resolved_workspace(profile, host, client_id)
    azure_tenant = azure_tenant or found.azure_tenant_id
    store, secret_name = secret_store(), connectors.secret_name(name, "client_secret")
    had_secret = store.get(secret_name) is not None
    pat = not (found.client_id or client_secret_env or client_secret_stdin) and found.token
    if pat:
        secret_ref = secret_source = found.token
    else:
        if not found.client_id:
            raise usage(
                "No client id.",
                "Pass --client-id ID, set DATABRICKS_CLIENT_ID, or name a profile with "
                "client_id (--profile NAME).",
            )
        secret_ref, secret_source = _client_secret(
            name, client_secret_env, client_secret_stdin, found.client_secret
        )
    project, created = _project_or_new()
    report = asyncio.run(
        connect(
            project,
            host=found.host,
            client_id=None if pat else found.client_id,
            client_secret=secret_ref,
            name=name,
            warehouse_id=warehouse_id,
            allow_writes=allow_writes,
            azure_tenant=azure_tenant,
            token_url=token_url,
            run_test=not no_test,
        )
    )
    test = report.test
    if test is not None and not test.ok:
        # Nothing was written: report the cause only, not steps that were undone.
        if not had_secret:
            store.remove(secret_name)
        _output.err_console.print("[red]✗[/] Test list_warehouses failed")
        if test.error is not None:
            _output.print_error(test.error)
        _output.err_console.print(
            f"Nothing was written to {escape(project.path.name)}. Fix the cause and run the "
            f"same command again (with --no-test it saves untested; then `lakegate doctor "
            f"{escape(name)}` diagnoses step by step)."
        )
        raise typer.Exit(_output.exit_code(test.error) if test.error else 1)
    if created:
        say(f"Created {project.path.name}.")
    conn = report.connector
    mode = "read-only" if conn.read_only else "[yellow]writes allowed[/]"
    say(f"[green]✓[/] Connector [bold]{escape(name)}[/] -> {escape(conn.base_url)} ({mode})")
    if pat:
        say(f"  Personal access token from {escape(secret_source)}")
    else:
        say(f"  OAuth2 client credentials, scope '{escape(conn.auth.scope or '')}', secret "
            f"from {escape(secret_source)}")  # fmt: skip
        say(f"  token URL {escape(report.token_url)} ({report.token_url_source})")
    say(f"[green]✓[/] {len(report.actions)} actions: {escape(', '.join(report.actions))}")
    if report.warehouse_id:
        say(f"[green]✓[/] Default warehouse {escape(report.warehouse_id)} "
            f"({report.warehouse_source})")  # fmt: skip
    elif not no_test:
        warn("No warehouse pinned: none is visible. Pass --warehouse-id, or see `lakegate doctor`.")
    if report.copilot_pinned_now:
        say(f"[green]✓[/] Copilot pinned to warehouse {escape(report.copilot_warehouse or '')} "
            "(copilot.pinned.warehouse_id): SQL tools run there and nowhere else")  # fmt: skip
    elif report.copilot_warehouse and report.copilot_warehouse != report.warehouse_id:
        say(f"  The copilot stays pinned to warehouse {escape(report.copilot_warehouse)} "
            "(copilot.pinned.warehouse_id in lakegate.yaml)")  # fmt: skip
    if test is None:
        return
    rows = test.data or []
    say(f"[green]✓[/] Test list_warehouses: {test.status} OK in {test.elapsed_ms:.0f} ms, "
        f"{len(rows)} warehouse(s)")  # fmt: skip
    if rows:
        table = Table("id", "name", "state", "size", title_justify="left")
        for row in rows:
            table.add_row(*(escape(str(row.get(k, ""))) for k in ("id", "name", "state", "size")))
        _output.console.print(table)


@databricks_app.command("setup")
def setup_cmd(
    account_host: str = typer.Option(
        ..., "--account-host", envvar="DATABRICKS_ACCOUNT_HOST", help="The account console URL."
    ),
    account_id: str = typer.Option(
        ..., "--account-id", envvar="DATABRICKS_ACCOUNT_ID", help="The Databricks account's id."
    ),
    workspace_id: str = typer.Option(..., "--workspace-id", help="The workspace to assign to."),
    display_name: str | None = typer.Option(
        None, "--principal-name", help="The service principal's name (found, else created)."
    ),
    old_display_name: str | None = typer.Option(None, "--name", hidden=True),  # old spelling
    host: str | None = typer.Option(
        None, "--host", envvar="DATABRICKS_HOST", help="Workspace URL (for the grant and connect)."
    ),
    admin_client_id: str = typer.Option(
        ..., "--admin-client-id", help="An account admin service principal's client id."
    ),
    admin_secret_env: str | None = typer.Option(
        None, "--admin-secret-env", metavar="VAR", help="Variable holding the admin's secret."
    ),
    admin_secret_stdin: bool = typer.Option(
        False, "--admin-secret-stdin", help="Read the admin's secret from stdin."
    ),
    grant_warehouse: str | None = typer.Option(
        None, "--grant-warehouse", metavar="ID", help="Grant CAN_USE on this warehouse."
    ),
    grant_read: list[str] = typer.Option(
        [],
        "--grant-read",
        metavar="NAME",
        help="Let it read this catalog, catalog.schema or table (USE CATALOG, USE SCHEMA, "
        "SELECT; nothing more), and pin the copilot to it. Repeatable.",
    ),
    show_secret: bool = typer.Option(
        False, "--show-secret", help="Print the new OAuth secret (once; it is stored anyway)."
    ),
    connector_name: str = typer.Option(
        "databricks", "--connector-name", help="The connector's name (as in `connect`)."
    ),
    allow_writes: bool = typer.Option(
        False, "--allow-writes", help="Let execute_sql run writes (read-only by default)."
    ),
    no_connect: bool = typer.Option(False, "--no-connect", help="Stop before `connect`."),
) -> None:
    """Create (or find) a service principal with an OAuth secret, assign it, then connect.

    Uses an account admin's OAuth M2M credentials. The new secret goes straight into the local
    secret store. Re-running finds the principal by name and keeps a secret that still works.

    Example:

        export ADMIN_SECRET=...
        lakegate databricks setup --account-host https://accounts.cloud.databricks.com \\
            --account-id A --workspace-id 123 --principal-name lakegate-copilot \\
            --host https://dbc-1234.cloud.databricks.com \\
            --admin-client-id ID --admin-secret-env ADMIN_SECRET --grant-warehouse abc123 \\
            --grant-read main.sales
    """
    import asyncio

    from lakegate.databricks.connect import connect
    from lakegate.databricks.setup import AccountAdmin, read_grants, setup_service_principal
    from lakegate.secrets import register_secret

    display_name = display_name or old_display_name
    if not display_name:
        raise usage(
            "Which service principal? --principal-name is missing.",
            "e.g. --principal-name lakegate-copilot (found by name, else created).",
        )
    if not host and not no_connect:  # before anything is created in the account
        raise usage("`connect` needs the workspace URL.", "Pass --host (or --no-connect).")
    read_grants(grant_read)  # a malformed name is refused before anything is created
    if admin_secret_env:
        admin_secret = os.environ.get(admin_secret_env, "")
        if not admin_secret:
            raise usage(f"{admin_secret_env} is not set.", f"export {admin_secret_env}=...")
        register_secret(admin_secret)
    elif admin_secret_stdin:
        admin_secret = read_secret("Admin client secret")
    else:
        raise usage("No admin secret.", "Pass --admin-secret-env VAR or --admin-secret-stdin.")
    project, created = _project_or_new()
    admin = AccountAdmin(account_host, account_id, admin_client_id, admin_secret)
    secret_name = connectors.secret_name(connector_name, "client_secret")
    report = asyncio.run(
        setup_service_principal(
            admin,
            workspace_id=workspace_id,
            display_name=display_name,
            secret_store=secret_store(),
            secret_name=secret_name,
            workspace_host=host,
            grant_warehouse=grant_warehouse,
            grant_read=grant_read,
        )
    )
    for step in report.steps:
        say(f"[green]✓[/] {escape(step)}")
    for problem in report.warnings:
        warn(problem)
    if show_secret and report.secret_value:
        # Deliberately unredacted: the person asked to see it once.
        _output.console.print(f"  secret: {report.secret_value}", markup=False)
    if no_connect:
        return
    if created:
        say(f"Creating {project.path.name}.")
    connected = asyncio.run(
        connect(
            project,
            host=host,
            client_id=report.application_id,
            client_secret=connectors.secret_reference(connector_name, "client_secret"),
            name=connector_name,
            warehouse_id=grant_warehouse,
            allow_writes=allow_writes,
        )
    )
    test = connected.test
    if test is not None and not test.ok:
        _output.err_console.print("[red]✗[/] Test list_warehouses failed; nothing was written to "
                                  f"{escape(project.path.name)}")  # fmt: skip
        if test.error is not None:
            _output.print_error(test.error)
        raise typer.Exit(_output.exit_code(test.error) if test.error else 1)
    say(f"[green]✓[/] Connected as {escape(connector_name)}; Test list_warehouses OK")
    if report.granted_read:
        _pin_scope(project.path, report.granted_read)


def _pin_scope(path: Path, names: list[str]) -> None:
    """Pin the copilot to what setup let its principal read (catalogs and schemas)."""
    from lakegate.project import load_project

    project = load_project(path)  # as `connect` left it
    policy = project.copilot
    catalogs = list(policy.pinned.catalogs)
    schemas = list(policy.pinned.schemas)
    for name in names:
        parts = name.split(".")
        if len(parts) == 1 and name not in catalogs:
            catalogs.append(name)
        elif len(parts) > 1 and ".".join(parts[:2]) not in schemas:
            schemas.append(".".join(parts[:2]))
    pinned = policy.pinned.model_copy(update={"catalogs": catalogs, "schemas": schemas})
    project.set_copilot(policy.model_copy(update={"pinned": pinned}))
    project.save()
    say(f"[green]✓[/] Pinned the copilot to {escape(', '.join(catalogs + schemas))}")


@databricks_app.command("query")
def query_cmd(
    sql: str = typer.Argument(..., help="One SQL statement, quoted."),
    out: Path = typer.Option(..., "--out", "-o", help="FILE.parquet, FILE.csv or FILE.arrow."),
    warehouse_id: str | None = typer.Option(
        None, "--warehouse-id", help="The warehouse (default: the connector's pinned one)."
    ),
    connector: str = typer.Option(
        "databricks", "--connector", "-c", help="The Databricks connector to run it on."
    ),
    concurrency: int = typer.Option(
        4, "--concurrency", min=1, max=32, help="Result chunks downloaded at once (1-32)."
    ),
    force: bool = typer.Option(False, "--force", help="Replace --out if it exists."),
) -> None:
    """Export a query's whole result to Parquet, CSV or Arrow, fast and with bounded memory.

    An existing --out is kept unless --force; with --force it is replaced only once the export
    has finished.

    Example:

        lakegate databricks query "SELECT * FROM samples.nyctaxi.trips" --out trips.parquet
    """
    import asyncio

    from lakegate.databricks.export import FORMATS

    if out.suffix.lower() not in FORMATS:
        raise ConfigError(
            f"Cannot tell the export format of {out.name!r}.",
            code="config.usage",
            hint="End --out in .parquet, .csv or .arrow.",
        )
    if out.exists() and not force:
        size = out.stat().st_size
        raise usage(
            f"{out} exists ({size / 1e6:.1f} MB); nothing was run.",
            "Pass --force to replace it (once the export has finished), or choose another --out.",
        )
    result = asyncio.run(_export(sql, out, warehouse_id, connector, concurrency))
    mb = result.bytes_downloaded / 1e6
    say(
        f"[green]✓[/] {result.rows:,} rows -> {escape(str(result.path))} ({result.format}) in "
        f"{result.seconds:.1f} s; {result.chunks} chunk(s), {mb:.1f} MB downloaded "
        f"({mb / max(result.seconds, 1e-9):.1f} MB/s)"
    )


async def _export(
    statement: str, out: Path, warehouse_id: str | None, connector: str, n: int
) -> ExportResult:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from lakegate.cli._project import open_project
    from lakegate.databricks.export import ExportProgress, export_query
    from lakegate.gateway import Gateway

    project = open_project()
    columns = (
        TextColumn("[bold]export[/]"),
        BarColumn(),
        TextColumn("{task.fields[rows]} rows"),
        TextColumn("{task.fields[speed]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=_output.err_console, transient=True) as progress:
        task = progress.add_task("export", total=None, rows="0", speed="")

        def show(p: ExportProgress) -> None:
            speed = p.bytes / 1e6 / max(p.elapsed_s, 1e-9)
            progress.update(
                task,
                completed=p.chunks,
                total=p.total_chunks or None,
                rows=f"{p.rows:,}" + (f"/{p.total_rows:,}" if p.total_rows else ""),
                speed=f"{speed:.1f} MB/s",
            )

        async with Gateway(project) as gw:
            return await export_query(
                gw, connector, statement, out, warehouse_id=warehouse_id, concurrency=n,
                on_progress=show,
            )  # fmt: skip
