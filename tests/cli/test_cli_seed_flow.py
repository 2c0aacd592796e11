"""The seed flow through the CLI on a real local workspace: init, connector, action, test, call."""

from __future__ import annotations

import json
import stat
from collections.abc import Callable

from cli_runner import Cli

from lakegate.project import load_project


def test_seed_flow_init_connector_action_test_call(seeded: Callable[..., Cli], workspace) -> None:
    cli = seeded()
    text = cli.project.read_text()
    assert "${env:LG_TEST_CLIENT_SECRET}" in text
    assert workspace.credentials["client_secret"] not in text
    project = load_project(cli.project)
    auth = project.connectors["databricks"].auth
    assert (auth.type, auth.scope, auth.client_auth) == ("oauth2", "sql all-apis", "request_body")
    assert project.actions["list_warehouses"].risk == "read"

    tested = cli("test", "list_warehouses")
    assert tested.code == 0, tested.output
    assert f"GET {workspace.host}/api/2.0/sql/warehouses" in tested.stdout
    assert "200 OK" in tested.stdout
    assert "token   fetched from the token URL" in tested.stdout
    assert "client auth  request_body" in tested.stdout
    assert "Starter Warehouse" in tested.stdout
    assert "✓ Test passed" in tested.stdout

    called = cli("call", "list_warehouses")
    assert called.code == 0
    rows = json.loads(called.stdout)  # exactly the projected output, as JSON
    assert {"id", "name"} == set(rows[0])
    assert "Starter Warehouse" in [row["name"] for row in rows]


def test_test_json_report_for_machines(seeded: Callable[..., Cli]) -> None:
    cli = seeded()
    run = cli("test", "list_warehouses", "--json")
    assert run.code == 0
    report = json.loads(run.stdout)
    assert report["ok"] is True and report["status"] == 200
    assert report["request"]["method"] == "GET"
    assert report["request"]["headers"].get("Authorization", "Bearer ***") == "Bearer ***"
    assert report["client_auth_used"] == "request_body"
    assert isinstance(report["elapsed_ms"], float)
    assert "warehouses" in report["raw"]  # before projection
    assert isinstance(report["data"], list)  # after projection


def test_call_json_envelope(seeded: Callable[..., Cli]) -> None:
    cli = seeded(output=None)
    run = cli("call", "list_warehouses", "--json")
    assert run.code == 0
    envelope = json.loads(run.stdout)
    assert set(envelope) == {"ok", "status", "data", "error", "elapsed_ms", "truncated"}
    assert envelope["data"]["warehouses"][0]["name"]


def test_list_show_remove(seeded: Callable[..., Cli], workspace) -> None:
    cli = seeded()
    listed = cli("connector", "list")
    assert listed.code == 0 and "databricks" in listed.stdout and "oauth2" in listed.stdout
    as_json = json.loads(cli("connector", "list", "--json").stdout)
    assert as_json == [
        {"name": "databricks", "base_url": workspace.host, "auth": "oauth2",
         "read_only": False, "actions": 1}
    ]  # fmt: skip

    shown = cli("connector", "show", "databricks")
    assert shown.code == 0
    assert "${env:LG_TEST_CLIENT_SECRET}" in shown.stdout
    assert "client_secret: set in the environment" in shown.stdout
    assert "actions: list_warehouses" in shown.stdout
    missing = cli("connector", "show", "databricks", env={"LG_TEST_CLIENT_SECRET": None})
    assert "MISSING (export LG_TEST_CLIENT_SECRET)" in missing.stdout

    actions = cli("action", "list")
    assert "list_warehouses" in actions.stdout and "/api/2.0/sql/warehouses" in actions.stdout
    action = json.loads(cli("action", "show", "list_warehouses", "--json").stdout)
    assert action["path"] == "/api/2.0/sql/warehouses"
    assert action["input_schema"]["type"] == "object"

    in_use = cli("connector", "remove", "databricks")
    assert in_use.code == 2 and "--with-actions" in in_use.stderr
    assert cli("action", "remove", "list_warehouses").code == 0
    assert cli("connector", "remove", "databricks").code == 0
    project = load_project(cli.project)
    assert project.connectors == {} and project.actions == {}


def test_client_secret_from_stdin_goes_to_the_secret_store(cli: Cli, workspace) -> None:
    creds = workspace.credentials
    cli.secrets.append(creds["client_secret"])
    assert cli("init").code == 0
    run = cli(
        "connector", "add", "databricks", "--base-url", workspace.host, "--auth", "oauth2",
        "--client-id", creds["client_id"], "--client-secret-stdin", "--scope", "sql all-apis",
        "--token-url", f"{workspace.host}/oidc/v1/token",
        input=creds["client_secret"] + "\n",
    )  # fmt: skip
    assert run.code == 0, run.output
    assert "${secret:databricks_client_secret}" in run.stdout
    assert "${secret:databricks_client_secret}" in cli.project.read_text()
    assert creds["client_secret"] not in cli.project.read_text()
    store = cli.folder / ".lakegate" / "secrets.json"
    assert stat.S_IMODE(store.stat().st_mode) == 0o600
    assert json.loads(store.read_text()) == {"databricks_client_secret": creds["client_secret"]}
    assert "in the local secret store" in cli("connector", "show", "databricks").stdout

    cli("action", "add", "list_warehouses", "--path", "/api/2.0/sql/warehouses")  # one connector
    assert cli("test", "list_warehouses").code == 0


def test_inputs_default_to_examples_and_are_typed(seeded: Callable[..., Cli], workspace) -> None:
    cli = seeded()
    warehouses = json.loads(cli("call", "list_warehouses").stdout)
    starter = next(w["id"] for w in warehouses if w["name"] == "Starter Warehouse")
    added = cli(
        "action", "add", "get_warehouse", "--path", "/api/2.0/sql/warehouses/{{id}}",
        "--input", f"id:string={starter}", "--output", "name",
    )  # fmt: skip
    assert added.code == 0, added.output
    tested = cli("test", "get_warehouse")  # the example is used
    assert tested.code == 0 and f"/api/2.0/sql/warehouses/{starter}" in tested.stdout
    called = cli("call", "get_warehouse", "-i", f"id={starter}")
    assert called.stdout == "Starter Warehouse\n"  # a string prints as plain text

    unknown = cli("call", "get_warehouse", "-i", "nope=1")
    assert unknown.code == 2 and "has no input 'nope'" in unknown.stderr and "id" in unknown.stderr
    malformed = cli("call", "get_warehouse", "-i", "id")
    assert malformed.code == 2 and "KEY=VALUE" in malformed.stderr


def test_input_values_are_coerced_to_declared_types(seeded: Callable[..., Cli], tmp_path) -> None:
    cli = seeded()
    cli(
        "action", "add", "search", "--path", "/api/2.0/sql/warehouses",
        "--query", "max={{max}}", "--query", "flag={{flag}}", "--query", "ids={{ids}}",
        "--input", "max:integer?", "--input", "flag:boolean?", "--input", "ids:array?",
    )  # fmt: skip
    (tmp_path / "ids.json").write_text("[1, 2]")
    ok = cli("test", "search", "-i", "max=5", "-i", "flag=yes", "-i", "ids=@ids.json", "--json")
    assert ok.code == 0, ok.output
    assert "max=5" in ok.stdout and "flag=true" in ok.stdout
    bad_int = cli("call", "search", "-i", "max=five")
    assert bad_int.code == 2
    assert "must be an integer" in bad_int.stderr and "-i max=5" in bad_int.stderr
    bad_array = cli("call", "search", "-i", "ids={}")
    assert bad_array.code == 2 and "must be an array" in bad_array.stderr


def test_a_failing_action_exits_1_with_the_remote_error(seeded: Callable[..., Cli]) -> None:
    cli = seeded()
    cli("action", "add", "missing", "--path", "/api/2.0/sql/warehouses/does-not-exist")
    tested = cli("test", "missing")
    assert tested.code == 1
    assert "404" in tested.stdout and "✗ Test failed" in tested.stderr
    assert "error" in tested.stderr
    called = cli("call", "missing")
    assert called.code == 1 and called.stdout == "" and "error" in called.stderr
    as_json = cli("call", "missing", "--json")
    assert as_json.code == 1 and json.loads(as_json.stdout)["ok"] is False


def test_missing_env_secret_is_a_config_error_with_a_hint(seeded: Callable[..., Cli]) -> None:
    cli = seeded()
    run = cli("test", "list_warehouses", env={"LG_TEST_CLIENT_SECRET": None})
    assert run.code == 2
    assert "LG_TEST_CLIENT_SECRET" in run.stderr and "hint" in run.stderr


def test_a_code_handler_action_through_the_cli(seeded: Callable[..., Cli]) -> None:
    from lakegate.gateway import ActionContext, handler

    @handler("cli_tests.count_warehouses")
    async def count(ctx: ActionContext, inputs: dict) -> dict:
        body = await ctx.json("GET", "/api/2.0/sql/warehouses")
        return {"count": len(body["warehouses"]), "label": inputs["label"]}

    cli = seeded()
    added = cli(
        "action", "add", "count", "--handler", "cli_tests.count_warehouses",
        "--input", "label:string=warehouses",
    )  # fmt: skip
    assert added.code == 0, added.output
    expected = len(json.loads(cli("call", "list_warehouses").stdout))
    tested = cli("test", "count")
    assert tested.code == 0, tested.output
    assert f'"count": {expected}' in tested.stdout and '"label": "warehouses"' in tested.stdout
    called = cli("call", "count", "-i", "label=x")
    assert json.loads(called.stdout) == {"count": expected, "label": "x"}
