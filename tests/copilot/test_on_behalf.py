"""The copilot acts as the person who asks: alice's and bob's OAuth tokens (from the workspace's
test IdP) reach `serve --http`, a `grant_type: token_exchange` connector exchanges each for that
person's Databricks token, and Unity Catalog decides what each sees."""

from __future__ import annotations

import json
import math
import time
import types
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from _support import serve_http
from lakegate.authconfig import OAuth2Auth
from lakegate.databricks.pack import install_pack
from lakegate.project import Action, Connector, CopilotPolicy, Input, Project
from lakegate.workspace import LocalWorkspace

from ._clients import http_session, text_of
from .conftest import SLOW_SQL

ALICE, BOB = "alice@example.com", "bob@example.com"
STATIC = "static-token-0123456789abcdef-0123456789"


def _admin(ws: LocalWorkspace) -> httpx.Client:
    token = httpx.post(
        f"{ws.host}/oidc/v1/token",
        data={"grant_type": "client_credentials", "scope": "all-apis"},
        auth=(ws.credentials["client_id"], ws.credentials["client_secret"]),
    ).json()["access_token"]
    return httpx.Client(base_url=ws.host, headers={"Authorization": f"Bearer {token}"}, timeout=60)


@pytest.fixture(scope="module")
def setting(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with LocalWorkspace(warehouse_delays=0.1, idp=True) as ws:
        for user in (ALICE, BOB):
            ws.create_user(user)
        admin = _admin(ws)
        warehouse = next(w["id"] for w in admin.get("/api/2.0/sql/warehouses").json()["warehouses"]
                         if w["state"] == "RUNNING")  # fmt: skip
        acl = [{"user_name": u, "permission_level": "CAN_USE"} for u in (ALICE, BOB)]
        admin.patch(f"/api/2.0/permissions/warehouses/{warehouse}",
                    json={"access_control_list": acl}).raise_for_status()  # fmt: skip
        body = {"statement": "CREATE OR REPLACE TABLE main.default.pay AS SELECT 42 AS p",
                "warehouse_id": warehouse, "wait_timeout": "30s"}  # fmt: skip
        assert admin.post("/api/2.0/sql/statements", json=body).json()["status"]["state"] == (
            "SUCCEEDED"
        )
        grant = {"changes": [{"principal": ALICE, "add": ["USE_CATALOG", "USE_SCHEMA", "SELECT"]}]}
        admin.patch("/api/2.1/unity-catalog/permissions/catalog/main", json=grant)
        project = _project(ws, tmp_path_factory.mktemp("obo"), warehouse)
        with (
            serve_http(project.path, token=STATIC) as served,
            serve_http(project.path, "--stateless", token=STATIC) as stateless,
        ):
            yield {"ws": ws, "url": served.url, "state": project.state_dir,
                   "stateless": stateless.url}  # fmt: skip


def _project(ws: LocalWorkspace, folder: Any, warehouse: str) -> Project:
    project = Project.new(folder / "lakegate.yaml")
    auth = OAuth2Auth(grant_type="token_exchange", token_url=f"{ws.host}/oidc/v1/token",
                      scope="all-apis")  # fmt: skip
    project.set_connector("databricks", Connector(name="databricks", base_url=ws.host, auth=auth))
    connector = project.connectors["databricks"].model_copy(
        update={"read_only": True, "defaults": {"warehouse_id": warehouse}})  # fmt: skip
    project.set_connector("databricks", connector)
    install_pack(project, connector)
    project.set_action("statement_status", Action(
        name="statement_status", connector="databricks",
        path="/api/2.0/sql/statements/{{statement_id}}",
        inputs={"statement_id": Input(required=True)}, output="status.state",
        description="A statement's state."))  # fmt: skip
    project.set_action("whoami", Action(
        name="whoami", connector="databricks", path="/api/2.0/preview/scim/v2/Me",
        output="userName", description="Who the copilot acts as."))  # fmt: skip
    project.set_action("run_sql", Action(
        name="run_sql", connector="databricks", method="POST", path="/api/2.0/sql/statements",
        body={"statement": "{{statement}}", "warehouse_id": warehouse, "wait_timeout": "30s"},
        inputs={"statement": Input(required=True)}, risk="read",
        output="{state: status.state, error: status.error.message, rows: result.data_array}",
        description="Run one SQL statement."))  # fmt: skip
    issuer = f"{ws.account_host}/idp"
    oauth = {"type": "oauth", "issuer": issuer, "jwks_uri": f"{issuer}/jwks.json"}
    project.set_copilot(CopilotPolicy.model_validate({"auth": oauth}))
    project.save()
    return project


def _token(setting: dict[str, Any], user: str, url: str | None = None) -> str:
    # For this server (its audience) and for the account's federation policy (the account id).
    url = url or setting["url"]
    return setting["ws"].idp_token(user, audience=[url, setting["ws"].account_id])


async def _call(setting: dict[str, Any], user: str, tool: str, **arguments: Any) -> Any:
    async with http_session(setting["url"], _token(setting, user)) as client:
        result = await client.call_tool(tool, arguments)
    assert not result.is_error, text_of(result)
    return result.structured_content


async def _refused(url: str, token: str, tool: str, **arguments: Any) -> str:
    async with http_session(url, token) as client:
        result = await client.call_tool(tool, arguments)
    assert result.is_error, text_of(result)
    return text_of(result)


async def test_each_person_is_themself_on_the_workspace(setting: dict[str, Any]) -> None:
    assert (await _call(setting, ALICE, "whoami"))["result"] == ALICE
    assert (await _call(setting, BOB, "whoami"))["result"] == BOB
    log = [json.loads(x) for x in setting["ws"].requests_log.read_text().splitlines()]
    named = {e.get("principal") for e in log if e.get("path", "").endswith("/Me")}
    assert {ALICE, BOB} <= named
    assert setting["ws"].credentials["client_id"] not in named  # never the service principal


async def test_unity_catalog_decides_what_each_person_reads(setting: dict[str, Any]) -> None:
    alice = await _call(setting, ALICE, "run_sql", statement="SELECT p FROM main.default.pay")
    assert alice["state"] == "SUCCEEDED" and alice["rows"] == [["42"]], alice
    bob = await _call(setting, BOB, "run_sql", statement="SELECT p FROM main.default.pay")
    assert bob["state"] == "FAILED", bob
    assert "INSUFFICIENT_PERMISSIONS" in bob["error"]
    audit = [json.loads(x) for x in (setting["state"] / "audit.jsonl").read_text().splitlines()]
    assert {r.get("user") for r in audit if r.get("tool") == "run_sql"} >= {ALICE, BOB}


async def test_without_a_caller_nothing_is_sent_and_the_env_token_is_the_local_user(
    setting: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from lakegate.gateway import Gateway
    from lakegate.project import load_project

    project = load_project(setting["state"].parent / "lakegate.yaml")
    monkeypatch.delenv("DATABRICKS_OIDC_TOKEN", raising=False)
    log = setting["ws"].requests_log
    before = len(log.read_text().splitlines())
    async with Gateway(project) as gw:
        refused = await gw.call("whoami", {})
    assert refused.error is not None and refused.error.code == "auth.no_caller"
    assert "serve --http" in refused.error.hint
    assert len(log.read_text().splitlines()) == before  # not even a token request
    monkeypatch.setenv("DATABRICKS_OIDC_TOKEN", setting["ws"].idp_token(BOB))
    async with Gateway(project) as gw:
        found = await gw.call("whoami", {})
    assert found.ok and found.data == BOB


@pytest.mark.parametrize("mode", ["url", "stateless"])
async def test_one_person_cannot_read_or_cancel_anothers_statement(
    setting: dict[str, Any], mode: str
) -> None:
    url = setting[mode]
    alice, bob = _token(setting, ALICE, url), _token(setting, BOB, url)
    async with http_session(url, alice) as client:
        started = await client.call_tool("execute_sql", {"statement": SLOW_SQL, "deadline_s": 1})
        assert not started.is_error, text_of(started)
        handle = started.structured_content["statement_id"]
        try:
            for tool in ("get_statement", "fetch_rows", "cancel_statement"):
                refused = await _refused(url, bob, tool, statement_id=handle)
                assert "policy.not_yours" in refused, (tool, refused)
            if mode == "url":  # (stateless: every statement_id argument must be a handle)
                # The workspace itself knows the statement is alice's: bob's token cannot see it.
                seen = await _refused(url, bob, "statement_status", statement_id=handle)
                assert "does not exist" in seen, seen
            mine = await client.call_tool("get_statement", {"statement_id": handle})
            assert not mine.is_error, text_of(mine)
        finally:
            stopped = await client.call_tool("cancel_statement", {"statement_id": handle})
    assert not stopped.is_error, text_of(stopped)
    audit = [json.loads(x) for x in (setting["state"] / "audit.jsonl").read_text().splitlines()]
    refusals = [r for r in audit if r.get("user") == BOB and r["outcome"] != "ok"]
    assert {r["tool"] for r in refusals} >= {"get_statement", "fetch_rows", "cancel_statement"}


async def test_an_exchange_that_yields_someone_else_fails_closed(setting: dict[str, Any]) -> None:
    # The IdP token says email alice (what the copilot verifies) but sub bob (what the
    # account's federation policy maps): Databricks would run it as bob.
    url, log = setting["url"], setting["ws"].requests_log
    token = setting["ws"].idp_token(ALICE, sub=BOB, audience=[url, setting["ws"].account_id])
    before = len(log.read_text().splitlines())
    refused = await _refused(url, token, "run_sql", statement="SELECT 1")
    assert "auth.identity_mismatch" in refused and BOB in refused, refused
    assert "administrator" in refused  # the model is told it is not its to fix
    sent = [json.loads(x) for x in log.read_text().splitlines()[before:]]
    as_bob = [e["path"] for e in sent if e.get("principal") == BOB]
    assert [p for p in as_bob if p.startswith("/api/")] == ["/api/2.0/preview/scim/v2/Me"]
    # the preflight only: no statement ran as bob
    again = await _refused(url, token, "run_sql", statement="SELECT 1")
    assert "auth.identity_mismatch" in again  # the token was dropped, not cached as confirmed


async def test_a_refusal_tells_the_model_which_privilege_on_what(setting: dict[str, Any]) -> None:
    url = setting["url"]
    async with http_session(url, _token(setting, BOB)) as client:
        result = await client.call_tool(
            "execute_sql", {"statement": "SELECT p FROM main.default.pay"}
        )
    assert result.is_error
    error = result.structured_content["error"]
    assert error["code"] == "policy.permission_denied", error
    assert "no USE CATALOG on catalog main" in error["message"]  # the first one he lacks
    assert "administrator" in error["hint"] and "do not retry" in error["hint"]
    async with http_session(url, _token(setting, ALICE)) as client:
        mine = await client.call_tool(
            "execute_sql", {"statement": "SELECT p FROM main.default.pay"}
        )
    assert not mine.is_error and mine.structured_content["rows"] == [[42]], text_of(mine)


async def test_a_callers_databricks_token_does_not_outlive_theirs(
    setting: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    import lakegate.auth as auth
    from lakegate.gateway import Gateway
    from lakegate.project import load_project

    ws = setting["ws"]
    assert auth._expiry(ws.idp_token(BOB, lifetime_s=-60)) < time.time()
    assert auth._expiry(ws.idp_token(BOB)) > time.time() + 3000
    assert auth._expiry("not-a-jwt") == math.inf
    project = load_project(setting["state"].parent / "lakegate.yaml")
    monkeypatch.setenv("DATABRICKS_OIDC_TOKEN", ws.idp_token(BOB))

    def exchanges() -> int:
        log = [json.loads(x) for x in ws.requests_log.read_text().splitlines()]
        return sum(e.get("path") == "/oidc/v1/token" for e in log)

    async with Gateway(project) as gw:
        before = exchanges()
        assert (await gw.call("whoami", {})).data == BOB
        assert (await gw.call("whoami", {})).data == BOB
        assert exchanges() == before + 1  # cached while the caller's token lives
        later = types.SimpleNamespace(time=lambda: time.time() + 7200)
        monkeypatch.setattr(auth, "time", later)  # two hours on: bob's own token has expired
        await gw.call("whoami", {})
        assert exchanges() == before + 2  # not used on: exchanged again (here: accepted)
