"""Regenerate the command reference in docs/cli.md from the real command line.

    uv run python docs/gen_cli.py          # rewrite the generated part of docs/cli.md
    uv run python docs/gen_cli.py --check  # exit 1 when it is out of date

Everything between the BEGIN/END markers comes from the commands themselves (usage, help text,
arguments and options), so the reference cannot drift from `lakegate ... --help`.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Iterator
from pathlib import Path

import typer.main
from typer import _click as click
from typer.core import TyperArgument, TyperGroup

from lakegate.cli.app import app

DOC = Path(__file__).with_name("cli.md")
_PLAIN_TYPES = {"<str>": "TEXT", "<int>": "INTEGER", "<float>": "NUMBER", "<path>": "PATH"}
BEGIN = "<!-- BEGIN GENERATED REFERENCE: docs/gen_cli.py -->"
END = "<!-- END GENERATED REFERENCE -->"


def commands() -> Iterator[tuple[list[str], click.Command]]:
    """Every command, depth first, as (path without `lakegate`, command)."""
    root = typer.main.get_command(app)

    def walk(path: list[str], command: click.Command) -> Iterator[tuple[list[str], click.Command]]:
        if isinstance(command, TyperGroup):
            for name in command.list_commands(click.Context(command)):
                yield from walk([*path, name], command.commands[name])
        else:
            yield path, command

    yield from walk([], root)


def reference() -> str:
    """The markdown reference of every command."""
    parts = []
    for path, command in commands():
        name = "lakegate " + " ".join(path)
        ctx = click.Context(command, info_name=name)
        usage = " ".join(command.collect_usage_pieces(ctx))
        parts.append(f"### `{name}`\n")
        parts.append(f"```\n{name} {usage}\n```\n")
        parts.append(inspect.cleandoc(command.help or "") + "\n")
        rows = [row for param in command.params if (row := _row(param, ctx))]
        if rows:
            parts.append("| argument / option | meaning |\n| --- | --- |")
            parts.extend(rows)
            parts.append("")
    return "\n".join(parts).rstrip() + "\n"


def _row(param: click.Parameter, ctx: click.Context) -> str:
    if getattr(param, "hidden", False) or param.name == "help":
        return ""
    if isinstance(param, TyperArgument):
        label = (param.name or "").upper()
    else:
        label = " / ".join([*param.opts, *param.secondary_opts])
        desc = param.type_descriptor
        if param.metavar:
            label += f" {param.metavar}"
        elif desc.is_choice and desc.choices is not None:
            label += " " + "\\|".join(getattr(c, "value", str(c)) for c in desc.choices)
        elif desc.annotation is not bool and not getattr(param, "is_flag", False):
            shown = param.display_type(ctx)
            label += " " + _PLAIN_TYPES.get(shown, shown)
    text = (getattr(param, "help", "") or "").replace("|", "\\|")
    if param.required:
        text += " (required)"
    if getattr(param, "multiple", False):
        text += " (repeatable)"
    return f"| `{label}` | {text} |"


def render(current: str) -> str:
    """`current` with the generated part replaced."""
    head, _, rest = current.partition(BEGIN)
    _, _, tail = rest.partition(END)
    return f"{head}{BEGIN}\n\n{reference()}\n{END}{tail}"


def main(argv: list[str]) -> int:
    current = DOC.read_text(encoding="utf-8")
    fresh = render(current)
    if "--check" in argv:
        if fresh != current:
            print("docs/cli.md is out of date: run `uv run python docs/gen_cli.py`")
            return 1
        return 0
    DOC.write_text(fresh, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
