"""The compact answer a copilot gets for a statement: columns with types, rows as a small table.

Rows are a TSV or markdown table (one header line, then one line per row), not JSON objects: the
column names are written once instead of once per row, which roughly halves the tokens.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["NULL", "Answer", "Column", "columns_of", "render_rows"]

TableFormat = Literal["tsv", "markdown"]
NULL = "NULL"  # how a SQL NULL is written in a table cell
_TSV_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_TSV_SPECIAL = re.compile(r"[\\\t\n\r]")
_LINE_BREAKS = re.compile(r"[\\\n\r]")
_MD_ESCAPES = str.maketrans({"|": "\\|", "\n": " ", "\r": " "})


@dataclass(frozen=True)
class Column:
    name: str
    type: str

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "type": self.type}


@dataclass
class Answer:
    """One statement's outcome, as handed to a model."""

    statement_id: str
    state: str
    columns: list[Column] = field(default_factory=list)
    rows: str = ""
    row_count: int = 0
    total_row_count: int | None = None
    truncated: bool = False
    truncated_reason: str | None = None
    format: TableFormat = "tsv"
    next_chunk_index: int | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "statement_id": self.statement_id,
            "state": self.state,
            "columns": [c.to_dict() for c in self.columns],
            "format": self.format,
            "rows": self.rows,
            "row_count": self.row_count,
            "truncated": self.truncated,
        }
        if self.total_row_count is not None:
            out["total_row_count"] = self.total_row_count
        if self.truncated:
            out["truncated_reason"] = self.truncated_reason
        if self.next_chunk_index is not None:
            out["next_chunk_index"] = self.next_chunk_index
        return out


def columns_of(manifest: dict[str, Any] | None) -> list[Column]:
    """The result's columns from a statement manifest (`schema.columns[]`)."""
    schema = (manifest or {}).get("schema") or {}
    columns = sorted(schema.get("columns") or [], key=lambda c: c.get("position", 0))
    return [
        Column(str(c.get("name", "")), str(c.get("type_text") or c.get("type_name") or ""))
        for c in columns
    ]


def render_rows(
    columns: list[Column],
    rows: list[list[Any]],
    *,
    table_format: TableFormat = "tsv",
    max_bytes: int | None = None,
) -> tuple[str, int]:
    """The table text and how many rows fit in `max_bytes` (UTF-8) with the header."""
    names = [c.name for c in columns]
    if table_format == "markdown":
        lines = [_md_line(names), "|" + "|".join("---" for _ in names) + "|"]
        line_of = _md_line
    else:
        lines = ["\t".join(_tsv(n) for n in names)]
        line_of = _tsv_line
    size = sum(len(line.encode()) + 1 for line in lines)
    if table_format == "tsv":
        whole = _plain_tsv(rows)
        if whole is not None and (max_bytes is None or size + len(whole.encode()) <= max_bytes):
            return "\n".join([*lines, whole]) if rows else lines[0], len(rows)
    kept = 0
    for row in rows:
        line = line_of(row)
        size += (len(line) if line.isascii() else len(line.encode())) + 1
        if max_bytes is not None and size > max_bytes:
            break
        lines.append(line)
        kept += 1
    return "\n".join(lines), kept


def _plain_tsv(rows: list[list[Any]]) -> str | None:
    """All rows at once when every cell is a string without tabs, line breaks or backslashes."""
    try:
        text = "\n".join(map("\t".join, rows))
    except TypeError:  # a NULL or a non-string cell: row by row
        return None
    cells = sum(map(len, rows))
    if text.count("\t") != cells - len(rows) or text.count("\n") != max(len(rows) - 1, 0):
        return None
    return None if "\\" in text or "\r" in text else text


def _cell(value: Any) -> str:
    if value is None:
        return NULL
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _tsv(value: Any) -> str:
    text = value if type(value) is str else _cell(value)  # JSON_ARRAY cells are strings
    return text.translate(_TSV_ESCAPES) if _TSV_SPECIAL.search(text) else text


def _tsv_line(row: list[Any]) -> str:
    cells = [v if type(v) is str else _cell(v) for v in row]
    line = "\t".join(cells)
    # Fast path: no cell holds a tab, a line break or a backslash (the usual case).
    if line.count("\t") == len(cells) - 1 and not _LINE_BREAKS.search(line):
        return line
    return "\t".join(_tsv(c) for c in cells)


def _md_line(row: list[Any]) -> str:
    return "| " + " | ".join(_cell(v).translate(_MD_ESCAPES) for v in row) + " |"
