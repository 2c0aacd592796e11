"""How deep SQL may nest before a parser gives up: sqlglot parses recursively, about twenty
Python frames per level of parentheses, so Python's default limit (1,000 frames) refused
statements nested 50 levels deep. 10,000 frames allow about 450 levels, well inside the C stack
of any thread (checked at 20,000 in a worker thread); deeper SQL is `sql.too_complex`."""

from __future__ import annotations

import sys

SQL_RECURSION_LIMIT = 10_000


def allow_deep_sql() -> None:
    """Raise the interpreter's recursion limit to SQL_RECURSION_LIMIT (never lower it)."""
    if sys.getrecursionlimit() < SQL_RECURSION_LIMIT:
        sys.setrecursionlimit(SQL_RECURSION_LIMIT)
