"""Export: EXTERNAL_LINKS + ARROW_STREAM to Parquet/CSV/Arrow, in order, with bounded memory."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from lakegate.cli.app import app
from lakegate.databricks.export import export_query
from lakegate.errors import RemoteError
from lakegate.gateway import Gateway
from lakegate.workspace import LocalWorkspace

from .conftest import Hook, ProjectOn, Recorder

ROWS = 2_000_000
WIDE = (
    "SELECT id, id * 2 AS twice, concat('row-', id, '-', repeat('x', 60)) AS label "
    f"FROM range({ROWS}) AS r(id)"
)
SMALL = "SELECT id, concat('n', id) AS name FROM range(1000) AS r(id)"


def expire_first_download_of(chunk: int) -> Hook:
    """A storage answer as S3 gives for an expired presigned URL, once for `chunk`."""
    state = {"done": False}

    async def hook(request: httpx.Request, _: int) -> httpx.Response | None:
        path = request.url.path
        if path.startswith("/storage/") and path.endswith(f"/chunks/{chunk}") and not state["done"]:
            state["done"] = True
            xml = "<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>"
            return httpx.Response(403, text=xml, headers={"content-type": "application/xml"})
        return None

    return hook


def test_two_million_rows_count_checksum_and_bounded_memory(
    workspace: LocalWorkspace, project_on: ProjectOn, tmp_path: Path
) -> None:
    import asyncio

    project = asyncio.run(project_on(workspace))
    out = tmp_path / "big.parquet"
    child = Path(__file__).with_name("export_child.py")
    done = subprocess.run(
        [sys.executable, str(child), str(project.path), WIDE, str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["rows"] == ROWS and report["chunks"] >= 4
    # Memory: the window (2 chunks) plus Arrow's pool, not the result streamed to disk.
    assert report["bytes"] > 150e6
    window = 2 * report["bytes"] / report["chunks"]
    assert report["traced_peak"] < window + 48e6, report
    assert report["traced_peak"] < 0.6 * report["bytes"], report
    assert report["rss_growth"] < 300e6, report
    # Count and checksum, read back one row group at a time.
    count = ids = twice = label_bytes = 0
    for batch in pq.ParquetFile(out).iter_batches(batch_size=262_144):
        count += batch.num_rows
        ids += pc.sum(batch["id"]).as_py()
        twice += pc.sum(batch["twice"]).as_py()
        label_bytes += pc.sum(pc.utf8_length(batch["label"])).as_py()
    assert count == ROWS
    assert ids == ROWS * (ROWS - 1) // 2 and twice == 2 * ids
    digits = sum(len(str(i)) for i in range(ROWS))
    assert label_bytes == ROWS * (len("row-") + len("-") + 60) + digits
    first = pq.ParquetFile(out).read_row_group(0).slice(0, 3).to_pydict()
    assert first["id"] == [0, 1, 2]  # chunk order kept


async def test_expired_link_is_requested_again_and_links_carry_no_credentials(
    workspace: LocalWorkspace, project_on: ProjectOn, tmp_path: Path
) -> None:
    recorder = Recorder(expire_first_download_of(1))
    sql = "SELECT id, concat('row-', id) AS label FROM range(1200000) AS r(id)"
    out = tmp_path / "t.arrow"
    async with Gateway(await project_on(workspace), transport=recorder) as gw:
        result = await export_query(gw, "databricks", sql, out)
    assert result.rows == 1_200_000 and result.chunks >= 2
    assert result.links_refreshed == 1
    chunk_link_requests = [
        s for s in recorder.seen if s.url.path.endswith("/result/chunks/1") and s.method == "GET"
    ]
    assert len(chunk_link_requests) >= 1  # the expired link was asked for again
    downloads = [s for s in recorder.seen if s.url.path.startswith("/storage/")]
    api = [s for s in recorder.seen if s.url.path.startswith("/api/")]
    assert len(downloads) == result.chunks + 1
    assert all("authorization" not in s.headers for s in downloads)
    assert all(s.headers.get("authorization", "").startswith("Bearer ") for s in api)
    with pa.memory_map(str(out)) as source:
        table = pa.ipc.open_file(source).read_all()
    assert table.num_rows == 1_200_000
    assert pc.sum(table["id"]).as_py() == 1_200_000 * 1_199_999 // 2


async def test_csv_export_and_no_half_written_file_on_failure(
    workspace: LocalWorkspace, project_on: ProjectOn, tmp_path: Path
) -> None:
    async def broken_storage(request: httpx.Request, _: int) -> httpx.Response | None:
        if request.url.path.startswith("/storage/"):
            return httpx.Response(500, text="storage down")
        return None

    project = await project_on(workspace)
    async with Gateway(project) as gw:
        good = await export_query(gw, "databricks", SMALL, tmp_path / "small.csv")
    table = pacsv.read_csv(tmp_path / "small.csv")
    assert good.rows == 1000 and table.column_names == ["id", "name"]
    assert table["name"][999].as_py() == "n999"

    async with Gateway(project, transport=Recorder(broken_storage)) as gw:
        with pytest.raises(RemoteError):
            await export_query(gw, "databricks", SMALL, tmp_path / "broken.parquet")
    assert not (tmp_path / "broken.parquet").exists()
    assert not list(tmp_path.glob(".broken.parquet*"))


def test_cli_query_writes_the_file(
    workspace: LocalWorkspace, project_on: ProjectOn, tmp_path: Path
) -> None:
    import asyncio

    project = asyncio.run(project_on(workspace))
    out = tmp_path / "cli.parquet"
    runner = CliRunner()
    done = runner.invoke(
        app, ["-p", str(project.path), "databricks", "query", SMALL, "--out", str(out)]
    )
    assert done.exit_code == 0, done.output
    assert "1,000 rows" in done.output
    assert pq.read_metadata(out).num_rows == 1000
    wrong = runner.invoke(
        app, ["-p", str(project.path), "databricks", "query", SMALL, "--out", "x.txt"]
    )
    assert wrong.exit_code != 0
    refused = runner.invoke(
        app, ["-p", str(project.path), "databricks", "query", "DROP TABLE t", "--out", str(out)]
    )
    assert refused.exit_code != 0
