"""`databricks connect` and `databricks setup`, as a library and from the CLI."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from lakegate.cli.app import app
from lakegate.copilot.policy import plan_tool, prepare_call
from lakegate.databricks import PACK_ACTIONS
from lakegate.databricks.connect import AZURE_DATABRICKS_SCOPE, discover_token_url
from lakegate.errors import PolicyError
from lakegate.gateway import Gateway
from lakegate.project import load_project
from lakegate.secrets import SecretStore
from lakegate.workspace import LocalWorkspace

from .conftest import ProjectOn, access_log


async def test_connect_writes_the_seed_connector_read_only_with_a_pinned_warehouse(
    workspace: LocalWorkspace, project_on: ProjectOn
) -> None:
    project = await project_on(workspace)
    reloaded = load_project(project.path)
    connector = reloaded.connectors["databricks"]
    auth = connector.auth
    assert connector.read_only is True
    assert auth.type == "oauth2" and auth.grant_type == "client_credentials"
    assert auth.scope == "sql all-apis" and auth.client_auth == "request_body"
    assert auth.token_url == f"{workspace.host}/oidc/v1/token"
    assert auth.client_secret == "${secret:db_secret}"
    assert set(PACK_ACTIONS) <= set(reloaded.actions)
    assert reloaded.actions["execute_sql"].risk == "read"
    text = project.path.read_text()
    assert workspace.credentials["client_secret"] not in text
    assert "read_only: true" in text
    warehouse_id = connector.defaults["warehouse_id"]
    async with Gateway(reloaded) as gw:
        found = await gw.call("get_warehouse", {})  # the pinned default fills warehouse_id
    assert found.ok and found.data["id"] == warehouse_id and found.data["state"] == "RUNNING"
    # The copilot is pinned to it: no tool takes another warehouse (which it could start).
    assert reloaded.copilot.pinned.warehouse_id == warehouse_id
    plan = plan_tool(reloaded.copilot, reloaded.actions["execute_sql"])
    assert "warehouse_id" not in plan.input_schema["properties"]
    with pytest.raises(PolicyError) as info:
        prepare_call(plan, reloaded.copilot, {"statement": "SELECT 1", "warehouse_id": "other"})
    assert info.value.code == "policy.pinned"


async def test_token_url_discovery_falls_back_to_the_usual_path() -> None:
    def nothing(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404)

    def oidc_only(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oidc/.well-known/oauth-authorization-server":
            return httpx.Response(200, json={"token_endpoint": "https://h/oidc/v1/token"})
        return httpx.Response(404)

    async with Gateway.over([], transport=httpx.MockTransport(nothing)) as gw:
        assert await discover_token_url("https://h", gw) == ("https://h/oidc/v1/token", "fallback")
    async with Gateway.over([], transport=httpx.MockTransport(oidc_only)) as gw:
        assert (await discover_token_url("https://h", gw))[1] == "oidc-discovery"


async def test_token_url_discovery_is_retried_through_the_gateway() -> None:
    answers = []

    def busy_once(request: httpx.Request) -> httpx.Response:
        answers.append(request.url.path)
        if len(answers) == 1:
            return httpx.Response(503, headers={"retry-after": "0"})
        return httpx.Response(200, json={"oidc_endpoint": "https://h/oidc"})

    async with Gateway.over([], transport=httpx.MockTransport(busy_once)) as gw:
        found = await discover_token_url("https://h", gw)
    assert found == ("https://h/oidc/v1/token", "databricks-config")
    assert answers == ["/.well-known/databricks-config"] * 2


def test_cli_connect_with_env_secret_allow_writes_and_test(
    workspace: LocalWorkspace, tmp_path: Path
) -> None:
    project = tmp_path / "lakegate.yaml"
    env = {"MY_SECRET": workspace.credentials["client_secret"]}
    done = CliRunner().invoke(
        app,
        [
            "-p", str(project), "databricks", "connect", "--host", workspace.host,
            "--client-id", workspace.credentials["client_id"], "--client-secret-env", "MY_SECRET",
            "--name", "prod", "--allow-writes",
        ],
        env=env,
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    assert "Test list_warehouses: 200 OK" in done.output
    assert "databricks-config" in done.output
    assert workspace.credentials["client_secret"] not in done.output
    loaded = load_project(project)
    assert loaded.connectors["prod"].read_only is False
    assert loaded.connectors["prod"].auth.client_secret == "${env:MY_SECRET}"
    assert loaded.actions["execute_sql"].connector == "prod"


def test_cli_connect_from_a_databrickscfg_profile_and_azure(
    workspace: LocalWorkspace, tmp_path: Path
) -> None:
    cfg = tmp_path / "databrickscfg"
    cfg.write_text(
        "[DEFAULT]\nhost = https://other.cloud.databricks.com\n\n"
        f"[local]\nhost = {workspace.host}\n"
        f"client_id = {workspace.credentials['client_id']}\n"
        f"client_secret = {workspace.credentials['client_secret']}\n"
    )
    project = tmp_path / "lakegate.yaml"
    env = {"DATABRICKS_CONFIG_FILE": str(cfg)}
    done = CliRunner().invoke(
        app, ["-p", str(project), "databricks", "connect", "--profile", "local"], env=env
    )
    assert done.exit_code == 0, done.output
    loaded = load_project(project)
    # The secret stays in the profile (rotation there reaches lakegate): nothing is copied.
    assert loaded.connectors["databricks"].auth.client_secret == (
        "${databrickscfg:local.client_secret}"
    )
    assert SecretStore(loaded.state_dir).names() == []
    assert workspace.credentials["client_secret"] not in project.read_text()

    azure = CliRunner().invoke(
        app,
        [
            "-p", str(tmp_path / "az.yaml"), "databricks", "connect",
            "--host", "adb-123.4.azuredatabricks.net", "--client-id", "app-id",
            "--client-secret-env", "AZ_SECRET", "--azure-tenant", "tenant-1", "--no-test",
        ],
        env={"AZ_SECRET": "x" * 20},
    )  # fmt: skip
    assert azure.exit_code == 0, azure.output
    auth = load_project(tmp_path / "az.yaml").connectors["databricks"].auth
    assert auth.token_url == "https://login.microsoftonline.com/tenant-1/oauth2/v2.0/token"
    assert auth.scope == AZURE_DATABRICKS_SCOPE


def test_cli_connect_without_a_secret_says_how_to_give_one(tmp_path: Path) -> None:
    done = CliRunner().invoke(
        app,
        ["-p", str(tmp_path / "l.yaml"), "databricks", "connect",
         "--host", "h.cloud.databricks.com", "--client-id", "x"],
        env={"DATABRICKS_CLIENT_SECRET": ""},
    )  # fmt: skip
    assert done.exit_code != 0
    assert "client secret" in str(done.exception).lower()


def _setup_args(ws: LocalWorkspace, project: Path, name: str, *extra: str) -> list[str]:
    return [
        "-p", str(project), "databricks", "setup",
        "--account-host", ws.account_host, "--account-id", ws.account_id,
        "--workspace-id", ws.workspace_id, "--name", name, "--host", ws.host,
        "--admin-client-id", ws.credentials["client_id"], "--admin-secret-env", "ADMIN_SECRET",
        *extra,
    ]  # fmt: skip


def test_setup_end_to_end_and_idempotent_on_rerun(
    workspace_factory: Callable[..., LocalWorkspace], project_on: ProjectOn, tmp_path: Path
) -> None:
    ws = workspace_factory()
    warehouse_id = asyncio.run(project_on(ws)).connectors["databricks"].defaults["warehouse_id"]
    project = tmp_path / "setup" / "lakegate.yaml"
    project.parent.mkdir()
    env = {"ADMIN_SECRET": ws.credentials["client_secret"]}
    args = _setup_args(ws, project, "lakegate-copilot", "--grant-warehouse", warehouse_id)

    first = CliRunner().invoke(app, args, env=env)
    assert first.exit_code == 0, first.output
    assert "Created service principal 'lakegate-copilot'" in first.output
    assert "Granted CAN_USE on warehouse" in first.output
    said = " ".join(first.output.split())
    # Granted CAN_USE only: usable by id, and said so honestly (not "list_warehouses shows it").
    assert f"Checked: it can use warehouse {warehouse_id} (CAN_USE)" in said
    assert "✓ Warning" not in said and "warning" not in said
    store = SecretStore(project.parent / ".lakegate")
    secret = store.get("databricks_client_secret")
    assert secret and secret not in first.output  # stored, never printed
    loaded = load_project(project)
    client_id = loaded.connectors["databricks"].auth.client_id
    assert client_id != ws.credentials["client_id"]
    assert loaded.connectors["databricks"].defaults["warehouse_id"] == warehouse_id

    async def select_one() -> bool:
        async with Gateway(load_project(project)) as gw:
            return (await gw.call("execute_sql", {"statement": "SELECT 1"})).ok

    assert asyncio.run(select_one())  # the new principal can use the granted warehouse

    again = CliRunner().invoke(app, args, env=env)
    assert again.exit_code == 0, again.output
    assert "Found service principal 'lakegate-copilot'" in again.output
    assert "Kept its working OAuth secret" in again.output
    assert store.get("databricks_client_secret") == secret
    assert load_project(project).connectors["databricks"].auth.client_id == client_id

    def same_name() -> int:
        principals = ws.state.identity.principals.values()
        return sum(p.display_name == "lakegate-copilot" for p in principals)

    assert ws.call(same_name) == 1


def test_setup_shows_the_secret_only_when_asked_and_refuses_a_wrong_admin(
    workspace: LocalWorkspace, tmp_path: Path
) -> None:
    project = tmp_path / "lakegate.yaml"
    env = {"ADMIN_SECRET": workspace.credentials["client_secret"]}
    shown = CliRunner().invoke(
        app, _setup_args(workspace, project, "shown-sp", "--show-secret", "--no-connect"), env=env
    )
    assert shown.exit_code == 0, shown.output
    secret = SecretStore(tmp_path / ".lakegate").get("databricks_client_secret")
    assert f"secret: {secret}" in shown.output
    wrong = CliRunner().invoke(
        app,
        _setup_args(workspace, project, "x-sp", "--no-connect"),
        env={"ADMIN_SECRET": "nope" * 8},
    )
    assert wrong.exit_code != 0
    assert wrong.exception is not None and wrong.exception.code == "auth.token_failed"


def test_connect_writes_nothing_unless_it_all_succeeds(
    workspace: LocalWorkspace, tmp_path: Path
) -> None:
    project = tmp_path / "lakegate.yaml"
    args = ["-p", str(project), "databricks", "connect", "--host", workspace.host,
            "--client-id", workspace.credentials["client_id"]]  # fmt: skip
    wrong = {"MY_SECRET": "dose-wrong-secret-4444444444"}
    failed = CliRunner().invoke(app, [*args, "--client-secret-env", "MY_SECRET"], env=wrong)
    assert failed.exit_code == 1, failed.output
    assert not project.exists()  # no connector and 18 actions left behind
    assert "No warehouse pinned" not in failed.output and "Nothing was written" in failed.output
    assert "✓" not in failed.output

    stdin = CliRunner().invoke(
        app, [*args, "--client-secret-stdin", "--connector-name", "prod"], input="dose-wrong-55\n"
    )
    assert stdin.exit_code == 1 and not project.exists()
    assert SecretStore(tmp_path / ".lakegate").get("prod_client_secret") is None

    good = {"MY_SECRET": workspace.credentials["client_secret"]}
    done = CliRunner().invoke(
        app, [*args, "--client-secret-env", "MY_SECRET", "--connector-name", "prod"], env=good
    )
    assert done.exit_code == 0, done.output
    before = project.read_bytes()
    again = CliRunner().invoke(
        app, [*args, "--client-secret-env", "MY_SECRET", "--connector-name", "prod"], env=wrong
    )
    assert again.exit_code == 1 and project.read_bytes() == before


def test_connect_and_setup_name_options_say_whose_name(
    workspace: LocalWorkspace, tmp_path: Path
) -> None:
    connect_help = CliRunner().invoke(app, ["databricks", "connect", "--help"]).output
    setup_help = CliRunner().invoke(app, ["databricks", "setup", "--help"]).output
    assert "--connector-name" in connect_help and "--name " not in connect_help
    assert "--principal-name" in setup_help and "--name " not in setup_help


def test_setup_without_a_workspace_url_is_refused_before_anything_is_created(
    workspace_factory: Callable[..., LocalWorkspace], tmp_path: Path
) -> None:
    ws = workspace_factory()
    project = tmp_path / "lakegate.yaml"
    args = [a for a in _setup_args(ws, project, "early") if a not in ("--host", ws.host)]
    before = len(access_log(ws))
    env = {**os.environ, "ADMIN_SECRET": ws.credentials["client_secret"], "COLUMNS": "200"}
    env.pop("DATABRICKS_HOST", None)
    done = subprocess.run(
        [sys.executable, "-m", "lakegate", *args], env=env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "needs the workspace URL" in done.stderr and "--no-connect" in done.stderr
    assert "Traceback" not in done.stderr
    assert access_log(ws)[before:] == []  # no principal, secret or assignment left behind
    assert not project.exists()


def test_setup_grants_a_copilot_read_access_and_nothing_more(
    workspace_factory: Callable[..., LocalWorkspace], project_on: ProjectOn, tmp_path: Path
) -> None:
    ws = workspace_factory()
    admin = asyncio.run(project_on(ws))
    warehouse_id = admin.connectors["databricks"].defaults["warehouse_id"]

    async def as_admin(sql: str) -> None:
        async with Gateway(admin) as gw:  # the admin connector is read-only: a raw statement
            reply = await gw.request("databricks", "POST", "/api/2.0/sql/statements", json={
                "statement": sql, "warehouse_id": warehouse_id, "wait_timeout": "30s"})  # fmt: skip
            assert reply.json_object()["status"]["state"] == "SUCCEEDED", reply.text

    for sql in ("CREATE SCHEMA main.sales", "CREATE SCHEMA main.hr",
                "CREATE TABLE main.sales.orders AS SELECT 7 AS n",
                "CREATE TABLE main.hr.pay AS SELECT 9 AS n"):  # fmt: skip
        asyncio.run(as_admin(sql))
    project = tmp_path / "lakegate.yaml"
    env = {"ADMIN_SECRET": ws.credentials["client_secret"]}
    args = _setup_args(ws, project, "reader", "--grant-warehouse", warehouse_id,
                       "--grant-read", "main.sales")  # fmt: skip
    done = CliRunner().invoke(app, args, env=env)
    assert done.exit_code == 0, done.output
    assert "Granted read access to main.sales: USE CATALOG on catalog main; USE SCHEMA, SELECT " \
        "on schema main.sales" in " ".join(done.output.split())  # fmt: skip
    loaded = load_project(project)
    assert list(loaded.copilot.pinned.schemas) == ["main.sales"]

    async def run(sql: str) -> Any:
        async with Gateway(load_project(project)) as gw:
            return await gw.call("execute_sql", {"statement": sql})

    assert asyncio.run(run("SELECT n FROM main.sales.orders")).ok
    refused = asyncio.run(run("SELECT n FROM main.hr.pay"))
    assert refused.error is not None and refused.error.code == "policy.permission_denied"
    assert "main.hr" in refused.error.message

    from lakegate.databricks.doctor import diagnose

    steps = {s.name: s for s in asyncio.run(diagnose(loaded, "databricks"))}
    assert steps["least privilege"].status == "passed", steps["least privilege"].to_dict()


def test_setup_refuses_a_malformed_read_grant_before_anything_is_created(
    workspace: LocalWorkspace, tmp_path: Path
) -> None:
    before = len(access_log(workspace))
    args = _setup_args(workspace, tmp_path / "l.yaml", "x", "--grant-read", "main.a.b.c")
    env = {**os.environ, "ADMIN_SECRET": "whatever-secret-value-123", "COLUMNS": "200"}
    done = subprocess.run([sys.executable, "-m", "lakegate", *args], env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 2 and "catalog.schema.table" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert access_log(workspace)[before:] == []
