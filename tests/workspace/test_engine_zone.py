"""The engine's default time zone is Databricks' own name for it: a TIMESTAMP column arrives
in Arrow zoned `Etc/UTC` (the connector's suite compares the Arrow type), on any worker
connection, before any session has set a zone."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from lakegate.workspace.sql.engine import Execution, SqlEngine
from lakegate.workspace.sql.translate import plan


def test_a_fresh_connection_zones_timestamps_etc_utc(tmp_path: Path) -> None:
    engine = SqlEngine(tmp_path, connections=1, samples_scale=0.001)
    try:
        engine.wait_ready(120)
        planned = plan(
            "SELECT TIMESTAMP '2022-03-02 12:54:56' AS ts", [],
            catalog="main", schema="default", user="u",
        )  # fmt: skip
        with engine.execute(Execution(), planned, catalog="main", schema="default") as output:
            assert output.schema.field("ts").type == pa.timestamp("us", tz="Etc/UTC")
            list(output.batches)
    finally:
        engine.close()
