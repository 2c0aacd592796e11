"""The Databricks pack against the official databricks-sdk, side by side on one local workspace.

    python benchmarks/sql.py [--quick]

(Export is measured in benchmarks/export.py, with the SDK on its ARROW_STREAM route.)
(b) time to first answer of a 100-row query: lakegate `execute_sql` vs the SDK's
    `execute_statement` (INLINE, JSON_ARRAY), median of alternating runs. Goal: <= 1.1x.
(c) tokens of a 100-row x 8-column answer: lakegate's compact answer (the JSON a copilot gets)
    vs a JSON array of objects (goal <= 0.5x), and vs Databricks' own JSON_ARRAY answer (its
    schema and rows as arrays of strings). tiktoken cannot fetch its encodings here, so
    `count_tokens` approximates a GPT BPE: a run of letters costs ceil(n/4) tokens, a run of
    digits ceil(n/3) (cl100k splits numbers in groups of up to 3), every punctuation mark 1, a
    space 0 (BPE merges it into the next word), a newline or tab run 1, a JSON escape such as
    `\\t` or `\\n` 1. Every answer is counted as the JSON text a copilot receives.

The workspace runs in its own process (`lakegate workspace serve --port 0`).
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
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
            "lakegate_ms": [t * 1000 for t in ours],
            "sdk_ms": [t * 1000 for t in theirs],
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
    # Databricks' own JSON_ARRAY answer: the schema's names and types, rows as arrays of strings.
    columns = [{"name": n, "type_name": t} for n, t in zip(names, types, strict=True)]
    found["json_array"] = json.dumps(
        {"manifest": {"schema": {"columns": columns}},
         "result": {"data_array": response.result.data_array}}, ensure_ascii=False,
    )  # fmt: skip
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
    from _common import row, served_workspace, spread

    runs = 5 if quick else 30
    with (
        tempfile.TemporaryDirectory(prefix="lakegate-bench-sql-") as tmp,
        served_workspace() as creds,
    ):
        folder = Path(tmp)
        (folder / "project").mkdir()
        project, warehouse_id = make_project(folder / "project", creds)
        latency = first_answer_and_tokens(project, creds, warehouse_id, runs)
    ours_tokens = count_tokens(latency["compact"])
    objects_tokens = count_tokens(latency["objects"])
    array_tokens = count_tokens(latency["json_array"])
    ours_ms, sdk_ms = latency["lakegate_ms"], latency["sdk_ms"]
    med = statistics.median
    return [
        row("sql", f"time to first answer, 100 rows (median of {runs})", med(ours_ms), "ms",
            "databricks-sdk execute_statement INLINE", med(sdk_ms), goal="<= 1.1x",
            at_most=1.1, spread=spread(ours_ms)),
        row("sql", "tokens, 100 x 8 answer (lakegate compact)", ours_tokens, "tokens",
            "JSON array of objects", objects_tokens, goal="<= 0.5x", at_most=0.5),
        row("sql", "tokens, 100 x 8 answer (lakegate compact)", ours_tokens, "tokens",
            "Databricks JSON_ARRAY (array of arrays)", array_tokens),
    ]  # fmt: skip


if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parent))
    from run import table

    print(table(run(quick="--quick" in sys.argv), markdown="--markdown" in sys.argv))
