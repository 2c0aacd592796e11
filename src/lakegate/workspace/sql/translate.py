"""Databricks SQL -> DuckDB: sqlglot translation, real parameter binding, SHOW/DESCRIBE/USE,
catalog names, and Databricks type names for DuckDB types.

Parameters are never pasted into SQL text: every `:name` marker becomes a DuckDB `$name`
placeholder (wrapped in a CAST when the parameter has a type) and the value is bound.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

from lakegate.workspace.sql import (
    decimals,
    duckdb_only,
    grants_sql,
    metadata,
    settings,
    temp_views,
)
from lakegate.workspace.sql.access import Access, Seeing, accesses, created, dropped, to_see
from lakegate.workspace.sql.delta import commands, identity, keys, tablelog

# Defined in plan.py (so metadata.py can use them without importing this module); kept importable
# from here, where the rest of the workspace has always found them.
from lakegate.workspace.sql.plan import ALIAS_SUFFIX as ALIAS_SUFFIX
from lakegate.workspace.sql.plan import CATALOG_NAME as CATALOG_NAME
from lakegate.workspace.sql.plan import NAME as NAME
from lakegate.workspace.sql.plan import RESERVED_CATALOGS as RESERVED_CATALOGS
from lakegate.workspace.sql.plan import Parameter as Parameter
from lakegate.workspace.sql.plan import Plan as Plan
from lakegate.workspace.sql.plan import SqlError as SqlError
from lakegate.workspace.sql.plan import duck_catalog as duck_catalog
from lakegate.workspace.sql.plan import quote as quote
from lakegate.workspace.sql.plan import split_name as split_name
from lakegate.workspace.sql.plan import uc_catalog as uc_catalog
from lakegate.workspace.sql.semantics import databricks_semantics, lenient_datetimes

# sqlglot parses recursively, ~20 frames per level of parentheses: Python's default 1,000 frames
# refused SQL nested 50 deep. 10,000 allow ~450 levels (deeper is a PARSE_SYNTAX_ERROR).
if sys.getrecursionlimit() < 10_000:
    sys.setrecursionlimit(10_000)
# sqlglot warns on every statement it hands over unparsed; that is expected here, not news.
logging.getLogger("sqlglot").setLevel(logging.ERROR)

PARAM_TYPE = re.compile(r"^\s*([A-Za-z_]+)\s*(\(\s*\d+\s*(,\s*\d+\s*)?\))?\s*$")
PARAM_TYPES = frozenset(
    {"STRING", "VARCHAR", "CHAR", "INT", "INTEGER", "BIGINT", "LONG", "SMALLINT", "SHORT"}
    | {"TINYINT", "BYTE", "FLOAT", "REAL", "DOUBLE", "DECIMAL", "DEC", "NUMERIC", "BOOLEAN"}
    | {"DATE", "TIMESTAMP", "TIMESTAMP_NTZ", "TIMESTAMP_LTZ", "BINARY", "VOID"}
)


# Transaction control: every statement commits on its own here. A transaction left open on the
# engine's shared connections would run (and abort) other callers' statements inside it.
TRANSACTION_CONTROL = re.compile(
    r"^\s*(BEGIN|START\s+TRANSACTION|COMMIT|ROLLBACK|END|ABORT|SAVEPOINT|RELEASE)\b", re.I
)


def plan(
    text: str,
    params: list[Parameter],
    *,
    catalog: str,
    schema: str,
    user: str,
    seen: Seeing = None,
    confs: Mapping[str, str] | None = None,
    views: temp_views.Views | None = None,
    columns: decimals.Lookup | None = None,
) -> Plan:
    """Translate one Databricks SQL statement for DuckDB, binding `params`; listings
    (SHOW, information_schema, the connectors' metadata) show only what `seen` says the caller
    may see (asked only for those). `confs`: the session's settings (settings.py); `views`:
    its temporary views (temp_views.py); `columns`: a table's column types (for Spark's
    decimal division; without it, a column is not typed)."""
    try:
        return _plan(
            text, params, catalog=catalog, schema=schema, user=user, seen=seen, confs=confs,
            views=views or {}, columns=columns,
        )  # fmt: skip
    except RecursionError:
        raise SqlError(
            "[PARSE_SYNTAX_ERROR] Syntax error: the statement is nested too deeply to parse; "
            "nest fewer parentheses or subqueries. SQLSTATE: 42601",
            sql_state="42601",
        ) from None


def _plan(
    text: str,
    params: list[Parameter],
    *,
    catalog: str,
    schema: str,
    user: str,
    seen: Seeing = None,
    confs: Mapping[str, str] | None = None,
    views: temp_views.Views,
    columns: decimals.Lookup | None = None,
) -> Plan:
    stripped = text.strip().rstrip(";").strip()
    found = TRANSACTION_CONTROL.match(stripped)
    if found:
        raise SqlError(
            f"[PARSE_SYNTAX_ERROR] Syntax error at or near '{found.group(1).upper()}': "
            "transaction statements (BEGIN, COMMIT, ROLLBACK, ...) are not supported; every "
            "statement commits on its own. SQLSTATE: 42601",
            sql_state="42601",
        )
    granted = grants_sql.parse(stripped, catalog, schema)
    if granted is not None:
        return granted
    setting = settings.translate(stripped, confs)
    if setting is not None:
        return setting
    meta = metadata.translate(stripped, catalog, schema, seen, sorted(views)) or _meta(
        stripped, catalog, schema, seen
    )
    if meta is not None:
        meta.access = _meta_access(meta)
        return meta
    logged = commands.translate(stripped, catalog, schema, user)
    if logged is not None:
        return logged
    dropped_key = keys.drop_statement(stripped, catalog, schema)
    if dropped_key is not None:
        dropped_key.commit = tablelog.Commit(dropped_key.target, "DROP CONSTRAINT", user=user)
        return dropped_key
    uncomment = keys.comment_null(stripped)  # COMMENT ON ... IS NULL, which sqlglot cannot read
    try:
        trees = [t for t in sqlglot.parse(uncomment or text, read="databricks") if t is not None]
    except ParseError as exc:
        raise _syntax_error(exc, uncomment or text) from None
    if len(trees) != 1:
        raise SqlError(
            "[PARSE_SYNTAX_ERROR] Exactly one SQL statement is allowed per request, got "
            f"{len(trees)}. SQLSTATE: 42601",
            sql_state="42601",
        )
    tree = keys.unset_comment(trees[0]) if uncomment else trees[0]
    if isinstance(tree, exp.Command):
        # sqlglot could not model it: hand DuckDB the text (markers cannot be bound then).
        duckdb_only.check_command(text)
        if re.search(r"(?<![:\w]):[A-Za-z_]", text):
            raise SqlError("[UNSUPPORTED_FEATURE] Parameters are not supported in this statement.")
        return Plan(sql=text, statement_type=_statement_type(tree))
    duckdb_only.check_statement(tree, text)
    if temp_views.is_create(tree):
        return _temp_view(
            tree, catalog=catalog, schema=schema, user=user, confs=confs, views=views,
            columns=columns,
        )  # fmt: skip
    gone_view = temp_views.dropped(tree, views)
    if gone_view is not None:
        return Plan("", statement_type="DROP", kind="temp_view", view=(gone_view, None))
    tree = temp_views.inline(tree, views)  # before the privilege check: it reads their tables
    if isinstance(tree, exp.Create | exp.Drop) and str(tree.args.get("kind")).upper() == "DATABASE":
        tree.set("kind", "SCHEMA")  # DATABASE is Databricks' other word for SCHEMA
    if isinstance(tree, exp.Create) and str(tree.args.get("kind")).upper() in _LOWERED:
        _lower_name(tree)
    needed = accesses(tree, catalog, schema)
    made = created(tree, catalog, schema)
    gone = dropped(tree, catalog, schema)
    # Delta's informational keys and inline comments (delta/keys.py), and its log
    # (delta/tablelog.py): out of DuckDB's DDL.
    key_change, after, sequences, sweep = None, [], [], None
    commit = tablelog.commit_of(tree, catalog, schema, user)
    moved = tablelog.renamed(tree, catalog, schema)
    if isinstance(tree, exp.Create):
        commit = tablelog.create_table(tree, catalog, schema, user)
        taken = keys.create_table(tree, catalog, schema)
        if taken is not None:
            change, after = taken
            sequences = identity.create_table(tree, catalog, schema)
            # Only a table with keys, or one replacing another, touches the keys record; only
            # new sequences, or a replaced table's, can be left unused.
            replacing = bool(tree.args.get("replace"))
            key_change = change if change.add or replacing else None
            sweep = change.table[:2] if sequences or replacing else None
    elif isinstance(tree, exp.Drop) and gone is not None and gone[0] == "TABLE":
        sweep = tuple(gone[1].split(".")[:2])
    elif isinstance(tree, exp.Alter):
        altered = keys.alter(tree, catalog, schema)
        if altered is not None and not altered[1]:
            return Plan(
                "", statement_type="ALTER", kind="keys", keys=altered[0], access=needed,
                commit=commit,
            )  # fmt: skip
        if altered is not None:
            first, *rest = altered[1]
            return Plan(
                first, statement_type="ALTER", after=tuple(rest), access=needed, commit=commit
            )
    _spark_range(tree)
    writes = identity.written(tree, catalog, schema)
    bound = _bind(tree, params)
    # Functions and operators DuckDB answers differently (semantics.py), under the session's
    # ANSI_MODE and TIMEZONE.
    typed = decimals.ColumnTypes(columns, catalog, schema) if columns is not None else None
    tree = databricks_semantics(tree, confs, typed)
    written = metadata.written_tables(tree)
    tree = metadata.spark_names(
        tree.transform(lambda node: _rewrite(node, catalog, schema, user, seen))
    )
    before = (*sequences, *metadata.overwrite_prelude(tree))
    statement_type = _statement_type(tree)
    # DuckDB reports DML as a `Count` column; Databricks calls it num_affected_rows.
    dml = isinstance(tree, exp.Insert | exp.Update | exp.Delete)
    rename = {"Count": "num_affected_rows"} if dml else {}
    return Plan(
        sql=tree.sql(dialect="duckdb"),
        lenient=lenient_datetimes(tree),
        params=bound,
        statement_type=statement_type,
        rename=rename,
        before=before,
        tables=written,
        access=needed,
        created=made,
        dropped=gone,
        after=tuple(after),
        keys=key_change,
        writes=writes,
        sweep=sweep,
        if_exists=bool(tree.args.get("exists")) and isinstance(tree, exp.Create),
        commit=commit,
        moved=moved,
    )


def _temp_view(
    tree: exp.Create,
    *,
    catalog: str,
    schema: str,
    user: str,
    confs: Mapping[str, str] | None,
    views: temp_views.Views,
    columns: decimals.Lookup | None,
) -> Plan:
    """CREATE TEMPORARY VIEW: the session keeps the query (`view`); the engine binds its
    translation now (`sql`), as Spark analyzes a view's query when it is made."""
    name, query = temp_views.created(tree, views)
    if query is None:
        return Plan("", statement_type="CREATE", kind="temp_view")
    text = query.sql(dialect="databricks")
    checked = _plan(
        text, [], catalog=catalog, schema=schema, user=user, confs=confs, views=views,
        columns=columns,
    )  # fmt: skip
    return Plan(
        checked.sql, statement_type="CREATE", kind="temp_view", access=checked.access,
        view=(name, text),
    )  # fmt: skip


# Unity Catalog keeps schema, table and view names in lower case, however the CREATE wrote them
# (`CREATE TABLE \`T1\`` makes t1); DuckDB would keep the case (and match any case anyway).
_LOWERED = ("SCHEMA", "TABLE", "VIEW")


def _lower_name(tree: exp.Create) -> None:
    target = tree.this.this if isinstance(tree.this, exp.Schema) else tree.this
    if isinstance(target, exp.Table):
        for part in target.parts:
            if isinstance(part, exp.Identifier):
                part.set("this", part.this.lower())


def _syntax_error(exc: ParseError, text: str) -> SqlError:
    """Spark's PARSE_SYNTAX_ERROR: the token it stopped at, its position, and the statement's
    line with a marker under it (clients show it; the connector's suite looks for the SQL)."""
    found = exc.errors[0] if exc.errors else {}
    near, line = str(found.get("highlight") or "").strip(), int(found.get("line") or 1)
    if not near:
        return SqlError(
            f"[PARSE_SYNTAX_ERROR] Syntax error: {_first_line(str(exc)).rstrip('.')}. "
            "SQLSTATE: 42601",
            sql_state="42601",
        )
    lines = text.splitlines() or [text]
    shown = lines[min(line, len(lines)) - 1]
    pos = max(0, int(found.get("col") or 0) - len(near))
    return SqlError(
        f"[PARSE_SYNTAX_ERROR] Syntax error at or near '{near}'. SQLSTATE: 42601 "
        f"(line {line}, pos {pos})\n\n== SQL ==\n{shown}\n{'-' * pos}{'^' * len(near)}",
        sql_state="42601",
    )


def _meta_access(planned: Plan) -> tuple[Access, ...]:
    """What a SHOW / DESCRIBE / USE / CREATE CATALOG needs, from the names it targets: a table's
    metadata needs BROWSE (or any privilege on it), a schema's listing USE SCHEMA, a catalog's
    USE CATALOG. Listings across catalogs (`IN ALL CATALOGS`) are not narrowed yet."""
    target = tuple(p.lower() for p in planned.target)
    if planned.kind == "create_catalog":
        return (Access("CREATE_CATALOG", target[0]),)
    if planned.kind == "drop_catalog":
        return (Access("MANAGE", target[0]),)
    seeing = to_see(target)
    return (seeing,) if seeing is not None else ()


def _bind(tree: exp.Expression, params: list[Parameter]) -> dict[str, Any]:
    """Bind each marker (`:name`, :`any name`, or `?` in order) to its parameter, as a DuckDB
    placeholder of our own naming (`$p0`...), so any name Databricks takes binds."""
    given = {p.name.lower(): p for p in params if p.name}
    positional = [p for p in params if not p.name]
    markers = list(tree.find_all(exp.Placeholder))
    if any(m.this is None for m in markers) and any(m.this is not None for m in markers):
        raise SqlError(
            "[UNSUPPORTED_FEATURE] A statement may use named parameter markers (:name) or "
            "positional ones (?), not both. SQLSTATE: 0A000",
            sql_state="0A000",
        )
    placeholders: dict[int, str] = {}
    bound: dict[str, Any] = {}
    unused = iter(positional)
    for index, node in enumerate(markers):
        name = node.this if isinstance(node.this, str) else None
        param = given.get(name.lower()) if name is not None else next(unused, None)
        if param is None:
            raise SqlError(
                f"[UNBOUND_SQL_PARAMETER] Found the unbound parameter: {name or f'_{index}'}. "
                "Please, fix `args` and provide a mapping of the parameter to a SQL literal. "
                "SQLSTATE: 42P02",
                sql_state="42P02",
            )
        marker = _marker(param, placeholders, bound)
        if param.items is None:  # a bare SELECT item is named as Spark names the literal
            marker = _named(node, marker, "NULL" if param.value is None else param.value)
        node.replace(marker)
    return bound


def _spark_range(tree: exp.Expression) -> None:
    """`FROM range(...)` as Spark has it: one BIGINT column named `id` (DuckDB names it
    `range`), bounds cast to BIGINT (`range(12500000.0)`), no numPartitions argument."""
    for table in list(tree.find_all(exp.Table)):
        call = table.this
        if not isinstance(call, exp.Anonymous) or call.name.lower() != "range":
            continue
        bounds = [exp.cast(a.copy(), "BIGINT") for a in call.expressions[:3]]
        inner = exp.Table(this=exp.Anonymous(this="range", expressions=bounds))
        rows = exp.select(exp.alias_(exp.column("range"), "id")).from_(inner)
        alias = table.args.get("alias")
        table.replace(exp.Subquery(this=rows, alias=alias.copy() if alias else None))


def _marker(
    param: Parameter, placeholders: dict[int, str], bound: dict[str, Any]
) -> exp.Expression:
    """The DuckDB expression a parameter binds as: a placeholder (cast to its type), or for an
    ARRAY / MAP the constructor of its elements' placeholders (`placeholders`: each parameter's
    placeholder name, by the parameter's identity; `bound`: name -> value)."""
    if param.items is not None:
        elements = [_marker(item, placeholders, bound) for item in param.items]
        if param.type == "MAP":
            return exp.VarMap(
                keys=exp.Array(expressions=elements[0::2]),
                values=exp.Array(expressions=elements[1::2]),
            )
        return exp.Array(expressions=elements)
    key = placeholders.setdefault(id(param), f"p{len(placeholders)}")
    bound[key] = param.value
    marker: exp.Expression = exp.Placeholder(this=key)
    if param.type and param.type.upper() not in ("STRING", "VARCHAR", "VOID"):
        marker = exp.Cast(this=marker, to=_param_type(param.type))
    return marker


def _param_type(text: str) -> exp.DataType:
    spelled = {"LONG": "BIGINT", "SHORT": "SMALLINT", "BYTE": "TINYINT"}
    match = PARAM_TYPE.match(text)
    base = match.group(1).upper() if match else ""
    return exp.DataType.build(
        spelled.get(base, base) + (match.group(2) or "" if match else ""), dialect="databricks"
    )


def check_param_type(text: str) -> bool:
    """Whether `text` is a parameter type this API accepts (validated before any binding)."""
    match = PARAM_TYPE.match(text)
    return bool(match) and match.group(1).upper() in PARAM_TYPES


def _rewrite(
    node: exp.Expression,
    catalog: str,
    schema: str,
    user: str,
    seen: Seeing = None,
) -> exp.Expression:
    if isinstance(node, exp.Table) and node.db.lower() == "information_schema":
        return metadata.information_schema(node, catalog, seen)
    if isinstance(node, exp.Table) and node.args.get("catalog") is not None:
        part = node.args["catalog"]
        node.set("catalog", exp.to_identifier(duck_catalog(part.name), quoted=True))
    elif isinstance(node, exp.CurrentCatalog | exp.CurrentSchema | exp.CurrentDatabase):
        value = catalog if isinstance(node, exp.CurrentCatalog) else schema
        name = "current_catalog()" if isinstance(node, exp.CurrentCatalog) else "current_schema()"
        return _named(node, exp.Literal.string(value), name)
    elif isinstance(node, exp.CurrentUser):
        return _named(node, exp.Literal.string(user), "current_user()")
    return node


def _named(node: exp.Expression, value: exp.Expression, name: str) -> exp.Expression:
    """`value`, keeping Databricks' column name when it is a bare SELECT item."""
    if isinstance(node.parent, exp.Select) and node.arg_key == "expressions":
        return exp.alias_(value, name, quoted=True)
    return value


def _statement_type(tree: exp.Expression) -> str:
    kinds = {
        exp.Select: "SELECT",
        exp.Union: "SELECT",
        exp.Insert: "INSERT",
        exp.Update: "UPDATE",
        exp.Delete: "DELETE",
        exp.Create: "CREATE",
        exp.Drop: "DROP",
        exp.Alter: "ALTER",
        exp.Merge: "MERGE",
        exp.Describe: "DESCRIBE",
    }
    for kind, name in kinds.items():
        if isinstance(tree, kind):
            return name
    return "OTHER"


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else "invalid statement"


# -- SHOW / DESCRIBE / USE / CREATE CATALOG --------------------------------------------------

_IDENT = r"(?:`[^`]+`|[A-Za-z_][A-Za-z0-9_]*)"
_QNAME = rf"{_IDENT}(?:\s*\.\s*{_IDENT})*"
_LIKE = r"""(?:\s+(?:LIKE\s+)?(?P<q>['"])(?P<pattern>.*?)(?P=q))?"""
_META = [
    ("show_catalogs", re.compile(rf"^SHOW\s+CATALOGS{_LIKE}$", re.I)),
    (
        "show_schemas",
        re.compile(
            rf"^SHOW\s+(?:SCHEMAS|DATABASES)(?:\s+(?:IN|FROM)\s+(?P<name>{_IDENT}))?{_LIKE}$", re.I
        ),
    ),
    (
        "show_tables",
        re.compile(rf"^SHOW\s+TABLES(?:\s+(?:IN|FROM)\s+(?P<name>{_QNAME}))?{_LIKE}$", re.I),
    ),
    (
        "describe",
        re.compile(rf"^(?:DESCRIBE|DESC)\s+(?:TABLE\s+)?(?:EXTENDED\s+)?(?P<name>{_QNAME})$", re.I),
    ),
    (
        "use",
        re.compile(rf"^USE\s+(?:(?P<what>CATALOG|SCHEMA|DATABASE)\s+)?(?P<name>{_QNAME})$", re.I),
    ),
    (
        "create_catalog",
        re.compile(
            rf"^CREATE\s+CATALOG\s+(?P<exists>IF\s+NOT\s+EXISTS\s+)?(?P<name>{_IDENT})$", re.I
        ),
    ),
    (
        "drop_catalog",
        re.compile(
            rf"^DROP\s+CATALOG\s+(?P<exists>IF\s+EXISTS\s+)?(?P<name>{_IDENT})(?:\s+(?P<mode>CASCADE|RESTRICT))?$",
            re.I,
        ),
    ),
]
_VISIBLE_SCHEMA = (
    "(s.schema_name NOT IN ('main', 'pg_catalog') OR EXISTS (SELECT 1 FROM duckdb_tables() t "
    "WHERE t.database_name = s.database_name AND t.schema_name = s.schema_name))"
)


def _pattern(raw: str | None) -> str:
    """Databricks' SHOW ... LIKE pattern (`*` any, `|` alternatives) as a regular expression;
    `%` is any run too (the SQL connector passes JDBC-style patterns through)."""
    if raw is None:
        return ".*"
    options = [re.escape(p.strip()).replace(r"\*", ".*").replace("%", ".*") for p in raw.split("|")]
    return "(?i)(" + "|".join(options) + ")"


def _meta(text: str, catalog: str, schema: str, seen: Seeing = None) -> Plan | None:
    for kind, pattern in _META:
        match = pattern.match(text)
        if match is None:
            continue
        groups = match.groupdict()
        name = split_name(groups.get("name") or "")
        regex = _pattern(groups.get("pattern"))
        if kind == "show_catalogs":
            sql = (
                "SELECT regexp_replace(database_name, '__uc$', '') AS catalog "
                "FROM duckdb_databases() WHERE NOT internal AND database_name <> 'memory' "
                "AND regexp_full_match(regexp_replace(database_name, '__uc$', ''), $p)"
                + metadata.visible(seen, "regexp_replace(database_name, '__uc$', '')")
                + " ORDER BY 1"
            )
            return Plan(sql, {"p": regex}, "SHOW")
        if kind == "show_schemas":
            cat = name[0] if name else catalog
            # Every Unity Catalog catalog has an information_schema (answered by metadata.py).
            sql = (
                "SELECT databaseName FROM (SELECT s.schema_name AS databaseName "
                f"FROM duckdb_schemas() s WHERE s.database_name = $c AND {_VISIBLE_SCHEMA}"
                + metadata.visible(seen, metadata.quoted(cat), "s.schema_name")
                + " UNION SELECT 'information_schema' FROM duckdb_databases() "
                "WHERE database_name = $c) WHERE regexp_full_match(databaseName, $p) ORDER BY 1"
            )
            return Plan(sql, {"c": duck_catalog(cat), "p": regex}, "SHOW", target=(cat,))
        if kind == "show_tables":
            cat, sch = (
                (name[-2], name[-1]) if len(name) >= 2 else (catalog, name[0] if name else schema)
            )
            sql = (
                "SELECT schema_name AS database, table_name AS tableName, false AS isTemporary "
                "FROM (SELECT database_name, schema_name, table_name FROM duckdb_tables() "
                "UNION ALL SELECT database_name, schema_name, view_name FROM duckdb_views() "
                "WHERE NOT internal) WHERE database_name = $c AND lower(schema_name) = lower($s) "
                "AND regexp_full_match(table_name, $p)"
                + metadata.visible(seen, metadata.quoted(cat), "schema_name", "table_name")
                + " ORDER BY 2"
            )
            params = {"c": duck_catalog(cat), "s": sch, "p": regex}
            return Plan(sql, params, "SHOW", target=(cat, sch))
        if kind == "describe":
            parts = [catalog, schema][: max(0, 3 - len(name))] + name
            sql = (
                "SELECT column_name AS col_name, data_type, comment FROM duckdb_columns() "
                "WHERE database_name = $c AND lower(schema_name) = lower($s) "
                "AND lower(table_name) = lower($t) "
                "ORDER BY column_index"
            )
            params = {"c": duck_catalog(parts[0]), "s": parts[1], "t": parts[2]}
            return Plan(sql, params, "DESCRIBE", kind="describe", target=tuple(parts))
        if kind == "use":
            what = (groups.get("what") or "").upper()
            if what == "CATALOG":
                target = (name[0], "default")
            elif len(name) >= 2:
                target = (name[-2], name[-1])
            else:
                target = (catalog, name[0])
            return Plan("", {}, "USE", kind="use", target=target)
        return Plan(
            "",
            {},
            "CREATE" if kind == "create_catalog" else "DROP",
            kind=kind,
            target=(name[0],),
            if_exists=bool(groups.get("exists")),
            cascade=(groups.get("mode") or "").upper() == "CASCADE",
            created=("CATALOG", name[0]) if kind == "create_catalog" else None,
            dropped=("CATALOG", name[0]) if kind == "drop_catalog" else None,
        )
    return None


# -- Databricks type names -------------------------------------------------------------------


@dataclass(frozen=True)
class ColumnType:
    """A column's type as Databricks reports it."""

    type_name: str  # ColumnInfoTypeName: INT, LONG, STRING, DECIMAL, ARRAY, ...
    type_text: str  # the SQL spelling: INT, BIGINT, DECIMAL(18,2), ARRAY<STRING>, ...
    precision: int | None = None
    scale: int | None = None


_SCALARS: dict[str, tuple[str, str]] = {
    # sqlglot DataType name -> (type_name, type_text)
    "BOOLEAN": ("BOOLEAN", "BOOLEAN"),
    "TINYINT": ("BYTE", "TINYINT"),
    "UTINYINT": ("SHORT", "SMALLINT"),
    "SMALLINT": ("SHORT", "SMALLINT"),
    "USMALLINT": ("INT", "INT"),
    "INT": ("INT", "INT"),
    "UINT": ("LONG", "BIGINT"),
    "BIGINT": ("LONG", "BIGINT"),
    "FLOAT": ("FLOAT", "FLOAT"),
    "DOUBLE": ("DOUBLE", "DOUBLE"),
    "DATE": ("DATE", "DATE"),
    "TIMESTAMPTZ": ("TIMESTAMP", "TIMESTAMP"),
    "TIMESTAMPLTZ": ("TIMESTAMP", "TIMESTAMP"),
    "TIMESTAMP": ("TIMESTAMP", "TIMESTAMP_NTZ"),
    "TIMESTAMPNTZ": ("TIMESTAMP", "TIMESTAMP_NTZ"),
    "VARBINARY": ("BINARY", "BINARY"),
    "BLOB": ("BINARY", "BINARY"),
    "INTERVAL": ("INTERVAL", "INTERVAL"),
    "NULL": ("NULL", "VOID"),
    "VARIANT": ("STRING", "VARIANT"),  # sent as its JSON text (engine._variants_as_json)
}
_WIDE_INTEGERS = {"UBIGINT": 20, "INT128": 38, "UINT128": 38}


def column_type(duck_type: str) -> ColumnType:
    """Databricks' name for a DuckDB type string (`DECIMAL(18,3)`, `INTEGER[]`, `STRUCT(...)`)."""
    if duck_type.strip('"').upper() == "NULL":
        return ColumnType("NULL", "VOID")
    try:
        parsed = exp.DataType.build(duck_type, dialect="duckdb")
    except (ParseError, ValueError):
        return ColumnType("STRING", "STRING")
    return _from_datatype(parsed)


def _from_datatype(dtype: exp.DataType) -> ColumnType:
    name = dtype.this.name
    inner = [e for e in dtype.expressions if isinstance(e, exp.DataType | exp.ColumnDef)]
    if name == "DECIMAL":
        sizes = [int(e.name) for e in dtype.expressions if isinstance(e, exp.DataTypeParam)]
        precision, scale = [*sizes, 18, 3][:2] if sizes else (18, 3)
        return ColumnType("DECIMAL", f"DECIMAL({precision},{scale})", precision, scale)
    if name in _WIDE_INTEGERS:
        precision = _WIDE_INTEGERS[name]
        return ColumnType("DECIMAL", f"DECIMAL({precision},0)", precision, 0)
    if name in ("ARRAY", "LIST") and inner:
        return ColumnType("ARRAY", f"ARRAY<{_text(inner[0])}>")
    if name == "MAP" and len(inner) == 2:
        return ColumnType("MAP", f"MAP<{_text(inner[0])}, {_text(inner[1])}>")
    if name == "STRUCT":
        fields = ", ".join(
            f"{f.name}: {_text(f.args['kind'])}" for f in inner if f.args.get("kind")
        )
        return ColumnType("STRUCT", f"STRUCT<{fields}>")
    type_name, type_text = _SCALARS.get(name, ("STRING", "STRING"))
    return ColumnType(type_name, type_text)


def _text(node: exp.Expression) -> str:
    return _from_datatype(node).type_text if isinstance(node, exp.DataType) else "STRING"
