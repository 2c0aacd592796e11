"""User mistakes exit 2 with a message and a hint, never a traceback; the file is unchanged."""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable

import pytest
from cli_runner import Cli

SECRETISH = "dose4f1b9c2d7e8a0b3c5d6e7f8a9b0c1d2"


def unchanged_after(cli: Cli, *args: str, **kwargs) -> str:
    """Run a failing command; assert exit 2, a hint, and lakegate.yaml byte for byte the same."""
    before = cli.project.read_bytes() if cli.project.exists() else None
    run = cli(*args, **kwargs)
    assert run.code == 2, run.output
    assert "error" in run.stderr and "hint" in run.stderr, run.stderr
    after = cli.project.read_bytes() if cli.project.exists() else None
    assert after == before
    return " ".join(run.stderr.split())  # rich wraps long lines


def test_no_project_says_to_run_init(cli: Cli) -> None:
    for args in (("connector", "list"), ("action", "list"), ("test", "x1"), ("call", "x1")):
        stderr = unchanged_after(cli, *args)
        assert "lakegate init" in stderr


def test_init_twice_is_refused(cli: Cli) -> None:
    assert cli("init").code == 0
    assert "already exists" in unchanged_after(cli, "init")


def test_project_flag_and_environment_variable(cli: Cli) -> None:
    other = cli.folder / "sub" / "other.yaml"
    other.parent.mkdir()
    assert cli("--project", str(other), "init").code == 0
    assert other.exists() and not cli.project.exists()
    run = cli("connector", "add", "api", "--base-url", "https://api.example.com",
              env={"LAKEGATE_PROJECT": str(other)})  # fmt: skip
    assert run.code == 0
    assert "api:" in other.read_text()


B = "--base-url https://b.example.com"
OAUTH = f"connector add other {B} --auth oauth2 --client-id abc"


@pytest.mark.parametrize(
    ("command", "fragment"),
    [
        (f"connector add databricks {B}", "--replace"),
        (f"connector add x {B}", "not allowed"),
        (f"connector add 'bad name' {B}", "not allowed"),
        ("connector add other --base-url ftp://b.example.com", "http(s) URL"),
        (f"connector add other {B} --api-key-env K --token-env T", "different auth types"),
        (f"connector add other {B} --auth bearer --client-id abc", "with --auth bearer"),
        (f"{OAUTH} --client-secret-env S", "--token-url"),
        (f"{OAUTH} --token-url https://b.example.com/t", "--client-secret-env"),
        (f"connector add other {B} --client-secret-stdin --password-stdin", "Only one secret"),
        (f"connector add other {B} --api-key-env K", "header"),
        (f"connector add other {B} --token-param novalue", "KEY=VALUE"),
        ("connector show nope", "There is no connector"),
        ("connector remove databrick", "Did you mean 'databricks'"),
        ("action add a1 --connector nope --path /x", "no connector"),
        ("action add a1 --path x", "must start with '/'"),
        ("action add a1", "--path"),
        ("action add a1 --path /x --output '[[['", "JMESPath"),
        ("action add a1 --path /x --input a:blob", "NAME[:TYPE]"),
        ("action add a1 --path /x --input n:integer=ten", "not a valid integer"),
        ("action add a1 --path /x --method FETCH", "method"),
        ("action add a1 --path /x --body '{oops'", "not valid JSON"),
        ("action add a1 --path /x --header 'Authorization: Bearer abcd'", "carries a credential"),
        ("action add a1 --path /x --header no-colon", "'Name: value'"),
        ("action show nope", "There is no action"),
        ("action remove nope", "There is no action"),
        ("secret remove nope", "no secret"),
    ],
)
def test_mistakes_exit_2_with_a_hint_and_leave_the_file_alone(
    cli: Cli, command: str, fragment: str
) -> None:
    assert cli("init").code == 0
    cli("connector", "add", "databricks", "--base-url", "https://a.example.com")
    stderr = unchanged_after(cli, *shlex.split(command))
    assert fragment in stderr


def test_typer_usage_errors_exit_2(cli: Cli) -> None:
    assert cli("init").code == 0
    bad_choice = cli("connector", "add", "c1", "--base-url", "https://a.b", "--auth", "kerberos")
    assert bad_choice.code == 2 and "kerberos" in bad_choice.stderr
    missing = cli("connector", "add", "c1")
    assert missing.code == 2 and "--base-url" in missing.stderr


def test_a_pasted_secret_in_an_env_flag_is_refused_and_never_echoed(cli: Cli) -> None:
    cli.secrets.append(SECRETISH)
    assert cli("init").code == 0
    stderr = unchanged_after(
        cli, "connector", "add", "c1", "--base-url", "https://a.example.com", "--auth", "oauth2",
        "--client-id", "id", "--client-secret-env", SECRETISH,
        "--token-url", "https://a.example.com/t",
    )  # fmt: skip
    assert "rotate it" in stderr
    assert SECRETISH not in cli.project.read_text()


def test_with_actions_removes_the_connector_and_its_actions(cli: Cli) -> None:
    assert cli("init").code == 0
    cli("connector", "add", "c1", "--base-url", "https://a.example.com")
    cli("action", "add", "a1", "--path", "/x")
    cli("action", "add", "a2", "--path", "/y")
    run = cli("connector", "remove", "c1", "--with-actions")
    assert run.code == 0 and "a1, a2" in run.stdout
    assert "a1" not in cli.project.read_text()


def test_action_needs_a_connector_choice_when_there_are_several(cli: Cli) -> None:
    assert cli("init").code == 0
    cli("connector", "add", "c1", "--base-url", "https://a.example.com")
    cli("connector", "add", "c2", "--base-url", "https://b.example.com")
    stderr = unchanged_after(cli, "action", "add", "a1", "--path", "/x")
    assert "--connector" in stderr and "c1, c2" in stderr


def test_replace_overwrites(cli: Cli) -> None:
    assert cli("init").code == 0
    cli("connector", "add", "c1", "--base-url", "https://a.example.com")
    run = cli("connector", "add", "c1", "--base-url", "https://b.example.com", "--replace")
    assert run.code == 0 and "https://b.example.com" in cli.project.read_text()


def test_every_auth_type_from_flags(cli: Cli) -> None:
    assert cli("init").code == 0
    env = {"K": "k-value-1", "T": "t-value-2", "P": "p-value-3"}
    cli.secrets.extend(env.values())
    runs = [
        cli("connector", "add", "none1", "--base-url", "https://a.example.com"),
        cli("connector", "add", "key1", "--base-url", "https://a.example.com", "--api-key-env",
            "K", "--api-key-header", "X-API-Key", "--api-key-pattern", "Key %s", env=env),
        cli("connector", "add", "key2", "--base-url", "https://a.example.com", "--api-key-env",
            "K", "--api-key-query", "api_key", env=env),
        cli("connector", "add", "bear1", "--base-url", "https://a.example.com", "--token-env", "T",
            env=env),
        cli("connector", "add", "basic1", "--base-url", "https://a.example.com", "--username",
            "bob", "--password-stdin", input="p-value-3\n"),
        cli("connector", "add", "pw1", "--base-url", "https://a.example.com", "--auth", "oauth2",
            "--grant-type", "password", "--username", "bob", "--password-env", "P",
            "--client-id", "app", "--token-url", "https://a.example.com/token",
            "--token-param", "resource=https://r.example.com", "--token-header", "X-Tenant: t1",
            env=env),
        cli("connector", "add", "rt1", "--base-url", "https://a.example.com", "--auth", "oauth2",
            "--grant-type", "refresh_token", "--refresh-token-stdin",
            "--token-url", "https://a.example.com/token", input="t-value-2"),
    ]  # fmt: skip
    assert [r.code for r in runs] == [0] * len(runs), [r.stderr for r in runs]
    listed = {c["name"]: c["auth"] for c in json.loads(cli("connector", "list", "--json").stdout)}
    assert listed == {
        "none1": "none", "key1": "api_key", "key2": "api_key", "bear1": "bearer",
        "basic1": "basic", "pw1": "oauth2", "rt1": "oauth2",
    }  # fmt: skip
    text = cli.project.read_text()
    for value in env.values():
        assert value not in text
    assert "${secret:basic1_password}" in text and "${secret:rt1_refresh_token}" in text
    assert "resource: https://r.example.com" in text and "X-Tenant: t1" in text


def test_secret_commands(cli: Cli) -> None:
    cli.secrets.append("super-secret-value-9")
    assert cli("secret", "set", "api_token", input="super-secret-value-9\n").code == 0
    listed = cli("secret", "list")
    assert listed.stdout.split() == ["api_token"]
    assert json.loads(cli("secret", "list", "--json").stdout) == ["api_token"]
    store = json.loads((cli.folder / ".lakegate" / "secrets.json").read_text())
    assert store == {"api_token": "super-secret-value-9"}  # the newline is not part of it
    empty = cli("secret", "set", "other", input="")
    assert empty.code == 2 and "empty" in empty.stderr
    bad = cli("secret", "set", "bad name!", input="x-value")
    assert bad.code == 2 and "not a valid secret name" in bad.stderr
    assert cli("secret", "remove", "api_token").code == 0
    assert "No secrets" in cli("secret", "list").stdout


def test_insecure_secret_store_is_refused(cli: Cli) -> None:
    assert cli("secret", "set", "s1", input="value-1234").code == 0
    (cli.folder / ".lakegate" / "secrets.json").chmod(0o644)
    run = cli("secret", "list")
    assert run.code == 2 and "chmod 600" in run.stderr


def test_help_is_written_for_people_with_an_example(cli: Cli) -> None:
    commands = [
        ["init"], ["connector", "add"], ["connector", "list"], ["connector", "show"],
        ["connector", "remove"], ["action", "add"], ["action", "import-curl"], ["action", "list"],
        ["action", "show"], ["action", "remove"], ["secret", "set"], ["secret", "list"],
        ["secret", "remove"], ["test"], ["call"], ["demo"],
    ]  # fmt: skip
    for command in commands:
        run = cli(*command, "--help")
        assert run.code == 0, command
        assert "Example" in run.stdout, command
        assert "lakegate " + command[0] in run.stdout, command


def test_seeded_project_is_untouched_by_failed_edits(seeded: Callable[..., Cli]) -> None:
    cli = seeded()
    unchanged_after(cli, "action", "add", "list_warehouses", "--path", "/x")
    unchanged_after(cli, "action", "import-curl", "w2", "curl https://elsewhere.example.com/x")
