"""`lakegate test ACTION` (the Test button) and `lakegate call ACTION` (just the result).

Both go through the gateway, like every other front. Exit codes: 0 ok, 1 the action failed,
2 a usage or configuration error (including a bad `-i` value or a missing secret).
"""

from __future__ import annotations

import re
import sys
from http import HTTPStatus
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.markup import escape

from lakegate.cli import _output
from lakegate.cli._project import open_project, print_json, say, usage, warn
from lakegate.errors import LakegateError

if TYPE_CHECKING:  # the models load when a command runs, not when the CLI starts
    from lakegate.project import Action, Project
from lakegate.secrets import SecretStore, redact, redact_data

_INPUT_HELP = "An input as KEY=VALUE; arrays and objects as JSON or KEY=@file.json."


def register(app: typer.Typer) -> None:
    """Add `test` and `call` to the lakegate app."""
    app.command("test")(test)
    app.command("call")(call)


def test(
    action: str = typer.Argument(..., help="The action to test."),
    inputs: list[str] = typer.Option([], "--input", "-i", metavar="KEY=VALUE", help=_INPUT_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON report for machines."),
) -> None:
    """The Test button: the request (redacted), status, time, token source and response.

    The action is sent once. Inputs not given default to their examples.

    Examples:

        lakegate test list_warehouses
        lakegate test get_warehouse -i id=abc123 --json
    """
    project = open_project()
    values = parse_inputs(project.action(action), inputs)
    result = _run(project, action, values, test=True)
    empty = _empty_output(project.action(action), result)
    if as_json:
        print_json({**report(result), "warnings": [empty] if empty else []})
    else:
        _show_test(project, action, result, empty)
    _exit_for(result)


def call(
    action: str = typer.Argument(..., help="The action to call."),
    inputs: list[str] = typer.Option([], "--input", "-i", metavar="KEY=VALUE", help=_INPUT_HELP),
    as_json: bool = typer.Option(
        False, "--json", help="Print {ok, status, data, error, elapsed_ms} instead of the data."
    ),
) -> None:
    """Call an action and print just its result; exit 1 on failure.

    The result (after the action's `output` projection) prints as JSON, or as plain text when
    it is a string.

    Examples:

        lakegate call list_warehouses
        lakegate call list_warehouses --json | jq '.data[0].id'
    """
    project = open_project()
    values = parse_inputs(project.action(action), inputs)
    result = _run(project, action, values, test=False)
    if as_json:
        print_json({k: v for k, v in report(result).items() if k in _CALL_KEYS})
    elif result.ok:
        _print_data(result.data)
    empty = _empty_output(project.action(action), result)
    if empty:
        warn(empty)
    _exit_for(result, quiet=as_json)


_CALL_KEYS = ("ok", "status", "data", "error", "elapsed_ms", "truncated")


def parse_inputs(action: Action, pairs: list[str]) -> dict[str, Any]:
    """`-i key=value` pairs as the action's declared input types; ConfigError on any mistake."""
    values: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise usage(f"-i expects KEY=VALUE, got {redact(pair)!r}.", "e.g. -i warehouse_id=abc")
        spec = action.inputs.get(key)
        if spec is None:
            declared = ", ".join(sorted(action.inputs)) or "none"
            raise usage(
                f"Action {action.name!r} has no input {key!r}.",
                f"Its inputs: {declared}. See `lakegate action show {action.name}`.",
            )
        values[key] = _coerce(key, spec.type, text)
    return values


def _coerce(key: str, kind: str, text: str) -> Any:
    if kind in ("array", "object") and text.startswith("@"):
        try:
            text = Path(text[1:]).read_text(encoding="utf-8")
        except OSError as exc:
            raise usage(
                f"-i {key}: cannot read {text[1:]} ({exc.strerror}).", "Check the path."
            ) from None
    from lakegate.render import typed_value

    try:
        return typed_value(kind, text)
    except ValueError:
        pass
    example = {"integer": "5", "number": "0.5", "boolean": "true", "array": "'[1, 2]'"}.get(
        kind, "'{\"a\": 1}'"
    )
    raise usage(
        redact(
            f"Input {key!r} must be {'an' if kind[0] in 'aeiou' else 'a'} {kind}, not {text!r}."
        ),
        f"e.g. -i {key}={example}",
    )


def _run(project: Project, action: str, values: dict[str, Any], *, test: bool) -> Any:
    import asyncio

    from lakegate.gateway import Gateway

    # Retries are shown as they happen: a 503 answered with backoff can take seconds.
    gateway = Gateway(project, secret_store=SecretStore(project.state_dir), on_retry=_retrying)

    async def go() -> Any:
        async with gateway as gw:
            return await (gw.test(action, values) if test else gw.call(action, values))

    try:
        return asyncio.run(go())
    except KeyboardInterrupt:
        # Ctrl-C: the call was cancelled and the gateway closed after its clean-up (a running
        # statement's cancel); say what that did, then exit 130 as an interrupted command does.
        for note in gateway.cancel_notes:
            warn(note)
        if not gateway.cancel_notes:
            warn(f"Interrupted: {action} was cancelled.")
        raise


def _retrying(retry: Any) -> None:
    """One dim line on stderr per retry, before its wait (stdout stays the result alone)."""
    _output.err_console.print(f"[dim]{escape(redact(str(retry)))}[/]", markup=True)


def report(result: Any) -> dict[str, Any]:
    """An ActionResult as plain, redacted data, with the response before projection."""
    return {**result.to_dict(), "raw": redact_data(result.raw)}


def _empty_output(action: Action, result: Any) -> str | None:
    """A warning when the `output` projection found nothing in a response that has data: most
    often a misspelt field (`warehouse[].name` for `warehouses[].name`)."""
    if not (result.ok and action.output and result.data is None) or result.raw in (None, ""):
        return None
    message = f"The output expression {action.output!r} matched nothing in the response"
    if isinstance(result.raw, dict):
        import difflib

        keys = sorted(result.raw)
        first = re.match(r"[A-Za-z_][A-Za-z0-9_]*", action.output)
        close = difflib.get_close_matches(first.group(0), keys, n=1) if first else []
        if close:
            return f"{message}; did you mean {close[0]!r}? Its top-level keys: {', '.join(keys)}."
        return f"{message}; its top-level keys: {', '.join(keys) or 'none'}."
    return f"{message}."


def _show_test(project: Project, name: str, result: Any, empty: str | None = None) -> None:
    action = project.action(name)
    say(f"[bold]Test[/] {name} [dim]on connector {action.connector}[/]")
    request = result.request
    if request is not None:
        say(f"  [bold]{request.method}[/] {escape(redact(request.url))}")
        for header, value in dict(request.headers).items():
            say(f"  [dim]{escape(redact(f'{header}: {value}'))}[/]")
    if result.status is not None:
        phrase = _phrase(result.status)
        colour = "green" if 200 <= result.status < 300 else "red"
        attempts = f" · {result.attempts} attempts" if (result.attempts or 1) > 1 else ""
        timing = f"{result.elapsed_ms:.0f} ms{attempts}"
        say(f"  status  [{colour}]{result.status} {phrase}[/] · {timing}")
    if result.token_from_cache is not None:
        say(
            f"  token   {'from cache' if result.token_from_cache else 'fetched from the token URL'}"
        )
    if result.client_auth_used:
        say(f"  client auth  {result.client_auth_used}")
    if result.raw is not None:
        say("  [bold]response[/]" + (" [yellow](truncated)[/]" if result.truncated else ""))
        _print_data(result.raw)
    if result.ok and action.output:
        say(f"  [bold]output[/] [dim]{escape(action.output)}[/]")
        _print_data(result.data)
    elif result.ok and result.raw is None and result.data is not None:  # a code handler's result
        say("  [bold]result[/]")
        _print_data(result.data)
    if result.ok and empty:
        _output.err_console.print(f"[yellow]! Test passed, but[/] {escape(redact(empty))}")
    elif result.ok:
        say("[green]✓ Test passed[/]")
    else:
        _output.err_console.print("[red]✗ Test failed[/]")


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def _print_data(data: Any) -> None:
    """JSON as JSON; a plain string (a text response, or a projected string) as its text."""
    if isinstance(data, str):
        sys.stdout.write(redact(data) + "\n")
        sys.stdout.flush()
    else:
        print_json(data)


def _exit_for(result: Any, *, quiet: bool = False) -> None:
    if result.ok:
        return
    error = result.error
    if error is None:  # pragma: no cover - the gateway always explains a failure
        error = LakegateError(f"The action failed with status {result.status}.")
    if not quiet:
        _output.print_error(error)
    raise typer.Exit(_output.exit_code(error))
