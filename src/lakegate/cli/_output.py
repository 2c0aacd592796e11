"""Consoles and error printing shared by every command. Everything printed is redacted first."""

from __future__ import annotations

from rich.console import Console

from lakegate.errors import LakegateError

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


def print_error(exc: LakegateError) -> None:
    err_console.print(f"[bold red]error[/] [dim]{exc.code}[/]: {exc.message}", markup=True)
    if exc.hint:
        err_console.print(f"[yellow]hint[/]: {exc.hint}")
