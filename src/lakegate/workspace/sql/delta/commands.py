"""Delta's statements about a table's log (tablelog.py): they keep it (`ALTER TABLE ... SET /
UNSET TBLPROPERTIES`) or read it (`SHOW TBLPROPERTIES`, `DESCRIBE DETAIL`, `DESCRIBE HISTORY`,
`SHOW PARTITIONS`), or maintain the table (`OPTIMIZE`, `VACUUM`, `ANALYZE TABLE`, `REFRESH
TABLE`), with Databricks' answers and errors.

What DuckDB cannot say is left out rather than made up: OPTIMIZE compacts nothing (DuckDB
stores a table in row groups, not files), so it answers Databricks' row with no file added or
removed and writes no commit, as Delta does when there is nothing to compact.
"""

from __future__ import annotations

import json
import re

from sqlglot import exp

from lakegate.workspace.sql import errors, plan
from lakegate.workspace.sql.access import Access, to_see
from lakegate.workspace.sql.delta.tablelog import (
    DEFAULTS,
    ENGINE_INFO,
    HISTORY,
    LAYOUT,
    PROPERTIES,
    READER,
    WRITER,
    Commit,
    check_keys,
    table_id,
)

__all__ = ["create_clauses", "describe_properties", "partitions_sql", "translate"]

_IDENT = r"(?:`(?:[^`]|``)+`|[A-Za-z_][A-Za-z0-9_]*)"
_QNAME = rf"{_IDENT}(?:\s*\.\s*{_IDENT})*"
_STRING = r"""'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*\""""
_ITEM = re.compile(
    rf"\s*(?P<key>{_STRING}|[A-Za-z_][\w.]*)\s*(?:=?\s*(?P<value>{_STRING}|[-+]?[\w.]+))?\s*"
    r"(?:,|$)",
    re.S,
)
_FORMS = {
    "set": re.compile(
        rf"^ALTER\s+TABLE\s+(?P<name>{_QNAME})\s+SET\s+TBLPROPERTIES\s*\((?P<items>.*)\)$",
        re.I | re.S,
    ),
    "unset": re.compile(
        rf"^ALTER\s+TABLE\s+(?P<name>{_QNAME})\s+UNSET\s+TBLPROPERTIES(?P<exists>\s+IF\s+EXISTS)?"
        r"\s*\((?P<items>.*)\)$",
        re.I | re.S,
    ),
    "show": re.compile(
        rf"^SHOW\s+TBLPROPERTIES\s+(?P<name>{_QNAME})(?:\s*\((?P<items>.*)\))?$", re.I | re.S
    ),
    "detail": re.compile(rf"^(?:DESCRIBE|DESC)\s+DETAIL\s+(?P<name>{_QNAME})$", re.I),
    "history": re.compile(
        rf"^(?:DESCRIBE|DESC)\s+HISTORY\s+(?P<name>{_QNAME})(?:\s+LIMIT\s+(?P<limit>\d+))?$", re.I
    ),
    "optimize": re.compile(
        rf"^OPTIMIZE\s+(?P<name>{_QNAME})(?:\s+WHERE\s+(?P<where>.+?))?"
        r"(?:\s+ZORDER\s+BY\s+(?P<zorder>.+))?$",
        re.I | re.S,
    ),
    "vacuum": re.compile(
        rf"^VACUUM\s+(?P<name>{_QNAME})(?:\s+RETAIN\s+(?P<hours>\d+(?:\.\d+)?)\s+HOURS?)?"
        r"(?P<dry>\s+DRY\s+RUN)?$",
        re.I,
    ),
    "analyze": re.compile(
        rf"^ANALYZE\s+TABLE\s+(?P<name>{_QNAME})\s+COMPUTE\s+(?:DELTA\s+)?STATISTICS"
        rf"(?:\s+NOSCAN|\s+FOR\s+ALL\s+COLUMNS|\s+FOR\s+COLUMNS\s+(?P<columns>{_IDENT}"
        rf"(?:\s*,\s*{_IDENT})*))?$",
        re.I,
    ),
    "refresh": re.compile(rf"^REFRESH\s+TABLE\s+(?P<name>{_QNAME})$", re.I),
    "partitions": re.compile(rf"^SHOW\s+PARTITIONS\s+(?P<name>{_QNAME})$", re.I),
}


# -- statements ----------------------------------------------------------------------------


def translate(text: str, catalog: str, schema: str, user: str) -> plan.Plan | None:
    """The plan for one of this module's statements, or None for any other."""
    for kind, pattern in _FORMS.items():
        found = pattern.match(text)
        if found is None:
            continue
        name = plan.qualified(plan.split_name(found["name"]), catalog, schema)
        name = (name[0].lower(), name[1].lower(), name[2].lower())
        if kind == "set":
            return _set(name, _items(found["items"]), user)
        if kind == "unset":
            return _unset(name, _items(found["items"]), bool(found["exists"]), user)
        if kind == "show":
            wanted = _items(found["items"]) if found["items"] is not None else []
            return _show(name, wanted[0][0] if wanted else None)
        if kind == "detail":
            return _detail(name)
        if kind == "history":
            limit = int(found["limit"]) if found["limit"] is not None else None
            return _history(name, limit)
        if kind == "optimize":
            return _optimize(name, found["where"], found["zorder"])
        return _maintenance(kind, name, found)
    return None


def _set(name: tuple[str, str, str], items: list[tuple[str, str | None]], user: str) -> plan.Plan:
    missing = [k for k, v in items if v is None]
    if missing or not items:
        raise plan.SqlError(
            "[PARSE_SYNTAX_ERROR] Syntax error: SET TBLPROPERTIES needs a value for every key "
            f"(missing for {', '.join(missing) or 'all: the list is empty'}); write "
            "('key' = 'value', ...). SQLSTATE: 42601",
            sql_state="42601",
        )
    values = {k: v for k, v in items if v is not None}
    check_keys(values)
    commit = Commit(name, "SET TBLPROPERTIES", {"properties": json.dumps(values)}, user=user,
                    set=values)  # fmt: skip
    return plan.Plan(
        "", statement_type="ALTER", kind="table_log", target=name, commit=commit,
        access=(Access("MODIFY", *name),),
    )  # fmt: skip


def _unset(
    name: tuple[str, str, str], items: list[tuple[str, str | None]], if_exists: bool, user: str
) -> plan.Plan:
    keys = tuple(k for k, _ in items)
    if not keys or any(v is not None for _, v in items):
        raise plan.SqlError(
            "[PARSE_SYNTAX_ERROR] Syntax error: UNSET TBLPROPERTIES takes keys only; write "
            "('key', ...). SQLSTATE: 42601",
            sql_state="42601",
        )
    check_keys(dict.fromkeys(keys, ""))
    parameters = {"properties": json.dumps(list(keys)), "ifExists": json.dumps(if_exists)}
    commit = Commit(name, "UNSET TBLPROPERTIES", parameters, user=user, unset=keys,
                    if_exists=if_exists)  # fmt: skip
    return plan.Plan(
        "", statement_type="ALTER", kind="table_log", target=name, commit=commit,
        access=(Access("MODIFY", *name),),
    )  # fmt: skip


def _items(text: str | None) -> list[tuple[str, str | None]]:
    """A property list, `('k' = 'v', k.x = 2, 'k2')`, as (key, value or None) pairs."""
    found: list[tuple[str, str | None]] = []
    text, position = (text or "").strip(), 0
    while position < len(text):
        item = _ITEM.match(text, position)
        if item is None or item.end() == position:
            raise plan.SqlError(
                f"[PARSE_SYNTAX_ERROR] Syntax error at or near '{text[position:][:20]}': a "
                "property list is ('key' = 'value', ...). SQLSTATE: 42601",
                sql_state="42601",
            )
        value = item["value"]
        found.append((_unquote(item["key"]), None if value is None else _unquote(value)))
        position = item.end()
    return found


def _unquote(text: str) -> str:
    if text[:1] in ("'", '"'):
        return re.sub(r"\\(.)", r"\1", text[1:-1], flags=re.S)
    return text


# -- the readers -----------------------------------------------------------------------------


def _relation(name: tuple[str, str, str], verb: str, *, table_only: bool = True) -> str:
    """CTEs `rel` (the table's DuckDB entry: kind, comment, estimated rows, columns, database
    file) and `guard` (NULL, or the error Databricks gives for a missing table, or for a view
    where `verb` needs a table); the name's parts are $c (DuckDB's catalog), $s and $t."""
    quoted = ".".join(f"`{p}`" for p in name)
    missing = errors.not_found_message(quoted).replace("'", "''")
    view = (
        f"[EXPECT_TABLE_NOT_VIEW.NO_ALTERNATIVE] '{verb}' expects a table but {quoted} is a "
        "view. SQLSTATE: 42809"
    ).replace("'", "''")
    kinds = f"WHEN max(kind) = 'VIEW' THEN error('{view}') " if table_only else ""
    return (
        "rel AS (SELECT 'TABLE' AS kind, t.comment, t.estimated_size, d.path, "
        "(SELECT list(c.data_type ORDER BY c.column_index) FROM duckdb_columns() c "
        "WHERE c.table_oid = t.table_oid) AS types FROM duckdb_tables() t "
        "JOIN duckdb_databases() d USING (database_name) WHERE t.database_name = $c "
        "AND lower(t.schema_name) = $s AND lower(t.table_name) = $t "
        "UNION ALL SELECT 'VIEW', comment, NULL, NULL, NULL FROM duckdb_views() "
        "WHERE database_name = $c AND lower(schema_name) = $s AND lower(view_name) = $t), "
        f"guard AS (SELECT CASE WHEN count(*) = 0 THEN error('{missing}') {kinds}END AS g "
        "FROM rel)"
    )


def _params(name: tuple[str, str, str]) -> dict[str, str]:
    return {"c": plan.duck_catalog(name[0]), "catalog": name[0], "s": name[1], "t": name[2]}


_OWN = "catalog = $catalog AND schema = $s AND table_name = $t"
_DEFAULT_ROWS = " UNION ALL ".join(
    f"SELECT '{k}' AS key, '{v}' AS value" for k, v in DEFAULTS.items()
)


def _properties_sql() -> str:
    """A CTE `props` (key, value): the table's properties, Delta's protocol defaults first."""
    return (
        f"props AS (SELECT key, value FROM {PROPERTIES} WHERE {_OWN} UNION ALL "
        f"SELECT key, value FROM ({_DEFAULT_ROWS}) WHERE key NOT IN "
        f"(SELECT key FROM {PROPERTIES} WHERE {_OWN}) AND (SELECT max(kind) FROM rel) = 'TABLE')"
    )


def _show(name: tuple[str, str, str], key: str | None) -> plan.Plan:
    params = _params(name)
    chosen = ""
    if key is not None:
        # Spark answers a missing key with a row that says so.
        params["k"] = key
        absent = f"Table {'.'.join(name)} does not have property: "
        chosen = (
            f" AND key = $k UNION ALL SELECT $k, '{absent}' || $k FROM guard "
            "WHERE guard.g IS NULL AND $k NOT IN (SELECT key FROM props)"
        )
    sql = (
        f"WITH {_relation(name, 'SHOW TBLPROPERTIES', table_only=False)}, {_properties_sql()} "
        f"SELECT key, value FROM (SELECT key, value FROM props, guard WHERE guard.g IS NULL"
        f"{chosen}) ORDER BY key"
    )
    return plan.Plan(sql, params, "SHOW", target=name, access=_seeing(name))


# DuckDB's in-memory width of a value, by type: DESCRIBE DETAIL's size is the table's rows at
# these widths (a string counts its 16-byte header), not a file size, which DuckDB does not have.
_WIDTH = (
    "list_sum(list_transform(types, lambda x: CASE "
    "WHEN x IN ('BOOLEAN', 'TINYINT', 'UTINYINT') THEN 1 "
    "WHEN x IN ('SMALLINT', 'USMALLINT') THEN 2 "
    "WHEN x IN ('INTEGER', 'UINTEGER', 'FLOAT', 'DATE') THEN 4 "
    "WHEN x IN ('BIGINT', 'UBIGINT', 'DOUBLE') OR x LIKE 'TIMESTAMP%' OR x LIKE 'TIME%' THEN 8 "
    "ELSE 16 END))"
)
# Delta's table features of a protocol (writer versions 2-6 imply theirs; 7 lists them as
# `delta.feature.<name>` properties).
_FEATURES = (
    "['appendOnly', 'invariants'] || CASE WHEN w >= 3 THEN ['checkConstraints'] ELSE [] END || "
    "CASE WHEN w >= 4 THEN ['changeDataFeed', 'generatedColumns'] ELSE [] END || "
    "CASE WHEN w >= 5 THEN ['columnMapping'] ELSE [] END || "
    "CASE WHEN w >= 6 THEN ['identityColumns'] ELSE [] END || "
    "(SELECT coalesce(list(substr(key, 15) ORDER BY key), []) FROM props "
    "WHERE key LIKE 'delta.feature.%')"
)


def _detail(name: tuple[str, str, str]) -> plan.Plan:
    params = _params(name)
    params["id"] = table_id(name)
    params["name"] = ".".join(name)
    config = f"key NOT IN ('{READER}', '{WRITER}')"
    sql = (
        f"WITH {_relation(name, 'DESCRIBE DETAIL')}, {_properties_sql()}, "
        f"layout AS (SELECT * FROM {LAYOUT} WHERE {_OWN}), "
        f"commits AS (SELECT min(ts) AS created, max(ts) AS modified FROM {HISTORY} "
        f"WHERE {_OWN}), "
        f"protocol AS (SELECT coalesce((SELECT value FROM props WHERE key = '{READER}'), '1')"
        f"::INT AS r, coalesce((SELECT value FROM props WHERE key = '{WRITER}'), '2')::INT "
        "AS w) "
        "SELECT 'delta' AS format, $id AS id, $name AS name, rel.comment AS description, "
        "'file:' || rel.path || '#' || $s || '.' || $t AS location, "
        "commits.created AS createdAt, commits.modified AS lastModified, "
        "coalesce((SELECT partition_columns FROM layout), []::VARCHAR[]) AS partitionColumns, "
        "coalesce((SELECT clustering_columns FROM layout), []::VARCHAR[]) AS clusteringColumns, "
        "(CASE WHEN rel.estimated_size > 0 THEN 1 ELSE 0 END)::BIGINT AS numFiles, "
        f"(rel.estimated_size * {_WIDTH})::BIGINT AS sizeInBytes, "
        "coalesce((SELECT map_from_entries(list({'key': key, 'value': value} ORDER BY key)) "
        f"FROM props WHERE {config}), MAP()::MAP(VARCHAR, VARCHAR)) AS properties, "
        "protocol.r AS minReaderVersion, protocol.w AS minWriterVersion, "
        f"{_FEATURES} AS tableFeatures "
        "FROM rel, guard, commits, protocol WHERE guard.g IS NULL"
    )
    return plan.Plan(sql, params, "DESCRIBE", target=name, access=_seeing(name))


_JOB = (
    "STRUCT(jobId VARCHAR, jobName VARCHAR, jobRunId VARCHAR, runId VARCHAR, "
    "jobOwnerId VARCHAR, triggerType VARCHAR)"
)


def _history(name: tuple[str, str, str], limit: int | None) -> plan.Plan:
    """Newest first, as Delta lists a table's commits; SELECT on the table (it tells who wrote
    what, with which predicates)."""
    params = _params(name)
    sql = (
        f"WITH {_relation(name, 'DESCRIBE HISTORY')} "
        "SELECT version, ts AS timestamp, user_id AS userId, user_name AS userName, operation, "
        f"parameters AS operationParameters, NULL::{_JOB} AS job, "
        "NULL::STRUCT(notebookId VARCHAR) AS notebook, NULL::VARCHAR AS clusterId, "
        "CASE WHEN version > 0 THEN version - 1 END AS readVersion, "
        "'WriteSerializable' AS isolationLevel, blind AS isBlindAppend, "
        "coalesce(metrics, MAP()::MAP(VARCHAR, VARCHAR)) AS operationMetrics, "
        "NULL::VARCHAR AS userMetadata, "
        f"'{ENGINE_INFO}' AS engineInfo FROM {HISTORY}, guard "
        f"WHERE guard.g IS NULL AND {_OWN} ORDER BY version DESC"
        + (f" LIMIT {limit}" if limit is not None else "")
    )
    return plan.Plan(sql, params, "DESCRIBE", target=name, access=(Access("SELECT", *name),))


_FILES = "STRUCT(min BIGINT, max BIGINT, avg DOUBLE, totalFiles BIGINT, totalSize BIGINT)"


def _optimize(name: tuple[str, str, str], where: str | None, zorder: str | None) -> plan.Plan:
    """Nothing to compact (see the module's docstring), after Delta's checks: the predicate
    names partition columns only, the Z-Order columns exist and are not partition columns."""
    params = _params(name)
    ordered = [c.lower() for c in plan.split_name((zorder or "").strip().strip("()"))]
    referenced: list[str] = []
    if where is not None:
        try:
            predicate = exp.maybe_parse(where, dialect="databricks")
        except Exception:  # sqlglot's ParseError and TokenError
            raise plan.SqlError(
                f"[PARSE_SYNTAX_ERROR] Syntax error in OPTIMIZE's WHERE: {where}. SQLSTATE: 42601",
                sql_state="42601",
            ) from None
        referenced = sorted({c.name.lower() for c in predicate.find_all(exp.Column)})
    params["z"], params["p"] = ordered, referenced  # type: ignore[assignment]
    checks = (
        f"layout AS (SELECT coalesce((SELECT partition_columns FROM {LAYOUT} WHERE {_OWN}), "
        "[]::VARCHAR[]) AS parts), "
        "names AS (SELECT (SELECT list(lower(column_name)) FROM duckdb_columns() WHERE "
        "database_name = $c AND lower(schema_name) = $s AND lower(table_name) = $t) AS cols), "
        "wrong AS (SELECT parts, "
        "list_filter($p::VARCHAR[], lambda x: NOT list_contains(parts, x)) AS data_columns, "
        "list_filter($z::VARCHAR[], lambda x: NOT list_contains(cols, x)) AS absent, "
        "list_filter($z::VARCHAR[], lambda x: list_contains(parts, x)) AS partitions "
        "FROM layout, names), "
        "checked AS (SELECT CASE WHEN len(data_columns) > 0 THEN "
        "error('[DELTA_NON_PARTITION_COLUMN_REFERENCE] Predicate references non-partition "
        "column ''' || data_columns[1] || '''. Only the partition columns may be referenced: ['"
        " || array_to_string(parts, ', ') || ']. SQLSTATE: 42P10') "
        "WHEN len(absent) > 0 THEN error('[DELTA_ZORDERING_COLUMN_DOES_NOT_EXIST] Z-Ordering "
        "column ' || absent[1] || ' does not exist in data schema. SQLSTATE: 42703') "
        "WHEN len(partitions) > 0 THEN error('[DELTA_ZORDERING_ON_PARTITION_COLUMN] ' || "
        "partitions[1] || ' is a partition column. Z-Ordering can only be performed on data "
        "columns. SQLSTATE: 42P10') END AS c FROM wrong)"
    )
    none = f"{{'min': NULL, 'max': NULL, 'avg': 0.0, 'totalFiles': 0, 'totalSize': 0}}::{_FILES}"
    metrics = (
        f"{{'numFilesAdded': 0::BIGINT, 'numFilesRemoved': 0::BIGINT, 'filesAdded': {none}, "
        f"'filesRemoved': {none}, 'partitionsOptimized': 0::BIGINT, "
        "'zOrderStats': NULL::STRUCT(strategyName VARCHAR, numOutputCubes BIGINT), "
        "'numBatches': 0::BIGINT, 'totalConsideredFiles': numFiles, "
        "'totalFilesSkipped': numFiles, 'preserveInsertionOrder': false, "
        "'numFilesSkippedToReduceWriteAmplification': 0::BIGINT, "
        "'numBytesSkippedToReduceWriteAmplification': 0::BIGINT, "
        "'startTimeMs': epoch_ms(now()), 'endTimeMs': epoch_ms(now()), "
        "'totalClusterParallelism': 1::BIGINT, 'totalScheduledTasks': 0::BIGINT, "
        "'numTableColumns': len(types)::BIGINT, 'numTableColumnsWithStats': len(types)::BIGINT, "
        "'totalTaskExecutionTimeMs': 0::BIGINT, 'skippedArchivedFiles': 0::BIGINT}"
    )
    sql = (
        f"WITH {_relation(name, 'OPTIMIZE')}, {checks}, "
        "files AS (SELECT (CASE WHEN estimated_size > 0 THEN 1 ELSE 0 END)::BIGINT AS numFiles, "
        "path, types FROM rel) "
        f"SELECT 'file:' || path || '#' || $s || '.' || $t AS path, {metrics} AS metrics "
        "FROM files, guard, checked WHERE guard.g IS NULL AND checked.c IS NULL"
    )
    return plan.Plan(sql, params, "OPTIMIZE", target=name, access=(Access("MODIFY", *name),))


def _maintenance(kind: str, name: tuple[str, str, str], found: re.Match[str]) -> plan.Plan:
    """VACUUM (the table's path; a DRY RUN lists no file: DuckDB keeps none to remove),
    ANALYZE TABLE ... COMPUTE STATISTICS and REFRESH TABLE (nothing to do: DuckDB keeps its
    statistics current and caches nothing stale), SHOW PARTITIONS (the engine reads the
    layout: `partitions`); each after the table's checks, as Databricks makes them."""
    params = _params(name)
    verbs = {"vacuum": "VACUUM", "analyze": "ANALYZE TABLE", "refresh": "REFRESH TABLE"}
    if kind == "partitions":
        return plan.Plan(
            "", params, "SHOW", kind="partitions", target=name,
            access=(Access("SELECT", *name),),
        )  # fmt: skip
    checks = _relation(name, verbs[kind], table_only=kind != "refresh")
    if kind == "analyze" and found["columns"]:
        params["cols"] = [c.lower() for c in plan.split_name(found["columns"])]  # type: ignore[assignment]
        checks += (
            ", known AS (SELECT list(lower(column_name)) AS cols FROM duckdb_columns() WHERE "
            "database_name = $c AND lower(schema_name) = $s AND lower(table_name) = $t), "
            "absent AS (SELECT list_filter($cols::VARCHAR[], lambda x: NOT list_contains(cols, "
            "x)) AS missing FROM known), "
            "columns_checked AS (SELECT CASE WHEN len(missing) > 0 THEN "
            "error('[UNRESOLVED_COLUMN.WITHOUT_SUGGESTION] A column, variable, or function "
            "parameter with name `' || missing[1] || '` cannot be resolved. SQLSTATE: 42703') "
            "END AS g FROM absent)"
        )
        guard = "(SELECT g FROM columns_checked)"
    else:
        guard = "NULL"
    if kind == "vacuum":
        # A DRY RUN lists the files a VACUUM would remove: none (`path IS NULL` holds for no
        # table, while the checks are still made; a constant false would skip them).
        sql = (
            f"WITH {checks} SELECT 'file:' || path || '#' || $s || '.' || $t AS path "
            "FROM rel, guard WHERE guard.g IS NULL"
            + (" AND rel.path IS NULL" if found["dry"] else "")
        )
        return plan.Plan(
            sql, _used(params, sql), "OTHER", target=name, access=(Access("MODIFY", *name),)
        )  # fmt: skip
    # Run for their checks only (a missing table, a view for ANALYZE, a column); the engine
    # answers nothing ("checked").
    sql = f"WITH {checks} SELECT guard.g, {guard} AS columns_g FROM guard"
    privilege = "MODIFY" if kind == "analyze" else "SELECT"
    return plan.Plan(
        sql, _used(params, sql), "OTHER", kind="checked", target=name,
        access=(Access(privilege, *name),),
    )  # fmt: skip


def _used(params: dict[str, str], sql: str) -> dict[str, str]:
    """The parameters `sql` names (DuckDB refuses one it does not)."""
    return {k: v for k, v in params.items() if re.search(rf"\${k}\b", sql)}


def partitions_sql(name: tuple[str, str, str], columns: list[str]) -> str:
    """SHOW PARTITIONS' query: the distinct values of the partition columns, in order."""
    listed = ", ".join(plan.quote(c) for c in columns)
    table = ".".join(plan.quote(p) for p in (plan.duck_catalog(name[0]), name[1], name[2]))
    return f"SELECT DISTINCT {listed} FROM {table} ORDER BY {listed}"


def _seeing(name: tuple[str, str, str]) -> tuple[Access, ...]:
    seeing = to_see(name)
    return (seeing,) if seeing is not None else ()


def describe_properties() -> str:
    """DESCRIBE TABLE EXTENDED's `Table Properties` row (label, value, order): `[k=v,...]`,
    for the table `$catalog`.`$s`.`$t` (a table, not a view: `kind` from its `rel`)."""
    own = "catalog = lower($catalog) AND schema = lower($s) AND table_name = lower($t)"
    rows = (
        f"SELECT key, value FROM {PROPERTIES} WHERE {own} UNION ALL SELECT key, value FROM "
        f"({_DEFAULT_ROWS}) WHERE key NOT IN (SELECT key FROM {PROPERTIES} WHERE {own})"
    )
    return (
        "SELECT 'Table Properties', '[' || (SELECT string_agg(key || '=' || value, ',' "
        f"ORDER BY key) FROM ({rows})) || ']', '', 100008 FROM rel WHERE kind <> 'VIEW'"
    )


def create_clauses() -> str:
    """SHOW CREATE TABLE's clauses after `USING delta`, for the table `$catalog`.`$s`.`$t` (a
    SQL string expression): PARTITIONED BY or CLUSTER BY, then TBLPROPERTIES, as Databricks
    prints them."""
    own = "catalog = lower($catalog) AND schema = lower($s) AND table_name = lower($t)"
    layout = f"(SELECT * FROM {LAYOUT} WHERE {own})"
    rows = (
        f"SELECT key, value FROM {PROPERTIES} WHERE {own} UNION ALL SELECT key, value FROM "
        f"({_DEFAULT_ROWS}) WHERE key NOT IN (SELECT key FROM {PROPERTIES} WHERE {own})"
    )
    quoted = "'''' || replace({0}, '''', '\\''') || ''''"
    return (
        "coalesce((SELECT CASE WHEN len(partition_columns) > 0 THEN '\nPARTITIONED BY (' || "
        "array_to_string(partition_columns, ', ') || ')' WHEN len(clustering_columns) > 0 THEN "
        "'\nCLUSTER BY (' || array_to_string(clustering_columns, ', ') || ')' END "
        f"FROM {layout}), '') || '\nTBLPROPERTIES (\n' || (SELECT string_agg('  ' || "
        f"{quoted.format('key')} || ' = ' || {quoted.format('value')}, ',\n' ORDER BY key) "
        f"FROM ({rows})) || ')'"
    )
