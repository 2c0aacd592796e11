"""GetCatalogs, GetSchemas, GetTables, GetTableTypes, GetColumns, GetTypeInfo: JDBC-shaped
result sets from the engine's catalogs (the DuckDB catalog functions Unity Catalog's API reads).

Name arguments are JDBC patterns (`%` any run, `_` one character, `\\` escapes; Databricks also
takes `*`), matched case-insensitively; a missing argument matches everything.
"""

from __future__ import annotations

import re
from typing import Any

import pyarrow as pa

from lakegate.workspace.sql.engine import Output, SqlEngine
from lakegate.workspace.sql.results import ResultSet, collect
from lakegate.workspace.sql.translate import ColumnType, column_type, uc_catalog

STRING, INT = ColumnType("STRING", "STRING"), ColumnType("INT", "INT")
_HIDDEN = ("information_schema", "pg_catalog")
_TABLES = """
SELECT database_name, schema_name, table_name, 'TABLE', comment FROM duckdb_tables()
UNION ALL
SELECT database_name, schema_name, view_name, 'VIEW', comment FROM duckdb_views()
WHERE NOT internal
"""
_COLUMNS = """
SELECT database_name, schema_name, table_name, column_name, column_index, data_type,
       is_nullable, comment
FROM duckdb_columns() WHERE NOT internal
ORDER BY database_name, schema_name, table_name, column_index
"""
# java.sql.Types of each Databricks type name, as the Databricks JDBC/ODBC drivers report them
JDBC_TYPES = {
    "BOOLEAN": 16,
    "BYTE": -6,
    "SHORT": 5,
    "INT": 4,
    "LONG": -5,
    "FLOAT": 6,
    "DOUBLE": 8,
    "STRING": 12,
    "TIMESTAMP": 93,
    "BINARY": -2,
    "DECIMAL": 3,
    "DATE": 91,
    "ARRAY": 2003,
    "MAP": 2000,
    "STRUCT": 2002,
    "NULL": 0,
    "INTERVAL": 12,
}
_PRECISION = {"BYTE": 3, "SHORT": 5, "INT": 10, "LONG": 19, "FLOAT": 7, "DOUBLE": 15}
_TYPE_INFO = (
    ("BOOLEAN", "BOOLEAN"),
    ("TINYINT", "BYTE"),
    ("SMALLINT", "SHORT"),
    ("INT", "INT"),
    ("BIGINT", "LONG"),
    ("FLOAT", "FLOAT"),
    ("DOUBLE", "DOUBLE"),
    ("DECIMAL", "DECIMAL"),
    ("STRING", "STRING"),
    ("BINARY", "BINARY"),
    ("DATE", "DATE"),
    ("TIMESTAMP", "TIMESTAMP"),
    ("TIMESTAMP_NTZ", "TIMESTAMP"),
    ("ARRAY", "ARRAY"),
    ("MAP", "MAP"),
    ("STRUCT", "STRUCT"),
    ("VOID", "NULL"),
)


def matcher(pattern: str | None) -> re.Pattern[str]:
    """A JDBC name pattern as a case-insensitive regular expression."""
    if pattern is None or pattern in ("", "%", "*"):
        return re.compile(".*", re.S)
    out, escaped = [], False
    for char in pattern:
        if escaped:
            out.append(re.escape(char))
            escaped = False
        elif char == "\\":
            escaped = True
        elif char in "%*":
            out.append(".*")
        elif char == "_":
            out.append(".")
        else:
            out.append(re.escape(char))
    return re.compile("".join(out), re.I | re.S)


def _result(columns: list[tuple[str, ColumnType, pa.DataType]], rows: list[tuple]) -> ResultSet:
    schema = pa.schema([pa.field(name, arrow) for name, _, arrow in columns])
    values = list(zip(*rows, strict=True)) if rows else [[] for _ in columns]
    table = pa.Table.from_arrays(
        [pa.array(list(v), f.type) for v, f in zip(values, schema, strict=True)], schema=schema
    )
    output = Output(
        [name for name, _, _ in columns],
        [kind for _, kind, _ in columns],
        schema,
        iter(table.to_batches()),
    )
    return collect(output, format="ARROW_STREAM", inline=False)


def _text(name: str) -> tuple[str, ColumnType, pa.DataType]:
    return (name, STRING, pa.string())


def _int(name: str) -> tuple[str, ColumnType, pa.DataType]:
    return (name, INT, pa.int32())


class CatalogBrowser:
    """The metadata calls of TCLIService over one engine (run them in a worker thread)."""

    def __init__(self, engine: SqlEngine) -> None:
        self.engine = engine

    def _catalogs(self, pattern: str | None) -> list[str]:
        self.engine.wait_ready()
        wanted = matcher(pattern)
        return [c for c in self.engine.catalogs() if wanted.fullmatch(c)]

    def _visible(self, rows: list[tuple], catalogs: list[str], schema: str | None) -> list[tuple]:
        wanted = matcher(schema)
        found = []
        for row in rows:
            catalog = uc_catalog(row[0])
            if catalog in catalogs and row[1] not in _HIDDEN and wanted.fullmatch(row[1]):
                found.append((catalog, *row[1:]))
        return found

    def catalogs(self) -> ResultSet:
        return _result([_text("TABLE_CAT")], [(c,) for c in self._catalogs(None)])

    def schemas(self, catalog: str | None, schema: str | None) -> ResultSet:
        catalogs = self._catalogs(catalog)
        rows = self.engine.metadata(
            "SELECT database_name, schema_name FROM duckdb_schemas() s WHERE schema_name <> 'main'"
            " OR EXISTS (SELECT 1 FROM duckdb_tables() t WHERE t.database_name = s.database_name"
            " AND t.schema_name = 'main') ORDER BY 1, 2"
        )
        found = [(s, c) for c, s in self._visible(rows, catalogs, schema)]
        return _result([_text("TABLE_SCHEM"), _text("TABLE_CATALOG")], found)

    def tables(
        self, catalog: str | None, schema: str | None, table: str | None, kinds: list[str] | None
    ) -> ResultSet:
        wanted, types = matcher(table), {k.upper() for k in kinds or []}
        found = [
            (c, s, t, kind, comment or "", None, None, None, None, None)
            for c, s, t, kind, comment in self._visible(
                self.engine.metadata(_TABLES), self._catalogs(catalog), schema
            )
            if wanted.fullmatch(t) and (not types or kind in types)
        ]
        found.sort(key=lambda row: (row[3], row[0], row[1], row[2]))
        names = ["TABLE_CAT", "TABLE_SCHEM", "TABLE_NAME", "TABLE_TYPE", "REMARKS"]
        names += ["TYPE_CAT", "TYPE_SCHEM", "TYPE_NAME", "SELF_REFERENCING_COL_NAME"]
        return _result([_text(n) for n in [*names, "REF_GENERATION"]], found)

    def columns(
        self, catalog: str | None, schema: str | None, table: str | None, column: str | None
    ) -> ResultSet:
        tables, columns = matcher(table), matcher(column)
        rows = []
        for c, s, t, name, index, data_type, nullable, comment in self._visible(
            self.engine.metadata(_COLUMNS), self._catalogs(catalog), schema
        ):
            if tables.fullmatch(t) and columns.fullmatch(name):
                rows.append(_column_row(c, s, t, name, index, data_type, nullable, comment))
        return _result(_COLUMN_FIELDS, rows)

    def table_types(self) -> ResultSet:
        return _result([_text("TABLE_TYPE")], [("TABLE",), ("VIEW",)])

    def type_info(self) -> ResultSet:
        rows = []
        for name, type_name in _TYPE_INFO:
            numeric = type_name in _PRECISION or type_name == "DECIMAL"
            precision = 38 if type_name == "DECIMAL" else _PRECISION.get(type_name)
            quoted = type_name in ("STRING", "DATE", "TIMESTAMP")
            rows.append(
                (
                    name,
                    JDBC_TYPES[type_name],
                    precision,
                    "'" if quoted else None,
                    "'" if quoted else None,
                    "precision,scale" if type_name == "DECIMAL" else None,
                    1,
                    type_name == "STRING",
                    3,
                    not numeric,
                    False,
                    False,
                    None,
                    0,
                    38 if type_name == "DECIMAL" else 0,
                    None,
                    None,
                    10 if numeric else None,
                )
            )
        return _result(_TYPE_INFO_FIELDS, rows)


def _column_row(
    catalog: str,
    schema: str,
    table: str,
    name: str,
    index: int,
    data_type: str,
    nullable: bool,
    comment: str | None,
) -> tuple[Any, ...]:
    kind = column_type(data_type)
    numeric = kind.type_name in _PRECISION or kind.type_name == "DECIMAL"
    size = kind.precision if kind.type_name == "DECIMAL" else _PRECISION.get(kind.type_name)
    digits = kind.scale if kind.type_name == "DECIMAL" else (0 if numeric else None)
    return (
        *(catalog, schema, table, name),
        JDBC_TYPES.get(kind.type_name, 12),
        kind.type_text,
        size,
        None,
        digits,
        10 if numeric else None,
        1 if nullable else 0,
        comment or "",
        None,
        None,
        None,
        None,
        int(index) - 1,  # Spark's Thrift server counts positions from 0
        "YES" if nullable else "NO",
        *(None, None, None, None),
        "NO",
    )


_COLUMN_FIELDS = [
    *(_text(n) for n in ("TABLE_CAT", "TABLE_SCHEM", "TABLE_NAME", "COLUMN_NAME")),
    _int("DATA_TYPE"),
    _text("TYPE_NAME"),
    _int("COLUMN_SIZE"),
    ("BUFFER_LENGTH", ColumnType("BYTE", "TINYINT"), pa.int8()),  # as Databricks types it
    *(_int(n) for n in ("DECIMAL_DIGITS", "NUM_PREC_RADIX")),
    _int("NULLABLE"),
    _text("REMARKS"),
    _text("COLUMN_DEF"),
    *(_int(n) for n in ("SQL_DATA_TYPE", "SQL_DATETIME_SUB", "CHAR_OCTET_LENGTH")),
    _int("ORDINAL_POSITION"),
    _text("IS_NULLABLE"),
    *(_text(n) for n in ("SCOPE_CATALOG", "SCOPE_SCHEMA", "SCOPE_TABLE")),
    ("SOURCE_DATA_TYPE", ColumnType("SHORT", "SMALLINT"), pa.int16()),
    _text("IS_AUTO_INCREMENT"),
]
_BOOL = ColumnType("BOOLEAN", "BOOLEAN")
_TYPE_INFO_FIELDS = [
    _text("TYPE_NAME"),
    _int("DATA_TYPE"),
    _int("PRECISION"),
    *(_text(n) for n in ("LITERAL_PREFIX", "LITERAL_SUFFIX", "CREATE_PARAMS")),
    ("NULLABLE", ColumnType("SHORT", "SMALLINT"), pa.int16()),
    ("CASE_SENSITIVE", _BOOL, pa.bool_()),
    ("SEARCHABLE", ColumnType("SHORT", "SMALLINT"), pa.int16()),
    *((n, _BOOL, pa.bool_()) for n in ("UNSIGNED_ATTRIBUTE", "FIXED_PREC_SCALE", "AUTO_INCREMENT")),
    _text("LOCAL_TYPE_NAME"),
    *((n, ColumnType("SHORT", "SMALLINT"), pa.int16()) for n in ("MINIMUM_SCALE", "MAXIMUM_SCALE")),
    *(_int(n) for n in ("SQL_DATA_TYPE", "SQL_DATETIME_SUB", "NUM_PREC_RADIX")),
]
