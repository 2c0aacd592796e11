"""A project on the local workspace, and ways to reach `lakegate serve` with the MCP client."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from _support import client_token, databricks_connector, list_warehouses_action
from lakegate.project import Action, CopilotPolicy, Input, Project
from lakegate.secrets import SecretStore

SECRET = "dbx_client_secret"


def build_project(workspace: Any, folder: Path, **policy: Any) -> Project:
    """lakegate.yaml with the workspace's connector, plain HTTP actions and a copilot policy."""
    project = Project.new(folder / "lakegate.yaml")
    SecretStore(project.state_dir).set(SECRET, workspace.credentials["client_secret"])
    project.set_connector("databricks", databricks_connector(workspace, f"${{secret:{SECRET}}}"))
    project.set_action(
        "list_warehouses",
        list_warehouses_action(description="List the SQL warehouses: id, name and state of each."),
    )
    project.set_action(
        "start_warehouse",
        Action(
            name="start_warehouse",
            connector="databricks",
            description="Start a stopped SQL warehouse.",
            method="POST",
            path="/api/2.0/sql/warehouses/{{warehouse_id}}/start",
            inputs={"warehouse_id": Input(required=True, description="The warehouse id.")},
            idempotent=True,
        ),
    )
    project.set_action(
        "delete_warehouse",
        Action(
            name="delete_warehouse",
            connector="databricks",
            description="Delete a SQL warehouse for good.",
            method="DELETE",
            path="/api/2.0/sql/warehouses/{{warehouse_id}}",
            inputs={"warehouse_id": Input(required=True, description="The warehouse id.")},
            risk="destructive",
        ),
    )
    project.set_copilot(CopilotPolicy(**policy))
    project.save()
    return project


@pytest.fixture
def project_factory(workspace: Any, tmp_path: Path) -> Callable[..., Project]:
    """`project_factory(**policy)`: a saved project on the session workspace."""
    count = 0

    def make(**policy: Any) -> Project:
        nonlocal count
        count += 1
        folder = tmp_path / f"p{count}"
        folder.mkdir()
        return build_project(workspace, folder, **policy)

    return make


SLOW_SQL = "SELECT count(*) AS n FROM range(3000000) a, range(3000000) b WHERE a.id + b.id = 7"


def running_warehouse(workspace: Any) -> str:
    """The id of a RUNNING warehouse of the workspace (asked over HTTP, as a client would)."""
    import httpx

    creds = workspace.credentials
    token = client_token(workspace.host, creds["client_id"], creds["client_secret"], "sql all-apis")
    listing = httpx.get(
        f"{workspace.host}/api/2.0/sql/warehouses", headers={"Authorization": f"Bearer {token}"}
    ).json()
    return next(w["id"] for w in listing["warehouses"] if w["state"] == "RUNNING")


def build_sql_project(workspace: Any, folder: Path, **policy: Any) -> Project:
    """The Databricks pack on a read-only connector (so execute_sql is a read), plus a raw
    `statement_status` action the tests use to see a statement's state on the workspace."""
    from lakegate.databricks.pack import install_pack

    project = build_project(workspace, folder)
    connector = project.connectors["databricks"].model_copy(
        update={"read_only": True, "defaults": {"warehouse_id": running_warehouse(workspace)}}
    )
    project.set_connector("databricks", connector)
    for name in list(project.actions):
        project.remove_action(name)
    install_pack(project, connector)
    project.set_action(
        "statement_status",
        Action(
            name="statement_status",
            connector="databricks",
            path="/api/2.0/sql/statements/{{statement_id}}",
            inputs={"statement_id": Input(required=True)},
            output="status.state",
        ),
    )
    project.set_copilot(CopilotPolicy(**policy))
    project.save()
    return project


@pytest.fixture
def sql_project(workspace: Any, tmp_path: Path) -> Project:
    return build_sql_project(workspace, tmp_path)
