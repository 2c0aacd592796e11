"""What DuckDB has and Databricks does not: refused as Databricks would answer it.

The warehouse runs on DuckDB, but a caller speaks Databricks SQL: DuckDB's catalog functions and
views (`duckdb_tables()`, `sqlite_master`, `pg_tables`, `pragma_database_list`) would list every
catalog and the host's paths past Unity Catalog, `query()` / `query_table()` run SQL text no
check has read, and `PRAGMA` / `CALL` / `CHECKPOINT` / `ATTACH` change the engine. None of them
exists on Databricks, so here they do not exist either: an unknown routine, an unknown table, a
syntax error. The workspace's own metadata SQL uses them; it is never read by this module.
"""

from __future__ import annotations

import re

import sqlglot
from sqlglot import exp

from lakegate.workspace.sql import errors
from lakegate.workspace.sql.plan import SqlError

__all__ = ["check_command", "check_statement", "check_tree"]

# DuckDB functions by prefix: catalog listings, pragmas, and its file readers.
_PREFIXES = ("duckdb_", "pragma_", "sqlite_", "pg_", "read_", "parquet_", "iceberg_", "delta_")
_FUNCTIONS = frozenset(
    {
        "query", "query_table", "checkpoint", "force_checkpoint", "current_setting",
        "glob", "sniff_csv", "csv_scan", "json_scan", "which_secret", "test_all_types",
        "test_vector_types", "getvariable", "summary", "load_aws_credentials", "enable_profiling",
        "disable_profiling", "has_table_privilege", "has_schema_privilege",
        "has_database_privilege", "has_any_column_privilege", "has_column_privilege",
        "has_function_privilege",
        "current_schemas", "txid_current", "icu_calendar_names", "repeat_row",
    }
)  # fmt: skip
# DuckDB's catalog views by exact name and prefix (only when no Databricks schema qualifies them).
_VIEWS = frozenset({"sqlite_master", "sqlite_schema", "sqlite_temp_master", "sqlite_temp_schema"})
_VIEW_PREFIXES = ("duckdb_", "pragma_", "pg_")
_ENGINE_SCHEMAS = frozenset({"pg_catalog"})
# What a statement parses as: a bare word (CHECKPOINT, FORCE CHECKPOINT, DETACH x, SUMMARIZE t)
# parses as a column or an alias, which DuckDB would run as its own statement.
_STATEMENT_NAMES = (
    "Query DML DDL Values Drop Alter TruncateTable Describe Set Use Grant Revoke Analyze Cache "
    "Uncache Refresh Comment Merge Command Transaction Commit Rollback"
)
_STATEMENTS: tuple[type[exp.Expression], ...] = tuple(
    getattr(exp, name) for name in _STATEMENT_NAMES.split() if hasattr(exp, name)
)
# Statements that reach DuckDB as text: only EXPLAIN (which runs nothing; ANALYZE would).
_COMMAND = re.compile(r"^\s*(?P<word>[A-Za-z_]+)(?:\s+(?P<next>[A-Za-z_]+))?")


def check_statement(tree: exp.Expression, text: str) -> None:
    """Refuse what is not a Databricks statement (PRAGMA, a bare word), then check the tree."""
    if not isinstance(tree, _STATEMENTS) or isinstance(tree, exp.Pragma):
        word = (text.split() or ["(empty)"])[0].upper()
        raise SqlError(
            f"[PARSE_SYNTAX_ERROR] Syntax error at or near '{word}'. SQLSTATE: 42601",
            sql_state="42601",
        )
    if isinstance(tree, exp.Insert | exp.Update | exp.Delete) and tree.args.get("returning"):
        # DuckDB (and PostgreSQL) answer RETURNING; Databricks SQL has no such clause.
        raise SqlError(
            "[PARSE_SYNTAX_ERROR] Syntax error at or near 'RETURNING'. SQLSTATE: 42601",
            sql_state="42601",
        )
    check_tree(tree)


def check_tree(tree: exp.Expression) -> None:
    """Refuse a DuckDB-only function or catalog view anywhere in a parsed statement."""
    for node in tree.walk():
        if isinstance(node, exp.Func):
            name = _function_name(node)
            if name in _FUNCTIONS or name.startswith(_PREFIXES):
                raise errors.routine_not_found(name)
        elif isinstance(node, exp.Table) and _engine_view(node):
            raise errors.table_not_found(".".join(f"`{p.name}`" for p in node.parts))


def check_command(text: str) -> None:
    """A statement sqlglot reads only as a command is run as text: only EXPLAIN may be."""
    found = _COMMAND.match(text)
    word = (found.group("word") if found else text.strip()[:20]).upper()
    following = (found.group("next") or "").upper() if found else ""
    if word == "EXPLAIN" and following != "ANALYZE":
        explained = text.strip()[len("EXPLAIN") :].strip()
        mode = following if following in ("EXTENDED", "CODEGEN", "COST", "FORMATTED") else ""
        try:
            trees = sqlglot.parse(explained[len(mode) :], read="databricks")
        except sqlglot.errors.SqlglotError:
            return  # DuckDB says what is wrong with it; EXPLAIN runs nothing
        for tree in trees:
            if tree is not None:
                check_tree(tree)
        return
    at = following if word == "EXPLAIN" else word
    shown = (text.strip().splitlines() or [""])[0]
    raise SqlError(
        f"[PARSE_SYNTAX_ERROR] Syntax error at or near '{at}'. SQLSTATE: 42601\n\n"
        f"== SQL ==\n{shown}",
        sql_state="42601",
    )


def _engine_view(table: exp.Table) -> bool:
    """A name DuckDB would resolve to one of its own catalog views. A three-part name is a Unity
    Catalog table (its catalog maps to a database of its own); a shorter one may reach DuckDB's
    `system` database (`system.duckdb_tables` is catalog system, schema main)."""
    if table.catalog or not isinstance(table.this, exp.Identifier):
        return False
    name = table.name.lower()
    if table.db.lower() in _ENGINE_SCHEMAS:
        return True
    return name in _VIEWS or name.startswith(_VIEW_PREFIXES)


def _function_name(node: exp.Func) -> str:
    name = node.name if isinstance(node, exp.Anonymous) else node.sql_name()
    return str(name).lower()
