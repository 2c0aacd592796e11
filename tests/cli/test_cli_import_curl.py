"""`lakegate action import-curl`: a pasted curl command becomes an action; credentials stay out."""

from __future__ import annotations

import json
from collections.abc import Callable

from cli_runner import Cli

from lakegate.project import load_project


def flat(text: str) -> str:
    return " ".join(text.split())


def test_imported_get_is_saved_and_passes_test(seeded: Callable[..., Cli], workspace) -> None:
    cli = seeded()
    command = (
        f"curl -sS -X GET -H 'Authorization: Bearer dapi0123456789abcdef' \\\n"
        f"  -H 'Accept: application/json' '{workspace.host}/api/2.0/sql/warehouses?max=10'"
    )
    cli.secrets.append("dapi0123456789abcdef")
    run = cli("action", "import-curl", "imported", command, "--output", "warehouses[].name")
    assert run.code == 0, run.output
    assert "use connector auth instead" in flat(run.stderr)
    action = load_project(cli.project).actions["imported"]
    assert (action.method, action.path, action.query) == ("GET", "/api/2.0/sql/warehouses",
                                                          {"max": "10"})  # fmt: skip
    assert action.headers == {"Accept": "application/json"}
    assert "dapi0123456789abcdef" not in cli.project.read_text()
    called = cli("call", "imported")
    assert called.code == 0 and "Starter Warehouse" in json.loads(called.stdout)


def test_post_json_body_from_stdin(seeded: Callable[..., Cli], workspace) -> None:
    cli = seeded()
    command = (
        f"curl {workspace.host}/api/2.0/sql/statements "
        """--json '{"statement": "SELECT 1", "wait_timeout": "10s"}'"""
    )
    run = cli("action", "import-curl", "run_sql", "-", input=command)
    assert run.code == 0, run.output
    action = load_project(cli.project).actions["run_sql"]
    assert action.method == "POST" and action.risk == "write"
    assert action.body == {"statement": "SELECT 1", "wait_timeout": "10s"}
    assert "statement: SELECT 1" in run.stdout  # the action is shown as saved


def test_basic_credentials_suggest_a_basic_connector(cli: Cli) -> None:
    cli.secrets.append("hunter2-pass")
    assert cli("init").code == 0
    cli("connector", "add", "api", "--base-url", "https://api.example.com/v1")
    run = cli(
        "action",
        "import-curl",
        "items",
        "curl -u alice:hunter2-pass https://api.example.com/v1/items",
    )
    assert run.code == 0, run.output
    warning = flat(run.stderr)
    assert "--auth basic --username alice --password-env" in warning
    assert "connector 'api' has no auth" in warning
    assert load_project(cli.project).actions["items"].path == "/items"  # under the base path


def test_another_origin_is_an_error_with_a_hint(cli: Cli) -> None:
    assert cli("init").code == 0
    cli("connector", "add", "api", "--base-url", "https://api.example.com")
    run = cli("action", "import-curl", "items", "curl https://evil.example.com/items")
    assert run.code == 2
    assert "--base-url https://evil.example.com" in flat(run.stderr)
    assert "items" not in cli.project.read_text().split("actions:")[1]


def test_form_bodies_are_refused(cli: Cli) -> None:
    assert cli("init").code == 0
    cli("connector", "add", "api", "--base-url", "https://api.example.com")
    run = cli("action", "import-curl", "login", "curl https://api.example.com/login -d a=1 -d b=2")
    assert run.code == 2 and "form body" in flat(run.stderr) and "JSON" in run.stderr


def test_malformed_curl_is_a_usage_error(cli: Cli) -> None:
    assert cli("init").code == 0
    cli("connector", "add", "api", "--base-url", "https://api.example.com")
    run = cli("action", "import-curl", "items", "curl -X GET")
    assert run.code == 2 and "no URL" in run.stderr
