"""What a statement touches in Unity Catalog, and the privilege each touch needs.

Names resolve as the warehouse resolves them: a one-part name lies in the statement's current
catalog and schema, a two-part name is schema.table in the current catalog, and a name is a CTE
only where sqlglot's scope analysis says that CTE is visible (case-insensitive, as Databricks).
A reference no scope accounts for is a table: stricter, never looser. The privileges are
checked by whoever holds the grants (the host wires `StatementService.authorize`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.optimizer.scope import traverse_scope

__all__ = ["Access", "Seeing", "Seen", "accesses", "created", "to_see"]

_WRITES = (exp.Insert, exp.Update, exp.Delete, exp.Merge)
# Statements only a securable's owner (or a holder of MANAGE) may run.
_OWNER_ONLY = tuple(
    getattr(exp, name)
    for name in ("Drop", "Alter", "TruncateTable", "Comment", "Grant", "Revoke", "Analyze")
    if hasattr(exp, name)
)


@dataclass(frozen=True)
class Seen:
    """What one principal may see in a listing (lower-case names): catalogs it may use, schemas
    it may use (every one of `all_schemas` catalogs, or named), tables it may browse (every one
    of `all_tables` catalogs, of `schema_tables` schemas, or named). The host builds it from the
    grants; metadata plans turn it into a predicate (`where`)."""

    catalogs: frozenset[str] = frozenset()
    all_schemas: frozenset[str] = frozenset()
    schemas: frozenset[tuple[str, str]] = frozenset()
    all_tables: frozenset[str] = frozenset()
    schema_tables: frozenset[tuple[str, str]] = frozenset()
    tables: frozenset[tuple[str, str, str]] = frozenset()

    def where(self, catalog: str, schema: str | None = None, table: str | None = None) -> str:
        """A DuckDB predicate over SQL expressions naming an object's catalog (its Unity Catalog
        name), schema and table: true for what this principal may see."""
        cat = f"lower({catalog})"
        if schema is None:
            return _any(f"{cat} = {_lit(c)}" for c in sorted(self.catalogs))
        sch = f"lower({schema})"
        if table is None:
            return _any([
                *(f"{cat} = {_lit(c)}" for c in sorted(self.all_schemas)),
                *(f"({cat} = {_lit(c)} AND {sch} = {_lit(s)})" for c, s in sorted(self.schemas)),
            ])  # fmt: skip
        tab = f"lower({table})"
        return _any([
            *(f"{cat} = {_lit(c)}" for c in sorted(self.all_tables)),
            *(f"({cat} = {_lit(c)} AND {sch} = {_lit(s)})" for c, s in sorted(self.schema_tables)),
            *(f"({cat} = {_lit(c)} AND {sch} = {_lit(s)} AND {tab} = {_lit(t)})"
              for c, s, t in sorted(self.tables)),
        ])  # fmt: skip


# What a statement's caller may see, asked only by the statements that list (None: no limit).
Seeing = Callable[[], Seen | None] | None


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _any(clauses: object) -> str:
    found = list(clauses)  # type: ignore[call-overload]
    return "(" + " OR ".join(found) + ")" if found else "FALSE"


@dataclass(frozen=True)
class Access:
    """One privilege a statement needs: SELECT / MODIFY on a table, CREATE_TABLE on a schema,
    CREATE_SCHEMA on a catalog, MANAGE (ownership) on any, USE_CATALOG alone on a catalog."""

    privilege: str
    catalog: str
    schema: str | None = None
    name: str | None = None

    @property
    def securable(self) -> str:
        if self.name is not None:
            return "TABLE"
        return "SCHEMA" if self.schema is not None else "CATALOG"

    @property
    def full_name(self) -> str:
        return ".".join(p for p in (self.catalog, self.schema, self.name) if p is not None)


def accesses(tree: exp.Expression, catalog: str, schema: str) -> tuple[Access, ...]:
    """Every privilege `tree` needs, with `catalog`.`schema` as its current namespace."""
    found: list[Access] = []
    targets: set[int] = set()
    if isinstance(tree, _WRITES):
        target = _target_table(tree)
        if target is not None:
            targets.add(id(target))
            found.append(_on_table("MODIFY", target, catalog, schema))
            if not isinstance(tree, exp.Insert):  # UPDATE/DELETE/MERGE read the table too
                found.append(_on_table("SELECT", target, catalog, schema))
    elif isinstance(tree, exp.Create):
        found.extend(_create(tree, catalog, schema, targets))
    elif isinstance(tree, _OWNER_ONLY):
        target = tree.find(exp.Table)
        if target is not None:
            targets.add(id(target))
            found.append(_owned(tree, target, catalog, schema))
    for table in _real_tables(tree):
        if id(table) in targets:
            continue
        if table.db.lower() == "information_schema":
            # A catalog's own needs USE CATALOG; system's spans every catalog, open to all
            # (both show only what the caller may see).
            if (table.catalog or catalog).lower() != "system":
                found.append(Access("USE_CATALOG", table.catalog or catalog))
            continue
        found.append(_on_table("SELECT", table, catalog, schema))
    return tuple(dict.fromkeys(found))


def to_see(parts: tuple[str, ...] | list[str]) -> Access | None:
    """What seeing an object's metadata needs, by its name: a table's BROWSE (or any privilege
    on it), a schema's USE SCHEMA, a catalog's USE CATALOG."""
    names = tuple(p.lower() for p in parts)
    if len(names) == 3:
        return Access("BROWSE", *names)
    if len(names) == 2:
        return Access("USE_SCHEMA", *names)
    return Access("USE_CATALOG", names[0]) if len(names) == 1 else None


def created(tree: exp.Expression, catalog: str, schema: str) -> tuple[str, str] | None:
    """(securable type, full name) of what a CREATE statement makes: its creator owns it."""
    if not isinstance(tree, exp.Create):
        return None
    kind = str(tree.args.get("kind") or "").upper()
    target = tree.this.this if isinstance(tree.this, exp.Schema) else tree.this
    if not isinstance(target, exp.Table):
        return None
    return _securable(kind, target, catalog, schema)


def _securable(kind: str, target: exp.Table, catalog: str, schema: str) -> tuple[str, str] | None:
    """(securable type, full name) of the schema, table or view a DDL statement names."""
    if kind in ("SCHEMA", "DATABASE"):
        return "SCHEMA", ".".join(_schema_name(target, catalog))
    if kind in ("TABLE", "VIEW"):
        return "TABLE", _on_table("OWN", target, catalog, schema).full_name
    return None


def _schema_name(target: exp.Table, catalog: str) -> tuple[str, str]:
    """(catalog, schema) of a schema named in CREATE / DROP / ALTER SCHEMA: sqlglot reads
    `cat.s` as a table without a name (db `s`, catalog `cat`)."""
    if target.name:  # an older sqlglot: the schema as the table's name
        return (target.db or catalog).lower(), target.name.lower()
    return (target.catalog or catalog).lower(), target.db.lower()


def dropped(tree: exp.Expression, catalog: str, schema: str) -> tuple[str, str] | None:
    """(securable type, full name) of what a DROP statement removes: its grants and what Unity
    Catalog kept about it go with it."""
    if not isinstance(tree, exp.Drop):
        return None
    target = tree.find(exp.Table)
    if target is None:
        return None
    return _securable(str(tree.args.get("kind") or "").upper(), target, catalog, schema)


def _create(tree: exp.Create, catalog: str, schema: str, targets: set[int]) -> list[Access]:
    kind = str(tree.args.get("kind") or "").upper()
    target = tree.this.this if isinstance(tree.this, exp.Schema) else tree.this
    if not isinstance(target, exp.Table):
        return []
    targets.add(id(target))
    if kind in ("SCHEMA", "DATABASE"):  # CREATE SCHEMA [catalog.]schema
        return [Access("CREATE_SCHEMA", _schema_name(target, catalog)[0])]
    resolved = _on_table("CREATE_TABLE", target, catalog, schema)
    needed = [Access("CREATE_TABLE", resolved.catalog, resolved.schema)]
    if tree.args.get("replace"):
        needed.append(Access("MANAGE", resolved.catalog, resolved.schema, resolved.name))
    return needed


def _owned(tree: exp.Expression, target: exp.Table, catalog: str, schema: str) -> Access:
    kind = str(tree.args.get("kind") or "").upper()
    if kind in ("SCHEMA", "DATABASE"):
        return Access("MANAGE", *_schema_name(target, catalog))
    if kind == "CATALOG":
        return Access("MANAGE", target.name)
    return _on_table("MANAGE", target, catalog, schema)


def _on_table(privilege: str, table: exp.Table, catalog: str, schema: str) -> Access:
    return Access(
        privilege,
        (table.catalog or catalog).lower(),
        (table.db or schema).lower(),
        table.name.lower(),
    )


def _target_table(tree: exp.Expression) -> exp.Table | None:
    target = tree.this
    if isinstance(target, exp.Schema):
        target = target.this
    return target if isinstance(target, exp.Table) else None


def _real_tables(tree: exp.Expression) -> list[exp.Table]:
    cte_references: set[int] = set()
    try:
        scopes = traverse_scope(tree)
    except sqlglot.errors.SqlglotError:
        scopes = []
    for scope in scopes:
        visible = {name.lower() for name in scope.cte_sources}
        for table in scope.tables:
            if not table.args.get("db") and table.name.lower() in visible:
                cte_references.add(id(table))
    return [
        table
        for table in tree.find_all(exp.Table)
        if isinstance(table.this, exp.Identifier) and table.name and id(table) not in cte_references
    ]
