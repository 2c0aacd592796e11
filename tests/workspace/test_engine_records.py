"""The engine's own records (informational keys, Delta logs) live in a schema of its database
that no statement reaches, and a workspace made before they moved there keeps its keys."""

from __future__ import annotations

from pathlib import Path

import duckdb

from lakegate.workspace.sql.delta import keys
from lakegate.workspace.sql.engine import SqlEngine


def test_keys_kept_in_the_old_place_move_to_the_records_schema(tmp_path: Path) -> None:
    old = duckdb.connect(str(tmp_path / "memory.duckdb"))
    old.execute(
        "CREATE TABLE memory.main.uc_constraints (catalog VARCHAR, schema VARCHAR, "
        "table_name VARCHAR, name VARCHAR, kind VARCHAR, columns VARCHAR[], "
        "parent_catalog VARCHAR, parent_schema VARCHAR, parent_table VARCHAR, "
        "parent_columns VARCHAR[], made DOUBLE)"
    )
    old.execute(
        "INSERT INTO memory.main.uc_constraints VALUES ('main', 's', 't', 't_pk', "
        "'PRIMARY KEY', ['id'], NULL, NULL, NULL, [], 1.0)"
    )
    old.close()
    engine = SqlEngine(tmp_path, connections=1, samples_scale=0.001)
    try:
        cursor = engine._db.cursor()
        found = engine.keys.keys(cursor, ("main", "s", "t"))
        assert [(k.name, k.kind, k.columns) for k in found] == [("t_pk", "PRIMARY KEY", ("id",))]
        left = cursor.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = 'memory' "
            "AND schema_name = 'main'"
        ).fetchall()
        assert left == []  # a query with no schema finds nothing of the engine's there
        assert keys.TABLE.startswith("memory.lakegate.")
    finally:
        engine.close()
