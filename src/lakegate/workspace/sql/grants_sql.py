"""`GRANT`, `REVOKE` and `SHOW GRANTS` in SQL, as Databricks writes them:

    GRANT SELECT, USE SCHEMA ON SCHEMA main.hr TO `alice@example.com`
    REVOKE ALL PRIVILEGES ON TABLE main.hr.pay FROM `account users`
    SHOW GRANTS [`alice@example.com`] ON TABLE main.hr.pay

They become plans of kind `grant` / `revoke` / `show_grants` that the statement service hands to
the grants' owner (the host wires `StatementService.on_grants`): the SQL area keeps no grants.
`SHOW GRANTS` answers Databricks' columns: principal, ActionType, ObjectType, ObjectKey.
"""

from __future__ import annotations

import re

import pyarrow as pa

from lakegate.workspace.sql.access import Access, to_see
from lakegate.workspace.sql.plan import Plan, SqlError, split_name

__all__ = ["COLUMNS", "KINDS", "parse", "privilege_names"]

_IDENT = r"(?:`[^`]+`|[A-Za-z_][A-Za-z0-9_]*)"
_QNAME = rf"{_IDENT}(?:\s*\.\s*{_IDENT})*"
_PRINCIPAL = r"(?:`(?P<{0}q>[^`]+)`|(?P<{0}>[A-Za-z_][A-Za-z0-9_.@-]*))"
_ON = rf"ON\s+(?:(?P<kind>CATALOG|SCHEMA|DATABASE|TABLE|VIEW|FUNCTION)\s+)?(?P<name>{_QNAME})"
_GRANT = re.compile(
    rf"^(?P<verb>GRANT|REVOKE)\s+(?P<privileges>.+?)\s+{_ON}\s+(?:TO|FROM)\s+"
    + _PRINCIPAL.format("principal")
    + r"$",
    re.I | re.S,
)
_SHOW = re.compile(
    r"^SHOW\s+GRANTS?(?:\s+" + _PRINCIPAL.format("who") + rf")?\s+{_ON}$", re.I | re.S
)
KINDS = {"CATALOG": 1, "SCHEMA": 2, "DATABASE": 2, "TABLE": 3, "VIEW": 3, "FUNCTION": 3}
COLUMNS = pa.schema(
    [("principal", pa.string()), ("ActionType", pa.string()), ("ObjectType", pa.string()),
     ("ObjectKey", pa.string())]
)  # fmt: skip


def privilege_names(text: str) -> list[str]:
    """`SELECT, use schema, ALL PRIVILEGES` -> ["SELECT", "USE_SCHEMA", "ALL_PRIVILEGES"]."""
    return ["_".join(p.upper().split()) for p in text.split(",") if p.strip()]


def parse(text: str, catalog: str, schema: str) -> Plan | None:
    """The plan of a GRANT / REVOKE / SHOW GRANTS statement, or None for other SQL."""
    found = _GRANT.match(text) or _SHOW.match(text)
    if found is None:
        return None
    groups = found.groupdict()
    kind = (groups.get("kind") or "TABLE").upper().replace("DATABASE", "SCHEMA")
    parts = split_name(groups["name"])
    size = KINDS[kind]
    if len(parts) > size:
        raise SqlError(
            f"[INVALID_IDENTIFIER] {groups['name']} is not a {kind.lower()} name. SQLSTATE: 42602",
            sql_state="42602",
        )
    full = ([catalog, schema][: size - len(parts)] + parts) if size > 1 else parts
    target = (kind, ".".join(full))
    if groups.get("verb"):
        verb = groups["verb"].lower()
        principal = groups.get("principalq") or groups.get("principal") or ""
        params = {"privileges": privilege_names(groups["privileges"]), "principal": principal}
        needed = (Access("MANAGE", *full),)
        return Plan("", params, verb.upper(), kind=verb, target=target, access=needed)
    who = groups.get("whoq") or groups.get("who") or ""
    seeing = to_see(full)
    return Plan("", {"principal": who}, "SHOW", kind="show_grants", target=target,
                access=(seeing,) if seeing else ())  # fmt: skip
