"""`lakegate doctor [CONNECTOR]`: a step-by-step diagnosis with a cause and a fix per failure."""

from __future__ import annotations

import typer
from rich.markup import escape

from lakegate.cli import _output
from lakegate.cli._project import open_project, print_json, usage
from lakegate.secrets import redact


def register(app: typer.Typer) -> None:
    """Add `lakegate doctor` to the app."""
    app.command("doctor")(doctor)


def doctor(
    connector: str | None = typer.Argument(None, help="The connector (default: the only one)."),
    json_out: bool = typer.Option(False, "--json", help="The steps as JSON."),
    account_host: str | None = typer.Option(
        None,
        "--account-host",
        envvar="DATABRICKS_ACCOUNT_HOST",
        help="Account console URL, to tell a wrong secret from an unassigned principal.",
    ),
) -> None:
    """Diagnose a connector step by step; exit 0 only when every step passes.

    Databricks: base URL -> TCP/TLS reach -> OIDC discovery -> token (both client-auth modes)
    -> scopes -> list_warehouses -> visibility -> SELECT 1 -> secret expiry. Other connectors:
    base URL, reach, credentials and one read action.

    Examples:

        lakegate doctor
        lakegate doctor databricks --json
    """
    import asyncio

    from lakegate.databricks.doctor import diagnose

    project = open_project()
    if connector is None:
        names = list(project.connectors)
        if len(names) == 1:
            connector = names[0]
        elif "databricks" in names:
            connector = "databricks"
            others = ", ".join(n for n in names if n != connector)
            _output.err_console.print(
                f"Diagnosing connector 'databricks'; for the others ({escape(others)}) name one: "
                "`lakegate doctor CONNECTOR`.",
                highlight=False,
            )
        else:
            raise usage(
                "Which connector? The project has " + (", ".join(names) or "none") + ".",
                "Name it: `lakegate doctor CONNECTOR`.",
            )
    steps = asyncio.run(diagnose(project, connector, account_host=account_host))
    passed = all(step.ok for step in steps)
    if json_out:
        print_json({"connector": connector, "ok": passed, "steps": [s.to_dict() for s in steps]})
    else:
        console = _output.console
        for step in steps:
            mark = {"passed": "[green]✓[/]", "warning": "[yellow]![/]", "failed": "[red]✗[/]",
                    "skipped": "[dim]-[/]"}  # fmt: skip
            line = f"{mark[step.status]} {escape(step.name)} [dim]({step.ms:.0f} ms)[/]"
            if step.detail:
                line += f"  {escape(redact(step.detail))}"
            console.print(line)
            if step.status in ("failed", "warning"):
                console.print(f"    [red]cause[/]: {escape(redact(step.cause))}")
                console.print(f"    [yellow]fix[/]:   {escape(redact(step.fix))}")
        warned = sum(step.status == "warning" for step in steps)
        verdict = "[green]all steps passed[/]" if passed else "[red]a step failed[/]"
        if passed and warned:
            verdict += f" [yellow]({warned} warning{'s' if warned > 1 else ''})[/]"
        console.print(f"{escape(connector)}: {verdict}")
    if not passed:
        raise typer.Exit(1)
