"""databricks-sqlalchemy and pandas against the local workspace, configured as users do: a
`databricks://token:<PAT>@host?http_path=...&catalog=...&schema=...` URL plus connect_args for
the port (and the CA file over TLS). Both of the connector's backends: the default (Thrift,
over `LocalWorkspace(tls=True)`) and SEA (`use_sea`, plain HTTP)."""

from __future__ import annotations

import datetime
import ssl
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import httpx
import pandas as pd
import pytest
import sqlalchemy as sa
from workspace_http import bearer, fetch_token

from lakegate.workspace import LocalWorkspace


@pytest.fixture(scope="module")
def tls_ws() -> Iterator[LocalWorkspace]:
    with LocalWorkspace(warehouse_delays=0.1, tls=True) as ws:
        yield ws


def personal_access_token(ws: LocalWorkspace, verify: ssl.SSLContext | bool = True) -> str:
    """A PAT, as a user would paste into the URL: OAuth token -> /api/2.0/token/create."""
    created = httpx.post(
        f"{ws.host}/api/2.0/token/create",
        headers=bearer(fetch_token(ws, verify=verify)),
        json={"comment": "sqlalchemy", "lifetime_seconds": 3600},
        verify=verify,
    )
    return created.json()["token_value"]


def new_schema(ws: LocalWorkspace, verify: ssl.SSLContext | bool = True) -> str:
    """A fresh schema in `main`, so these tests never see other tests' tables."""
    name = f"sa_{uuid.uuid4().hex[:8]}"
    token = personal_access_token(ws, verify)
    assert ws.state is not None
    body = httpx.post(
        f"{ws.host}/api/2.0/sql/statements",
        headers={"Authorization": f"Bearer {token}"},
        json={
            "statement": f"CREATE SCHEMA main.{name}",
            "warehouse_id": ws.state.warehouses.ids()[0],
        },
        verify=verify,
    ).json()
    assert body["status"]["state"] == "SUCCEEDED", body
    return name


def engine_for(ws: LocalWorkspace, schema: str, **connect_args: Any) -> sa.Engine:
    assert ws.state is not None
    scheme, host, port = ws.host.replace("//", "").split(":")
    verify = ssl.create_default_context(cafile=str(ws.ca_file)) if ws.ca_file else True
    url = (
        f"databricks://token:{personal_access_token(ws, verify)}@{host}"
        f"?http_path=/sql/1.0/warehouses/{ws.state.warehouses.ids()[0]}"
        f"&catalog=main&schema={schema}"
    )
    options: dict[str, Any] = {"_port": int(port), "enable_telemetry": False, **connect_args}
    if scheme == "https":
        options["_tls_trusted_ca_file"] = str(ws.ca_file)
    else:
        options["server_hostname"] = f"http://{host}"  # the connector's way to plain HTTP
    return sa.create_engine(url, connect_args=options)


@pytest.fixture(params=["thrift", "sea"])
def engine(request: pytest.FixtureRequest, plain_workspace: LocalWorkspace) -> Iterator[sa.Engine]:
    """An engine on a fresh schema, for each backend the connector offers."""
    if request.param == "thrift":
        ws: LocalWorkspace = request.getfixturevalue("tls_ws")
        verify = ssl.create_default_context(cafile=str(ws.ca_file))
        engine = engine_for(ws, new_schema(ws, verify))
    else:
        engine = engine_for(plain_workspace, new_schema(plain_workspace), use_sea=True)
    yield engine
    engine.dispose()


def test_read_sql_into_pandas(engine: sa.Engine) -> None:
    frame = pd.read_sql(
        "SELECT i AS id, i / 2 AS half, 'n' || i AS label, "
        "date_add(DATE '2024-01-01', CAST(i AS INT)) AS day, i % 2 = 0 AS even, "
        "CAST(i AS DECIMAL(10,2)) AS amount FROM range(4) AS t(i) ORDER BY i",
        engine,
    )
    assert list(frame.columns) == ["id", "half", "label", "day", "even", "amount"]
    assert frame["id"].tolist() == [0, 1, 2, 3]
    assert frame["half"].tolist() == [0.0, 0.5, 1.0, 1.5]
    assert frame["label"].tolist() == ["n0", "n1", "n2", "n3"]
    assert frame["day"].tolist() == [datetime.date(2024, 1, d) for d in (1, 2, 3, 4)]
    assert frame["even"].tolist() == [True, False, True, False]
    assert [Decimal(str(v)) for v in frame["amount"]] == [Decimal(i) for i in range(4)]
    counted = pd.read_sql(
        sa.text("SELECT count(*) FROM range(10) AS t(i) WHERE i < :n"), engine, params={"n": 7}
    )
    assert list(counted.columns) == ["count(1)"] and counted.iloc[0, 0] == 7


def test_tables_rows_and_dataframes_round_trip(engine: sa.Engine) -> None:
    metadata = sa.MetaData()
    items = sa.Table(
        "items",
        metadata,
        sa.Column("id", sa.BigInteger, nullable=False),
        sa.Column("name", sa.String),
        sa.Column("price", sa.Numeric(10, 2)),
        sa.Column("added", sa.DateTime),
    )
    metadata.create_all(engine)  # CREATE TABLE ... USING DELTA TBLPROPERTIES (...)
    added = datetime.datetime(2024, 5, 6, 7, 8, 9)
    with engine.begin() as connection:
        connection.execute(
            items.insert(),
            [
                {"id": 1, "name": "pen", "price": Decimal("1.50"), "added": added},
                {"id": 2, "name": "book", "price": Decimal("12.00"), "added": None},
            ],
        )
    with engine.connect() as connection:
        rows = connection.execute(sa.select(items).order_by(items.c.id)).all()
        cheap = connection.execute(
            sa.select(items.c.name).where(items.c.price < Decimal("5"))
        ).scalars()
        assert list(cheap) == ["pen"]
    assert [tuple(r) for r in rows] == [
        (1, "pen", Decimal("1.50"), added),
        (2, "book", Decimal("12.00"), None),
    ]
    frame = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", None]})
    frame.to_sql("frame", engine, index=False, if_exists="replace")
    back = pd.read_sql("SELECT * FROM frame ORDER BY a", engine)
    assert back["a"].tolist() == [1, 2, 3]
    assert back["b"].tolist()[:2] == ["x", "y"] and pd.isna(back["b"][2])


def test_inspector_lists_tables_views_and_existence(engine: sa.Engine) -> None:
    with engine.begin() as connection:
        connection.execute(sa.text("CREATE TABLE items (id BIGINT NOT NULL, name STRING)"))
        connection.execute(sa.text("CREATE TABLE orders (id BIGINT, item BIGINT)"))
        connection.execute(sa.text("CREATE VIEW named AS SELECT name FROM items"))
        connection.execute(sa.text("COMMENT ON TABLE items IS 'things to sell'"))
    inspector = sa.inspect(engine)
    assert sorted(inspector.get_table_names()) == ["items", "orders"]
    assert inspector.get_view_names() == ["named"]
    assert inspector.has_table("items") and not inspector.has_table("missing")
    # Read from DESCRIBE TABLE EXTENDED's "# Detailed Table Information" section.
    assert inspector.get_table_comment("items") == {"text": "things to sell"}
    assert inspector.get_pk_constraint("items")["constrained_columns"] == []
    schema = engine.url.query["schema"]
    assert {"default", "information_schema", schema} <= set(inspector.get_schema_names())


def test_inspector_get_columns_on_the_default_backend(tls_ws: LocalWorkspace) -> None:
    """get_columns reads the Thrift GetColumns shape (TYPE_NAME, NULLABLE, ...); the
    connector's SEA backend (4.9) returns SHOW COLUMNS rows without that mapping."""
    verify = ssl.create_default_context(cafile=str(tls_ws.ca_file))
    engine = engine_for(tls_ws, new_schema(tls_ws, verify))
    try:
        with engine.begin() as connection:
            connection.execute(
                sa.text(
                    "CREATE TABLE items (id BIGINT NOT NULL, name STRING, "
                    "price DECIMAL(10,2), added TIMESTAMP, ok BOOLEAN)"
                )
            )
        columns = sa.inspect(engine).get_columns("items")
    finally:
        engine.dispose()
    described = [(c["name"], type(c["type"]).__name__, c["nullable"]) for c in columns]
    assert described == [
        ("id", "BigInteger", False),
        ("name", "String", True),
        ("price", "Numeric", True),
        ("added", "TIMESTAMP", True),
        ("ok", "Boolean", True),
    ]
    assert (columns[2]["type"].precision, columns[2]["type"].scale) == (10, 2)


def test_what_the_dialect_sends(
    plain_workspace: LocalWorkspace, sent_statements: Callable[[], list[tuple[str, str]]]
) -> None:
    schema = new_schema(plain_workspace)
    engine = engine_for(plain_workspace, schema, use_sea=True)
    try:
        pd.DataFrame({"a": [1]}).to_sql("sent", engine, index=False)
        sa.inspect(engine).get_table_names()
    finally:
        engine.dispose()
    sent = sent_statements()
    texts = [text for text, _ in sent]
    assert f"DESCRIBE TABLE EXTENDED `main`.`{schema}`.`sent`" in texts  # has_table: not found
    assert "INSERT INTO sent (a) VALUES (:`a`)" in texts  # backticked native markers
    assert f"SHOW TABLES FROM `main`.`{schema}`" in texts
    assert f"SHOW VIEWS FROM `main`.`{schema}`" in texts
    assert all(
        state in ("SUCCEEDED", "CLOSED")
        for text, state in sent
        if schema in text and "DESCRIBE" not in text
    )
