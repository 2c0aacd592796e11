"""The metadata SQL Databricks clients send, answered from DuckDB's catalog.

The SQL connector's metadata calls (`SHOW TABLES IN CATALOG c SCHEMA LIKE 's'`,
`SHOW COLUMNS IN CATALOG ...`), SQLAlchemy's reflection (`SHOW VIEWS FROM`, `DESCRIBE TABLE
EXTENDED`), `SHOW CREATE TABLE`, `information_schema` views, `INSERT OVERWRITE`, and the
Spark-style names and messages that clients match on (`count(1)`, `[TABLE_OR_VIEW_NOT_FOUND]`).
Result column names follow what Databricks returns, so clients read them unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

import sqlglot
from sqlglot import exp

from lakegate.workspace.sql import errors, plan
from lakegate.workspace.sql.delta import commands, keys

if TYPE_CHECKING:
    from lakegate.workspace.sql.access import Seeing, Seen
    from lakegate.workspace.sql.plan import Plan

_IDENT = r"(?:`[^`]+`|[A-Za-z_][A-Za-z0-9_]*)"
_QNAME = rf"{_IDENT}(?:\s*\.\s*{_IDENT})*"
_STR = r"""(?P<{0}q>['"])(?P<{0}>.*?)(?P={0}q)"""
_SCHEMA_LIKE = rf"(?:\s+SCHEMA\s+LIKE\s+{_STR.format('schema')})?"
_TABLE_LIKE = rf"(?:\s+TABLE\s+LIKE\s+{_STR.format('table')})?"
_NAME_LIKE = rf"(?:\s+(?:LIKE\s+)?{_STR.format('like')})?"
_CATALOGS = rf"(?:CATALOG\s+(?P<catalog>{_IDENT})|ALL\s+CATALOGS)"
_FORMS = [
    (
        "tables_in_catalog",
        re.compile(rf"^SHOW\s+TABLES\s+IN\s+{_CATALOGS}{_SCHEMA_LIKE}{_NAME_LIKE}$", re.I),
    ),
    (
        "columns_in_catalog",
        re.compile(
            rf"^SHOW\s+COLUMNS\s+IN\s+{_CATALOGS}{_SCHEMA_LIKE}{_TABLE_LIKE}{_NAME_LIKE}$", re.I
        ),
    ),
    (
        "columns",
        re.compile(
            rf"^SHOW\s+COLUMNS\s+(?:IN|FROM)\s+(?P<name>{_QNAME})"
            rf"(?:\s+(?:IN|FROM)\s+(?P<schema_name>{_QNAME}))?$",
            re.I,
        ),
    ),
    (
        "views",
        re.compile(rf"^SHOW\s+VIEWS(?:\s+(?:IN|FROM)\s+(?P<name>{_QNAME}))?{_NAME_LIKE}$", re.I),
    ),
    (
        "describe_extended",
        re.compile(
            rf"^(?:DESCRIBE|DESC)\s+(?:TABLE\s+)?(?:EXTENDED|FORMATTED)\s+(?P<name>{_QNAME})$", re.I
        ),
    ),
    (
        "create_table",
        re.compile(rf"^SHOW\s+CREATE\s+TABLE\s+(?P<name>{_QNAME})(?:\s+AS\s+SERDE)?$", re.I),
    ),
]

# Databricks' spelling of DuckDB's type names, in SQL (metadata is answered by one query).
_TYPE_SQL = (
    "CASE WHEN {0} LIKE 'DECIMAL%' THEN {0} "
    "WHEN {0} = 'INTEGER' THEN 'INT' WHEN {0} = 'VARCHAR' THEN 'STRING' "
    "WHEN {0} = 'TIMESTAMP' THEN 'TIMESTAMP_NTZ' "
    "WHEN {0} = 'TIMESTAMP WITH TIME ZONE' THEN 'TIMESTAMP' WHEN {0} = 'BLOB' THEN 'BINARY' "
    "WHEN {0} = 'HUGEINT' THEN 'DECIMAL(38,0)' WHEN {0} = 'UBIGINT' THEN 'DECIMAL(20,0)' "
    "WHEN {0} = 'UINTEGER' THEN 'BIGINT' WHEN {0} IN ('USMALLINT') THEN 'INT' "
    "WHEN {0} = 'UTINYINT' THEN 'SMALLINT' WHEN {0} = 'NULL' THEN 'VOID' "
    "WHEN {0} LIKE '%[]' THEN 'ARRAY<' || replace(replace(replace({0}, '[]', ''), "
    "'VARCHAR', 'STRING'), 'INTEGER', 'INT') || '>' ELSE {0} END"
)
# JDBC-style sizes: DuckDB reports integer precision in bits (radix 2), Databricks in digits.
_SIZE_SQL = (
    "CASE data_type WHEN 'BIGINT' THEN 19 WHEN 'INTEGER' THEN 10 WHEN 'SMALLINT' THEN 5 "
    "WHEN 'TINYINT' THEN 3 WHEN 'DOUBLE' THEN 15 WHEN 'FLOAT' THEN 7 "
    "ELSE coalesce(numeric_precision, character_maximum_length) END"
)
_RADIX_SQL = "CASE WHEN numeric_precision IS NOT NULL THEN 10 END"
_RELATIONS = (
    "(SELECT database_name, schema_name, table_name, 'TABLE' AS kind, comment, NULL AS sql "
    "FROM duckdb_tables() UNION ALL SELECT database_name, schema_name, view_name, 'VIEW', "
    "comment, sql FROM duckdb_views() WHERE NOT internal)"
)
_CATALOG_OF = "regexp_replace(database_name, '__uc$', '')"


def visible(seen: Seeing, catalog: str, schema: str | None = None, table: str | None = None) -> str:
    """` AND <predicate>` keeping only what the caller may see (SQL expressions naming the
    object's catalog, schema, table); "" for a caller who sees everything."""
    found = seen() if seen is not None else None
    return "" if found is None else f" AND {found.where(catalog, schema, table)}"


def quoted(value: str) -> str:
    """A SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def translate(
    text: str, catalog: str, schema: str, seen: Seeing = None, temporary: Sequence[str] = ()
) -> Plan | None:
    """The plan for one of the metadata forms above, or None for other statements; listings
    show only what `seen` lets the caller see, and `SHOW VIEWS` the session's `temporary`
    views too."""
    for kind, pattern in _FORMS:
        match = pattern.match(text)
        if match is None:
            continue
        groups = match.groupdict()
        if kind == "tables_in_catalog":
            return _tables_in_catalog(groups, seen)
        if kind == "columns_in_catalog":
            return _columns_in_catalog(groups, seen)
        if kind == "columns":
            parts = plan.split_name(groups["name"])
            if groups.get("schema_name"):
                parts = plan.split_name(groups["schema_name"]) + parts[-1:]
            return _columns(plan.qualified(parts, catalog, schema))
        if kind == "views":
            parts = plan.split_name(groups.get("name") or "")
            cat, sch = (
                (parts[-2], parts[-1])
                if len(parts) >= 2
                else (catalog, parts[0] if parts else schema)
            )
            return _views(cat, sch, groups.get("like"), temporary)
        name = plan.qualified(plan.split_name(groups["name"]), catalog, schema)
        return _describe_extended(name) if kind == "describe_extended" else _create_table(name)
    return None


def like(raw: str | None) -> str:
    """A metadata pattern (`*` or `%` any run, `_` any one, `|` alternatives) as a regex."""
    if raw is None or raw in ("", "*", "%"):
        return ".*"
    options = []
    for option in raw.split("|"):
        text = re.escape(option.strip())
        options.append(text.replace(r"\*", ".*").replace("%", ".*").replace("_", "."))
    return "(?i)(" + "|".join(options) + ")"


def _catalog_filter(groups: dict[str, str | None], params: dict[str, str]) -> str:
    if groups.get("catalog"):
        params["c"] = plan.duck_catalog(plan.split_name(groups["catalog"] or "")[0])
        return "database_name = $c"
    return "NOT regexp_matches(database_name, '^(memory|system|temp)$')"


def _tables_in_catalog(groups: dict[str, str | None], seen: Seeing) -> Plan:
    params = {"s": like(groups.get("schema")), "t": like(groups.get("like"))}
    where = _catalog_filter(groups, params)
    where += visible(seen, _CATALOG_OF, "schema_name", "table_name")
    # tableType is the sixth column: the connector filters table types by position.
    sql = (
        f"SELECT {_CATALOG_OF} AS catalogName, schema_name AS namespace, table_name AS tableName, "
        "false AS isTemporary, NULL::VARCHAR AS information, kind AS tableType, "
        f"comment AS remarks FROM {_RELATIONS} WHERE {where} "
        "AND regexp_full_match(schema_name, $s) AND regexp_full_match(table_name, $t) "
        "AND schema_name NOT IN ('information_schema', 'pg_catalog') ORDER BY 1, 2, 3"
    )
    return plan.Plan(sql, params, "SHOW")


def _columns_in_catalog(groups: dict[str, str | None], seen: Seeing) -> Plan:
    params = {
        "s": like(groups.get("schema")),
        "t": like(groups.get("table")),
        "n": like(groups.get("like")),
    }
    where = _catalog_filter(groups, params)
    where += visible(seen, _CATALOG_OF, "schema_name", "table_name")
    column_type = _TYPE_SQL.format("data_type")
    sql = (
        f"SELECT {_CATALOG_OF} AS catalogName, schema_name AS namespace, table_name AS tableName, "
        f"column_name AS col_name, {column_type} AS columnType, "
        f"{_SIZE_SQL} AS columnSize, numeric_scale AS decimalDigits, {_RADIX_SQL} AS radix, "
        "CASE WHEN is_nullable THEN 'true' ELSE 'false' END AS isNullable, "
        "comment AS remarks, (column_index - 1)::INT AS ordinalPosition, "
        "'false' AS isAutoIncrement, 'false' AS isGenerated "
        f"FROM duckdb_columns() WHERE {where} AND NOT internal "
        "AND regexp_full_match(schema_name, $s) AND regexp_full_match(table_name, $t) "
        "AND regexp_full_match(column_name, $n) "
        "AND schema_name NOT IN ('information_schema', 'pg_catalog') ORDER BY 1, 2, 3, column_index"
    )
    return plan.Plan(sql, params, "SHOW")


def _columns(name: tuple[str, str, str]) -> Plan:
    sql = (
        "SELECT column_name AS col_name, column_index AS position FROM duckdb_columns() "
        "WHERE database_name = $c AND lower(schema_name) = lower($s) "
        "AND lower(table_name) = lower($t)"
    )
    params = {"c": plan.duck_catalog(name[0]), "s": name[1], "t": name[2]}
    return plan.Plan(_or_not_found(sql, name), params, "SHOW", target=tuple(name))


def _views(catalog: str, schema: str, pattern: str | None, temporary: Sequence[str]) -> Plan:
    # The session's temporary views are listed in every schema, with an empty namespace.
    params = {"c": plan.duck_catalog(catalog), "s": schema, "p": like(pattern)}
    temp = ""
    for n, name in enumerate(temporary):
        params[f"v{n}"] = name
        temp += f" UNION ALL SELECT '', $v{n}, true, false WHERE regexp_full_match($v{n}, $p)"
    sql = (
        "SELECT schema_name AS namespace, view_name AS viewName, false AS isTemporary, "
        "false AS isMaterialized FROM duckdb_views() WHERE NOT internal "
        "AND database_name = $c AND lower(schema_name) = lower($s) "
        f"AND regexp_full_match(view_name, $p){temp} "
        "ORDER BY 3, 2"
    )
    return plan.Plan(sql, params, "SHOW", target=(catalog, schema))


def _describe_extended(name: tuple[str, str, str]) -> Plan:
    """The columns, then Databricks' `# Detailed Table Information` section."""
    column_type = _TYPE_SQL.format("data_type")
    where = (
        "database_name = $c AND lower(schema_name) = lower($s) AND lower(table_name) = lower($t)"
    )
    details = [
        ("''", "''", "0"),
        ("'# Detailed Table Information'", "''", "1"),
        ("'Catalog'", "$catalog", "2"),
        ("'Database'", "$s", "3"),
        ("'Table'", "$t", "4"),
        ("'Type'", "CASE kind WHEN 'VIEW' THEN 'VIEW' ELSE 'MANAGED' END", "5"),
        ("'Comment'", "comment", "6"),
        ("'Provider'", "CASE kind WHEN 'VIEW' THEN NULL ELSE 'delta' END", "7"),
    ]
    detail_sql = " UNION ALL ".join(
        f"SELECT {label}, {value}, '', 100000 + {k} FROM rel" for label, value, k in details
    )
    sql = (
        f"WITH rel AS (SELECT kind, comment FROM {_RELATIONS} WHERE {where}), "
        f"guard AS (SELECT CASE WHEN count(*) = 0 THEN error('{_quoted_not_found(name)}') END "
        "AS g FROM rel), "
        f"found AS (SELECT column_name AS col_name, lower({column_type}) AS data_type, comment, "
        f"column_index AS k FROM duckdb_columns() WHERE {where} UNION ALL {detail_sql} "
        f"UNION ALL {commands.describe_properties()} UNION ALL {keys.describe_rows()}) "
        "SELECT col_name, data_type, comment FROM found, guard "
        "WHERE guard.g IS NULL AND data_type IS NOT NULL ORDER BY k"
    )
    params = {"c": plan.duck_catalog(name[0]), "s": name[1], "t": name[2], "catalog": name[0]}
    return plan.Plan(sql, params, "DESCRIBE", target=name)


def _quoted_not_found(name: tuple[str, ...]) -> str:
    return errors.not_found_message(".".join(f"`{p}`" for p in name)).replace("'", "''")


def _create_table(name: tuple[str, str, str]) -> Plan:
    column_type = _TYPE_SQL.format("c.data_type")
    sql = (
        "SELECT CASE WHEN any_value(r.kind) = 'VIEW' THEN "
        "'CREATE VIEW ' || $full || ' (\n' || string_agg('  ' || c.column_name, ',\n' "
        "ORDER BY c.column_index) || ')\nAS ' || regexp_replace(any_value(r.sql), "
        "'^CREATE VIEW .*? AS ', '', 's') "
        "ELSE 'CREATE TABLE ' || $full || ' (\n' || string_agg('  ' || c.column_name || ' ' || "
        f"{column_type} || CASE WHEN c.is_nullable THEN '' ELSE ' NOT NULL' END, ',\n' "
        "ORDER BY c.column_index) || ')\nUSING delta' || "
        f"{commands.create_clauses()} END AS createtab_stmt "
        f"FROM duckdb_columns() c JOIN {_RELATIONS} r ON r.database_name = c.database_name "
        "AND r.schema_name = c.schema_name AND r.table_name = c.table_name "
        "WHERE c.database_name = $c AND lower(c.schema_name) = lower($s) "
        "AND lower(c.table_name) = lower($t)"
    )
    params = {
        "c": plan.duck_catalog(name[0]),
        "s": name[1],
        "t": name[2],
        "full": ".".join(name),
        "catalog": name[0],
    }
    return plan.Plan(_or_not_found(sql, name, aggregate=True), params, "SHOW", target=tuple(name))


def _or_not_found(sql: str, name: tuple[str, ...], *, aggregate: bool = False) -> str:
    """`sql`, failing with TABLE_OR_VIEW_NOT_FOUND when it finds no row."""
    message = _quoted_not_found(name)
    if aggregate:  # one row, NULL when nothing matched
        return (
            f"SELECT CASE WHEN createtab_stmt IS NULL THEN error('{message}') "
            f"ELSE createtab_stmt END AS createtab_stmt FROM ({sql})"
        )
    # `guard` is one row: NULL, or the error when `found` is empty (referenced, so evaluated).
    return (
        f"WITH found AS ({sql}), guard AS (SELECT CASE WHEN count(*) = 0 THEN "
        f"error('{message}') END AS g FROM found) "
        "SELECT col_name FROM found, guard WHERE guard.g IS NULL ORDER BY position"
    )


# -- information_schema ----------------------------------------------------------------------

_INFO = {
    "catalogs": (
        "SELECT DISTINCT {cat} AS catalog_name, NULL::VARCHAR AS catalog_owner, "
        "NULL::VARCHAR AS comment FROM duckdb_databases() "
        "WHERE NOT internal AND database_name <> 'memory' AND {where}{see_c}"
    ),
    "schemata": (
        "SELECT {cat} AS catalog_name, schema_name, NULL::VARCHAR AS schema_owner, "
        "comment FROM duckdb_schemas() WHERE {where}{see_s} "
        "AND schema_name NOT IN ('main', 'pg_catalog', 'information_schema') "
        "UNION ALL SELECT DISTINCT {cat}, 'information_schema', NULL, NULL FROM duckdb_databases() "
        "WHERE NOT internal AND database_name <> 'memory' AND {where}{see_c}"
    ),
    "tables": (
        "SELECT {cat} AS table_catalog, schema_name AS table_schema, table_name, "
        "CASE kind WHEN 'VIEW' THEN 'VIEW' ELSE 'MANAGED' END AS table_type, "
        "CASE kind WHEN 'VIEW' THEN 'NO' ELSE 'YES' END AS is_insertable_into, "
        "'PRESERVE' AS commit_action, NULL::VARCHAR AS table_owner, comment, "
        "CASE kind WHEN 'VIEW' THEN NULL ELSE 'DELTA' END AS data_source_format "
        f"FROM {_RELATIONS} WHERE {{where}}{{see_t}}"
    ),
    "columns": (
        "SELECT {cat} AS table_catalog, schema_name AS table_schema, table_name, column_name, "
        "(column_index - 1)::INT AS ordinal_position, column_default, "
        "CASE WHEN is_nullable THEN 'YES' ELSE 'NO' END AS is_nullable, "
        f"lower({_TYPE_SQL.format('data_type')}) AS full_data_type, "
        f"regexp_replace({_TYPE_SQL.format('data_type')}, '[(<].*$', '') AS data_type, "
        f"character_maximum_length, CASE WHEN numeric_precision IS NOT NULL THEN {_SIZE_SQL} END "
        f"AS numeric_precision, {_RADIX_SQL} AS numeric_precision_radix, numeric_scale, "
        "CASE WHEN column_default LIKE 'nextval(%__identity_%' THEN 'YES' ELSE 'NO' END "
        "AS is_identity, 'NO' AS is_generated, comment "
        "FROM duckdb_columns() WHERE NOT internal AND {where}{see_t}"
    ),
    "views": (
        "SELECT {cat} AS table_catalog, schema_name AS table_schema, view_name AS table_name, "
        "regexp_replace(sql, '^CREATE VIEW .*? AS ', '', 's') AS view_definition, "
        "'NONE' AS check_option, 'NO' AS is_updatable, 'NO' AS is_insertable_into, "
        "NULL::VARCHAR AS sql_path FROM duckdb_views() WHERE NOT internal AND {where}{see_v}"
    ),
}


def information_schema(node: exp.Table, catalog: str, seen: Seeing = None) -> exp.Expression:
    """`[c.]information_schema.<view>` as a subquery over DuckDB's catalog (one catalog's
    objects; `system.information_schema` shows every catalog), narrowed to what `seen` lets
    the caller see."""
    view = node.name.lower()
    if view not in _INFO:
        raise errors.table_not_found(f"`information_schema`.`{view}`")
    owner = node.catalog or catalog
    if owner.lower() == "system":
        where = "database_name NOT IN ('memory', 'system', 'temp')"
    else:
        where = f"database_name = '{plan.duck_catalog(owner).replace(chr(39), chr(39) * 2)}'"
    known = seen() if seen is not None else None  # asked once for the four predicates

    def fixed() -> Seen | None:
        return known

    seen = fixed
    sql = _INFO[view].format(
        cat=_CATALOG_OF,
        where=where,
        see_c=visible(seen, _CATALOG_OF),
        see_s=visible(seen, _CATALOG_OF, "schema_name"),
        see_t=visible(seen, _CATALOG_OF, "schema_name", "table_name"),
        see_v=visible(seen, _CATALOG_OF, "schema_name", "view_name"),
    )
    alias = node.alias or view
    subquery = sqlglot.parse_one(sql, read="duckdb").subquery(alias)
    return subquery


# -- statement rewrites ----------------------------------------------------------------------


def spark_names(tree: exp.Expression) -> exp.Expression:
    """Spark's names for aggregates: `count(*)` is `count(1)` (the same value), and an unaliased
    aggregate is named as Spark spells it (`sum(price)`, `count(name)`), not as DuckDB does; an
    unaliased string literal is named by its text."""
    for count in list(tree.find_all(exp.Count)):
        if isinstance(count.this, exp.Star):
            count.set("this", exp.Literal.number(1))
    for select in list(tree.find_all(exp.Select)):
        for item in list(select.expressions):
            if isinstance(item, exp.AggFunc):
                text = item.sql(dialect="databricks")
                cut = text.find("(")
                name = text[:cut].lower() + text[cut:] if cut > 0 else text
                item.replace(exp.alias_(item.copy(), name, quoted=True))
            elif isinstance(item, exp.Literal) and item.is_string:
                # Spark names a string literal by its text (`SELECT 'a'` is column a).
                item.replace(exp.alias_(item.copy(), item.name, quoted=True))
    return tree


def overwrite_prelude(tree: exp.Expression) -> tuple[str, ...]:
    """`INSERT OVERWRITE t ...` becomes `DELETE FROM t` then `INSERT INTO t ...`, in one
    transaction (the engine runs the prelude first)."""
    if not isinstance(tree, exp.Insert) or not tree.args.get("overwrite"):
        return ()
    target = tree.this.this if isinstance(tree.this, exp.Schema) else tree.this
    tree.set("overwrite", None)
    return (exp.delete(target.copy()).sql(dialect="duckdb"),)


def written_tables(tree: exp.Expression) -> dict[str, str]:
    """Each table's last name part -> the name as written, Spark-quoted (for error messages)."""
    names: dict[str, str] = {}
    for table in tree.find_all(exp.Table):
        parts = [p.name for p in table.parts if p.name]
        if parts:
            names.setdefault(parts[-1].lower(), ".".join(f"`{p}`" for p in parts))
    return names
