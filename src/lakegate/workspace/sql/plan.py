"""What the SQL engine runs for a statement (`Plan`), how a statement fails (`SqlError`), and
Unity Catalog names as DuckDB sees them. Shared by the translators (translate, metadata)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

# DuckDB refuses these as ATTACH aliases; Databricks' `main` is the usual default catalog.
RESERVED_CATALOGS = frozenset({"main", "system", "temp", "memory"})
ALIAS_SUFFIX = "__uc"
# The engine's own records (informational keys, Delta logs): a schema of its database file,
# `memory`, which no statement can name (a Unity Catalog `memory` is the alias memory__uc).
RECORDS = "memory.lakegate"
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# A catalog's name: Unity Catalog allows hyphens (`sdk-1733`, quoted in SQL), not dots or spaces.
CATALOG_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,254}$")


class SqlError(Exception):
    """A statement failure: `error_code` from Databricks' ServiceErrorCode, plus SQLSTATE."""

    def __init__(
        self, message: str, *, error_code: str = "BAD_REQUEST", sql_state: str = ""
    ) -> None:
        super().__init__(message)
        self.message = message
        self.error_code = error_code
        self.sql_state = sql_state


@dataclass
class Parameter:
    """One `{name, value, type}` of the request, already validated."""

    name: str
    value: str | None
    type: str | None = None
    # An ARRAY's elements, or a MAP's keys and values in turn (the Thrift protocol's complex
    # parameters; the REST API takes scalar types only).
    items: list[Parameter] | None = None


@dataclass
class Plan:
    """What the engine runs for one statement."""

    sql: str
    params: dict[str, Any] = field(default_factory=dict)
    statement_type: str = "OTHER"
    # "query" runs `sql`; "use" only checks names; "describe" maps DuckDB types afterwards;
    # "create_catalog"/"drop_catalog" attach/detach a database file; "keys" changes only a
    # table's informational keys (delta/keys.py); "table_log" only its Delta log
    # (delta/tablelog.py); "checked" runs `sql` for its errors and answers nothing;
    # "partitions" is SHOW PARTITIONS.
    kind: str = "query"
    target: tuple[str, ...] = ()
    if_exists: bool = False
    cascade: bool = False  # DROP CATALOG ... CASCADE (without it a catalog must be empty)
    rename: dict[str, str] = field(default_factory=dict)
    # Run first, in the same transaction (INSERT OVERWRITE: the DELETE before the INSERT).
    before: tuple[str, ...] = ()
    # Run after it, in the same transaction (a CREATE TABLE's COMMENT ON statements).
    after: tuple[str, ...] = ()
    # A change to a table's informational keys (keys.Change), checked before `sql` runs and
    # recorded after it succeeds.
    keys: Any = None
    # What an INSERT / UPDATE writes (identity.written): checked against ALWAYS identities.
    writes: tuple | None = None
    # (catalog, schema) whose unused identity sequences go after the statement (delta/identity.py).
    sweep: tuple[str, str] | None = None
    # Tables as the statement names them, by last name part (for Spark-style error messages).
    tables: dict[str, str] = field(default_factory=dict)
    # The Unity Catalog privileges it needs (sql.access.Access), checked before it runs.
    access: tuple[Any, ...] = ()
    # What a CREATE makes (securable type, full name): its creator becomes its owner.
    created: tuple[str, str] | None = None
    # What a DROP removes (securable type, full name): its grants go with it.
    dropped: tuple[str, str] | None = None
    # What a SET / RESET changes in the session (key -> value; None: back to the default).
    settings: dict[str, str | None] = field(default_factory=dict)
    # A temporary view the session makes (name, its query) or drops (name, None): temp_views.py.
    view: tuple[str, str | None] | None = None
    # An INSERT's Spark timestamp strings, respelled for DuckDB when `sql` fails to convert one
    # (semantics.TimestampStrings).
    lenient: Any = None
    # What the statement adds to its table's Delta log (delta.Commit), recorded after it ran.
    commit: Any = None
    # ALTER TABLE ... RENAME TO: (old, new) full names; the table's records move along.
    moved: tuple[tuple[str, ...], tuple[str, ...]] | None = None


def duck_catalog(name: str) -> str:
    """The DuckDB database alias of a Unity Catalog catalog."""
    return name + ALIAS_SUFFIX if name.lower() in RESERVED_CATALOGS else name


def uc_catalog(alias: str) -> str:
    return alias.removesuffix(ALIAS_SUFFIX) if alias.endswith(ALIAS_SUFFIX) else alias


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


_IDENT = r"(?:`[^`]+`|[A-Za-z_][A-Za-z0-9_]*)"


def qualified(parts: list[str], catalog: str, schema: str) -> tuple[str, str, str]:
    """A one-, two- or three-part table name in full, in the current catalog and schema."""
    full = [catalog, schema][: max(0, 3 - len(parts))] + parts
    return full[-3], full[-2], full[-1]


def resolve(table: Any, catalog: str, schema: str) -> tuple[str, str, str]:
    """A parsed table name (sqlglot's `exp.Table`) in full and lower case, as Unity Catalog
    keeps it, in the current catalog and schema."""
    return (table.catalog or catalog).lower(), (table.db or schema).lower(), table.name.lower()


def split_name(text: str) -> list[str]:
    """`a.b` or `` `a`.`b` `` as its parts: unquoted ones lower-cased, quoted ones as written."""
    parts = re.findall(_IDENT, text)
    return [p[1:-1] if p.startswith("`") else p.lower() for p in parts]


@contextmanager
def transaction(cursor: Any) -> Iterator[None]:
    """One transaction on a DuckDB cursor: committed when the block ends, rolled back when it
    raises (the engine's records change all or nothing)."""
    cursor.begin()
    try:
        yield
        cursor.commit()
    except BaseException:
        cursor.rollback()
        raise


def held_by(kind: str, full_name: str) -> tuple[str, list[str]] | None:
    """The engine's records of what a dropped `kind` (TABLE, SCHEMA, CATALOG) named `full_name`
    held: a predicate over their catalog, schema, table_name columns, and its parameters."""
    parts = full_name.lower().split(".")
    if (kind == "TABLE" and len(parts) != 3) or not parts:
        return None
    columns = ["catalog", "schema", "table_name"][: len(parts)]
    return " AND ".join(f"{c} = ${i + 1}" for i, c in enumerate(columns)), parts
