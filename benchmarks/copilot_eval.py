"""A copilot evaluation: analyst questions through the official MCP client, checked against the
warehouse's own answers.

    python benchmarks/copilot_eval.py [--quick] [--markdown]

A local workspace runs in its own process; `lakegate databricks connect` sets up the read-only
pack on it; `lakegate serve` (stdio) answers the official MCP client. Each question is a fixed
script of tool calls, the way a model would make them (a running statement is polled with
get_statement, a cut answer continued with fetch_rows and its `next`). Every answer is checked
against the same SQL run by the databricks-sdk (or the SDK's own listing), and an error against
the code a model needs to act on.

Per question: correct or not, tool calls, and tokens (`count_tokens` of benchmarks/sql.py, the same
approximation of a GPT tokenizer) of the answers the model read, next to the same answers with
their rows written as compact JSON objects (`[{"col": value}, ...]`, column names per row) and as
Databricks' JSON_ARRAY (`[["value", ...]]`, every value a string). Also: the tool list's bytes.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from databricks.sdk import WorkspaceClient
from databricks.sdk.service.sql import Disposition, Format, StatementState
from mcp import ClientSession, StdioServerParameters, stdio_client

from _common import served_workspace
from lakegate.databricks.connect import connect
from lakegate.project import CopilotPolicy, Project
from lakegate.secrets import SecretStore
from sql import count_tokens

CAPS = {"max_rows": 5000, "max_bytes": 256 * 1024, "deadline_s": 30}
TRIPS = "samples.nyctaxi.trips"
SLOW = (  # ~100 million pairs: seconds, longer than its deadline_s of 1
    f"SELECT count(*) AS n FROM {TRIPS} a JOIN {TRIPS} b ON a.pickup_zip = b.pickup_zip "
    "WHERE a.fare_amount + b.fare_amount > 60"
)
BIG = (
    "SELECT t.pickup_zip, t.dropoff_zip, t.fare_amount, r.k FROM samples.nyctaxi.trips AS t "
    "CROSS JOIN range(2) AS r(k) ORDER BY r.k, t.pickup_zip, t.dropoff_zip, t.fare_amount"
)
SQL_QUESTIONS: list[tuple[str, str]] = [
    ("Top 10 pickup zips by trips", f"SELECT pickup_zip, count(*) AS trips FROM {TRIPS} "
     "GROUP BY pickup_zip ORDER BY trips DESC, pickup_zip LIMIT 10"),
    ("Average fare and distance", f"SELECT round(avg(fare_amount), 2) AS fare, "
     f"round(avg(trip_distance), 2) AS miles FROM {TRIPS}"),
    ("Trips per day, January 2016", "SELECT CAST(tpep_pickup_datetime AS DATE) AS day, "
     f"count(*) AS trips FROM {TRIPS} WHERE tpep_pickup_datetime < '2016-02-01' "
     "GROUP BY 1 ORDER BY 1"),
    ("The 5 longest trips", "SELECT tpep_pickup_datetime, trip_distance, fare_amount "
     f"FROM {TRIPS} ORDER BY trip_distance DESC, tpep_pickup_datetime LIMIT 5"),
    ("Trips with a fare over 50", f"SELECT count(*) AS n FROM {TRIPS} WHERE fare_amount > 50"),
    ("Average fare by pickup hour", "SELECT hour(tpep_pickup_datetime) AS hour, "
     f"round(avg(fare_amount), 2) AS fare FROM {TRIPS} GROUP BY 1 ORDER BY 1"),
    ("Orders by priority", "SELECT o_orderpriority, count(*) AS orders FROM samples.tpch.orders "
     "GROUP BY 1 ORDER BY 1"),
    ("Revenue by ship mode", "SELECT l_shipmode, round(sum(l_extendedprice * (1 - l_discount)), 2)"
     " AS revenue FROM samples.tpch.lineitem GROUP BY 1 ORDER BY 1"),
    ("Top 10 customers by order value", "SELECT c.c_name, round(sum(o.o_totalprice), 2) AS total "
     "FROM samples.tpch.customer c JOIN samples.tpch.orders o ON o.o_custkey = c.c_custkey "
     "GROUP BY c.c_name ORDER BY total DESC, c.c_name LIMIT 10"),
    ("TPC-H Q1 pricing summary", "SELECT l_returnflag, l_linestatus, sum(l_quantity) AS qty, "
     "round(sum(l_extendedprice), 2) AS base, round(avg(l_discount), 4) AS disc, count(*) AS n "
     "FROM samples.tpch.lineitem WHERE l_shipdate <= date '1998-09-02' "
     "GROUP BY 1, 2 ORDER BY 1, 2"),
    ("Customers per nation", "SELECT n.n_name, count(*) AS customers FROM samples.tpch.customer c "
     "JOIN samples.tpch.nation n ON c.c_nationkey = n.n_nationkey GROUP BY 1 ORDER BY 1"),
    ("Orders per month in 1995", "SELECT month(o_orderdate) AS month, count(*) AS orders FROM "
     "samples.tpch.orders WHERE year(o_orderdate) = 1995 GROUP BY 1 ORDER BY 1"),
    ("Parts per brand", "SELECT p_brand, count(*) AS parts FROM samples.tpch.part GROUP BY 1 "
     "ORDER BY 1"),
    ("Suppliers per region", "SELECT r.r_name, count(*) AS suppliers FROM samples.tpch.supplier s "
     "JOIN samples.tpch.nation n ON s.s_nationkey = n.n_nationkey JOIN samples.tpch.region r "
     "ON n.n_regionkey = r.r_regionkey GROUP BY 1 ORDER BY 1"),
    ("The first 200 of 100,000 rows", BIG),
]  # fmt: skip
ERROR_QUESTIONS: list[tuple[str, str, dict[str, Any], str]] = [
    ("Refused: drop a table", "execute_sql", {"statement": f"DROP TABLE {TRIPS}"},
     "policy.read_only"),
    ("Refused: read a host file", "execute_sql",
     {"statement": "SELECT * FROM read_text('/etc/hostname')"}, "policy.read_only"),
    ("Syntax error", "execute_sql", {"statement": f"SELECT pickup_zip\nFROM {TRIPS}\nWHERE\n"
     "ORDER BY 1"}, "sql.parse_error"),
    ("Missing table", "execute_sql", {"statement": "SELECT * FROM samples.tpch.nope"},
     "sql.not_found"),
    ("Missing column", "execute_sql", {"statement": f"SELECT nope FROM {TRIPS}"},
     "sql.not_found"),
    ("Describe a missing table", "describe_table", {"full_name": "samples.tpch.nope"},
     "remote.http_error"),
]  # fmt: skip


@dataclass
class Outcome:
    question: str
    correct: bool = False
    calls: int = 0
    tokens: int = 0
    objects: int = 0  # the same answers with rows as JSON objects
    arrays: int = 0  # ... and as Databricks' JSON_ARRAY
    note: str = ""
    answers: list[dict[str, Any]] = field(default_factory=list)


# -- the warehouse's own answers -----------------------------------------------------------


def truth(sdk: WorkspaceClient, warehouse: str, sql: str) -> tuple[list[str], list[list[Any]]]:
    """Column types and every row of `sql`, as the warehouse itself answers (JSON_ARRAY)."""
    api = sdk.statement_execution
    answer = api.execute_statement(
        statement=sql, warehouse_id=warehouse, wait_timeout="30s",
        disposition=Disposition.INLINE, format=Format.JSON_ARRAY,
    )  # fmt: skip
    while answer.status.state in (StatementState.PENDING, StatementState.RUNNING):
        answer = api.get_statement(answer.statement_id)
    assert answer.status.state == StatementState.SUCCEEDED, answer.status
    types = [c.type_text or "" for c in answer.manifest.schema.columns]
    rows, chunk = [], answer.result
    while chunk is not None:
        rows += chunk.data_array or []
        if chunk.next_chunk_index is None:
            break
        chunk = api.get_statement_result_chunk_n(answer.statement_id, chunk.next_chunk_index)
    return types, rows


def _norm(value: Any, kind: str) -> Any:
    if value is None or value == "NULL":
        return None
    kind = kind.split("(")[0].upper()
    if kind in ("DOUBLE", "FLOAT", "DECIMAL"):
        return round(float(value), 6)
    if kind in ("INT", "BIGINT", "SMALLINT", "TINYINT"):
        return int(value)
    if kind == "BOOLEAN":
        return str(value).lower()
    return str(value)


def rows_of(answer: dict[str, Any]) -> list[list[Any]]:
    rows = answer["rows"]
    if isinstance(rows, list):
        return rows
    unescape = {"\\t": "\t", "\\n": "\n", "\\r": "\r", "\\\\": "\\"}
    out = []
    for line in rows.split("\n") if rows else []:
        cells = line.split("\t")
        for old, new in unescape.items():
            cells = [c.replace(old, new) for c in cells]
        out.append(cells)
    return out


def same(types: list[str], mine: list[list[Any]], theirs: list[list[Any]]) -> bool:
    if len(mine) != len(theirs):
        return False
    return all(
        [_norm(v, t) for v, t in zip(a, types, strict=True)]
        == [_norm(v, t) for v, t in zip(b, types, strict=True)]
        for a, b in zip(mine, theirs, strict=True)
    )


# -- token counts ----------------------------------------------------------------------------


def _dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def as_objects(answer: dict[str, Any]) -> str:
    names = [c["name"] for c in answer["columns"]]
    types = [c["type"] for c in answer["columns"]]
    rows = [
        {n: _typed(v, t) for n, v, t in zip(names, row, types, strict=True)}
        for row in rows_of(answer)
    ]
    return _dumps({**answer, "rows": rows})


def as_json_array(answer: dict[str, Any]) -> str:
    rows = [[None if v in (None, "NULL") else str(v) for v in row] for row in rows_of(answer)]
    return _dumps({**answer, "rows": rows})


def _typed(value: Any, kind: str) -> Any:
    if not isinstance(value, str) or value == "NULL":
        return None if value == "NULL" else value
    normal = _norm(value, kind)
    return normal if isinstance(normal, int | float) and not isinstance(normal, bool) else value


# -- the questions ---------------------------------------------------------------------------


async def call(client: ClientSession, out: Outcome, tool: str, args: dict[str, Any]) -> Any:
    result = await client.call_tool(tool, args)
    out.calls += 1
    text = "\n".join(c.text for c in result.content if hasattr(c, "text"))
    out.tokens += count_tokens(text)
    data = result.structured_content
    if not result.is_error and isinstance(data, dict) and "rows" in data:
        out.answers.append(data)
        out.objects += count_tokens(as_objects(data))
        out.arrays += count_tokens(as_json_array(data))
    else:  # a handle or an error reads the same whatever the row format
        out.objects += count_tokens(text)
        out.arrays += count_tokens(text)
    return result


async def sql_answer(client: ClientSession, out: Outcome, args: dict[str, Any]) -> dict[str, Any]:
    """execute_sql, then get_statement while it runs: the first page of the result."""
    result = await call(client, out, "execute_sql", args)
    while not result.is_error and "rows" not in result.structured_content:
        sid = result.structured_content["statement_id"]
        result = await call(client, out, "get_statement", {"statement_id": sid})
    assert not result.is_error, result.content
    return result.structured_content


async def ask(client: ClientSession, sdk: WorkspaceClient, warehouse: str) -> list[Outcome]:
    outcomes = []

    async def listing(question: str, tool: str, args: dict[str, Any], expect: set[str]) -> None:
        out = Outcome(question)
        result = await call(client, out, tool, args)
        items = result.structured_content.get("result") or []
        key = {"list_warehouses": "id", "list_tables": "full_name"}.get(tool, "name")
        out.correct = not result.is_error and {i.get(key) for i in items} == expect
        outcomes.append(out)

    warehouses = {w.id for w in sdk.warehouses.list()}
    await listing("Which SQL warehouses can I use?", "list_warehouses", {}, warehouses)
    first = await client.call_tool("list_warehouses", {})
    outcomes[-1].correct &= first.structured_content["result"][0].get("default") is True
    await listing("Which catalogs are there?", "list_catalogs", {},
                  {c.name for c in sdk.catalogs.list()})  # fmt: skip
    await listing("Which schemas are in samples?", "list_schemas", {"catalog": "samples"},
                  {s.name for s in sdk.schemas.list("samples")})  # fmt: skip
    await listing("Which tables are in samples.tpch?", "list_tables",
                  {"catalog": "samples", "schema": "tpch"},
                  {t.full_name for t in sdk.tables.list("samples", "tpch")})  # fmt: skip
    out = Outcome("Columns of samples.tpch.lineitem")
    described = await call(client, out, "describe_table", {"full_name": "samples.tpch.lineitem"})
    want = [c.name for c in sdk.tables.get("samples.tpch.lineitem").columns]
    out.correct = [c["name"] for c in described.structured_content["columns"]] == want
    outcomes.append(out)

    for question, sql in SQL_QUESTIONS:
        out = Outcome(question)
        answer = await sql_answer(client, out, {"statement": sql, "max_rows": 200})
        types, rows = truth(sdk, warehouse, sql)
        out.correct = answer["total_row_count"] == len(rows) and same(
            types, rows_of(answer), rows[: answer["row_count"]]
        )
        outcomes.append(out)

    out = Outcome("A long query (handle, then get_statement)")
    answer = await sql_answer(client, out, {"statement": SLOW, "deadline_s": 1})
    types, rows = truth(sdk, warehouse, SLOW)
    out.correct = same(types, rows_of(answer), rows)
    outcomes.append(out)

    out = Outcome("All 100,000 rows, paged with fetch_rows")
    answer = await sql_answer(client, out, {"statement": BIG})
    pages = rows_of(answer)
    while "next" in answer:
        answer = (await call(client, out, "fetch_rows", answer["next"])).structured_content
        pages += rows_of(answer)
    types, rows = truth(sdk, warehouse, BIG)
    out.correct = len(rows) >= 100_000 and same(types, pages, rows)
    outcomes.append(out)

    for question, tool, args, code in ERROR_QUESTIONS:
        out = Outcome(question)
        result = await call(client, out, tool, args)
        error = (result.structured_content or {}).get("error") or {}
        out.correct = result.is_error and error.get("code") == code and bool(error.get("hint"))
        out.note = error.get("code", "")
        outcomes.append(out)
    return outcomes


# -- the run ---------------------------------------------------------------------------------


async def connected_project(info: dict[str, Any]) -> Project:
    folder = Path(tempfile.mkdtemp(prefix="lg-eval-"))
    project = Project.new(folder / "lakegate.yaml")
    SecretStore(project.state_dir).set("db_secret", info["client_secret"])
    await connect(
        project,
        host=info["host"],
        client_id=info["client_id"],
        client_secret="${secret:db_secret}",
    )
    project.set_copilot(CopilotPolicy(caps=CAPS))
    project.save()
    return project


async def evaluate(info: dict[str, Any], errlog: Any) -> tuple[list[Outcome], int]:
    project = await connected_project(info)
    warehouse = project.connectors["databricks"].defaults["warehouse_id"]
    sdk = WorkspaceClient(
        host=info["host"], client_id=info["client_id"], client_secret=info["client_secret"],
        auth_type="oauth-m2m",
    )  # fmt: skip
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "lakegate", "--project", str(project.path), "serve"]
    )
    async with (
        stdio_client(params, errlog=errlog) as (read, write),
        ClientSession(read, write) as client,
    ):
        await client.initialize()
        listed = await client.list_tools()
        wire = listed.model_dump(by_alias=True, exclude_none=True, mode="json")
        tool_bytes = len(_dumps(wire).encode())
        return await ask(client, sdk, warehouse), tool_bytes


def table(outcomes: list[Outcome], markdown: bool) -> str:
    head = ["#", "question", "correct", "calls", "tokens", "JSON objects", "JSON_ARRAY", "ratio"]
    lines = []
    for n, o in enumerate(outcomes, 1):
        shown = bool(o.answers)  # row formats only matter where rows came back
        ratio = f"{o.tokens / o.objects:.2f}" if shown else ""
        lines.append([str(n), o.question + (f" ({o.note})" if o.note else ""),
                      "yes" if o.correct else "NO", str(o.calls), f"{o.tokens:,}",
                      f"{o.objects:,}" if shown else "", f"{o.arrays:,}" if shown else "",
                      ratio])  # fmt: skip
    if markdown:
        rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        return "\n".join(rows + ["| " + " | ".join(r) + " |" for r in lines])
    widths = [max(len(h), *(len(r[i]) for r in lines)) for i, h in enumerate(head)]
    out = ["  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True))]
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in lines]
    return "\n".join(out)


def run(quick: bool = False) -> list[dict[str, Any]]:
    """Rows for benchmarks/run.py: questions answered correctly, the token ratios, tool bytes."""
    with served_workspace() as info, open(os.devnull, "w") as errlog:
        outcomes, tool_bytes = asyncio.run(evaluate(info, errlog))
    print(table(outcomes, markdown="--markdown" in sys.argv))
    compared = [o for o in outcomes if o.answers]
    worst = max(o.tokens / o.objects for o in compared)
    big = [o.tokens / o.objects for o in compared if sum(a["row_count"] for a in o.answers) >= 100]
    correct = sum(o.correct for o in outcomes)
    rows = [
        ("questions answered correctly", correct, "of", len(outcomes), f"== {len(outcomes)}"),
        ("largest answer vs JSON objects", round(worst, 2), "x", 1, "<= 1.0"),
        ("100+ rows: largest vs JSON objects", round(max(big), 2), "x", 1, "<= 0.5"),
        ("tool list", tool_bytes, "bytes", 14602, "<= 0.7x the 14,602 before"),
    ]
    return [
        {"benchmark": "copilot_eval", "figure": f, "value": v, "unit": u,
         "baseline_value": b, "goal": g}
        for f, v, u, b, g in rows
    ]  # fmt: skip


if __name__ == "__main__":
    for row in run("--quick" in sys.argv):
        print(f"{row['figure']}: {row['value']} {row['unit']} (goal {row['goal']})")
    sys.exit(0)
