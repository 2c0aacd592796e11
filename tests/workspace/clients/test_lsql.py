"""databricks-labs-lsql (StatementExecutionExt and StatementExecutionBackend) on the official SDK's
WorkspaceClient, against the local workspace: fetch_all over chunks, save_table append and
overwrite, and the errors lsql maps by message."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from databricks.labs.lsql.backends import StatementExecutionBackend
from databricks.labs.lsql.core import StatementExecutionExt
from databricks.sdk import WorkspaceClient
from databricks.sdk.errors import NotFound


@dataclass
class Score:
    who: str
    points: int
    ratio: float
    active: bool
    tags: list[str]
    seen: datetime.date | None = None


@pytest.fixture
def schema(run_sql: Callable[[str], dict[str, Any]]) -> str:
    name = f"lsql_{uuid.uuid4().hex[:8]}"
    run_sql(f"CREATE SCHEMA main.{name}")
    return name


def test_fetch_all_types_and_rows(sdk_client: WorkspaceClient, warehouse: str) -> None:
    see = StatementExecutionExt(sdk_client, warehouse_id=warehouse)
    rows = list(
        see.fetch_all(
            "SELECT i AS id, 'n' || i AS name, i / 4 AS quarter, i % 2 = 0 AS even, "
            "date_add(DATE '2024-02-28', CAST(i AS INT)) AS day, "
            "TIMESTAMP '2024-01-02 03:04:05' AS at, NULL AS nothing "
            "FROM range(3) AS t(i) ORDER BY i"
        )
    )
    assert [r.asDict() for r in rows] == [
        {
            "id": i,
            "name": f"n{i}",
            "quarter": i / 4,
            "even": i % 2 == 0,
            "day": datetime.date(2024, 2, 28) + datetime.timedelta(days=i),
            "at": datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.UTC),
            "nothing": None,
        }
        for i in range(3)
    ]
    assert see.fetch_value("SELECT count(*) FROM range(1234) AS t(i)") == 1234
    first = see.fetch_one("SELECT i FROM range(10) AS t(i) ORDER BY i DESC")
    assert first is not None and first.i == 9


def test_fetch_all_follows_chunks(sdk_client: WorkspaceClient, warehouse: str) -> None:
    see = StatementExecutionExt(sdk_client, warehouse_id=warehouse)
    total = 60_000  # ~5 MB of JSON: several INLINE chunks, fetched by next_chunk_index
    rows = see.fetch_all(f"SELECT i, repeat('x', 60) AS pad FROM range({total}) AS t(i) ORDER BY i")
    assert [row.i for row in rows] == list(range(total))


def test_missing_table_is_not_found(sdk_client: WorkspaceClient, warehouse: str) -> None:
    see = StatementExecutionExt(sdk_client, warehouse_id=warehouse)
    with pytest.raises(NotFound, match=r"TABLE_OR_VIEW_NOT_FOUND.*`main`.`default`.`missing`"):
        list(see.fetch_all("SELECT * FROM main.default.missing"))


def test_save_table_append_then_overwrite(
    sdk_client: WorkspaceClient,
    warehouse: str,
    schema: str,
    sent_statements: Callable[[], list[tuple[str, str]]],
) -> None:
    backend = StatementExecutionBackend(sdk_client, warehouse, max_records_per_batch=2)
    table = f"main.{schema}.scores"
    first = [
        Score("ann", 3, 0.5, True, ["a", "b"], datetime.date(2024, 1, 31)),
        Score("bob", 1, 1.25, False, []),
        Score("o'neil", 7, 2.0, True, ["c"]),
    ]
    backend.save_table(table, first, Score)  # CREATE TABLE IF NOT EXISTS + INSERT INTO x2
    backend.save_table(table, [Score("cy", 2, 0.0, False, ["d"])], Score, mode="append")

    def saved() -> list[Score]:
        rows = backend.fetch(f"SELECT * FROM {table} ORDER BY who")
        return [Score(*row) for row in rows]

    # lsql writes "o'neil" as 'o''neil': two adjacent literals, which Databricks SQL chains
    # into 'oneil' (its escape is a backslash), and so does the local workspace.
    stored = [Score("oneil", 7, 2.0, True, ["c"]) if s.who == "o'neil" else s for s in first]
    assert saved() == sorted([*stored, Score("cy", 2, 0.0, False, ["d"])], key=lambda s: s.who)

    replacement = [Score("dee", 5, 0.25, True, ["e"]), Score("eve", 6, 0.75, False, ["f", "g"])]
    backend.save_table(table, replacement, Score, mode="overwrite")
    assert saved() == replacement
    backend.save_table(table, [], Score, mode="overwrite")  # TRUNCATE TABLE
    assert saved() == []

    sent = sent_statements()
    overwrites = [(t, s) for t, s in sent if t.startswith(f"INSERT OVERWRITE {table}")]
    assert len(overwrites) == 1 and overwrites[0][1] == "SUCCEEDED"
    assert (f"TRUNCATE TABLE {table}", "SUCCEEDED") in sent
    assert any(t.startswith(f"CREATE TABLE IF NOT EXISTS {table}") for t, _ in sent)
