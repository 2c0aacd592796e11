"""Helpers for the local workspace tests: tokens over the real token endpoint, the running
warehouse's HTTP path, and the result-link downloads in the access log."""

from __future__ import annotations

import ssl
from collections.abc import Callable

import httpx

from _support import access_log
from lakegate.workspace import LocalWorkspace

TokenGetter = Callable[..., str]


def fetch_token(
    ws: LocalWorkspace,
    client_id: str | None = None,
    client_secret: str | None = None,
    *,
    scope: str = "all-apis",
    account: bool = False,
    verify: ssl.SSLContext | bool = True,
) -> str:
    """A client-credentials access token (the admin's by default); `verify` as httpx takes it,
    e.g. a context trusting a TLS workspace's CA file."""
    client_id = client_id or ws.credentials["client_id"]
    client_secret = client_secret or ws.credentials["client_secret"]
    url = (
        f"{ws.account_host}/oidc/accounts/{ws.account_id}/v1/token"
        if account
        else f"{ws.host}/oidc/v1/token"
    )
    response = httpx.post(
        url,
        data={"grant_type": "client_credentials", "scope": scope},
        auth=(client_id, client_secret),
        verify=verify,
    )
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def warehouse_id(ws: LocalWorkspace) -> str:
    """The seeded warehouse that is RUNNING ("Starter Warehouse")."""
    assert ws.state is not None
    return ws.state.warehouses.ids()[0]


def http_path(ws: LocalWorkspace) -> str:
    """The running warehouse's `http_path`, as the SQL connectors take it."""
    return f"/sql/1.0/warehouses/{warehouse_id(ws)}"


def downloads(ws: LocalWorkspace) -> int:
    """How many result links (CloudFetch, external links) `ws` has served so far."""
    return sum(1 for e in access_log(ws) if e["path"].startswith("/storage/statements/"))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
