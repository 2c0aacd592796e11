"""`lakegate doctor` sends its requests through the gateway: a busy workspace or token endpoint
(one 503, then an answer) is retried as an action's request would be, not reported as broken.

Each fault plan answers the first matching request with 503 and lets the second through: the
first rule fires on every second request (a zero-length delay, i.e. passed on), the second rule
catches the others. What is pinned is read off the workspace's access log.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from lakegate.databricks.doctor import Step, diagnose
from lakegate.workspace import LocalWorkspace

from .conftest import ProjectOn, access_log

WAREHOUSES = "/api/2.0/sql/warehouses"
TOKEN = "/oidc/v1/token"


def first_busy(method: str, path: str) -> dict:
    """Requests 1, 3, 5 ... of `method path` answer 503 (Retry-After: 0); 2, 4, 6 ... pass."""
    return {"seed": 1, "rules": [
        {"path": path, "method": method, "fault": "delay", "every": 2, "delay_ms": 0},
        {"path": path, "method": method, "fault": "http_503", "every": 1, "retry_after": 0},
    ]}  # fmt: skip


def statuses(ws: LocalWorkspace, method: str, path: str, after: int) -> list[int]:
    return [
        e["status"] for e in access_log(ws)[after:] if (e["method"], e["path"]) == (method, path)
    ]


def step(steps: list[Step], name: str) -> Step:
    return next(s for s in steps if s.name == name)


@pytest.fixture
def ws(workspace_factory: Callable[..., LocalWorkspace]) -> LocalWorkspace:
    """A workspace of this test's own: its faults change."""
    return workspace_factory()


async def test_a_503_on_list_warehouses_is_retried(
    ws: LocalWorkspace, project_on: ProjectOn
) -> None:
    project = await project_on(ws)
    before = len(access_log(ws))
    ws.set_faults(first_busy("GET", WAREHOUSES))
    try:
        steps = await diagnose(project, "databricks", account_host=ws.account_host)
    finally:
        ws.set_faults(None)
    # (the workspace's admin principal: least privilege is a warning, not a failure)
    assert all(s.status in ("passed", "warning") for s in steps), [s.to_dict() for s in steps]
    assert "HTTP 200" in step(steps, "list_warehouses").detail
    assert statuses(ws, "GET", WAREHOUSES, before) == [503, 200]  # sent twice, by the gateway


async def test_a_busy_token_endpoint_is_retried_in_both_client_auth_modes(
    ws: LocalWorkspace, project_on: ProjectOn
) -> None:
    project = await project_on(ws)
    before = len(access_log(ws))
    ws.set_faults(first_busy("POST", TOKEN))
    try:
        steps = await diagnose(project, "databricks")
    finally:
        ws.set_faults(None)
    token = step(steps, "token request")
    assert token.status == "passed", token.to_dict()
    assert token.detail == "request_body: works; basic_header: works"
    # One token per mode, each after one 503: the API calls reuse the connector's token.
    assert statuses(ws, "POST", TOKEN, before) == [503, 200, 503, 200]
    assert all(s.ok for s in steps), [s.to_dict() for s in steps]  # secret expiry: skipped
