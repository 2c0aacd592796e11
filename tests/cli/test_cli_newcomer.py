"""What a new user hits (issue 14), pinned through the CLI on a real local workspace."""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable

import pytest
from cli_runner import Cli

from lakegate.errors import ConfigError
from lakegate.project import load_project

# ~1.9 MB of inline rows: over the default 1 MiB response cap.
BIG_SQL = "SELECT * FROM range(200000)"


def _big_action(cli: Cli, *extra: str) -> None:
    warehouses = json.loads(cli("call", "list_warehouses").stdout)
    starter = next(w["id"] for w in warehouses if w["name"] == "Starter Warehouse")
    body = {"statement": BIG_SQL, "warehouse_id": starter, "wait_timeout": "30s"}
    added = cli(
        "action", "add", "big_rows", "--method", "POST", "--path", "/api/2.0/sql/statements",
        "--body", json.dumps(body), "--output", "length(result.data_array)", "--risk", "read",
        *extra,
    )  # fmt: skip
    assert added.code == 0, added.output


def test_a_response_over_the_cap_fails_clearly(seeded: Callable[..., Cli]) -> None:
    cli = seeded()
    _big_action(cli)
    called = cli("call", "big_rows")
    assert called.code == 1 and called.stdout == ""  # no cut-off, invalid data
    said = " ".join(called.stderr.split())
    assert "remote.response_too_large" in said and "1,048,576-byte cap" in said
    assert "max_response_bytes" in said  # how to raise it

    as_json = json.loads(cli("call", "big_rows", "--json").stdout)
    assert as_json["ok"] is False and as_json["data"] is None
    assert as_json["error"]["code"] == "remote.response_too_large"

    tested = cli("test", "big_rows")
    assert tested.code == 1 and "Test passed" not in tested.output
    assert "Test failed" in tested.stderr


def test_the_cap_is_a_setting_per_action_and_per_connector(seeded: Callable[..., Cli]) -> None:
    cli = seeded()
    _big_action(cli)
    text = cli.project.read_text()
    cli.project.write_text(
        text.replace(
            "    output: length(", "    max_response_bytes: 4194304\n    output: length(", 1
        )
    )
    called = cli("call", "big_rows")
    assert called.code == 0, called.output
    assert json.loads(called.stdout) == 200000  # the projection ran on the whole response

    cli.project.write_text(
        text.replace("  databricks:\n", "  databricks:\n    max_response_bytes: 4194304\n", 1)
    )
    assert json.loads(cli("call", "big_rows").stdout) == 200000


UNSAFE_PATHS = ["/api/2.0/../../oidc/v1/token", "/api/2.0/%2e%2e/x", "//127.0.0.2:9/steal"]


@pytest.mark.parametrize("path", UNSAFE_PATHS)
def test_an_unsafe_path_is_refused_when_saved(cli: Cli, path: str) -> None:
    assert cli("init").code == 0
    assert cli("connector", "add", "api", "--base-url", "https://api.example.com").code == 0
    before = cli.project.read_bytes()
    run = cli("action", "add", "steal", "--path", path)
    assert run.code == 2, run.output
    said = " ".join(run.stderr.split())
    assert "is not safe" in said and "Inputs" not in said  # the path's fault, not the inputs'
    assert cli.project.read_bytes() == before


@pytest.mark.parametrize("path", UNSAFE_PATHS)
def test_an_unsafe_path_in_lakegate_yaml_is_refused_on_load(cli: Cli, path: str) -> None:
    cli.project.write_text(
        "connectors:\n  api:\n    base_url: https://api.example.com\n"
        f"actions:\n  steal:\n    connector: api\n    path: '{path}'\n"
    )
    run = cli("action", "list")
    assert run.code == 2 and "lakegate.yaml:7" in run.stderr and "is not safe" in run.stderr
    with pytest.raises(ConfigError):
        load_project(cli.project)


def test_the_studio_and_the_cli_share_the_rule() -> None:
    from lakegate.project import Action

    with pytest.raises(ValueError, match="is not safe"):  # what the Studio's form builds
        Action(name="steal", connector="api", path="/a/%2E%2E/b")
    fine = Action.model_validate(
        {"name": "fine", "connector": "api", "path": "/a/{{id}}/..x", "inputs": {"id": {}}}
    )
    assert fine.path == "/a/{{id}}/..x"


def _get_warehouse(cli: Cli) -> None:
    added = cli(
        "action", "add", "get_warehouse", "--path", "/api/2.0/sql/warehouses/{{id}}",
        "--input", "id:string", "--output", "name",
    )  # fmt: skip
    assert added.code == 0, added.output


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (("call", "list_warehouses"), 0),
        (("test", "list_warehouses"), 0),
        (("call", "get_warehouse", "-i", "id=nope"), 1),  # the workspace answers 404
        (("test", "get_warehouse", "-i", "id=nope"), 1),
        (("call", "get_warehouse"), 2),  # a required input is missing
        (("test", "get_warehouse"), 2),
        (("call", "get_warehouse", "-i", "nope=1"), 2),  # an unknown input
        (("call", "get_warehouse", "-i", "id=.."), 2),  # an input that would leave the path
        (("call", "no_such_action"), 2),
        (("doctor", "no_such_connector"), 2),
        (("connector", "show", "nope"), 2),
        (("action", "show", "nope"), 2),
        (("tools", "export", "--format", "yaml"), 2),
        (("serve", "--print-config", "emacs"), 2),
        (("no-such-command",), 2),
        (("action", "list"), 0),
        (("connector", "list"), 0),
    ],
)
def test_one_exit_code_contract(
    seeded: Callable[..., Cli], args: tuple[str, ...], code: int
) -> None:
    cli = seeded()
    _get_warehouse(cli)
    run = cli(*args)
    assert run.code == code, run.output


def test_an_unreachable_host_is_a_remote_failure(cli: Cli) -> None:
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert cli("init").code == 0
    cli("connector", "add", "api", "--base-url", f"http://127.0.0.1:{port}")
    cli("action", "add", "ping", "--path", "/ping")
    run = cli("call", "ping")
    assert run.code == 1 and "request.connect_failed" in run.stderr


def test_a_missing_input_is_told_in_plain_words(seeded: Callable[..., Cli]) -> None:
    cli = seeded()
    _get_warehouse(cli)
    said = " ".join(cli("call", "get_warehouse").stderr.split())
    assert "input 'id' is required but was not given" in said
    assert "required property" not in said and "NAME" not in said
    assert "lakegate action show get_warehouse" in said


def test_an_output_that_matches_nothing_is_reported(seeded: Callable[..., Cli]) -> None:
    cli = seeded(output="warehouse[].name")  # a typo: the key is `warehouses`
    tested = cli("test", "list_warehouses")
    said = " ".join(tested.output.split())
    assert "✓ Test passed" not in said and "matched nothing" in said
    assert "did you mean 'warehouses'" in said
    report = json.loads(cli("test", "list_warehouses", "--json").stdout)
    assert report["data"] is None and "matched nothing" in report["warnings"][0]
    called = cli("call", "list_warehouses")
    assert called.stdout == "null\n" and "matched nothing" in called.stderr


def test_version_flag_and_flags_without_placeholders(cli: Cli) -> None:
    from lakegate import __version__

    for args in (("--version",), ("version",)):
        run = cli(*args)
        assert run.code == 0 and run.stdout.strip() == f"lakegate {__version__}"
    helped = cli("action", "add", "--help", env={"COLUMNS": "160"})
    assert "<bool>" not in helped.stdout and "--replace" in helped.stdout
    assert "--declare" in helped.stdout and "--input" not in helped.stdout  # old spelling hidden


def test_declare_names_an_input_and_the_old_spelling_still_works(cli: Cli) -> None:
    assert cli("init").code == 0
    assert cli("connector", "add", "api", "--base-url", "https://api.example.com").code == 0
    assert cli("action", "add", "a1", "--path", "/x/{{id}}", "--declare", "id=7").code == 0
    assert cli("action", "add", "a2", "--path", "/x/{{id}}", "--input", "id:integer").code == 0
    project = load_project(cli.project)
    assert project.actions["a1"].inputs["id"].example == "7"
    assert project.actions["a2"].inputs["id"].type == "integer"


def test_tools_list_has_json_and_never_cuts_a_word(seeded: Callable[..., Cli]) -> None:
    cli = seeded()
    cli("action", "add", "start_warehouse", "--method", "POST",
        "--path", "/api/2.0/sql/warehouses/{{id}}/start")  # fmt: skip
    listed = json.loads(cli("tools", "list", "--json").stdout)
    by_name = {row["name"]: row for row in listed}
    assert by_name["list_warehouses"]["tool"] is True
    assert by_name["start_warehouse"]["tool"] is False and by_name["start_warehouse"]["why"]
    for columns in ("40", "60", "100"):
        text = cli("tools", "list", env={"COLUMNS": columns}).stdout
        words = set(text.split())
        for row in listed:
            assert row["name"] in words
            assert set(row["why"].split()) <= words, (columns, row["why"], text)


def test_connector_remove_says_its_hint_once(seeded: Callable[..., Cli]) -> None:
    said = " ".join(seeded()("connector", "remove", "databricks").stderr.split())
    assert said.count("--with-actions") == 2 and said.count("remove") <= 4
    assert "Remove those actions first" not in said


def test_the_demo_piped_keeps_yaml_lines_whole_and_ends_with_commands_that_work(cli: Cli) -> None:
    run = cli("demo", env={"COLUMNS": "40"})
    assert run.code == 0, run.output
    whole = "description: List the SQL warehouses this service principal can manage."
    assert whole in [line.strip() for line in run.stdout.splitlines()]
    tail = run.stdout.split("Demo passed", 1)[1]
    assert "same project" not in tail and "lakegate demo --keep" in tail
    commands = [
        shlex.split(line.strip().replace("<", "X").replace(">", "X"), comments=True)
        for line in tail.replace("\\\n", " ").splitlines()
        if line.strip().startswith("lakegate ")
    ]
    assert len(commands) >= 3
    for argv in commands:  # each parses: its command and options exist
        assert cli(*argv[1:], "--help").code == 0, argv


def test_retries_are_shown_as_they_happen(seeded: Callable[..., Cli], workspace) -> None:
    cli = seeded()
    path = "/api/2.0/sql/warehouses"
    workspace.set_faults({"seed": 1, "rules": [{"path": path, "fault": "http_503", "every": 1,
                                                 "retry_after": 0}]})  # fmt: skip
    try:
        done = cli("call", "list_warehouses")
    finally:
        workspace.set_faults({"seed": 1, "rules": []})
    assert done.code != 0
    host = workspace.host.split("://")[1]
    retries = [line for line in done.stderr.splitlines() if "retrying in" in line]
    # One line per retry, before its wait, then the failure counting every attempt.
    assert len(retries) == 8, done.stderr
    assert f"HTTP 503 from {host}: retrying in 0.0 s (attempt 2 of at most 9)" in retries[0]
    assert "(attempt 9 of at most 9)" in retries[-1]
    said = " ".join(done.stderr.split())
    assert "after 9 attempts, retried with backoff" in said
    assert said.index("attempt 9 of at most 9") < said.index("after 9 attempts")
    assert cli("call", "list_warehouses").code == 0  # nothing shown when nothing is retried
    assert "retrying" not in cli.runs[-1].output
