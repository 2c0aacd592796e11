"""Is a statement a read? Deny by default: one SELECT / VALUES / SHOW / DESCRIBE with no write
anywhere inside (the managed MCP server's execute_sql_read_only runs nothing else)."""

from __future__ import annotations

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from lakegate.workspace.sql.engine import DEFAULT_CATALOG, DEFAULT_SCHEMA
from lakegate.workspace.sql.translate import SqlError, plan

_READS = (exp.Select, exp.SetOperation, exp.Values, exp.Subquery)
# Nodes that write, change session state or run text the parser did not model.
_WRITE_NAMES = (
    "DML DDL Insert Update Delete Merge Copy Create Drop Alter Command Grant Revoke TruncateTable "
    "Cache Uncache Refresh Analyze Set Use Transaction Commit Rollback LoadData Comment Pragma "
    "Into Returning Lock Export Put Get Attach Detach Install"
)
_WRITES: tuple[type[exp.Expression], ...] = tuple(
    getattr(exp, name) for name in _WRITE_NAMES.split() if hasattr(exp, name)
)


def read_refusal(text: str, *, user: str) -> str | None:
    """None when `text` is one read statement, else why it is not."""
    try:
        planned = plan(text, [], catalog=DEFAULT_CATALOG, schema=DEFAULT_SCHEMA, user=user)
    except SqlError as exc:
        return f"it is not valid Databricks SQL ({exc.message})"
    if planned.kind not in ("query", "describe"):
        return f"{text.split()[0].upper()} changes state"
    if planned.statement_type in ("SHOW", "DESCRIBE"):
        return None  # the workspace's own catalog queries
    try:
        trees = [t for t in sqlglot.parse(text, read="databricks") if t is not None]
    except (ParseError, TokenError):
        return "it could not be parsed"
    if len(trees) != 1 or not isinstance(trees[0], _READS):
        return f"it is not a query (statement type {planned.statement_type})"
    for node in trees[0].walk():
        if isinstance(node, _WRITES):
            return f"it contains {node.key.upper()}"
    return None
