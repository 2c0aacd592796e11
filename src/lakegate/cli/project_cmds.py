"""`lakegate init`, and the registration of the project-editing groups.

The groups live in their own modules: `connector_cmds`, `action_cmds` and `secret_cmds`.
"""

from __future__ import annotations

import typer
from rich.markup import escape

from lakegate.cli import _context, action_cmds, connector_cmds, secret_cmds
from lakegate.cli._project import say, usage


def register(app: typer.Typer) -> None:
    """Add `init`, `connector`, `action` and `secret` to the lakegate app."""
    app.command("init")(init)
    connector_cmds.register(app)
    action_cmds.register(app)
    secret_cmds.register(app)


def init() -> None:
    """Create an empty lakegate.yaml in the current folder (or at --project PATH).

    Example:

        lakegate init
        lakegate connector add databricks --base-url https://dbc-1.cloud.databricks.com ...
    """
    path = _context.project_path()
    if path.exists():
        raise usage(
            f"{path} already exists.",
            "Edit it with `lakegate connector add` / `lakegate action add`, or pick another "
            "file with --project PATH.",
        )
    from lakegate.project import Project

    Project.new(path).save()
    say(f"[green]✓[/] Created {escape(str(path))}")
    say("Next: [bold]lakegate connector add NAME --base-url URL --auth ...[/] (see --help)")
