"""How far a copilot's Databricks principal reaches: a workspace admin, or able to write where
the copilot is pinned. `doctor` and `serve` warn about both: a copilot should act as a principal
that may read its pinned scope and use its warehouse, nothing more.

    reach = await principal_reach(gateway, connector, [("catalog", "main"), ("schema", "main.hr")])
    for line in reach.warnings(): ...
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from lakegate.auth import ME_PATH

__all__ = [
    "WRITE_PRIVILEGES",
    "Reach",
    "copilot_warnings",
    "pinned_securables",
    "principal_reach",
]

# Unity Catalog privileges that change data or make objects: a read-only copilot needs none.
WRITE_PRIVILEGES = frozenset(
    {
        "ALL_PRIVILEGES",
        "MANAGE",
        "MODIFY",
        "CREATE_CATALOG",
        "CREATE_SCHEMA",
        "CREATE_TABLE",
        "CREATE_VOLUME",
        "CREATE_FUNCTION",
        "CREATE_MATERIALIZED_VIEW",
        "WRITE_VOLUME",
    }
)
log = logging.getLogger("lakegate.databricks.privilege")
_EFFECTIVE = "/api/2.1/unity-catalog/effective-permissions"


@dataclass
class Reach:
    """Who the principal is and what of concern it may do."""

    principal: str = ""
    admin: bool = False
    writes: list[str] = field(default_factory=list)  # "MODIFY on schema main.hr"

    def warnings(self) -> list[str]:
        found = []
        if self.admin:
            found.append(
                f"the copilot's principal {self.principal} is a workspace admin: it reads and "
                "changes everything, whatever Unity Catalog grants anyone else"
            )
        if self.writes:
            found.append(
                f"the copilot's principal {self.principal} can write where the copilot is "
                f"pinned: {', '.join(self.writes)}"
            )
        return found


def pinned_securables(catalogs: list[str], schemas: list[str]) -> list[tuple[str, str]]:
    """The pinned scope as Unity Catalog securables (a bare schema name has no catalog: left
    out)."""
    found = [("catalog", c) for c in catalogs]
    found += [("schema", s) for s in schemas if "." in s]
    return found


async def principal_reach(gw: Any, connector: Any, securables: list[tuple[str, str]]) -> Reach:
    """current_user.me() and the principal's effective privileges on `securables`."""
    me = await gw.request(connector, "GET", ME_PATH, timeout_s=10)
    body = me.json_object() if me.is_success else {}
    reach = Reach(principal=str(body.get("userName") or "?"))
    groups = body.get("groups") or []
    reach.admin = any(isinstance(g, dict) and g.get("display") == "admins" for g in groups)
    for kind, name in securables:
        answer = await gw.request(
            connector, "GET", f"{_EFFECTIVE}/{kind}/{quote(name)}",
            params={"principal": reach.principal}, timeout_s=10,
        )  # fmt: skip
        if not answer.is_success:
            continue  # not visible to it, or not a Unity Catalog workspace: nothing to report
        for assignment in answer.json_object().get("privilege_assignments") or []:
            for held in assignment.get("privileges") or []:
                privilege = held.get("privilege") if isinstance(held, dict) else held
                if privilege in WRITE_PRIVILEGES:
                    reach.writes.append(f"{privilege} on {kind} {name}")
    reach.writes = sorted(set(reach.writes))
    return reach


async def copilot_warnings(gateway: Any, connectors: list[Any], pinned: Any) -> list[str]:
    """What `serve` warns about the copilot's Databricks principals, each connector asked once
    (at most 5 s each; a connector that cannot say is left out: `doctor` tells why)."""
    import asyncio

    securables = pinned_securables(list(pinned.catalogs), list(pinned.schemas))
    found: list[str] = []
    for connector in connectors:
        auth = connector.auth
        token_url = str(getattr(auth, "token_url", "") or "")
        if getattr(auth, "grant_type", "") == "token_exchange" or not token_url.rstrip(
            "/"
        ).endswith("/oidc/v1/token"):
            continue  # each person as themself, or not a Databricks workspace
        try:
            reach = await asyncio.wait_for(principal_reach(gateway, connector, securables), 5)
        except Exception as exc:  # a warning must never stop the server
            log.debug("could not check connector %s's principal: %r", connector.name, exc)
            continue
        found += [f"connector {connector.name}: {w}" for w in reach.warnings()]
    return found
