"""The Databricks SQL connector's default (Thrift) backend against `LocalWorkspace(tls=True)`,
given only what a user gives it: host, port, http_path, OAuth M2M credentials and the CA file."""

from __future__ import annotations

import datetime
import json
import os
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import httpx
import pyarrow as pa
import pytest
from databricks import sql
from databricks.sdk.core import Config, oauth_service_principal
from databricks.sql.client import Connection
from databricks.sql.exc import DatabaseError, RequestError, ServerOperationError
from workspace_http import bearer, downloads, fetch_token, http_path

from _support import access_log
from lakegate.workspace import LocalWorkspace

# -- fixtures (Thrift only; the SEA backend's live in conftest.py) ----------------------------


@pytest.fixture(scope="module")
def tls_workspace() -> Iterator[LocalWorkspace]:
    with LocalWorkspace(tls=True) as ws:
        yield samples_loaded(ws)


def samples_loaded(ws: LocalWorkspace) -> LocalWorkspace:
    """`ws` once its sample catalog is there: statements wait at most 60 s for it, and a busy
    machine can take longer to generate it than that."""
    deadline = time.monotonic() + 600
    while ws.wait_samples(1.0) is None:
        assert time.monotonic() < deadline, "the samples were not generated within 600 s"
    return ws


@pytest.fixture
def connect(
    tls_workspace: LocalWorkspace, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., Connection]]:
    """`connect(**overrides)`: a connection as a user opens one (closed after the test)."""
    ws = tls_workspace
    ca = str(ws.ca_file)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", ca)  # the SDK's token request trusts the CA too
    opened: list[Connection] = []

    def open_connection(client_id: str = "", client_secret: str = "", **overrides: object):
        config = Config(
            host=ws.host,
            client_id=client_id or ws.credentials["client_id"],
            client_secret=client_secret or ws.credentials["client_secret"],
        )
        host, port = ws.host.removeprefix("https://").rsplit(":", 1)
        options: dict[str, object] = {
            "server_hostname": host,
            "port": int(port),
            "http_path": http_path(ws),
            "credentials_provider": lambda: oauth_service_principal(config),
            "_tls_trusted_ca_file": ca,
            # The connector's feature-flag lookup ignores `port` and would call host:443.
            "enable_telemetry": False,
            **overrides,
        }
        connection = sql.connect(**options)
        opened.append(connection)
        return connection

    yield open_connection
    for connection in opened:
        connection.close()


# -- TLS --------------------------------------------------------------------------------------


def test_tls_serves_https_with_a_ca_written_to_the_state_dir(tmp_path: Path) -> None:
    with LocalWorkspace(state_dir=tmp_path, tls=True) as ws:
        assert ws.host.startswith("https://127.0.0.1:")
        assert ws.account_host.startswith("https://")
        saved = json.loads(ws.credentials_path.read_text())
        assert saved["ca_file"] == str(ws.ca_file)
        assert ws.ca_file is not None and ws.ca_file.parent.parent == tmp_path
        assert (tmp_path / "tls" / "server.key").stat().st_mode & 0o777 == 0o600
        trusted = ssl.create_default_context(cafile=str(ws.ca_file))
        for base in (ws.host, ws.host.replace("127.0.0.1", "localhost")):
            metadata = f"{base}/oidc/.well-known/oauth-authorization-server"
            assert httpx.get(metadata, verify=trusted).json()["token_endpoint"].startswith("https")
        account = httpx.get(f"{ws.account_host}/api/2.0/accounts/x/workspaces", verify=trusted)
        assert account.json()["error_code"]  # a Databricks error body, over verified TLS
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            httpx.get(ws.host, verify=ssl.create_default_context())
        ca = ws.ca_file.read_bytes()
    with LocalWorkspace(state_dir=tmp_path, tls=True) as again:
        assert again.ca_file is not None and again.ca_file.read_bytes() == ca  # still trusted


def test_cli_serve_tls_prints_the_ca_and_answers_over_verified_https(tmp_path: Path) -> None:
    state = tmp_path / "ws"
    proc = subprocess.Popen(
        [sys.executable, "-m", "lakegate", "workspace", "serve", "--port", "0", "--tls",
         "--state-dir", str(state)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip
    try:
        shown: dict[str, str] = {}
        deadline = time.monotonic() + 30
        while "CA" not in shown:
            assert time.monotonic() < deadline and proc.poll() is None, proc.stderr.read()
            words = proc.stdout.readline().split()
            if words and words[0] in ("workspace", "CA"):
                shown[words[0]] = words[2] if words[0] == "CA" else words[1]
        creds = json.loads((state / "credentials.json").read_text())
        assert creds["ca_file"] == shown["CA"] and creds["host"] == shown["workspace"]
        trusted = ssl.create_default_context(cafile=shown["CA"])
        token = httpx.post(
            f"{shown['workspace']}/oidc/v1/token",
            data={"grant_type": "client_credentials"},
            auth=(creds["client_id"], creds["client_secret"]),
            verify=trusted,
        )
        assert token.json()["token_type"] == "Bearer"
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
    assert "Traceback" not in err and creds["client_secret"] not in out + err


def test_warehouses_advertise_the_https_thrift_endpoint(tls_workspace: LocalWorkspace) -> None:
    ws = tls_workspace
    trusted = ssl.create_default_context(cafile=str(ws.ca_file))
    token = fetch_token(ws, scope="sql", verify=trusted)
    listed = httpx.get(
        f"{ws.host}/api/2.0/sql/warehouses", headers=bearer(token), verify=trusted
    ).json()["warehouses"]
    odbc = next(w for w in listed if w["state"] == "RUNNING")["odbc_params"]
    host, port = ws.host.removeprefix("https://").rsplit(":", 1)
    assert (odbc["protocol"], odbc["hostname"], odbc["port"]) == ("https", host, int(port))
    assert odbc["path"] == http_path(ws)


def test_plain_http_stays_the_default() -> None:
    with LocalWorkspace() as ws:
        assert ws.host.startswith("http://") and ws.ca_file is None
        assert "ca_file" not in ws.credentials


# -- queries ----------------------------------------------------------------------------------


def test_execute_and_fetchall_with_databricks_types(connect: Callable[..., Connection]) -> None:
    with connect().cursor() as cursor:
        cursor.execute(
            "SELECT 1 AS i, CAST(2 AS BIGINT) AS l, 'x' AS s, CAST(1.5 AS DECIMAL(10,2)) AS d, "
            "DATE'2024-02-29' AS dt, TIMESTAMP'2024-01-02 03:04:05' AS ts, true AS b, "
            "CAST(NULL AS STRING) AS n, 0.25 AS f, NULL AS v"
        )
        names_types = [(c[0], c[1]) for c in cursor.description]
        assert names_types == [
            ("i", "int"),
            ("l", "bigint"),
            ("s", "string"),
            ("d", "decimal"),
            ("dt", "date"),
            ("ts", "timestamp"),
            ("b", "boolean"),
            ("n", "string"),
            ("f", "decimal"),
            ("v", "string"),  # a VOID column is a STRING over Thrift, as on Databricks
        ]
        assert cursor.description[3][4:6] == (10, 2)
        (row,) = cursor.fetchall()
    assert tuple(row)[:8] == (
        1,
        2,
        "x",
        Decimal("1.50"),
        datetime.date(2024, 2, 29),
        datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.UTC),  # TIMESTAMP is zoned
        True,
        None,
    )


def test_fetchmany_then_fetchall_pages_through_an_inline_result(
    connect: Callable[..., Connection],
) -> None:
    with connect(use_cloud_fetch=False).cursor(arraysize=7_000) as cursor:
        cursor.execute("SELECT id FROM range(250000) t(id) ORDER BY id")
        first = cursor.fetchmany(1000)
        rest = cursor.fetchall()
    ids = [r.id for r in first + rest]
    assert ids == list(range(250_000))


def test_native_parameters(connect: Callable[..., Connection]) -> None:
    with connect().cursor() as cursor:
        cursor.execute(
            "SELECT :n + 1 AS n, upper(:s) AS s, :d AS d, :missing IS NULL AS null_ok, :p AS p",
            {
                "n": 41,
                "s": "it's",
                "d": datetime.date(2024, 5, 6),
                "missing": None,
                "p": Decimal("2.5"),
            },
        )
        row = cursor.fetchone()
    assert (row.n, row.s, row.d, row.null_ok) == (42, "IT'S", datetime.date(2024, 5, 6), True)
    assert Decimal(str(row.p)) == Decimal("2.5")


def test_positional_and_any_named_parameters(connect: Callable[..., Connection]) -> None:
    """The connector's native `?` markers bind in order; a name that is no identifier binds
    through a backticked marker (SQLAlchemy writes :`1col:on` for a column so named)."""
    with connect().cursor() as cursor:
        cursor.execute("SELECT ? + 1 AS n, upper(?) AS s, ? IS NULL AS nothing", [41, "ok", None])
        assert tuple(cursor.fetchone()) == (42, "OK", True)
        cursor.execute("SELECT :`1col:on` AS a, :`q?marks` || :`1col:on` AS b", {
            "1col:on": "x", "q?marks": "y"})  # fmt: skip
        assert tuple(cursor.fetchone()) == ("x", "yx")
        # Unaliased, a string literal and a bound marker are named by their text, as in Spark.
        cursor.execute("SELECT 'samsonite', ? WHERE 'samsonite' LIKE '%sonite'", ["luggage"])
        assert [d[0] for d in cursor.description] == ["samsonite", "luggage"]
        with pytest.raises(ServerOperationError, match=r"UNBOUND_SQL_PARAMETER"):
            cursor.execute("SELECT ? AS a, ? AS b", [1])
        with pytest.raises(ServerOperationError, match=r"not both"):
            cursor.execute("SELECT ? AS a, :b AS b", [1])


def test_array_and_map_parameters(connect: Callable[..., Connection]) -> None:
    """The connector sends a list as an ARRAY and a dict as a MAP parameter, each element
    typed, nested as deep as the value is."""
    with connect().cursor() as cursor:
        cursor.execute(
            "SELECT :a AS a, :m AS m, element_at(:m, 'b') AS b, :nested AS nested",
            {"a": ["x", "y"], "m": {"a": 1, "b": 2}, "nested": [[1, 2], [3]]},
        )
        row = cursor.fetchone()
        cursor.execute("SELECT ? AS a, ? AS m", [["p", None], {"k": ["v"]}])
        positional = cursor.fetchone()
    assert list(row.a) == ["x", "y"]
    assert list(row.m) == [("a", 1), ("b", 2)] and row.b == 2
    assert [list(inner) for inner in row.nested] == [[1, 2], [3]]
    assert list(positional.a) == ["p", None]
    assert [(k, list(v)) for k, v in positional.m] == [("k", ["v"])]


def test_range_is_sparks_one_bigint_column_named_id(connect: Callable[..., Connection]) -> None:
    with connect().cursor() as cursor:
        cursor.execute("SELECT * FROM range(3)")
        assert [d[0] for d in cursor.description] == ["id"]
        assert [r.id for r in cursor.fetchall()] == [0, 1, 2]
        # Spark's other forms: start/end/step (+ numPartitions), a fractional bound cast.
        cursor.execute("SELECT sum(id) AS s FROM range(1, 10, 3, 4)")
        assert cursor.fetchone().s == 1 + 4 + 7
        cursor.execute("SELECT count(*) AS n FROM RANGE(2.0) AS t JOIN range(2) u ON t.id = u.id")
        assert cursor.fetchone().n == 2


def test_spark_reads_short_date_and_timestamp_strings(connect: Callable[..., Connection]) -> None:
    """`DATE('2021-09')` is 2021-09-01 and `TIMESTAMP('2021-09-30 11')` 11:00 in Spark; an
    offset moves the instant; a date that cannot be is NULL without ANSI_MODE, else an error."""
    utc = datetime.UTC
    with connect(session_configuration={"ansi_mode": False}).cursor() as cursor:
        cursor.execute(
            "SELECT DATE('2021-09') AS a, CAST('2021' AS DATE) AS b, DATE('9999-99-31') AS c, "
            "TIMESTAMP('2021-09-30 11') AS d, TIMESTAMP('2021-09-30 11:27:35.123+04:00') AS e, "
            "TIMESTAMP('9999-12-31T15:59:59') AS f"
        )
        assert tuple(cursor.fetchone()) == (
            datetime.date(2021, 9, 1),
            datetime.date(2021, 1, 1),
            None,
            datetime.datetime(2021, 9, 30, 11, tzinfo=utc),
            datetime.datetime(2021, 9, 30, 7, 27, 35, 123000, tzinfo=utc),
            datetime.datetime(9999, 12, 31, 15, 59, 59, tzinfo=utc),
        )
    with connect().cursor() as cursor, pytest.raises(ServerOperationError, match="CAST_INVALID"):
        cursor.execute("SELECT DATE('9999-99-31') AS c")


def test_complex_types_as_json_text_when_the_client_asks(
    connect: Callable[..., Connection],
) -> None:
    """`_use_arrow_native_complex_types=False`: ARRAY, MAP and STRUCT arrive as JSON strings,
    as Spark's to_json writes them; otherwise as Arrow values."""
    query = (
        "SELECT array('a', 'b') AS a, map('k', 1) AS m, named_struct('x', 1, 'y', 'z') AS s, "
        "array(map(1, array('p'))) AS nested, 7 AS plain"
    )
    with connect(_use_arrow_native_complex_types=False).cursor() as cursor:
        cursor.execute(query)
        row = cursor.fetchone()
    assert tuple(row) == ('["a","b"]', '{"k":1}', '{"x":1,"y":"z"}', '[{"1":["p"]}]', 7)
    with connect().cursor() as cursor:
        cursor.execute(query)
        native = cursor.fetchone()
    assert list(native.a) == ["a", "b"] and native.s == {"x": 1, "y": "z"}


@pytest.mark.parametrize("lz4", [True, False])
def test_results_come_lz4_compressed_when_the_client_can_read_them(
    connect: Callable[..., Connection], lz4: bool
) -> None:
    """The connector asks for LZ4 by default: inline batches and cloud-fetch downloads come
    compressed then, and plain when it does not ask."""
    rows = 300_000  # past the cloud-fetch threshold, so links serve it
    with connect(enable_query_result_lz4_compression=lz4).cursor() as cursor:
        cursor.execute("SELECT array(1, 2) AS a")
        assert cursor.fetchall()[0].a.tolist() == [1, 2]
        assert cursor.active_result_set.lz4_compressed is lz4
        cursor.execute(f"SELECT id, id * 2 AS twice FROM range({rows})")
        table = cursor.fetchall_arrow()
        assert cursor.active_result_set.lz4_compressed is lz4
    assert table.num_rows == rows and table.column("twice")[-1].as_py() == 2 * (rows - 1)


def test_use_moves_the_session_and_errors_are_databricks_shaped(
    connect: Callable[..., Connection],
) -> None:
    with connect().cursor() as cursor:
        cursor.execute("USE SCHEMA samples.tpch")
        cursor.execute("SELECT count(*) AS n FROM nation")
        assert cursor.fetchone().n == 25
        with pytest.raises(ServerOperationError, match=r"\[TABLE_OR_VIEW_NOT_FOUND\]"):
            cursor.execute("SELECT * FROM no_such_table")
        cursor.execute("SELECT 1 AS still_usable")
        assert cursor.fetchall()[0].still_usable == 1


def test_a_session_on_a_missing_schema_fails_only_what_needs_it(
    connect: Callable[..., Connection],
) -> None:
    """Databricks opens a session's namespace lazily: a session on a schema that does not
    exist (yet) answers queries that need no schema; unqualified names are not found there,
    and nothing is created anywhere else."""
    with connect(catalog="main", schema="not_made_yet").cursor() as cursor:
        cursor.execute("SELECT current_catalog() AS c, current_schema() AS s")
        assert tuple(cursor.fetchone()) == ("main", "not_made_yet")
        cursor.execute("SELECT count(*) AS n FROM samples.tpch.nation")
        assert cursor.fetchone().n == 25
        cursor.execute("DESCRIBE TABLE samples.tpch.nation")
        assert cursor.fetchone()[0] == "n_nationkey"
        cursor.execute("SHOW TABLES IN samples.tpch")
        assert len(cursor.fetchall()) == 8
        for statement in ("SELECT * FROM nation", "SELECT * FROM uc_constraints"):
            with pytest.raises(ServerOperationError, match=r"\[TABLE_OR_VIEW_NOT_FOUND\]"):
                cursor.execute(statement)
        for statement in ("CREATE TABLE made_here (a INT)", "CREATE VIEW v AS SELECT 1 AS a"):
            with pytest.raises(ServerOperationError, match=r"\[SCHEMA_NOT_FOUND\]"):
                cursor.execute(statement)
        cursor.execute("CREATE SCHEMA main.not_made_yet")
        cursor.execute("CREATE TABLE made_here AS SELECT 1 AS a")
        cursor.execute("SELECT a FROM main.not_made_yet.made_here")
        assert cursor.fetchone().a == 1
        cursor.execute("DROP SCHEMA main.not_made_yet CASCADE")


def test_set_time_zone_and_ansi_mode_hold_for_the_session(
    connect: Callable[..., Connection],
) -> None:
    """Databricks: the session's TIMEZONE reads zone-less text and zones TIMESTAMP results;
    ANSI_MODE (on by default) fails 1/0 with DIVIDE_BY_ZERO, off it answers NULL."""
    amsterdam = datetime.datetime(2022, 3, 2, 12, 54, 56, tzinfo=ZoneInfo("Europe/Amsterdam"))
    with connect().cursor() as cursor:
        cursor.execute("SET TIME ZONE 'Europe/Amsterdam'")
        cursor.execute("SELECT CAST('2022-03-02 12:54:56' AS TIMESTAMP) AS ts")
        assert cursor.fetchone().ts == amsterdam
        cursor.execute("SELECT CAST('2022-03-02 12:54:56' AS TIMESTAMP) AS ts")
        table = cursor.fetchmany_arrow(1)
        assert table.field(0).type == pa.timestamp("us", tz="Europe/Amsterdam")
        cursor.execute("SELECT current_timezone() AS tz")
        assert cursor.fetchone().tz == "Europe/Amsterdam"
        with pytest.raises(ServerOperationError, match=r"\[DIVIDE_BY_ZERO\]"):
            cursor.execute("SELECT 1/0 AS x")
        cursor.execute("SET ansi_mode = false")
        cursor.execute("SELECT 1/0 AS x, CAST('2021-09' AS INT) AS y")
        assert tuple(cursor.fetchone()) == (None, None)
        cursor.execute("RESET")
        cursor.execute("SELECT current_timezone() AS tz")
        assert cursor.fetchone().tz == "Etc/UTC"
        cursor.execute(
            "SELECT TIMESTAMP '2022-03-02 12:54:56' AS ts"
        )  # zoned as Databricks names it
        assert cursor.fetchmany_arrow(1).field(0).type == pa.timestamp("us", tz="Etc/UTC")
    # Another session starts from the defaults: a SET belongs to its session.
    with connect().cursor() as cursor:
        cursor.execute("SELECT current_timezone() AS tz")
        assert cursor.fetchone().tz == "Etc/UTC"


def test_session_configuration_is_applied(connect: Callable[..., Connection]) -> None:
    options = {"session_configuration": {"timezone": "+08:00", "ansi_mode": False}}
    with connect(**options).cursor() as cursor:
        cursor.execute("SELECT current_timezone() AS tz, 1/0 AS x, "
                       "hour(CAST('2024-01-01 00:00:00+00:00' AS TIMESTAMP)) AS h")  # fmt: skip
        assert tuple(cursor.fetchone()) == ("+08:00", None, 8)
        cursor.execute("SET")
        shown = dict(cursor.fetchall())
        cursor.execute("SET ansi_mode")
        echoed = list(cursor.fetchone())
    # A value is kept as the client wrote it (Python's False), and read case-insensitively.
    assert shown["TIMEZONE"] == "+08:00" and shown["ANSI_MODE"] == "False"
    assert echoed == ["ansi_mode", "False"]
    with pytest.raises(DatabaseError, match=r"INVALID_CONF_VALUE"):  # opening the session
        connect(session_configuration={"timezone": "Mars/Olympus"})


def test_a_million_rows_through_cloudfetch_match_duckdb(
    tls_workspace: LocalWorkspace, connect: Callable[..., Connection]
) -> None:
    query = (
        "SELECT id, id * 3 AS tripled, 'r' || CAST(id AS {text}) AS label, id % 7 = 0 AS lucky "
        "FROM range(1000000) t(id) ORDER BY id"
    )
    before = downloads(tls_workspace)
    with connect().cursor() as cursor:
        cursor.execute(query.format(text="STRING"))
        got = cursor.fetchall_arrow()
    expected = duckdb.sql(query.format(text="VARCHAR")).arrow()
    if isinstance(expected, pa.RecordBatchReader):
        expected = expected.read_all()
    assert got.num_rows == expected.num_rows == 1_000_000
    assert got.column_names == expected.column_names
    for name in expected.column_names:
        assert got.column(name).equals(expected.column(name)), name
    assert downloads(tls_workspace) - before >= 1  # the rows came through result links


def test_query_id_is_the_statement_id_in_the_workspace(
    tls_workspace: LocalWorkspace, connect: Callable[..., Connection]
) -> None:
    with connect().cursor() as cursor:
        cursor.execute("SELECT 7 AS seven")
        cursor.fetchall()
        statement_id = cursor.query_id
    svc = tls_workspace.state.sql_statements  # type: ignore[union-attr]
    assert svc.items[statement_id].text == "SELECT 7 AS seven"


def test_execute_async_then_fetch_the_result(connect: Callable[..., Connection]) -> None:
    with connect().cursor() as cursor:
        cursor.execute_async(
            "SELECT n_name FROM samples.tpch.nation WHERE n_nationkey < :k", {"k": 3}
        )
        rows = cursor.get_async_execution_result().fetchall()
    assert sorted(r.n_name for r in rows) == ["ALGERIA", "ARGENTINA", "BRAZIL"]


def test_a_stopped_warehouse_starts_for_the_first_statement(
    tls_workspace: LocalWorkspace, connect: Callable[..., Connection]
) -> None:
    ws = tls_workspace
    warehouses = ws.state.warehouses  # type: ignore[union-attr]

    def state_of(ident: str) -> str:
        return ws.call(lambda: warehouses.get(ident)["state"])  # on the server's loop

    stopped = [w for w in ws.call(warehouses.ids) if state_of(w) == "STOPPED"]
    assert stopped, "the seed warehouse 'Shared Endpoint' starts STOPPED"
    with connect(http_path=f"/sql/1.0/warehouses/{stopped[0]}").cursor() as cursor:
        cursor.execute("SELECT 1 AS one")
        assert cursor.fetchone().one == 1
    assert state_of(stopped[0]) == "RUNNING"


# -- metadata ---------------------------------------------------------------------------------


def test_catalogs_schemas_tables_columns(connect: Callable[..., Connection]) -> None:
    with connect().cursor() as cursor:
        cursor.execute("CREATE OR REPLACE TABLE main.default.thrift_people (id INT, name STRING)")
        cursor.execute("INSERT INTO main.default.thrift_people VALUES (1, 'ada'), (2, 'bob')")
        assert cursor.rowcount == 2  # numModifiedRows
        catalogs = {r.TABLE_CAT for r in cursor.catalogs().fetchall()}
        assert {"main", "samples"} <= catalogs
        schemas = cursor.schemas(catalog_name="samples").fetchall()
        assert ("tpch", "samples") in {(r.TABLE_SCHEM, r.TABLE_CATALOG) for r in schemas}
        tables = cursor.tables(catalog_name="samples", schema_name="tpch", table_name="n%")
        assert [(r.TABLE_NAME, r.TABLE_TYPE) for r in tables.fetchall()] == [("nation", "TABLE")]
        mine = cursor.tables(catalog_name="main", schema_name="default").fetchall()
        assert "thrift_people" in {r.TABLE_NAME for r in mine}
        columns = cursor.columns(
            catalog_name="main", schema_name="default", table_name="thrift_people"
        ).fetchall()
    assert [(c.COLUMN_NAME, c.TYPE_NAME, c.ORDINAL_POSITION) for c in columns] == [
        ("id", "INT", 0),
        ("name", "STRING", 1),
    ]
    assert columns[0].DATA_TYPE == 4 and columns[1].DATA_TYPE == 12


# -- cancel and refusals ----------------------------------------------------------------------


def test_cancel_stops_a_running_statement(
    tls_workspace: LocalWorkspace, connect: Callable[..., Connection]
) -> None:
    cursor = connect().cursor()
    cursor.execute_async("SELECT sum(a.x * b.y) FROM range(1000000) a(x), range(1000000) b(y)")
    statement_id = cursor.query_id
    svc = tls_workspace.state.sql_statements  # type: ignore[union-attr]
    running_by = time.monotonic() + 60
    while svc.items[statement_id].state != "RUNNING":
        assert time.monotonic() < running_by, "the statement never started running"
        time.sleep(0.02)
    cursor.cancel()
    stopped_by = time.monotonic() + 60
    while cursor.get_query_state().name not in ("CANCELLED", "FAILED", "SUCCEEDED"):
        assert time.monotonic() < stopped_by, "the statement did not stop"
    assert cursor.get_query_state().name == "CANCELLED"
    assert svc.items[statement_id].state == "CANCELED"


def test_a_bad_token_is_refused_with_the_connectors_auth_error(
    tls_workspace: LocalWorkspace,
) -> None:
    ws = tls_workspace
    host, port = ws.host.removeprefix("https://").rsplit(":", 1)
    before = len(access_log(ws))
    with pytest.raises(RequestError, match="Invalid access token"):
        sql.connect(
            server_hostname=host,
            port=int(port),
            http_path=http_path(ws),
            access_token="not-a-real-token",
            _tls_trusted_ca_file=str(ws.ca_file),
            enable_telemetry=False,
        )
    refused = [line for line in access_log(ws)[before:] if line["path"].startswith("/sql/1.0/")]
    assert [line["status"] for line in refused] == [403]  # refused once, not retried


def test_a_principal_without_can_use_cannot_open_a_session(
    tls_workspace: LocalWorkspace, connect: Callable[..., Connection]
) -> None:
    stranger = tls_workspace.create_service_principal("thrift-stranger")
    with pytest.raises(RequestError, match="does not have CAN_USE permission"):
        connect(stranger["client_id"], stranger["client_secret"])


def test_the_thrift_machinery_is_imported_only_when_a_client_calls() -> None:
    code = (
        "import sys; from lakegate.workspace import LocalWorkspace\n"
        "with LocalWorkspace() as ws: pass\n"
        "print(sorted(m for m in sys.modules if m == 'thrift' or m.startswith('thrift.')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=os.environ
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


# -- the wire, with the connector's generated TCLIService client over plain HTTP -------------


def raw_client(ws: LocalWorkspace, token: str) -> Any:
    """The connector's generated `TCLIService.Client` over plain HTTP with a Bearer token."""
    from databricks.sql.thrift_api.TCLIService import TCLIService
    from thrift.protocol.TBinaryProtocol import TBinaryProtocol
    from thrift.transport.THttpClient import THttpClient

    transport = THttpClient(f"{ws.host}{http_path(ws)}")
    transport.setCustomHeaders({"Authorization": f"Bearer {token}"})
    return TCLIService.Client(TBinaryProtocol(transport))


@pytest.fixture
def tcli(workspace: LocalWorkspace) -> Any:
    """A raw TCLIService client on the session workspace (plain HTTP), as the admin."""
    return raw_client(samples_loaded(workspace), fetch_token(workspace))


def arrow_rows(schema: bytes, row_set: Any) -> list[int]:
    data = schema + b"".join(batch.batch for batch in row_set.arrowBatches)
    return pa.ipc.open_stream(data).read_all().column(0).to_pylist()


def test_fetch_results_pages_and_restarts_from_the_first_row(tcli: Any) -> None:
    from databricks.sql.thrift_api.TCLIService import ttypes as t

    session = tcli.OpenSession(t.TOpenSessionReq(client_protocol_i64=0xA507)).sessionHandle
    executed = tcli.ExecuteStatement(
        t.TExecuteStatementReq(
            sessionHandle=session,
            statement="SELECT id FROM range(10) t(id) ORDER BY id",
            runAsync=True,
            canReadArrowResult=True,
            getDirectResults=t.TSparkGetDirectResults(maxRows=4, maxBytes=10**6),
        )
    )
    direct = executed.directResults
    assert direct.operationStatus.operationState == t.TOperationState.FINISHED_STATE
    schema = direct.resultSetMetadata.arrowSchema
    assert direct.resultSetMetadata.resultFormat == t.TSparkRowSetType.ARROW_BASED_SET
    assert arrow_rows(schema, direct.resultSet.results) == [0, 1, 2, 3]
    assert direct.resultSet.hasMoreRows

    def fetch(orientation: int) -> t.TFetchResultsResp:
        return tcli.FetchResults(
            t.TFetchResultsReq(
                operationHandle=executed.operationHandle, orientation=orientation, maxRows=4
            )
        )

    nxt = fetch(t.TFetchOrientation.FETCH_NEXT)
    assert (nxt.results.startRowOffset, arrow_rows(schema, nxt.results)) == (4, [4, 5, 6, 7])
    again = fetch(t.TFetchOrientation.FETCH_FIRST)
    assert arrow_rows(schema, again.results) == [0, 1, 2, 3]
    tcli.CloseOperation(t.TCloseOperationReq(operationHandle=executed.operationHandle))
    gone = fetch(t.TFetchOrientation.FETCH_NEXT)
    assert gone.status.statusCode == t.TStatusCode.INVALID_HANDLE_STATUS
    assert "Invalid OperationHandle" in gone.status.errorMessage
    tcli.CloseSession(t.TCloseSessionReq(sessionHandle=session))


def test_type_info_and_unknown_methods(tcli: Any) -> None:
    from databricks.sql.thrift_api.TCLIService import ttypes as t
    from thrift.Thrift import TApplicationException

    session = tcli.OpenSession(t.TOpenSessionReq(client_protocol_i64=0xA507)).sessionHandle
    info = tcli.GetTypeInfo(
        t.TGetTypeInfoReq(sessionHandle=session, getDirectResults=t.TSparkGetDirectResults())
    ).directResults
    table = pa.ipc.open_stream(
        info.resultSetMetadata.arrowSchema
        + b"".join(b.batch for b in info.resultSet.results.arrowBatches)
    ).read_all()
    names, codes = table.column("TYPE_NAME").to_pylist(), table.column("DATA_TYPE").to_pylist()
    types = dict(zip(names, codes, strict=True))
    assert types["INT"] == 4 and types["STRING"] == 12 and types["DECIMAL"] == 3
    dbms = tcli.GetInfo(t.TGetInfoReq(sessionHandle=session, infoType=t.TGetInfoType.CLI_DBMS_NAME))
    assert dbms.infoValue.stringValue == "Spark SQL"
    kinds = tcli.GetTableTypes(
        t.TGetTableTypesReq(sessionHandle=session, getDirectResults=t.TSparkGetDirectResults())
    ).directResults
    assert kinds.resultSet.results.arrowBatches[0].rowCount == 2  # TABLE, VIEW
    with pytest.raises(TApplicationException, match="GetFunctions"):
        tcli.GetFunctions(t.TGetFunctionsReq(sessionHandle=session, functionName="%"))
    tcli.CloseSession(t.TCloseSessionReq(sessionHandle=session))
    closed = tcli.GetCatalogs(t.TGetCatalogsReq(sessionHandle=session))
    assert closed.status.statusCode == t.TStatusCode.INVALID_HANDLE_STATUS


def test_a_body_that_is_not_thrift_is_a_clear_400(workspace: LocalWorkspace) -> None:
    response = httpx.post(
        f"{workspace.host}{http_path(workspace)}",
        content=b"{not thrift}",
        headers={"Authorization": f"Bearer {fetch_token(workspace)}"},
    )
    assert response.status_code == 400
    assert response.json()["error_code"] == "MALFORMED_REQUEST"
    unknown = httpx.post(
        f"{workspace.host}/sql/1.0/warehouses/nope",
        content=b"",
        headers={"Authorization": f"Bearer {fetch_token(workspace)}"},
    )
    assert unknown.status_code == 404
    assert unknown.headers["x-databricks-error-or-redirect-message"]


def test_a_session_handle_is_good_only_for_the_principal_that_opened_it(
    workspace: LocalWorkspace, tcli: Any
) -> None:
    from databricks.sql.thrift_api.TCLIService import ttypes as t

    session = tcli.OpenSession(t.TOpenSessionReq(client_protocol_i64=0xA507)).sessionHandle
    other = workspace.create_service_principal("thrift-other", warehouse_permission="CAN_USE")
    theirs = raw_client(
        workspace, fetch_token(workspace, other["client_id"], other["client_secret"])
    )
    stolen = theirs.ExecuteStatement(
        t.TExecuteStatementReq(sessionHandle=session, statement="SELECT 1", runAsync=True)
    )
    assert stolen.status.statusCode == t.TStatusCode.INVALID_HANDLE_STATUS
    assert stolen.operationHandle is None
    own = theirs.OpenSession(t.TOpenSessionReq(client_protocol_i64=0xA507))
    assert own.status.statusCode == t.TStatusCode.SUCCESS_STATUS


def test_a_non_admin_reads_over_thrift_exactly_what_unity_catalog_grants(
    tls_workspace: LocalWorkspace, connect: Callable[..., Connection]
) -> None:
    ws = tls_workspace
    with connect().cursor() as admin:
        admin.execute("CREATE SCHEMA IF NOT EXISTS main.thrift_hr")
        admin.execute("CREATE OR REPLACE TABLE main.thrift_hr.pay AS SELECT 'ann' AS name, 1 AS p")
    sp = ws.create_service_principal("thrift-analyst", warehouse_permission="CAN_USE")
    with connect(sp["client_id"], sp["client_secret"]).cursor() as cursor:
        cursor.execute("SELECT count(*) FROM samples.tpch.region")
        assert cursor.fetchall()[0][0] == 5
        with pytest.raises(
            ServerOperationError, match=r"\[INSUFFICIENT_PERMISSIONS\].*USE CATALOG"
        ):
            cursor.execute("SELECT * FROM main.thrift_hr.pay")
        changes = {"changes": [{"principal": sp["client_id"], "add": ["USE_CATALOG"]}]}
        token = httpx.post(
            f"{ws.host}/oidc/v1/token", verify=str(ws.ca_file),
            data={"grant_type": "client_credentials", "scope": "all-apis",
                  "client_id": ws.credentials["client_id"],
                  "client_secret": ws.credentials["client_secret"]},
        ).json()["access_token"]  # fmt: skip
        with httpx.Client(
            base_url=ws.host, verify=str(ws.ca_file), headers={"Authorization": f"Bearer {token}"}
        ) as api:
            uc = "/api/2.1/unity-catalog/permissions"
            assert api.patch(f"{uc}/catalog/main", json=changes).status_code == 200
            changes["changes"][0]["add"] = ["USE_SCHEMA", "SELECT"]
            assert api.patch(f"{uc}/schema/main.thrift_hr", json=changes).status_code == 200
        cursor.execute("SELECT name FROM main.thrift_hr.pay")
        assert cursor.fetchall()[0][0] == "ann"


def test_a_temporary_view_is_its_sessions_alone(connect: Callable[..., Connection]) -> None:
    mine, other = connect().cursor(), connect().cursor()
    mine.execute(
        "CREATE OR REPLACE TEMPORARY VIEW first_regions (key, name) AS "
        "SELECT r_regionkey, r_name FROM samples.tpch.region WHERE r_regionkey < 3"
    )
    # Every later statement of the session sees it, whichever pooled connection runs it.
    for _ in range(12):
        mine.execute("SELECT count(*) AS n, max(name) AS top FROM first_regions")
        assert tuple(mine.fetchone()) == (3, "ASIA")
    mine.execute(
        "SELECT n_name FROM samples.tpch.nation n JOIN first_regions r ON n.n_regionkey = r.key "
        "WHERE r.name = 'AFRICA' ORDER BY n_name LIMIT 1"
    )
    assert mine.fetchone().n_name == "ALGERIA"
    mine.execute("WITH first_regions AS (SELECT 9 AS key) SELECT key FROM first_regions")
    assert mine.fetchone().key == 9  # a CTE of the same name comes first
    mine.execute("SHOW VIEWS IN main.default")
    assert [tuple(r) for r in mine.fetchall()] == [("", "first_regions", True, False)]
    # Another session sees none of it.
    with pytest.raises(ServerOperationError, match=r"\[TABLE_OR_VIEW_NOT_FOUND\]"):
        other.execute("SELECT * FROM first_regions")
    other.execute("SHOW VIEWS IN main.default")
    assert other.fetchall() == []
    with pytest.raises(ServerOperationError, match=r"\[TEMP_TABLE_OR_VIEW_ALREADY_EXISTS\]"):
        mine.execute("CREATE TEMPORARY VIEW first_regions AS SELECT 1 AS key")
    with pytest.raises(ServerOperationError, match=r"\[TABLE_OR_VIEW_NOT_FOUND\]"):
        mine.execute("CREATE OR REPLACE TEMPORARY VIEW broken AS SELECT * FROM no_such_table")
    mine.execute("DROP VIEW first_regions")
    with pytest.raises(ServerOperationError, match=r"\[TABLE_OR_VIEW_NOT_FOUND\]"):
        mine.execute("SELECT * FROM first_regions")


def test_a_variant_comes_as_its_json_text(connect: Callable[..., Connection]) -> None:
    """Databricks sends a VARIANT as JSON text (object keys in order), marked `variant`."""
    with connect().cursor() as cursor:
        cursor.execute(
            'SELECT parse_json(\'{"name": "ann", "age": 30}\') AS v, '
            "parse_json('[1, 2]') AS a, CAST(NULL AS VARIANT) AS n, 'x' AS s"
        )
        assert [d[1] for d in cursor.description] == ["variant", "variant", "variant", "string"]
        assert tuple(cursor.fetchone()) == ('{"age":30,"name":"ann"}', "[1,2]", None, "x")


def test_an_inline_timestamp_string_with_an_offset_goes_into_a_timestamp_column(
    connect: Callable[..., Connection],
) -> None:
    """Spark reads `'2023-09-06 03:14:27.000843 +0000'` as a timestamp (the connector's inline
    parameters write them so); a STRING column keeps such text exactly as written."""
    with connect().cursor() as cursor:
        cursor.execute("CREATE SCHEMA IF NOT EXISTS main.stamps")
        cursor.execute("CREATE OR REPLACE TABLE main.stamps.t (ts TIMESTAMP, s STRING)")
        cursor.execute(
            "INSERT INTO main.stamps.t VALUES ('2023-09-06 03:14:27.000843 +0000', 'x'), "
            "('2023-09-06 05:14:27 +0200', '2023-09-06 03:14:27 +0000')"
        )
        cursor.execute("SELECT ts, s FROM main.stamps.t ORDER BY s")
        rows = [tuple(r) for r in cursor.fetchall()]
        utc = datetime.UTC
        assert [r[0].astimezone(utc) for r in rows] == [
            datetime.datetime(2023, 9, 6, 3, 14, 27, tzinfo=utc),
            datetime.datetime(2023, 9, 6, 3, 14, 27, 843, tzinfo=utc),
        ]
        assert [r[1] for r in rows] == ["2023-09-06 03:14:27 +0000", "x"]
        with pytest.raises(ServerOperationError, match=r"CAST_INVALID_INPUT|CONVERSION"):
            cursor.execute("INSERT INTO main.stamps.t (ts) VALUES ('not a time +0000')")
        cursor.execute("DROP SCHEMA main.stamps CASCADE")
