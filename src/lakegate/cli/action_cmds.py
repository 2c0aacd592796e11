"""`lakegate action add|list|show|remove|import-curl`: declared requests on a connector."""

from __future__ import annotations

import json
import re
import sys
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import typer

from lakegate.cli._project import (
    build,
    header_pairs,
    json_value,
    key_values,
    open_project,
    print_json,
    print_listing,
    print_yaml,
    say,
    usage,
    warn,
)
from lakegate.curl import looks_like_credential, parse_curl
from lakegate.errors import ConfigError

if TYPE_CHECKING:  # the models load only in the commands that build them
    from lakegate.project import Action, Input, Project

action_app = typer.Typer(
    help="Actions: declared requests on a connector, with typed inputs.", no_args_is_help=True
)

# `name`, `limit:integer`, `limit:integer?`, `limit:integer?=10`, `state:string=RUNNING`
_INPUT_SPEC = re.compile(
    r"^(?P<name>[a-zA-Z_][a-zA-Z0-9_]*)(?::(?P<type>[a-z]+))?(?P<optional>\?)?(?:=(?P<example>.*))?$",
    re.DOTALL,
)
_TYPES = ("string", "integer", "number", "boolean", "array", "object")
_ACTION_FLAGS = {
    "path": "--path", "method": "--method", "output": "--output", "inputs": "--declare",
    "connector": "--connector", "name": "NAME", "timeout_s": "--timeout", "risk": "--risk",
    "query": "--query", "headers": "--header", "body": "--body",
}  # fmt: skip


class Risk(StrEnum):
    read = "read"
    write = "write"
    destructive = "destructive"


def register(app: typer.Typer) -> None:
    """Add the `action` group to the lakegate app."""
    app.add_typer(action_app, name="action")


@action_app.command("add")
def action_add(
    name: str = typer.Argument(..., help="The action's name, e.g. list_warehouses."),
    connector: str | None = typer.Option(
        None, "--connector", "-c", help="The connector (default: the only one there is)."
    ),
    method: str = typer.Option("GET", "--method", "-X", help="HTTP method."),
    path: str | None = typer.Option(
        None, "--path", help="Path under the connector's base URL; {{input}} placeholders allowed."
    ),
    description: str = typer.Option("", "--description", help="What it does (for the copilot)."),
    query: list[str] = typer.Option([], "--query", metavar="KEY=VALUE", help="Query parameter."),
    header: list[str] = typer.Option([], "--header", metavar="'NAME: VALUE'", help="Header."),
    body: str | None = typer.Option(None, "--body", help="JSON body, or @file.json."),
    input_spec: list[str] = typer.Option(
        [],
        "--declare",
        metavar="NAME[:TYPE][?][=EXAMPLE]",
        help="Declare an input (required unless '?'); undeclared {{placeholders}} become strings. "
        "Values are passed later with `test`/`call -i NAME=VALUE`.",
    ),
    old_input_spec: list[str] = typer.Option([], "--input", hidden=True),  # the old spelling
    output: str | None = typer.Option(None, "--output", help="JMESPath projection."),
    risk: Risk | None = typer.Option(None, "--risk", help="Default: read for GET, else write."),
    idempotent: bool | None = typer.Option(
        None, "--idempotent/--not-idempotent", help="Safe to retry (default: by method)."
    ),
    timeout: float | None = typer.Option(None, "--timeout", help="Seconds (default 30)."),
    handler: str | None = typer.Option(
        None, "--handler", help="A registered code handler instead of method/path."
    ),
    replace: bool = typer.Option(False, "--replace", help="Overwrite an action of this name."),
) -> None:
    """Add an action: a request on a connector, with typed inputs.

    Examples:

        lakegate action add list_warehouses --connector databricks \\
            --method GET --path /api/2.0/sql/warehouses \\
            --output "warehouses[].{id: id, name: name, state: state}"

        lakegate action add get_warehouse --connector databricks \\
            --path "/api/2.0/sql/warehouses/{{id}}" --declare id:string=abc123
    """
    project = open_project()
    _check_new(project, name, replace)
    headers = header_pairs(header, "--header")
    _refuse_credential_headers(headers)
    fields: dict[str, Any] = {
        "name": name,
        "connector": _connector_name(project, connector),
        "description": description,
        "method": method.upper(),
        "path": path,
        "query": key_values(query, "--query"),
        "headers": headers,
        "body": json_value(body, "--body") if body is not None else None,
        "output": output,
        "risk": risk.value if risk else _default_risk(method),
        "idempotent": idempotent,
        "handler": handler,
    }
    if timeout is not None:
        fields["timeout_s"] = timeout
    if path is None and handler is None:
        raise usage("An action needs --path (or --handler).", "e.g. --path /api/2.0/sql/warehouses")
    fields["inputs"] = _inputs([*input_spec, *old_input_spec], fields)
    from lakegate.project import Action

    action = build(Action, _ACTION_FLAGS, "action", **fields)
    _save(project, action)
    unused = [n for n in action.inputs if n not in action.placeholders()]
    if unused and not action.handler:
        warn(
            f"Input {', '.join(unused)} is declared but used nowhere: the path, query, headers "
            "and body have no {{" + unused[0] + "}}, so a value given for it is dropped. Use "
            f"it as {{{{{unused[0]}}}}} in --path, --query or --body (`lakegate action add "
            f"{action.name} --replace ...`), or declare only what the request uses."
        )


@action_app.command("import-curl")
def action_import_curl(
    name: str = typer.Argument(..., help="The new action's name."),
    command: str = typer.Argument(..., help="The curl command in quotes, or - to read stdin."),
    connector: str | None = typer.Option(
        None, "--connector", "-c", help="The connector (default: the only one there is)."
    ),
    description: str = typer.Option("", "--description", help="What it does."),
    output: str | None = typer.Option(None, "--output", help="JMESPath projection."),
    risk: Risk | None = typer.Option(None, "--risk", help="Default: read for GET, else write."),
    replace: bool = typer.Option(False, "--replace", help="Overwrite an action of this name."),
) -> None:
    """Create an action from a curl command (method, path, query, headers, JSON body).

    Credentials in the command (-u, Authorization or API-key headers) are NOT copied: the
    connector's auth supplies them. The URL must be on the connector's base URL.

    Example:

        lakegate action import-curl list_warehouses --connector databricks \\
            'curl -H "Authorization: Bearer $TOKEN" https://dbc-1.cloud.databricks.com/api/2.0/sql/warehouses'
    """
    project = open_project()
    _check_new(project, name, replace)
    conn = project.connector(_connector_name(project, connector))
    text = sys.stdin.read() if command == "-" else command
    imported = parse_curl(text)
    path = imported.path_for(conn.base_url, conn.name)
    if imported.body_format in ("form", "text"):
        raise ConfigError(
            f"The curl command sends a {imported.body_format} body; lakegate actions send JSON.",
            code="config.curl_unsupported",
            hint="Send the same data as JSON if the API accepts it, or write the action by hand.",
        )
    for line in imported.warnings:
        warn(line)
    if imported.suggested_auth and conn.auth.type == "none":
        warn(
            f"The curl command used {imported.suggested_auth} credentials, but connector "
            f"{conn.name!r} has no auth. Re-add it with --auth {imported.suggested_auth} --replace."
        )
    fields: dict[str, Any] = {
        "name": name,
        "connector": conn.name,
        "description": description,
        "method": imported.method,
        "path": path,
        "query": imported.query,
        "headers": imported.headers,
        "body": imported.body,
        "output": output,
        "risk": risk.value if risk else _default_risk(imported.method),
    }
    fields["inputs"] = _inputs([], fields)
    from lakegate.project import Action

    action = build(Action, _ACTION_FLAGS, "action", **fields)
    _save(project, action)
    print_yaml({name: _slim(action)})


@action_app.command("list")
def action_list(
    as_json: bool = typer.Option(False, "--json", help="Print JSON for machines."),
) -> None:
    """List the actions in the project.

    Example:

        lakegate action list
    """
    project = open_project()
    rows = [
        {
            "name": a.name,
            "connector": a.connector,
            "method": a.method if a.handler is None else "",
            "path": a.path if a.handler is None else f"handler {a.handler}",
            "risk": a.risk,
            "inputs": sorted(a.inputs),
        }
        for a in project.actions.values()
    ]
    print_listing(
        rows,
        {key: key for key in ("name", "connector", "method", "path", "risk", "inputs")},
        "No actions yet. Add one with `lakegate action add NAME --connector C --path /...`.",
        as_json,
    )


@action_app.command("show")
def action_show(
    name: str = typer.Argument(..., help="The action."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON for machines."),
) -> None:
    """Show one action as in lakegate.yaml, and the JSON Schema of its inputs.

    Example:

        lakegate action show list_warehouses
    """
    project = open_project()
    action = project.action(name)
    schema = action.input_schema(project.connector(action.connector).defaults)
    if as_json:
        print_json({"name": name, **_slim(action), "input_schema": schema})
        return
    print_yaml({name: _slim(action)})
    say("[bold]input schema[/]:")
    print_json(schema)


@action_app.command("remove")
def action_remove(name: str = typer.Argument(..., help="The action.")) -> None:
    """Remove an action.

    Example:

        lakegate action remove list_warehouses
    """
    project = open_project()
    project.remove_action(name)
    project.save()
    say(f"[green]✓[/] Removed action [bold]{name}[/]")


# --- building an action -----------------------------------------------------------------------


def _check_new(project: Project, name: str, replace: bool) -> None:
    if name in project.actions and not replace:
        raise usage(
            f"There is already an action {name!r} in {project.path.name}.",
            f"Pass --replace to overwrite it, or remove it first: lakegate action remove {name}",
        )


def _connector_name(project: Project, given: str | None) -> str:
    if given is not None:
        return project.connector(given).name
    if len(project.connectors) == 1:
        return next(iter(project.connectors))
    raise usage(
        "Which connector? Pass --connector NAME.",
        f"Connectors: {', '.join(sorted(project.connectors))}."
        if project.connectors
        else "Add one first: lakegate connector add NAME --base-url URL ...",
    )


def _default_risk(method: str) -> str:
    upper = method.upper()
    if upper in ("GET", "HEAD", "OPTIONS"):
        return "read"
    return "destructive" if upper == "DELETE" else "write"


def _refuse_credential_headers(headers: dict[str, str]) -> None:
    for header_name in headers:
        if looks_like_credential(header_name):
            raise usage(
                f"Header {header_name!r} carries a credential; lakegate.yaml never holds one.",
                "Give the connector auth instead (--auth bearer|api_key|oauth2 on "
                "`lakegate connector add`).",
            )


def _inputs(specs: list[str], fields: dict[str, Any]) -> dict[str, Input]:
    """Declared `--declare`s, plus a required string for every other `{{placeholder}}`."""
    from lakegate.project import PLACEHOLDER, Input

    inputs: dict[str, Input] = {}
    for spec in specs:
        match = _INPUT_SPEC.match(spec)
        kind = (match.group("type") or "string") if match else ""
        if match is None or kind not in _TYPES:
            raise usage(
                f"--declare {spec!r} is not NAME[:TYPE][?][=EXAMPLE].",
                f"e.g. --declare id  or  --declare limit:integer?=10 (types: {', '.join(_TYPES)})",
            )
        example = match.group("example")
        inputs[match.group("name")] = build(
            Input,
            {},
            f"input {match.group('name')}",
            type=kind,
            required=match.group("optional") is None,
            example=_typed(example, kind, spec) if example is not None else None,
        )
    template = json.dumps([fields.get(k) for k in ("path", "query", "headers", "body")])
    for placeholder in PLACEHOLDER.findall(template):
        inputs.setdefault(placeholder, Input(type="string", required=True))
    return inputs


def _typed(text: str, kind: str, spec: str) -> Any:
    from lakegate.render import typed_value

    try:
        return typed_value(kind, text)
    except ValueError:
        raise usage(
            f"The example in --declare {spec!r} is not a valid {kind}.",
            "Arrays and objects are JSON, booleans true/false.",
        ) from None


def _slim(action: Action) -> dict[str, Any]:
    data = action.model_dump(mode="json", exclude={"name"}, exclude_defaults=True)
    return {"connector": action.connector, "method": action.method, **data}


def _save(project: Project, action: Action) -> None:
    project.set_action(action.name, action)
    project.save()
    say(f"[green]✓[/] Action [bold]{action.name}[/] saved to {project.path.name}")
    say(f"Next: lakegate test {action.name}")
