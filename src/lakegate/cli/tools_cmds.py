"""`lakegate tools list` and `lakegate tools export`: the tools a copilot sees, for any platform."""

from __future__ import annotations

import typer
from rich.markup import escape

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
def list_tools(
    as_json: bool = typer.Option(False, "--json", help="Print the list as JSON for scripts."),
) -> None:
    """Every action, whether the copilot policy exposes it as a tool, and why.

    Examples:

        lakegate tools list
        lakegate tools list --json | jq -r '.[] | select(.tool) | .name'
    """
    from lakegate.copilot.policy import plan_tools  # sqlglot and jsonschema: only when used

    project = open_project()
    plans = plan_tools(project)
    if as_json:
        print_json(
            [
                {
                    "name": p.name,
                    "risk": p.risk,
                    "tool": p.exposed,
                    "why": p.reason,
                    "description": getattr(p.action, "description", ""),
                }
                for p in plans
            ]
        )
        return
    _print_plans(plans, project.copilot.profile)


def _print_plans(plans: list, profile: str) -> None:
    """One line per action; the reason wraps between words at any width, never inside one."""
    import textwrap

    console = _output.console
    name_w = max((len(p.name) for p in plans), default=6)
    risk_w = max((len(p.risk) for p in plans), default=4)
    indent = " " * (name_w + risk_w + 11)
    width = max(console.width, len(indent) + 20)
    console.print(f"[bold]profile {escape(profile)}[/]", soft_wrap=True)
    for plan in plans:
        mark = "[green]yes[/]" if plan.exposed else "[dim]no [/]"
        lines = textwrap.wrap(
            plan.reason, width - len(indent), break_long_words=False, break_on_hyphens=False
        ) or [""]
        head = f"  {mark}  {escape(plan.name.ljust(name_w))}  {plan.risk.ljust(risk_w)}  "
        console.print(head + escape(lines[0]), soft_wrap=True)
        for line in lines[1:]:
            console.print(indent + escape(line), soft_wrap=True)
    console.print(
        f"{sum(p.exposed for p in plans)} of {len(plans)} actions are tools.", soft_wrap=True
    )


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
