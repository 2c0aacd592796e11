"""The Databricks SQL of docs/workspace.md's coverage table, each answered through the Statement
Execution API with Databricks' own answer (values as JSON_ARRAY strings, and their types)."""

from __future__ import annotations

import httpx
import pytest
from tpch import execute, query

V2 = "FROM VALUES (1), (2) AS t(x)"
V4 = "FROM VALUES (1), (2), (3), (4) AS t(x)"

# (Databricks SQL, rows it answers, Databricks types of the columns or None to skip the types)
CASES: list[tuple[str, list[list[str | None]], list[str] | None]] = [
    # Dates: lakegate rewrites what DuckDB types or numbers differently (sql/semantics.py).
    ("SELECT date_add(DATE'2024-01-30', 3), date_sub('2024-03-01', 1)",
     [["2024-02-02", "2024-02-29"]], ["DATE", "DATE"]),
    ("SELECT add_months(DATE'2024-01-31', 1), DATE'2024-01-31' + INTERVAL 1 MONTH,"
     " DATE'1994-01-01' + INTERVAL '1' YEAR, DATE'1996-01-01' + INTERVAL 3 MONTHS",
     [["2024-02-29", "2024-02-29", "1995-01-01", "1996-04-01"]], ["DATE"] * 4),
    ("SELECT datediff(DATE'2024-03-01', DATE'2024-02-01'),"
     " months_between('2024-03-31', '2024-01-31')",
     [["29", "2.0"]], None),
    ("SELECT year(DATE'2024-02-10'), month(DATE'2024-02-10'), day(DATE'2024-02-10'),"
     " quarter(DATE'2024-02-10'), extract(YEAR FROM DATE'2024-02-10')",
     [["2024", "2", "10", "1", "2024"]], ["INT"] * 5),
    ("SELECT dayofweek(DATE'2024-02-10'), extract(DOW FROM DATE'2024-02-11'),"
     " weekofyear(DATE'2024-02-10')",
     [["7", "1", "6"]], ["INT"] * 3),
    ("SELECT trunc(DATE'2024-03-15', 'MM'), trunc(DATE'2024-03-15', 'YEAR'),"
     " trunc(DATE'2024-03-15', 'nope')",
     [["2024-03-01", "2024-01-01", None]], None),
    ("SELECT date_trunc('MM', TIMESTAMP'2024-03-15 10:00:00'),"
     " date_trunc('QUARTER', DATE'2024-05-15')",
     [["2024-03-01T00:00:00.000Z", "2024-04-01T00:00:00.000Z"]], ["TIMESTAMP", "TIMESTAMP"]),
    ("SELECT date_format(DATE'2024-02-10', 'yyyy-MM'), to_char(DATE'2024-01-05', 'yyyy'),"
     " date_format(TIMESTAMP'2024-02-10 13:04:05', 'yyyy-MM-dd HH:mm:ss')",
     [["2024-02", "2024", "2024-02-10 13:04:05"]], None),
    ("SELECT to_date('2024-01-05'), to_date('05/01/2024', 'dd/MM/yyyy'), make_date(2024, 2, 29)",
     [["2024-01-05", "2024-01-05", "2024-02-29"]], ["DATE"] * 3),
    ("SELECT unix_timestamp(TIMESTAMP'2024-01-01 00:00:00'), unix_timestamp('2024-01-01 00:00:00'),"
     " from_unixtime(0)",
     [["1704067200", "1704067200", "1970-01-01 00:00:00"]], ["BIGINT", "BIGINT", "STRING"]),
    ("SELECT dateadd(DAY, 1, DATE'2024-02-28') < DATE'2024-03-01', last_day(DATE'2024-02-10')",
     [["true", "2024-02-29"]], None),
    # Strings.
    ("SELECT substring('databricks', 5), substr('databricks', 1, 4), left('abc', 2),"
     " right('abc', 2)",
     [["bricks", "data", "ab", "bc"]], None),
    ("SELECT concat('a', 'b'), concat_ws('-', 'a', 'b'), 'a' || 'b', upper('a'), lower('B'),"
     " initcap('hello world'), trim('  x '), lpad('7', 3, '0')",
     [["ab", "a-b", "ab", "A", "b", "Hello World", "x", "007"]], None),
    ("SELECT instr('databricks', 'bri'), locate('bri', 'databricks'), length('abc'),"
     " split_part('a,b', ',', 2)",
     [["5", "5", "3", "b"]], None),
    ("SELECT regexp_extract('abc123', '([0-9]+)', 1), regexp_replace('a1b2', '[0-9]', ''),"
     " 'abc' RLIKE '^a', 'ABC' ILIKE 'a%', startswith('abc', 'a'), contains('abc', 'b')",
     [["123", "ab", "true", "true", "true", "true"]], None),
    ("SELECT format_string('%s-%d', 'a', 3), printf('%.2f', 1.5), format_number(1234567.891, 2)",
     [["a-3", "1.50", "1,234,567.89"]], None),
    ('SELECT "double quoted", `r_name` FROM samples.tpch.`region` WHERE r_regionkey = 0',
     [["double quoted", "AFRICA"]], None),
    # Numbers and conditionals.
    ("SELECT 7 / 2, 7 div 2, mod(7, 3), pmod(-7, 3), try_divide(1, 0), round(2.5), bround(2.5)",
     [["3.5", "3", "1", "2", None, "3", "2"]], None),
    # DECIMAL / DECIMAL is an exact DECIMAL, typed by Spark's precision rules and rounded half
    # up (DuckDB's DOUBLE answers 7.000000000000001 and 3.0000000000000004).
    ("SELECT 5.52 / 2.4, 2 / 3.0, -2 / 3.0, (1.0 / 3) / 2",
     [["2.300000", "0.666667", "-0.666667", "0.16666666666650000000000"]],
     ["DECIMAL(8,6)", "DECIMAL(17,6)", "DECIMAL(17,6)", "DECIMAL(24,23)"]),
    ("SELECT CAST(5.02797279921331664759 AS DECIMAL(22, 20))"
     " / CAST(0.71828182845904523537 AS DECIMAL(22, 20)),"
     " CAST(30000000000000000000000000000000000000 AS DECIMAL(38, 0))"
     " / nullif(CAST(10000000000000000000000000000000000000 AS DECIMAL(38, 0)), 0),"
     " CAST(1 AS DECIMAL(10, 2)) / CAST(8 AS BIGINT)",
     [["7.0000000000000000", "3.000000", "0.12500000000000000000000"]],
     ["DECIMAL(38,16)", "DECIMAL(38,6)", "DECIMAL(31,23)"]),
    # A table's DECIMAL columns, and aggregates over them, are typed too (sum: p + 10, avg:
    # p + 4 and s + 4); a sum of integers over a count is still a DOUBLE.
    ("SELECT l_extendedprice / l_quantity, l_extendedprice / 2 FROM samples.tpch.lineitem"
     " WHERE l_orderkey = 1 AND l_linenumber = 1",
     [["1028.12000000000000000000", "514.0600000000000"]],
     ["DECIMAL(38,20)", "DECIMAL(29,13)"]),
    ("SELECT sum(c.c_acctbal) / count(*), avg(c_acctbal) / 2, sum(c_custkey) / count(*)"
     " FROM samples.tpch.customer AS c WHERE c_custkey <= 3",
     [["4336.070000000000", "2168.03500000000000000", "2.0"]],
     ["DECIMAL(38,12)", "DECIMAL(33,17)", "DOUBLE"]),
    ("SELECT coalesce(NULL, 1), nvl(NULL, 2), nvl2(NULL, 1, 2), ifnull(NULL, 3), nullif(1, 1),"
     " if(1 > 0, 'y', 'n'), decode(1, 1, 'one', 'other'), zeroifnull(NULL), nullifzero(0)",
     [["1", "2", "2", "3", None, "y", "one", "0", None]], None),
    ("SELECT cast('1' AS INT), '2'::INT, try_cast('x' AS INT), cast(1.239 AS DECIMAL(10, 2))",
     [["1", "2", None, "1.24"]], ["INT", "INT", "INT", "DECIMAL(10,2)"]),
    # Aggregates.
    (f"SELECT count_if(x > 1), percentile(x, 0.5), median(x), max_by(x, -x), min_by(x, -x) {V4}",
     [["3", "2.5", "2.5", "1", "4"]], None),
    (f"SELECT bool_and(x > 0), every(x > 1), bool_or(x > 3), some(x > 4) {V4}",
     [["true", "false", "true", "false"]], None),
    (f"SELECT collect_list(x), array_sort(collect_set(x)), array_agg(x), count(DISTINCT x) {V2}",
     [["[1,2]", "[1,2]", "[1,2]", "2"]], None),
    # Windows, grouping and query shapes.
    (f"SELECT x, row_number() OVER (ORDER BY x DESC), lag(x) OVER (ORDER BY x),"
     f" sum(x) OVER (ORDER BY x ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) {V2} ORDER BY x",
     [["1", "2", None, "1"], ["2", "1", "1", "3"]], None),
    (f"SELECT x {V2} QUALIFY row_number() OVER (ORDER BY x DESC) = 1", [["2"]], None),
    ("SELECT count(*), sum(n) FROM (SELECT c_mktsegment, count(*) AS n"
     " FROM samples.tpch.customer GROUP BY ALL)",
     [["5", "1500"]], None),
    ("SELECT r_name, count(*) FROM samples.tpch.region GROUP BY ROLLUP (r_name)"
     " ORDER BY r_name NULLS LAST LIMIT 1 OFFSET 5",
     [[None, "5"]], None),
    ("SELECT * EXCEPT (r_comment) FROM samples.tpch.region ORDER BY r_regionkey LIMIT 1",
     [["0", "AFRICA"]], ["BIGINT", "STRING"]),
    ("WITH big AS (SELECT n_name FROM samples.tpch.nation WHERE n_regionkey IN"
     " (SELECT r_regionkey FROM samples.tpch.region WHERE r_name = 'ASIA'))"
     " SELECT n_name FROM big WHERE EXISTS (SELECT 1) ORDER BY 1 LIMIT 2",
     [["CHINA"], ["INDIA"]], None),
    ("SELECT * FROM (SELECT n_regionkey, n_nationkey FROM samples.tpch.nation)"
     " PIVOT (count(n_nationkey) FOR n_regionkey IN (0 AS africa, 1 AS america))",
     [["5", "5"]], None),
    # Arrays, maps, structs, JSON.
    ("SELECT x FROM (SELECT array(1, 2) AS a) LATERAL VIEW explode(a) t AS x",
     [["1"], ["2"]], None),
    ("SELECT size(array(1, 2)), array_contains(array(1, 2), 2), element_at(array(1, 2), 1),"
     " array(1, 2)[0], map('a', 1)['a'], named_struct('a', 1).a",
     [["2", "true", "1", "1", "1", "1"]], None),
    ("""SELECT get_json_object('{"a": 1}', '$.a'), '{"a": 1}':a, to_json(named_struct('a', 1))""",
     [["1", "1", '{"a":1}']], None),
    ("SELECT array_join(array('a', 'b'), ','), sequence(1, 3), transform(array(1, 2), v -> v * 2),"
     " filter(array(1, 2), v -> v > 1), aggregate(array(1, 2), 0, (acc, v) -> acc + v),"
     " array_distinct(array(1, 1)), sort_array(array(3, 1), false), array_sort(array(3, 1))",
     [["a,b", "[1,2,3]", "[2,4]", "[2]", "3", "[1]", "[3,1]", "[1,3]"]], None),
    ("SELECT explode(array(7, 8))", [["7"], ["8"]], None),
    # More strings, numbers, statistics, windows, timestamps and set operations.
    ("SELECT rpad('7', 3, '0'), replace('aXb', 'X', '-'), translate('abc', 'ab', 'xy'),"
     " reverse('abc'), repeat('ab', 2), split('a,b', ','), endswith('abc', 'c'), ltrim('  x')",
     [["700", "a-b", "xyc", "cba", "abab", '["a","b"]', "true", "x"]], None),
    ("SELECT ceil(1.2), floor(1.8), abs(-1), pow(2, 3), sqrt(16), ln(1), log10(100), log(2, 8),"
     " exp(0), greatest(1, 3, 2), least(1, 3, 2), iff(1 > 0, 'y', 'n')",
     [["2", "1", "1", "8.0", "4.0", "0.0", "2.0", "3.0", "1.0", "3", "1", "y"]], None),
    (f"SELECT stddev(x), variance(x), stddev_pop(x), approx_count_distinct(x),"
     f" percentile_approx(x, 0.5) {V4}",
     [["1.2909944487358056", "1.6666666666666667", "1.118033988749895", "4", "2"]], None),
    ("SELECT x, rank() OVER (ORDER BY x), dense_rank() OVER (ORDER BY x),"
     " first_value(x) OVER (ORDER BY x), percent_rank() OVER (ORDER BY x),"
     " cume_dist() OVER (ORDER BY x) FROM VALUES (1), (3), (3) AS t(x) ORDER BY x",
     [["1", "1", "1", "1", "0.0", "0.3333333333333333"],
      ["3", "2", "2", "1", "0.5", "1.0"], ["3", "2", "2", "1", "0.5", "1.0"]], None),
    ("SELECT to_timestamp('2024-01-05 10:00:00'),"
     " to_timestamp('05/01/2024 10:00', 'dd/MM/yyyy HH:mm'),"
     " timestampdiff(DAY, DATE'2024-01-01', DATE'2024-03-01'), now() IS NOT NULL",
     [["2024-01-05T10:00:00.000Z", "2024-01-05T10:00:00.000Z", "60", "true"]],
     ["TIMESTAMP", "TIMESTAMP", "BIGINT", "BOOLEAN"]),
    ("SELECT 1 UNION SELECT 2 EXCEPT SELECT 2 ORDER BY 1", [["1"]], None),
    ("SELECT x FROM VALUES (1), (NULL), (3) AS t(x) ORDER BY x NULLS LAST LIMIT 2 OFFSET 1",
     [["3"], [None]], None),
    ("SELECT x FROM VALUES (1), (2) AS t(x) LEFT ANTI JOIN VALUES (1) AS u(z) ON x = z",
     [["2"]], None),
]  # fmt: skip


@pytest.mark.parametrize(("sql", "rows", "types"), CASES, ids=[c[0][7:40] for c in CASES])
def test_databricks_sql_answers_as_on_databricks(
    sql: str, rows: list, types: list | None, api: httpx.Client, warehouse: str
) -> None:
    answer = execute(api, warehouse, sql)
    assert answer["rows"] == rows
    if types is not None:
        assert [c["type_text"] for c in answer["manifest"]["schema"]["columns"]] == types


def test_a_view_across_statements_like_the_specifications_query_15(
    api: httpx.Client, warehouse: str
) -> None:
    view = "main.default.tpch_revenue0"
    execute(
        api,
        warehouse,
        f"CREATE OR REPLACE VIEW {view} AS SELECT l_suppkey AS supplier_no, "
        "sum(l_extendedprice * (1 - l_discount)) AS total_revenue FROM samples.tpch.lineitem "
        "WHERE l_shipdate >= DATE'1996-01-01' AND l_shipdate < DATE'1996-01-01' + INTERVAL 3 MONTH "
        "GROUP BY l_suppkey",
    )
    try:
        top = execute(
            api,
            warehouse,
            f"SELECT s_suppkey FROM samples.tpch.supplier, {view} WHERE s_suppkey = supplier_no "
            f"AND total_revenue = (SELECT max(total_revenue) FROM {view}) ORDER BY s_suppkey",
        )
    finally:
        execute(api, warehouse, f"DROP VIEW {view}")
    as_cte = execute(api, warehouse, query(15, "databricks"))
    assert top["rows"] == [[row[0]] for row in as_cte["rows"]]
