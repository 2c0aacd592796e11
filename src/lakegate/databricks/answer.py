"""The answer contract for SQL results: one JSON shape for execute_sql, get_statement, fetch_rows.

Columns are listed once (name and type); rows follow in the cheaper of two forms: a JSON array of
arrays (typed cells) for a few rows, a header-less TSV string for many (no quotes or commas per
cell; see benchmarks/copilot_eval.py). The whole answer, not just its rows, fits `max_bytes`, and a
cut always falls between two rows. A cut answer carries `next`: the `fetch_rows` arguments of the
rest. A statement that did not succeed is an error whose code and hint say what to do next.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

from lakegate.errors import PolicyError, StatementError

__all__ = [
    "ANSWER_SCHEMA",
    "HANDLE_SCHEMA",
    "JSON_ROWS_MAX",
    "NULL",
    "SQL_OUTPUT_SCHEMA",
    "Answer",
    "Column",
    "columns_of",
    "handle",
    "raise_unless_succeeded",
]

NULL = "NULL"  # how a SQL NULL is written in a TSV cell (the string "NULL" is written \NULL)
# Up to this many rows an array of arrays keeps types and NULLs exact at a small cost; beyond it
# TSV is cheaper (measured in benchmarks/copilot_eval.py).
JSON_ROWS_MAX = 10
_TSV_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_TSV_SPECIAL = re.compile(r"[\\\t\n\r]")
_INTEGER_TYPES = {"TINYINT", "SMALLINT", "INT", "INTEGER", "BIGINT", "LONG", "SHORT", "BYTE"}
_FLOAT_TYPES = {"FLOAT", "DOUBLE", "REAL"}

ANSWER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["columns", "rows", "row_count", "total_row_count", "truncated",
                 "truncated_reason"],
    "properties": {
        "columns": {
            "type": "array",
            "items": {"properties": {"name": {"type": "string"}, "type": {"type": "string"}}},
        },
        "rows": {
            "type": ["array", "string"],
            "description": "Cell arrays, or for many rows TSV: tab-separated lines, NULL, "
            "\\t \\n \\\\ \\NULL escaped",
        },
        "row_offset": {"type": "integer"},
        "row_count": {"type": "integer"},
        "total_row_count": {"type": ["integer", "null"]},
        "truncated": {"type": "boolean"},
        "truncated_reason": {"type": ["string", "null"]},
        "next": {
            "description": "fetch_rows arguments for the rest",
            "properties": {"statement_id": {"type": "string"}, "row_offset": {"type": "integer"}},
        },
    },
}  # fmt: skip
HANDLE_SCHEMA: dict[str, Any] = {
    "required": ["statement_id", "state", "elapsed_s", "next_call"],
    "properties": {
        "state": {"enum": ["PENDING", "RUNNING"]},
        "elapsed_s": {"type": "number", "description": "how long the statement has run"},
        "waited_s": {"type": "number", "description": "how long this call waited for it"},
    },
}
# What execute_sql and get_statement answer: a result, or a handle on a statement still running.
SQL_OUTPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "anyOf": [{k: v for k, v in ANSWER_SCHEMA.items() if k != "type"}, HANDLE_SCHEMA],
}


@dataclass(frozen=True)
class Column:
    name: str
    type: str

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "type": self.type}


def columns_of(manifest: dict[str, Any] | None) -> list[Column]:
    """The result's columns from a statement manifest (`schema.columns[]`)."""
    schema = (manifest or {}).get("schema") or {}
    columns = sorted(schema.get("columns") or [], key=lambda c: c.get("position", 0))
    return [
        Column(str(c.get("name", "")), str(c.get("type_text") or c.get("type_name") or ""))
        for c in columns
    ]


def handle(
    statement_id: str, state: str, elapsed_s: float, wait_s: float, waited_s: float | None = None
) -> dict[str, Any]:
    """The answer for a statement still running: its id, how long it has run (and how long
    this call waited, when that differs), and what to call next."""
    return {
        "statement_id": statement_id,
        "state": state,
        "elapsed_s": round(elapsed_s, 1),
        **({"waited_s": round(waited_s, 1)} if waited_s is not None else {}),
        "next_call": f"Still running: call get_statement with this statement_id (it waits up to "
        f"{wait_s:g} s for the result), or cancel_statement to stop it.",
    }


@dataclass
class Answer:
    """A page of a statement's result, bounded in rows and in bytes of JSON."""

    statement_id: str
    columns: list[Column]
    rows: list[list[Any]]  # the page as Databricks sent it (JSON_ARRAY: strings and nulls)
    row_offset: int = 0
    total_row_count: int | None = None
    server_truncated: bool = False  # the warehouse's byte_limit cut the result itself
    truncated_reason: str | None = None
    kept: int = field(default=0, init=False)

    def to_dict(self, *, max_rows: int, max_bytes: int) -> dict[str, Any]:
        """The contract's JSON object, at most `max_rows` rows and `max_bytes` of JSON text."""
        rows, reason = self.rows[:max_rows], self.truncated_reason
        as_json = len(rows) <= JSON_ROWS_MAX
        encoded = [_json_row(self.columns, r) if as_json else _tsv_line(r) for r in rows]
        # Room for the rows: the envelope is measured as if cut (the longest form it can take).
        envelope = self._envelope([] if as_json else "", True, "x" * 80, self.row_offset)
        envelope["statement_id"] = self.statement_id
        room = max_bytes - _size(envelope) - 2
        kept, used = 0, 0
        for piece in encoded:
            cost = (len(piece) if piece.isascii() else len(piece.encode())) + 1
            if not as_json:  # inside a JSON string: its escapes, less the quotes, plus a \n
                cost = _size(piece)
            if used + cost > room:
                reason = (
                    f"max_bytes={max_bytes} reached" if kept else
                    f"a row is larger than max_bytes={max_bytes}; select fewer or shorter columns"
                )  # fmt: skip
                break
            used, kept = used + cost, kept + 1
        self.kept = kept
        shown: Any = (
            [json.loads(p) for p in encoded[:kept]] if as_json else "\n".join(encoded[:kept])
        )
        end = self.row_offset + kept
        more = self.total_row_count is None or end < self.total_row_count
        if reason is None and more:
            reason = f"max_rows={max_rows} reached"
        if reason is None and self.server_truncated:
            reason = "the warehouse's result limit cut the result; aggregate or filter in SQL"
        out = self._envelope(shown, reason is not None, reason, self.row_offset, end, kept)
        if not more:
            out.pop("next", None)
        # For people and the audit log; the copilot server leaves it out of what a model reads.
        out["statement_id"] = self.statement_id
        return out

    def _envelope(
        self,
        rows: Any,
        truncated: bool,
        reason: str | None,
        offset: int,
        end: int | None = None,
        kept: int | None = None,
    ) -> dict[str, Any]:
        out: dict[str, Any] = {"columns": [c.to_dict() for c in self.columns], "rows": rows}
        if offset:
            out["row_offset"] = offset
        out.update(
            row_count=len(self.rows) if kept is None else kept,
            total_row_count=self.total_row_count,
            truncated=truncated,
            truncated_reason=reason,
        )
        if truncated:
            start = end if end is not None else offset + len(self.rows)
            out["next"] = {"statement_id": self.statement_id, "row_offset": start}
        return out


def _size(data: Any) -> int:
    return len(json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode())


def _cell(value: Any, column_type: str) -> Any:
    """A JSON_ARRAY cell (a string or null) as a typed JSON value."""
    if value is None or not isinstance(value, str):
        return value
    kind = column_type.split("(", 1)[0].upper()
    try:
        if kind in _INTEGER_TYPES:
            return int(value)
        if kind in _FLOAT_TYPES:
            number = float(value)
            return number if math.isfinite(number) else value
    except ValueError:
        return value
    if kind == "BOOLEAN":
        return value == "true"
    return value


def _json_row(columns: list[Column], row: list[Any]) -> str:
    types = [c.type for c in columns]
    cells = [_cell(v, types[i] if i < len(types) else "") for i, v in enumerate(row)]
    return json.dumps(cells, ensure_ascii=False, separators=(",", ":"))


def _tsv_cell(value: Any) -> str:
    if value is None:
        return NULL
    text = value if type(value) is str else json.dumps(value)
    if text == NULL:
        return "\\" + NULL  # the string "NULL", told apart from a SQL NULL
    return text.translate(_TSV_ESCAPES) if _TSV_SPECIAL.search(text) else text


def _tsv_line(row: list[Any]) -> str:
    return "\t".join(map(_tsv_cell, row))


# Databricks error classes that mean "this name does not exist", and where to find the right one.
_TABLES_HINT = (
    "Check the names: list_tables shows a schema's tables, describe_table a table's columns."
)
_NOT_FOUND = {
    "TABLE_OR_VIEW_NOT_FOUND": _TABLES_HINT,
    "SCHEMA_NOT_FOUND": "Check the schema: list_schemas shows a catalog's schemas.",
    "NO_SUCH_CATALOG": "Check the catalog: list_catalogs shows them.",
    "CATALOG_NOT_FOUND": "Check the catalog: list_catalogs shows them.",
    "UNRESOLVED_COLUMN": "Check the column: describe_table shows a table's columns (the "
    "message suggests near names).",
    "UNRESOLVED_FIELD": "Check the field: describe_table shows a column's type and fields.",
    "UNRESOLVED_ROUTINE": "No function of that name exists in Databricks SQL: use a built-in "
    "function (the message suggests near names) or compute it another way.",
}


# "User does not have SELECT on Table 'main.hr.pay'", as Databricks words INSUFFICIENT_PERMISSIONS.
_DENIED = re.compile(
    r"INSUFFICIENT_PERMISSIONS\].*?does not have (?P<privilege>[A-Z][A-Z_ ]*?) on "
    r"(?P<kind>[A-Za-z ]+?) '(?P<name>[^']+)'"
)


def raise_unless_succeeded(response: dict[str, Any], statement_id: str | None) -> None:
    """Nothing for a SUCCEEDED statement; else an error that says what to do next."""
    state = str((response.get("status") or {}).get("state") or "PENDING")
    if state == "SUCCEEDED":
        return
    error = (response.get("status") or {}).get("error") or {}
    code, message = error.get("error_code"), str(error.get("message") or "")
    details = {"statement_id": statement_id, "state": state, "error_code": code}
    text = f"Statement {statement_id} {state.lower()}" + (f": {message}" if message else ".")
    if state in ("PENDING", "RUNNING"):
        raise StatementError(
            f"Statement {statement_id} is still {state}; its rows are not there yet.",
            code="remote.statement_running",
            hint=f"Call get_statement with statement_id {statement_id}: it waits for the result.",
            details=details,
        )
    if state != "FAILED":
        raise StatementError(
            text,
            code="remote.statement_canceled",
            hint="It was canceled or its result expired; run the statement again if needed.",
            details=details,
        )
    if "PARSE_SYNTAX_ERROR" in message:
        raise StatementError(
            text,
            code="sql.parse_error",
            hint="Fix the SQL where the message points, then run it again.",
            details=details,
        )
    if "INSUFFICIENT_PERMISSIONS" in message:
        raise _permission_denied(text, message, details)
    missing = next((hint for name, hint in _NOT_FOUND.items() if name in message), None)
    if missing:
        raise StatementError(text, code="sql.not_found", hint=missing, details=details)
    raise StatementError(text, details=details, hint="Fix the SQL; the message is Databricks' own.")


def _permission_denied(text: str, message: str, details: dict[str, Any]) -> PolicyError:
    """Unity Catalog's refusal, in words a model passes on: which privilege on what."""
    denied = _DENIED.search(message)
    if denied:
        what = f"{denied['privilege']} on {denied['kind'].lower()} {denied['name']}"
        text = (
            f"Permission denied by Unity Catalog: no {what} for the principal this statement "
            "runs as (INSUFFICIENT_PERMISSIONS)."
        )
        details = {**details, "privilege": denied["privilege"], "securable": denied["name"]}
    return PolicyError(
        text,
        code="policy.permission_denied",
        hint="Unity Catalog refused it: tell the user which privilege is missing; an "
        "administrator of that object grants it (do not retry or work around it).",
        details=details,
    )
