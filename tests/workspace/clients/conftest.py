"""Fixtures for the real Databricks clients against a local workspace on loopback.

Each client is given only what a user gives it: a host (and port), credentials, an http_path,
and for TLS the CA file. `sent_statements(ws)` reads back what a client actually sent.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from databricks import sql
from databricks.sdk import WorkspaceClient
from databricks.sdk.core import Config, oauth_service_principal
from databricks.sql.client import Connection
from workspace_http import bearer, fetch_token, http_path, warehouse_id

from _support import workspace_client
from lakegate.workspace import LocalWorkspace


@pytest.fixture(scope="package")
def plain_workspace() -> Iterator[LocalWorkspace]:
    """One plain-HTTP workspace for the SEA, SQLAlchemy and lsql tests of this package."""
    with LocalWorkspace(warehouse_delays=0.1) as ws:
        # Every statement waits for the sample catalog; on a loaded machine generating it can
        # take longer than one statement's wait, so wait for it here (a generous bound).
        assert ws.state is not None
        assert ws.state.sql_statements.engine.samples_ready(600)  # type: ignore[attr-defined]
        yield ws


def host_and_port(ws: LocalWorkspace) -> tuple[str, int]:
    """`("http://127.0.0.1", port)`: the connector takes the port separately (`_port`)."""
    host, port = ws.host.rsplit(":", 1)
    return host, int(port)


def sea_options(ws: LocalWorkspace, **overrides: Any) -> dict[str, Any]:
    """Connection options for the connector's SEA backend over plain HTTP, OAuth M2M."""
    config = Config(
        host=ws.host,
        client_id=ws.credentials["client_id"],
        client_secret=ws.credentials["client_secret"],
    )
    host, port = host_and_port(ws)
    return {
        "server_hostname": host,  # an http:// prefix is the connector's own way to plain HTTP
        "_port": port,
        "http_path": http_path(ws),
        "credentials_provider": lambda: oauth_service_principal(config),
        "use_sea": True,
        # The connector's feature-flag and telemetry calls ignore `_port` (they would go to
        # port 80 and retry for ~30 s); a user on a non-default port turns telemetry off too.
        "enable_telemetry": False,
        **overrides,
    }


@pytest.fixture
def sea_connect(plain_workspace: LocalWorkspace) -> Iterator[Callable[..., Connection]]:
    """`sea_connect(**overrides)`: a SEA connection, closed after the test."""
    opened: list[Connection] = []

    def connect(**overrides: Any) -> Connection:
        connection = sql.connect(**sea_options(plain_workspace, **overrides))
        opened.append(connection)
        return connection

    yield connect
    for connection in opened:
        if connection.open:
            connection.close()


@pytest.fixture
def sdk_client(plain_workspace: LocalWorkspace) -> WorkspaceClient:
    """The official SDK client, OAuth M2M with the admin's credentials."""
    return workspace_client(plain_workspace)


@pytest.fixture
def rest(plain_workspace: LocalWorkspace) -> Iterator[httpx.Client]:
    """httpx on the plain workspace with the admin's token (to check what clients did)."""
    ws = plain_workspace
    with httpx.Client(base_url=ws.host, headers=bearer(fetch_token(ws)), timeout=60) as client:
        yield client


@pytest.fixture
def warehouse(plain_workspace: LocalWorkspace) -> str:
    """The id of the plain workspace's RUNNING warehouse."""
    return warehouse_id(plain_workspace)


@pytest.fixture
def sent_statements(plain_workspace: LocalWorkspace) -> Callable[[], list[tuple[str, str]]]:
    """`sent_statements()`: every statement the workspace received, oldest first, as
    `(text, final state)`: what a client actually sent."""

    def read() -> list[tuple[str, str]]:
        assert plain_workspace.state is not None
        items = plain_workspace.state.sql_statements.items.values()  # type: ignore[attr-defined]
        return [(s.text, s.state) for s in sorted(items, key=lambda s: s.created)]

    return read


@pytest.fixture
def run_sql(plain_workspace: LocalWorkspace, rest: httpx.Client) -> Callable[[str], dict[str, Any]]:
    """`run_sql(statement)`: one statement over the REST API; asserts that it succeeded."""

    def run(statement: str) -> dict[str, Any]:
        body = rest.post(
            "/api/2.0/sql/statements",
            json={
                "statement": statement,
                "warehouse_id": warehouse_id(plain_workspace),
                "wait_timeout": "50s",
            },
        ).json()
        assert body["status"]["state"] == "SUCCEEDED", body
        return body

    return run
