"""The export path refuses a write on a read-only connector before anything reaches the workspace.

The statement names a table that exists, so a refusal cannot come from the workspace instead.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from lakegate.databricks.export import export_query
from lakegate.errors import ReadOnlyError
from lakegate.gateway import Gateway
from lakegate.workspace import LocalWorkspace

from .conftest import ProjectOn, access_log

STATEMENTS = "/api/2.0/sql/statements"


def statement_posts(ws: LocalWorkspace, after: int) -> list[dict]:
    return [e for e in access_log(ws)[after:] if e["method"] == "POST" and e["path"] == STATEMENTS]


async def existing_table(ws: LocalWorkspace, project_on: ProjectOn) -> str:
    """A fresh table in the shared workspace, created through a read-write connector."""
    table = f"main.default.export_guard_{uuid.uuid4().hex[:8]}"
    writer = await project_on(ws, allow_writes=True)
    async with Gateway(writer) as gw:
        made = await gw.call("execute_sql", {"statement": f"CREATE TABLE {table} AS SELECT 1 AS x"})
    assert made.ok, made.error
    return table


async def count_rows(project_path: Path, table: str) -> int:
    from lakegate.project import load_project

    async with Gateway(load_project(project_path)) as gw:
        read = await gw.call("execute_sql", {"statement": f"SELECT count(*) AS n FROM {table}"})
    assert read.ok, read.error
    return int(read.data["rows"][0][0])


async def test_export_refuses_a_drop_of_an_existing_table_without_sending_it(
    workspace: LocalWorkspace, project_on: ProjectOn, tmp_path: Path
) -> None:
    table = await existing_table(workspace, project_on)
    reader = await project_on(workspace)
    assert reader.connectors["databricks"].read_only
    before = len(access_log(workspace))
    out = tmp_path / "dropped.parquet"
    async with Gateway(reader) as gw:
        with pytest.raises(ReadOnlyError) as refused:
            await export_query(gw, "databricks", f"DROP TABLE {table}", out)
    assert refused.value.code == "policy.read_only"
    assert statement_posts(workspace, before) == []  # refused here, not by the workspace
    assert not out.exists()
    assert await count_rows(reader.path, table) == 1


def test_cli_query_refuses_a_write_with_the_read_only_code(
    workspace: LocalWorkspace, project_on: ProjectOn, tmp_path: Path
) -> None:
    table = asyncio.run(existing_table(workspace, project_on))
    reader = asyncio.run(project_on(workspace))
    before = len(access_log(workspace))
    out = tmp_path / "deleted.csv"
    done = subprocess.run(
        [sys.executable, "-m", "lakegate", "-p", str(reader.path), "databricks", "query",
         f"DELETE FROM {table}", "--out", str(out)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "policy.read_only" in done.stderr
    assert "Traceback" not in done.stderr
    assert statement_posts(workspace, before) == []
    assert not out.exists()
    assert asyncio.run(count_rows(reader.path, table)) == 1
