"""Delta's table DDL on DuckDB: informational keys and comments.

Databricks keeps PRIMARY KEY and FOREIGN KEY constraints as information for tools and the
optimizer: it never enforces them (a duplicate key inserts fine). DuckDB enforces both, so a
CREATE TABLE keeps them out of the DuckDB DDL (a key column stays NOT NULL, as Databricks makes
it) and the engine records them in its own table, `memory.lakegate.uc_constraints` (the engine's
database file, which no statement can name: `memory` is a reserved catalog name). `DESCRIBE
TABLE EXTENDED` lists them under `# Constraints`, where the SQLAlchemy dialect reflects them.
`ALTER TABLE ... ADD CONSTRAINT / DROP CONSTRAINT / DROP PRIMARY KEY / DROP FOREIGN KEY` change
only that record; a DROP takes the keys of what it drops along.

Comments written inline (`col STRING COMMENT '...'`, `CREATE TABLE ... COMMENT '...'`) become
DuckDB's `COMMENT ON`, run in the CREATE's own transaction; `COMMENT ON ... IS NULL` and
`ALTER TABLE t ALTER COLUMN c COMMENT '...'` are translated the same way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import duckdb
from sqlglot import exp

from lakegate.workspace.sql import errors, plan
from lakegate.workspace.sql.access import Access

__all__ = [
    "TABLE", "Change", "Key", "KeyStore", "alter", "comment_null", "create_table", "created_table",
    "describe_rows", "drop_statement", "unset_comment",
]  # fmt: skip

TABLE = f"{plan.RECORDS}.uc_constraints"
_BEFORE = "memory.main.uc_constraints"  # where a workspace made before 2026-12 kept them
_SETUP = (
    f"CREATE TABLE IF NOT EXISTS {TABLE} (catalog VARCHAR, schema VARCHAR, table_name VARCHAR, "
    "name VARCHAR, kind VARCHAR, columns VARCHAR[], parent_catalog VARCHAR, "
    "parent_schema VARCHAR, parent_table VARCHAR, parent_columns VARCHAR[], made DOUBLE)"
)
_IDENT = r"(?:`(?:[^`]|``)+`|[A-Za-z_][A-Za-z0-9_]*)"
_QNAME = rf"{_IDENT}(?:\s*\.\s*{_IDENT})*"
_DROP = re.compile(
    rf"^ALTER\s+TABLE\s+(?P<name>{_QNAME})\s+DROP\s+(?:"
    rf"(?P<pk>PRIMARY\s+KEY)(?:\s+(?P<pk_exists>IF\s+EXISTS))?"
    rf"|FOREIGN\s+KEY(?:\s+(?P<fk_exists>IF\s+EXISTS))?\s*\((?P<fk>[^)]*)\)"
    rf"|CONSTRAINT(?:\s+(?P<exists>IF\s+EXISTS))?\s+(?P<constraint>{_IDENT}))"
    r"(?:\s+(?:CASCADE|RESTRICT))?$",
    re.I | re.S,
)
_COMMENT_NULL = re.compile(
    rf"^COMMENT\s+ON\s+(?P<kind>TABLE|COLUMN)\s+(?P<name>{_QNAME})\s+IS\s+NULL$", re.I | re.S
)


@dataclass(frozen=True)
class Key:
    """One informational key of a table: its name as written, table and column names
    lower-cased (as Unity Catalog keeps them)."""

    name: str
    kind: str  # "PRIMARY KEY" or "FOREIGN KEY"
    columns: tuple[str, ...]
    parent: tuple[str, str, str] | None = None  # a foreign key's parent table
    parent_columns: tuple[str, ...] = ()  # empty: the parent's primary key


@dataclass
class Change:
    """What a statement does to one table's keys. `new_table`: the columns of a table being
    created (its keys are checked against them; any keys it had before go)."""

    table: tuple[str, str, str]
    add: list[Key] = field(default_factory=list)
    drop_name: str | None = None
    drop_kind: str | None = None  # "PRIMARY KEY", or "FOREIGN KEY" with `drop_columns`
    drop_columns: tuple[str, ...] = ()
    if_exists: bool = False
    new_table: tuple[str, ...] | None = None


def create_table(tree: exp.Create, catalog: str, schema: str) -> tuple[Change, list[str]] | None:
    """Take the keys and comments out of a CREATE TABLE (in place): its key change, and the
    `COMMENT ON` statements to run after it (DuckDB's names)."""
    made = created_table(tree)
    if made is None:
        return None
    spec, target = made
    name = plan.resolve(target, catalog, schema)
    change = Change(name, new_table=())
    duck_name = _duck_table(name)
    after: list[str] = []
    columns: list[str] = []
    not_null: set[str] = set()
    for item in list(spec.expressions) if spec is not None else []:
        if isinstance(item, exp.ColumnDef):
            column = item.name
            columns.append(column.lower())
            for constraint in list(item.args.get("constraints") or []):
                kind = constraint.args.get("kind")
                if isinstance(kind, exp.NotNullColumnConstraint):
                    not_null.add(column.lower())
                if isinstance(kind, exp.CommentColumnConstraint):
                    after.append(_comment("COLUMN", f"{duck_name}.{plan.quote(column)}", kind.this))
                    constraint.pop()
                elif isinstance(kind, exp.PrimaryKeyColumnConstraint):
                    change.add.append(Key(_name(constraint), "PRIMARY KEY", (column.lower(),)))
                    constraint.pop()
                elif isinstance(kind, exp.Reference):
                    key = _foreign(constraint, (column.lower(),), kind, catalog, schema)
                    change.add.append(key)
                    constraint.pop()
        elif isinstance(item, exp.Constraint | exp.PrimaryKey | exp.ForeignKey):
            change.add.extend(_table_keys(item, catalog, schema))
            item.pop()
    properties = tree.args.get("properties")
    for prop in list(properties.expressions) if properties is not None else []:
        if isinstance(prop, exp.SchemaCommentProperty):
            after.append(_comment("TABLE", duck_name, prop.this))
            prop.pop()
    change.new_table = tuple(columns)
    primary = {c for k in change.add if k.kind == "PRIMARY KEY" for c in k.columns}
    for column_def in spec.expressions if spec is not None else []:
        lowered = column_def.name.lower()
        if lowered in primary - not_null:  # Databricks: a key column is NOT NULL
            not_null_kind = exp.NotNullColumnConstraint()
            column_def.append("constraints", exp.ColumnConstraint(kind=not_null_kind))
    return change, after


def created_table(tree: exp.Create) -> tuple[exp.Schema | None, exp.Table] | None:
    """A CREATE TABLE's column list (None for CREATE TABLE ... AS) and table name; None for any
    other CREATE."""
    if str(tree.args.get("kind") or "").upper() != "TABLE":
        return None
    spec = tree.this if isinstance(tree.this, exp.Schema) else None
    target = spec.this if spec is not None else tree.this
    return (spec, target) if isinstance(target, exp.Table) else None


def alter(tree: exp.Alter, catalog: str, schema: str) -> tuple[Change | None, list[str]] | None:
    """ALTER TABLE ... ADD CONSTRAINT (a key change and no DuckDB statement) or ALTER COLUMN ...
    COMMENT (a COMMENT ON); None for the other ALTERs."""
    target = tree.this
    actions = tree.args.get("actions") or []
    if not isinstance(target, exp.Table) or not actions:
        return None
    name = plan.resolve(target, catalog, schema)
    if all(isinstance(a, exp.AddConstraint) for a in actions):
        change = Change(name)
        for action in actions:
            for item in action.expressions:
                change.add.extend(_table_keys(item, catalog, schema))
        return change, []
    commented = [a for a in actions if isinstance(a, exp.AlterColumn) and a.args.get("comment")]
    if commented and len(commented) == len(actions):
        duck_name = _duck_table(name)
        return None, [
            _comment("COLUMN", f"{duck_name}.{plan.quote(a.name)}", a.args["comment"])
            for a in commented
        ]
    return None


def drop_statement(text: str, catalog: str, schema: str) -> plan.Plan | None:
    """ALTER TABLE t DROP PRIMARY KEY / FOREIGN KEY (cols) / CONSTRAINT name (sqlglot reads
    none of them): a plan that changes only the key record; its owner's right (MANAGE)."""
    found = _DROP.match(text)
    if found is None:
        return None
    cat, sch, name = plan.qualified(plan.split_name(found["name"]), catalog, schema)
    table = (cat.lower(), sch.lower(), name.lower())
    change = Change(table)
    if found["pk"]:
        change.drop_kind, change.if_exists = "PRIMARY KEY", bool(found["pk_exists"])
    elif found["constraint"]:
        written = found["constraint"]
        change.drop_name = written[1:-1].replace("``", "`") if written[0] == "`" else written
        change.if_exists = bool(found["exists"])
    else:
        change.drop_kind, change.if_exists = "FOREIGN KEY", bool(found["fk_exists"])
        change.drop_columns = tuple(c.lower() for c in plan.split_name(found["fk"]))
    return plan.Plan(
        "", statement_type="ALTER", kind="keys", target=table, keys=change,
        access=(Access("MANAGE", *table),),
    )  # fmt: skip


def comment_null(text: str) -> str | None:
    """`COMMENT ON TABLE|COLUMN x IS NULL` (which sqlglot cannot read) with a string in place of
    NULL, to parse; the caller puts NULL back (`unset_comment`)."""
    found = _COMMENT_NULL.match(text)
    if found is None:
        return None
    return f"COMMENT ON {found['kind']} {found['name']} IS ''"


def unset_comment(tree: exp.Expression) -> exp.Expression:
    if isinstance(tree, exp.Comment):
        tree.set("expression", exp.Null())
    return tree


# -- the engine's record -------------------------------------------------------------------


class KeyStore:
    """The keys of every table, in the engine's own database (see the module's docstring)."""

    def __init__(self, db: duckdb.DuckDBPyConnection) -> None:
        db.execute(f"CREATE SCHEMA IF NOT EXISTS {plan.RECORDS}")
        db.execute(_SETUP)
        moved = db.execute(
            "SELECT 1 FROM duckdb_tables() WHERE database_name = 'memory' "
            "AND schema_name = 'main' AND table_name = 'uc_constraints'"
        ).fetchall()
        if moved:  # out of memory.main, which a query without a schema reads (engine.NOWHERE)
            with plan.transaction(db):
                db.execute(f"INSERT INTO {TABLE} SELECT * FROM {_BEFORE}")
                db.execute(f"DROP TABLE {_BEFORE}")

    def check(self, cursor: duckdb.DuckDBPyConnection, change: Change) -> list[Key]:
        """The keys after `change`, or the SqlError Databricks gives for it. A foreign key's
        parent table and columns must exist (its own table's, for a self-reference)."""
        creating = change.new_table is not None
        columns = change.new_table if creating else _columns(cursor, change.table)
        if columns is None:
            raise errors.table_not_found(_quoted(change.table))
        current = [] if creating else self.keys(cursor, change.table)
        if change.drop_name is not None or change.drop_kind is not None:
            return self._without(current, change)
        result = list(current)
        # A constraint's name is unique in its schema.
        others = cursor.execute(
            f"SELECT name FROM {TABLE} WHERE catalog = $1 AND schema = $2 AND table_name <> $3",
            list(change.table),
        ).fetchall()
        taken = {n.lower() for (n,) in others} | {k.name.lower() for k in current}
        for key in change.add:
            for column in key.columns:
                if column not in columns:
                    raise _no_column(column, columns)
            if key.kind == "PRIMARY KEY":
                existing = next((k for k in result if k.kind == "PRIMARY KEY"), None)
                if existing is not None:
                    raise _already(existing.name, existing)
            if key.kind == "FOREIGN KEY":
                key = self._parent_checked(cursor, change, columns, key, result)
            name = key.name or _generated(change.table[2], key, taken)
            if name.lower() in taken:
                raise _already(name, None)
            taken.add(name.lower())
            result.append(Key(name, key.kind, key.columns, key.parent, key.parent_columns))
        return result

    def _parent_checked(
        self,
        cursor: duckdb.DuckDBPyConnection,
        change: Change,
        columns: tuple[str, ...],
        key: Key,
        result: list[Key],
    ) -> Key:
        """`key` with its parent's columns filled in and checked; `columns`: the changed
        table's own (the parent of a self-reference)."""
        assert key.parent is not None
        parent = key.parent
        parent_columns: tuple[str, ...] | None
        if parent == change.table:
            parent_columns = columns
            parent_keys = result + [k for k in change.add if k.kind == "PRIMARY KEY"]
        else:
            parent_columns = _columns(cursor, parent)
            parent_keys = self.keys(cursor, parent) if parent_columns is not None else []
        if parent_columns is None:
            raise errors.table_not_found(_quoted(parent))
        referenced = key.parent_columns
        if not referenced:
            primary = next((k for k in parent_keys if k.kind == "PRIMARY KEY"), None)
            if primary is None:
                raise plan.SqlError(
                    f"[FOREIGN_KEY_NO_PARENT_KEY] The foreign key references {_quoted(parent)} "
                    "without naming its columns, and that table has no primary key. Name the "
                    "parent's columns: REFERENCES parent (column, ...). SQLSTATE: 42830",
                    sql_state="42830",
                )
            referenced = primary.columns
        for column in referenced:
            if column not in parent_columns:
                raise _no_column(column, parent_columns)
        if len(referenced) != len(key.columns):
            raise plan.SqlError(
                f"[FOREIGN_KEY_MISMATCH] The foreign key names {len(key.columns)} column(s) but "
                f"references {len(referenced)} of {_quoted(parent)}; name as many on each "
                "side. SQLSTATE: 42830",
                sql_state="42830",
            )
        return Key(key.name, key.kind, key.columns, parent, tuple(referenced))

    def _without(self, current: list[Key], change: Change) -> list[Key]:
        if change.drop_name is not None:
            kept = [k for k in current if k.name.lower() != change.drop_name.lower()]
            label = change.drop_name
        elif change.drop_kind == "PRIMARY KEY":
            kept = [k for k in current if k.kind != "PRIMARY KEY"]
            label = "PRIMARY KEY"
        else:
            kept = [
                k for k in current
                if not (k.kind == "FOREIGN KEY" and k.columns == change.drop_columns)
            ]  # fmt: skip
            label = f"FOREIGN KEY ({', '.join(change.drop_columns)})"
        if len(kept) == len(current) and not change.if_exists:
            raise plan.SqlError(
                f"[CONSTRAINT_DOES_NOT_EXIST] Cannot drop nonexistent constraint {label} from "
                f"table {_quoted(change.table)}. SQLSTATE: 42704",
                sql_state="42704",
            )
        return kept

    def keys(self, cursor: duckdb.DuckDBPyConnection, table: tuple[str, str, str]) -> list[Key]:
        rows = cursor.execute(
            f"SELECT name, kind, columns, parent_catalog, parent_schema, parent_table, "
            f"parent_columns FROM {TABLE} WHERE catalog = $1 AND schema = $2 AND table_name = $3 "
            "ORDER BY made",
            list(table),
        ).fetchall()
        return [
            Key(n, k, tuple(c), (pc, ps, pt) if pt else None, tuple(pcols or ()))
            for n, k, c, pc, ps, pt, pcols in rows
        ]

    def save(
        self, cursor: duckdb.DuckDBPyConnection, table: tuple[str, str, str], keys: list[Key]
    ) -> None:
        """Replace the table's keys with `keys` (one transaction of the engine's database)."""
        with plan.transaction(cursor):
            self._delete(cursor, "catalog = $1 AND schema = $2 AND table_name = $3", list(table))
            for position, key in enumerate(keys):
                parent = key.parent or (None, None, None)
                cursor.execute(
                    f"INSERT INTO {TABLE} VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, "
                    "epoch(now()) + $11 / 1e6)",
                    [*table, key.name, key.kind, list(key.columns), *parent,
                     list(key.parent_columns), position],
                )  # fmt: skip

    def rename(self, cursor: duckdb.DuckDBPyConnection, old: tuple, new: tuple) -> None:
        """A renamed table keeps its keys, and the foreign keys that reference it follow."""
        with plan.transaction(cursor):
            cursor.execute(
                f"UPDATE {TABLE} SET catalog = $4, schema = $5, table_name = $6 "
                "WHERE catalog = $1 AND schema = $2 AND table_name = $3",
                [*old, *new],
            )
            cursor.execute(
                f"UPDATE {TABLE} SET parent_catalog = $4, parent_schema = $5, parent_table = $6 "
                "WHERE parent_catalog = $1 AND parent_schema = $2 AND parent_table = $3",
                [*old, *new],
            )

    def forget(self, cursor: duckdb.DuckDBPyConnection, kind: str, full_name: str) -> None:
        """A dropped table, schema or catalog: the keys of every table it held go."""
        held = plan.held_by(kind, full_name)
        if held is not None:
            self._delete(cursor, *held)

    @staticmethod
    def _delete(cursor: duckdb.DuckDBPyConnection, where: str, params: list[Any]) -> None:
        cursor.execute(f"DELETE FROM {TABLE} WHERE {where}", params)


# -- helpers -----------------------------------------------------------------------------------


def _duck_table(name: tuple[str, str, str]) -> str:
    return ".".join(plan.quote(p) for p in (plan.duck_catalog(name[0]), name[1], name[2]))


def _comment(kind: str, target: str, text: exp.Expression) -> str:
    value = text.sql(dialect="duckdb") if isinstance(text, exp.Literal | exp.Null) else "NULL"
    return f"COMMENT ON {kind} {target} IS {value}"


def _name(constraint: exp.Expression) -> str:
    named = constraint.args.get("this")
    return named.name if isinstance(named, exp.Identifier) else ""


def _table_keys(item: exp.Expression, catalog: str, schema: str) -> list[Key]:
    name = _name(item) if isinstance(item, exp.Constraint) else ""
    parts = item.expressions if isinstance(item, exp.Constraint) else [item]
    keys = []
    for part in parts:
        columns = tuple(c.name.lower() for c in part.expressions)
        if isinstance(part, exp.PrimaryKey):
            keys.append(Key(name, "PRIMARY KEY", columns))
        elif isinstance(part, exp.ForeignKey):
            reference = part.args.get("reference")
            keys.append(_foreign(item, columns, reference, catalog, schema, name=name))
        else:
            raise plan.SqlError(
                f"[UNSUPPORTED_FEATURE] {part.sql(dialect='databricks')}: only PRIMARY KEY and "
                "FOREIGN KEY constraints are kept here. SQLSTATE: 0A000",
                sql_state="0A000",
            )
    return keys


def _foreign(
    constraint: exp.Expression,
    columns: tuple[str, ...],
    reference: exp.Expression | None,
    catalog: str,
    schema: str,
    *,
    name: str | None = None,
) -> Key:
    target = reference.this if reference is not None else None
    table = target.this if isinstance(target, exp.Schema) else target
    if not isinstance(table, exp.Table):
        raise plan.SqlError(
            "[PARSE_SYNTAX_ERROR] Syntax error: a foreign key needs REFERENCES parent_table. "
            "SQLSTATE: 42601",
            sql_state="42601",
        )
    parent_columns = tuple(c.name.lower() for c in target.expressions) if isinstance(
        target, exp.Schema) else ()  # fmt: skip
    return Key(
        _name(constraint) if name is None else name,
        "FOREIGN KEY",
        columns,
        plan.resolve(table, catalog, schema),
        parent_columns,
    )


def _columns(
    cursor: duckdb.DuckDBPyConnection, table: tuple[str, str, str]
) -> tuple[str, ...] | None:
    rows = cursor.execute(
        "SELECT lower(column_name) FROM duckdb_columns() WHERE database_name = $1 "
        "AND lower(schema_name) = $2 AND lower(table_name) = $3 ORDER BY column_index",
        [plan.duck_catalog(table[0]), table[1], table[2]],
    ).fetchall()
    return tuple(c for (c,) in rows) or None


def _generated(table: str, key: Key, taken: set[str]) -> str:
    base = f"{table}_pk" if key.kind == "PRIMARY KEY" else f"{table}_{key.parent[2]}_fk"  # type: ignore[index]
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base}_{n}"
    return name


def _quoted(name: tuple[str, ...]) -> str:
    return ".".join(f"`{p}`" for p in name)


def _no_column(column: str, columns: tuple[str, ...]) -> plan.SqlError:
    return errors.column_not_found(column, ", ".join(f'"{c}"' for c in columns))


def _already(name: str, existing: Key | None) -> plan.SqlError:
    shown = f" Existing constraint: {existing.kind} ({', '.join(existing.columns)})." if (
        existing) else ""  # fmt: skip
    return plan.SqlError(
        f"[CONSTRAINT_ALREADY_EXISTS] Constraint '{name}' already exists. Please delete the "
        f"existing constraint first.{shown} SQLSTATE: 42710",
        sql_state="42710",
    )


def describe_rows() -> str:
    """SQL rows (label, value, order) of DESCRIBE TABLE EXTENDED's `# Constraints` section, for
    the table `$catalog`.`$s`.`$t`."""
    quoted = "list_transform({0}, lambda c: '`' || c || '`')"
    text = (
        "CASE kind WHEN 'PRIMARY KEY' THEN 'PRIMARY KEY (' || array_to_string("
        f"{quoted.format('columns')}, ', ') || ')' ELSE 'FOREIGN KEY (' || array_to_string("
        f"{quoted.format('columns')}, ', ') || ') REFERENCES `' || parent_catalog || '`.`' || "
        "parent_schema || '`.`' || parent_table || '` (' || array_to_string("
        f"{quoted.format('parent_columns')}, ', ') || ')' END"
    )
    keys = (
        f"SELECT name, {text} AS value, row_number() OVER (ORDER BY name) AS k FROM {TABLE} "
        "WHERE catalog = lower($catalog) AND schema = lower($s) AND table_name = lower($t)"
    )
    return (
        f"SELECT '', '', '', 200000 FROM ({keys}) HAVING count(*) > 0 "
        f"UNION ALL SELECT '# Constraints', '', '', 200001 FROM ({keys}) HAVING count(*) > 0 "
        f"UNION ALL SELECT name, value, '', 200001 + k FROM ({keys})"
    )
