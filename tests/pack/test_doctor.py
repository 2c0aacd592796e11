"""`lakegate doctor`: each broken setup is named with its cause and its fix."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path

import httpx
from typer.testing import CliRunner

from lakegate.cli.app import app
from lakegate.databricks.doctor import Step, diagnose
from lakegate.project import Connector, Project
from lakegate.workspace import LocalWorkspace

from .conftest import ProjectOn


def by_name(steps: list[Step]) -> dict[str, Step]:
    return {s.name: s for s in steps}


def failed(steps: list[Step]) -> Step:
    bad = [s for s in steps if s.status == "failed"]
    assert len(bad) == 1, [s.to_dict() for s in steps]
    after = steps[steps.index(bad[0]) + 1 :]
    assert all(s.status == "skipped" for s in after)
    return bad[0]


async def test_healthy_connector_passes_every_step(
    workspace: LocalWorkspace, project_on: ProjectOn
) -> None:
    project = await project_on(workspace)
    steps = await diagnose(project, "databricks", account_host=workspace.account_host)
    assert [s.name for s in steps] == [
        "base URL is https (or loopback)",
        "TCP/TLS reach",
        "OIDC discovery",
        "token request",
        "granted scopes",
        "list_warehouses",
        "warehouse visibility",
        "SELECT 1 on the pinned warehouse",
        "least privilege",
        "secret expiry",
    ]
    named = by_name(steps)
    # The workspace's own admin principal works, and doctor says it is too much for a copilot.
    admin = named.pop("least privilege")
    assert admin.status == "warning" and admin.ok, admin.to_dict()
    assert "is a workspace admin" in admin.cause and "--grant-read" in admin.fix
    assert all(s.status == "passed" for s in named.values()), [s.to_dict() for s in steps]
    assert "request_body: works; basic_header: works" in named["token request"].detail
    assert "expires" in named["secret expiry"].detail
    assert all(s.ms >= 0 for s in steps)


async def test_wrong_secret(workspace: LocalWorkspace, project_on: ProjectOn) -> None:
    project = await project_on(workspace, client_secret="dose-wrong-secret-0000000000")
    step = failed(await diagnose(project, "databricks", account_host=workspace.account_host))
    assert step.name == "token request"
    assert "secret is wrong or expired" in step.cause
    assert "new OAuth secret" in step.fix
    assert "dose-wrong" not in step.cause + step.fix + step.detail


async def test_unassigned_principal(workspace: LocalWorkspace, project_on: ProjectOn) -> None:
    sp = workspace.create_service_principal("doctor-unassigned", assign=False)
    project = await project_on(
        workspace, client_id=sp["client_id"], client_secret=sp["client_secret"]
    )
    step = failed(await diagnose(project, "databricks", account_host=workspace.account_host))
    assert step.name == "token request"
    assert "not assigned to this workspace" in step.cause
    assert "Assign it" in step.fix
    # Without the account host, doctor cannot tell the two apart, and says both.
    unsure = failed(await diagnose(project, "databricks"))
    assert "not assigned" in unsure.cause and "secret is wrong" in unsure.cause


async def test_wrong_token_url(workspace: LocalWorkspace, project_on: ProjectOn) -> None:
    project = await project_on(
        workspace, token_url=f"{workspace.host}/oidc/v2/token", run_test=False
    )
    step = failed(await diagnose(project, "databricks"))
    assert step.name == "OIDC discovery"
    assert "/oidc/v2/token" in step.cause
    assert f"token_url: {workspace.host}/oidc/v1/token" in step.fix


async def test_principal_without_warehouse_permission(
    workspace: LocalWorkspace, project_on: ProjectOn
) -> None:
    sp = workspace.create_service_principal("doctor-no-warehouse")
    project = await project_on(
        workspace, client_id=sp["client_id"], client_secret=sp["client_secret"]
    )
    step = failed(await diagnose(project, "databricks"))
    assert step.name == "warehouse visibility"
    assert "the service principal has CAN_MANAGE on no warehouse" in step.cause
    assert "--warehouse-id" in step.fix
    # With a warehouse pinned, the SELECT 1 says which permission is missing.
    pinned = await project_on(
        workspace,
        client_id=sp["client_id"],
        client_secret=sp["client_secret"],
        warehouse_id=(await project_on(workspace))
        .connectors["databricks"]
        .defaults["warehouse_id"],
    )
    # Pinned but not readable either: the copilot's list_warehouses would be empty.
    step = failed(await diagnose(pinned, "databricks"))
    assert step.name == "warehouse visibility"
    assert "list_warehouses would be empty" in step.cause and "CAN_USE" in step.fix


async def test_a_can_use_principal_sees_its_pinned_warehouse(
    workspace: LocalWorkspace, project_on: ProjectOn
) -> None:
    warehouse = (await project_on(workspace)).connectors["databricks"].defaults["warehouse_id"]
    sp = workspace.create_service_principal(
        "doctor-can-use", warehouse_permission={warehouse: "CAN_USE"}
    )
    project = await project_on(
        workspace,
        client_id=sp["client_id"],
        client_secret=sp["client_secret"],
        warehouse_id=warehouse,
    )
    steps = await diagnose(project, "databricks")
    visibility = next(s for s in steps if s.name == "warehouse visibility")
    assert visibility.ok and "list_warehouses shows the pinned" in visibility.detail
    least = by_name(steps)["least privilege"]
    assert least.status == "passed" and "not a workspace admin" in least.detail, least.to_dict()


async def test_a_principal_that_can_write_where_the_copilot_is_pinned_is_a_warning(
    workspace: LocalWorkspace, project_on: ProjectOn
) -> None:
    from lakegate.project import CopilotPolicy

    warehouse = (await project_on(workspace)).connectors["databricks"].defaults["warehouse_id"]
    sp = workspace.create_service_principal(
        "doctor-writer", warehouse_permission={warehouse: "CAN_USE"}
    )
    project = await project_on(
        workspace, client_id=sp["client_id"], client_secret=sp["client_secret"],
        warehouse_id=warehouse,
    )  # fmt: skip
    project.set_copilot(CopilotPolicy.model_validate(
        {"pinned": {"catalogs": ["main"], "schemas": ["main.default"]}}))  # fmt: skip
    project.save()
    creds = workspace.credentials
    token = httpx.post(f"{workspace.host}/oidc/v1/token", auth=(creds["client_id"],
        creds["client_secret"]), data={"grant_type": "client_credentials", "scope": "all-apis"},
    ).json()["access_token"]  # fmt: skip
    httpx.patch(
        f"{workspace.host}/api/2.1/unity-catalog/permissions/schema/main.default",
        json={"changes": [{"principal": sp["client_id"], "add": ["USE_SCHEMA", "MODIFY"]}]},
        headers={"Authorization": f"Bearer {token}"},
    ).raise_for_status()
    steps = await diagnose(project, "databricks")
    least = by_name(steps)["least privilege"]
    assert least.status == "warning", least.to_dict()
    assert "can write where the copilot is pinned: MODIFY on schema main.default" in least.cause
    assert "earlier step failed" not in by_name(steps)["secret expiry"].detail  # none stopped


def test_generic_connector_and_cli_exit_codes(
    workspace: LocalWorkspace, project_on: ProjectOn, tmp_path: Path
) -> None:
    healthy = asyncio.run(project_on(workspace))
    ok = CliRunner().invoke(app, ["-p", str(healthy.path), "doctor", "--json"])
    assert ok.exit_code == 0, ok.output
    report = json.loads(ok.output)
    assert report["ok"] is True and len(report["steps"]) == 10
    assert [s["status"] for s in report["steps"]].count("warning") == 1  # an admin principal
    shown = CliRunner().invoke(app, ["-p", str(healthy.path), "doctor"])
    assert shown.exit_code == 0 and "! least privilege" in shown.output
    assert "all steps passed (1 warning)" in shown.output and "--grant-read" in shown.output

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    project = Project.new(tmp_path / "generic.yaml")
    project.set_connector("billing", Connector(name="billing", base_url=f"http://127.0.0.1:{port}"))
    project.save()
    down = CliRunner().invoke(app, ["-p", str(project.path), "doctor", "billing"])
    assert down.exit_code == 1
    assert "TCP/TLS reach" in down.output and "cause" in down.output
    assert "credentials" in down.output  # the generic plan, skipped after the failure


def test_doctor_blocks_plain_http_to_a_remote_host(tmp_path: Path) -> None:
    project = Project.new(tmp_path / "l.yaml")
    project.set_connector("api", Connector(name="api", base_url="http://example.com"))
    steps = asyncio.run(diagnose(project, "api"))
    step = failed(steps)
    assert step.name == "base URL is https (or loopback)" and "https://" in step.fix


async def test_a_token_without_all_apis_fails_the_scope_step(
    workspace: LocalWorkspace, project_on: ProjectOn
) -> None:
    project = await project_on(workspace)
    connector = project.connectors["databricks"]
    narrow = connector.model_copy(
        update={"auth": connector.auth.model_copy(update={"scope": "sql"})}
    )
    project.set_connector("databricks", narrow)
    step = failed(await diagnose(project, "databricks"))
    assert step.name == "granted scopes"  # not "all steps passed"
    assert "all-apis" in step.cause and "scope: sql all-apis" in step.fix


async def test_the_fix_for_a_wrong_secret_names_where_it_is_read_from(
    workspace: LocalWorkspace, project_on: ProjectOn, monkeypatch
) -> None:
    project = await project_on(workspace)
    monkeypatch.setenv("LG_DOCTOR_SECRET", "dose-wrong-secret-1111111111")
    connector = project.connectors["databricks"]
    auth = connector.auth.model_copy(update={"client_secret": "${env:LG_DOCTOR_SECRET}"})
    project.set_connector("databricks", connector.model_copy(update={"auth": auth}))
    step = failed(await diagnose(project, "databricks"))
    assert "export LG_DOCTOR_SECRET=" in step.fix and "secret set" not in step.fix
    assert "--account-host" in step.fix  # it would tell a wrong secret from an unassigned one

    wrong = await project_on(workspace, client_secret="dose-x-22222222")
    stored = failed(await diagnose(wrong, "databricks"))
    assert "lakegate secret set db_secret" in stored.fix and "--account-host" in stored.fix
    told = failed(await diagnose(await project_on(workspace, client_secret="dose-x-3333333"),
                                 "databricks", account_host=workspace.account_host))  # fmt: skip
    assert "--account-host" not in told.fix


def test_doctor_says_which_of_several_connectors_it_diagnoses(
    workspace: LocalWorkspace, project_on: ProjectOn
) -> None:
    project = asyncio.run(project_on(workspace))
    project.set_connector("billing", Connector(name="billing", base_url="https://billing.example"))
    project.save()
    run = CliRunner().invoke(app, ["-p", str(project.path), "doctor"])
    assert run.exit_code == 0, run.output
    assert "Diagnosing connector 'databricks'" in run.output and "billing" in run.output
