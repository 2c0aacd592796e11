"""Delta's table log, as the engine keeps it: what a statement writes to a table's log (its
`Commit`: a history entry, and for a new table its layout and properties), and the record of
every table's properties, layout and history (`TableLog`).

A Delta table is its transaction log: every write is a numbered commit (version 0 is the CREATE),
and the log holds the table's properties and layout (PARTITIONED BY, CLUSTER BY). DuckDB keeps
none of that, so the engine records it in its own database, as it does the informational keys
(keys.py): `memory.lakegate.uc_table_properties`, `uc_table_layout` and `uc_table_history`,
tables no statement can name. A statement that writes a table carries its `Commit`; the engine
records it after the statement succeeded. A DROP takes the table's record along; a RENAME moves
it. The statements that read it are commands.py's.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field

import duckdb
from sqlglot import exp

from lakegate.workspace.sql import errors, plan
from lakegate.workspace.sql.delta.keys import created_table

__all__ = [
    "DEFAULTS", "ENGINE_INFO", "HISTORY", "LAYOUT", "PROPERTIES", "READER", "SCHEMA_PROPERTIES",
    "WRITER",
    "Commit", "TableLog", "check_keys", "commit_of", "create_table", "renamed", "table_id",
]  # fmt: skip

log = logging.getLogger(__name__)

PROPERTIES = f"{plan.RECORDS}.uc_table_properties"
LAYOUT = f"{plan.RECORDS}.uc_table_layout"
HISTORY = f"{plan.RECORDS}.uc_table_history"
_NAME_COLUMNS = "catalog VARCHAR, schema VARCHAR, table_name VARCHAR"
_SETUP = (
    f"CREATE TABLE IF NOT EXISTS {PROPERTIES} ({_NAME_COLUMNS}, key VARCHAR, value VARCHAR)",
    f"CREATE TABLE IF NOT EXISTS {LAYOUT} ({_NAME_COLUMNS}, partition_columns VARCHAR[], "
    "clustering_columns VARCHAR[])",
    f"CREATE TABLE IF NOT EXISTS {HISTORY} ({_NAME_COLUMNS}, version BIGINT, ts TIMESTAMPTZ, "
    "user_id VARCHAR, user_name VARCHAR, operation VARCHAR, parameters MAP(VARCHAR, VARCHAR), "
    "blind BOOLEAN, PRIMARY KEY (catalog, schema, table_name, version))",
    f"ALTER TABLE {HISTORY} ADD COLUMN IF NOT EXISTS metrics MAP(VARCHAR, VARCHAR)",
)
# The rows a write's count stands for, by operation (Delta's operationMetrics names).
_ROW_METRICS = {"WRITE": "numOutputRows", "DELETE": "numDeletedRows",
                "UPDATE": "numUpdatedRows", "MERGE": "numOutputRows"}  # fmt: skip
_WHERE = "catalog = $1 AND schema = $2 AND table_name = $3"
# The protocol every table here has: Delta's defaults, reader 1 and writer 2.
READER, WRITER = "delta.minReaderVersion", "delta.minWriterVersion"
DEFAULTS = {READER: "1", WRITER: "2"}
# Every table's properties in the schema `$catalog`.`$s` (the REST API's TableInfo.properties).
SCHEMA_PROPERTIES = (
    f"SELECT table_name, key, value FROM {PROPERTIES} "
    "WHERE catalog = lower($catalog) AND schema = lower($s) ORDER BY key"
)
# Set with their own clauses, never as properties (Spark refuses them in TBLPROPERTIES).
_RESERVED = {
    "owner": "ALTER TABLE ... OWNER TO", "location": "LOCATION", "provider": "USING",
    "external": "CREATE EXTERNAL TABLE", "is_managed_location": "LOCATION",
}  # fmt: skip
ENGINE_INFO = "lakegate-local-workspace"


@dataclass
class Commit:
    """One change to a table's log: a history entry (`operation`, its `parameters`), and for a
    new table its layout and properties, or the properties a statement sets or unsets."""

    table: tuple[str, str, str]
    operation: str
    parameters: dict[str, str] = field(default_factory=dict)
    blind: bool = False  # a blind append: the write read nothing of its own table
    user: str = ""
    user_id: str = ""
    set: dict[str, str] = field(default_factory=dict)
    unset: tuple[str, ...] = ()
    if_exists: bool = False  # UNSET ... IF EXISTS
    # A new (or replaced) table: (partition columns, clustering columns); its properties are
    # then `set` alone.
    layout: tuple[tuple[str, ...], tuple[str, ...]] | None = None
    metrics: dict[str, str] = field(default_factory=dict)  # Delta's operationMetrics

    def with_rows(self, rows: int | None) -> Commit:
        """This commit with the rows its statement wrote, under Delta's metric name."""
        metric = _ROW_METRICS.get(self.operation)
        if rows is None or metric is None:
            return self
        return dataclasses.replace(self, metrics={**self.metrics, metric: str(rows)})


def check_keys(values: Mapping[str, str]) -> None:
    for key in values:
        clause = _RESERVED.get(key.lower())
        if clause is not None:
            raise plan.SqlError(
                f"[UNSUPPORTED_FEATURE.SET_TABLE_PROPERTY] The feature is not supported: {key} "
                f"is a reserved table property, please use {clause} to specify it. "
                "SQLSTATE: 0A000",
                sql_state="0A000",
            )


def table_id(name: tuple[str, str, str]) -> str:
    """The table's id: the same one Unity Catalog's REST API gives it."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, ".".join(name)))


# -- what statements write -------------------------------------------------------------------


def create_table(tree: exp.Create, catalog: str, schema: str, user: str) -> Commit | None:
    """Take a CREATE TABLE's TBLPROPERTIES, PARTITIONED BY and CLUSTER BY out (in place; DuckDB
    has neither) into the table's first (or, replacing, next) commit."""
    made = created_table(tree)
    if made is None:
        return None
    spec, target = made
    name = plan.resolve(target, catalog, schema)
    columns = [c.name.lower() for c in spec.expressions if isinstance(c, exp.ColumnDef)] if (
        spec is not None) else []  # fmt: skip
    values: dict[str, str] = {}
    partitioned: list[str] = []
    clustered: list[str] = []
    properties = tree.args.get("properties")
    for prop in list(properties.expressions) if properties is not None else []:
        if isinstance(prop, exp.PartitionedByProperty):
            partitioned = [_column_name(e) for e in _listed(prop.this)]
        elif isinstance(prop, exp.ClusterProperty):
            clustered = [_column_name(e) for e in prop.expressions]
        elif type(prop) is exp.Property:
            values[_value(prop.this)] = _value(prop.args["value"])
        else:
            continue
        prop.pop()
    if partitioned and clustered:
        raise plan.SqlError(
            "[DELTA_CLUSTER_BY_WITH_PARTITIONED_BY] Clustering and partitioning cannot both be "
            "specified. Please remove PARTITIONED BY if you want to create a Delta table with "
            "clustering. SQLSTATE: 42613",
            sql_state="42613",
        )
    check_keys(values)
    for clause, named in (("PARTITION", partitioned), ("CLUSTER BY", clustered)):
        for column in named:
            if columns and column not in columns:
                raise plan.SqlError(
                    f"[COLUMN_NOT_DEFINED_IN_TABLE] {clause} column `{column}` is not defined "
                    f"in table `{'`.`'.join(name)}`, defined table columns are: "
                    f"{', '.join(f'`{c}`' for c in columns)}. SQLSTATE: 42703",
                    sql_state="42703",
                )
    replacing = bool(tree.args.get("replace"))
    operation = ("CREATE OR REPLACE TABLE" if replacing else "CREATE TABLE") + (
        " AS SELECT" if tree.args.get("expression") is not None else "")  # fmt: skip
    parameters = {
        "isManaged": "true", "partitionBy": json.dumps(partitioned),
        "clusterBy": json.dumps(clustered), "properties": json.dumps(values),
    }  # fmt: skip
    return Commit(
        name, operation, parameters, blind=True, user=user, set=values,
        layout=(tuple(partitioned), tuple(clustered)),
    )  # fmt: skip


def _listed(node: exp.Expression) -> list[exp.Expression]:
    return list(node.expressions) if isinstance(node, exp.Schema | exp.Tuple) else [node]


def _column_name(node: exp.Expression) -> str:
    if isinstance(node, exp.ColumnDef):
        raise plan.SqlError(
            "[UNSUPPORTED_FEATURE] PARTITIONED BY with column types: name the partition columns "
            "in the column list and only their names here. SQLSTATE: 0A000",
            sql_state="0A000",
        )
    return node.name.lower()


def _value(node: exp.Expression) -> str:
    """A property's key or value as Spark keeps it: a literal's text, `true`/`false`, a
    dotted name as written."""
    if isinstance(node, exp.Literal):
        return node.name
    if isinstance(node, exp.Boolean):
        return "true" if node.this else "false"
    return node.sql(dialect="databricks")


def commit_of(tree: exp.Expression, catalog: str, schema: str, user: str) -> Commit | None:
    """The commit a write (INSERT, UPDATE, DELETE, MERGE, TRUNCATE, ALTER TABLE) adds to its
    table's history; None for a statement that writes no table."""
    if isinstance(tree, exp.Insert):
        target = tree.this.this if isinstance(tree.this, exp.Schema) else tree.this
        if not isinstance(target, exp.Table):
            return None
        name = plan.resolve(target, catalog, schema)
        overwrite = bool(tree.args.get("overwrite"))
        source = tree.expression
        reads = [t for t in source.find_all(exp.Table)] if source is not None else []
        blind = not overwrite and all(plan.resolve(t, catalog, schema) != name for t in reads)
        mode = "Overwrite" if overwrite else "Append"
        return Commit(name, "WRITE", {"mode": mode, "partitionBy": "[]"}, blind=blind, user=user)
    if isinstance(tree, exp.Update | exp.Delete):
        target = tree.this
        if not isinstance(target, exp.Table):
            return None
        where = tree.args.get("where")
        predicate = [where.this.sql(dialect="databricks")] if where is not None else []
        operation = "UPDATE" if isinstance(tree, exp.Update) else "DELETE"
        name = plan.resolve(target, catalog, schema)
        return Commit(name, operation, {"predicate": json.dumps(predicate)}, user=user)
    if isinstance(tree, exp.Merge) and isinstance(tree.this, exp.Table):
        on = tree.args.get("on")
        predicate = json.dumps(on.sql(dialect="databricks") if on is not None else "")
        name = plan.resolve(tree.this, catalog, schema)
        return Commit(name, "MERGE", {"predicate": predicate}, user=user)
    if isinstance(tree, exp.TruncateTable) and len(tree.expressions) == 1:
        table = tree.expressions[0]
        if isinstance(table, exp.Table):
            return Commit(plan.resolve(table, catalog, schema), "TRUNCATE", user=user)
    if isinstance(tree, exp.Alter) and isinstance(tree.this, exp.Table):
        return _altered(tree, plan.resolve(tree.this, catalog, schema), user)
    return None


def _altered(tree: exp.Alter, name: tuple[str, str, str], user: str) -> Commit | None:
    if str(tree.args.get("kind") or "TABLE").upper() != "TABLE":
        return None
    actions = tree.args.get("actions") or []
    first = actions[0] if actions else None
    if isinstance(first, exp.AlterRename):
        return None  # the log moves with the table (`renamed`)
    if isinstance(first, exp.Schema | exp.ColumnDef):
        added = [c.name for a in actions for c in (a.expressions if isinstance(a, exp.Schema)
                                                    else [a])]  # fmt: skip
        return Commit(name, "ADD COLUMNS", {"columns": json.dumps(added)}, user=user)
    if isinstance(first, exp.Drop):
        dropped = [c.name for a in actions for c in a.args.get("tables") or []]
        return Commit(name, "DROP COLUMNS", {"columns": json.dumps(dropped)}, user=user)
    if isinstance(first, exp.RenameColumn):
        parameters = {"oldColumnPath": first.this.name, "newColumnPath": first.args["to"].name}
        return Commit(name, "RENAME COLUMN", parameters, user=user)
    if isinstance(first, exp.AddConstraint):
        return Commit(name, "ADD CONSTRAINT", {"name": _constraint_name(first)}, user=user)
    return Commit(name, "CHANGE COLUMN", user=user)


def _constraint_name(action: exp.AddConstraint) -> str:
    for item in action.expressions:
        if isinstance(item, exp.Constraint):
            return item.name
    return ""


def renamed(tree: exp.Expression, catalog: str, schema: str) -> tuple[tuple, tuple] | None:
    """ALTER TABLE a RENAME TO b: (a, b), in full; the table's records move along."""
    if not isinstance(tree, exp.Alter) or not isinstance(tree.this, exp.Table):
        return None
    actions = tree.args.get("actions") or []
    if len(actions) != 1 or not isinstance(actions[0], exp.AlterRename):
        return None
    old = plan.resolve(tree.this, catalog, schema)
    new_name = actions[0].this
    # Spark: a one-part new name stays in the table's own schema.
    new = plan.resolve(new_name, old[0], old[1])
    return old, new


# -- the engine's record ---------------------------------------------------------------------


class TableLog:
    """The properties, layout and history of every table, in the engine's own database."""

    def __init__(self, db: duckdb.DuckDBPyConnection) -> None:
        for statement in _SETUP:
            db.execute(statement)
        # Each table's latest version, read once from the history: a commit then inserts its
        # row without scanning every table's history. Commits take turns (one engine, one
        # process), so two writers of one table never take the same version.
        self._lock = threading.Lock()
        self._latest: dict[tuple[str, str, str], int] = {}

    def change(self, cursor: duckdb.DuckDBPyConnection, commit: Commit) -> None:
        """SET / UNSET TBLPROPERTIES: checked against the table, then recorded."""
        found = cursor.execute(
            "SELECT 'TABLE' FROM duckdb_tables() WHERE database_name = $1 AND lower(schema_name) "
            "= $2 AND lower(table_name) = $3 UNION ALL SELECT 'VIEW' FROM duckdb_views() WHERE "
            "database_name = $1 AND lower(schema_name) = $2 AND lower(view_name) = $3",
            [plan.duck_catalog(commit.table[0]), *commit.table[1:]],
        ).fetchall()
        quoted = ".".join(f"`{p}`" for p in commit.table)
        if not found:
            raise errors.table_not_found(quoted)
        if found[0][0] == "VIEW":
            raise plan.SqlError(
                f"[EXPECT_TABLE_NOT_VIEW.USE_ALTER_VIEW] 'ALTER TABLE ... {commit.operation}' "
                f"expects a table but {quoted} is a view. Please use ALTER VIEW instead. "
                "SQLSTATE: 42809",
                sql_state="42809",
            )
        if commit.unset and not commit.if_exists:
            table = list(commit.table)
            rows = cursor.execute(f"SELECT key FROM {PROPERTIES} WHERE {_WHERE}", table)
            have = {k for (k,) in rows.fetchall()}
            absent = [k for k in commit.unset if k not in have and k not in DEFAULTS]
            if absent:
                raise plan.SqlError(
                    "[UNSET_NONEXISTENT_PROPERTIES] Attempted to unset non-existent properties "
                    f"[{', '.join(f'`{k}`' for k in absent)}] in table {quoted}. Use UNSET "
                    "TBLPROPERTIES IF EXISTS to ignore them. SQLSTATE: 42K0J",
                    sql_state="42K0J",
                )
        self.record(cursor, commit)

    def record(self, cursor: duckdb.DuckDBPyConnection, commit: Commit) -> None:
        """Add `commit` to its table's log, in one transaction of the engine's database. A
        concurrent writer of the same table takes the next version: retried. The statement
        itself has run by now, so a log that still cannot be written is reported, not raised:
        failing a write that happened would invite the client to repeat it."""
        for _ in range(20):
            try:
                with self._lock:
                    self._record(cursor, commit)
                return
            except (duckdb.TransactionException, duckdb.ConstraintException):
                with self._lock:
                    self._latest.pop(commit.table, None)  # read it again next time
        log.error("the Delta log of %s lost a commit (%s)", ".".join(commit.table),
                  commit.operation)  # fmt: skip

    def _record(self, cursor: duckdb.DuckDBPyConnection, commit: Commit) -> None:
        table = list(commit.table)
        latest = self._latest.get(commit.table)
        if latest is None:
            (found,) = cursor.execute(
                f"SELECT max(version) FROM {HISTORY} WHERE {_WHERE}", table
            ).fetchone()
            latest = -1 if found is None else found
        with plan.transaction(cursor):
            if commit.layout is not None:
                cursor.execute(f"DELETE FROM {PROPERTIES} WHERE {_WHERE}", table)
                cursor.execute(f"DELETE FROM {LAYOUT} WHERE {_WHERE}", table)
                cursor.execute(
                    f"INSERT INTO {LAYOUT} VALUES ($1, $2, $3, $4, $5)",
                    [*table, list(commit.layout[0]), list(commit.layout[1])],
                )
            gone = [*commit.set, *commit.unset]
            if gone:
                cursor.execute(
                    f"DELETE FROM {PROPERTIES} WHERE {_WHERE} AND list_contains($4, key)",
                    [*table, gone],
                )
            for key, value in commit.set.items():
                cursor.execute(f"INSERT INTO {PROPERTIES} VALUES ($1, $2, $3, $4, $5)",
                               [*table, key, value])  # fmt: skip
            cursor.execute(
                f"INSERT INTO {HISTORY} VALUES ($1, $2, $3, $4, now(), $5, $6, $7, "
                "MAP($8::VARCHAR[], $9::VARCHAR[]), $10, MAP($11::VARCHAR[], $12::VARCHAR[]))",
                [*table, latest + 1, commit.user_id, commit.user, commit.operation,
                 list(commit.parameters), list(commit.parameters.values()), commit.blind,
                 list(commit.metrics), list(commit.metrics.values())],
            )  # fmt: skip
        self._latest[commit.table] = latest + 1

    def partition_columns(
        self, cursor: duckdb.DuckDBPyConnection, table: tuple[str, str, str]
    ) -> list[str]:
        """A table's partition columns, or Delta's error for a table without them."""
        found = cursor.execute(
            f"SELECT partition_columns FROM {LAYOUT} WHERE {_WHERE}", list(table)
        ).fetchall()
        if not found or not found[0][0]:
            quoted = ".".join(f"`{p}`" for p in table)
            raise plan.SqlError(
                "[DELTA_SHOW_PARTITION_IN_NON_PARTITIONED_TABLE] SHOW PARTITIONS is not allowed "
                f"on a table that is not partitioned: {quoted}. SQLSTATE: 42809",
                sql_state="42809",
            )
        return list(found[0][0])

    def rename(self, cursor: duckdb.DuckDBPyConnection, old: tuple, new: tuple) -> None:
        """A renamed table keeps its log."""
        with self._lock:
            self._latest.clear()
        with plan.transaction(cursor):
            for store in (PROPERTIES, LAYOUT, HISTORY):
                cursor.execute(
                    f"UPDATE {store} SET catalog = $4, schema = $5, table_name = $6 WHERE {_WHERE}",
                    [*old, *new],
                )

    def forget(self, cursor: duckdb.DuckDBPyConnection, kind: str, full_name: str) -> None:
        """A dropped table, schema or catalog: the log of every table it held goes."""
        held = plan.held_by(kind, full_name)
        with self._lock:
            self._latest.clear()
        for store in (PROPERTIES, LAYOUT, HISTORY) if held is not None else ():
            cursor.execute(f"DELETE FROM {store} WHERE {held[0]}", held[1])
