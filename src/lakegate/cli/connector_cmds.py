"""`lakegate connector add|list|show|remove`: a base URL plus how to authenticate to it.

Secrets never pass on the command line: flags take an environment variable's name
(`--client-secret-env VAR`) or read the value from stdin (`--client-secret-stdin`), which
goes to the local secret store and into lakegate.yaml only as `${secret:NAME}`.
"""

from __future__ import annotations

import os
from enum import StrEnum
from typing import Any

import typer
from rich.table import Table

from lakegate.cli import _output
from lakegate.cli._project import (
    build,
    env_reference,
    header_pairs,
    key_values,
    open_project,
    print_json,
    print_yaml,
    read_secret,
    say,
    secret_store,
    usage,
)
from lakegate.connectors import secret_name, secret_reference
from lakegate.errors import ConfigError
from lakegate.secrets import is_reference, parse_reference

connector_app = typer.Typer(
    help="Connectors: a base URL plus how to authenticate to it.", no_args_is_help=True
)


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


# --- connector --------------------------------------------------------------------------------

# Flags that only make sense for one kind of auth (username/password serve two).
_FLAG_AUTH = {
    "--grant-type": "oauth2", "--client-id": "oauth2", "--client-secret-env": "oauth2",
    "--client-secret-stdin": "oauth2", "--scope": "oauth2", "--token-url": "oauth2",
    "--client-auth": "oauth2", "--token-param": "oauth2", "--token-header": "oauth2",
    "--refresh-token-env": "oauth2", "--refresh-token-stdin": "oauth2",
    "--api-key-env": "api_key", "--api-key-stdin": "api_key", "--api-key-header": "api_key",
    "--api-key-query": "api_key", "--api-key-pattern": "api_key",
    "--token-env": "bearer", "--token-stdin": "bearer",
}  # fmt: skip
_USER_FLAGS = ("--username", "--password-env", "--password-stdin")
# Model fields as the flags a person typed, for validation messages.
_CONNECTOR_FLAGS = {
    "base_url": "--base-url", "token_url": "--token-url", "client_id": "--client-id",
    "client_secret": "--client-secret-env/--client-secret-stdin", "scope": "--scope",
    "refresh_token": "--refresh-token-env/--refresh-token-stdin", "username": "--username",
    "password": "--password-env/--password-stdin", "key": "--api-key-env/--api-key-stdin",
    "header": "--api-key-header/--api-key-query", "pattern": "--api-key-pattern",
    "token": "--token-env/--token-stdin", "name": "NAME",
}  # fmt: skip


def _auth_model(kind: str) -> type:
    """The auth model for `--auth KIND`; the models load only in the command that builds one."""
    from lakegate.project import ApiKeyAuth, BasicAuth, BearerAuth, NoAuth, OAuth2Auth

    models: dict[str, type] = {
        "none": NoAuth, "api_key": ApiKeyAuth, "bearer": BearerAuth, "basic": BasicAuth,
        "oauth2": OAuth2Auth,
    }  # fmt: skip
    return models[kind]


@connector_app.command("add")
def connector_add(
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
    given = {
        "--grant-type": grant_type, "--client-id": client_id,
        "--client-secret-env": client_secret_env, "--client-secret-stdin": client_secret_stdin,
        "--scope": scope, "--token-url": token_url, "--client-auth": client_auth,
        "--token-param": token_param, "--token-header": token_header,
        "--refresh-token-env": refresh_token_env, "--refresh-token-stdin": refresh_token_stdin,
        "--api-key-env": api_key_env, "--api-key-stdin": api_key_stdin,
        "--api-key-header": api_key_header, "--api-key-query": api_key_query,
        "--api-key-pattern": api_key_pattern, "--token-env": token_env,
        "--token-stdin": token_stdin, "--username": username, "--password-env": password_env,
        "--password-stdin": password_stdin,
    }  # fmt: skip
    used = {flag for flag, value in given.items() if value not in (None, False, [])}
    kind = _auth_kind(auth.value if auth else None, used)
    project = open_project()
    if name in project.connectors and not replace:
        raise usage(
            f"There is already a connector {name!r} in {project.path.name}.",
            f"Pass --replace to overwrite it, or remove it first: lakegate connector remove {name}",
        )
    stdin_flags = sorted(f for f in used if f.endswith("-stdin"))
    if len(stdin_flags) > 1:
        raise usage(
            f"Only one secret can be read from stdin, got {', '.join(stdin_flags)}.",
            "Pass the other secrets through environment variables (--...-env VAR).",
        )
    pending: dict[str, str] = {}  # secret store name -> value, stored once everything is valid

    def secret(field: str, env: str | None, stdin: bool, env_flag: str) -> str | None:
        if env and stdin:
            raise usage(f"Use either {env_flag} or its -stdin twin, not both.", f"Keep {env_flag}.")
        if env:
            return env_reference(env_flag, env)
        if stdin:
            # One naming rule with the Studio: the auth model's field name (`key`, not `api_key`).
            pending[secret_name(name, field)] = read_secret(f"{field.replace('_', ' ')} for {name}")
            return secret_reference(name, field)
        return None

    fields: dict[str, Any] = {"type": kind}
    if kind == "oauth2":
        fields |= {
            "grant_type": (grant_type or GrantType.client_credentials).value,
            "token_url": token_url,
            "client_id": client_id,
            "client_secret": secret(
                "client_secret", client_secret_env, client_secret_stdin, "--client-secret-env"
            ),
            "scope": scope,
            "extra_token_params": key_values(token_param, "--token-param"),
            "extra_token_headers": header_pairs(token_header, "--token-header"),
            "refresh_token": secret(
                "refresh_token", refresh_token_env, refresh_token_stdin, "--refresh-token-env"
            ),
            "username": username,
            "password": secret("password", password_env, password_stdin, "--password-env"),
        }
        if client_auth:
            fields["client_auth"] = client_auth.value
        if fields["token_url"] is None:
            raise usage(
                "--auth oauth2 needs --token-url.",
                f"For Databricks it is {base_url.rstrip('/')}/oidc/v1/token.",
            )
    elif kind == "api_key":
        fields |= {
            "key": secret("key", api_key_env, api_key_stdin, "--api-key-env"),
            "header": api_key_header,
            "query_param": api_key_query,
        }
        if api_key_pattern:
            fields["pattern"] = api_key_pattern
    elif kind == "bearer":
        fields["token"] = secret("token", token_env, token_stdin, "--token-env")
    elif kind == "basic":
        fields |= {
            "username": username,
            "password": secret("password", password_env, password_stdin, "--password-env"),
        }
    auth_fields = {k: v for k, v in fields.items() if v not in (None, {})}
    from lakegate.project import Connector

    auth_model = build(_auth_model(kind), _CONNECTOR_FLAGS, f"{kind} auth", **auth_fields)
    connector = build(
        Connector,
        _CONNECTOR_FLAGS,
        "connector",
        name=name,
        description=description,
        base_url=base_url,
        auth=auth_model,
        read_only=read_only,
        defaults=key_values(default, "--default"),
    )
    project.set_connector(name, connector)
    store = secret_store()
    for store_name, value in pending.items():
        store.set(store_name, value)
    project.save()
    say(f"[green]✓[/] Connector [bold]{name}[/] ({kind}) saved to {project.path.name}")
    for store_name in pending:
        say(f"[green]✓[/] Secret stored as ${{secret:{store_name}}} in .lakegate/secrets.json")
    say(f"Next: lakegate action add NAME --connector {name} --method GET --path /...")


def _auth_kind(explicit: str | None, used: set[str]) -> str:
    """The auth type: as given, or the one the flags belong to; conflicting flags are an error."""
    kinds = {_FLAG_AUTH[f] for f in used if f in _FLAG_AUTH}
    user_flags = {f for f in used if f in _USER_FLAGS}
    if explicit is None:
        if len(kinds) > 1:
            raise usage(
                f"These flags belong to different auth types: {', '.join(sorted(used))}.",
                "Pick one with --auth none|api_key|bearer|basic|oauth2.",
            )
        explicit = kinds.pop() if kinds else ("basic" if user_flags else "none")
    wrong = sorted(f for f in used if f in _FLAG_AUTH and _FLAG_AUTH[f] != explicit)
    if user_flags and explicit not in ("basic", "oauth2"):
        wrong += sorted(user_flags)
    if wrong:
        raise usage(
            f"{', '.join(wrong)} cannot be used with --auth {explicit}.",
            "Drop them, or choose the auth type they belong to (see `lakegate connector add -h`).",
        )
    return explicit


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
    if as_json:
        print_json(rows)
        return
    if not rows:
        say("No connectors yet. Add one with `lakegate connector add NAME --base-url URL ...`.")
        return
    table = Table("name", "base URL", "auth", "read-only", "actions")
    for row in rows:
        table.add_row(
            row["name"], row["base_url"], row["auth"], "yes" if row["read_only"] else "",
            str(row["actions"]),
        )  # fmt: skip
    _output.console.print(table)


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
    project.connector(name)
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
    project.save()
    say(f"[green]✓[/] Removed connector [bold]{name}[/]")
    if removed:
        say(f"[green]✓[/] Removed its actions: {', '.join(removed)}")
