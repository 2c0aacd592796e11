"""`lakegate tools list` and `lakegate tools export`: the tools a copilot sees, for any platform."""

from __future__ import annotations

import typer
from rich.markup import escape
from rich.table import Table

from lakegate.cli import _output
from lakegate.cli._project import open_project, print_json, usage

FORMATS = ("mcp", "openai", "anthropic")

tools_app = typer.Typer(
    help="The tools a copilot sees under the copilot policy.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    """Add the `tools` group to the app."""
    app.add_typer(tools_app, name="tools")


@tools_app.command("list")
def list_tools() -> None:
    """Every action, whether the copilot policy exposes it as a tool, and why.

    Example:

        lakegate tools list
    """
    from lakegate.copilot.policy import plan_tools  # sqlglot and jsonschema: only when used

    project = open_project()
    table = Table("action", "risk", "tool?", "why", title=f"profile {project.copilot.profile}")
    for plan in plan_tools(project):
        shown = "[green]yes[/]" if plan.exposed else "[dim]no[/]"
        table.add_row(escape(plan.name), plan.risk, shown, escape(plan.reason))
    _output.console.print(table)


@tools_app.command("export")
def export(
    fmt: str = typer.Option("mcp", "--format", "-f", help="mcp, openai or anthropic."),
) -> None:
    """Print the exposed tools' JSON schemas for platforms that do not speak MCP.

    The same names, descriptions and (policy-adjusted) schemas `lakegate serve` offers.

    Examples:

        lakegate tools export --format openai > tools.json
        lakegate tools export --format anthropic
    """
    if fmt not in FORMATS:
        raise usage(
            f"--format takes one of {', '.join(FORMATS)}, not {fmt!r}.", "e.g. --format openai"
        )
    from lakegate.copilot.policy import plan_tools
    from lakegate.copilot.tools import export_tools

    project = open_project()
    print_json(export_tools(plan_tools(project), project.copilot, fmt))
