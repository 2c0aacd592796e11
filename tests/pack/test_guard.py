"""The read-only guard: a corpus of dangerous statements refused, legitimate reads allowed."""

from __future__ import annotations

import pytest

from lakegate.databricks.guard import check_read_only, is_read_only
from lakegate.errors import ReadOnlyError, SqlParseError

DANGEROUS = [
    # plain DML and DDL
    "DROP TABLE t",
    "drop table t",
    "dRoP\tTaBlE\n t",
    "DROP/**/TABLE t",
    "DELETE FROM samples.nyctaxi.trips",
    "UPDATE t SET a = 1",
    "INSERT INTO t VALUES (1)",
    "INSERT OVERWRITE t SELECT * FROM s",
    "MERGE INTO t USING s ON t.a = s.a WHEN MATCHED THEN DELETE",
    "TRUNCATE TABLE t",
    "CREATE TABLE t AS SELECT 1",
    "CREATE OR REPLACE TEMP VIEW v AS SELECT 1",
    "CREATE FUNCTION f() RETURNS INT RETURN 1",
    "REPLACE TABLE t AS SELECT 1",
    "ALTER TABLE t ADD COLUMN c INT",
    "COMMENT ON TABLE t IS 'x'",
    "GRANT SELECT ON TABLE t TO `someone`",
    "REVOKE SELECT ON TABLE t FROM `someone`",
    "COPY INTO t FROM 's3://bucket/x' FILEFORMAT = CSV",
    "LOAD DATA INPATH '/x' INTO TABLE t",
    "OPTIMIZE t",
    "VACUUM t",
    "CALL system.do_something()",
    "RESTORE TABLE t TO VERSION AS OF 1",
    "MSCK REPAIR TABLE t",
    "CACHE TABLE t",
    "REFRESH TABLE t",
    "ANALYZE TABLE t COMPUTE STATISTICS",
    "SET spark.sql.ansi.enabled = false",
    "USE CATALOG main",
    "EXECUTE IMMEDIATE 'DROP TABLE t'",
    "DECLARE x INT",
    "BEGIN DROP TABLE t; END",
    "SELECT * INTO t FROM s",
    # CTE-wrapped and nested writes
    "WITH a AS (SELECT 1) INSERT INTO t SELECT * FROM a",
    "WITH x AS (DELETE FROM t RETURNING *) SELECT * FROM x",
    "SELECT * FROM (DELETE FROM t)",
    "EXPLAIN SELECT 1; DROP TABLE t",
    "EXPLAIN DELETE FROM t",
    "SELECT reflect('java.lang.Runtime', 'getRuntime')",
    # the engine's own machinery: catalog functions and views, SQL text, checkpoints
    "SELECT * FROM duckdb_tables()",
    "SELECT database_name, path FROM duckdb_databases()",
    "SELECT * FROM duckdb_columns() WHERE table_name = 'salaries'",
    "SELECT * FROM duckdb_settings()",
    "SELECT * FROM query('DELETE FROM t')",
    "SELECT * FROM query_table('main.secret.salaries')",
    "SELECT * FROM range(1), (SELECT checkpoint())",
    "SELECT * FROM sqlite_master",
    "SELECT * FROM pg_catalog.pg_tables",
    "SELECT * FROM pragma_database_list",
    "SELECT * FROM system.duckdb_tables",
    "SELECT current_setting('temp_directory')",
    "CHECKPOINT",
    # several statements
    "SELECT 1; DROP TABLE t",
    "SELECT 1;DROP TABLE t;",
    "SELECT 1 ; ; DELETE FROM t",
    "SHOW TABLES; DROP TABLE t",
    "SHOW TABLES LIKE 'x'; DROP TABLE t",
    "SELECT 'a\\\\'; DROP TABLE t; --'",
    "SELECT r'\\'; DROP TABLE t; --'",
    "SELECT 1 AS `x` ; drop table t",
    # comments that end sooner or later than they seem
    "SELECT 1 --x\r; DROP TABLE t",
    "SELECT 1 /* /* */ */ ; DROP TABLE t",
    "SELECT 1 -- \\\n, ' \n; DROP TABLE t; --'",
    "/* SELECT 1 */ DROP TABLE t",
    "-- just a read\nDROP TABLE t",
    "SELECT 1 /*",
    "/* only a comment */",
    "-- only a comment",
    # unicode whitespace and invisible characters
    "SELECT 1;\u00a0DROP TABLE t",
    "SELECT 1 \u200b; DROP TABLE t",
    "SELECT 1 \u200b",
    "SELECT\u00a01",
    "SELECT 1\u2028; DROP TABLE t",
    # not SQL, or not a read the guard understands
    "",
    "   ",
    "SELECT 'unterminated",
    "SELECT $$x$$",
    "LIST 's3://bucket/'",
    "SHOW CREATE TABLE t; DELETE FROM t",
    "SHOW WAREHOUSES DROP",
    "DESCRIBE QUERY DELETE FROM t",
    "EXPLAIN",
    "FSCK REPAIR TABLE t",
]

READS = [
    "SELECT 1",
    "select 1;",
    "  SELECT 1 ; ",
    "SELECT ';DROP TABLE x'",
    'SELECT "; DROP TABLE t"',
    "SELECT 'a\\'; DROP TABLE t; --'",
    "SELECT 1 -- ; DROP TABLE t",
    "SELECT 1 /* ; DROP TABLE t */",
    "SELECT 1 /* /* */ ; DROP TABLE t; */",
    "SELECT `drop;table` FROM t",
    "SELECT * FROM samples.nyctaxi.trips LIMIT 10",
    "SELECT pickup_zip, avg(fare_amount) AS fare FROM samples.nyctaxi.trips "
    "GROUP BY pickup_zip ORDER BY fare DESC LIMIT 5",
    "WITH a AS (SELECT 1 AS x) SELECT * FROM a",
    "WITH a AS (SELECT 1 AS x), b AS (SELECT x + 1 AS y FROM a) SELECT * FROM b",
    "SELECT 1 UNION ALL SELECT 2",
    "SELECT 1 INTERSECT SELECT 1",
    "(SELECT 1)",
    "VALUES (1, 'a'), (2, 'b')",
    "SELECT * FROM t WHERE x IN (SELECT y FROM u)",
    "SELECT * FROM t VERSION AS OF 1",
    "SELECT :start_date, :limit",
    "FROM t SELECT *",
    "SELECT '日本語\u00a0ok' AS label -- コメント\u3000ok",
    "SHOW TABLES",
    "SHOW TABLES IN samples.nyctaxi LIKE 'trip*'",
    "SHOW SCHEMAS",
    "SHOW CATALOGS",
    "SHOW COLUMNS IN samples.nyctaxi.trips",
    "SHOW CREATE TABLE t",
    "SHOW GRANTS ON TABLE t",
    "DESCRIBE t",
    "DESCRIBE TABLE samples.nyctaxi.trips",
    "DESC EXTENDED t",
    "DESCRIBE DETAIL t",
    "DESCRIBE HISTORY t",
    "DESCRIBE SCHEMA samples.nyctaxi",
    "EXPLAIN SELECT 1",
    "EXPLAIN EXTENDED SELECT * FROM t",
]


# Reads that do not parse: refused too, as SQL to fix (sql.parse_error), not as writes.
UNPARSABLE_READS = ["SELECT 'unterminated", "SELECT $$x$$", "SELECT 1 /*"]
# Reads of files and URLs: refused unless the connector allows file reads.
FILE_READS = [
    "SELECT * FROM read_text('/etc/hostname')",
    "SELECT read_text('/etc/hostname') AS t",
    "SELECT * FROM read_files('s3://bucket/x', format => 'csv')",
    "SELECT * FROM read_csv_auto('/etc/passwd')",
    "SELECT * FROM read_parquet('https://example.com/x.parquet')",
    "SELECT * FROM read_json('/x.json')",
    "SELECT * FROM parquet_scan('/x.parquet')",
    "SELECT * FROM '/etc/hostname'",
    "SELECT * FROM 'data.csv'",
    "SELECT * FROM csv.`/etc/passwd`",
    "SELECT * FROM text.`file:///etc/passwd`",
    "SELECT * FROM samples.nyctaxi.trips WHERE 1 IN (SELECT length(content) FROM read_blob('/x'))",
    "WITH f AS (SELECT * FROM read_text('/etc/hostname')) SELECT * FROM f",
    "EXPLAIN SELECT * FROM read_text('/etc/hostname')",
]


@pytest.mark.parametrize("sql", DANGEROUS)
def test_dangerous_statement_is_refused_with_a_reason(sql: str) -> None:
    if sql in UNPARSABLE_READS:
        with pytest.raises(SqlParseError) as parsed:
            check_read_only(sql)
        assert parsed.value.code == "sql.parse_error" and parsed.value.hint
        return
    with pytest.raises(ReadOnlyError) as caught:
        check_read_only(sql)
    assert caught.value.code == "policy.read_only"
    assert caught.value.message.startswith("Refused on a read-only connector: ")
    assert len(caught.value.message) > len("Refused on a read-only connector: ") + 5
    assert caught.value.hint


@pytest.mark.parametrize("sql", FILE_READS)
def test_file_and_url_reads_are_refused_unless_allowed(sql: str) -> None:
    with pytest.raises(ReadOnlyError) as caught:
        check_read_only(sql)
    assert caught.value.details["reason"] == "file_access", caught.value.message
    if "`" not in sql and "'/etc/hostname'" not in sql[:30] and "'data.csv'" not in sql:
        check_read_only(sql, allow_files=True)  # a connector that allows file reads


def test_a_syntax_error_names_line_column_and_token() -> None:
    with pytest.raises(SqlParseError) as caught:
        check_read_only("SELECT pickup_zip,\n  count(*) AS n\nFROM t\nWHERE\nGROUP BY 1")
    error = caught.value
    assert error.code == "sql.parse_error"
    assert error.details == {"line": 5, "column": 8, "token": "GROUP BY"}
    assert "line 5, column 8 near 'GROUP BY': an incomplete WHERE" in error.message
    assert "read_only" not in error.hint


def test_a_write_sqlglot_cannot_parse_is_still_a_write() -> None:
    with pytest.raises(ReadOnlyError) as caught:
        check_read_only("REPLACE TABLE t AS SELECT 1")
    assert caught.value.code == "policy.read_only"


@pytest.mark.parametrize("sql", READS)
def test_legitimate_read_is_allowed(sql: str) -> None:
    assert is_read_only(sql), sql


def test_corpus_is_large_enough() -> None:
    assert len(DANGEROUS) >= 40 and len(READS) >= 20


def test_verdict_names_the_kind() -> None:
    assert check_read_only("SHOW TABLES").kind == "SHOW"
    assert check_read_only("EXPLAIN SELECT 1").kind == "EXPLAIN"
    assert check_read_only("DESCRIBE t").kind == "DESCRIBE"
    assert check_read_only("VALUES (1)").kind == "VALUES"
    assert check_read_only("WITH a AS (SELECT 1) SELECT * FROM a").kind == "SELECT"


def test_reasons_say_what_was_wrong() -> None:
    def why(sql: str) -> str:
        with pytest.raises(ReadOnlyError) as caught:
            check_read_only(sql)
        return caught.value.message

    assert "2 statements" in why("SELECT 1; DROP TABLE t")
    assert "DROP TABLE" in why("DROP TABLE t")
    assert "DELETE" in why("WITH x AS (DELETE FROM t RETURNING *) SELECT * FROM x")
    assert "U+00A0" in why("SELECT 1;\u00a0DROP TABLE t")
    assert "is not a read" in why("OPTIMIZE t")


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT " + "(" * 3000 + "1" + ")" * 3000,
        "SELECT * FROM " + "(SELECT * FROM " * 1500 + "t" + ") x" * 1500,
        "SELECT " + "NOT " * 6000 + "true",
    ],
)
def test_sql_nested_past_the_parser_is_too_complex_not_an_internal_error(sql: str) -> None:
    from lakegate.copilot.scope import check_sql_scope
    from lakegate.errors import SqlTooComplexError

    with pytest.raises(SqlTooComplexError) as info:
        check_read_only(sql)
    assert info.value.code == "sql.too_complex" and "WITH" in info.value.hint
    with pytest.raises(SqlTooComplexError):
        check_sql_scope(sql, catalogs=["samples"], schemas=[])


def test_sql_nested_two_hundred_levels_is_still_checked() -> None:
    assert check_read_only("SELECT " + "(" * 200 + "1" + ")" * 200).kind == "SELECT"


@pytest.mark.parametrize(
    ("sql", "meant", "column"),
    [("SELEC 1", "SELECT", 1), ("  slect *\nFROM t", "SELECT", 3),
     ("-- why\nWTIH a AS (SELECT 1) SELECT * FROM a", "WITH", 1),
     ("DESCRIEB t", "DESCRIBE", 1), ("xyzzy", None, 1)],
)  # fmt: skip
def test_a_misspelt_first_word_is_a_syntax_error_not_a_refusal(
    sql: str, meant: str | None, column: int
) -> None:
    with pytest.raises(SqlParseError) as caught:
        check_read_only(sql)
    error = caught.value
    assert error.code == "sql.parse_error"
    assert error.details["column"] == column
    assert "read_only" not in error.hint
    if meant:
        assert error.hint.startswith(f"Did you mean {meant}?")
    else:
        assert "Did you mean" not in error.hint


@pytest.mark.parametrize(
    "sql", ["INSTALL httpfs", "LOAD httpfs", "ATTACH 'x.db'", "VACUUM t", "ALTER TABLE t ADD x"]
)
def test_every_write_is_refused_in_words_that_name_it(sql: str) -> None:
    with pytest.raises(ReadOnlyError) as caught:
        check_read_only(sql)
    message = caught.value.message
    assert sql.split()[0] in message and message.endswith("not a read.")
    assert "ALIAS" not in message and " a A" not in message
