"""Building a connector, the same way from every front: the CLI's `connector add`, the Studio's
connector form and `lakegate databricks connect`.

One secret-naming rule (a secret typed for field `client_secret` of connector `db` is stored as
`db_client_secret`; a typed `${env:X}` or `${secret:X}` is used as that reference), one reading of
`key=value` pairs (both sides stripped), and one builder that drops unset auth fields and lets
the project models validate the rest (`authconfig.field_problems` reads what they refused).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lakegate.secrets import REFERENCE_PATTERN, is_reference

if TYPE_CHECKING:
    from lakegate.project import Connector, Project

__all__ = [
    "build_connector",
    "orphaned_secrets",
    "parse_pair",
    "secret_destination",
    "secret_name",
    "secret_reference",
    "stored_secrets",
    "typed_secret",
]

_UNSET = (None, "", {}, [])  # a flag not given, a form field left empty


def secret_name(connector: str, field: str) -> str:
    """The secret store name for `field` of `connector` (`field` as the auth model names it)."""
    return f"{connector}_{field}"


def stored_secrets(connector: Connector) -> set[str]:
    """The secret store names `connector`'s auth refers to (`${secret:NAME}`)."""
    found = set()
    for value in connector.auth.model_dump(mode="json").values():
        match = REFERENCE_PATTERN.match(value) if isinstance(value, str) else None
        if match and match.group(1) == "secret":
            found.add(match.group(2))
    return found


def orphaned_secrets(project: Project, removed: Connector) -> list[str]:
    """The stored secrets only `removed` used: what removing it should take along."""
    kept = set().union(
        *(stored_secrets(c) for c in project.connectors.values() if c is not removed)
    )
    return sorted(stored_secrets(removed) - kept)


def secret_reference(connector: str, field: str) -> str:
    """`${secret:NAME}` for the stored value of `field` of `connector`."""
    return f"${{secret:{secret_name(connector, field)}}}"


def typed_secret(connector: str, field: str, value: str) -> tuple[str, dict[str, str]]:
    """(what auth field `field` holds, {store name: value} to store) for a secret someone typed.

    A typed reference (`${env:X}`, `${secret:X}`) is used as it is and nothing is stored."""
    if is_reference(value.strip()):
        return value.strip(), {}
    return secret_reference(connector, field), {secret_name(connector, field): value}


def secret_destination(connector: Connector) -> str:
    """Where the connector sends its secrets: the token URL for OAuth2, else the base URL."""
    token_url = getattr(connector.auth, "token_url", None)
    return str(token_url or connector.base_url)


def parse_pair(text: str, separator: str = "=") -> tuple[str, str] | None:
    """`" a = 1 "` -> `("a", "1")`; None when there is no separator or no key."""
    key, found, value = text.partition(separator)
    if not found or not key.strip():
        return None
    return key.strip(), value.strip()


def build_connector(
    name: str,
    *,
    base_url: str,
    auth: dict[str, Any],
    description: str = "",
    read_only: bool = False,
    defaults: dict[str, Any] | None = None,
    **kept: Any,
) -> Connector:
    """The connector, validated by the models; unset auth fields are left to their defaults.

    Raises pydantic's ValidationError: `authconfig.field_problems(exc, Connector)` reads it field
    by field, and each front names the field in its own terms (a CLI flag, a form field).
    """
    from lakegate.project import Connector  # pydantic: the CLI imports this module at start

    fields = {key: value for key, value in auth.items() if value not in _UNSET}
    return Connector(
        name=name,
        description=description,
        base_url=base_url,
        auth=fields,
        read_only=read_only,
        defaults=dict(defaults or {}),
        **kept,
    )
