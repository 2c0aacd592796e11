"""The command line as people type it, before typer reads it.

- `--project PATH` (`-p`) is a root option, but people put it after the command as they do with
  the databricks CLI's `--profile`: it is moved to the front.
- A secret given as a flag's value (`--client-secret VALUE`) would stay in shell history and in
  `ps`; there is no such flag, and instead of typer's "No such option" the user is told which
  flag takes the secret safely. The value is never shown.
"""

from __future__ import annotations

from lakegate.errors import ConfigError

__all__ = ["check_argv"]

_PROJECT_FLAGS = ("--project", "-p")
# Flags people try for a secret, and the ones lakegate takes instead.
_SECRET_FLAGS = {
    "--client-secret": ("--client-secret-env VAR", "--client-secret-stdin"),
    "--password": ("--password-env VAR", "--password-stdin"),
    "--token": ("--token-env VAR", "--token-stdin"),
    "--api-key": ("--api-key-env VAR", "--api-key-stdin"),
    "--refresh-token": ("--refresh-token-env VAR", "--refresh-token-stdin"),
    "--secret": ("--client-secret-env VAR", "--client-secret-stdin"),
}
# Commands where a flag of that name exists and means something else (a reference, not a value).
_OWN_FLAG = {"--token": "serve"}


def check_argv(args: list[str]) -> list[str]:
    """`args` with a trailing `--project PATH` moved to the front; ConfigError (usage) for a
    secret given on the command line."""
    head: list[str] = []
    rest: list[str] = []
    command: str | None = None
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            rest.extend(args[i:])
            break
        name = arg.split("=", 1)[0] if arg.startswith("--") else arg
        if name in _PROJECT_FLAGS:
            take = 1 if "=" in arg or i + 1 >= len(args) else 2
            head.extend(args[i : i + take])  # wherever it was given: before the command
            i += take
            continue
        if command is None and not arg.startswith("-"):
            command = arg
        elif name in _SECRET_FLAGS and _OWN_FLAG.get(name) != command:
            _refuse_secret(name)
        rest.append(arg)
        i += 1
    return head + rest


def _refuse_secret(flag: str) -> None:
    by_env, by_stdin = _SECRET_FLAGS[flag]
    raise ConfigError(
        f"lakegate takes no secret on the command line ({flag}): it would stay in your shell "
        "history and show in `ps`. Nothing was done.",
        code="config.usage",
        hint=f"Export it and pass the variable's name ({by_env}), or pipe it in ({by_stdin}). "
        "If the secret was typed in a shared shell, rotate it.",
    )
