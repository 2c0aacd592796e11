"""Temporary views: a session's own named queries, as Databricks keeps them.

`CREATE [OR REPLACE] TEMP[ORARY] VIEW v [(cols)] AS query` makes a view that only the session
that made it sees, and only until it ends; `DROP VIEW v` forgets it. The session keeps the
query's text (Thrift and SEA sessions alike); a later statement of the session that names `v`
unqualified reads the query in its place, as a subquery. So the engine's pooled connections
never hold session state, and Unity Catalog checks the caller's privileges on what the view
reads, as Databricks does. `SHOW VIEWS` lists them with `isTemporary` true.
"""

from __future__ import annotations

from collections.abc import Mapping

import sqlglot
from sqlglot import exp

from lakegate.workspace.sql.plan import SqlError

Views = Mapping[str, str]  # lower-case name -> the query, as Databricks SQL
_DEPTH = 16  # views naming views: deeper than this is a cycle


def is_create(tree: exp.Expression) -> bool:
    properties = tree.args.get("properties")
    return (
        isinstance(tree, exp.Create)
        and str(tree.args.get("kind")).upper() == "VIEW"
        and properties is not None
        and any(isinstance(p, exp.TemporaryProperty) for p in properties.expressions)
    )


def created(tree: exp.Create, views: Views) -> tuple[str, exp.Expression | None]:
    """The name and query of a CREATE TEMPORARY VIEW, checked as Spark checks them (no query:
    IF NOT EXISTS found the view already there)."""
    target = tree.this
    columns = target.expressions if isinstance(target, exp.Schema) else []
    table = target.this if isinstance(target, exp.Schema) else target
    if any(isinstance(p, exp.GlobalProperty) for p in tree.args["properties"].expressions):
        raise SqlError(
            "[NOT_SUPPORTED_COMMAND_WITHOUT_LEGACY_ENABLED] GLOBAL TEMPORARY VIEW is not "
            "supported on a SQL warehouse; create a TEMPORARY VIEW. SQLSTATE: 0A000",
            sql_state="0A000",
        )
    if not isinstance(table, exp.Table) or table.args.get("db") or table.args.get("catalog"):
        raise SqlError(
            f"[TEMP_VIEW_NAME_TOO_MANY_NAME_PARTS] CREATE TEMPORARY VIEW expects a single-part "
            f"view name, but got: {table.sql(dialect='databricks')}. SQLSTATE: 428EK",
            sql_state="428EK",
        )
    name = table.name.lower()
    if name in views and tree.args.get("exists"):
        return name, None  # IF NOT EXISTS: the session's view stays
    if name in views and not tree.args.get("replace"):
        raise SqlError(
            f"[TEMP_TABLE_OR_VIEW_ALREADY_EXISTS] Cannot create the temporary view `{name}` "
            "because it already exists. Choose a different name, drop or replace the existing "
            "view, or add the IF NOT EXISTS clause to tolerate pre-existing views. "
            "SQLSTATE: 42P07",
            sql_state="42P07",
        )
    query = tree.expression
    if query is None or query.find(exp.Placeholder, exp.Parameter) is not None:
        raise SqlError(
            "[UNSUPPORTED_FEATURE.PARAMETER_MARKER_IN_UNEXPECTED_STATEMENT] The feature is not "
            "supported: parameter markers in a view's query. SQLSTATE: 0A000",
            sql_state="0A000",
        )
    if columns:  # v (a, b): the query's columns renamed
        aliased = exp.TableAlias(this=exp.to_identifier(name), columns=[c.this for c in columns])
        query = exp.select("*").from_(exp.Subquery(this=query, alias=aliased))
    return name, query


def dropped(tree: exp.Expression, views: Views) -> str | None:
    """The temporary view a `DROP VIEW v` names, if the session has one by that name."""
    if not isinstance(tree, exp.Drop) or str(tree.args.get("kind")).upper() != "VIEW":
        return None
    tables = tree.args.get("tables") or [tree.this]
    if len(tables) != 1 or not isinstance(tables[0], exp.Table):
        return None
    table = tables[0]
    if table.args.get("db") or table.name.lower() not in views:
        return None
    return table.name.lower()


def apply(views: dict[str, str], change: tuple[str, str | None]) -> None:
    """A session's temporary views after a statement made (name, query) or dropped one."""
    name, query = change
    if query is None:
        views.pop(name, None)
    else:
        views[name] = query


def inline(tree: exp.Expression, views: Views, depth: int = 0) -> exp.Expression:
    """`tree` with every unqualified read of a temporary view replaced by its query."""
    if not views:
        return tree
    shadowed = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    for table in list(tree.find_all(exp.Table)):
        name = table.name.lower()
        if name not in views or name in shadowed or table.args.get("db") or not _read(table):
            continue
        if depth >= _DEPTH:
            raise SqlError(
                f"[RECURSIVE_VIEW] Recursive view `{name}` detected (cycle: the view reads "
                "itself). SQLSTATE: 42K0H",
                sql_state="42K0H",
            )
        query = inline(sqlglot.parse_one(views[name], read="databricks"), views, depth + 1)
        alias = exp.TableAlias(this=exp.to_identifier(table.alias or name))
        subquery = exp.Subquery(this=query, alias=alias)
        if table is tree:
            return subquery
        table.replace(subquery)
    return tree


def _read(table: exp.Table) -> bool:
    """Whether the statement reads `table` (FROM, JOIN, MERGE ... USING), not writes or names it."""
    parent = table.parent
    if isinstance(parent, exp.From | exp.Join):
        return True
    return isinstance(parent, exp.Merge) and table.arg_key == "using"
