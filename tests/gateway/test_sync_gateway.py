"""`SyncGateway`: the gateway for scripts and notebooks, on a real local workspace."""

from __future__ import annotations

import asyncio
import threading
from importlib.resources import files
from pathlib import Path

import pytest

import lakegate
from _support import access_log, databricks_connector, list_warehouses_action
from lakegate.project import Project
from lakegate.workspace import LocalWorkspace


@pytest.fixture
def project_file(
    workspace: LocalWorkspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    monkeypatch.setenv("LG_SYNC_SECRET", workspace.credentials["client_secret"])
    project = Project.new(tmp_path / "lakegate.yaml")
    project.set_connector("databricks", databricks_connector(workspace, "${env:LG_SYNC_SECRET}"))
    project.set_action("list_warehouses", list_warehouses_action())
    project.save()
    return project.path


def _token_requests(ws: LocalWorkspace) -> int:
    return sum(1 for r in access_log(ws) if r.get("path") == "/oidc/v1/token")


def test_a_script_calls_without_async_and_reuses_its_token(
    workspace: LocalWorkspace, project_file: Path
) -> None:
    before = _token_requests(workspace)
    with lakegate.SyncGateway.from_file(project_file) as gw:
        first = gw.call("list_warehouses")
        second = gw.test("list_warehouses")
        assert [a.name for a in gw.actions()] == ["list_warehouses"]
    assert first.ok and second.ok, (first.error, second.error)
    assert first.data and {"id", "name", "state"} <= set(first.data[0])
    assert second.token_from_cache  # one loop across calls: the token and pool live on
    assert _token_requests(workspace) - before == 1
    assert not [t for t in threading.enumerate() if t.name == "lakegate-gateway"]


def test_it_works_where_an_event_loop_already_runs(project_file: Path) -> None:
    async def notebook_cell() -> bool:  # Jupyter runs cells inside a running loop
        with lakegate.SyncGateway.from_file(project_file) as gw:
            return gw.call("list_warehouses").ok

    assert asyncio.run(notebook_cell())


def test_failures_come_back_as_results_and_the_package_is_typed(project_file: Path) -> None:
    with lakegate.SyncGateway.from_file(project_file) as gw:
        missing = gw.call("no_such_action")
    assert not missing.ok and missing.error is not None
    assert missing.error.code == "config.not_found"
    assert files("lakegate").joinpath("py.typed").is_file()
