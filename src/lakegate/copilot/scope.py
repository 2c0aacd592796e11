"""Catalog and schema allow-lists: checked on a call's arguments, inside its SQL, on listings.

SQL is parsed with sqlglot (Databricks dialect) and its scope analysis: a name is a CTE only
where that CTE is visible; every other table reference (joins, subqueries, set operations,
lateral views) must resolve, through its own qualifier or the call's default catalog/schema, to
an allowed catalog and schema. Table functions other than pure generators cannot be checked, so
they are refused. SHOW and DESCRIBE are read form by form (reach.py): every catalog and schema
they name or list is checked, and SHOW CATALOGS / SCHEMAS are narrowed to the scope.

This is defence in depth: the boundary that holds when a parser is wrong is the principal's
own Unity Catalog privileges, enforced by the warehouse.
"""

from __future__ import annotations

import re
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.optimizer.scope import traverse_scope

from lakegate._sqldepth import allow_deep_sql
from lakegate.copilot.reach import Query, Reach, UnknownForm, reaches
from lakegate.errors import PolicyError, SqlParseError, too_complex

__all__ = [
    "check_pair", "check_securable", "check_sql_scope", "filter_listing", "scope_show",
]  # fmt: skip

allow_deep_sql()
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


def check_securable(kind: str, name: str, catalogs: list[str], schemas: list[str]) -> None:
    """A Unity Catalog name a tool argument carries. `kind` is the API collection it goes to
    (`catalogs`: one part, `schemas`: two, `tables`, `volumes` ...: three) or `securable`: the
    full name of any of them (one to three parts)."""
    if not catalogs and not schemas:
        return
    parts = name.split(".")
    sizes = {"catalogs": (1,), "schemas": (2,), "securable": (1, 2, 3)}.get(kind, (3,))
    if len(parts) not in sizes or not all(p.strip() for p in parts):
        raise PolicyError(
            f"{name!r} is not a full name of one of the {kind}, so it cannot be checked "
            "against the copilot policy's catalogs and schemas.",
            code="policy.scope",
            hint="Give the full name: catalog.schema.name (catalog.schema for a schema).",
        )
    reach = Reach(parts[0], catalog_only=True) if len(parts) == 1 else Reach(parts[0], parts[1])
    _check_reach(reach, catalogs, schemas, (None, None))


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
    try:
        _check_sql_scope(sql, catalogs, schemas, default_catalog, default_schema)
    except RecursionError:
        raise too_complex() from None


def _check_sql_scope(
    sql: str,
    catalogs: list[str],
    schemas: list[str],
    default_catalog: str | None,
    default_schema: str | None,
) -> None:
    defaults = (default_catalog, default_schema)
    try:
        found = reaches(sql)
    except UnknownForm as exc:
        raise _unchecked(sql, str(exc)) from None
    if isinstance(found, Query):
        _check_sql_scope(found.sql, catalogs, schemas, default_catalog, default_schema)
        return
    if found is not None:
        for reach in found:
            _check_reach(reach, catalogs, schemas, defaults)
        return
    for statement in _parse(sql):
        if isinstance(statement, exp.Use) or _is_scope_switch(statement):
            raise PolicyError(
                "USE / SET CATALOG / SET SCHEMA cannot change the scope the copilot policy pins.",
                code="policy.scope",
                hint="Qualify table names as catalog.schema.table instead.",
            )
        if isinstance(statement, exp.Command):
            raise _unchecked(sql, "sqlglot reads it only as a generic command")
        _check_functions(statement)
        for table in _real_tables(statement):
            _check_table(table, catalogs, schemas, default_catalog, default_schema)


def _parse(sql: str) -> list[exp.Expression]:
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
    return [s for s in statements if s is not None]


def _unchecked(sql: str, why: str) -> PolicyError:
    first = (sql.split() or ["(empty)"])[0].upper()
    return PolicyError(
        f"This {first} statement cannot be checked against the copilot policy's catalogs and "
        f"schemas: {why}.",
        code="policy.scope",
        hint="Use a SELECT, DESCRIBE <catalog.schema.table>, or SHOW CATALOGS / SCHEMAS IN "
        "<catalog> / TABLES IN <catalog.schema>.",
    )


def _real_tables(statement: exp.Expression) -> list[exp.Table]:
    """Every table reference that names a table, not a CTE visible where it stands.

    A CTE is visible in the query of its own WITH (and, for later CTEs of that WITH, their
    bodies), resolved case-insensitively as Databricks does; sqlglot's scope analysis says which
    CTEs each scope sees. A reference that no scope accounts for is checked as a table.
    """
    cte_references: set[int] = set()
    try:
        scopes = traverse_scope(statement)
    except sqlglot.errors.SqlglotError:
        scopes = []  # every name is then checked as a table: stricter, never looser
    for scope in scopes:
        visible = {name.lower() for name in scope.cte_sources}
        for table in scope.tables:
            if not table.args.get("db") and table.name.lower() in visible:
                cte_references.add(id(table))
    return [
        table
        for table in statement.find_all(exp.Table)
        if not isinstance(table.this, exp.Func)  # checked by _check_functions
        and table.name
        and id(table) not in cte_references
    ]


def _check_reach(
    reach: Reach,
    catalogs: list[str],
    schemas: list[str],
    defaults: tuple[str | None, str | None],
) -> None:
    """A catalog or schema a SHOW / DESCRIBE lists or describes."""
    if reach.every_catalog:
        raise PolicyError(
            "IN ALL CATALOGS lists catalogs the copilot policy does not allow.",
            code="policy.scope",
            hint=f"Name one catalog instead: {', '.join(catalogs or _catalogs_of(schemas))}.",
        )
    catalog = reach.catalog or defaults[0]
    if catalog is None and catalogs:
        raise PolicyError(
            "The statement does not name its catalog, and the copilot policy only allows some "
            "catalogs.",
            code="policy.scope",
            hint=f"Name the catalog: one of {', '.join(catalogs)}.",
        )
    if reach.catalog_only:
        if not catalogs and catalog is not None and not _catalog_has_schemas(catalog, schemas):
            raise PolicyError(
                f"No schema of catalog {catalog} is in the copilot policy's schemas.",
                code="policy.scope",
                hint=f"Use a catalog of: {', '.join(schemas)}.",
            )
        check_pair(catalog, None, catalogs, schemas)
        return
    if reach.every_schema and schemas:
        raise PolicyError(
            f"The statement lists every schema of {catalog}, and the copilot policy only allows "
            "some schemas.",
            code="policy.scope",
            hint=f"Name the schema (no wildcard): one of {', '.join(schemas)}.",
        )
    schema = None if reach.every_schema else reach.schema or defaults[1]
    if schema is None and schemas:
        raise PolicyError(
            "The statement does not name its schema, and the copilot policy only allows some "
            "schemas.",
            code="policy.scope",
            hint=f"Name the schema: one of {', '.join(schemas)}.",
        )
    check_pair(catalog, schema, catalogs, schemas)


def _catalogs_of(schemas: list[str]) -> list[str]:
    return sorted({s.rpartition(".")[0] for s in schemas if "." in s})


def _catalog_has_schemas(catalog: str, schemas: list[str]) -> bool:
    return any("." not in s or s.rpartition(".")[0].lower() == catalog.lower() for s in schemas)


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
