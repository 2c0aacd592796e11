"""Errors in Databricks' words: the error class, Spark's message, backtick-quoted names as the
statement wrote them, and the SQLSTATE (`[TABLE_OR_VIEW_NOT_FOUND] ... SQLSTATE: 42P01`)."""

from __future__ import annotations

import re

from lakegate.workspace.sql import plan


def as_written(duck_name: str, tables: dict[str, str] | None) -> str:
    """A table name from a DuckDB message, as the statement wrote it (Spark-quoted)."""
    parts = [p for p in duck_name.strip('"').split(".") if p]
    written = (tables or {}).get(parts[-1].lower()) if parts else None
    return written or ".".join(f"`{p}`" for p in parts)


def table_exists(name: str) -> plan.SqlError:
    return plan.SqlError(
        f"[TABLE_OR_VIEW_ALREADY_EXISTS] Cannot create table or view {name} because it already "
        "exists. Choose a different name, drop the existing object, add the IF NOT EXISTS "
        "clause to tolerate pre-existing objects, or add the OR REPLACE clause to replace it. "
        "SQLSTATE: 42P07",
        sql_state="42P07",
    )


def routine_not_found(name: str) -> plan.SqlError:
    return plan.SqlError(
        f"[UNRESOLVED_ROUTINE] Cannot resolve routine `{name}` on search path "
        "[`system`.`builtin`, `system`.`session`]. SQLSTATE: 42883",
        sql_state="42883",
    )


def table_not_found(name: str) -> plan.SqlError:
    return plan.SqlError(not_found_message(name), sql_state="42P01")


def column_not_found(name: str, candidates: str) -> plan.SqlError:
    """Spark's UNRESOLVED_COLUMN, from DuckDB's `"a", "b"` candidate list."""
    found = re.findall(r'"([^"]+)"', candidates)
    if not found:
        return plan.SqlError(
            "[UNRESOLVED_COLUMN.WITHOUT_SUGGESTION] A column, variable, or function parameter "
            f"with name `{name}` cannot be resolved. SQLSTATE: 42703",
            sql_state="42703",
        )
    suggested = ", ".join(f"`{c}`" for c in found)
    return plan.SqlError(
        "[UNRESOLVED_COLUMN.WITH_SUGGESTION] A column, variable, or function parameter with "
        f"name `{name}` cannot be resolved. Did you mean one of the following? [{suggested}]. "
        "SQLSTATE: 42703",
        sql_state="42703",
    )


def missing_aggregation(expression: str) -> plan.SqlError:
    """Spark's MISSING_AGGREGATION, for a selected column that is neither grouped nor
    aggregated (DuckDB's words suggest its own ANY_VALUE)."""
    return plan.SqlError(
        f'[MISSING_AGGREGATION] The non-aggregating expression "{expression}" is based on '
        "columns which are not participating in the GROUP BY clause. Add the columns or the "
        "expression to the GROUP BY, aggregate the expression, or use "
        f'"any_value({expression})" if you do not care which of the values within a group is '
        "returned. SQLSTATE: 42803",
        sql_state="42803",
    )


def not_found_message(name: str) -> str:
    return (
        f"[TABLE_OR_VIEW_NOT_FOUND] The table or view {name} cannot be found. Verify the "
        "spelling and correctness of the schema and catalog. If you did not qualify the name "
        "with a schema, verify the current_schema() output, or qualify the name with the "
        "correct schema and catalog. SQLSTATE: 42P01"
    )


def schema_exists(name: str) -> plan.SqlError:
    return plan.SqlError(
        f"[SCHEMA_ALREADY_EXISTS] Cannot create schema `{name}` because it already exists. "
        "Choose a different name, drop the existing schema, or add the IF NOT EXISTS clause to "
        "tolerate pre-existing schema. SQLSTATE: 42P06",
        sql_state="42P06",
    )


def schema_not_empty(name: str) -> plan.SqlError:
    return plan.SqlError(
        f"[SCHEMA_NOT_EMPTY] Cannot drop a schema `{name}` because it contains objects. "
        "Use DROP SCHEMA ... CASCADE to drop the schema and all its objects. SQLSTATE: 2BP01",
        sql_state="2BP01",
    )
