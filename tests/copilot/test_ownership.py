"""A statement belongs to the caller that started it: over stateful HTTP another MCP session can
neither read its rows nor cancel it, and no session can reach a statement this server did not
start (one run with `lakegate call`, say)."""

from __future__ import annotations

from lakegate.gateway import Gateway
from lakegate.project import Project

from ._clients import http_server, http_session, text_of
from .conftest import SLOW_SQL
from .test_sql import statement_state

TOKEN = "ownership-token-0123456789abcdef-0123456789"


async def test_another_session_cannot_read_or_cancel_a_statement(sql_project: Project) -> None:
    with http_server(sql_project.path, TOKEN) as url:
        async with http_session(url, TOKEN) as alice, http_session(url, TOKEN) as mallory:
            done = await alice.call_tool(
                "execute_sql",
                {"statement": "SELECT * FROM range(500) t(n)", "max_rows": 10},
            )
            assert not done.is_error, text_of(done)
            finished = done.structured_content["next"]["statement_id"]
            slow = await alice.call_tool("execute_sql", {"statement": SLOW_SQL, "deadline_s": 1})
            running = slow.structured_content["statement_id"]

            read = await mallory.call_tool(
                "fetch_rows", {"statement_id": finished, "row_offset": 10}
            )
            peek = await mallory.call_tool("get_statement", {"statement_id": running})
            stop = await mallory.call_tool("cancel_statement", {"statement_id": running})
            for refused in (read, peek, stop):
                assert refused.is_error and "policy.not_yours" in text_of(refused)
                assert "n" not in (refused.structured_content or {}).get("columns", [])
            assert await statement_state(sql_project, running, "RUNNING", 0) == "RUNNING"

            own = await alice.call_tool("fetch_rows", {"statement_id": finished, "row_offset": 10})
            assert not own.is_error, text_of(own)
            assert str(own.structured_content["rows"]).startswith("10\n11")
            cancel = await alice.call_tool("cancel_statement", {"statement_id": running})
            assert not cancel.is_error, text_of(cancel)
    assert await statement_state(sql_project, running, "CANCELED", 30) == "CANCELED"


async def test_a_statement_this_server_did_not_start_is_not_reachable(
    sql_project: Project,
) -> None:
    async with Gateway.from_file(sql_project.path) as gw:  # what `lakegate call` does
        outside = await gw.call("execute_sql", {"statement": "SELECT 42 AS secret_answer"})
    assert outside.ok, outside.error
    sid = outside.raw.get("statement_id") if isinstance(outside.raw, dict) else None
    sid = sid or "01f0aaaa-0000-0000-0000-000000000000"
    with http_server(sql_project.path, TOKEN) as url:
        async with http_session(url, TOKEN) as client:
            got = await client.call_tool("get_statement", {"statement_id": sid})
            rows = await client.call_tool("fetch_rows", {"statement_id": sid, "row_offset": 0})
    for refused in (got, rows):
        assert refused.is_error and "policy.not_yours" in text_of(refused)
        assert "42" not in text_of(refused)
