"""Delta's identity columns on DuckDB.

`col BIGINT GENERATED { ALWAYS | BY DEFAULT } AS IDENTITY [(START WITH s INCREMENT BY i)]`
becomes a DuckDB sequence in the table's schema, made in the CREATE's own transaction, and the
column's `DEFAULT nextval(...)`. The sequence's name says which kind it serves
(`__identity_always_...` / `__identity_default_...`), so the engine can refuse what Databricks
refuses: a value written into an ALWAYS column (an INSERT naming it, or filling every column
by position; an UPDATE setting it). Databricks takes identity on BIGINT columns only, and no
step of 0. A sequence no column uses any more (its table dropped or replaced) is swept away
after the statement, so a schema holding nothing else stays droppable.
"""

from __future__ import annotations

import uuid

import duckdb
from sqlglot import exp

from lakegate.workspace.sql import plan

__all__ = ["PREFIX", "create_table", "refuse_always", "sweep", "written"]

PREFIX = "__identity_"


def create_table(tree: exp.Create, catalog: str, schema: str) -> list[str]:
    """Replace each identity clause of a CREATE TABLE (in place) with the DEFAULT of a new
    sequence; the CREATE SEQUENCE statements to run first."""
    spec = tree.this if isinstance(tree.this, exp.Schema) else None
    if spec is None or not isinstance(spec.this, exp.Table):
        return []
    target = spec.this
    cat, sch = plan.duck_catalog(target.catalog or catalog), target.db or schema
    before = []
    for column in spec.expressions:
        if not isinstance(column, exp.ColumnDef):
            continue
        for constraint in column.args.get("constraints") or []:
            identity = constraint.args.get("kind")
            if not isinstance(identity, exp.GeneratedAsIdentityColumnConstraint):
                continue
            if identity.args.get("expression") is not None:  # GENERATED ALWAYS AS (expr)
                continue
            kind = column.args.get("kind")
            if not isinstance(kind, exp.DataType) or kind.this != exp.DataType.Type.BIGINT:
                spelled = kind.sql(dialect="databricks") if kind is not None else "no type"
                raise plan.SqlError(
                    f"[DELTA_IDENTITY_COLUMNS_UNSUPPORTED_DATA_TYPE] DataType {spelled} is not "
                    f"supported for IDENTITY columns (column {column.name}); declare it BIGINT. "
                    "SQLSTATE: 428H2",
                    sql_state="428H2",
                )
            start, step = _number(identity, "start", 1), _number(identity, "increment", 1)
            if step == 0:
                raise plan.SqlError(
                    "[DELTA_IDENTITY_COLUMNS_ILLEGAL_STEP] IDENTITY column step cannot be 0. "
                    "SQLSTATE: 42611",
                    sql_state="42611",
                )
            always = "always" if identity.this else "default"
            name = f"{PREFIX}{always}_{target.name}_{column.name}_{uuid.uuid4().hex[:8]}"
            full = ".".join(plan.quote(p) for p in (cat, sch, name))
            before.append(f"CREATE SEQUENCE {full} START WITH {start} INCREMENT BY {step}")
            default = exp.func("nextval", exp.Literal.string(full))
            constraint.set("kind", exp.DefaultColumnConstraint(this=default))
    return before


def written(tree: exp.Expression, catalog: str, schema: str) -> tuple | None:
    """What an INSERT or UPDATE writes: ((catalog, schema, table), the columns it names (None:
    an INSERT that fills every column by position), whether it updates)."""
    if isinstance(tree, exp.Insert):
        target = tree.this
        columns: list[str] | None = None
        if isinstance(target, exp.Schema):
            columns = [c.name for c in target.expressions]
            target = target.this
    elif isinstance(tree, exp.Update):
        target = tree.this
        columns = [e.this.name for e in tree.expressions if isinstance(e, exp.EQ)]
    else:
        return None
    if not isinstance(target, exp.Table):
        return None
    table = (target.catalog or catalog, target.db or schema, target.name)
    named = tuple(c.lower() for c in columns) if columns is not None else None
    return table, named, isinstance(tree, exp.Update)


def refuse_always(cursor: duckdb.DuckDBPyConnection, writes: tuple) -> None:
    """Databricks' error when a statement writes into a GENERATED ALWAYS identity column."""
    (cat, sch, table), columns, updating = writes
    # The one table's columns (pragma_table_info), not every catalog's (duckdb_columns(),
    # 4.5 times slower with 200 tables): this runs before every INSERT and UPDATE.
    name = ".".join(plan.quote(p) for p in (plan.duck_catalog(cat), sch, table))
    always = [
        column
        for (column,) in cursor.execute(
            "SELECT name FROM pragma_table_info($1) WHERE dflt_value LIKE $2",
            [name, f"nextval(%{PREFIX}always_%"],
        ).fetchall()
    ]
    hit = [c for c in always if columns is None or c.lower() in columns]
    if not hit:
        return
    if updating:
        raise plan.SqlError(
            f"[DELTA_IDENTITY_COLUMNS_UPDATE_NOT_SUPPORTED] IDENTITY column {hit[0]} cannot be "
            "updated. SQLSTATE: 42808",
            sql_state="42808",
        )
    raise plan.SqlError(
        "[DELTA_IDENTITY_COLUMNS_EXPLICIT_INSERT_NOT_SUPPORTED] Providing values for GENERATED "
        f"ALWAYS AS IDENTITY column {hit[0]} is not supported; name the other columns in the "
        "INSERT (INSERT INTO t (a, b) VALUES ...). SQLSTATE: 42808",
        sql_state="42808",
    )


def sweep(cursor: duckdb.DuckDBPyConnection, catalog: str, schema: str) -> None:
    """Drop the identity sequences of `catalog`.`schema` that no column uses any more."""
    cat = plan.duck_catalog(catalog)
    orphans = cursor.execute(
        "SELECT sequence_name FROM duckdb_sequences() s WHERE database_name = $1 "
        "AND lower(schema_name) = lower($2) AND starts_with(sequence_name, $3) AND NOT EXISTS "
        "(SELECT 1 FROM duckdb_columns() c WHERE c.database_name = s.database_name "
        "AND contains(c.column_default, s.sequence_name))",
        [cat, schema, PREFIX],
    ).fetchall()
    for (name,) in orphans:
        cursor.execute(
            f"DROP SEQUENCE IF EXISTS {'.'.join(plan.quote(p) for p in (cat, schema, name))}"
        )


def _number(identity: exp.Expression, key: str, default: int) -> int:
    value = identity.args.get(key)
    if value is None:
        return default
    text = value.sql(dialect="duckdb")
    try:
        return int(text)
    except ValueError:
        raise plan.SqlError(
            f"[PARSE_SYNTAX_ERROR] Syntax error: IDENTITY {key.upper()} must be an integer, got "
            f"{text}. SQLSTATE: 42601",
            sql_state="42601",
        ) from None
