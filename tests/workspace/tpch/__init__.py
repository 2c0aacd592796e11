"""The 22 TPC-H queries (qNN.databricks.sql, qNN.duckdb.sql) and a Statement Execution client."""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

QUERIES = Path(__file__).parent
NUMERIC = {"BYTE", "SHORT", "INT", "LONG", "FLOAT", "DOUBLE", "DECIMAL"}
# Both sides run on DuckDB, but not the same SQL: doubles (averages, ratios) may be summed in
# another order. Decimal sums are exact on both sides.
RELATIVE_TOLERANCE = 1e-9


def query(number: int, dialect: str) -> str:
    return (QUERIES / f"q{number:02d}.{dialect}.sql").read_text()


def execute(api: httpx.Client, warehouse: str, statement: str) -> dict[str, Any]:
    """Run `statement` through POST /api/2.0/sql/statements; the finished answer, all chunks."""
    body = api.post(
        "/api/2.0/sql/statements",
        json={"statement": statement, "warehouse_id": warehouse, "wait_timeout": "30s"},
    ).json()
    deadline = time.monotonic() + 120
    while body["status"]["state"] in ("PENDING", "RUNNING"):
        assert time.monotonic() < deadline, body
        time.sleep(0.05)
        body = api.get(f"/api/2.0/sql/statements/{body['statement_id']}").json()
    assert body["status"]["state"] == "SUCCEEDED", body["status"]
    rows = list(body.get("result", {}).get("data_array") or [])
    following = body.get("result", {}).get("next_chunk_index")
    while following is not None:
        chunk = api.get(
            f"/api/2.0/sql/statements/{body['statement_id']}/result/chunks/{following}"
        ).json()
        rows.extend(chunk.get("data_array") or [])
        following = chunk.get("next_chunk_index")
    body["rows"] = rows
    return body


def same(api_value: str | None, duck_value: Any, type_name: str) -> bool:
    """An API value (a string) equals DuckDB's, numbers within RELATIVE_TOLERANCE."""
    if api_value is None or duck_value is None:
        return api_value is None and duck_value is None
    if type_name in NUMERIC:
        a, b = float(api_value), float(duck_value)
        return abs(a - b) <= RELATIVE_TOLERANCE * max(1.0, abs(a), abs(b))
    if isinstance(duck_value, Decimal | float | int):
        return False  # a number where Databricks' answer has text
    return api_value == str(duck_value)
