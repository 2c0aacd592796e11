"""Delta's table log, as a client sees it through the official connector (Thrift over TLS):
table properties (`TBLPROPERTIES`), `DESCRIBE DETAIL`, `DESCRIBE HISTORY` and `OPTIMIZE`, with
the columns and errors Databricks documents for them."""

from __future__ import annotations

import json
import threading
import uuid

import pytest
import sqlalchemy as sa
from test_delta_ddl import engine, failure, run

__all__ = ["engine"]  # the module's workspace and schema (a fixture)


def props(engine: sa.Engine, table: str) -> dict[str, str]:
    return dict(run(engine, f"SHOW TBLPROPERTIES {table}"))


def test_properties_are_set_unset_and_shown(engine: sa.Engine) -> None:
    run(
        engine,
        "CREATE TABLE props_t (a INT) TBLPROPERTIES ('team' = 'data', delta.appendOnly = false, "
        "'quote' = 'it\\'s ), (x')",
    )
    assert props(engine, "props_t") == {
        "team": "data",
        "delta.appendOnly": "false",
        "quote": "it's ), (x",
        # Delta's protocol, which every table has
        "delta.minReaderVersion": "1",
        "delta.minWriterVersion": "2",
    }
    run(engine, "ALTER TABLE props_t SET TBLPROPERTIES ('team' = 'ml', 'owner.email' = 'a@b')")
    assert props(engine, "props_t")["team"] == "ml"
    assert run(engine, "SHOW TBLPROPERTIES props_t ('owner.email')") == [("owner.email", "a@b")]
    assert run(engine, "SHOW TBLPROPERTIES props_t ('nope')") == [
        ("nope", f"Table main.{engine.url.query['schema']}.props_t does not have property: nope")
    ]
    message = failure(engine, "ALTER TABLE props_t UNSET TBLPROPERTIES ('team', 'nope')")
    assert message.startswith("[UNSET_NONEXISTENT_PROPERTIES]") and "`nope`" in message
    assert props(engine, "props_t")["team"] == "ml"  # a refused UNSET removes nothing
    run(engine, "ALTER TABLE props_t UNSET TBLPROPERTIES IF EXISTS ('team', 'nope')")
    assert "team" not in props(engine, "props_t")
    extended = dict((r[0], r[1]) for r in run(engine, "DESCRIBE TABLE EXTENDED props_t"))
    assert extended["Table Properties"] == (
        "[delta.appendOnly=false,delta.minReaderVersion=1,delta.minWriterVersion=2,"
        "owner.email=a@b,quote=it's ), (x]"
    )


def test_property_statements_say_what_is_wrong(engine: sa.Engine) -> None:
    run(engine, "CREATE TABLE wrong_t (a INT)", "CREATE VIEW wrong_v AS SELECT 1 AS a")
    cases = {
        "ALTER TABLE wrong_t SET TBLPROPERTIES ('owner' = 'me')": "SET_TABLE_PROPERTY",
        "ALTER TABLE wrong_t SET TBLPROPERTIES ('a')": "PARSE_SYNTAX_ERROR",
        "ALTER TABLE wrong_t SET TBLPROPERTIES ('a' = 'b' 'c' = 'd' ,)": "PARSE_SYNTAX_ERROR",
        "ALTER TABLE wrong_t SET TBLPROPERTIES ('a' = 'b'); SELECT (1)": "PARSE_SYNTAX_ERROR",
        "ALTER TABLE wrong_v SET TBLPROPERTIES ('a' = 'b')": "EXPECT_TABLE_NOT_VIEW",
        "ALTER TABLE missing_t SET TBLPROPERTIES ('a' = 'b')": "TABLE_OR_VIEW_NOT_FOUND",
        "SHOW TBLPROPERTIES missing_t": "TABLE_OR_VIEW_NOT_FOUND",
        "CREATE TABLE both_t (a INT) PARTITIONED BY (a) CLUSTER BY (a)": "CLUSTER_BY_WITH",
        "CREATE TABLE part_t (a INT) PARTITIONED BY (b)": "COLUMN_NOT_DEFINED_IN_TABLE",
    }
    for statement, error in cases.items():
        assert error in failure(engine, statement), statement
    protocol = {"delta.minReaderVersion": "1", "delta.minWriterVersion": "2"}
    assert props(engine, "wrong_t") == protocol  # nothing refused was kept
    assert run(engine, "SHOW TABLES LIKE 'both_t|part_t'") == []


DETAIL_COLUMNS = [
    "format", "id", "name", "description", "location", "createdAt", "lastModified",
    "partitionColumns", "clusteringColumns", "numFiles", "sizeInBytes", "properties",
    "minReaderVersion", "minWriterVersion", "tableFeatures",
]  # fmt: skip


def detail(engine: sa.Engine, table: str) -> dict:
    with engine.connect() as connection:
        result = connection.execute(sa.text(f"DESCRIBE DETAIL {table}"))
        (row,) = list(result)
        return dict(zip(result.keys(), row, strict=True))


def test_describe_detail(engine: sa.Engine) -> None:
    schema = engine.url.query["schema"]
    run(
        engine,
        "CREATE TABLE detail_t (a INT, b STRING) PARTITIONED BY (b) COMMENT 'facts' "
        "TBLPROPERTIES ('delta.enableChangeDataFeed' = 'true')",
    )
    empty = detail(engine, "detail_t")
    assert list(empty) == DETAIL_COLUMNS
    assert empty["format"] == "delta" and empty["name"] == f"main.{schema}.detail_t"
    assert str(uuid.UUID(empty["id"])) == empty["id"]
    assert empty["description"] == "facts"
    assert list(empty["partitionColumns"]) == ["b"] and list(empty["clusteringColumns"]) == []
    assert (empty["numFiles"], empty["sizeInBytes"]) == (0, 0)
    assert dict(empty["properties"]) == {"delta.enableChangeDataFeed": "true"}
    assert (empty["minReaderVersion"], empty["minWriterVersion"]) == (1, 2)
    assert list(empty["tableFeatures"]) == ["appendOnly", "invariants"]
    assert empty["createdAt"] == empty["lastModified"]
    run(engine, "INSERT INTO detail_t VALUES (1, 'x'), (2, 'y')")
    written = detail(engine, "detail_t")
    assert written["numFiles"] == 1 and written["sizeInBytes"] > 0
    assert written["lastModified"] > written["createdAt"] == empty["createdAt"]
    run(engine, "CREATE TABLE clustered_t CLUSTER BY (a) AS SELECT 1 AS a")
    assert list(detail(engine, "clustered_t")["clusteringColumns"]) == ["a"]
    run(engine, "CREATE VIEW detail_v AS SELECT 1 AS a")
    assert "[EXPECT_TABLE_NOT_VIEW" in failure(engine, "DESCRIBE DETAIL detail_v")
    assert "[TABLE_OR_VIEW_NOT_FOUND]" in failure(engine, "DESCRIBE DETAIL no_such_t")


def history(engine: sa.Engine, statement: str) -> list[dict]:
    with engine.connect() as connection:
        result = connection.execute(sa.text(statement))
        return [dict(zip(result.keys(), row, strict=True)) for row in result]


def test_describe_history_lists_each_write_newest_first(engine: sa.Engine) -> None:
    run(
        engine,
        "CREATE TABLE hist_t (a INT, b STRING)",
        "INSERT INTO hist_t VALUES (1, 'x'), (2, 'y')",
        "INSERT INTO hist_t SELECT a + 10, b FROM hist_t",
        "UPDATE hist_t SET b = 'z' WHERE a = 1",
        "DELETE FROM hist_t WHERE a > 10",
        "ALTER TABLE hist_t SET TBLPROPERTIES ('k' = 'v')",
        "INSERT OVERWRITE hist_t VALUES (7, 'q')",
        "SELECT * FROM hist_t",  # reads write nothing
    )
    entries = history(engine, "DESCRIBE HISTORY hist_t")
    assert [(e["version"], e["operation"]) for e in entries] == [
        (6, "WRITE"), (5, "SET TBLPROPERTIES"), (4, "DELETE"), (3, "UPDATE"), (2, "WRITE"),
        (1, "WRITE"), (0, "CREATE TABLE"),
    ]  # fmt: skip
    assert [e["readVersion"] for e in entries] == [5, 4, 3, 2, 1, 0, None]
    # Only an append that read nothing of its own table is blind.
    assert [e["isBlindAppend"] for e in entries] == [False] * 4 + [False, True, True]
    parameters = [dict(e["operationParameters"]) for e in entries]
    assert parameters[0]["mode"] == "Overwrite" and parameters[5]["mode"] == "Append"
    assert json.loads(parameters[3]["predicate"]) == ["a = 1"]
    assert json.loads(parameters[1]["properties"]) == {"k": "v"}
    # The rows each write touched, under Delta's metric names.
    assert [dict(e["operationMetrics"]) for e in entries] == [
        {"numOutputRows": "1"}, {}, {"numDeletedRows": "2"}, {"numUpdatedRows": "1"},
        {"numOutputRows": "2"}, {"numOutputRows": "2"}, {},
    ]  # fmt: skip
    assert {e["userName"] for e in entries} == {run(engine, "SELECT current_user()")[0][0]}
    assert {e["isolationLevel"] for e in entries} == {"WriteSerializable"}
    timestamps = [e["timestamp"] for e in entries]
    assert timestamps == sorted(timestamps, reverse=True)
    assert [e["version"] for e in history(engine, "DESCRIBE HISTORY hist_t LIMIT 2")] == [6, 5]


def test_history_follows_a_rename_and_goes_with_a_drop(engine: sa.Engine) -> None:
    run(
        engine,
        "CREATE TABLE moving_t (a INT) TBLPROPERTIES ('k' = 'v')",
        "INSERT INTO moving_t VALUES (1)",
        "ALTER TABLE moving_t RENAME TO moved_t",
    )
    assert [e["operation"] for e in history(engine, "DESCRIBE HISTORY moved_t")] == [
        "WRITE", "CREATE TABLE"
    ]  # fmt: skip
    assert props(engine, "moved_t")["k"] == "v"
    run(engine, "DROP TABLE moved_t", "CREATE TABLE moved_t (a INT)")
    assert [e["version"] for e in history(engine, "DESCRIBE HISTORY moved_t")] == [0]
    assert "k" not in props(engine, "moved_t")


def test_concurrent_writers_get_one_version_each(engine: sa.Engine) -> None:
    """Two writers of one table never take the same version, nor lose a commit."""
    run(engine, "CREATE TABLE busy_t (a INT)")
    writers, each = 4, 5
    failures: list[BaseException] = []

    def write(n: int) -> None:
        try:
            for i in range(each):
                run(engine, f"INSERT INTO busy_t VALUES ({n * 100 + i})")
        except BaseException as exc:  # reported below
            failures.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures
    versions = [e["version"] for e in history(engine, "DESCRIBE HISTORY busy_t")]
    assert versions == list(range(writers * each, -1, -1))


def test_optimize_answers_delta_row_after_its_checks(engine: sa.Engine) -> None:
    run(
        engine,
        "CREATE TABLE opt_t (a INT, b STRING, day DATE) PARTITIONED BY (day)",
        "INSERT INTO opt_t VALUES (1, 'x', DATE'2024-01-01')",
    )
    before = len(history(engine, "DESCRIBE HISTORY opt_t"))
    for statement in (
        "OPTIMIZE opt_t",
        "OPTIMIZE opt_t WHERE day >= '2024-01-01' ZORDER BY (a, b)",
        "OPTIMIZE opt_t ZORDER BY a",
    ):
        with engine.connect() as connection:
            result = connection.execute(sa.text(statement))
            (row,) = list(result)
        assert list(result.keys()) == ["path", "metrics"]
        metrics = row[1]
        assert (metrics["numFilesAdded"], metrics["numFilesRemoved"]) == (0, 0)
        assert metrics["totalConsideredFiles"] == 1 and metrics["numTableColumns"] == 3
    # Nothing was compacted: no commit, as in Delta.
    assert len(history(engine, "DESCRIBE HISTORY opt_t")) == before
    cases = {
        "OPTIMIZE opt_t WHERE a = 1": "[DELTA_NON_PARTITION_COLUMN_REFERENCE]",
        "OPTIMIZE opt_t ZORDER BY (nope)": "[DELTA_ZORDERING_COLUMN_DOES_NOT_EXIST]",
        "OPTIMIZE opt_t ZORDER BY (day)": "[DELTA_ZORDERING_ON_PARTITION_COLUMN]",
        "OPTIMIZE no_such_t": "[TABLE_OR_VIEW_NOT_FOUND]",
        "OPTIMIZE opt_t WHERE (": "[PARSE_SYNTAX_ERROR]",
    }
    for statement, error in cases.items():
        assert failure(engine, statement).startswith(error), statement


@pytest.mark.parametrize("statement", ["DESCRIBE HISTORY", "DESCRIBE DETAIL", "OPTIMIZE"])
def test_a_path_name_is_not_a_table_here(engine: sa.Engine, statement: str) -> None:
    """Delta's path form (delta.`/path`) names files, which this workspace has none of."""
    message = failure(engine, f"{statement} delta.`/tmp/x`")
    assert "[TABLE_OR_VIEW_NOT_FOUND]" in message or "[NO_SUCH_CATALOG" in message, message


def test_show_create_table_gives_the_clauses_back(engine: sa.Engine) -> None:
    """SHOW CREATE TABLE prints the layout and properties, and its output makes the table
    again as it was."""
    run(
        engine,
        "CREATE TABLE again_t (a INT, b STRING) PARTITIONED BY (b) "
        "TBLPROPERTIES ('note' = 'it\\'s mine')",
    )
    ((statement,),) = run(engine, "SHOW CREATE TABLE again_t")
    assert statement.endswith(
        "USING delta\nPARTITIONED BY (b)\nTBLPROPERTIES (\n  'delta.minReaderVersion' = '1',\n"
        "  'delta.minWriterVersion' = '2',\n  'note' = 'it\\'s mine')"
    )
    before = props(engine, "again_t")
    run(engine, "DROP TABLE again_t", statement)
    assert props(engine, "again_t") == before
    assert list(detail(engine, "again_t")["partitionColumns"]) == ["b"]


def test_maintenance_statements_check_their_table(engine: sa.Engine) -> None:
    """VACUUM, ANALYZE TABLE, REFRESH TABLE and SHOW PARTITIONS: Databricks' answers, and its
    errors for a missing table, a view, an unknown column or a table without partitions."""
    run(
        engine,
        "CREATE TABLE kept_t (a INT, day DATE) PARTITIONED BY (day)",
        "INSERT INTO kept_t VALUES (1, DATE'2024-01-02'), (2, DATE'2024-01-01'), "
        "(3, DATE'2024-01-01')",
        "CREATE TABLE flat_t (a INT)",
        "CREATE VIEW kept_v AS SELECT 1 AS a",
    )
    ((path,),) = run(engine, "VACUUM kept_t")
    assert path == detail(engine, "kept_t")["location"]
    assert run(engine, "VACUUM kept_t RETAIN 168 HOURS DRY RUN") == []  # no file to remove
    for fine in (
        "ANALYZE TABLE kept_t COMPUTE STATISTICS",
        "ANALYZE TABLE kept_t COMPUTE DELTA STATISTICS FOR COLUMNS a, day",
        "ANALYZE TABLE kept_t COMPUTE STATISTICS FOR ALL COLUMNS",
        "ANALYZE TABLE kept_t COMPUTE STATISTICS NOSCAN",
        "REFRESH TABLE kept_t",
        "REFRESH TABLE kept_v",
    ):
        assert run(engine, fine) == [], fine
    assert [str(r[0]) for r in run(engine, "SHOW PARTITIONS kept_t")] == [
        "2024-01-01", "2024-01-02"
    ]  # fmt: skip
    cases = {
        "VACUUM no_such_t DRY RUN": "[TABLE_OR_VIEW_NOT_FOUND]",
        "VACUUM kept_v": "[EXPECT_TABLE_NOT_VIEW",
        "ANALYZE TABLE kept_t COMPUTE STATISTICS FOR COLUMNS nope": "[UNRESOLVED_COLUMN",
        "ANALYZE TABLE kept_v COMPUTE STATISTICS": "[EXPECT_TABLE_NOT_VIEW",
        "REFRESH TABLE no_such_t": "[TABLE_OR_VIEW_NOT_FOUND]",
        "SHOW PARTITIONS flat_t": "[DELTA_SHOW_PARTITION_IN_NON_PARTITIONED_TABLE]",
        "SHOW PARTITIONS no_such_t": "[TABLE_OR_VIEW_NOT_FOUND]",
    }
    for statement, error in cases.items():
        assert failure(engine, statement).startswith(error), statement
