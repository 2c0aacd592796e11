"""Export a query's result to Parquet, CSV or Arrow: EXTERNAL_LINKS + ARROW_STREAM, in parallel.

Chunks are downloaded by a sliding window of `concurrency` workers from presigned links (fetched
WITHOUT credentials: they are cloud-storage URLs), decoded and appended to the file strictly in
chunk order; memory holds at most `concurrency` chunks. An expired link is asked for again. The
file appears only when complete (written beside it, then renamed).

    result = await export_query(gateway, "databricks", "SELECT ...", "trips.parquet")
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from lakegate._transport import SendError
from lakegate.databricks.statements import (
    STATEMENTS,
    StatementRunner,
    guard,
    raise_unless_succeeded,
    statement_body,
)
from lakegate.errors import InputError, RemoteError, TransportError
from lakegate.gateway import ActionContext, Gateway
from lakegate.project import Action

__all__ = ["FORMATS", "ExportProgress", "ExportResult", "export_query"]

FORMATS = {".parquet": "parquet", ".csv": "csv", ".arrow": "arrow", ".feather": "arrow"}
DEFAULT_CONCURRENCY = 4
DEFAULT_DEADLINE_S = 3600.0
_LINK_ATTEMPTS = 3
_DOWNLOAD_TIMEOUT_S = 120.0
_ROWS_PER_WRITE = 128 * 1024
_EXPIRED_STATUSES = (400, 403, 404, 410)  # what object stores answer for an expired signature


@dataclass
class ExportProgress:
    """Where an export is: rows and bytes written so far, of how many."""

    rows: int
    total_rows: int | None
    bytes: int
    chunks: int
    total_chunks: int
    elapsed_s: float


@dataclass
class ExportResult:
    path: Path
    format: str
    rows: int
    bytes_downloaded: int
    chunks: int
    seconds: float
    statement_id: str
    links_refreshed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "path": str(self.path)}


OnProgress = Callable[[ExportProgress], Awaitable[None] | None]


async def export_query(
    gateway: Gateway,
    connector: str,
    statement: str,
    out: str | Path,
    *,
    warehouse_id: str | None = None,
    catalog: str | None = None,
    schema: str | None = None,
    parameters: dict[str, Any] | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    deadline_s: float = DEFAULT_DEADLINE_S,
    on_progress: OnProgress | None = None,
) -> ExportResult:
    """Run `statement` and stream its whole result into `out` (format from the suffix)."""
    path = Path(out)
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        raise InputError(
            f"Cannot tell the export format of {path.name!r}.",
            hint="End the file name in .parquet, .csv or .arrow.",
        )
    if concurrency < 1:
        raise InputError("`concurrency` must be at least 1.")
    conn = gateway.connector(connector)
    action = Action(
        name="export_query", connector=conn.name, method="POST", path=STATEMENTS, timeout_s=3600
    )
    inputs = {
        "statement": statement,
        "warehouse_id": warehouse_id or conn.defaults.get("warehouse_id"),
        "catalog": catalog,
        "schema": schema,
        "parameters": parameters,
    }
    started = time.monotonic()
    ctx = ActionContext(gateway, conn, action, inputs, deadline=started + deadline_s)
    is_read = guard(ctx, statement)
    body = statement_body(ctx, inputs)
    body.update(disposition="EXTERNAL_LINKS", format="ARROW_STREAM")
    runner = StatementRunner(ctx, deadline=ctx.deadline)
    response = await runner.run(body, idempotent=is_read)
    raise_unless_succeeded(response, runner.statement_id)
    export = _Export(ctx, runner.statement_id or "", response, path, kind, on_progress, started)
    return await export.run(concurrency)


class _Export:
    def __init__(
        self,
        ctx: ActionContext,
        statement_id: str,
        response: dict[str, Any],
        path: Path,
        kind: str,
        on_progress: OnProgress | None,
        started: float,
    ) -> None:
        self.ctx, self.statement_id, self.path, self.kind = ctx, statement_id, path, kind
        self.on_progress, self.started = on_progress, started
        manifest = response.get("manifest") or {}
        self.manifest = manifest
        self.total_rows = manifest.get("total_row_count")
        self.total_chunks = int(manifest.get("total_chunk_count") or 0)
        self.links: dict[int, dict[str, Any]] = {}
        self._remember((response.get("result") or {}).get("external_links") or [])
        self.rows = self.bytes = self.written_chunks = self.refreshed = 0
        self.writer: Any = None

    async def run(self, concurrency: int) -> ExportResult:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.part")
        sink = await asyncio.to_thread(open, tmp, "wb")
        try:
            try:
                await self._download_in_order(sink, concurrency)
                if self.writer is None:
                    self._open_writer(sink, _schema_of(self.manifest))
                await asyncio.to_thread(self.writer.close)
            finally:
                sink.close()
            os.replace(tmp, self.path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        return ExportResult(
            path=self.path,
            format=self.kind,
            rows=self.rows,
            bytes_downloaded=self.bytes,
            chunks=self.written_chunks,
            seconds=time.monotonic() - self.started,
            statement_id=self.statement_id,
            links_refreshed=self.refreshed,
        )

    async def _download_in_order(self, sink: Any, concurrency: int) -> None:
        """A window of `concurrency` chunks (downloading or being written), in chunk order."""
        pending: dict[int, asyncio.Task[None]] = {}
        # Chunks land here, not in their task's result: a finished task may live on in a
        # reference cycle until the next garbage collection, and its chunk with it.
        ready: dict[int, bytearray] = {}

        async def fetch(index: int) -> None:
            ready[index] = await self._fetch(index)

        next_to_start = 0
        try:
            for index in range(self.total_chunks):
                while next_to_start < self.total_chunks and len(pending) < concurrency:
                    pending[next_to_start] = asyncio.create_task(fetch(next_to_start))
                    next_to_start += 1
                await pending.pop(index)
                data = ready.pop(index)
                await asyncio.to_thread(self._append, sink, data)
                del data
                self.written_chunks += 1
                await self._report()
        finally:
            for task in pending.values():
                task.cancel()
            await asyncio.gather(*pending.values(), return_exceptions=True)
            ready.clear()

    async def _fetch(self, index: int) -> bytearray:
        """One chunk's Arrow stream, asking for a fresh link when the one we have expired."""
        last: Exception | None = None
        for attempt in range(_LINK_ATTEMPTS):
            link = self.links.get(index)
            if link is None or _expired(link) or attempt > 0:
                if link is not None:
                    self.refreshed += 1
                link = await self._link(index)
            try:
                status, data = await self._download(link)
            except SendError as exc:  # retried with a fresh link
                last = exc
                continue
            if status in _EXPIRED_STATUSES:
                last = RemoteError(f"chunk {index} link answered HTTP {status}")
                continue
            if not 200 <= status < 300:
                raise RemoteError(
                    f"Downloading chunk {index} failed with HTTP {status}.",
                    hint="The storage service failed; run the export again.",
                )
            self.bytes += len(data)
            return data
        raise TransportError(
            f"Could not download chunk {index} of statement {self.statement_id} ({last}).",
            code="request.download_failed",
            hint="Check that this machine can reach the workspace's cloud storage.",
        )

    async def _download(self, link: dict[str, Any]) -> tuple[int, bytearray]:
        """GET a presigned link (no credentials) into one buffer only this export holds."""
        expected = int(link.get("byte_count") or 0)
        data, size = bytearray(expected), 0  # sized once: no copies while it grows
        async with self.ctx.http.stream(
            "GET",
            link["external_link"],
            headers=dict(link.get("http_headers") or {}),
            timeout=_DOWNLOAD_TIMEOUT_S,
        ) as response:
            if 200 <= response.status < 300:
                async for part in response.chunks():
                    end = size + len(part)
                    if end <= expected:
                        data[size:end] = part
                    else:
                        del data[size:]
                        data += part
                    size = end
            if size < len(data):
                del data[size:]
            return response.status, data

    async def _link(self, index: int) -> dict[str, Any]:
        found = await self.ctx.json(
            "GET", f"{STATEMENTS}/{self.statement_id}/result/chunks/{index}"
        )
        self._remember(found.get("external_links") or [])
        link = self.links.get(index)
        if link is None:
            raise RemoteError(f"The server gave no link for chunk {index}.")
        return link

    def _remember(self, links: list[dict[str, Any]]) -> None:
        for link in links:
            self.links[int(link.get("chunk_index", 0))] = link

    def _append(self, sink: Any, data: bytearray) -> None:
        """Decode one Arrow IPC stream and append its batches (runs in a worker thread)."""
        reader = pa.ipc.open_stream(pa.py_buffer(data))
        batches = iter(reader)
        first = next(batches, None)
        if self.writer is None:
            self._open_writer(sink, reader.schema, first)
        for batch in itertools.chain([first] if first is not None else [], batches):
            # Small row groups: the Parquet encoder buffers one row group, not a whole chunk.
            for offset in range(0, batch.num_rows, _ROWS_PER_WRITE):
                self.writer.write_batch(batch.slice(offset, _ROWS_PER_WRITE))
            self.rows += batch.num_rows

    def _open_writer(self, sink: Any, schema: pa.Schema, sample: Any = None) -> None:
        if self.kind == "parquet":
            import pyarrow.parquet as pq

            dictionary = _dictionary_columns(sample) if sample is not None else True
            self.writer = pq.ParquetWriter(
                sink, schema, compression="snappy", use_dictionary=dictionary
            )
        elif self.kind == "csv":
            import pyarrow.csv as pacsv

            self.writer = pacsv.CSVWriter(sink, schema)
        else:
            self.writer = pa.ipc.new_file(sink, schema)

    async def _report(self) -> None:
        if self.on_progress is None:
            return
        outcome = self.on_progress(
            ExportProgress(
                rows=self.rows,
                total_rows=self.total_rows,
                bytes=self.bytes,
                chunks=self.written_chunks,
                total_chunks=self.total_chunks,
                elapsed_s=time.monotonic() - self.started,
            )
        )
        if outcome is not None:
            await outcome


def _expired(link: dict[str, Any]) -> bool:
    """True when the link's `expiration` (RFC 3339 / HTTP date) is past or within 5 s."""
    value = link.get("expiration")
    if not value:
        return False
    try:
        from datetime import datetime

        when = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        try:
            when = parsedate_to_datetime(str(value))
        except (TypeError, ValueError):
            return False
    return when.timestamp() - time.time() < 5


_TYPES = {
    "BOOLEAN": pa.bool_(),
    "BYTE": pa.int8(),
    "TINYINT": pa.int8(),
    "SHORT": pa.int16(),
    "SMALLINT": pa.int16(),
    "INT": pa.int32(),
    "INTEGER": pa.int32(),
    "LONG": pa.int64(),
    "BIGINT": pa.int64(),
    "FLOAT": pa.float32(),
    "DOUBLE": pa.float64(),
    "DATE": pa.date32(),
    "TIMESTAMP": pa.timestamp("us", tz="UTC"),
    "BINARY": pa.binary(),
}


def _schema_of(manifest: dict[str, Any]) -> pa.Schema:
    """The Arrow schema of an empty result, from the manifest's Databricks type names."""
    columns = ((manifest.get("schema") or {}).get("columns")) or []
    return pa.schema(
        [(c.get("name", ""), _TYPES.get(str(c.get("type_name", "")).upper(), pa.string()))
         for c in columns]
    )  # fmt: skip


def _dictionary_columns(sample: Any) -> list[str] | bool:
    """The columns worth dictionary encoding: few distinct values in the first batch.

    Trying a dictionary on a column of unique values (ids, labels) in every 128k-row group made
    the Parquet writer 3-5x slower for a larger file; columns that repeat keep it."""
    import pyarrow.compute as pc

    rows = min(sample.num_rows, 65536)
    if rows == 0:
        return True
    head = sample.slice(0, rows)
    keep = []
    for name, column in zip(head.schema.names, head.columns, strict=True):
        try:
            distinct = pc.count_distinct(column).as_py()
        except (pa.ArrowNotImplementedError, pa.ArrowInvalid):
            continue  # a nested column: written plainly
        if distinct <= rows // 2:
            keep.append(name)
    return keep or False
