"""The auth flags of `lakegate connector add`: the auth type they mean, the auth fields and typed
secrets they give, and what `build_connector` refuses, told in terms of those flags."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any

from lakegate.cli._project import (
    env_reference,
    header_pairs,
    key_values,
    read_secret,
    refusal,
    usage,
)
from lakegate.connectors import build_connector, typed_secret

if TYPE_CHECKING:
    import typer

    from lakegate.project import Connector

__all__ = ["auth_fields", "auth_flags", "auth_kind", "connector_from_flags"]

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
# Auth fields (as the auth models name them) and the flags that give them. `auth_kind` refuses
# flags of another auth type first, so every flag given belongs to the chosen one.
_PLAIN_FLAGS = {
    "grant_type": "--grant-type", "token_url": "--token-url", "client_id": "--client-id",
    "scope": "--scope", "client_auth": "--client-auth", "username": "--username",
    "header": "--api-key-header", "query_param": "--api-key-query",
    "pattern": "--api-key-pattern",
}  # fmt: skip
_SECRET_FLAGS = {  # a secret comes from an env variable's name, or is typed on stdin
    "client_secret": ("--client-secret-env", "--client-secret-stdin"),
    "refresh_token": ("--refresh-token-env", "--refresh-token-stdin"),
    "password": ("--password-env", "--password-stdin"),
    "key": ("--api-key-env", "--api-key-stdin"),
    "token": ("--token-env", "--token-stdin"),
}
# Connector and auth fields as the flags a person typed, for validation messages.
_FIELD_FLAGS = {
    "name": "NAME", "base_url": "--base-url", "description": "--description", "auth": "--auth",
    "defaults": "--default", "extra_token_params": "--token-param",
    "extra_token_headers": "--token-header", **_PLAIN_FLAGS,
    **{field: "/".join(flags) for field, flags in _SECRET_FLAGS.items()},
    "header": "--api-key-header/--api-key-query",  # the check wants exactly one of the two
}  # fmt: skip


def auth_flags(ctx: typer.Context) -> dict[str, Any]:
    """{flag: value} for the auth flags on the command line (choices as their plain values)."""
    given = {}
    for param in ctx.command.params:
        flag, value = param.opts[0], ctx.params.get(param.name or "")
        if (flag in _FLAG_AUTH or flag in _USER_FLAGS) and value not in (None, False, []):
            given[flag] = value.value if isinstance(value, StrEnum) else value
    return given


def auth_kind(explicit: str | None, used: set[str]) -> str:
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


def auth_fields(
    name: str, kind: str, given: dict[str, Any], base_url: str
) -> tuple[dict[str, Any], dict[str, str]]:
    """The auth fields the flags give, and the typed secrets to store once the connector is valid
    ({store name: value}). Flags not given are left out; `build_connector` drops them."""
    stdin_flags = sorted(flag for flag in given if flag.endswith("-stdin"))
    if len(stdin_flags) > 1:
        raise usage(
            f"Only one secret can be read from stdin, got {', '.join(stdin_flags)}.",
            "Pass the other secrets through environment variables (--...-env VAR).",
        )
    fields: dict[str, Any] = {"type": kind}
    fields |= {field: given.get(flag) for field, flag in _PLAIN_FLAGS.items()}
    fields["extra_token_params"] = key_values(given.get("--token-param", []), "--token-param")
    fields["extra_token_headers"] = header_pairs(given.get("--token-header", []), "--token-header")
    to_store: dict[str, str] = {}
    for field in _SECRET_FLAGS:
        fields[field], stored = _secret(name, field, given)
        to_store |= stored
    if kind == "oauth2" and not fields["token_url"]:  # said before the models' generic message
        raise usage(
            "--auth oauth2 needs --token-url.",
            f"For Databricks it is {base_url.rstrip('/')}/oidc/v1/token.",
        )
    return fields, to_store


def _secret(name: str, field: str, given: dict[str, Any]) -> tuple[str | None, dict[str, str]]:
    """Secret `field` as `${env:VAR}`, or typed on stdin (stored under the one naming rule)."""
    env_flag, stdin_flag = _SECRET_FLAGS[field]
    env, stdin = given.get(env_flag), given.get(stdin_flag)
    if env and stdin:
        raise usage(f"Use either {env_flag} or its -stdin twin, not both.", f"Keep {env_flag}.")
    if env:
        return env_reference(env_flag, env), {}
    if stdin:
        return typed_secret(name, field, read_secret(f"{field.replace('_', ' ')} for {name}"))
    return None, {}


def connector_from_flags(name: str, kind: str, **parts: Any) -> Connector:
    """`build_connector`; what it refuses is told in terms of the flags (exit 2)."""
    from pydantic import ValidationError

    from lakegate.authconfig import field_problems
    from lakegate.project import Connector

    try:
        return build_connector(name, **parts)
    except ValidationError as exc:
        problems = field_problems(exc, Connector)
        in_auth = all(problem.under == "auth" for problem in problems)
        raise refusal(problems, _FIELD_FLAGS, f"{kind} auth" if in_auth else "connector") from None
