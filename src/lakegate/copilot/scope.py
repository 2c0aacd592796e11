"""Catalog and schema allow-lists: checked on a call's arguments and inside its SQL text.

SQL is parsed with sqlglot (Databricks dialect); every table must resolve, through its own
qualifier or the call's default catalog/schema, to an allowed catalog and schema.
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp

from lakegate.errors import PolicyError

__all__ = ["check_pair", "check_sql_scope"]


def _schema_allowed(catalog: str | None, schema: str, schemas: list[str]) -> bool:
    for entry in schemas:
        if "." in entry:
            cat, _, sch = entry.rpartition(".")
            same_catalog = catalog is not None and cat.lower() == catalog.lower()
            if same_catalog and sch.lower() == schema.lower():
                return True
        elif entry.lower() == schema.lower():
            return True
    return False


def check_pair(
    catalog: str | None, schema: str | None, catalogs: list[str], schemas: list[str]
) -> None:
    if catalogs and catalog is not None and catalog.lower() not in {c.lower() for c in catalogs}:
        raise PolicyError(
            f"Catalog {catalog} is outside the copilot policy's catalogs.",
            code="policy.scope",
            hint=f"Use one of: {', '.join(catalogs)}.",
        )
    if schemas and schema is not None and not _schema_allowed(catalog, schema, schemas):
        raise PolicyError(
            f"Schema {schema if catalog is None else f'{catalog}.{schema}'} is outside the copilot "
            "policy's schemas.",
            code="policy.scope",
            hint=f"Use one of: {', '.join(schemas)}.",
        )


def check_sql_scope(
    sql: str,
    *,
    catalogs: list[str],
    schemas: list[str],
    default_catalog: str | None = None,
    default_schema: str | None = None,
) -> None:
    """Refuse SQL that names a table outside the allowed catalogs/schemas (or switches scope)."""
    if not catalogs and not schemas:
        return
    try:
        statements = sqlglot.parse(sql, read="databricks")
    except sqlglot.errors.ParseError as exc:
        raise PolicyError(
            "The SQL statement could not be parsed, so its tables cannot be checked against the "
            "copilot policy's catalogs and schemas.",
            code="policy.scope",
            hint="Write a single plain SELECT with fully qualified table names.",
        ) from exc
    for statement in statements:
        if statement is None:
            continue
        if isinstance(statement, exp.Use) or _is_scope_switch(statement):
            raise PolicyError(
                "USE / SET CATALOG / SET SCHEMA cannot change the scope the copilot policy pins.",
                code="policy.scope",
                hint="Qualify table names as catalog.schema.table instead.",
            )
        ctes = {cte.alias_or_name.lower() for cte in statement.find_all(exp.CTE)}
        for table in statement.find_all(exp.Table):
            name = table.name
            if not name or (not table.db and name.lower() in ctes):
                continue
            catalog = table.catalog or default_catalog
            schema = table.db or default_schema
            if catalogs and catalog is None:
                raise PolicyError(
                    f"Table {table.sql(dialect='databricks')} does not name its catalog, and the "
                    "copilot policy only allows some catalogs.",
                    code="policy.scope",
                    hint=f"Qualify it as <catalog>.<schema>.{name} with a catalog in: "
                    f"{', '.join(catalogs)}.",
                )
            if schemas and schema is None:
                raise PolicyError(
                    f"Table {table.sql(dialect='databricks')} does not name its schema, and the "
                    "copilot policy only allows some schemas.",
                    code="policy.scope",
                    hint=f"Qualify it with one of the schemas: {', '.join(schemas)}.",
                )
            check_pair(catalog, schema, catalogs, schemas)


def _is_scope_switch(statement: exp.Expression) -> bool:
    if isinstance(statement, exp.Set | exp.Command):
        text = statement.sql(dialect="databricks").upper()
        return any(word in text for word in ("CATALOG", "SCHEMA", "DATABASE", "USE "))
    return False
