"""Catalog and schema allow-lists: checked on a call's arguments, inside its SQL, on listings.

SQL is parsed with sqlglot (Databricks dialect); every table reference (in joins, CTEs,
subqueries and table functions) must resolve, through its own qualifier or the call's default
catalog/schema, to an allowed catalog and schema. Table functions other than pure generators
cannot be checked, so they are refused; SHOW CATALOGS / SCHEMAS / TABLES are narrowed to the scope.
"""

from __future__ import annotations

import re
from typing import Any

import sqlglot
from sqlglot import exp

from lakegate.errors import PolicyError, SqlParseError

__all__ = ["check_pair", "check_sql_scope", "filter_listing", "scope_show"]

# Table functions that only generate rows from their arguments: no table, file or URL behind them.
GENERATORS = {
    "range", "explode", "explode_outer", "posexplode", "posexplode_outer", "inline",
    "inline_outer", "stack", "json_tuple", "variant_explode", "variant_explode_outer", "unnest",
    "generate_series",
}  # fmt: skip
_SHOW = re.compile(
    r"^\s*SHOW\s+(?P<what>CATALOGS|SCHEMAS|DATABASES|TABLES)"
    r"(?:\s+(?:IN|FROM)\s+(?P<target>[`\w.]+))?"
    r"(?:\s+(?:LIKE\s+)?'(?P<pattern>[^']*)')?\s*;?\s*$",
    re.IGNORECASE,
)
# Other SHOW forms that name one object: SHOW COLUMNS IN t, SHOW CREATE TABLE t, SHOW GRANTS ON t.
_SHOW_NAMED = re.compile(
    r"^\s*SHOW\s+(?P<what>[A-Z ]*?)\s*\b(?:IN|FROM|ON TABLE|ON|TABLE|TBLPROPERTIES|PARTITIONS)"
    r"\s+(?P<target>[`\w.]+)",
    re.IGNORECASE,
)


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
    """Refuse SQL that reaches outside the allowed catalogs/schemas (or switches scope)."""
    if not catalogs and not schemas:
        return
    show = _SHOW.match(sql) or _SHOW_NAMED.match(sql)
    if show is not None:
        _check_show(show, catalogs, schemas, default_catalog, default_schema)
        return
    try:
        statements = sqlglot.parse(sql, read="databricks")
    except sqlglot.errors.ParseError as exc:
        found = (exc.errors or [{}])[0]
        line, column, token = found.get("line"), found.get("col"), found.get("highlight")
        raise SqlParseError(
            f"The SQL does not parse at line {line}, column {column} near {token!r}: "
            f"{found.get('description') or 'invalid syntax'}.",
            hint="Fix the SQL there (Databricks SQL syntax), then run it again.",
            details={"line": line, "column": column, "token": token},
        ) from None
    except sqlglot.errors.TokenError as exc:
        raise SqlParseError(f"The SQL does not parse: {str(exc)[:200]}.") from None
    for statement in statements:
        if statement is None:
            continue
        if isinstance(statement, exp.Use) or _is_scope_switch(statement):
            raise PolicyError(
                "USE / SET CATALOG / SET SCHEMA cannot change the scope the copilot policy pins.",
                code="policy.scope",
                hint="Qualify table names as catalog.schema.table instead.",
            )
        if isinstance(statement, exp.Command):
            raise PolicyError(
                f"{statement.name.upper()} statements of this form cannot be checked against "
                "the copilot policy's catalogs and schemas.",
                code="policy.scope",
                hint="Use a SELECT, DESCRIBE, or SHOW CATALOGS / SCHEMAS / TABLES IN <name>.",
            )
        _check_functions(statement)
        ctes = {cte.alias_or_name.lower() for cte in statement.find_all(exp.CTE)}
        for table in statement.find_all(exp.Table):
            if isinstance(table.this, exp.Func):
                continue  # checked by _check_functions; its arguments are walked as well
            name = table.name
            if not name or (not table.db and name.lower() in ctes):
                continue
            _check_table(table, catalogs, schemas, default_catalog, default_schema)


def _check_functions(statement: exp.Expression) -> None:
    for table in statement.find_all(exp.Table):
        func = table.this
        if isinstance(func, exp.Func) and _name(func) not in GENERATORS:
            raise PolicyError(
                f"The table function {_name(func)}() cannot be checked against the copilot "
                "policy's catalogs and schemas.",
                code="policy.scope",
                hint="Query tables by their catalog.schema.table names instead.",
            )
    for func in statement.find_all(exp.Func):
        name = _name(func)
        if name.startswith("read_") or name in ("glob", "parquet_scan", "cloud_files"):
            raise PolicyError(
                f"{name}() reads files or URLs, outside the copilot policy's catalogs.",
                code="policy.scope",
                hint="Query tables by their catalog.schema.table names instead.",
            )


def _check_table(
    table: exp.Table,
    catalogs: list[str],
    schemas: list[str],
    default_catalog: str | None,
    default_schema: str | None,
) -> None:
    name = table.name
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


def _check_show(
    show: re.Match[str],
    catalogs: list[str],
    schemas: list[str],
    default_catalog: str | None,
    default_schema: str | None,
) -> None:
    what = show.group("what").upper()
    parts = [p.strip("`") for p in (show.group("target") or "").split(".") if p]
    if what == "CATALOGS":
        return
    if what in ("SCHEMAS", "DATABASES"):
        catalog = parts[-1] if parts else default_catalog
        if catalog is None and catalogs:
            raise PolicyError(
                "SHOW SCHEMAS without IN <catalog> lists a catalog the policy may not allow.",
                code="policy.scope",
                hint=f"Write SHOW SCHEMAS IN <catalog> with a catalog in: {', '.join(catalogs)}.",
            )
        check_pair(catalog, None, catalogs, schemas)
        return
    if what == "TABLES" and not parts and catalogs and default_catalog is None:
        raise PolicyError(
            "SHOW TABLES without IN <catalog>.<schema> lists a schema the policy may not allow.",
            code="policy.scope",
            hint=f"Write SHOW TABLES IN <catalog>.<schema>; catalogs: {', '.join(catalogs)}.",
        )
    table = exp.to_table(".".join(parts)) if parts else None
    if what == "TABLES" and table is not None:  # IN catalog.schema or IN schema
        table = exp.Table(this=exp.to_identifier("x"), db=table.this, catalog=table.args.get("db"))
    if table is None:
        table = exp.Table(this=exp.to_identifier("x"))
    _check_table(table, catalogs, schemas, default_catalog, default_schema)


def scope_show(
    sql: str, catalogs: list[str], schemas: list[str], *, default_catalog: str | None = None
) -> str:
    """SHOW CATALOGS / SCHEMAS narrowed to the allowed names with a LIKE pattern (`a|b`)."""
    show = _SHOW.match(sql)
    if show is None or not (catalogs or schemas):
        return sql
    what = show.group("what").upper()
    if what == "CATALOGS" and catalogs:
        names = catalogs
    elif what in ("SCHEMAS", "DATABASES") and schemas:
        catalog = (show.group("target") or default_catalog or "").strip("`").lower()
        names = [
            s.rpartition(".")[2]
            for s in schemas
            if "." not in s or s.rpartition(".")[0].lower() == catalog
        ]
    else:
        return sql
    pattern = show.group("pattern")
    if pattern is not None:
        wanted = re.compile(
            "|".join(re.escape(p).replace(r"\*", ".*") for p in pattern.split("|")), re.I
        )
        names = [n for n in names if wanted.fullmatch(n)]
    if not names:
        raise PolicyError(
            f"No {what.lower()} the copilot policy allows match this SHOW.",
            code="policy.scope",
            hint=f"Allowed: {', '.join(catalogs if what == 'CATALOGS' else schemas)}.",
        )
    target = f" IN {show.group('target')}" if show.group("target") else ""
    return f"SHOW {what}{target} LIKE '{'|'.join(names)}'"


def filter_listing(path: str, data: Any, catalogs: list[str], schemas: list[str]) -> Any:
    """A Unity Catalog listing (`/catalogs`, `/schemas`) without what the scope forbids."""
    if path.endswith("/catalogs") and catalogs:
        allowed = {c.lower() for c in catalogs}

        def keep(item: dict[str, Any]) -> bool:
            return str(item.get("name", "")).lower() in allowed

    elif path.endswith("/schemas") and schemas:

        def keep(item: dict[str, Any]) -> bool:
            catalog = item.get("catalog_name") or str(item.get("full_name", "")).partition(".")[0]
            return _schema_allowed(catalog or None, str(item.get("name", "")), schemas)

    else:
        return data
    if isinstance(data, list):
        return [i for i in data if not isinstance(i, dict) or keep(i)]
    if isinstance(data, dict):
        return {
            k: [i for i in v if not isinstance(i, dict) or keep(i)] if isinstance(v, list) else v
            for k, v in data.items()
        }
    return data


def _name(func: exp.Func) -> str:
    name = func.name if isinstance(func, exp.Anonymous) else func.sql_name()
    return str(name).lower()


def _is_scope_switch(statement: exp.Expression) -> bool:
    if isinstance(statement, exp.Set | exp.Command):
        text = statement.sql(dialect="databricks").upper()
        return any(word in text for word in ("CATALOG", "SCHEMA", "DATABASE", "USE "))
    return False
