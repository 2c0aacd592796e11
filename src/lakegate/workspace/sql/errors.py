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


# -- DuckDB's messages, in Spark's words -------------------------------------------------------

# DuckDB's physical type names in its messages, as Spark names the types.
_SPARK_TYPES = {
    "INT8": "TINYINT", "INT16": "SMALLINT", "INT32": "INT", "INT64": "BIGINT",
    "INT128": "DECIMAL(38,0)", "VARCHAR": "STRING", "STRING_LITERAL": "STRING",
    "INTEGER_LITERAL": "INT", "INTEGER": "INT", "BOOL": "BOOLEAN", "BLOB": "BINARY",
    "TIMESTAMP WITH TIME ZONE": "TIMESTAMP", "TIMESTAMP": "TIMESTAMP_NTZ",
}  # fmt: skip
# Spark's word for an integer type's overflow.
_OVERFLOWING = {"INT8": "byte", "INT16": "short", "INT32": "integer", "INT64": "long"}
_TRY = {"addition": "try_add", "subtraction": "try_subtract", "multiplication": "try_multiply"}
_ANSI_HINT = 'If necessary set "ansi_mode" to "false" to bypass this error.'


def _spark_type(name: str) -> str:
    return _SPARK_TYPES.get(name.upper(), name.upper())


def _ambiguous(found: re.Match[str]) -> plan.SqlError:
    options = ", ".join(
        "`" + "`.`".join(o.split(".")) + "`" for o in re.findall(r"'([^']+)'", found["use"])
    )
    return plan.SqlError(
        f"[AMBIGUOUS_REFERENCE] Reference `{found['name']}` is ambiguous, could be: "
        f"[{options}]. SQLSTATE: 42704",
        sql_state="42704",
    )


def _arity(found: re.Match[str]) -> plan.SqlError:
    columns, values = int(found["columns"]), int(found["values"])
    reason = "not enough data columns" if values < columns else "too many data columns"
    kind = "NOT_ENOUGH_DATA_COLUMNS" if values < columns else "TOO_MANY_DATA_COLUMNS"
    return plan.SqlError(
        f"[INSERT_COLUMN_ARITY_MISMATCH.{kind}] Cannot write to `{found['table']}`, the reason "
        f"is {reason}: the table has {columns} column(s), the data {values}. SQLSTATE: 21S01",
        sql_state="21S01",
    )


def _not_null(found: re.Match[str]) -> plan.SqlError:
    column = found["column"].rsplit(".", 1)[-1]
    return plan.SqlError(
        f"[DELTA_NOT_NULL_CONSTRAINT_VIOLATED] NOT NULL constraint violated for column: "
        f"{column}. SQLSTATE: 23502",
        sql_state="23502",
    )


def _mismatch(found: re.Match[str]) -> plan.SqlError:
    arguments = ", ".join(_spark_type(a.strip()) for a in found["args"].split(",") if a.strip())
    return plan.SqlError(
        f'[DATATYPE_MISMATCH.UNEXPECTED_INPUT_TYPE] Cannot resolve "{found["name"]}'
        f'({arguments})" due to data type mismatch: no form of `{found["name"]}` takes these '
        "argument types; cast the arguments to the types it takes. SQLSTATE: 42K09",
        sql_state="42K09",
    )


def _negative_limit(_: re.Match[str]) -> plan.SqlError:
    return plan.SqlError(
        "[INVALID_LIMIT_LIKE_EXPRESSION.IS_NEGATIVE] The limit like expression is invalid. The "
        "limit expression must be equal to or greater than 0. SQLSTATE: 42K0E",
        sql_state="42K0E",
    )


def _set_columns(_: re.Match[str]) -> plan.SqlError:
    return plan.SqlError(
        "[NUM_COLUMNS_MISMATCH] UNION, INTERSECT and EXCEPT can only be performed on inputs "
        "with the same number of columns. SQLSTATE: 42826",
        sql_state="42826",
    )


def _no_column(found: re.Match[str]) -> plan.SqlError:
    return column_not_found(found["column"], "")


def _column_exists(found: re.Match[str]) -> plan.SqlError:
    return plan.SqlError(
        f"[FIELD_ALREADY_EXISTS] Cannot add column, because `{found['column']}` already exists "
        "in the table. SQLSTATE: 42710",
        sql_state="42710",
    )


def _overflow(found: re.Match[str]) -> plan.SqlError:
    word = _OVERFLOWING.get(found["type"].upper(), found["type"].lower())
    function = _TRY.get(found["operation"], "try_add")
    return plan.SqlError(
        f"[ARITHMETIC_OVERFLOW] {word} overflow. Use '{function}' to tolerate overflow and "
        f"return NULL instead. {_ANSI_HINT} SQLSTATE: 22003",
        sql_state="22003",
    )


def _malformed(found: re.Match[str]) -> plan.SqlError:
    return plan.SqlError(
        f"[CAST_INVALID_INPUT] The value '{found['value']}' of the type \"STRING\" cannot be "
        f'cast to "{_spark_type(found["type"])}" because it is malformed. Correct the value as '
        "per the syntax, or change its target type. Use `try_cast` to tolerate malformed input "
        f"and return NULL instead. {_ANSI_HINT} SQLSTATE: 22018",
        sql_state="22018",
    )


def _cast_overflow(found: re.Match[str]) -> plan.SqlError:
    return plan.SqlError(
        f"[CAST_OVERFLOW] The value {found['value']} of the type "
        f'"{_spark_type(found["source"])}" cannot be cast to "{_spark_type(found["target"])}" '
        "due to an overflow. Use `try_cast` to tolerate overflow and return NULL instead. "
        f"{_ANSI_HINT} SQLSTATE: 22003",
        sql_state="22003",
    )


_REWORDED = [
    (r'Ambiguous reference to column name "(?P<name>[^"]+)" \(use: (?P<use>.+)\)', _ambiguous),
    (r'table "?(?P<table>[^" ]+)"? has (?P<columns>\d+) columns but (?P<values>\d+) values '
     r"were supplied", _arity),
    (r"NOT NULL constraint failed: (?P<column>\S+)", _not_null),
    (r'Could not choose a best candidate function for the function call "(?P<name>[^"(]+)'
     r'\((?P<args>[^)]*)\)"', _mismatch),
    (r"No function matches the given name and argument types '(?P<name>[^'(]+)"
     r"\((?P<args>[^)]*)\)'", _mismatch),
    (r"LIMIT/OFFSET cannot be negative", _negative_limit),
    (r"Set operations can only apply to expressions with the same number of result columns",
     _set_columns),
    (r'Table "[^"]+" does not have a column (?:named|with name) "(?P<column>[^"]+)"', _no_column),
    (r'Column with name "?(?P<column>[^"!]+)"? already exists', _column_exists),
    (r"Overflow in (?P<operation>addition|subtraction|multiplication) of (?P<type>\w+)",
     _overflow),
    (r"Could not convert string '(?P<value>.*)' to (?P<type>[\w ]+?)(?: SQLSTATE|$)", _malformed),
    (r"Type (?P<source>\w+) with value (?P<value>.+?) can't be cast because the value is out of "
     r"range for the destination type (?P<target>\w+)", _cast_overflow),
]  # fmt: skip
_REWORDINGS = [(re.compile(pattern, re.S), build) for pattern, build in _REWORDED]


def reworded(detail: str) -> plan.SqlError | None:
    """A DuckDB message (its first paragraph) in Spark's words, or None for one not known."""
    for pattern, build in _REWORDINGS:
        found = pattern.search(detail)
        if found is not None:
            return build(found)
    return None
