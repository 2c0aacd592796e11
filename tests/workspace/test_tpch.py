"""samples.tpch: eight TPC-H tables whose keys all resolve, and the 22 TPC-H queries written in
Databricks SQL, answered through the Statement Execution API exactly as DuckDB answers the same
questions written in its own dialect on the same data."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import httpx
import pytest
from tpch import RELATIVE_TOLERANCE, execute, query, same
from workspace_http import bearer, fetch_token

from lakegate.workspace import LocalWorkspace
from lakegate.workspace.samples.data import ensure_samples
from lakegate.workspace.sql.statements import service

TABLES = ["customer", "lineitem", "nation", "orders", "part", "partsupp", "region", "supplier"]


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[duckdb.DuckDBPyConnection]:
    """The same generator's data in an in-process DuckDB, attached as `samples`."""
    path = tmp_path_factory.mktemp("tpch") / "samples.duckdb"
    ensure_samples(path)
    con = duckdb.connect()
    con.execute(f"ATTACH '{path}' AS samples (READ_ONLY)")
    yield con
    con.close()


@pytest.mark.parametrize("number", range(1, 23), ids=lambda n: f"q{n:02d}")
def test_tpch_query_answers_like_duckdb(
    number: int, api: httpx.Client, warehouse: str, local: duckdb.DuckDBPyConnection
) -> None:
    answer = execute(api, warehouse, query(number, "databricks"))
    cursor = local.execute(query(number, "duckdb"))
    expected = cursor.fetchall()
    columns = answer["manifest"]["schema"]["columns"]
    assert [c["name"] for c in columns] == [d[0] for d in cursor.description]
    assert answer["manifest"]["total_row_count"] == len(answer["rows"]) == len(expected)
    assert expected, "an empty answer would prove nothing: the query's constants need data"
    for got, want in zip(answer["rows"], expected, strict=True):
        for value, duck, column in zip(got, want, columns, strict=True):
            assert same(value, duck, column["type_name"]), (
                f"q{number:02d} {column['name']}: API {value!r} != DuckDB {duck!r} "
                f"(relative tolerance {RELATIVE_TOLERANCE})"
            )


def test_tpch_tables_columns_and_comments(api: httpx.Client) -> None:
    listed = api.get(
        "/api/2.1/unity-catalog/tables", params={"catalog_name": "samples", "schema_name": "tpch"}
    ).json()["tables"]
    assert [t["name"] for t in listed] == TABLES
    tables = {t["name"]: t for t in listed}
    assert all(t["comment"].startswith("TPC-H") for t in listed)
    assert "revenue" in tables["lineitem"]["comment"]
    for table in listed:
        assert all(c["comment"] for c in table["columns"]), table["name"]
    lineitem = {c["name"]: c["type_text"] for c in tables["lineitem"]["columns"]}
    assert lineitem == {
        "l_orderkey": "bigint", "l_partkey": "bigint", "l_suppkey": "bigint",
        "l_linenumber": "int", "l_quantity": "decimal(18,2)", "l_extendedprice": "decimal(18,2)",
        "l_discount": "decimal(18,2)", "l_tax": "decimal(18,2)", "l_returnflag": "string",
        "l_linestatus": "string", "l_shipdate": "date", "l_commitdate": "date",
        "l_receiptdate": "date", "l_shipinstruct": "string", "l_shipmode": "string",
        "l_comment": "string",
    }  # fmt: skip
    types = {t["name"]: [c["type_text"] for c in t["columns"]] for t in listed}
    assert types["region"] == ["bigint", "string", "string"]
    assert types["nation"] == ["bigint", "string", "bigint", "string"]
    assert types["part"][5] == "int" and types["partsupp"][2:4] == ["int", "decimal(18,2)"]
    assert types["orders"][3:5] == ["decimal(18,2)", "date"]


CHECKS = """
SELECT
  (SELECT count(*) FROM samples.tpch.region) AS regions,
  (SELECT count(*) FROM samples.tpch.nation) AS nations,
  (SELECT count(*) FROM samples.tpch.supplier) AS suppliers,
  (SELECT count(*) FROM samples.tpch.part) AS parts,
  (SELECT count(*) FROM samples.tpch.partsupp) AS partsupps,
  (SELECT count(*) FROM samples.tpch.customer) AS customers,
  (SELECT count(*) FROM samples.tpch.orders) AS orders,
  (SELECT count(*) FROM samples.tpch.lineitem) AS lineitems,
  (SELECT count(*) FROM samples.tpch.nation LEFT ANTI JOIN samples.tpch.region
     ON n_regionkey = r_regionkey) AS orphan_nations,
  (SELECT count(*) FROM samples.tpch.supplier LEFT ANTI JOIN samples.tpch.nation
     ON s_nationkey = n_nationkey) AS orphan_suppliers,
  (SELECT count(*) FROM samples.tpch.customer LEFT ANTI JOIN samples.tpch.nation
     ON c_nationkey = n_nationkey) AS orphan_customers,
  (SELECT count(*) FROM samples.tpch.partsupp LEFT ANTI JOIN samples.tpch.part
     ON ps_partkey = p_partkey) AS orphan_partsupp_parts,
  (SELECT count(*) FROM samples.tpch.partsupp LEFT ANTI JOIN samples.tpch.supplier
     ON ps_suppkey = s_suppkey) AS orphan_partsupp_suppliers,
  (SELECT count(*) - count(DISTINCT ps_partkey, ps_suppkey) FROM samples.tpch.partsupp)
     AS repeated_partsupps,
  (SELECT count(*) FROM samples.tpch.orders LEFT ANTI JOIN samples.tpch.customer
     ON o_custkey = c_custkey) AS orphan_orders,
  (SELECT count_if(o_custkey % 3 = 0) FROM samples.tpch.orders) AS orders_of_every_third,
  (SELECT count(*) FROM samples.tpch.lineitem LEFT ANTI JOIN samples.tpch.orders
     ON l_orderkey = o_orderkey) AS orphan_lineitems,
  (SELECT count(*) FROM samples.tpch.lineitem LEFT ANTI JOIN samples.tpch.partsupp
     ON l_partkey = ps_partkey AND l_suppkey = ps_suppkey) AS lineitems_not_in_partsupp,
  (SELECT count(*) FROM samples.tpch.orders LEFT ANTI JOIN samples.tpch.lineitem
     ON o_orderkey = l_orderkey) AS orders_without_lines,
  (SELECT count(*) FROM samples.tpch.orders o JOIN (
     SELECT l_orderkey, sum(l_extendedprice * (1 + l_tax) * (1 - l_discount)) AS total,
            min(l_linestatus) AS lo, max(l_linestatus) AS hi
     FROM samples.tpch.lineitem GROUP BY l_orderkey) t ON t.l_orderkey = o.o_orderkey
   WHERE abs(o.o_totalprice - t.total) > 0.01
      OR o.o_orderstatus <> CASE WHEN t.hi = 'F' THEN 'F' WHEN t.lo = 'O' THEN 'O' ELSE 'P' END
  ) AS orders_unlike_their_lines,
  (SELECT count_if(l_receiptdate <= l_shipdate OR l_shipdate <= o_orderdate)
   FROM samples.tpch.lineitem JOIN samples.tpch.orders ON l_orderkey = o_orderkey)
     AS lines_out_of_date_order
"""


def test_tpch_keys_resolve_and_counts_follow_the_scale(api: httpx.Client, warehouse: str) -> None:
    answer = execute(api, warehouse, CHECKS)
    names = [c["name"] for c in answer["manifest"]["schema"]["columns"]]
    found = {n: int(v) for n, v in zip(names, answer["rows"][0], strict=True)}
    counts = {n: found.pop(n) for n in list(found)[:8]}
    assert counts == {
        "regions": 5, "nations": 25, "suppliers": 100, "parts": 2000, "partsupps": 8000,
        "customers": 1500, "orders": 15000, "lineitems": counts["lineitems"],
    }  # fmt: skip
    assert 15000 * 3.5 < counts["lineitems"] < 15000 * 4.5  # 1 to 7 lines an order, 4 on average
    assert found == dict.fromkeys(found, 0)


def test_generation_is_deterministic(tmp_path: Path, local: duckdb.DuckDBPyConnection) -> None:
    from lakegate.workspace.samples.data import Generation, _generate

    fresh = tmp_path / "again.duckdb"
    _generate(fresh, 0.01, Generation())  # not the per-process copy: a second real run
    local.execute(f"ATTACH '{fresh}' AS again (READ_ONLY)")
    try:
        for table in TABLES:
            digests = [
                local.execute(
                    f"SELECT md5(string_agg(t::VARCHAR, '|' ORDER BY t::VARCHAR)) "
                    f"FROM {catalog}.tpch.{table} t"
                ).fetchall()
                for catalog in ("samples", "again")
            ]
            assert digests[0] == digests[1], table
    finally:
        local.execute("DETACH again")


def _orders(ws: LocalWorkspace) -> int:
    with httpx.Client(base_url=ws.host, headers=bearer(fetch_token(ws)), timeout=60) as api:
        warehouse = api.get("/api/2.0/sql/warehouses").json()["warehouses"][0]["id"]
        answer = execute(api, warehouse, "SELECT count(*) FROM samples.tpch.orders")
    return int(answer["rows"][0][0])


def test_samples_scale_is_kept_per_state_dir(workspace_factory, tmp_path: Path) -> None:
    (tmp_path / "catalogs").mkdir()
    killed = tmp_path / "catalogs" / ".samples.duckdb.999999.tmp"  # a killed run's half file
    killed.write_bytes(b"half")
    bigger = workspace_factory(state_dir=tmp_path, samples_scale=0.02)
    info = bigger.wait_samples(120)
    assert info is not None and (info.scale, info.source) == (0.02, "generated")
    assert not killed.exists()
    assert _orders(bigger) == 30_000
    bigger.stop()
    default = workspace_factory(state_dir=tmp_path)  # another scale: made again, not reused
    assert default.wait_samples(120).scale == 0.01
    assert _orders(default) == 15_000
    default.stop()
    again = workspace_factory(state_dir=tmp_path)
    assert again.wait_samples(120).source == "kept"
    assert _orders(again) == 15_000
    assert json.loads((tmp_path / "catalogs" / "samples.json").read_text())["scale"] == 0.01
    # The 0.02 file this process made was replaced: another state dir must not copy it.
    elsewhere = workspace_factory(state_dir=tmp_path / "elsewhere", samples_scale=0.02)
    assert _orders(elsewhere) == 30_000


@pytest.mark.parametrize("scale", [0, 0.001, 11, float("nan")])
def test_bad_samples_scale_is_refused(scale: float) -> None:
    with pytest.raises(ValueError, match=r"between 0\.01 and 10"):
        LocalWorkspace(samples_scale=scale)


def test_stopping_during_generation_leaves_no_half_file(tmp_path: Path) -> None:
    ws = LocalWorkspace(state_dir=tmp_path, samples_scale=10).start()  # minutes of work
    catalogs = tmp_path / "catalogs"
    deadline = time.monotonic() + 60
    while not list(catalogs.glob(".samples.duckdb.*.tmp")):  # DuckDB is writing it now
        assert time.monotonic() < deadline
        time.sleep(0.01)
    engine = service(ws.state).engine
    ws.stop()
    assert not engine.samples_ready(0) or engine.samples is None
    assert not list(catalogs.glob(".samples*")) and not (catalogs / "samples.duckdb").exists()


def test_serve_prints_how_the_samples_were_made(tmp_path: Path) -> None:
    def serve() -> str:
        proc = subprocess.Popen(
            [sys.executable, "-m", "lakegate", "workspace", "serve", "--port", "0",
             "--state-dir", str(tmp_path), "--samples-scale", "0.01"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "COLUMNS": "200"},
        )  # fmt: skip
        try:
            line = ""
            while not line.startswith("samples"):
                line = proc.stdout.readline()
                assert line or proc.poll() is None, proc.stderr.read()
        finally:
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0 and "Traceback" not in err, err
        return line.strip()

    first = serve()
    assert first.startswith("samples     samples.tpch at scale 0.01, generated in ")
    assert first.endswith(" s") and float(first.split()[-2]) > 0
    assert serve() == "samples     samples.tpch at scale 0.01, kept from the state dir"


def test_serve_refuses_a_bad_samples_scale(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "lakegate", "workspace", "serve", "--port", "0",
         "--state-dir", str(tmp_path), "--samples-scale", "50"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    said = " ".join(proc.stderr.split())  # the console wraps long lines
    assert proc.returncode == 2
    assert "--samples-scale: the samples scale factor must be between 0.01 and 10, got 50" in said
    assert "Traceback" not in said and not (tmp_path / "credentials.json").exists()
