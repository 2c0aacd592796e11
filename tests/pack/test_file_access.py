"""No SQL reads the host's files: the guard refuses it, and the workspace itself refuses it too.

Each layer is proven on its own: the guard without the workspace's help (nothing is sent), the
workspace without the guard's (the official databricks-sdk sends the statement straight to it).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from databricks.sdk.service.sql import StatementState

from _support import workspace_client
from lakegate.errors import ReadOnlyError
from lakegate.gateway import Gateway
from lakegate.workspace import LocalWorkspace

from .conftest import ProjectOn, access_log

STATEMENTS = "/api/2.0/sql/statements"


@pytest.fixture
def host_file(tmp_path: Path) -> Path:
    secret = tmp_path / "host-only.txt"
    secret.write_text("the host's own file\n")
    return secret


def _reads(path: Path) -> list[str]:
    return [
        f"SELECT * FROM read_text('{path}')",
        f"SELECT content FROM read_text('{path}')",
        f"SELECT * FROM read_csv('{path}')",
        f"SELECT * FROM '{path}'",
    ]


async def test_the_guard_refuses_file_reads_before_anything_is_sent(
    workspace: LocalWorkspace, project_on: ProjectOn, host_file: Path
) -> None:
    async with Gateway(await project_on(workspace)) as gw:
        assert (await gw.call("execute_sql", {"statement": "SELECT 1"})).ok  # token warm
        before = len(access_log(workspace))
        for sql in _reads(host_file):
            result = await gw.call("execute_sql", {"statement": sql})
            assert isinstance(result.error, ReadOnlyError), sql
            assert result.error.details["reason"] == "file_access"
            assert result.attempts == 0
    assert not [e for e in access_log(workspace)[before:] if e["path"] == STATEMENTS]


def test_the_workspace_refuses_file_reads_sent_straight_with_the_sdk(
    workspace: LocalWorkspace, host_file: Path
) -> None:
    client = workspace_client(workspace)
    warehouse = next(w.id for w in client.warehouses.list())
    ok = client.statement_execution.execute_statement(
        statement="SELECT 1 AS one", warehouse_id=warehouse, wait_timeout="30s"
    )
    assert ok.status.state == StatementState.SUCCEEDED  # the same path works for a plain read
    for sql in [*_reads(host_file), "SELECT * FROM read_csv('http://127.0.0.1:9/x.csv')"]:
        answer = client.statement_execution.execute_statement(
            statement=sql, warehouse_id=warehouse, wait_timeout="30s"
        )
        assert answer.status.state == StatementState.FAILED, sql
        assert "the host's own file" not in str(answer.as_dict())
        message = answer.status.error.message
        # DuckDB's file functions do not exist on Databricks (UNRESOLVED_ROUTINE); a path used
        # as a table reaches the engine, whose external access is locked.
        refusals = ("disabled by configuration", "cannot be found", "Cannot resolve routine")
        assert any(r in message for r in refusals), message


async def test_allow_file_reads_lets_the_statement_through_to_the_warehouse(
    workspace: LocalWorkspace, project_on: ProjectOn, host_file: Path
) -> None:
    """The connector's switch turns the guard's file check off (the workspace still refuses)."""
    project = await project_on(workspace)
    connector = next(iter(project.connectors.values()))
    assert connector.read_only
    connector.allow_file_reads = True
    async with Gateway(project) as gw:
        before = len(access_log(workspace))
        sql = f"SELECT * FROM read_text('{host_file}')"
        result = await gw.call("execute_sql", {"statement": sql})
        assert not isinstance(result.error, ReadOnlyError)
        assert "host's own file" not in repr(result.to_dict())
    assert [e for e in access_log(workspace)[before:] if e["path"] == STATEMENTS]
