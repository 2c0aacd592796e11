"""The hidden-name corpus: SQL that reaches outside a pinned catalog/schema scope must be refused.

Each form here walked around the scope check once (CTE shadowing, SHOW forms a regex read only
the first name of, securable arguments never checked). The scope is the one the attack used:
catalogs samples and main, schemas samples.tpch and main.public.
"""

from __future__ import annotations

import pytest

from lakegate.copilot.scope import check_sql_scope
from lakegate.errors import PolicyError

CATALOGS = ["samples", "main"]
SCHEMAS = ["samples.tpch", "main.public"]
# Two catalogs are pinned, so a call has no default catalog: the warehouse's own default (here
# main.default) decides where an unqualified name goes, and the check must not guess it.
NO_DEFAULTS: dict[str, str] = {}
DEFAULTS = {"default_catalog": "main", "default_schema": "public"}

OUTSIDE = [
    # A CTE is visible only in its own WITH: a same-named table elsewhere is the real table.
    "WITH victim AS (SELECT * FROM victim) SELECT * FROM victim",
    "WITH victim AS (SELECT * FROM main.default.victim) SELECT * FROM victim "
    "UNION ALL SELECT * FROM (WITH victim AS (SELECT 1) SELECT * FROM victim)",
    "SELECT * FROM (WITH victim AS (SELECT 1 AS a) SELECT * FROM victim) x, victim",
    "SELECT 1 WHERE EXISTS (WITH v AS (SELECT 1) SELECT * FROM v) AND EXISTS (SELECT * FROM v)",
    "WITH a AS (SELECT * FROM b), b AS (SELECT 1) SELECT * FROM a",
    "SELECT * FROM (SELECT 1) AS x, victim AS x",
    "SELECT * FROM main.public.t UNION SELECT * FROM main.default.victim",
    "SELECT * FROM main.public.t LATERAL VIEW explode((SELECT collect_list(a) "
    "FROM main.default.victim)) e AS v",
    "WITH Victim2 AS (SELECT 1) SELECT * FROM victim",
    "SELECT * FROM default.victim",
    # SHOW forms reach where they name, all of them.
    "SHOW COLUMNS IN salaries IN main.secret",
    "SHOW COLUMNS FROM salaries FROM secret",
    "SHOW COLUMNS IN CATALOG main",
    "SHOW COLUMNS IN CATALOG main SCHEMA LIKE 'secret' TABLE LIKE '%' LIKE '%'",
    "SHOW COLUMNS IN CATALOG main SCHEMA LIKE '%'",
    "SHOW TABLES IN CATALOG main",
    "SHOW TABLES IN CATALOG main SCHEMA LIKE 'secret'",
    "SHOW TABLES IN CATALOG other SCHEMA LIKE 'public'",
    "SHOW TABLES IN ALL CATALOGS",
    "SHOW SCHEMAS IN ALL CATALOGS",
    "SHOW TABLES IN main.secret",
    "SHOW TABLES FROM secret",
    "SHOW VIEWS IN main.secret",
    "SHOW TABLE EXTENDED IN main.secret LIKE '*'",
    "SHOW FUNCTIONS IN main.secret",
    "SHOW USER FUNCTIONS IN main.secret",
    "SHOW VOLUMES IN main.secret",
    "SHOW CREATE TABLE main.secret.salaries",
    "SHOW TBLPROPERTIES main.secret.salaries",
    "SHOW PARTITIONS main.secret.salaries",
    "SHOW GRANTS ON TABLE main.secret.salaries",
    "SHOW GRANTS `someone@example.com` ON SCHEMA main.secret",
    "SHOW GRANTS ON CATALOG other",
    "SHOW SCHEMAS IN other",
    "SHOW SOMETHING main.secret",
    "DESCRIBE main.secret.salaries",
    "DESCRIBE TABLE EXTENDED main.secret.salaries",
    "DESCRIBE SCHEMA main.secret",
    "DESCRIBE CATALOG other",
    # Catalog functions of the engine list every catalog; query() runs text never parsed.
    "SELECT * FROM duckdb_tables()",
    "SELECT * FROM query('SELECT * FROM main.secret.salaries')",
    "SELECT * FROM query_table('main.secret.salaries')",
]

INSIDE = [
    "WITH victim AS (SELECT * FROM main.public.t) SELECT * FROM victim",
    "WITH a AS (SELECT 1 AS x), b AS (SELECT * FROM a) SELECT * FROM b JOIN a USING (x)",
    "WITH v AS (SELECT 1 AS a) SELECT * FROM (SELECT * FROM v) s WHERE EXISTS (SELECT * FROM v)",
    "WITH Victim AS (SELECT 1) SELECT * FROM victim",
    "SELECT * FROM main.public.t JOIN samples.tpch.orders o ON true",
    "SELECT * FROM samples.tpch.orders UNION SELECT * FROM main.public.t",
    "SHOW CATALOGS",
    "SHOW SCHEMAS IN main",
    "SHOW TABLES IN samples.tpch",
    "SHOW TABLES IN CATALOG samples SCHEMA LIKE 'tpch'",
    "SHOW COLUMNS IN orders IN samples.tpch",
    "SHOW COLUMNS IN samples.tpch.orders",
    "SHOW COLUMNS IN CATALOG samples SCHEMA LIKE 'tpch' TABLE LIKE 'orders'",
    "SHOW CREATE TABLE samples.tpch.orders",
    "SHOW GRANTS ON TABLE main.public.t",
    "DESCRIBE samples.tpch.orders",
    "DESCRIBE TABLE EXTENDED main.public.t",
    "DESCRIBE SCHEMA main.public",
    "SELECT * FROM range(3)",
]

# With the call's catalog and schema as defaults: an unqualified or two-part name goes there.
OUTSIDE_WITH_DEFAULTS = [
    "SELECT * FROM default.victim",
    "SELECT * FROM tpch.orders",
    "WITH v AS (SELECT 1) SELECT * FROM default.v",
    "SHOW TABLES FROM secret",
    "SHOW COLUMNS IN salaries IN secret",
]
INSIDE_WITH_DEFAULTS = [
    "SELECT * FROM t",
    "SELECT * FROM public.t JOIN samples.tpch.orders o ON true",
    "WITH victim AS (SELECT * FROM victim) SELECT * FROM victim",
    "SHOW TABLES",
    "SHOW COLUMNS IN t",
    "DESCRIBE TABLE EXTENDED t",
]


CASES = [(sql, NO_DEFAULTS) for sql in OUTSIDE] + [(s, DEFAULTS) for s in OUTSIDE_WITH_DEFAULTS]


@pytest.mark.parametrize(("sql", "defaults"), CASES)
def test_a_name_outside_the_scope_is_refused(sql: str, defaults: dict[str, str]) -> None:
    with pytest.raises(PolicyError) as info:
        check_sql_scope(sql, catalogs=CATALOGS, schemas=SCHEMAS, **defaults)
    assert info.value.code == "policy.scope", sql


@pytest.mark.parametrize(
    ("sql", "defaults"),
    [(sql, NO_DEFAULTS) for sql in INSIDE] + [(s, DEFAULTS) for s in INSIDE_WITH_DEFAULTS],
)
def test_a_name_inside_the_scope_is_let_through(sql: str, defaults: dict[str, str]) -> None:
    check_sql_scope(sql, catalogs=CATALOGS, schemas=SCHEMAS, **defaults)
