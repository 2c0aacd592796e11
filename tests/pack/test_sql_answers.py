"""execute_sql and friends on the local workspace: compact answers, caps, errors, attribution."""

from __future__ import annotations

import asyncio
import time

from lakegate import __version__
from lakegate.databricks.answer import NULL
from lakegate.errors import InputError, ReadOnlyError, StatementError
from lakegate.gateway import Gateway
from lakegate.workspace import LocalWorkspace

from .conftest import ProjectOn, Recorder, access_log
from .test_guard import DANGEROUS

STATEMENTS = "/api/2.0/sql/statements"
TOP_ZIPS = (
    "SELECT pickup_zip, count(*) AS trips FROM samples.nyctaxi.trips "
    "GROUP BY pickup_zip ORDER BY trips DESC, pickup_zip LIMIT 3"
)


async def test_answer_is_a_compact_table_with_typed_columns(
    workspace: LocalWorkspace, project_on: ProjectOn
) -> None:
    async with Gateway(await project_on(workspace)) as gw:
        result = await gw.call("execute_sql", {"statement": TOP_ZIPS})
    assert result.ok, result.error
    data = result.data
    assert data["state"] == "SUCCEEDED" and data["statement_id"]
    assert data["columns"] == [
        {"name": "pickup_zip", "type": "INT"},
        {"name": "trips", "type": "BIGINT"},
    ]
    lines = data["rows"].split("\n")
    assert lines[0] == "pickup_zip\ttrips"
    assert len(lines) == 4 and all(len(line.split("\t")) == 2 for line in lines[1:])
    assert int(lines[1].split("\t")[1]) >= int(lines[3].split("\t")[1])
    assert data["row_count"] == 3 and data["truncated"] is False
    assert "truncated_reason" not in data


async def test_markdown_format_nulls_and_escapes(
    workspace: LocalWorkspace, project_on: ProjectOn
) -> None:
    sql = "SELECT 'a|b' AS pipe, CAST(NULL AS STRING) AS nothing, 'x\ty' AS tab"
    async with Gateway(await project_on(workspace)) as gw:
        md = await gw.call("execute_sql", {"statement": sql, "format": "markdown"})
        tsv = await gw.call("execute_sql", {"statement": sql})
    assert md.ok and tsv.ok, (md.error, tsv.error)
    assert md.data["rows"].split("\n") == [
        "| pipe | nothing | tab |",
        "|---|---|---|",
        f"| a\\|b | {NULL} | x\ty |",
    ]
    assert tsv.data["rows"].split("\n")[1] == f"a|b\t{NULL}\tx\\ty"


async def test_row_cap_is_pushed_down_and_flagged(
    workspace: LocalWorkspace, project_on: ProjectOn
) -> None:
    recorder = Recorder()
    project = await project_on(workspace)
    async with Gateway(project, transport=recorder) as gw:
        capped = await gw.call(
            "execute_sql", {"statement": "SELECT * FROM samples.nyctaxi.trips", "max_rows": 7}
        )
        default = await gw.call("execute_sql", {"statement": "SELECT * FROM samples.nyctaxi.trips"})
    assert capped.ok and default.ok
    sent = [s.body for s in recorder.posts(STATEMENTS)]
    assert sent[0]["row_limit"] == 8 and sent[0]["byte_limit"] == 65536
    assert sent[1]["row_limit"] == 201
    assert capped.data["row_count"] == 7 and len(capped.data["rows"].split("\n")) == 8
    assert capped.data["truncated"] is True
    assert capped.data["truncated_reason"] == "max_rows=7 reached"
    assert default.data["row_count"] == 200 and default.data["truncated"] is True


async def test_byte_cap_keeps_the_table_under_max_bytes(
    workspace: LocalWorkspace, project_on: ProjectOn
) -> None:
    async with Gateway(await project_on(workspace)) as gw:
        result = await gw.call(
            "execute_sql",
            {"statement": "SELECT * FROM samples.nyctaxi.trips", "max_bytes": 2048},
        )
    assert result.ok, result.error
    assert len(result.data["rows"].encode()) <= 2048
    assert 5 < result.data["row_count"] < 200
    assert result.data["truncated"] is True
    assert "max_bytes=2048" in result.data["truncated_reason"]


async def test_failed_statement_is_an_error_with_databricks_message(
    workspace: LocalWorkspace, project_on: ProjectOn
) -> None:
    async with Gateway(await project_on(workspace)) as gw:
        result = await gw.call("execute_sql", {"statement": "SELECT * FROM main.nope.missing"})
    assert not result.ok
    assert isinstance(result.error, StatementError)
    assert result.error.code == "remote.statement_failed"
    assert "TABLE_OR_VIEW_NOT_FOUND" in result.error.message
    assert result.error.details["state"] == "FAILED"


async def test_named_parameters(workspace: LocalWorkspace, project_on: ProjectOn) -> None:
    sql = "SELECT count(*) AS trips FROM samples.nyctaxi.trips WHERE pickup_zip = :zip"
    async with Gateway(await project_on(workspace)) as gw:
        one = await gw.call("execute_sql", {"statement": sql, "parameters": {"zip": 10001}})
        other = await gw.call("execute_sql", {"statement": sql, "parameters": {"zip": 11201}})
    assert one.ok and other.ok, (one.error, other.error)
    counts = [int(r.data["rows"].split("\n")[1]) for r in (one, other)]
    assert all(c > 0 for c in counts) and counts[0] != counts[1]


async def test_every_statement_carries_query_tags_and_user_agent(
    workspace: LocalWorkspace, project_on: ProjectOn
) -> None:
    recorder = Recorder()
    async with Gateway(await project_on(workspace), transport=recorder) as gw:
        result = await gw.call(
            "execute_sql",
            {"statement": "SELECT 1"},
            caller={"client": "claude-desktop", "version": "1.2", "tool": "execute_sql"},
        )
    assert result.ok
    (post,) = recorder.posts(STATEMENTS)
    tags = {t["key"]: t["value"] for t in post.body["query_tags"]}
    assert tags == {
        "lakegate": __version__,
        "action": "execute_sql",
        "caller": "claude-desktop/1.2",
        "tool": "execute_sql",
    }
    assert post.headers["user-agent"].startswith(f"lakegate/{__version__}")


async def test_guard_refuses_before_any_request_reaches_the_workspace(
    workspace: LocalWorkspace, project_on: ProjectOn
) -> None:
    async with Gateway(await project_on(workspace)) as gw:
        await gw.call("execute_sql", {"statement": "SELECT 1"})  # token and warehouse warm
        before = len(access_log(workspace))
        for sql in DANGEROUS:
            result = await gw.call("execute_sql", {"statement": sql})
            refusal = ReadOnlyError if sql.strip() else InputError  # empty: nothing to run
            assert isinstance(result.error, refusal), sql
            assert result.attempts == 0 and result.status is None
        proof = await gw.call("execute_sql", {"statement": "SELECT 2 AS proof"})
    assert proof.ok
    deadline = time.monotonic() + 5
    while True:  # the access log line is written right after the response
        posts = [e for e in access_log(workspace)[before:] if e["path"] == STATEMENTS]
        if posts or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.02)
    assert len(posts) == 1  # only the proof: not one of the refused statements


async def test_writes_run_when_the_connector_allows_them(
    workspace: LocalWorkspace, project_on: ProjectOn
) -> None:
    project = await project_on(workspace, allow_writes=True)
    assert project.connectors["databricks"].read_only is False
    assert project.actions["execute_sql"].risk == "write"
    assert project.actions["execute_sql"].is_idempotent is False
    async with Gateway(project) as gw:
        result = await gw.call("execute_sql", {"statement": "EXPLAIN DELETE FROM main.x.y"})
    assert not isinstance(result.error, ReadOnlyError)


async def test_get_statement_fetch_rows_and_cancel_statement(
    workspace: LocalWorkspace, project_on: ProjectOn
) -> None:
    async with Gateway(await project_on(workspace)) as gw:
        first = await gw.call("execute_sql", {"statement": TOP_ZIPS})
        sid = first.data["statement_id"]
        again = await gw.call("get_statement", {"statement_id": sid, "format": "markdown"})
        chunk = await gw.call("fetch_rows", {"statement_id": sid, "chunk_index": 0})
        cancel = await gw.call("cancel_statement", {"statement_id": sid})
        bad = await gw.call("get_statement", {"statement_id": "../../warehouses"})
    assert again.ok and again.data["rows"].startswith("| pickup_zip | trips |")
    assert again.data["row_count"] == 3
    assert chunk.ok and chunk.data["rows"] == first.data["rows"]
    assert cancel.ok  # canceling a finished statement is harmless
    assert not bad.ok and bad.error.code == "request.invalid_input"
