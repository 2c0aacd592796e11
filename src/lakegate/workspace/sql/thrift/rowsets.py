"""A finished result as Thrift sees it: the table schema, Arrow batches sent inline, or presigned
links to the result's chunks (CloudFetch) when the client can download them."""

from __future__ import annotations

import bisect
import json
import time
from functools import cached_property
from typing import Any

import lz4.frame as lz4_frame
import pyarrow as pa

from lakegate.workspace.sql.links import ResultLinks
from lakegate.workspace.sql.results import ResultSet
from lakegate.workspace.sql.thrift import tcli
from lakegate.workspace.sql.translate import ColumnType

# Smaller results travel inline even when the client could download them, as on Databricks:
# a link costs the client one more round trip.
CLOUD_FETCH_MIN_BYTES = 4 * 1024 * 1024


def table_schema(result: ResultSet) -> tcli.Struct:
    columns = [
        tcli.TColumnDesc(columnName=name, typeDesc=_type_desc(kind), position=index + 1)
        for index, (name, kind) in enumerate(zip(result.names, result.types, strict=True))
    ]
    return tcli.TTableSchema(columns=columns)


def _type_desc(kind: ColumnType) -> tcli.Struct:
    qualifiers = None
    if kind.type_name == "DECIMAL" and kind.precision is not None:
        qualifiers = tcli.TTypeQualifiers(
            qualifiers={
                "precision": tcli.TTypeQualifierValue(i32Value=kind.precision),
                "scale": tcli.TTypeQualifierValue(i32Value=kind.scale or 0),
            }
        )
    entry = tcli.TPrimitiveTypeEntry(
        type=tcli.TYPE_IDS.get(kind.type_name, tcli.TYPE_IDS["STRING"]),
        typeQualifiers=qualifiers,
    )
    return tcli.TTypeDesc(types=[tcli.TTypeEntry(primitiveEntry=entry)])


class RowSource:
    """Serves one result from a row offset: Arrow batches, or links to whole chunks."""

    def __init__(
        self,
        result: ResultSet,
        *,
        cloud_fetch: bool,
        statement_id: str,
        complex_as_json: bool = False,
        lz4: bool = False,
    ) -> None:
        self.result = result
        self.lz4 = lz4  # the client decompresses LZ4 frames: batches and downloads compressed
        self.statement_id = statement_id
        # A client that reads complex types as text gets them as JSON strings, as Databricks
        # sends them then (the links serve the stored Arrow, so such results come inline).
        complex_columns = result.schema is not None and any(
            _complex(f.type) for f in result.schema
        )  # fmt: skip
        self.as_json = complex_as_json and complex_columns
        self.cloud_fetch = (
            cloud_fetch and not self.as_json and result.total_bytes >= CLOUD_FETCH_MIN_BYTES
        )
        self.total_rows = result.total_rows

    @property
    def row_format(self) -> int:
        return tcli.URL_BASED_SET if self.cloud_fetch else tcli.ARROW_BASED_SET

    @cached_property
    def arrow_schema(self) -> bytes:
        if self.result.schema is not None and self.as_json:
            return _as_json_schema(self.result.schema).serialize().to_pybytes()
        if self.result.schema is not None:
            return self.result.schema.serialize().to_pybytes()
        fields = [pa.field(name, pa.string()) for name in self.result.names]
        return pa.schema(fields).serialize().to_pybytes()

    @cached_property
    def _batches(self) -> tuple[list[int], list[pa.RecordBatch]]:
        offsets, batches = [], []
        for chunk in self.result.chunks:
            offset = chunk.row_offset
            for batch in chunk.batches:
                offsets.append(offset)
                batches.append(_as_json_batch(batch) if self.as_json else batch)
                offset += batch.num_rows
        return offsets, batches

    def metadata(self) -> tcli.Struct:
        return tcli.TGetResultSetMetadataResp(
            status=ok(),
            schema=table_schema(self.result),
            resultFormat=self.row_format,
            lz4Compressed=self.lz4,
            arrowSchema=self.arrow_schema,
            isStagingOperation=False,
        )

    def batches(self, start: int, max_rows: int, max_bytes: int) -> tuple[tcli.Struct, int]:
        """Arrow batches from row `start`: at least one, then up to the row and byte budgets."""
        offsets, batches = self._batches
        found: list[tcli.Struct] = []
        rows = size = 0
        index = max(0, bisect.bisect_right(offsets, start) - 1)
        position = start
        while index < len(batches) and position < self.total_rows:
            batch, begin = batches[index], position - offsets[index]
            take = min(batch.num_rows - begin, max(1, max_rows - rows))
            data = batch.slice(begin, take).serialize().to_pybytes()
            if self.lz4:
                data = lz4_frame.compress(data)
            found.append(tcli.TSparkArrowBatch(batch=data, rowCount=take))
            rows, size, position = rows + take, size + len(data), position + take
            if position >= offsets[index] + batch.num_rows:
                index += 1
            if rows >= max_rows or size >= max_bytes:
                break
        return tcli.TRowSet(startRowOffset=start, rows=[], arrowBatches=found), position

    def links(self, start: int, links: ResultLinks, ttl_s: float) -> tcli.Struct:
        """Links to every chunk from row `start` on (chunks hold a few MB each)."""
        expires = time.time() + ttl_s
        found = [
            tcli.TSparkArrowResultLink(
                fileLink=links.url(self.statement_id, chunk.index, expires, lz4=self.lz4),
                expiryTime=int(expires),
                startRowOffset=chunk.row_offset,
                rowCount=chunk.row_count,
                bytesNum=chunk.byte_count,
                httpHeaders={},
            )
            for chunk in self.result.chunks
            if chunk.row_offset + chunk.row_count > start
        ]
        return tcli.TRowSet(startRowOffset=start, rows=[], resultLinks=found)


def _complex(kind: pa.DataType) -> bool:
    """ARRAY, MAP or STRUCT, as the engine's Arrow carries them."""
    types = pa.types
    return (
        types.is_list(kind)
        or types.is_large_list(kind)
        or types.is_map(kind)
        or types.is_struct(kind)
    )


def _as_json_schema(schema: pa.Schema) -> pa.Schema:
    return pa.schema(
        [f.with_type(pa.string()) if _complex(f.type) else f for f in schema],
        metadata=schema.metadata,
    )


def _as_json_batch(batch: pa.RecordBatch) -> pa.RecordBatch:
    columns = [
        pa.array([_json(v, column.type) for v in column.to_pylist()], pa.string())
        if _complex(column.type) else column
        for column in batch.columns
    ]  # fmt: skip
    return pa.RecordBatch.from_arrays(columns, schema=_as_json_schema(batch.schema))


def _json(value: Any, kind: pa.DataType) -> str | None:
    """A complex value as Spark's to_json writes it: compact, a MAP as an object."""
    if value is None:
        return None
    return json.dumps(_plain(value, kind), separators=(",", ":"), default=str)


def _plain(value: Any, kind: pa.DataType) -> Any:
    if value is None:
        return None
    if pa.types.is_map(kind):  # pyarrow gives a MAP as (key, value) pairs
        return {str(k): _plain(v, kind.item_type) for k, v in value}
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        return [_plain(v, kind.value_type) for v in value]
    if pa.types.is_struct(kind):
        return {f.name: _plain(value.get(f.name), f.type) for f in kind}
    return value


def ok() -> tcli.Struct:
    return tcli.TStatus(statusCode=tcli.SUCCESS_STATUS)


def failed(message: str, sql_state: str = "", *, invalid_handle: bool = False) -> tcli.Struct:
    code = tcli.INVALID_HANDLE_STATUS if invalid_handle else tcli.ERROR_STATUS
    return tcli.TStatus(
        statusCode=code,
        errorMessage=message,
        displayMessage=message,
        sqlState=sql_state or None,
        errorCode=0,
    )
