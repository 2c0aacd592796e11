"""Export a query's result to Parquet: lakegate against the databricks-sdk doing the same work.

    python benchmarks/export.py [--quick]

In one process, alternated round by round (the order rotates), against a local workspace in
its own process, `SELECT id, id * 2, concat('row-', id) FROM range(N)` to Parquet by:

  lakegate      export_query: EXTERNAL_LINKS + ARROW_STREAM, 4 chunk downloads in flight
  sdk arrow     databricks-sdk execute_statement(ARROW_STREAM, EXTERNAL_LINKS), chunks one at a
                time on one requests.Session, each Arrow stream written with pyarrow
  sdk json      the same with JSON_ARRAY (the SDK's documented route), a second baseline
  duckdb COPY   DuckDB's own `COPY (query) TO 'x.parquet'` in this process: the floor

Then the same with 50 ms added to every external-link download (the workspace's fault
injection, as a cloud object store would add). Then memory at scale: lakegate alone in a child
process at two sizes, its peak RSS and rows/s (time should be linear in rows).
"""

from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _common import row, served_workspace, spread

HERE = Path(__file__).resolve()
SQL = "SELECT id, id * 2 AS twice, concat('row-', id) AS label FROM range({rows}) AS r(id)"
LINK_DELAY = {"seed": 1, "rules": [
    {"path": "/storage/statements/*", "fault": "delay", "delay_ms": 50, "rate": 1.0},
]}  # fmt: skip


def make_project(folder: Path, info: dict[str, Any]) -> tuple[Path, str]:
    """A project made by `databricks connect` (secret in the store) and its default warehouse."""
    from lakegate.databricks.connect import connect
    from lakegate.project import Project
    from lakegate.secrets import SecretStore

    project = Project.new(folder / "lakegate.yaml")
    SecretStore(project.state_dir).set("bench_secret", info["client_secret"])
    report = asyncio.run(
        connect(project, host=info["host"], client_id=info["client_id"],
                client_secret="${secret:bench_secret}")
    )  # fmt: skip
    assert report.warehouse_id, "no warehouse"
    return project.path, report.warehouse_id


class Sdk:
    """The databricks-sdk route, as a careful user writes it: one client, one requests.Session."""

    def __init__(self, info: dict[str, Any], warehouse_id: str) -> None:
        import requests
        from databricks.sdk import WorkspaceClient

        self.api = WorkspaceClient(
            host=info["host"], client_id=info["client_id"], client_secret=info["client_secret"],
            auth_type="oauth-m2m",
        ).statement_execution  # fmt: skip
        self.session = requests.Session()
        self.warehouse_id = warehouse_id

    def export(self, sql: str, out: Path, arrow: bool) -> int:
        import pyarrow as pa
        import pyarrow.parquet as pq
        from databricks.sdk.service.sql import Disposition, Format, StatementState

        response = self.api.execute_statement(
            statement=sql, warehouse_id=self.warehouse_id, wait_timeout="50s",
            disposition=Disposition.EXTERNAL_LINKS,
            format=Format.ARROW_STREAM if arrow else Format.JSON_ARRAY,
        )  # fmt: skip
        while response.status.state in (StatementState.PENDING, StatementState.RUNNING):
            time.sleep(0.05)
            response = self.api.get_statement(response.statement_id)
        manifest = response.manifest
        schema = _schema(manifest)
        rows = 0
        with pq.ParquetWriter(out, schema) as writer:
            for n in range(manifest.total_chunk_count or 0):
                first = response.result if n == 0 and response.result else None
                links = (first and first.external_links) or (
                    self.api.get_statement_result_chunk_n(response.statement_id, n).external_links
                )
                for link in links or []:
                    got = self.session.get(link.external_link, timeout=120)
                    got.raise_for_status()
                    if arrow:
                        table = pa.ipc.open_stream(got.content).read_all()
                    else:
                        data = got.json()
                        table = pa.Table.from_arrays(
                            [pa.array(list(v), pa.string()).cast(f.type)
                             for v, f in zip(zip(*data, strict=True), schema, strict=True)],
                            schema=schema,
                        )  # fmt: skip
                    writer.write_table(table.cast(schema))
                    rows += table.num_rows
        return rows


def _schema(manifest: Any) -> Any:
    import pyarrow as pa

    kinds = {"LONG": pa.int64(), "INT": pa.int32(), "DOUBLE": pa.float64()}
    return pa.schema(
        [(c.name, kinds.get(str(c.type_name.value if c.type_name else ""), pa.string()))
         for c in manifest.schema.columns]
    )  # fmt: skip


def duckdb_copy(sql: str, out: Path) -> int:
    import duckdb

    with duckdb.connect() as con:
        con.execute(f"COPY ({sql}) TO '{out}' (FORMAT parquet)")
        return int(con.execute(f"SELECT count(*) FROM '{out}'").fetchone()[0])


def lakegate_export(project: Path, sql: str, out: Path) -> int:
    """One export with a gateway of its own (token, connections): what a CLI run does."""
    from lakegate.databricks.export import export_query
    from lakegate.gateway import Gateway

    async def go() -> int:
        async with Gateway.from_file(project) as gw:
            return (await export_query(gw, "databricks", sql, str(out))).rows

    return asyncio.run(go())


class Lakegate:
    """One gateway kept across rounds on its own loop, as the SDK side keeps one client."""

    def __init__(self, project: Path) -> None:
        from lakegate.gateway import Gateway

        self.loop = asyncio.new_event_loop()
        self.gateway = Gateway.from_file(project)

    def export(self, sql: str, out: Path) -> int:
        from lakegate.databricks.export import export_query

        found = export_query(self.gateway, "databricks", sql, str(out))
        return self.loop.run_until_complete(found).rows

    def close(self) -> None:
        self.loop.run_until_complete(self.gateway.aclose())
        self.loop.close()


def rounds_of(
    runners: dict[str, Callable[[Path], int]], rounds: int, folder: Path, rows: int
) -> dict[str, list[float]]:
    """Seconds per runner per round; the order rotates every round."""
    times: dict[str, list[float]] = {name: [] for name in runners}
    names = list(runners)
    for turn in range(rounds):
        for name in names[turn % len(names) :] + names[: turn % len(names)]:
            out = folder / f"{name.replace(' ', '_')}.parquet"
            started = time.perf_counter()
            got = runners[name](out)
            times[name].append(time.perf_counter() - started)
            assert got == rows, (name, got, rows)
            out.unlink()
    return times


def side_by_side(
    rows: int, rounds: int, faults: dict[str, Any] | None, floor: bool
) -> dict[str, list[float]]:
    sql = SQL.format(rows=rows)
    with served_workspace(faults=faults) as info, tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        project, warehouse_id = make_project(folder, info)
        sdk, ours = Sdk(info, warehouse_id), Lakegate(project)
        runners: dict[str, Callable[[Path], int]] = {
            "lakegate": lambda out: ours.export(sql, out),
            "sdk arrow": lambda out: sdk.export(sql, out, arrow=True),
            "sdk json": lambda out: sdk.export(sql, out, arrow=False),
        }
        if floor:
            runners["duckdb COPY"] = lambda out: duckdb_copy(sql, out)
        for warm in runners.values():  # tokens, connections, imports
            warm(folder / "warm.parquet")
        try:
            return rounds_of(runners, rounds, folder, rows)
        finally:
            ours.close()


def at_scale(rows: int) -> dict[str, Any]:
    """lakegate alone in a child process: seconds, peak RSS."""
    with served_workspace() as info, tempfile.TemporaryDirectory() as tmp:
        project, _ = make_project(Path(tmp), info)
        done = subprocess.run(
            [sys.executable, str(HERE), "--child", str(project), SQL.format(rows=rows),
             str(Path(tmp) / "scale.parquet")],
            capture_output=True, text=True, timeout=1800,
        )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"the export child failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def child(project: str, sql: str, out: str) -> None:
    from sql import PeakRss

    rss = PeakRss()
    started = time.perf_counter()
    rows = lakegate_export(Path(project), sql, Path(out))
    took = time.perf_counter() - started
    print(json.dumps({"rows": rows, "seconds": took, "peak_rss_mb": rss.stop()}))


def run(quick: bool) -> list[dict]:
    rows, rounds = (300_000, 2) if quick else (3_000_000, 5)
    med = statistics.median
    plain = side_by_side(rows, rounds, None, floor=True)
    slow = side_by_side(rows, max(1, rounds - 2), LINK_DELAY, floor=False)
    small, large = (300_000, 2_000_000) if quick else (3_000_000, 20_000_000)
    scale = {n: at_scale(n) for n in (small, large)}
    lg = med(plain["lakegate"])
    out = [
        row("export", f"{name}, {rows:,} rows to Parquet", med(t), "s", spread=spread(t))
        for name, t in plain.items()
    ]
    out += [
        row("export", "lakegate in-process vs SDK ARROW_STREAM", lg, "s", "sdk arrow",
            med(plain["sdk arrow"]), goal="<= 0.7x", at_most=0.7),
        row("export", "lakegate vs SDK JSON_ARRAY (second baseline)", lg, "s", "sdk json",
            med(plain["sdk json"])),
        row("export", "lakegate vs DuckDB's own COPY (the floor)", lg, "s", "duckdb COPY",
            med(plain["duckdb COPY"])),
    ]  # fmt: skip
    out += [
        row("export", f"{name}, 50 ms per link download", med(t), "s", spread=spread(t))
        for name, t in slow.items()
    ]
    slow_lg = med(slow["lakegate"])
    out += [
        row("export", "50 ms links: lakegate vs SDK JSON_ARRAY sequential", slow_lg, "s",
            "sdk json", med(slow["sdk json"]), goal="<= 0.33x (3x faster)", at_most=1 / 3),
        row("export", "50 ms links: lakegate vs SDK ARROW_STREAM sequential", slow_lg, "s",
            "sdk arrow", med(slow["sdk arrow"])),
    ]  # fmt: skip
    for n, found in scale.items():
        out.append(
            row("export", f"lakegate export {n:,} rows (child process): rows/s",
                n / found["seconds"], "rows/s", "peak RSS MB", found["peak_rss_mb"],
                goal="RSS <= 300 MB", met=found["peak_rss_mb"] <= 300, ratio=False)
        )  # fmt: skip
    rates = [n / scale[n]["seconds"] for n in (small, large)]
    out.append(
        row("export", f"rows/s at {large:,} / at {small:,} (linear: ~1)", rates[1] / rates[0],
            "ratio", goal=">= 0.8", met=rates[1] / rates[0] >= 0.8)
    )  # fmt: skip
    return out


if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parent))
    if sys.argv[1:2] == ["--child"]:
        child(*sys.argv[2:5])
    else:
        from run import table

        print(table(run(quick="--quick" in sys.argv), markdown="--markdown" in sys.argv))
