"""What the project-editing commands share: open and save the project, build models from flags,
read a secret from stdin or a hidden prompt, and print (always redacted) JSON, YAML and warnings."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import typer
from rich.markup import escape

from lakegate.cli import _context, _output
from lakegate.errors import ConfigError
from lakegate.secrets import SecretStore, redact, redact_data, register_secret

if TYPE_CHECKING:  # pydantic and the project models load only in commands that use them
    from pydantic import BaseModel

    from lakegate.authconfig import FieldProblem
    from lakegate.project import Project

Model = TypeVar("Model", bound="BaseModel")

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")


def usage(message: str, hint: str) -> ConfigError:
    """A mistake in the command's arguments (exit 2)."""
    return ConfigError(message, code="config.usage", hint=hint)


def open_project() -> Project:
    """The project named by --project / LAKEGATE_PROJECT / ./lakegate.yaml."""
    from lakegate.project import load_project

    return load_project(_context.project_path())


def state_dir() -> Path:
    """The `.lakegate/` folder beside the project file, whether or not the file exists yet."""
    return _context.project_path().resolve().parent / ".lakegate"


def secret_store() -> SecretStore:
    return SecretStore(state_dir())


def build(model: type[Model], flags: dict[str, str], what: str, **fields: Any) -> Model:
    """`model(**fields)`, with validation problems told in terms of the command's flags."""
    from pydantic import ValidationError

    from lakegate.authconfig import field_problems

    try:
        return model(**fields)
    except ValidationError as exc:
        raise refusal(field_problems(exc, model), flags, what) from None


def refusal(problems: list[FieldProblem], flags: dict[str, str], what: str) -> ConfigError:
    """What a model refused, as one error naming the flag of each field to fix, with its fix.

    `flags` maps a model field to the flag that gives it; other fields are named as in YAML."""
    lines, fixes = [], []
    for problem in problems:
        field = problem.field
        flag = flags.get(field, f"`{field}`" if field else "")
        if problem.missing:
            text, fix = f"{flag} is required", f"add {flag}"
        else:
            text, fix = problem.problem, problem.fix
            if fix.startswith("add `") and field in flags:  # the model's fix speaks YAML
                fix = f"add {flag}"
        lines.append(f"{text} ({flag})" if flag and flag not in text else text)
        if fix:
            fixes.append(fix)
    return ConfigError(
        redact(f"The {what} is not valid: " + "; ".join(lines) + "."),
        hint=redact("; ".join(fixes) or "See `--help` for the flags."),
    )


def env_reference(flag: str, variable: str) -> str:
    """`${env:VARIABLE}` for a `--...-env VARIABLE` flag; refuses what looks like a secret."""
    if not _ENV_NAME.match(variable) or (
        variable not in os.environ and _looks_like_secret(variable)
    ):
        register_secret(variable)  # it may well be the secret: never show it anywhere
        raise usage(
            f"{flag} takes the NAME of an environment variable, and this does not look like one.",
            f"Export the secret and pass its name: export MY_SECRET=...; {flag} MY_SECRET. "
            "If you pasted the secret itself, rotate it.",
        )
    if variable not in os.environ:
        warn(f"{variable} is not set in this shell; export it before `lakegate test`.")
    return f"${{env:{variable}}}"


# How well-known secrets start: Databricks OAuth secrets and PATs, GitHub, Slack, OpenAI-style
# keys, AWS access keys, JWTs.
_SECRET_PREFIXES = ("dose", "dapi", "dkea", "ghp_", "gho_", "github_pat_", "xox", "sk-", "AKIA",
                    "eyJ")  # fmt: skip


# A variable name's parts between underscores: a short word, maybe numbered (My_Secret1, PROD_2).
_NAME_PART = re.compile(r"[A-Za-z]{1,12}[0-9]{0,3}|[0-9]{1,3}")


def _looks_like_secret(text: str) -> bool:
    """Variable names are words (MY_SECRET, DATABRICKS_CLIENT_SECRET, my_token, My_Secret1);
    secrets mix lower case and digits at length, mix cases with digits (s3cr3tVALUE), or start
    as known secrets do."""
    if text.startswith(_SECRET_PREFIXES):
        return True
    parts = text.split("_")
    if len(parts) > 1 and all(_NAME_PART.fullmatch(part) for part in parts if part):
        return False
    lower, upper = any(c.islower() for c in text), any(c.isupper() for c in text)
    digit = any(c.isdigit() for c in text)
    return (len(text) >= 16 and lower and digit) or (lower and upper and digit)


def read_secret(prompt: str) -> str:
    """A secret from stdin when it is piped, else from a hidden prompt; never echoed."""
    if sys.stdin is not None and not sys.stdin.isatty():
        value = sys.stdin.read().rstrip("\r\n")
    else:
        value = typer.prompt(prompt, hide_input=True, confirmation_prompt=False, err=True)
    if not value:
        raise usage(
            "The secret value is empty.",
            'Pipe it on stdin (`printf %s "$SECRET" | lakegate ...`) or type it at the prompt.',
        )
    register_secret(value)
    return value


def key_values(pairs: list[str], flag: str) -> dict[str, str]:
    """`["a=1", "b = x=y"]` -> `{"a": "1", "b": "x=y"}` for repeatable KEY=VALUE flags (both
    sides stripped, as the Studio's form does)."""
    from lakegate.connectors import parse_pair

    out: dict[str, str] = {}
    for text in pairs:
        pair = parse_pair(text)
        if pair is None:
            raise usage(f"{flag} expects KEY=VALUE, got {redact(text)!r}.", f"e.g. {flag} a=b")
        out[pair[0]] = pair[1]
    return out


def header_pairs(lines: list[str], flag: str) -> dict[str, str]:
    """`["Accept: application/json"]` -> `{"Accept": "application/json"}`."""
    out: dict[str, str] = {}
    for line in lines:
        name, sep, value = line.partition(":")
        if not sep or not name.strip() or any(c in line for c in "\r\n"):
            raise usage(
                f"{flag} expects 'Name: value', got {redact(line)!r}.",
                f"e.g. {flag} 'Accept: application/json'",
            )
        out[name.strip()] = value.strip()
    return out


def json_value(text: str, flag: str) -> Any:
    """JSON from the argument, or from a file when it is `@path`."""
    source = text
    if text.startswith("@"):
        try:
            source = Path(text[1:]).read_text(encoding="utf-8")
        except OSError as exc:
            message = f"{flag}: cannot read {text[1:]} ({exc.strerror})."
            raise usage(message, "Check the path.") from None
    try:
        return json.loads(source)
    except ValueError as exc:
        raise usage(
            f"{flag} is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno}).",
            f'Quote it for the shell: {flag} \'{{"key": "value"}}\', or use {flag} @file.json.',
        ) from None


def warn(message: str) -> None:
    _output.err_console.print(f"[yellow]warning[/]: {escape(redact(message))}", markup=True)


def say(message: str) -> None:
    """A line for a person, with rich markup; redacted."""
    _output.console.print(redact(message))


def print_json(data: Any) -> None:
    """JSON on stdout: coloured on a terminal, exact and unwrapped otherwise (for machines)."""
    text = json.dumps(redact_data(data), indent=2, ensure_ascii=False, default=str)
    if _output.console.is_terminal:
        from rich.json import JSON

        _output.console.print(JSON(text))
    else:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()


def print_yaml(data: Any) -> None:
    """A small mapping as YAML (for `show`), redacted."""
    from io import StringIO

    from ruamel.yaml import YAML

    out = StringIO()
    yaml = YAML()
    yaml.default_flow_style = False
    yaml.dump(redact_data(data), out)
    sys.stdout.write(out.getvalue())
    sys.stdout.flush()


def print_listing(
    rows: list[dict[str, Any]], columns: dict[str, str], empty: str, as_json: bool
) -> None:
    """A `list` command's answer: the rows as JSON for machines; else `empty` when there are none,
    or a table of `columns` ({row key: title}), a yes for true and lists comma separated."""
    if as_json:
        print_json(rows)
        return
    if not rows:
        say(empty)
        return
    from rich.table import Table

    table = Table(*columns.values())
    for row in rows:
        table.add_row(*(_cell(row[key]) for key in columns))
    _output.console.print(table)


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else ""
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return str(value)
