"""Fault injection: deterministic 429/500/503, resets and delays, from Python and from YAML."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from workspace_http import bearer, fetch_token

from _support import access_log
from lakegate.workspace import LocalWorkspace
from lakegate.workspace.faults import FaultPlanError, parse_plan

PATH = "/api/2.0/sql/warehouses"


def statuses(client: httpx.Client, n: int, method: str = "GET") -> list[int]:
    return [client.request(method, PATH).status_code for _ in range(n)]


def rule(**kwargs) -> dict:
    return {"seed": kwargs.pop("seed", 7), "rules": [{"path": PATH + "*", **kwargs}]}


def test_every_n_answers_429_with_retry_after(ws: LocalWorkspace, client: httpx.Client) -> None:
    ws.set_faults(rule(every=3, fault="http_429", retry_after=2))
    responses = [client.get(PATH) for _ in range(9)]
    assert [r.status_code for r in responses] == [200, 200, 429] * 3
    limited = responses[2]
    assert limited.headers["Retry-After"] == "2"
    assert limited.headers["content-type"] == "application/json"
    assert limited.json()["error_code"] == "REQUEST_LIMIT_EXCEEDED"


@pytest.mark.parametrize(
    ("fault", "status", "code"),
    [("http_500", 500, "INTERNAL_ERROR"), ("http_503", 503, "TEMPORARILY_UNAVAILABLE")],
)
def test_server_errors(
    ws: LocalWorkspace, client: httpx.Client, fault: str, status: int, code: str
) -> None:
    ws.set_faults(rule(every=1, fault=fault))
    response = client.get(PATH)
    assert response.status_code == status
    assert response.json()["error_code"] == code


def test_rate_is_roughly_as_configured_and_the_seed_fixes_the_sequence(
    ws: LocalWorkspace, client: httpx.Client
) -> None:
    ws.set_faults(rule(rate=0.3, fault="http_503"))
    first = statuses(client, 200)
    assert 35 <= first.count(503) <= 85  # expected 60; the seed makes this exact, not flaky
    ws.set_faults(rule(rate=0.3, fault="http_503"))
    assert statuses(client, 200) == first
    ws.set_faults(rule(rate=0.3, fault="http_503", seed=8))
    assert statuses(client, 200) != first


def test_method_and_path_filters(ws: LocalWorkspace, client: httpx.Client) -> None:
    ws.set_faults(rule(every=1, fault="http_500", method="POST"))
    assert statuses(client, 3) == [200, 200, 200]
    assert client.post(PATH, json={"name": "x"}).status_code == 500
    assert client.get("/api/2.0/preview/scim/v2/Me").status_code == 200
    ws.set_faults(None)
    assert client.post(PATH, json={}).status_code == 400  # the real handler again


def test_reset_closes_the_connection_without_a_response(
    ws: LocalWorkspace, client: httpx.Client
) -> None:
    ws.set_faults(rule(every=2, fault="reset"))
    assert client.get(PATH).status_code == 200
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        client.get(PATH)
    assert client.get(PATH).status_code == 200  # the server lives on; a new connection works
    reset = [x for x in access_log(ws) if x.get("fault") == "reset"]
    assert len(reset) == 1 and reset[0]["status"] is None


async def test_reset_from_an_async_client(ws: LocalWorkspace) -> None:
    ws.set_faults(rule(every=1, fault="reset"))
    async with httpx.AsyncClient(base_url=ws.host) as client:
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
            await client.get(PATH)


def test_delay_slows_the_answer_down(ws: LocalWorkspace, client: httpx.Client) -> None:
    ws.set_faults(rule(every=1, fault="delay", delay_ms=200))
    started = time.monotonic()
    assert client.get(PATH).status_code == 200
    assert time.monotonic() - started >= 0.2


def test_faults_file(workspace_factory, tmp_path: Path) -> None:
    plan = tmp_path / "faults.yaml"
    plan.write_text(
        "seed: 1\nrules:\n  - path: /api/2.0/sql/warehouses*\n    method: GET\n"
        "    every: 1\n    fault: http_429\n    retry_after: 3\n"
    )
    ws = workspace_factory(faults=plan)
    response = httpx.get(ws.host + PATH, headers=bearer(fetch_token(ws)))
    assert response.status_code == 429 and response.headers["Retry-After"] == "3"


@pytest.mark.parametrize(
    ("plan", "mentions"),
    [
        ({"rules": [{"path": "/x", "fault": "explode", "every": 1}]}, "fault"),
        ({"rules": [{"path": "/x", "fault": "reset"}]}, "rate"),
        ({"rules": [{"path": "/x", "fault": "reset", "rate": 2}]}, "rate"),
        ({"rules": [{"path": "x", "fault": "reset", "every": 1}]}, "path"),
        ({"rules": [{"path": "/x", "fault": "reset", "every": 1, "typo": 1}]}, "typo"),
        ({"seed": "seven", "rules": []}, "seed"),
        ({"rulez": []}, "rulez"),
    ],
)
def test_invalid_plans_say_what_is_wrong(plan: dict, mentions: str) -> None:
    with pytest.raises(FaultPlanError, match=mentions):
        parse_plan(plan)
