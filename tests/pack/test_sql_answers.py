"""execute_sql and friends on the local workspace: compact answers, caps, errors, attribution."""

from __future__ import annotations

import asyncio
import json
import time

from lakegate import __version__
from lakegate.databricks.answer import NULL
from lakegate.errors import InputError, ReadOnlyError, SqlParseError, StatementError
from lakegate.gateway import Gateway
from lakegate.workspace import LocalWorkspace

from .conftest import ProjectOn, Recorder, access_log
from .test_guard import DANGEROUS

STATEMENTS = "/api/2.0/sql/statements"
TOPS_PAGED = (
    "SELECT pickup_zip, count(*) AS trips FROM samples.nyctaxi.trips "
    "GROUP BY pickup_zip ORDER BY trips DESC, pickup_zip LIMIT 5"
)
TOP_ZIPS = (
    "SELECT pickup_zip, count(*) AS trips FROM samples.nyctaxi.trips "
    "GROUP BY pickup_zip ORDER BY trips DESC, pickup_zip LIMIT 3"
)


async def test_a_few_rows_come_as_typed_arrays_with_every_contract_field(
    workspace: LocalWorkspace, project_on: ProjectOn
) -> None:
    async with Gateway(await project_on(workspace)) as gw:
        result = await gw.call("execute_sql", {"statement": TOP_ZIPS})
    assert result.ok, result.error
    data = result.data
    assert data["columns"] == [
        {"name": "pickup_zip", "type": "INT"},
        {"name": "trips", "type": "BIGINT"},
    ]
    rows = data["rows"]
    assert len(rows) == 3 and all(isinstance(c, int) for row in rows for c in row)
    assert rows[0][1] >= rows[2][1]
    assert data["row_count"] == 3 and data["total_row_count"] == 3
    assert data["truncated"] is False and data["truncated_reason"] is None
    assert "next" not in data


async def test_many_rows_come_as_tsv_without_header_nulls_and_escapes(
    workspace: LocalWorkspace, project_on: ProjectOn
) -> None:
    sql = (
        "SELECT r.id, 'a|b' AS pipe, CAST(NULL AS STRING) AS nothing, 'x' || chr(9) || 'y' AS tab,"
        " 'NULL' AS word FROM range(20) AS r(id) ORDER BY r.id"
    )
    few = "SELECT CAST(NULL AS INT) AS n, CAST(1.5 AS DOUBLE) AS d, true AS b, 'NULL' AS s"
    async with Gateway(await project_on(workspace)) as gw:
        many = await gw.call("execute_sql", {"statement": sql})
        typed = await gw.call("execute_sql", {"statement": few})
    assert many.ok and typed.ok, (many.error, typed.error)
    lines = many.data["rows"].split("\n")
    assert len(lines) == 20 == many.data["row_count"]  # no header: the columns say it once
    assert lines[3] == f"3\ta|b\t{NULL}\tx\\ty\t\\NULL"  # the string NULL is not a NULL
    assert [c["name"] for c in many.data["columns"]] == ["id", "pipe", "nothing", "tab", "word"]
    assert typed.data["rows"] == [[None, 1.5, True, "NULL"]]  # typed: null is not "NULL"


async def test_a_row_cap_cuts_between_rows_and_says_where_to_continue(
    workspace: LocalWorkspace, project_on: ProjectOn
) -> None:
    recorder = Recorder()
    project = await project_on(workspace)
    async with Gateway(project, transport=recorder) as gw:
        capped = await gw.call(
            "execute_sql", {"statement": "SELECT * FROM samples.nyctaxi.trips", "max_rows": 3}
        )
        default = await gw.call("execute_sql", {"statement": "SELECT * FROM samples.nyctaxi.trips"})
    assert capped.ok and default.ok
    sent = [s.body for s in recorder.posts(STATEMENTS)]
    assert "row_limit" not in sent[0]  # every row stays reachable
    assert capped.data["row_count"] == 3 and len(capped.data["rows"]) == 3
    assert len(capped.data["columns"]) == 6  # all of them, whatever the row cap
    assert capped.data["total_row_count"] == 50000
    assert capped.data["truncated"] is True
    assert capped.data["truncated_reason"] == "max_rows=3 reached"
    assert capped.data["next"] == {"statement_id": capped.data["next"]["statement_id"],
                                   "row_offset": 3}  # fmt: skip
    assert default.data["row_count"] == 200 and default.data["truncated"] is True
    assert len(default.data["rows"].split("\n")) == 200


async def test_a_byte_cap_keeps_the_whole_answer_under_max_bytes(
    workspace: LocalWorkspace, project_on: ProjectOn
) -> None:
    async with Gateway(await project_on(workspace)) as gw:
        for max_bytes in (1024, 2000, 2500, 8192):
            result = await gw.call(
                "execute_sql",
                {"statement": "SELECT * FROM samples.tpch.orders", "max_bytes": max_bytes},
            )
            assert result.ok, result.error
            data = result.data
            text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
            assert len(text.encode()) <= max_bytes
            assert len(data["columns"]) == 9  # complete, whatever the byte cap
            assert (
                data["truncated"] is True and f"max_bytes={max_bytes}" in (data["truncated_reason"])
            )
            rows = data["rows"] if isinstance(data["rows"], list) else data["rows"].split("\n")
            assert len(rows) == data["row_count"] > 0
            assert all(len(r if isinstance(r, list) else r.split("\t")) == 9 for r in rows)
            assert data["next"]["row_offset"] == data["row_count"]


async def test_failed_statement_is_an_error_with_databricks_message(
    workspace: LocalWorkspace, project_on: ProjectOn
) -> None:
    async with Gateway(await project_on(workspace)) as gw:
        result = await gw.call("execute_sql", {"statement": "SELECT * FROM main.nope.missing"})
    assert not result.ok
    assert isinstance(result.error, StatementError)
    assert result.error.code == "sql.not_found"
    assert "TABLE_OR_VIEW_NOT_FOUND" in result.error.message
    assert "list_tables" in result.error.hint and "describe_table" in result.error.hint
    assert result.error.details["state"] == "FAILED"


async def test_named_parameters(workspace: LocalWorkspace, project_on: ProjectOn) -> None:
    sql = "SELECT count(*) AS trips FROM samples.nyctaxi.trips WHERE pickup_zip = :zip"
    async with Gateway(await project_on(workspace)) as gw:
        one = await gw.call("execute_sql", {"statement": sql, "parameters": {"zip": 10001}})
        other = await gw.call("execute_sql", {"statement": sql, "parameters": {"zip": 11201}})
    assert one.ok and other.ok, (one.error, other.error)
    counts = [r.data["rows"][0][0] for r in (one, other)]
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
        for_alice = await gw.call(
            "execute_sql", {"statement": "SELECT 1"}, caller={"user": "alice@example.com"}
        )
    assert result.ok and for_alice.ok
    post, alices = recorder.posts(STATEMENTS)
    tags = {t["key"]: t["value"] for t in post.body["query_tags"]}
    assert tags == {
        "lakegate": __version__,
        "action": "execute_sql",
        "caller": "claude-desktop/1.2",
        "tool": "execute_sql",
    }
    assert {"key": "user", "value": "alice@example.com"} in alices.body["query_tags"]
    assert post.headers["user-agent"].startswith(f"lakegate/{__version__}")


async def test_guard_refuses_before_any_request_reaches_the_workspace(
    workspace: LocalWorkspace, project_on: ProjectOn
) -> None:
    async with Gateway(await project_on(workspace)) as gw:
        await gw.call("execute_sql", {"statement": "SELECT 1"})  # token and warehouse warm
        before = len(access_log(workspace))
        for sql in DANGEROUS:
            result = await gw.call("execute_sql", {"statement": sql})
            refusal = (ReadOnlyError, SqlParseError) if sql.strip() else InputError
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
        first = await gw.call("execute_sql", {"statement": TOPS_PAGED, "max_rows": 2})
        sid = first.data["next"]["statement_id"]
        again = await gw.call("get_statement", {"statement_id": sid})
        rest = await gw.call("fetch_rows", first.data["next"])
        past = await gw.call("fetch_rows", {"statement_id": sid, "row_offset": 99})
        cancel = await gw.call("cancel_statement", {"statement_id": sid})
        bad = await gw.call("get_statement", {"statement_id": "../../warehouses"})
    assert again.ok and again.data["rows"][:2] == first.data["rows"]
    assert rest.ok and rest.data["row_offset"] == 2 and rest.data["row_count"] == 3
    assert rest.data["truncated"] is False and "next" not in rest.data
    assert not past.ok and past.error.code == "request.invalid_input"
    assert "past the end" in past.error.message
    assert cancel.ok  # canceling a finished statement is harmless
    assert not bad.ok and bad.error.code == "request.invalid_input"


async def test_an_unknown_or_expired_statement_id_says_to_run_it_again(
    workspace: LocalWorkspace, project_on: ProjectOn
) -> None:
    async with Gateway(await project_on(workspace)) as gw:
        missing = "01f00000-0000-0000-0000-000000000000"
        results = [
            await gw.call(tool, {"statement_id": missing})
            for tool in ("get_statement", "fetch_rows")
        ]
        unknown_function = await gw.call("execute_sql", {"statement": "SELECT no_such_fn(1)"})
    for result in results:
        assert result.error.code == "remote.statement_not_found", result.error
        assert missing in result.error.message and "execute_sql" in result.error.hint
    assert unknown_function.error.code == "sql.not_found"
    assert "function" in unknown_function.error.hint
