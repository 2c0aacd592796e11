"""`lakegate connector add|list|show|remove`: a base URL plus how to authenticate to it.

Secrets never pass on the command line: flags take an environment variable's name
(`--client-secret-env VAR`) or read the value from stdin (`--client-secret-stdin`), which
goes to the local secret store and into lakegate.yaml only as `${secret:NAME}`.
"""

from __future__ import annotations

import os
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import typer
from rich.markup import escape

from lakegate.cli._connector_flags import auth_fields, auth_flags, auth_kind, connector_from_flags
from lakegate.cli._project import (
    key_values,
    open_project,
    print_json,
    print_listing,
    print_yaml,
    say,
    secret_store,
    usage,
    warn,
)
from lakegate.connectors import orphaned_secrets, secret_destination
from lakegate.errors import ConfigError
from lakegate.secrets import (
    databrickscfg_path,
    has_value,
    is_reference,
    parse_reference,
    redact,
)

if TYPE_CHECKING:
    from lakegate.project import Connector, Project

connector_app = typer.Typer(
    help="Connectors: a base URL plus how to authenticate to it.", no_args_is_help=True
)
_LIST_COLUMNS = {"name": "name", "base_url": "base URL", "auth": "auth", "read_only": "read-only",
                 "actions": "actions"}  # fmt: skip


class AuthType(StrEnum):
    none = "none"
    api_key = "api_key"
    bearer = "bearer"
    basic = "basic"
    oauth2 = "oauth2"


class GrantType(StrEnum):
    client_credentials = "client_credentials"
    refresh_token = "refresh_token"  # noqa: S105 - a grant type's name
    password = "password"  # noqa: S105


class ClientAuth(StrEnum):
    request_body = "request_body"
    basic_header = "basic_header"
    auto = "auto"


def register(app: typer.Typer) -> None:
    """Add the `connector` group to the lakegate app."""
    app.add_typer(connector_app, name="connector")


# --- connector add ----------------------------------------------------------------------------


@connector_app.command("add")
def connector_add(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The connector's name, e.g. databricks."),
    base_url: str = typer.Option(..., "--base-url", help="Every action's URL starts here."),
    auth: AuthType | None = typer.Option(
        None, "--auth", help="How to authenticate (default: inferred from the flags, else none)."
    ),
    grant_type: GrantType | None = typer.Option(None, "--grant-type", help="OAuth2 grant."),
    client_id: str | None = typer.Option(None, "--client-id", help="OAuth2 client id."),
    client_secret_env: str | None = typer.Option(
        None, "--client-secret-env", metavar="VAR", help="Env variable holding the client secret."
    ),
    client_secret_stdin: bool = typer.Option(
        False, "--client-secret-stdin", help="Read the client secret from stdin (or a prompt)."
    ),
    scope: str | None = typer.Option(None, "--scope", help='Space separated, e.g. "sql all-apis".'),
    token_url: str | None = typer.Option(None, "--token-url", help="OAuth2 token endpoint."),
    client_auth: ClientAuth | None = typer.Option(
        None, "--client-auth", help="Client secret in the body, a Basic header, or auto."
    ),
    token_param: list[str] = typer.Option(
        [], "--token-param", metavar="KEY=VALUE", help="Extra token request form field."
    ),
    token_header: list[str] = typer.Option(
        [], "--token-header", metavar="'NAME: VALUE'", help="Extra token request header."
    ),
    refresh_token_env: str | None = typer.Option(
        None, "--refresh-token-env", metavar="VAR", help="Env variable with a refresh token."
    ),
    refresh_token_stdin: bool = typer.Option(
        False, "--refresh-token-stdin", help="Read the refresh token from stdin."
    ),
    username: str | None = typer.Option(None, "--username", help="basic, or OAuth2 password."),
    password_env: str | None = typer.Option(
        None, "--password-env", metavar="VAR", help="Env variable holding the password."
    ),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read it from stdin."),
    api_key_env: str | None = typer.Option(
        None, "--api-key-env", metavar="VAR", help="Env variable holding the API key."
    ),
    api_key_stdin: bool = typer.Option(False, "--api-key-stdin", help="Read it from stdin."),
    api_key_header: str | None = typer.Option(
        None, "--api-key-header", metavar="NAME", help="Send the key in this header."
    ),
    api_key_query: str | None = typer.Option(
        None, "--api-key-query", metavar="NAME", help="Send the key as this query parameter."
    ),
    api_key_pattern: str | None = typer.Option(
        None, "--api-key-pattern", help="Header value pattern, e.g. 'Bearer %s'."
    ),
    token_env: str | None = typer.Option(
        None, "--token-env", metavar="VAR", help="Env variable holding a bearer token."
    ),
    token_stdin: bool = typer.Option(False, "--token-stdin", help="Read it from stdin."),
    default: list[str] = typer.Option(
        [], "--default", metavar="KEY=VALUE", help="Default input for its actions."
    ),
    description: str = typer.Option("", "--description", help="What this connector is for."),
    read_only: bool = typer.Option(False, "--read-only", help="Refuse writes (SQL: SELECT only)."),
    replace: bool = typer.Option(False, "--replace", help="Overwrite a connector of this name."),
) -> None:
    """Add a connector: a base URL and its auth. Secrets come from env variables or stdin.

    Example (Databricks, OAuth2 client credentials):

        export DATABRICKS_CLIENT_SECRET=...
        lakegate connector add databricks \\
            --base-url https://dbc-1.cloud.databricks.com --auth oauth2 \\
            --grant-type client_credentials --client-id 5f0c... \\
            --client-secret-env DATABRICKS_CLIENT_SECRET --scope "sql all-apis" \\
            --token-url https://dbc-1.cloud.databricks.com/oidc/v1/token \\
            --client-auth request_body
    """
    given = auth_flags(ctx)
    kind = auth_kind(auth.value if auth else None, set(given))
    project = _open_for(name, replace)
    defaults = key_values(default, "--default")
    fields, to_store = auth_fields(name, kind, given, base_url)
    connector = connector_from_flags(
        name, kind, base_url=base_url, auth=fields, description=description,
        read_only=read_only, defaults=defaults,
    )  # fmt: skip
    _save(project, connector, to_store)
    say(f"[green]✓[/] Connector [bold]{name}[/] ({kind}) saved to {project.path.name}")
    for store_name in to_store:
        say(f"[green]✓[/] Secret stored as ${{secret:{store_name}}} in .lakegate/secrets.json")
    say(f"Next: lakegate action add NAME --connector {name} --method GET --path /...")


def _open_for(name: str, replace: bool) -> Project:
    """The project, refused when it has a connector `name` already and --replace is not given."""
    project = open_project()
    if name in project.connectors and not replace:
        raise usage(
            f"There is already a connector {name!r} in {project.path.name}.",
            f"Pass --replace to overwrite it, or remove it first: lakegate connector remove {name}",
        )
    return project


def _save(project: Project, connector: Connector, to_store: dict[str, str]) -> None:
    """The typed secrets, then lakegate.yaml that refers to them (the order the Studio saves in)."""
    project.set_connector(connector.name, connector)
    store = secret_store()
    for store_name, value in to_store.items():
        store.set(store_name, value, origin=secret_destination(connector))
    project.save()


@connector_app.command("set")
def connector_set(
    name: str = typer.Argument(..., help="The connector."),
    pairs: list[str] = typer.Argument(
        ..., metavar="FIELD=VALUE...", help="Fields as in lakegate.yaml (auth.scope=...)."
    ),
) -> None:
    """Change some fields of a connector and keep the rest (`FIELD=` with nothing removes one).

    Fields are named as in lakegate.yaml: base_url, description, read_only, auth.scope,
    auth.token_url, auth.client_id, defaults.warehouse_id, ... A secret field takes a reference
    only (`${env:VAR}`, `${secret:NAME}` after `lakegate secret set NAME`). Everything is
    checked before lakegate.yaml is written.

    Examples:

        lakegate connector set databricks auth.scope="sql all-apis" read_only=true
        lakegate connector set databricks defaults.warehouse_id=abc123
    """
    from lakegate.cli._project import build
    from lakegate.project import Connector

    project = open_project()
    before = project.connector(name)
    data = before.model_dump(mode="json", exclude_none=True)
    changed = []
    for pair in pairs:
        field, sep, text = pair.partition("=")
        if not sep or not field.strip() or field.strip() == "name":
            raise usage(
                f"Expected FIELD=VALUE, got {redact(pair)!r}.",
                'e.g. auth.scope="sql all-apis" (rename a connector by adding a new one).',
            )
        top = field.strip().split(".")[0]
        if top not in Connector.model_fields or top == "name":
            known = ", ".join(f for f in Connector.model_fields if f != "name")
            raise usage(f"A connector has no field {top!r}.", f"Its fields: {known}.")
        _set_field(data, field.strip(), text)
        changed.append(field.strip())
    try:
        after = build(Connector, {}, "connector", **data)
    except ConfigError as exc:
        exc.hint = (
            f"Fix that FIELD=VALUE; nothing was written (`lakegate connector show {name}` "
            "shows its fields as they are)."
        )
        raise
    project.set_connector(name, after)
    project.save()
    say(f"[green]✓[/] Connector [bold]{escape(name)}[/] updated in {project.path.name}: "
        f"{escape(', '.join(changed))}")  # fmt: skip
    moved = secret_destination(after) != secret_destination(before)
    if moved and after.auth.type != "none":
        warn(
            f"It now sends its credentials to {secret_destination(after)}: a stored secret "
            "entered for the old address is refused there until you enter it again "
            "(`lakegate secret set NAME`)."
        )


def _set_field(data: dict[str, Any], field: str, text: str) -> None:
    """Set `a.b.c` in `data` to `text` (the model reads true, 5, ... as it reads YAML's);
    an empty `text` removes the field."""
    *parents, last = field.split(".")
    target = data
    for part in parents:
        target = target.setdefault(part, {})
        if not isinstance(target, dict):
            raise usage(f"{field}: {part} is not a section.", "Name a field inside a section.")
    if text == "":
        target.pop(last, None)
    else:
        target[last] = text


@connector_app.command("list")
def connector_list(
    as_json: bool = typer.Option(False, "--json", help="Print JSON for machines."),
) -> None:
    """List the connectors in the project.

    Example:

        lakegate connector list
    """
    project = open_project()
    rows = [
        {
            "name": c.name,
            "base_url": c.base_url,
            "auth": c.auth.type,
            "read_only": c.read_only,
            "actions": sum(1 for a in project.actions.values() if a.connector == c.name),
        }
        for c in project.connectors.values()
    ]
    print_listing(
        rows,
        _LIST_COLUMNS,
        "No connectors yet. Add one with `lakegate connector add NAME --base-url URL ...`.",
        as_json,
    )


@connector_app.command("show")
def connector_show(
    name: str = typer.Argument(..., help="The connector."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON for machines."),
) -> None:
    """Show one connector as in lakegate.yaml, whether its secrets are available, and its actions.

    Example:

        lakegate connector show databricks
    """
    project = open_project()
    connector = project.connector(name)
    data = connector.model_dump(mode="json", exclude={"name"}, exclude_defaults=True)
    data["auth"] = {"type": connector.auth.type, **data.get("auth", {})}
    secrets = {
        field: _secret_status(value)
        for field, value in connector.auth.model_dump().items()
        if is_reference(value)
    }
    actions = sorted(a.name for a in project.actions.values() if a.connector == name)
    if as_json:
        print_json({"name": name, **data, "secrets": secrets, "actions": actions})
        return
    print_yaml({name: data})
    for field, status in secrets.items():
        say(f"{field}: {status}")
    say(f"actions: {', '.join(actions) or 'none'}")


def _secret_status(ref: str) -> str:
    kind, var = parse_reference(ref)
    if kind == "env":
        return "set in the environment" if os.environ.get(var) else f"MISSING (export {var})"
    if kind == "databrickscfg":
        profile, _, key = var.rpartition(".")
        where = f"{key} of profile {profile} in {databrickscfg_path()}"
        return f"read from the {where}" if has_value(ref, None) else f"MISSING ({where})"
    if var in secret_store().names():
        return "in the local secret store"
    return f"MISSING (lakegate secret set {var})"


@connector_app.command("remove")
def connector_remove(
    name: str = typer.Argument(..., help="The connector."),
    with_actions: bool = typer.Option(
        False, "--with-actions", help="Also remove the actions that use it."
    ),
) -> None:
    """Remove a connector (refused while actions use it, unless --with-actions).

    Example:

        lakegate connector remove staging --with-actions
    """
    project = open_project()
    connector = project.connector(name)
    removed = []
    if with_actions:
        for action in [a for a in project.actions.values() if a.connector == name]:
            project.remove_action(action.name)
            removed.append(action.name)
    try:
        project.remove_connector(name)
    except ConfigError as exc:
        exc.hint = (
            f"Pass --with-actions to remove them too (`lakegate connector remove {name} "
            "--with-actions`), or remove each with `lakegate action remove ACTION`."
        )
        raise
    orphans = orphaned_secrets(project, connector)
    project.save()
    store = secret_store()
    for secret in orphans:  # after the file: a failed save leaves the connector working
        store.remove(secret)
    say(f"[green]✓[/] Removed connector [bold]{name}[/]")
    if removed:
        say(f"[green]✓[/] Removed its actions: {', '.join(removed)}")
    if orphans:
        say(f"[green]✓[/] Removed its stored secret(s): {', '.join(orphans)}")
