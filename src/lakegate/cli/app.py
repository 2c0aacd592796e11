"""The typer application. Each command group lives in its own module and registers itself here."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from lakegate.cli import _context, _help, _output  # noqa: F401  (_help: flags show no <bool>)
from lakegate.cli._argv import check_argv
from lakegate.errors import LakegateError

app = typer.Typer(
    name="lakegate",
    help=(
        "Connect AI copilots to Databricks (and any OAuth2 REST API) through declared, "
        "tested, guarded actions.\n\nStart with `lakegate demo`, then `lakegate init`."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _print_version(value: bool) -> None:
    if value:
        from lakegate._version import version as installed

        _output.console.print(f"lakegate {installed()}")
        raise typer.Exit()


@app.callback()
def _root(
    project: Path | None = typer.Option(
        None,
        "--project",
        "-p",
        envvar="LAKEGATE_PROJECT",
        help="The project file (default: ./lakegate.yaml).",
        show_default=False,
    ),
    version: bool = typer.Option(
        False,
        "--version",
        callback=_print_version,
        is_eager=True,
        help="Print lakegate's version and exit.",
    ),
) -> None:
    _context.set_project(project)


# Command groups register themselves; the import order is the order of `--help`.
from lakegate.cli import (  # noqa: E402
    audit_cmds,
    databricks_cmds,
    demo,
    doctor_cmd,
    project_cmds,
    run_cmds,
    serve_cmds,
    studio_cmd,
    tools_cmds,
    workspace_cmds,
)

for _module in (
    demo,
    project_cmds,
    run_cmds,
    databricks_cmds,
    doctor_cmd,
    workspace_cmds,
    serve_cmds,
    tools_cmds,
    audit_cmds,
    studio_cmd,
):
    _module.register(app)


@app.command()
def version() -> None:
    """Print lakegate's version."""
    from lakegate._version import version as installed

    _output.console.print(f"lakegate {installed()}")


def main() -> None:
    """Entry point: user mistakes end as a message and a hint, never a traceback."""
    try:
        sys.argv[1:] = check_argv(sys.argv[1:])
        app()  # standalone: usage errors print themselves and exit 2
    except LakegateError as exc:
        _output.print_error(exc)
        sys.exit(_output.exit_code(exc))
    except KeyboardInterrupt:
        sys.exit(130)
