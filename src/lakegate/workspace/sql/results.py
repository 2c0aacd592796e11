"""Statement results: Arrow batches -> chunks of a few MB in JSON_ARRAY, ARROW_STREAM or CSV,
with row/byte limits, the 25 MiB INLINE ceiling, and the Databricks `manifest`.

Text chunks are encoded once, when the statement finishes (in its worker thread); Arrow chunks
keep DuckDB's batches and are framed as IPC messages while they are sent. `byte_count` is exact.
"""

from __future__ import annotations

import base64
import csv
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import lz4.frame
import pyarrow as pa
import pyarrow.compute as pc

from lakegate.workspace.sql.engine import Interrupted, Output
from lakegate.workspace.sql.translate import ColumnType, SqlError

INLINE_LIMIT = 25 * 1024 * 1024
# Target chunk sizes in Arrow (in-memory) bytes: text formats expand 2-4x when encoded.
CHUNK_BYTES = {
    "ARROW_STREAM": 16 * 1024 * 1024,
    "JSON_ARRAY": 2 * 1024 * 1024,
    "CSV": 4 * 1024 * 1024,
}


EOS = b"\xff\xff\xff\xff\x00\x00\x00\x00"  # the Arrow IPC end-of-stream marker
PIECE = 4 * 1024 * 1024


@dataclass
class Chunk:
    """One chunk of a result: encoded text, or Arrow batches framed as an IPC stream on the way
    out (a copy of a large result would cost as much as producing it: fresh pages are slow)."""

    index: int
    row_offset: int
    row_count: int
    data: bytes = b""
    header: bytes = b""  # ARROW_STREAM: the schema message
    batches: list[pa.RecordBatch] = field(default_factory=list)
    # LZ4_FRAME: `data` is the compressed Arrow stream; byte_count stays the uncompressed size.
    uncompressed: int | None = None

    @cached_property
    def byte_count(self) -> int:
        if self.uncompressed is not None:
            return self.uncompressed
        if not self.header:
            return len(self.data)
        body = sum(pa.ipc.get_record_batch_size(b) for b in self.batches)
        return len(self.header) + body + len(EOS)

    @property
    def wire_bytes(self) -> int:
        """The size of the download (compressed when LZ4_FRAME was asked for)."""
        return len(self.data) if self.uncompressed is not None else self.byte_count

    def pieces(self) -> Iterator[bytes | memoryview]:
        """The chunk's bytes in pieces of at most a few MB, ready to send."""
        if self.header:
            yield self.header
            for batch in self.batches:
                yield memoryview(batch.serialize())
            yield EOS
            return
        view = memoryview(self.data)
        for start in range(0, len(view), PIECE):
            yield view[start : start + PIECE]

    def describe(self) -> dict[str, Any]:
        return {
            "chunk_index": self.index,
            "row_offset": self.row_offset,
            "row_count": self.row_count,
            "byte_count": self.byte_count,
        }


@dataclass
class ResultSet:
    """A finished statement's result, ready to serve."""

    format: str
    names: list[str]
    types: list[ColumnType]
    chunks: list[Chunk] = field(default_factory=list)
    truncated: bool = False
    compression: str | None = None  # LZ4_FRAME when the chunks are compressed
    schema: pa.Schema | None = None  # the Arrow schema, also when there are no rows

    @property
    def total_rows(self) -> int:
        return sum(c.row_count for c in self.chunks)

    @property
    def total_bytes(self) -> int:
        return sum(c.byte_count for c in self.chunks)

    def columns(self) -> list[dict[str, Any]]:
        out = []
        for position, (name, kind) in enumerate(zip(self.names, self.types, strict=True)):
            column: dict[str, Any] = {
                "name": name,
                "position": position,
                "type_name": kind.type_name,
                "type_text": kind.type_text,
            }
            if kind.precision is not None:
                column.update(type_precision=kind.precision, type_scale=kind.scale)
            out.append(column)
        return out

    def manifest(self) -> dict[str, Any]:
        manifest = {
            "format": self.format,
            "schema": {"column_count": len(self.names), "columns": self.columns()},
            "total_chunk_count": len(self.chunks),
            "chunks": [c.describe() for c in self.chunks],
            "total_row_count": self.total_rows,
            "total_byte_count": self.total_bytes,
            "truncated": self.truncated,
        }
        if self.compression:
            manifest["result_compression"] = self.compression
        return manifest


def collect(
    output: Output,
    *,
    format: str,
    inline: bool,
    row_limit: int | None = None,
    byte_limit: int | None = None,
    stopped: Callable[[], bool] = lambda: False,
    chunk_bytes: int | None = None,
    compression: str | None = None,
) -> ResultSet:
    """Read every batch of `output` (up to the limits) and encode it into chunks.

    `compression="LZ4_FRAME"` compresses Arrow chunks (the only format Databricks compresses)."""
    target = chunk_bytes or CHUNK_BYTES[format]
    result = ResultSet(format, output.names, output.types, schema=output.schema)
    if compression == "LZ4_FRAME" and format == "ARROW_STREAM" and not inline:
        result.compression = compression
    pending: list[pa.RecordBatch] = []
    pending_bytes = rows = used = 0
    encoded = 0
    for batch in output.batches:
        if stopped():
            raise Interrupted
        if row_limit is not None and rows + batch.num_rows > row_limit:
            batch, result.truncated = batch.slice(0, row_limit - rows), True
        if byte_limit is not None and used + batch.nbytes > byte_limit:
            per_row = max(1, batch.nbytes // max(1, batch.num_rows))
            batch, result.truncated = batch.slice(0, max(0, byte_limit - used) // per_row), True
        if batch.num_rows:
            pending.append(batch)
            pending_bytes += batch.nbytes
            rows += batch.num_rows
            used += batch.nbytes
        if pending_bytes >= target:
            encoded += _flush(result, output.schema, pending, rows - _count(pending))
            pending, pending_bytes = [], 0
        if inline and encoded > INLINE_LIMIT:
            raise _too_large()
        if result.truncated:
            break
    if pending:
        encoded += _flush(result, output.schema, pending, rows - _count(pending))
    if inline and encoded > INLINE_LIMIT:
        raise _too_large()
    return result


def _count(batches: list[pa.RecordBatch]) -> int:
    return sum(b.num_rows for b in batches)


def _too_large() -> SqlError:
    return SqlError(
        "The result exceeds the 25 MiB limit of the INLINE disposition. Use disposition "
        "EXTERNAL_LINKS for large results, or set row_limit / byte_limit.",
        error_code="BAD_REQUEST",
    )


def _flush(result: ResultSet, schema: pa.Schema, batches: list[pa.RecordBatch], offset: int) -> int:
    index, rows = len(result.chunks), _count(batches)
    if result.format == "ARROW_STREAM":
        chunk = Chunk(index, offset, rows, header=schema.serialize().to_pybytes(), batches=batches)
        if result.compression:
            raw = b"".join(bytes(piece) for piece in chunk.pieces())
            chunk = Chunk(index, offset, rows, lz4.frame.compress(raw), uncompressed=len(raw))
    elif result.format == "CSV":
        chunk = Chunk(index, offset, rows, csv_text(schema, batches, header=index == 0))
    else:
        chunk = Chunk(
            index,
            offset,
            rows,
            json.dumps(rows_of(schema, batches), separators=(",", ":")).encode(),
        )
    result.chunks.append(chunk)
    return chunk.byte_count


def rows_of(schema: pa.Schema, batches: list[pa.RecordBatch]) -> list[tuple[str | None, ...]]:
    """JSON_ARRAY rows: every value as its string representation, or None."""
    table = pa.Table.from_batches(batches, schema=schema)
    columns = [strings(table.column(i)) for i in range(table.num_columns)]
    return list(zip(*columns, strict=True)) if columns else []


def csv_text(schema: pa.Schema, batches: list[pa.RecordBatch], *, header: bool) -> bytes:
    """RFC 4180 CSV; nulls are written `null`, and only the first chunk has the header row."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    if header:
        writer.writerow(schema.names)
    writer.writerows(["null" if v is None else v for v in row] for row in rows_of(schema, batches))
    return out.getvalue().encode()


def strings(column: pa.ChunkedArray) -> list[str | None]:
    """Databricks' string form of each value (ISO timestamps, `true`/`false`, JSON for nested)."""
    kind = column.type
    if pa.types.is_timestamp(kind):
        if kind.tz:  # the instant in UTC, whatever the session's time zone: it ends in "Z"
            column = column.cast(pa.timestamp(kind.unit, "UTC"))
        # %S carries the fraction ("05.123456"); Databricks shows milliseconds.
        text = pc.strftime(column, format="%Y-%m-%dT%H:%M:%S").to_pylist()
        suffix = "Z" if kind.tz else ""
        return [None if v is None else f"{v[:19]}.{v[20:23].ljust(3, '0')}{suffix}" for v in text]
    if pa.types.is_floating(kind):
        return [None if v is None else repr(v) for v in column.to_pylist()]
    if pa.types.is_binary(kind) or pa.types.is_large_binary(kind):
        return [None if v is None else base64.b64encode(v).decode() for v in column.to_pylist()]
    if pa.types.is_nested(kind):
        values = column.to_pylist()
        if pa.types.is_map(kind):  # pyarrow gives maps as lists of pairs
            values = [None if v is None else dict(v) for v in values]
        return [
            None if v is None else json.dumps(v, default=str, separators=(",", ":")) for v in values
        ]
    try:
        return pc.cast(column, pa.string()).to_pylist()
    except (pa.ArrowNotImplementedError, pa.ArrowInvalid):
        return [None if v is None else str(v) for v in column.to_pylist()]
