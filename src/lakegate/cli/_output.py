"""Consoles and error printing shared by every command. Everything printed is redacted first."""

from __future__ import annotations

from rich.console import Console

from lakegate.errors import ConfigError, GuardError, InputError, LakegateError, PolicyError

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


def print_error(exc: LakegateError) -> None:
    from rich.markup import escape

    from lakegate.secrets import redact

    message, hint = escape(redact(exc.message)), escape(redact(exc.hint))
    err_console.print(f"[bold red]error[/] [dim]{exc.code}[/]: {message}", markup=True)
    if exc.hint:
        err_console.print(f"[yellow]hint[/]: {hint}")


def exit_code(error: LakegateError) -> int:
    """The one contract: 2 for usage, configuration or input (fix the command, the file or the
    inputs), 1 for what failed remotely or on the way there (the same command may work later)."""
    return 2 if isinstance(error, ConfigError | InputError | GuardError | PolicyError) else 1
