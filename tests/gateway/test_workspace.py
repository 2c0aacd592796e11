"""The gateway against the local Databricks workspace: the seed flow, tokens, retries, faults."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from lakegate.gateway import Gateway
from lakegate.project import Project
from lakegate.tokens import Token

from .conftest import databricks_project, logged_requests

TOKEN_PATH = "/oidc/v1/token"
LIST_PATH = "/api/2.0/sql/warehouses"


@pytest.fixture
def project(tmp_path: Path, workspace: Any, monkeypatch: pytest.MonkeyPatch) -> Project:
    """The seed project on the session workspace."""
    return databricks_project(tmp_path, workspace, monkeypatch)


@pytest.fixture
def own(
    tmp_path: Path, workspace_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> tuple[Any, Project]:
    """A workspace of the test's own (its faults, its request log) and the seed project on it."""
    ws = workspace_factory()
    return ws, databricks_project(tmp_path, ws, monkeypatch)


def inject(ws: Any, **rule: Any) -> None:
    """One seeded fault rule on `ws` (the rule's fields as the workspace's faults take them)."""
    ws.set_faults({"seed": 1, "rules": [rule]})


async def test_seed_flow_lists_warehouses(project: Project, workspace: Any) -> None:
    async with Gateway.from_file(project.path) as gw:
        result = await gw.test("list_warehouses")
    assert result.ok, result.error
    assert result.status == 200
    assert {"id", "name", "state"} <= set(result.data[0])
    assert result.raw["warehouses"][0]["id"] == result.data[0]["id"]
    assert result.request.line == f"GET {workspace.host}{LIST_PATH}"
    assert result.request.headers == {"Authorization": "Bearer ***"}
    assert result.client_auth_used == "request_body"
    secret = workspace.credentials["client_secret"]
    assert secret not in repr(result.to_dict()) and secret not in repr(gw.runtime("databricks"))


async def test_single_flight_200_cold_calls_one_token_request(own: tuple[Any, Project]) -> None:
    ws, project = own
    async with Gateway(project) as gw:
        results = await asyncio.gather(*(gw.call("list_warehouses") for _ in range(200)))
    assert all(r.ok for r in results), [r.error for r in results if not r.ok][:3]
    assert len(logged_requests(ws, TOKEN_PATH)) == 1
    assert len(logged_requests(ws, LIST_PATH, "GET")) == 200


async def test_proactive_refresh_never_lets_a_call_fail_or_wait(
    tmp_path: Path, workspace_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = workspace_factory(token_ttl=3)
    project = databricks_project(tmp_path, ws, monkeypatch)
    async with Gateway(project) as gw:
        source = gw.runtime("databricks").authenticator.source
        # Calls keep coming until the token was renewed twice (tokens live 3 s and are renewed
        # in the background before they expire); the bound only stops a broken refresh.
        give_up = time.monotonic() + 120
        results = []
        while source.requests < 3 and time.monotonic() < give_up:
            results += await asyncio.gather(*(gw.call("list_warehouses") for _ in range(4)))
            await asyncio.sleep(0.05)
        assert source.requests >= 3, "the token was never renewed"
        # One batch more, after the last renewal.
        results += await asyncio.gather(*(gw.call("list_warehouses") for _ in range(4)))
    assert all(r.ok for r in results), [r.error for r in results if not r.ok][:3]
    # Every token request the workspace saw is one the single-flight source made.
    assert len(logged_requests(ws, TOKEN_PATH)) == source.requests
    # No API call was answered 401/403: the token was always replaced before it expired.
    assert {e["status"] for e in logged_requests(ws, LIST_PATH)} == {200}
    # Only the first, cold batch waited for a token; every later call had a valid one at hand.
    assert [r.token_from_cache for r in results[:4]] == [False] * 4
    assert all(r.token_from_cache for r in results[4:])


async def test_a_403_invalid_token_drops_the_token_and_retries_once(project: Project) -> None:
    async with Gateway(project) as gw:
        assert (await gw.call("list_warehouses")).ok
        source = gw.runtime("databricks").authenticator.source
        now = time.monotonic()
        # A token the server does not know (as after a revocation): 403 "Invalid access token".
        source._token = Token("revoked-token-value", 3600, now + 3000, now + 3500, now + 3600)
        before = source.requests
        result = await gw.call("list_warehouses")
    assert result.ok, result.error
    assert result.attempts == 2
    assert source.requests == before + 1


async def test_retry_after_is_honoured_for_a_get(own: tuple[Any, Project]) -> None:
    ws, project = own
    async with Gateway(project) as gw:
        assert (await gw.call("list_warehouses")).ok  # token fetched, connection warm
        inject(ws, path=LIST_PATH, fault="http_503", every=2, retry_after=0.4)
        assert (await gw.call("list_warehouses")).attempts == 1  # the 1st matching request: 200
        started = time.monotonic()
        result = await gw.call("list_warehouses")  # the 2nd gets a 503, the 3rd a 200
        waited = time.monotonic() - started
    assert result.ok, result.error
    assert result.attempts == 2
    assert waited >= 0.4
    statuses = [e["status"] for e in logged_requests(ws, LIST_PATH)]
    assert statuses[-2:] == [503, 200]


async def test_a_get_survives_connection_resets(own: tuple[Any, Project]) -> None:
    ws, project = own
    async with Gateway(project) as gw:
        assert (await gw.call("list_warehouses")).ok
        inject(ws, path=LIST_PATH, fault="reset", every=2)
        results = [await gw.call("list_warehouses") for _ in range(4)]
    assert all(r.ok for r in results), [r.error for r in results if not r.ok]
    # Requests 2, 4, 6 are reset: the first call passes, each later one needs a second attempt.
    assert [r.attempts for r in results] == [1, 2, 2, 2]


@pytest.mark.parametrize("fault", ["http_503", "http_429", "reset"])
async def test_a_post_is_never_resent(own: tuple[Any, Project], fault: str) -> None:
    ws, project = own
    async with Gateway(project) as gw:
        warehouse = (await gw.call("list_warehouses")).data[0]["id"]
        inject(ws, path=f"{LIST_PATH}/*/start", method="POST", fault=fault, every=1, retry_after=0)
        result = await gw.call("start_warehouse", {"id": warehouse})
    assert not result.ok
    assert result.attempts == 1
    path = f"{LIST_PATH}/{warehouse}/start"
    assert len(logged_requests(ws, path, "POST")) == 1
    if fault == "reset":
        assert result.error.code == "request.connection_lost"
    else:
        assert result.status in (429, 503)
        assert result.error.details["error_code"] in (
            "TEMPORARILY_UNAVAILABLE",
            "REQUEST_LIMIT_EXCEEDED",
        )


async def test_the_retry_budget_is_never_exceeded(own: tuple[Any, Project]) -> None:
    ws, project = own
    async with Gateway(project, budget_s=1.0) as gw:
        assert (await gw.call("list_warehouses")).ok
        inject(ws, path=LIST_PATH, fault="http_503", every=1, retry_after=5)
        started = time.monotonic()
        result = await gw.call("list_warehouses")
        waited = time.monotonic() - started
    # The Retry-After (5 s) does not fit the 1 s budget: answered without sleeping it, and
    # without a second request.
    assert waited < 5
    assert result.status == 503 and result.attempts == 1
    assert [e["status"] for e in logged_requests(ws, LIST_PATH)][-1:] == [503]
    assert result.error.message.startswith("TEMPORARILY_UNAVAILABLE: ")


async def test_databricks_errors_are_surfaced_verbatim(project: Project) -> None:
    async with Gateway(project) as gw:
        result = await gw.call("start_warehouse", {"id": "no-such-warehouse"})
    assert not result.ok and result.status == 404
    assert result.error.code == "remote.http_error"
    assert result.error.details["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    assert result.error.message.startswith("RESOURCE_DOES_NOT_EXIST: ")


async def test_a_failure_after_retries_says_how_many_attempts_were_made(
    own: tuple[Any, Project],
) -> None:
    ws, project = own
    async with Gateway(project) as gw:
        assert (await gw.call("list_warehouses")).ok
        inject(ws, path=LIST_PATH, fault="http_503", every=1, retry_after=0)
        result = await gw.call("list_warehouses")
    assert not result.ok and result.status == 503
    sent = len([e for e in logged_requests(ws, LIST_PATH) if e["status"] == 503])
    assert result.attempts == sent > 1
    assert f"(after {sent} attempts, retried with backoff)" in result.error.message
    assert result.error.details["attempts"] == sent
