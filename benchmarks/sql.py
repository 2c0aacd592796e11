"""The Databricks pack against the official databricks-sdk, side by side on one local workspace.

    python benchmarks/sql.py [--quick]

(a) export of a 3,000,000-row x 3-column result to Parquet: lakegate (EXTERNAL_LINKS +
    ARROW_STREAM, parallel chunks) vs databricks-sdk `execute_statement` + sequential
    `get_statement_result_chunk_n` (EXTERNAL_LINKS + JSON_ARRAY, the only SDK route for a result
    over the 25 MiB INLINE limit), written with pyarrow. Each client runs in its own process so
    its peak RSS (sampled every 2 ms) is its own. Goals: >= 5x faster, peak RSS <= 300 MB.
(b) time to first answer of a 100-row query: lakegate `execute_sql` vs the SDK's
    `execute_statement` (INLINE, JSON_ARRAY), median of alternating runs. Goal: <= 1.1x.
(c) tokens of a 100-row x 8-column answer: lakegate's compact answer (the JSON a copilot gets)
    vs a JSON array of objects. tiktoken cannot fetch its encodings here, so `count_tokens`
    approximates a GPT BPE: a run of letters costs ceil(n/4) tokens, a run of digits ceil(n/3)
    (cl100k splits numbers in groups of up to 3), every punctuation mark 1, a space 0 (BPE merges
    it into the next word), a newline or tab run 1, a JSON escape such as `\\t` or `\\n` 1.
    Both answers are counted as the JSON text a copilot receives. Goal: <= 0.5x.

The workspace runs in its own process (`lakegate workspace serve --port 0`).
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve()
EXPORT_SQL = "SELECT id, id * 2 AS twice, concat('row-', id) AS label FROM range({rows}) AS r(id)"
FIRST_ANSWER_SQL = "SELECT * FROM samples.nyctaxi.trips LIMIT 100"
TOKENS_SQL = (
    "SELECT *, round(fare_amount / greatest(trip_distance, 0.1), 2) AS fare_per_mile, "
    "pickup_zip = dropoff_zip AS same_zip FROM samples.nyctaxi.trips LIMIT 100"
)
_TOKEN = re.compile(r'\\[nrtbf"\\/]|[A-Za-z]+|\d+|[\n\t]+| +|[^\sA-Za-z\d]')


def count_tokens(text: str) -> int:
    """A documented approximation of a GPT BPE tokenizer (see the module docstring)."""
    total = 0
    for piece in _TOKEN.findall(text):
        if piece[0] == "\\" and len(piece) == 2:
            total += 1  # a JSON escape such as \t or \n: one token in GPT vocabularies
        elif piece[0].isalpha():
            total += math.ceil(len(piece) / 4)
        elif piece[0].isdigit():
            total += math.ceil(len(piece) / 3)
        elif piece[0] != " ":  # a newline or tab run, or a punctuation mark
            total += 1
    return total


# --- the workspace and the clients' settings --------------------------------------------------


def start_workspace(state_dir: Path) -> tuple[subprocess.Popen[bytes], dict[str, str]]:
    server = subprocess.Popen(
        [sys.executable, "-m", "lakegate", "workspace", "serve", "--port", "0",
         "--state-dir", str(state_dir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    credentials = state_dir / "credentials.json"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if credentials.exists():
            try:
                found = json.loads(credentials.read_text())
                httpx.get(f"{found['host']}/.well-known/databricks-config", timeout=2)
                return server, found
            except (ValueError, OSError, KeyError, httpx.HTTPError):
                time.sleep(0.1)  # written but not listening yet
                continue
        time.sleep(0.1)
    server.kill()
    raise RuntimeError("the workspace did not start")


def make_project(folder: Path, creds: dict[str, str]) -> tuple[Path, str]:
    from lakegate.databricks.connect import connect
    from lakegate.project import Project
    from lakegate.secrets import SecretStore

    project = Project.new(folder / "lakegate.yaml")
    SecretStore(project.state_dir).set("bench_secret", creds["client_secret"])
    report = asyncio.run(
        connect(
            project,
            host=creds["host"],
            client_id=creds["client_id"],
            client_secret="${secret:bench_secret}",
        )
    )
    assert report.warehouse_id, "no warehouse"
    return project.path, report.warehouse_id


class PeakRss:
    """This process's peak RSS, sampled every 2 ms by a thread."""

    def __init__(self) -> None:
        import psutil

        self.process = psutil.Process()
        self.peak = self.process.memory_info().rss
        self._stop = threading.Event()
        threading.Thread(target=self._sample, daemon=True).start()

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(0.002)

    def stop(self) -> float:
        self._stop.set()
        return max(self.peak, self.process.memory_info().rss) / 1e6


# --- (a) export, one process per client -----------------------------------------------------


def child_lakegate(project: str, sql: str, out: str) -> dict[str, Any]:
    from lakegate.databricks.export import export_query
    from lakegate.gateway import Gateway

    rss = PeakRss()
    started = time.perf_counter()

    async def go() -> int:
        async with Gateway.from_file(project) as gw:
            return (await export_query(gw, "databricks", sql, out)).rows

    rows = asyncio.run(go())
    return {"seconds": time.perf_counter() - started, "rows": rows, "peak_rss_mb": rss.stop()}


def child_sdk(creds_file: str, warehouse_id: str, sql: str, out: str) -> dict[str, Any]:
    import pyarrow as pa
    import pyarrow.parquet as pq
    import requests
    from databricks.sdk import WorkspaceClient
    from databricks.sdk.service.sql import Disposition, Format, StatementState

    creds = json.loads(Path(creds_file).read_text())
    rss = PeakRss()
    started = time.perf_counter()
    w = WorkspaceClient(
        host=creds["host"],
        client_id=creds["client_id"],
        client_secret=creds["client_secret"],
        auth_type="oauth-m2m",
    )
    api = w.statement_execution
    response = api.execute_statement(
        statement=sql,
        warehouse_id=warehouse_id,
        disposition=Disposition.EXTERNAL_LINKS,
        format=Format.JSON_ARRAY,
        wait_timeout="50s",
    )
    while response.status.state in (StatementState.PENDING, StatementState.RUNNING):
        time.sleep(0.1)
        response = api.get_statement(response.statement_id)
    columns = response.manifest.schema.columns
    kinds = {"LONG": pa.int64(), "BIGINT": pa.int64(), "INT": pa.int32(), "DOUBLE": pa.float64()}
    schema = pa.schema(
        [(c.name, kinds.get(str(c.type_name.value if c.type_name else ""), pa.string()))
         for c in columns]
    )  # fmt: skip
    rows = 0
    with pq.ParquetWriter(out, schema) as writer:
        for n in range(response.manifest.total_chunk_count or 0):
            chunk = api.get_statement_result_chunk_n(response.statement_id, n)
            for link in chunk.external_links or []:
                data = requests.get(link.external_link, timeout=120).json()
                arrays = [
                    pa.array(list(values), pa.string()).cast(field.type)
                    for values, field in zip(zip(*data, strict=True), schema, strict=True)
                ]
                writer.write_table(pa.Table.from_arrays(arrays, schema=schema))
                rows += len(data)
    return {"seconds": time.perf_counter() - started, "rows": rows, "peak_rss_mb": rss.stop()}


def run_child(*args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, str(HERE), "--child", *args], capture_output=True, text=True, timeout=900
    )
    if done.returncode != 0:
        raise RuntimeError(f"child {args[0]} failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- (b) first answer and (c) tokens, in this process ---------------------------------------


def first_answer_and_tokens(
    project: Path, creds: dict[str, str], warehouse_id: str, runs: int
) -> dict[str, Any]:
    from databricks.sdk import WorkspaceClient

    from lakegate.gateway import Gateway

    w = WorkspaceClient(
        host=creds["host"],
        client_id=creds["client_id"],
        client_secret=creds["client_secret"],
        auth_type="oauth-m2m",
    )
    api = w.statement_execution

    def sdk_once() -> float:
        started = time.perf_counter()
        response = api.execute_statement(
            statement=FIRST_ANSWER_SQL, warehouse_id=warehouse_id, wait_timeout="10s"
        )
        assert len(response.result.data_array) == 100
        return time.perf_counter() - started

    async def go() -> dict[str, Any]:
        async with Gateway.from_file(project) as gw:

            async def lakegate_once() -> float:
                started = time.perf_counter()
                result = await gw.call(
                    "execute_sql", {"statement": FIRST_ANSWER_SQL, "max_rows": 100}
                )
                assert result.ok and result.data["row_count"] == 100, result.error
                return time.perf_counter() - started

            await lakegate_once()  # warm: token, connection, sqlglot
            sdk_once()
            ours, theirs = [], []
            for _ in range(runs):
                ours.append(await lakegate_once())
                theirs.append(sdk_once())
            compact = await gw.call("execute_sql", {"statement": TOKENS_SQL, "max_rows": 100})
        assert compact.ok and compact.data["row_count"] == 100, compact.error
        return {
            "lakegate_s": statistics.median(ours),
            "sdk_s": statistics.median(theirs),
            "compact": json.dumps(compact.data, ensure_ascii=False),
        }

    found = asyncio.run(go())
    response = api.execute_statement(statement=TOKENS_SQL, warehouse_id=warehouse_id)
    names = [c.name for c in response.manifest.schema.columns]
    types = [str(c.type_name.value) for c in response.manifest.schema.columns]
    objects = [
        {n: _typed(v, t) for n, v, t in zip(names, row, types, strict=True)}
        for row in response.result.data_array
    ]
    assert len(names) == 8 and len(objects) == 100
    found["objects"] = json.dumps(objects, ensure_ascii=False)
    return found


def _typed(value: str | None, kind: str) -> Any:
    """A JSON_ARRAY string as the value a JSON-objects answer would carry."""
    if value is None:
        return None
    if kind in ("INT", "LONG", "SHORT", "BYTE"):
        return int(value)
    if kind in ("DOUBLE", "FLOAT", "DECIMAL"):
        return float(value)
    if kind == "BOOLEAN":
        return value == "true"
    return value


# --- the run ----------------------------------------------------------------------------------


def run(quick: bool) -> list[dict[str, Any]]:
    rows = 300_000 if quick else 3_000_000
    runs = 5 if quick else 30
    with tempfile.TemporaryDirectory(prefix="lakegate-bench-sql-") as tmp:
        folder = Path(tmp)
        server, creds = start_workspace(folder / "workspace")
        try:
            (folder / "project").mkdir()
            project, warehouse_id = make_project(folder / "project", creds)
            sql = EXPORT_SQL.format(rows=rows)
            ours = run_child("lakegate", str(project), sql, str(folder / "lakegate.parquet"))
            theirs = run_child(
                "sdk", str(folder / "workspace" / "credentials.json"), warehouse_id, sql,
                str(folder / "sdk.parquet"),
            )  # fmt: skip
            assert ours["rows"] == theirs["rows"] == rows, (ours, theirs)
            latency = first_answer_and_tokens(project, creds, warehouse_id, runs)
        finally:
            server.terminate()
            server.wait(timeout=30)
    ours_tokens = count_tokens(latency["compact"])
    their_tokens = count_tokens(latency["objects"])
    name = "sql"
    return [
        {
            "benchmark": name,
            "figure": f"export {rows:,} rows x 3 cols to Parquet",
            "value": ours["seconds"],
            "unit": "s",
            "baseline": "databricks-sdk sequential chunks, JSON_ARRAY -> pyarrow",
            "baseline_value": theirs["seconds"],
            "ratio": theirs["seconds"] / ours["seconds"],
            "goal": ">= 5x faster",
        },
        {
            "benchmark": name,
            "figure": "export peak RSS",
            "value": ours["peak_rss_mb"],
            "unit": "MB",
            "baseline": "databricks-sdk export peak RSS",
            "baseline_value": theirs["peak_rss_mb"],
            "ratio": ours["peak_rss_mb"] / theirs["peak_rss_mb"],
            "goal": "<= 300 MB",
        },
        {
            "benchmark": name,
            "figure": "time to first answer, 100 rows (median)",
            "value": latency["lakegate_s"] * 1000,
            "unit": "ms",
            "baseline": "databricks-sdk execute_statement INLINE",
            "baseline_value": latency["sdk_s"] * 1000,
            "ratio": latency["lakegate_s"] / latency["sdk_s"],
            "goal": "<= 1.1x",
        },
        {
            "benchmark": name,
            "figure": "tokens, 100 x 8 answer (compact TSV)",
            "value": ours_tokens,
            "unit": "tokens",
            "baseline": "JSON array of objects",
            "baseline_value": their_tokens,
            "ratio": ours_tokens / their_tokens,
            "goal": "<= 0.5x",
        },
    ]


def main(argv: list[str]) -> None:
    if argv[:1] == ["--child"]:
        kind, *rest = argv[1:]
        report = child_lakegate(*rest) if kind == "lakegate" else child_sdk(*rest)
        print(json.dumps(report))
        return
    quick = "--quick" in argv
    for row in run(quick):
        ratio = f"{row['ratio']:.2f}x"
        print(
            f"{row['figure']}: {row['value']:.1f} {row['unit']} vs {row['baseline_value']:.1f} "
            f"({row['baseline']}) -> {ratio} (goal {row['goal']})"
        )


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main(sys.argv[1:])
