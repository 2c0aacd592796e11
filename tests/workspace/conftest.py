"""Fixtures for the local workspace tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest
from workspace_http import TokenGetter, bearer, fetch_token

from lakegate.workspace import LocalWorkspace


@pytest.fixture(scope="module")
def api(workspace: LocalWorkspace) -> Iterator[httpx.Client]:
    """An admin REST client on the shared workspace (modules with other needs define their own)."""
    headers = bearer(fetch_token(workspace))
    with httpx.Client(base_url=workspace.host, headers=headers, timeout=60) as client:
        yield client


@pytest.fixture(scope="module")
def warehouse(api: httpx.Client) -> str:
    """A running warehouse of the shared workspace."""
    listed = api.get("/api/2.0/sql/warehouses").json()["warehouses"]
    return next(w["id"] for w in listed if w["state"] == "RUNNING")


@pytest.fixture
def token() -> TokenGetter:
    """`token(ws, client_id=None, client_secret=None, *, scope=..., account=False)`."""
    return fetch_token


@pytest.fixture
def admin(workspace: LocalWorkspace) -> Iterator[httpx.Client]:
    """An httpx client on the session workspace with the admin's workspace token."""
    headers = bearer(fetch_token(workspace))
    with httpx.Client(base_url=workspace.host, headers=headers, timeout=10) as client:
        yield client


@pytest.fixture
def account_admin(workspace: LocalWorkspace) -> Iterator[httpx.Client]:
    """An httpx client on the account host, at `/api/2.0/accounts/{account_id}`."""
    headers = bearer(fetch_token(workspace, account=True))
    base = f"{workspace.account_host}/api/2.0/accounts/{workspace.account_id}"
    with httpx.Client(base_url=base, headers=headers, timeout=10) as client:
        yield client


@pytest.fixture
def ws(workspace_factory: Callable[..., LocalWorkspace]) -> LocalWorkspace:
    """A fresh workspace of the test's own, for tests that change its faults or warehouses."""
    return workspace_factory()


@pytest.fixture
def client(ws: LocalWorkspace) -> Iterator[httpx.Client]:
    """An httpx client on `ws` with the admin's workspace token."""
    with httpx.Client(base_url=ws.host, headers=bearer(fetch_token(ws)), timeout=10) as c:
        yield c
