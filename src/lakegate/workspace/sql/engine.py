"""The DuckDB engine behind the SQL warehouses: catalogs as attached database files, a pool of
connections (one per worker thread), interruptible execution, and Databricks-like failures.

Statements run in the engine's own worker threads (DuckDB releases the GIL while it works), so
the server's event loop stays free and a slow statement never blocks the others.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from lakegate.workspace.samples.data import Generation, SamplesInfo, ensure_samples
from lakegate.workspace.sql import decimals, errors
from lakegate.workspace.sql.delta import commands, identity
from lakegate.workspace.sql.delta.keys import KeyStore
from lakegate.workspace.sql.delta.tablelog import TableLog
from lakegate.workspace.sql.translate import (
    ALIAS_SUFFIX,
    CATALOG_NAME,
    ColumnType,
    Plan,
    SqlError,
    column_type,
    duck_catalog,
    quote,
)

SAMPLES = "samples"
DEFAULT_CATALOG = "main"
DEFAULT_SCHEMA = "default"
BATCH_ROWS = 131_072


class Interrupted(Exception):
    """The statement was canceled while DuckDB ran it."""


@dataclass
class Output:
    """A statement's result: Databricks column types and the Arrow batches, read lazily."""

    names: list[str]
    types: list[ColumnType]
    schema: pa.Schema
    batches: Iterator[pa.RecordBatch]


class Execution:
    """One statement's hold on a connection, so that another thread can interrupt it."""

    def __init__(self) -> None:
        self.cancelled = threading.Event()
        self._lock = threading.Lock()
        self._cursor: duckdb.DuckDBPyConnection | None = None

    def attach(self, cursor: duckdb.DuckDBPyConnection) -> None:
        with self._lock:
            self._cursor = cursor
        if self.cancelled.is_set():
            raise Interrupted

    def detach(self) -> None:
        with self._lock:
            self._cursor = None

    def interrupt(self) -> bool:
        """Ask DuckDB to stop; True while the statement still holds a connection."""
        self.cancelled.set()
        with self._lock:
            if self._cursor is None:
                return False
            self._cursor.interrupt()
            return True


def default_connections() -> int:
    """Concurrent statements. Far more than cores: a statement holds its connection while it
    waits on the GIL or on DuckDB, and a burst of short ones must not queue behind slow ones
    (measured: 8 connections let 20 concurrent statements queue, 32 do not)."""
    return max(32, min(64, 8 * (os.cpu_count() or 1)))


# The current schema of a query whose session schema does not exist (SqlEngine.use).
NOWHERE = "memory.no_schema"


class SqlEngine:
    """One DuckDB database per workspace; each Unity Catalog catalog is an attached file."""

    def __init__(
        self, data_dir: Path, *, connections: int | None = None, samples_scale: float = 0.01
    ) -> None:
        self.dir = data_dir / "catalogs"
        self.samples_scale = samples_scale
        self.samples: SamplesInfo | None = None  # set once the samples are attached
        self._generation = Generation()
        self.connections = connections or default_connections()
        self.executor = ThreadPoolExecutor(self.connections, thread_name_prefix="lakegate-sql")
        # The engine's own database (its keys record): a file named `memory`, the name no
        # statement can reach (a Unity Catalog `memory` is the alias memory__uc).
        data_dir.mkdir(parents=True, exist_ok=True)
        self._db = duckdb.connect(str(data_dir / "memory.duckdb"))
        self._meta_lock = threading.Lock()
        self._meta = self._db.cursor()  # catalog browsing, never behind a slow statement
        self._local = threading.local()
        self._cursors: list[duckdb.DuckDBPyConnection] = []
        self._cursors_lock = threading.Lock()
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self._closed = False
        self._names: set[str] = set()  # attached catalogs, checked by every statement
        self.dir.mkdir(parents=True, exist_ok=True)
        self._db.execute("SET GLOBAL TimeZone = 'Etc/UTC'")  # Databricks' name for it
        # Spark's exact decimal division (decimals.py); every cursor of this database sees it.
        self._db.create_function(
            decimals.DECIMAL_DIVIDE, decimals.decimal_divide, ["VARCHAR", "VARCHAR", "INTEGER"],
            "VARCHAR",
        )  # fmt: skip
        self._temp_dir = data_dir / "duckdb.tmp"
        self._db.execute(f"SET GLOBAL temp_directory = {_literal(str(self._temp_dir))}")
        self._db.execute(f"CREATE SCHEMA IF NOT EXISTS {NOWHERE}")
        self.keys = KeyStore(self._db)
        self.log = TableLog(self._db)
        for path in sorted(self.dir.glob("*.duckdb")):
            if path.stem != SAMPLES and CATALOG_NAME.match(path.stem):
                self._attach(path.stem)
        if not self._attached(DEFAULT_CATALOG):
            self._attach(DEFAULT_CATALOG)
        # Generating the samples takes ~0.6 s the first time: do it off the start path.
        self._loader = threading.Thread(
            target=self._load_samples, name="lakegate-samples", daemon=True
        )
        self._loader.start()

    # -- catalogs ----------------------------------------------------------------------------

    def _attach(self, name: str, *, read_only: bool = False) -> None:
        path = self.dir / f"{name}.duckdb"
        mode = " (READ_ONLY)" if read_only else ""
        self._db.execute(f"ATTACH {_literal(str(path))} AS {quote(duck_catalog(name))}{mode}")
        self._names.add(name)
        if not read_only:
            self._db.execute(f'CREATE SCHEMA IF NOT EXISTS {quote(duck_catalog(name))}."default"')

    def _attached(self, name: str) -> bool:
        return name in self._names

    def _load_samples(self) -> None:
        try:
            self.samples = ensure_samples(
                self.dir / f"{SAMPLES}.duckdb", self.samples_scale, self._generation
            )
            with self._meta_lock:
                if not self._closed:
                    self._attach(SAMPLES, read_only=True)
        except BaseException as exc:  # reported by every statement that waits for it
            self._failure = exc
        finally:
            self._lock_external_access()
            self._ready.set()

    def _lock_external_access(self) -> None:
        """Once the data is loaded, no SQL may read the host's files or reach the network:
        only the catalogs and the spill directory stay reachable. DuckDB refuses to turn
        external access back on (or to widen the directories) while the database runs; the
        configuration itself stays open for each statement's session time zone, and no
        caller's SQL reaches DuckDB's SET (settings.py answers every SET and RESET)."""
        dirs = [f"{self.dir}/", f"{self._temp_dir}/"]
        with self._meta_lock:
            if self._closed:
                return
            self._db.execute(f"SET allowed_directories = [{', '.join(map(_literal, dirs))}]")
            self._db.execute("SET enable_external_access = false")

    def samples_ready(self, timeout_s: float) -> bool:
        """Whether loading the samples has ended (attached, or failed) within `timeout_s`."""
        return self._ready.wait(timeout_s)

    def wait_ready(self, timeout_s: float = 600.0) -> None:
        """Block until the samples are attached and external access is locked.

        No statement may run before the lock, so every statement waits; the bound is generous
        because generation on a loaded 2-core machine has taken over a minute."""
        if not self._ready.wait(timeout_s):
            raise SqlError(
                f"The sample data is still being generated after {timeout_s:.0f} s; "
                "try again shortly.",
                error_code="TEMPORARILY_UNAVAILABLE",
            )
        if self._failure is not None:
            raise SqlError(
                f"The sample data could not be loaded: {self._failure!r}",
                error_code="INTERNAL_ERROR",
            )

    def catalogs(self) -> list[str]:
        return sorted(self._names)

    def metadata(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple]:
        """A small catalog query on the dedicated metadata connection."""
        with self._meta_lock:
            return self._meta.execute(sql, params or {}).fetchall()

    def column_types(self, table: tuple[str, str, str]) -> dict[str, str] | None:
        """A table's columns (lower-cased name -> DuckDB type); None: no such table."""
        rows = self.metadata(
            "SELECT lower(column_name), data_type FROM duckdb_columns() WHERE database_name = $c "
            "AND lower(schema_name) = $s AND lower(table_name) = $t",
            {"c": duck_catalog(table[0]), "s": table[1], "t": table[2]},
        )
        return dict(rows) if rows else None

    def create_catalog(self, name: str, *, if_not_exists: bool) -> None:
        if not CATALOG_NAME.match(name) or name.endswith(ALIAS_SUFFIX):
            raise SqlError(
                f"[INVALID_IDENTIFIER] Invalid catalog name: {name!r}.", sql_state="42602"
            )
        if self._attached(name):
            if if_not_exists:
                return
            raise SqlError(
                f"[CATALOG_ALREADY_EXISTS] Catalog '{name}' already exists. SQLSTATE: 42P04",
                sql_state="42P04",
            )
        with self._meta_lock:
            self._attach(name)

    def drop_catalog(self, name: str, *, if_exists: bool, cascade: bool = False) -> None:
        """Detach and delete a catalog; without `cascade` (RESTRICT, the default) it must hold
        no schema but `default` and no object at all."""
        if not self._attached(name):
            if if_exists:
                return
            raise _no_catalog(name)
        if name in (SAMPLES, DEFAULT_CATALOG):
            raise SqlError(f"[INSUFFICIENT_PERMISSIONS] Catalog '{name}' cannot be dropped.")
        held = self.metadata(_CATALOG_CONTENTS, {"c": duck_catalog(name)})
        if held and not cascade:
            listed = ", ".join(f"`{n}`" for (n,) in held[:5])
            raise SqlError(
                f"[CATALOG_NOT_EMPTY] Cannot drop catalog `{name}` because it contains {listed}."
                " Use DROP CATALOG ... CASCADE to drop the catalog and all its objects. "
                "SQLSTATE: 2BP01",
                sql_state="2BP01",
            )
        with self._meta_lock:
            self._db.execute(f"DETACH {quote(duck_catalog(name))}")
            self._names.discard(name)
        (self.dir / f"{name}.duckdb").unlink(missing_ok=True)

    # -- statements --------------------------------------------------------------------------

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        cursor = getattr(self._local, "cursor", None)
        if cursor is None:
            cursor = self._local.cursor = self._db.cursor()
            with self._cursors_lock:
                self._cursors.append(cursor)
        return cursor

    @contextmanager
    def execute(
        self,
        execution: Execution,
        plan: Plan,
        *,
        catalog: str,
        schema: str,
        timezone: str = "Etc/UTC",
    ) -> Iterator[Output]:
        """Run `plan` on this thread's connection, in the session's time zone (an IANA name);
        the batches are read inside the block."""
        self.wait_ready()
        cursor = self._cursor()
        try:
            self._zone(cursor, timezone)
            if plan.kind == "create_catalog":
                self.create_catalog(plan.target[0], if_not_exists=plan.if_exists)
            elif plan.kind == "drop_catalog":
                self.drop_catalog(plan.target[0], if_exists=plan.if_exists, cascade=plan.cascade)
            elif plan.kind == "use":
                self.use(cursor, *plan.target)
            elif plan.kind == "temp_view":
                if plan.sql:  # CREATE: its query must bind now, as Spark analyzes it then
                    self.use(cursor, catalog, schema)
                    cursor.execute(f"DESCRIBE {plan.sql}")
            elif plan.kind == "keys":
                self.keys.save(cursor, plan.keys.table, self.keys.check(cursor, plan.keys))
                if plan.commit is not None:
                    self.log.record(cursor, plan.commit)
            elif plan.kind == "table_log":
                self.log.change(cursor, plan.commit)
            elif plan.kind == "checked":  # a statement with only checks to make, no result
                self.use(cursor, catalog, schema)
                cursor.execute(plan.sql, plan.params).fetchall()
            elif plan.kind == "partitions":
                self.use(cursor, catalog, schema)
                if not self.column_types(plan.target):
                    raise errors.table_not_found(".".join(f"`{p}`" for p in plan.target))
                columns = self.log.partition_columns(cursor, plan.target)
                listed = dataclasses.replace(
                    plan, kind="query", sql=commands.partitions_sql(plan.target, columns), params={}
                )
                yield self._output(cursor, listed)
                return
            else:
                self.use(cursor, catalog, schema, fallback=_without_schema(plan, catalog))
                checked = self.keys.check(cursor, plan.keys) if plan.keys else None
                if plan.writes is not None:
                    identity.refuse_always(cursor, plan.writes)
                execution.attach(cursor)
                try:
                    output = self._output(cursor, plan)
                except duckdb.ConversionException:
                    respelled = _respelled(cursor, plan)
                    if respelled is None:
                        raise
                    output = self._output(cursor, respelled)
                if checked is not None:
                    self.keys.save(cursor, plan.keys.table, checked)
                if plan.sweep is not None:
                    identity.sweep(cursor, *plan.sweep)
                counted: list[int] = []
                if plan.commit is not None and "num_affected_rows" in output.names:
                    output.batches = _counting(output.batches, counted)
                yield output
                # After the output is read: it streams from `cursor`.
                self._logged(cursor, plan, counted[0] if counted else None)
                return
            yield Output([], [], pa.schema([]), iter(()))
        except duckdb.InterruptException:
            raise Interrupted from None
        except duckdb.Error as exc:
            if execution.cancelled.is_set():
                raise Interrupted from None
            raise failure(exc, plan.tables) from None
        finally:
            execution.detach()
            _end_transaction(cursor)

    def _zone(self, cursor: duckdb.DuckDBPyConnection, timezone: str) -> None:
        """This connection's time zone for the statement (set only when it changes)."""
        if getattr(self._local, "zone", "Etc/UTC") == timezone:
            return
        cursor.execute(f"SET SESSION TimeZone = {_literal(timezone)}")
        self._local.zone = timezone

    def use(
        self,
        cursor: duckdb.DuckDBPyConnection,
        catalog: str,
        schema: str,
        *,
        fallback: str | None = None,
    ) -> None:
        """Make `catalog`.`schema` this connection's current schema. A session's schema that
        does not exist fails only the statements that need it, as on Databricks (which opens
        the namespace lazily): those that do not run in `fallback` (`_without_schema`)."""
        if not self._attached(catalog):
            raise _no_catalog(catalog)
        try:
            cursor.execute(f"USE {quote(duck_catalog(catalog))}.{quote(schema)}")
        except duckdb.CatalogException:
            if fallback is not None:
                cursor.execute(f"USE {fallback}")
                return
            raise SqlError(
                f"[SCHEMA_NOT_FOUND] The schema `{catalog}`.`{schema}` cannot be found. Verify "
                "the spelling and correctness of the schema and catalog. SQLSTATE: 42704",
                sql_state="42704",
            ) from None

    def _output(self, cursor: duckdb.DuckDBPyConnection, plan: Plan) -> Output:
        if plan.before or plan.after:
            return self._atomic(cursor, plan)
        relation = cursor.sql(plan.sql, params=plan.params or None)
        if relation is None:
            return Output([], [], pa.schema([]), iter(()))
        if relation.columns == ["Count"] and not plan.rename:
            relation.fetchall()  # DDL: DuckDB reports a count, Databricks no columns at all
            return Output([], [], pa.schema([]), iter(()))
        names = [plan.rename.get(n, n) for n in relation.columns]
        kinds = [str(t) for t in relation.types]
        types = [column_type(kind) for kind in kinds]
        relation, variants = _variants_as_json(relation, kinds)
        reader = relation.to_arrow_reader(BATCH_ROWS)
        schema = reader.schema
        if plan.rename or variants:
            schema = pa.schema(
                [
                    f.with_name(n).with_metadata(_VARIANT) if i in variants else f.with_name(n)
                    for i, (f, n) in enumerate(zip(schema, names, strict=True))
                ]
            )
        if plan.kind == "describe":
            return _described(plan, reader)
        batches = (
            pa.RecordBatch.from_arrays(b.columns, schema=schema) if plan.rename or variants else b
            for b in reader
        )
        return Output(names, types, schema, batches)

    def _atomic(self, cursor: duckdb.DuckDBPyConnection, plan: Plan) -> Output:
        """`plan.before`, `plan.sql` and `plan.after` in one transaction (INSERT OVERWRITE,
        CREATE TABLE with comments: no half state)."""
        cursor.begin()
        try:
            for sql in plan.before:
                cursor.execute(sql)
            relation = cursor.sql(plan.sql, params=plan.params or None)
            table = relation.to_arrow_table() if relation is not None else None
            types = [column_type(str(t)) for t in relation.types] if relation is not None else []
            for sql in plan.after:
                cursor.execute(sql)
            cursor.commit()
        except BaseException:
            cursor.rollback()
            raise
        if table is None or (table.column_names == ["Count"] and not plan.rename):
            return Output([], [], pa.schema([]), iter(()))
        names = [plan.rename.get(n, n) for n in table.column_names]
        table = table.rename_columns(names)
        return Output(names, types, table.schema, iter(table.to_batches()))

    def _logged(self, cursor: duckdb.DuckDBPyConnection, plan: Plan, rows: int | None) -> None:
        """What a statement that ran changes in the engine's records: its commit in the table's
        Delta log (with the `rows` it wrote, if it says); a renamed table's keys and log move to
        its new name."""
        if plan.moved is not None:
            self.keys.rename(cursor, *plan.moved)
            self.log.rename(cursor, *plan.moved)
        if plan.commit is not None:
            self.log.record(cursor, plan.commit.with_rows(rows))

    def forget(self, kind: str, full_name: str) -> None:
        """A dropped table, schema or catalog takes its tables' keys and Delta logs along."""
        with self._meta_lock:
            self.keys.forget(self._meta, kind, full_name)
            self.log.forget(self._meta, kind, full_name)

    def close(self) -> None:
        """Interrupt whatever still runs, then close every connection and the database."""
        self._closed = True
        # A process that exits while DuckDB still generates the samples aborts: stop, then wait,
        # asking again (an interrupt that lands just before DuckDB starts a statement is lost).
        for _ in range(600):
            self._generation.stop()
            self._loader.join(timeout=0.1)
            if not self._loader.is_alive():
                break
        with self._cursors_lock:
            cursors = list(self._cursors)
        for cursor in cursors:
            cursor.interrupt()
        self.executor.shutdown(wait=True, cancel_futures=True)
        with self._meta_lock:
            for cursor in [*cursors, self._meta]:
                cursor.close()
            self._db.close()


def _counting(batches: Iterator[pa.RecordBatch], counted: list[int]) -> Iterator[pa.RecordBatch]:
    """`batches` of a DML's one-row `num_affected_rows` result, keeping the count as it passes."""
    for batch in batches:
        if batch.num_rows:
            counted.append(int(batch.column(0)[0].as_py() or 0))
        yield batch


def _respelled(cursor: duckdb.DuckDBPyConnection, plan: Plan) -> Plan | None:
    """After a failed conversion (the statement changed nothing): the INSERT with its Spark
    timestamp strings spelled for DuckDB in the target's timestamp columns; None when there is
    no such string (the failure stands)."""
    if plan.lenient is None:
        return None
    columns = cursor.execute(f"DESCRIBE {plan.lenient.target()}").fetchall()
    sql = plan.lenient.respelled([(name, kind) for name, kind, *_ in columns])
    return dataclasses.replace(plan, sql=sql) if sql is not None else None


def _without_schema(plan: Plan, catalog: str) -> str | None:
    """Where a statement runs when its session's schema does not exist: a schema's CREATE or
    DROP in its catalog (where an unqualified schema name lands), a query, SHOW or DESCRIBE in
    `NOWHERE` (an empty schema of the engine's own database, which no statement can name: an
    unqualified table is not found, while `SELECT current_catalog()` or a qualified name
    answers); None for a statement that needs the schema (SCHEMA_NOT_FOUND)."""
    touched = plan.created or plan.dropped
    if touched is not None and touched[0] == "SCHEMA":
        return quote(duck_catalog(catalog))
    return NOWHERE if plan.statement_type in ("SELECT", "SHOW", "DESCRIBE") else None


def _described(plan: Plan, reader: pa.RecordBatchReader) -> Output:
    table = reader.read_all()
    if table.num_rows == 0:
        name = ".".join(f"`{p}`" for p in plan.target)
        raise SqlError(
            f"[TABLE_OR_VIEW_NOT_FOUND] The table or view {name} cannot be found. Verify the "
            "spelling and correctness of the schema and catalog. SQLSTATE: 42P01",
            sql_state="42P01",
        )
    data_type = [column_type(t).type_text.lower() for t in table.column("data_type").to_pylist()]
    table = table.set_column(1, "data_type", pa.array(data_type, pa.string()))
    types = [ColumnType("STRING", "STRING")] * 3
    return Output(table.column_names, types, table.schema, iter(table.to_batches()))


def _no_catalog(name: str) -> SqlError:
    return SqlError(
        f"[NO_SUCH_CATALOG_EXCEPTION] Catalog '{name}' was not found. Please verify the catalog "
        "name and then retry the query or command again. SQLSTATE: 42704",
        sql_state="42704",
    )


# What keeps a catalog from being dropped without CASCADE: its schemas other than `default`
# (and DuckDB's own), and every table or view.
_CATALOG_CONTENTS = """
SELECT schema_name FROM duckdb_schemas() WHERE database_name = $c
  AND schema_name NOT IN ('default', 'main', 'pg_catalog', 'information_schema')
UNION ALL
SELECT schema_name || '.' || table_name FROM duckdb_tables() WHERE database_name = $c
UNION ALL
SELECT schema_name || '.' || view_name FROM duckdb_views()
WHERE database_name = $c AND NOT internal
ORDER BY 1
"""


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


_RULES: list[tuple[type, str, str, str]] = [
    # (DuckDB exception, text in its message, Databricks error class, SQLSTATE)
    (duckdb.CatalogException, "Table with name", "TABLE_OR_VIEW_NOT_FOUND", "42P01"),
    (duckdb.CatalogException, "Schema with name", "SCHEMA_NOT_FOUND", "42704"),
    (duckdb.CatalogException, "already exists", "TABLE_OR_VIEW_ALREADY_EXISTS", "42P07"),
    (duckdb.CatalogException, "Function with name", "UNRESOLVED_ROUTINE", "42883"),
    (duckdb.BinderException, "not found", "UNRESOLVED_COLUMN.WITH_SUGGESTION", "42703"),
    (duckdb.ParserException, "", "PARSE_SYNTAX_ERROR", "42601"),
    (duckdb.ConversionException, "", "CAST_INVALID_INPUT", "22018"),
    (duckdb.OutOfRangeException, "", "ARITHMETIC_OVERFLOW", "22003"),
    (duckdb.ConstraintException, "", "CONSTRAINT_VIOLATION", "23000"),
    (duckdb.InvalidInputException, "read-only", "INSUFFICIENT_PERMISSIONS", "42501"),
]


# Databricks sends a VARIANT as its JSON text, marked in the Arrow field's metadata (the
# connectors read `variant` from it, as they do from Databricks).
_VARIANT = {"Spark:DataType:SqlName": "VARIANT"}


def _variants_as_json(
    relation: duckdb.DuckDBPyRelation, kinds: list[str]
) -> tuple[duckdb.DuckDBPyRelation, set[int]]:
    """`relation` (its DuckDB column types: `kinds`) with its VARIANT columns as JSON text, and
    their positions."""
    variants = {i for i, kind in enumerate(kinds) if kind == "VARIANT"}
    if not variants:
        return relation, variants
    columns = ", ".join(
        f"CAST(CAST(#{i + 1} AS JSON) AS VARCHAR) AS {quote(name)}"
        if i in variants
        else f"#{i + 1} AS {quote(name)}"
        for i, name in enumerate(relation.columns)
    )
    return relation.project(columns), variants


def failure(exc: duckdb.Error, tables: dict[str, str] | None = None) -> SqlError:
    """A DuckDB error as Databricks would word it: `[ERROR_CLASS] message SQLSTATE: xxxxx`.

    `tables` maps each table's last name part to its name as the statement wrote it."""
    text = str(exc).split("\n\n")[0].replace(ALIAS_SUFFIX + '"', '"').replace(ALIAS_SUFFIX, "")
    _, sep, rest = text.partition(" Error: ")
    detail = " ".join((rest if sep else text).split())
    if isinstance(exc, duckdb.OutOfMemoryException):
        return SqlError(f"[OUT_OF_MEMORY] {detail}", error_code="RESOURCE_EXHAUSTED")
    worded = re.match(r"\[[A-Z_.]+\] .* SQLSTATE: (\w{5})$", detail)
    if worded:  # raised by our own metadata SQL with error('...'), already in Databricks' words
        return SqlError(detail, sql_state=worded.group(1))
    schema = re.match(r'Schema with name "?([^"!]+?)"? already exists', detail)
    if isinstance(exc, duckdb.CatalogException) and schema:
        return errors.schema_exists(schema.group(1))
    dependent = re.match(r'Cannot drop entry "([^"]+)" because .*depends on schema', detail)
    if isinstance(exc, duckdb.DependencyException) and dependent:
        return errors.schema_not_empty(dependent.group(1))
    missing = re.match(r"Table with name (\S+) does not exist", detail)
    if isinstance(exc, duckdb.CatalogException) and missing:
        return errors.table_not_found(errors.as_written(missing.group(1), tables))
    exists = re.match(r"Table with name (\S+) already exists", detail)
    if isinstance(exc, duckdb.CatalogException) and exists:
        return errors.table_exists(errors.as_written(exists.group(1), tables))
    routine = re.match(r"(?:\w+ )?Function with name (\S+) does not exist", detail)
    if isinstance(exc, duckdb.CatalogException) and routine:
        return errors.routine_not_found(routine.group(1).strip('"'))
    grouped = re.match(r'column "(.+?)" must appear in the GROUP BY clause', detail)
    if isinstance(exc, duckdb.BinderException) and grouped:
        return errors.missing_aggregation(grouped.group(1))
    unresolved = re.match(r'Referenced column "(.+?)" not found.*?(?:bindings: (.*))?$', detail)
    if isinstance(exc, duckdb.BinderException) and unresolved:
        return errors.column_not_found(unresolved.group(1), unresolved.group(2) or "")
    spark = errors.reworded(detail)
    if spark is not None:
        return spark
    for kind, needle, error_class, sql_state in _RULES:
        if isinstance(exc, kind) and needle in detail:
            return SqlError(f"[{error_class}] {detail} SQLSTATE: {sql_state}", sql_state=sql_state)
    return SqlError(f"[INTERNAL_ERROR] {detail}", sql_state="XX000")


def _end_transaction(cursor: duckdb.DuckDBPyConnection) -> None:
    """Roll back whatever transaction a statement left open on this shared connection (none
    should: transaction statements are refused), so it cannot hold or abort the next caller's."""
    with contextlib.suppress(duckdb.Error):  # no transaction was active: the usual case
        cursor.rollback()
