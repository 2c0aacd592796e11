"""lakegate's export next to the Databricks SQL connector's CloudFetch, on one local workspace.

    python benchmarks/sql_clients.py [--quick]

Export of a 3,000,000-row x 3-column result to Parquet, each client in its own process
(interpreter start and imports included, as a user runs them):
  - lakegate: `lakegate databricks query SQL --out x.parquet` (Statement Execution API,
    EXTERNAL_LINKS + ARROW_STREAM, parallel chunk downloads, streamed into Parquet);
  - baseline: databricks-sql-connector's default Thrift backend, `cursor.fetchall_arrow()` with
    CloudFetch (presigned result links downloaded by its thread pool), then
    `pyarrow.parquet.write_table` -- the fastest route the connector offers.
Both talk HTTPS to the same `lakegate workspace serve --tls` (its own process), with OAuth M2M.
Rounds alternate between the two; the table shows the median and the min-max spread, and each
client's peak RSS (from `wait4`, per child). Goal: lakegate no slower (ratio <= 1.0x).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import row, served_workspace, spread

HERE = Path(__file__).resolve()
EXPORT_SQL = "SELECT id, id * 2 AS twice, concat('row-', id) AS label FROM range({rows}) AS r(id)"


def tls_env(creds: dict[str, Any], pycache: Path) -> dict[str, str]:
    """Trust the workspace's CA (OpenSSL for aiohttp/httpx, requests for the SDK's OAuth), and
    cache bytecode as an installed package would (the untimed warm-up round fills the cache)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    ca = creds["ca_file"]
    return {
        **env,
        "SSL_CERT_FILE": ca,
        "REQUESTS_CA_BUNDLE": ca,
        "PYTHONPYCACHEPREFIX": str(pycache),
    }


_CONNECT = """
import asyncio, sys
from pathlib import Path
from lakegate.databricks.connect import connect
from lakegate.project import Project

project = Project.new(Path(sys.argv[1]) / "lakegate.yaml")
report = asyncio.run(connect(
    project, host=sys.argv[2], client_id=sys.argv[3], client_secret="${env:BENCH_SECRET}"
))
assert report.saved and report.warehouse_id, report
print(report.warehouse_id)
"""


def make_project(folder: Path, creds: dict[str, Any]) -> tuple[dict[str, str], str]:
    """A lakegate project with a `databricks` connector (what `databricks connect` saves), made
    in a child process so that its TLS trust settings apply from the first import."""
    env = {**tls_env(creds, folder.parent / "pycache"), "BENCH_SECRET": creds["client_secret"]}
    done = subprocess.run(
        [sys.executable, "-c", _CONNECT, str(folder), creds["host"], creds["client_id"]],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if done.returncode != 0:
        raise RuntimeError(f"connect failed: {done.stderr[-2000:]}")
    return env, done.stdout.split()[-1]


def timed(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one child process."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{argv[:4]} failed: {proc.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
    proc.stderr.close()  # type: ignore[union-attr]
    return seconds, usage.ru_maxrss / 1024


def child_connector(creds_file: str, sql: str, out: str) -> None:
    """The baseline: what a connector user writes to export a big result."""
    import pyarrow.parquet as pq
    from databricks import sql as dbsql
    from databricks.sdk.core import Config, oauth_service_principal

    creds = json.loads(Path(creds_file).read_text())
    config = Config(
        host=creds["host"], client_id=creds["client_id"], client_secret=creds["client_secret"]
    )
    host, port = creds["host"].removeprefix("https://").rsplit(":", 1)
    with (
        dbsql.connect(
            server_hostname=host,
            port=int(port),
            http_path=f"/sql/1.0/warehouses/{creds['warehouse_id']}",
            credentials_provider=lambda: oauth_service_principal(config),
            _tls_trusted_ca_file=creds["ca_file"],
            enable_telemetry=False,  # its feature-flag lookup would ignore the port
        ) as connection,
        connection.cursor() as cursor,
    ):
        cursor.execute(sql)
        table = cursor.fetchall_arrow()
    pq.write_table(table, out)


def parquet_rows(path: Path) -> int:
    import pyarrow.parquet as pq

    return pq.ParquetFile(path).metadata.num_rows


def run(quick: bool) -> list[dict[str, Any]]:
    rows = 300_000 if quick else 3_000_000
    rounds = 2 if quick else 5
    sql = EXPORT_SQL.format(rows=rows)
    with (
        tempfile.TemporaryDirectory(prefix="lakegate-bench-clients-") as tmp,
        served_workspace(tls=True) as served,
    ):
        folder = Path(tmp)
        creds = {k: v for k, v in served.items() if k != "requests_log"}  # JSON for the child
        project = folder / "project"
        project.mkdir()
        env, creds["warehouse_id"] = make_project(project, creds)
        creds_file = folder / "connector.json"  # holds the secret: owner-only from the start
        with os.fdopen(os.open(creds_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as f:
            json.dump(creds, f)
        ours_cmd = [sys.executable, "-m", "lakegate", "databricks", "query", sql, "--out"]
        theirs_cmd = [sys.executable, str(HERE), "--child", str(creds_file), sql]
        ours: list[tuple[float, float]] = []
        theirs: list[tuple[float, float]] = []
        for n in range(-1, rounds):  # round -1 warms caches and is not counted
            runs = [(ours, ours_cmd, "lakegate"), (theirs, theirs_cmd, "connector")]
            for found, cmd, name in runs if n % 2 == 0 else runs[::-1]:
                out = folder / f"{name}-{n}.parquet"
                measured = timed([*cmd, str(out)], project, env)
                assert parquet_rows(out) == rows, (name, parquet_rows(out))
                out.unlink()
                if n >= 0:
                    found.append(measured)
    ours_s, theirs_s = [s for s, _ in ours], [s for s, _ in theirs]
    ours_mb = max(m for _, m in ours)
    theirs_mb = max(m for _, m in theirs)
    name = "sql_clients"
    return [
        row(
            name,
            f"export {rows:,} rows x 3 cols to Parquet (process wall time)",
            statistics.median(ours_s),
            "s",
            "databricks-sql-connector Thrift fetchall_arrow + CloudFetch -> Parquet",
            statistics.median(theirs_s),
            goal="<= 1.0x",
            at_most=1.0,
            spread=f"{spread(ours_s)} vs {spread(theirs_s)}",
        ),
        row(
            name,
            "export peak RSS (per process)",
            ours_mb,
            "MB",
            "databricks-sql-connector export peak RSS",
            theirs_mb,
        ),
    ]


def main(argv: list[str]) -> None:
    if argv[:1] == ["--child"]:
        child_connector(*argv[1:])
        return
    for line in run("--quick" in argv):
        print(
            f"{line['figure']}: {line['value']:.2f} {line['unit']} vs "
            f"{line['baseline_value']:.2f} ({line['baseline']}) -> {line['ratio']:.2f}x "
            f"[{line['spread']}] goal {line['goal'] or '-'}"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
