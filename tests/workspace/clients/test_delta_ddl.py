"""Delta's table DDL: informational keys, comments and identity columns, as SQLAlchemy's
Databricks dialect creates and reflects them (DDL from `metadata.create_all`, reflection from
DESCRIBE TABLE EXTENDED and Thrift GetColumns), and the forms Databricks documents for them."""

from __future__ import annotations

import ssl
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from test_sqlalchemy import engine_for, new_schema

from lakegate.workspace import LocalWorkspace


@pytest.fixture(scope="module")
def engine() -> Iterator[sa.Engine]:
    """The dialect's default backend (Thrift, over TLS), on a schema of this module's own."""
    with LocalWorkspace(warehouse_delays=0.1, tls=True) as ws:
        verify = ssl.create_default_context(cafile=str(ws.ca_file))
        engine = engine_for(ws, new_schema(ws, verify))
        yield engine
        engine.dispose()


def run(engine: sa.Engine, *statements: str) -> list[tuple]:
    with engine.begin() as connection:
        rows: list[tuple] = []
        for statement in statements:
            result = connection.execute(sa.text(statement))
            rows = [tuple(r) for r in result] if result.returns_rows else []
        return rows


def failure(engine: sa.Engine, statement: str) -> str:
    with pytest.raises(sa.exc.DatabaseError) as caught:
        run(engine, statement)
    return str(caught.value.orig)


def test_keys_and_comments_from_create_all_are_reflected(engine: sa.Engine) -> None:
    metadata = sa.MetaData()
    users = sa.Table(
        "users",
        metadata,
        sa.Column("user_id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(20), comment="the user's % ' \" name"),
        sa.Column("parent", sa.Integer, sa.ForeignKey("users.user_id", name="user_parent_fk")),
        comment="people % ' \" \\ here",
    )
    sa.Table(
        "orders",
        metadata,
        sa.Column("order_id", sa.Integer),
        sa.Column("line", sa.Integer),
        sa.Column("user_id", sa.Integer, sa.ForeignKey(users.c.user_id)),
        sa.PrimaryKeyConstraint("order_id", "line", name="Orders_PK"),
    )
    metadata.create_all(engine)
    inspector = sa.inspect(engine)
    assert inspector.get_pk_constraint("users")["constrained_columns"] == ["user_id"]
    assert inspector.get_pk_constraint("orders") == {
        "constrained_columns": ["order_id", "line"],
        "name": "Orders_PK",  # a constraint's name keeps its case
    }
    schema = engine.url.query["schema"]
    (parent,) = inspector.get_foreign_keys("users")
    assert parent["name"] == "user_parent_fk"
    assert parent["constrained_columns"] == ["parent"]
    assert parent["referred_table"] == "users" and parent["referred_columns"] == ["user_id"]
    assert parent["referred_schema"] is None  # the dialect's way to say "this schema"
    assert inspector.get_foreign_keys("users", schema=schema)[0]["referred_schema"] == schema
    (owner,) = inspector.get_foreign_keys("orders")
    assert owner["referred_table"] == "users" and owner["constrained_columns"] == ["user_id"]
    assert inspector.get_table_comment("users") == {"text": "people % ' \" \\ here"}
    comments = {c["name"]: c["comment"] for c in inspector.get_columns("users")}
    assert comments == {"user_id": None, "name": "the user's % ' \" name", "parent": None}


def test_keys_are_informational_as_in_delta(engine: sa.Engine) -> None:
    """Databricks does not enforce a key: a duplicate or an orphan inserts fine. A key column
    is still NOT NULL."""
    run(
        engine,
        "CREATE TABLE parent (id INT NOT NULL, CONSTRAINT parent_pk PRIMARY KEY (id))",
        "CREATE TABLE child (id INT, parent_id INT REFERENCES parent)",
        "INSERT INTO parent VALUES (1), (1)",
        "INSERT INTO child VALUES (1, 42)",
    )
    assert run(engine, "SELECT count(*) FROM parent") == [(2,)]
    assert "NOT NULL" in failure(engine, "INSERT INTO parent VALUES (NULL)")
    rows = run(engine, "DESCRIBE TABLE EXTENDED child")
    section = [r[:2] for r in rows[[r[0] for r in rows].index("# Constraints") + 1 :]]
    schema = engine.url.query["schema"]
    # REFERENCES without columns names the parent's primary key.
    parent = f"`main`.`{schema}`.`parent` (`id`)"
    assert section == [("child_parent_fk", f"FOREIGN KEY (`parent_id`) REFERENCES {parent}")]


def test_alter_table_adds_and_drops_keys(engine: sa.Engine) -> None:
    run(engine, "CREATE TABLE a (id INT NOT NULL, b_id INT)", "CREATE TABLE b (id INT NOT NULL)")
    run(
        engine,
        "ALTER TABLE b ADD CONSTRAINT b_pk PRIMARY KEY (id)",
        "ALTER TABLE a ADD PRIMARY KEY (id)",
        "ALTER TABLE a ADD CONSTRAINT a_b FOREIGN KEY (b_id) REFERENCES b (id)",
    )
    inspector = sa.inspect(engine)
    assert inspector.get_pk_constraint("a") == {"constrained_columns": ["id"], "name": "a_pk"}
    assert [fk["name"] for fk in inspector.get_foreign_keys("a")] == ["a_b"]
    assert "CONSTRAINT_ALREADY_EXISTS" in failure(engine, "ALTER TABLE a ADD PRIMARY KEY (b_id)")
    assert "CONSTRAINT_ALREADY_EXISTS" in failure(
        engine, "ALTER TABLE b ADD CONSTRAINT a_b FOREIGN KEY (id) REFERENCES a (id)"
    )  # a name is unique in its schema
    run(engine, "ALTER TABLE a DROP FOREIGN KEY (b_id)", "ALTER TABLE a DROP PRIMARY KEY")
    run(engine, "ALTER TABLE b DROP CONSTRAINT IF EXISTS b_pk CASCADE")
    fresh = sa.inspect(engine)
    assert fresh.get_foreign_keys("a") == []
    assert fresh.get_pk_constraint("a")["constrained_columns"] == []
    assert fresh.get_pk_constraint("b")["constrained_columns"] == []
    run(
        engine,
        "ALTER TABLE a ADD CONSTRAINT zz_last FOREIGN KEY (b_id) REFERENCES a (id)",
        "ALTER TABLE a ADD PRIMARY KEY (id)",
        "ALTER TABLE a ADD CONSTRAINT aa_first FOREIGN KEY (b_id) REFERENCES a (id)",
    )
    # Listed by name (SQLAlchemy's own suite expects that order).
    assert [fk["name"] for fk in sa.inspect(engine).get_foreign_keys("a")] == [
        "aa_first",
        "zz_last",
    ]
    assert "CONSTRAINT_DOES_NOT_EXIST" in failure(engine, "ALTER TABLE b DROP CONSTRAINT b_pk")
    run(engine, "ALTER TABLE b DROP CONSTRAINT IF EXISTS b_pk")


def test_bad_keys_are_refused_with_the_reason(engine: sa.Engine) -> None:
    assert "TABLE_OR_VIEW_NOT_FOUND" in failure(
        engine, "CREATE TABLE orphan (id INT, p INT REFERENCES nowhere (id))"
    )
    assert "UNRESOLVED_COLUMN" in failure(engine, "CREATE TABLE k (id INT, PRIMARY KEY (nope))")
    run(engine, "CREATE TABLE nokey (id INT)")
    assert "FOREIGN_KEY_NO_PARENT_KEY" in failure(
        engine, "CREATE TABLE fk_to_nokey (id INT, p INT REFERENCES nokey)"
    )
    assert "TABLE_OR_VIEW_NOT_FOUND" in failure(engine, "ALTER TABLE missing ADD PRIMARY KEY (id)")
    # Nothing of a refused statement stays behind.
    names = {r[1] for r in run(engine, "SHOW TABLES")}
    assert not {"orphan", "k", "fk_to_nokey"} & names


def test_a_dropped_table_takes_its_keys_and_comments_along(engine: sa.Engine) -> None:
    run(
        engine,
        "CREATE TABLE gone (id INT NOT NULL PRIMARY KEY COMMENT 'the id') COMMENT 'gone soon'",
        "DROP TABLE gone",
        "CREATE TABLE gone (id INT NOT NULL)",
    )
    inspector = sa.inspect(engine)
    assert inspector.get_pk_constraint("gone")["constrained_columns"] == []
    assert inspector.get_table_comment("gone") == {"text": None}
    assert [c["comment"] for c in inspector.get_columns("gone")] == [None]


def test_create_if_not_exists_leaves_the_existing_table_as_it_was(engine: sa.Engine) -> None:
    run(engine, "CREATE TABLE kept (id INT NOT NULL PRIMARY KEY) COMMENT 'first'")
    run(engine, "CREATE TABLE IF NOT EXISTS kept (x INT NOT NULL PRIMARY KEY) COMMENT 'second'")
    inspector = sa.inspect(engine)
    assert inspector.get_table_comment("kept") == {"text": "first"}
    assert inspector.get_pk_constraint("kept")["constrained_columns"] == ["id"]
    run(engine, "CREATE OR REPLACE TABLE kept (id INT NOT NULL)")  # its keys go with it
    assert sa.inspect(engine).get_pk_constraint("kept")["constrained_columns"] == []


def test_comments_set_and_unset_as_databricks_writes_them(engine: sa.Engine) -> None:
    run(
        engine,
        "CREATE TABLE noted (id INT, label STRING)",
        "COMMENT ON TABLE noted IS 'a note'",
        "ALTER TABLE noted ALTER COLUMN label COMMENT 'the label'",
    )
    inspector = sa.inspect(engine)
    assert inspector.get_table_comment("noted") == {"text": "a note"}
    assert [c["comment"] for c in inspector.get_columns("noted")] == [None, "the label"]
    run(engine, "COMMENT ON TABLE noted IS NULL")
    assert sa.inspect(engine).get_table_comment("noted") == {"text": None}


def test_identity_columns_number_rows_as_delta_does(engine: sa.Engine) -> None:
    run(
        engine,
        "CREATE TABLE events (id BIGINT GENERATED ALWAYS AS IDENTITY (START WITH 42 INCREMENT "
        "BY 2), n BIGINT GENERATED BY DEFAULT AS IDENTITY, what STRING)",
    )
    events = sa.Table("events", sa.MetaData(), autoload_with=engine)
    with engine.begin() as connection:
        connection.execute(events.insert(), [{"what": "a"}, {"what": "b"}])
        connection.execute(events.insert(), {"what": "c", "n": 100})  # BY DEFAULT takes one
        rows = connection.execute(sa.select(events).order_by(events.c.id)).all()
    assert [tuple(r) for r in rows] == [(42, 1, "a"), (44, 2, "b"), (46, 100, "c")]
    # ALWAYS takes no value, neither named, nor by position, nor by UPDATE.
    refused = "DELTA_IDENTITY_COLUMNS_EXPLICIT_INSERT_NOT_SUPPORTED"
    assert refused in failure(engine, "INSERT INTO events (id, what) VALUES (1, 'x')")
    assert refused in failure(engine, "INSERT INTO events VALUES (1, 2, 'x')")
    assert "DELTA_IDENTITY_COLUMNS_UPDATE_NOT_SUPPORTED" in failure(
        engine, "UPDATE events SET id = 0 WHERE what = 'a'"
    )
    assert run(engine, "SELECT count(*) FROM events") == [(3,)]
    identities = run(
        engine,
        "SELECT column_name, is_identity FROM information_schema.columns "
        f"WHERE table_schema = '{engine.url.query['schema']}' AND table_name = 'events' "
        "ORDER BY ordinal_position",
    )
    assert identities == [("id", "YES"), ("n", "YES"), ("what", "NO")]


def test_identity_is_bigint_only_and_leaves_nothing_behind(engine: sa.Engine) -> None:
    assert "DELTA_IDENTITY_COLUMNS_UNSUPPORTED_DATA_TYPE" in failure(
        engine, "CREATE TABLE small (id INT GENERATED ALWAYS AS IDENTITY)"
    )
    assert "DELTA_IDENTITY_COLUMNS_ILLEGAL_STEP" in failure(
        engine, "CREATE TABLE still (id BIGINT GENERATED ALWAYS AS IDENTITY (INCREMENT BY 0))"
    )
    schema = f"main.{engine.url.query['schema']}_ids"
    run(
        engine,
        f"CREATE SCHEMA {schema}",
        f"CREATE TABLE {schema}.t (id BIGINT GENERATED ALWAYS AS IDENTITY, x INT)",
        f"CREATE TABLE IF NOT EXISTS {schema}.t (id BIGINT GENERATED ALWAYS AS IDENTITY)",
        f"CREATE OR REPLACE TABLE {schema}.t (id BIGINT GENERATED BY DEFAULT AS IDENTITY)",
        f"INSERT INTO {schema}.t (id) VALUES (7)",
        f"DROP TABLE {schema}.t",
        # Without CASCADE: the schema holds nothing, not even a sequence of the old tables.
        f"DROP SCHEMA {schema}",
    )


def test_an_identity_column_is_guarded_in_another_catalog_too(engine: sa.Engine) -> None:
    """The ALWAYS check finds a table by its full name, whatever the session's catalog."""
    run(
        engine,
        "CREATE CATALOG IF NOT EXISTS ids_elsewhere",
        "CREATE SCHEMA IF NOT EXISTS ids_elsewhere.s",
        "CREATE OR REPLACE TABLE ids_elsewhere.s.ev "
        "(id BIGINT GENERATED ALWAYS AS IDENTITY, x INT)",
    )
    try:
        message = failure(engine, "INSERT INTO ids_elsewhere.s.ev VALUES (1, 2)")
        assert message.startswith("[DELTA_IDENTITY_COLUMNS_EXPLICIT_INSERT_NOT_SUPPORTED]")
        run(engine, "INSERT INTO ids_elsewhere.s.ev (x) VALUES (2)")
        assert run(engine, "SELECT id, x FROM ids_elsewhere.s.ev") == [(1, 2)]
    finally:
        run(engine, "DROP CATALOG ids_elsewhere CASCADE")


def test_unity_catalog_keeps_created_names_in_lower_case(engine: sa.Engine) -> None:
    """`CREATE TABLE \\`T1\\`` makes t1 (column names keep their case)."""
    run(
        engine,
        "CREATE TABLE `Mixed_Case` (`Col_A` INT)",
        "CREATE VIEW `UPPER_VIEW` AS SELECT * FROM MIXED_CASE",
    )
    inspector = sa.inspect(engine)
    assert "mixed_case" in inspector.get_table_names()
    assert "upper_view" in inspector.get_view_names()
    assert [c["name"] for c in inspector.get_columns("mixed_case")] == ["Col_A"]
    assert run(engine, "SELECT count(*) FROM `mixed_case`") == [(0,)]
    # Looked up by any case, as Unity Catalog's names are case-insensitive: the dialect's
    # has_table runs DESCRIBE TABLE EXTENDED with the name as the model spells it.
    assert inspector.has_table("Mixed_Case") and inspector.has_table("MIXED_CASE")
    described = run(engine, "DESCRIBE TABLE EXTENDED `MIXED_CASE`")
    assert described[0][:2] == ("Col_A", "int")
    assert run(engine, "SHOW COLUMNS IN `Mixed_Case`") == [("Col_A",)]
