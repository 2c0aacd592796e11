"""Unity Catalog privileges, enforced on every SQL statement before it runs.

A statement's needs come from `sql.access` (every table it reads or writes, resolved as the
warehouse resolves names); they are checked against the grants (`catalog.grants`) of the
principal and of the groups every principal is in (`account users`, `users`):

- reading a table needs `USE CATALOG` on its catalog, `USE SCHEMA` on its schema (granted on the
  schema or the catalog) and `SELECT` (on the table, its schema or its catalog);
- writing needs `MODIFY` the same way; creating a table or view `CREATE TABLE` on the schema,
  a schema `CREATE SCHEMA` on the catalog; dropping, altering, replacing or granting on a
  securable needs `MANAGE` (an owner's right);
- `ALL PRIVILEGES` holds every one of them; workspace admins bypass the check; the `samples`
  catalog is readable by every principal, as on Databricks.

A refusal is Databricks' `INSUFFICIENT_PERMISSIONS` (SQLSTATE 42501), naming the missing
privilege and the securable. Nothing runs when a privilege is missing.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from lakegate.workspace.catalog.descriptions import Descriptions
from lakegate.workspace.catalog.grants import Grants
from lakegate.workspace.http import ApiError
from lakegate.workspace.identity.principals import Principal
from lakegate.workspace.sql.access import Access, Seen
from lakegate.workspace.sql.plan import SqlError

if TYPE_CHECKING:
    from lakegate.workspace.state import WorkspaceState

__all__ = ["EVERYONE", "Privileges", "holders"]

# Groups every principal belongs to: the account's and the workspace's.
EVERYONE = ("account users", "users")
PUBLIC_CATALOGS = frozenset({"samples"})
_READS = frozenset({"SELECT", "USE_CATALOG", "USE_SCHEMA", "BROWSE"})
_WORDS = {
    "USE_CATALOG": "USE CATALOG",
    "USE_SCHEMA": "USE SCHEMA",
    "CREATE_TABLE": "CREATE TABLE",
    "CREATE_SCHEMA": "CREATE SCHEMA",
    "CREATE_CATALOG": "CREATE CATALOG",
}


def holders(principal: Principal) -> set[str]:
    """The names grants may be made to that reach `principal`: its own and its groups'."""
    return {principal.application_id, principal.display_name, *EVERYONE} - {""}


class Privileges:
    """Checks a principal's statements against the Unity Catalog grants."""

    def __init__(self, ws: WorkspaceState) -> None:
        self.ws = ws
        self.grants = Grants(ws)
        self.descriptions = Descriptions(ws.store)

    def dropped(self, kind: str, full_name: str) -> None:
        """A dropped securable's grants and owner go with it (and those of all it held)."""
        self.descriptions.forget(kind, full_name)

    def authorize(self, principal_id: str, needed: Iterable[Any]) -> None:
        """Raise INSUFFICIENT_PERMISSIONS for the first privilege `principal_id` lacks."""
        principal = self.ws.identity.principal(principal_id)
        if principal is None:
            raise SqlError(
                "[INSUFFICIENT_PERMISSIONS] Insufficient privileges: the principal that "
                "submitted this statement no longer exists. SQLSTATE: 42501",
                error_code="PERMISSION_DENIED",
                sql_state="42501",
            )
        if principal.is_admin:
            return
        names = {name.lower() for name in holders(principal)}
        for access in needed:
            self._require(names, access)

    def _require(self, names: set[str], access: Access) -> None:
        if access.catalog in PUBLIC_CATALOGS and access.privilege in _READS:
            return
        if access.privilege == "CREATE_CATALOG":  # a metastore privilege: admins only here
            raise _refused("CREATE_CATALOG", "Metastore", "metastore")
        catalog = self._held(names, "CATALOG", access.catalog)
        if "USE_CATALOG" not in catalog and "ALL_PRIVILEGES" not in catalog:
            raise _refused("USE_CATALOG", "Catalog", access.catalog)
        if access.privilege == "USE_CATALOG":
            return
        if access.privilege == "CREATE_SCHEMA" or access.schema is None:
            if not _has(access.privilege, catalog):
                raise _refused(access.privilege, "Catalog", access.catalog)
            return
        schema_name = f"{access.catalog}.{access.schema}"
        schema = catalog | self._held(names, "SCHEMA", schema_name)
        if "USE_SCHEMA" not in schema and "ALL_PRIVILEGES" not in schema:
            raise _refused("USE_SCHEMA", "Schema", schema_name)
        if access.name is None:
            if not _has(access.privilege, schema):
                raise _refused(access.privilege, "Schema", schema_name)
            return
        table = schema | self._held(names, "TABLE", access.full_name)
        if not _has(access.privilege, table):
            raise _refused(access.privilege, "Table", access.full_name)

    def seen(self, principal_id: str) -> Seen | None:
        """What `principal_id` may see in listings (None: everything, an admin), by the same
        rules as `authorize`: USE CATALOG, then USE SCHEMA, then BROWSE or any privilege."""
        principal = self.ws.identity.principal(principal_id)
        if principal is not None and principal.is_admin:
            return None
        names = {n.lower() for n in holders(principal)} if principal is not None else set()
        held: dict[str, dict[str, set[str]]] = {"catalog": {}, "schema": {}, "table": {}}
        for key, assignments in self.ws.store.all("uc_grant"):
            kind, _, full_name = key.partition(":")
            kind = kind.lower()
            if kind not in held:
                continue
            for holder, privileges in assignments.items():
                if holder.lower() in names:
                    held[kind].setdefault(full_name, set()).update(privileges)
        on_catalog = held["catalog"]

        def uses(privileges: set[str], privilege: str) -> bool:
            return privilege in privileges or "ALL_PRIVILEGES" in privileges

        catalogs = {c for c, p in on_catalog.items() if uses(p, "USE_CATALOG")} | PUBLIC_CATALOGS
        all_schemas = {c for c in catalogs if uses(on_catalog.get(c, set()), "USE_SCHEMA")}
        all_schemas |= PUBLIC_CATALOGS
        schemas, schema_tables = set(), set()
        for name, privileges in held["schema"].items():
            c, _, s = name.partition(".")
            around = on_catalog.get(c, set()) | privileges
            if c in catalogs and (c in all_schemas or uses(around, "USE_SCHEMA")):
                schemas.add((c, s))
                if _has("BROWSE", around):
                    schema_tables.add((c, s))
        all_tables = {c for c in all_schemas if _has("BROWSE", on_catalog.get(c, set()))}
        all_tables |= PUBLIC_CATALOGS
        tables = set()
        for name, privileges in held["table"].items():
            c, s, t = [*name.split("."), "", ""][:3]
            if c in all_schemas or (c, s) in schemas:
                around = on_catalog.get(c, set()) | held["schema"].get(f"{c}.{s}", set())
                if _has("BROWSE", around | privileges):
                    tables.add((c, s, t))
        return Seen(frozenset(catalogs), frozenset(all_schemas), frozenset(schemas),
                    frozenset(all_tables), frozenset(schema_tables), frozenset(tables))  # fmt: skip

    def owner_created(self, principal_id: str, kind: str, full_name: str) -> None:
        """The creator of a table, view, schema or catalog owns it: it is named its owner, and
        holds every privilege on it and MANAGE (drop, alter, grant). Admins need no grant:
        they bypass the check."""
        principal = self.ws.identity.principal(principal_id)
        if principal is None:
            return
        self.descriptions.made(kind, full_name, principal.application_id)
        if principal.is_admin:
            return
        change = {"principal": principal.application_id, "add": ["ALL_PRIVILEGES", "MANAGE"]}
        self.grants.update(kind, full_name, [change])

    def sql_grants(self, principal_id: str, planned: Any) -> list[tuple[str, str, str, str]]:
        """GRANT / REVOKE (already authorized: MANAGE) or SHOW GRANTS on a securable."""
        kind, name = planned.target
        try:
            kind = self.grants.check(kind, name)
            if planned.kind == "show_grants":
                wanted = planned.params.get("principal") or None
                return [
                    (principal, privilege, kind, name)
                    for principal, privileges in self.grants.direct(kind, name).items()
                    if wanted is None or principal.lower() == wanted.lower()
                    for privilege in privileges
                ]
            key = "add" if planned.kind == "grant" else "remove"
            principal = planned.params["principal"]
            self.grants.update(
                kind, name, [{"principal": principal, key: planned.params["privileges"]}]
            )
        except ApiError as exc:
            state = "42704" if exc.status == 404 else "42000"
            error = "[NO_SUCH_OBJECT]" if exc.status == 404 else "[INVALID_PARAMETER_VALUE]"
            raise SqlError(f"{error} {exc.message} SQLSTATE: {state}", sql_state=state) from None
        return []

    def _held(self, names: set[str], kind: str, full_name: str) -> set[str]:
        """What `names` (lower-cased) hold directly on the securable."""
        found: set[str] = set()
        for principal, privileges in self.grants.direct(kind, full_name).items():
            if principal.lower() in names:
                found.update(privileges)
        return found


def _has(privilege: str, held: set[str]) -> bool:
    if privilege == "BROWSE":  # metadata: any privilege on the object shows it
        return bool(held & {"BROWSE", "SELECT", "MODIFY", "ALL_PRIVILEGES", "MANAGE"})
    return privilege in held or "ALL_PRIVILEGES" in held


def _refused(privilege: str, kind: str, name: str) -> SqlError:
    word = _WORDS.get(privilege, privilege)
    return SqlError(
        f"[INSUFFICIENT_PERMISSIONS] Insufficient privileges: User does not have {word} on "
        f"{kind} '{name}'. SQLSTATE: 42501",
        error_code="PERMISSION_DENIED",
        sql_state="42501",
    )
