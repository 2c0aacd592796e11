"""Statement Execution API over raw HTTP: Databricks' 400s, presigned-style links, restarts."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from workspace_http import bearer, fetch_token

from lakegate.workspace import LocalWorkspace

SLOW_QUERY = "SELECT sum(hash(a.id * b.id)) FROM range(1000000) a, range(100000) b"


@pytest.fixture(scope="module")
def api(workspace: LocalWorkspace) -> Iterator[httpx.Client]:
    headers = bearer(fetch_token(workspace, scope="sql"))
    with httpx.Client(base_url=workspace.host, headers=headers, timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def warehouse(api: httpx.Client) -> str:
    name = f"http-{uuid.uuid4().hex[:8]}"
    return api.post("/api/2.0/sql/warehouses", json={"name": name}).json()["id"]


def submit(api: httpx.Client, warehouse: str, statement: str, **extra: Any) -> httpx.Response:
    return api.post(
        "/api/2.0/sql/statements",
        json={"statement": statement, "warehouse_id": warehouse, **extra},
    )


def wait_done(api: httpx.Client, statement_id: str, deadline_s: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + deadline_s
    while True:
        body = api.get(f"/api/2.0/sql/statements/{statement_id}").json()
        if body["status"]["state"] not in ("PENDING", "RUNNING"):
            return body
        assert time.monotonic() < deadline, body
        time.sleep(0.02)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            {"disposition": "INLINE", "format": "ARROW_STREAM"},
            "The format field must be JSON_ARRAY when the disposition field is INLINE.",
        ),
        ({"format": "CSV"}, "must be JSON_ARRAY when the disposition field is INLINE"),
        ({"disposition": "SOMEWHERE"}, "Invalid disposition 'SOMEWHERE'"),
        ({"wait_timeout": "3s"}, "wait_timeout '3s' is not valid"),
        ({"wait_timeout": "51s"}, "between 5s and 50s"),
        ({"wait_timeout": "ten"}, "wait_timeout 'ten' is not valid"),
        ({"on_wait_timeout": "LATER"}, "Invalid on_wait_timeout 'LATER'"),
        ({"row_limit": -1}, "row_limit must be a non-negative integer"),
        ({"row_limit": "10"}, "Field 'row_limit' must be of type integer"),
        ({"parameters": [{"name": "a`b", "value": "1"}]}, "Invalid parameter name 'a`b'"),
        ({"parameters": [{"value": "1"}]}, "Invalid parameter name None"),
        # The REST API takes scalar types only (complex ones come over Thrift).
        ({"parameters": [{"name": "a", "value": "[1]", "type": "ARRAY"}]}, "Invalid type 'ARRAY'"),
        ({"parameters": [{"name": "a", "value": 1}]}, "must be a string or null"),
        ({"parameters": [{"name": "a", "value": "1", "type": "INT); DROP"}]}, "Invalid type"),
    ],
)
def test_bad_requests_are_400_with_databricks_messages(
    api: httpx.Client, warehouse: str, extra: dict[str, Any], message: str
) -> None:
    response = submit(api, warehouse, "SELECT 1", **extra)
    assert response.status_code == 400
    assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert message in response.json()["message"]


def test_missing_fields_and_unknown_warehouse(api: httpx.Client) -> None:
    assert api.post("/api/2.0/sql/statements", json={"warehouse_id": "x"}).status_code == 400
    response = api.post("/api/2.0/sql/statements", json={"statement": "SELECT 1"})
    assert response.status_code == 400 and "warehouse_id" in response.json()["message"]
    gone = submit(api, "0123456789abcdef", "SELECT 1")
    assert gone.status_code == 404
    assert gone.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"


def test_unknown_statement_and_chunk_out_of_range(api: httpx.Client, warehouse: str) -> None:
    assert api.get("/api/2.0/sql/statements/01f0-nope").status_code == 404
    done = submit(api, warehouse, "SELECT 1").json()
    chunk = api.get(f"/api/2.0/sql/statements/{done['statement_id']}/result/chunks/5")
    assert chunk.status_code == 400 and "out of range" in chunk.json()["message"]


def test_statements_are_private_to_their_caller(
    api: httpx.Client, warehouse: str, workspace: LocalWorkspace
) -> None:
    mine = submit(api, warehouse, "SELECT 1").json()["statement_id"]
    other = workspace.create_service_principal(
        f"peer-{uuid.uuid4().hex[:6]}", warehouse_permission="CAN_USE"
    )
    token = fetch_token(workspace, other["client_id"], other["client_secret"])
    peek = httpx.get(f"{workspace.host}/api/2.0/sql/statements/{mine}", headers=bearer(token))
    assert peek.status_code == 404


def external_link(api: httpx.Client, warehouse: str) -> str:
    body = submit(
        api, warehouse, "SELECT 1 AS one", disposition="EXTERNAL_LINKS", format="ARROW_STREAM"
    ).json()
    return body["result"]["external_links"][0]["external_link"]


def test_link_fetched_with_authorization_header_is_rejected(
    api: httpx.Client, warehouse: str
) -> None:
    link = external_link(api, warehouse)
    rejected = httpx.get(link, headers=api.headers)
    assert rejected.status_code == 400
    assert "<Code>InvalidArgument</Code>" in rejected.text
    assert "Only one auth mechanism allowed" in rejected.text
    assert httpx.get(link).status_code == 200


def test_tampered_and_expired_links_are_rejected(
    api: httpx.Client, warehouse: str, workspace: LocalWorkspace
) -> None:
    link = external_link(api, warehouse)
    forged = link.replace("/chunks/0?", "/chunks/1?")
    assert httpx.get(forged).status_code == 403
    later = link.replace("X-Expires=", "X-Expires=9")  # a longer life needs a new signature
    assert "SignatureDoesNotMatch" in httpx.get(later).text
    service = workspace.state.sql_statements
    service.link_ttl_s = -1  # links minted from now on are already past their expiry
    try:
        expired = external_link(api, warehouse)
    finally:
        service.link_ttl_s = 900.0
    response = httpx.get(expired)
    assert response.status_code == 403
    assert "<Code>AccessDenied</Code><Message>Request has expired</Message>" in response.text


def test_inline_result_over_25_mib_fails(api: httpx.Client, warehouse: str) -> None:
    body = submit(
        api, warehouse, "SELECT repeat('x', 1000) AS pad FROM range(30000)", wait_timeout="30s"
    ).json()
    assert body["status"]["state"] == "FAILED"
    assert "25 MiB" in body["status"]["error"]["message"]


def test_byte_limit_truncates(api: httpx.Client, warehouse: str) -> None:
    body = submit(api, warehouse, "SELECT * FROM range(100000)", byte_limit=8000).json()
    manifest = body["manifest"]
    assert manifest["truncated"] is True
    assert 0 < manifest["total_row_count"] <= 1000


def test_failed_statement_has_sql_state(api: httpx.Client, warehouse: str) -> None:
    response = submit(api, warehouse, "SELECT * FROM samples.tpch.missing")
    assert response.status_code == 200
    status = response.json()["status"]
    assert status["state"] == "FAILED" and status["sql_state"] == "42P01"
    syntax = submit(api, warehouse, "SELEC 1").json()["status"]
    assert syntax["state"] == "FAILED" and "PARSE_SYNTAX_ERROR" in syntax["error"]["message"]
    # Spark's wording: the token, its place, and the statement's line marked under it.
    near = submit(api, warehouse, "SELECT * FROM WHERE x").json()["status"]["error"]["message"]
    assert near.startswith("[PARSE_SYNTAX_ERROR] Syntax error at or near 'WHERE'. SQLSTATE: 42601")
    assert near.endswith("== SQL ==\nSELECT * FROM WHERE x\n--------------^^^^^")
    extra = "CREATE TABLE IF NOT EXISTS TABLE table_234234234"  # read by no parser: named
    assert extra in submit(api, warehouse, extra).json()["status"]["error"]["message"]
    unbound = submit(api, warehouse, "SELECT :missing").json()["status"]
    assert "UNBOUND_SQL_PARAMETER" in unbound["error"]["message"]


def test_samples_are_read_only(api: httpx.Client, warehouse: str) -> None:
    body = submit(api, warehouse, "DELETE FROM samples.tpch.orders").json()
    assert body["status"]["state"] == "FAILED"
    check = submit(api, warehouse, "SELECT count(*) FROM samples.tpch.orders").json()
    assert check["result"]["data_array"] == [["15000"]]


def test_restart_keeps_every_statement(workspace_factory, tmp_path) -> None:
    ws = workspace_factory(state_dir=tmp_path)
    with httpx.Client(base_url=ws.host, headers=bearer(fetch_token(ws)), timeout=30) as api:
        warehouse = api.get("/api/2.0/sql/warehouses").json()["warehouses"][0]["id"]
        finished = submit(api, warehouse, "SELECT 1").json()["statement_id"]
        running = submit(api, warehouse, SLOW_QUERY, wait_timeout="0s").json()["statement_id"]
        deadline = time.monotonic() + 60
        while api.get(f"/api/2.0/sql/statements/{running}").json()["status"]["state"] != "RUNNING":
            assert time.monotonic() < deadline
            time.sleep(0.02)
    ws.stop()
    again = workspace_factory(state_dir=tmp_path)
    with httpx.Client(base_url=again.host, headers=bearer(fetch_token(again)), timeout=30) as api:
        interrupted = api.get(f"/api/2.0/sql/statements/{running}").json()
        assert interrupted["status"]["state"] == "FAILED"
        assert "restarted" in interrupted["status"]["error"]["message"]
        assert api.get(f"/api/2.0/sql/statements/{finished}").json()["status"]["state"] == "CLOSED"
        history = api.get("/api/2.0/sql/history/queries").json()["res"]
        assert {running, finished} <= {q["query_id"] for q in history}
        # The samples were generated once: the restart reused the state dir's file.
        assert submit(api, warehouse, "SELECT count(*) FROM samples.nyctaxi.trips").json()[
            "result"
        ]["data_array"] == [["50000"]]


def test_external_links_json_array_is_compact_json(api: httpx.Client, warehouse: str) -> None:
    body = submit(
        api,
        warehouse,
        "SELECT c_custkey, c_mktsegment FROM samples.tpch.customer ORDER BY 1 LIMIT 2",
        disposition="EXTERNAL_LINKS",
        format="JSON_ARRAY",
    ).json()
    assert body["manifest"]["format"] == "JSON_ARRAY"
    link = body["result"]["external_links"][0]
    assert set(link) >= {"external_link", "expiration", "byte_count", "row_count"}
    data = httpx.get(link["external_link"])
    assert data.headers["content-type"].startswith("application/json")
    assert data.content.startswith(b'[["1","') and b" " not in data.content.split(b'"')[0]
    assert len(data.content) == link["byte_count"]


def test_cancel_while_waiting_for_the_warehouse(workspace_factory) -> None:
    ws = workspace_factory(warehouse_delays={"starting": 30})
    with httpx.Client(base_url=ws.host, headers=bearer(fetch_token(ws)), timeout=30) as api:
        stopped = next(
            w["id"]
            for w in api.get("/api/2.0/sql/warehouses").json()["warehouses"]
            if w["state"] == "STOPPED"
        )
        pending = submit(api, stopped, "SELECT 1", wait_timeout="0s").json()
        assert pending["status"]["state"] == "PENDING"
        assert api.get(f"/api/2.0/sql/warehouses/{stopped}").json()["state"] == "STARTING"
        api.post(f"/api/2.0/sql/statements/{pending['statement_id']}/cancel")
        done = wait_done(api, pending["statement_id"], deadline_s=60)
        assert done["status"]["state"] == "CANCELED"


def test_transaction_statements_are_refused_and_break_nothing(
    api: httpx.Client, warehouse: str
) -> None:
    """Two BEGINs once left an aborted transaction on the shared engine: every statement of
    every caller failed until restart. Transaction statements are refused; SQL goes on."""
    for statement in ("BEGIN", "BEGIN TRANSACTION", "START TRANSACTION", "BEGIN", "COMMIT",
                      "ROLLBACK", "SAVEPOINT s"):  # fmt: skip
        body = wait_done(api, submit(api, warehouse, statement).json()["statement_id"])
        assert body["status"]["state"] == "FAILED", (statement, body)
        error = body["status"]["error"]
        assert "PARSE_SYNTAX_ERROR" in error["message"] and "transaction" in error["message"]
    for _ in range(8):  # every worker connection of the engine still answers
        body = wait_done(api, submit(api, warehouse, "SELECT 41 + 1 AS n").json()["statement_id"])
        assert body["status"]["state"] == "SUCCEEDED", body
        assert body["result"]["data_array"] == [["42"]]
