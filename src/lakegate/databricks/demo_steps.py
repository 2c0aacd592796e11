"""The pack's part of `lakegate demo`: connect the pack, answer a question in SQL, refuse a DROP."""

from __future__ import annotations

from types import ModuleType
from typing import Any

from rich.markup import escape
from rich.table import Table

from lakegate.errors import ReadOnlyError

__all__ = ["add_to", "answer_question", "answer_tpch_question", "connect_pack", "refuse_drop"]

QUESTION = "Which pickup zip codes have the most taxi trips, and what is their average fare?"
SQL = (
    "SELECT pickup_zip, count(*) AS trips, round(avg(fare_amount), 2) AS avg_fare "
    "FROM samples.nyctaxi.trips GROUP BY pickup_zip ORDER BY trips DESC LIMIT 5"
)

TPCH_QUESTION = "Which nations' customers brought the most revenue in 1995 (TPC-H)?"
TPCH_SQL = (
    "SELECT n_name AS nation, round(sum(l_extendedprice * (1 - l_discount)), 2) AS revenue "
    "FROM samples.tpch.lineitem JOIN samples.tpch.orders ON l_orderkey = o_orderkey "
    "JOIN samples.tpch.customer ON o_custkey = c_custkey "
    "JOIN samples.tpch.nation ON c_nationkey = n_nationkey "
    "WHERE year(o_orderdate) = 1995 GROUP BY n_name ORDER BY revenue DESC LIMIT 5"
)


async def connect_pack(run: Any) -> str:
    """Connect the Databricks pack."""
    from lakegate.databricks.connect import connect

    auth = run.project.connectors["databricks"].auth
    report = await connect(
        run.project,
        host=run.workspace.host,
        client_id=auth.client_id,
        client_secret=auth.client_secret,
        name="databricks",
    )
    if report.test is None or not report.test.ok:
        raise report.test.error if report.test and report.test.error else RuntimeError("Test")
    return (
        f"databricks connect: {len(report.actions)} pack actions, read-only connector, "
        f"token URL via {report.token_url_source}, default warehouse {report.warehouse_id}"
    )


async def answer_question(run: Any) -> str:
    """Answer a question with execute_sql."""
    result, data = await _answer(run, SQL, QUESTION)
    return (
        f"execute_sql on samples.nyctaxi.trips: {data['row_count']} of "
        f"{data['total_row_count']} rows, answered in {result.elapsed_ms:.0f} ms"
    )


async def answer_tpch_question(run: Any) -> str:
    """Answer a TPC-H question with execute_sql."""
    result, data = await _answer(run, TPCH_SQL, TPCH_QUESTION)
    return (
        f"execute_sql joining samples.tpch lineitem, orders, customer and nation: "
        f"{data['row_count']} nations, answered in {result.elapsed_ms:.0f} ms"
    )


async def _answer(run: Any, sql: str, question: str) -> tuple[Any, dict[str, Any]]:
    result = await run.gateway.call("execute_sql", {"statement": sql})
    if not result.ok:
        raise result.error
    data = result.data
    table = Table(*(c["name"] for c in data["columns"]), title=question, title_justify="left")
    rows = data["rows"]  # a few rows come as arrays, many as TSV lines
    for row in rows if isinstance(rows, list) else [r.split("\t") for r in rows.splitlines()]:
        table.add_row(*(escape(str(cell)) for cell in row))
    run.show(table)
    return result, data


async def refuse_drop(run: Any) -> str:
    """Refuse a DROP TABLE on the read-only connector."""
    result = await run.gateway.call(
        "execute_sql", {"statement": "DROP TABLE samples.nyctaxi.trips"}
    )
    if result.ok or not isinstance(result.error, ReadOnlyError):
        raise RuntimeError("the read-only guard let DROP TABLE through")
    return f"DROP TABLE refused before reaching the workspace: {result.error.message}"


def add_to(demo: ModuleType) -> None:
    """Insert the pack's steps after the seed's Test (idempotent)."""
    steps = demo.STEPS
    if connect_pack in steps:
        return
    at = steps.index(demo.test_list_warehouses) + 1 if demo.test_list_warehouses in steps else None
    pack_steps = (connect_pack, answer_question, answer_tpch_question, refuse_drop)
    for offset, step in enumerate(pack_steps):
        if at is None:
            steps.append(step)
        else:
            steps.insert(at + offset, step)
