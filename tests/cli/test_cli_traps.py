"""What a Databricks user types first, through the real CLI: secrets as flag values, options after
the command, overwriting an export, declared inputs used nowhere, changing one field."""

from __future__ import annotations

from pathlib import Path

import yaml
from cli_runner import Cli

from lakegate.secrets import SecretStore


def _said(text: str) -> str:
    return " ".join(text.split())


def test_a_secret_given_as_a_flag_value_is_refused_without_being_shown(cli: Cli) -> None:
    assert cli("init").code == 0
    before = cli.project.read_text()
    value = "s3cr3tVALUE-typed-in-the-shell"
    cli.secrets.append(value)
    pairs = [("--client-secret", "--client-secret-env VAR"), ("--token", "--token-env VAR"),
             ("--password", "--password-stdin")]  # fmt: skip
    url = "https://a.example.com"
    for flag, safe in pairs:
        done = cli("connector", "add", "xy", "--base-url", url, flag, value)
        assert done.code == 2, done.output
        assert "no secret on the command line" in _said(done.output) and safe in done.output
        assert "No such option" not in done.output
        done = cli(
            "connector", "add", "xy", "--base-url", "https://a.example.com", f"{flag}={value}"
        )
        assert done.code == 2
    assert cli.project.read_text() == before
    # serve's own --token takes a reference, and keeps doing so.
    assert cli("serve", "--token", "${env:T}", "--print-config", "claude-code").code == 0


def test_a_secret_passed_where_a_variable_name_belongs_is_not_written(cli: Cli) -> None:
    assert cli("init").code == 0
    for value in ("s3cr3tVALUE", "dose1234abcd", "ghp_abcdef", "aX9_kQ2mZ7_p4Lr8wT3v"):
        cli.secrets.append(value)
        done = cli(
            "connector", "add", "xy", "--base-url", "https://a.example.com", "--auth", "oauth2",
            "--client-id", "a", "--token-url", "https://a.example.com/t",
            "--client-secret-env", value,
        )  # fmt: skip
        assert done.code == 2, done.output
        assert "does not look like one" in _said(done.output)
        assert value not in cli.project.read_text()
    ok = cli(
        "connector", "add", "xy", "--base-url", "https://a.example.com", "--auth", "oauth2",
        "--client-id", "a", "--token-url", "https://a.example.com/t",
        "--client-secret-env", "MY_CLIENT_SECRET",
    )  # fmt: skip
    assert ok.code == 0, ok.output
    # A name of words and numbers, unset in this shell, is still a name (it was refused).
    for n, name in enumerate(("My_Secret1", "prod_databricks_secret_2", "Shop_API_Key")):
        ok = cli(
            "connector", "add", f"named{n}", "--base-url", "https://a.example.com", "--auth",
            "oauth2", "--client-id", "a", "--token-url", "https://a.example.com/t",
            "--client-secret-env", name,
        )  # fmt: skip
        assert ok.code == 0, ok.output
        assert f"${{env:{name}}}" in cli.project.read_text()


def test_project_may_follow_the_command(cli: Cli, tmp_path: Path) -> None:
    other = tmp_path / "elsewhere" / "lakegate.yaml"
    other.parent.mkdir()
    assert cli("--project", str(other), "init").code == 0
    assert cli("connector", "add", "later", "--base-url", "https://a.example.com",
               "--project", str(other)).code == 0  # fmt: skip
    assert cli("connector", "list", "-p", str(other)).stdout.count("later") == 1
    assert cli("connector", "list", f"--project={other}").stdout.count("later") == 1
    assert not cli.project.exists()


def test_an_export_does_not_overwrite_a_file_unless_forced(cli: Cli) -> None:
    out = cli.folder / "trips.parquet"
    out.write_bytes(b"x" * 1000)
    done = cli("databricks", "query", "SELECT 1", "--out", str(out))
    assert done.code == 2 and "exists" in done.output and "--force" in done.output
    assert out.read_bytes() == b"x" * 1000


def test_a_declared_input_used_nowhere_is_not_saved_silently(cli: Cli) -> None:
    assert cli("init").code == 0
    assert cli("connector", "add", "api", "--base-url", "https://a.example.com").code == 0
    done = cli("action", "add", "get_one", "--path", "/items", "--declare", "item_id")
    assert done.code == 0, done.output
    assert "warning: Input item_id is declared but used nowhere" in _said(done.stderr)
    assert "{{item_id}}" in done.stderr
    used = cli(
        "action", "add", "get_one", "--replace", "--path", "/items/{{item_id}}",
        "--declare", "item_id",
    )  # fmt: skip
    assert used.code == 0 and "warning" not in used.output, used.output


def test_connector_set_changes_one_field_and_keeps_the_rest(cli: Cli) -> None:
    assert cli("init").code == 0
    added = cli(
        "connector", "add", "db", "--base-url", "https://a.example.com", "--auth", "oauth2",
        "--client-id", "cid", "--token-url", "https://a.example.com/t", "--scope", "all-apis",
        "--client-secret-env", "DB_SECRET", "--description", "prod",
    )  # fmt: skip
    assert added.code == 0, added.output
    done = cli("connector", "set", "db", "auth.scope=sql all-apis", "read_only=true",
               "defaults.warehouse_id=abc")  # fmt: skip
    assert done.code == 0, done.output
    saved = yaml.safe_load(cli.project.read_text())["connectors"]["db"]
    assert saved["auth"]["scope"] == "sql all-apis" and saved["read_only"] is True
    assert saved["defaults"] == {"warehouse_id": "abc"}
    assert saved["auth"]["client_id"] == "cid" and saved["description"] == "prod"
    assert saved["auth"]["client_secret"] == "${env:DB_SECRET}"
    before = cli.project.read_text()
    cli.secrets.append("plain-secret-value")
    for bad in ("read_only=maybe", "auth.client_secret=plain-secret-value", "bogus=1", "x"):
        refused = cli("connector", "set", "db", bad)
        assert refused.code == 2, (bad, refused.output)
    assert cli.project.read_text() == before
    assert cli("connector", "set", "db", "description=").code == 0
    assert "description" not in yaml.safe_load(cli.project.read_text())["connectors"]["db"]


def test_removing_a_connector_takes_its_stored_secret_along(cli: Cli) -> None:
    assert cli("init").code == 0
    for name in ("one", "two"):
        done = cli("connector", "add", name, "--base-url", f"https://{name}.example.com",
                   "--token-stdin", input=f"token-of-{name}-1234\n")  # fmt: skip
        assert done.code == 0, done.output
    store = SecretStore(cli.folder / ".lakegate")
    assert set(store.names()) == {"one_token", "two_token"}
    done = cli("connector", "remove", "one")
    assert done.code == 0 and "one_token" in done.output
    assert store.names() == ["two_token"]


def test_connect_to_an_unreachable_workspace_blames_the_host_not_a_token_url(cli: Cli) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cli.env["LG_UNUSED_SECRET"] = "not-used-secret-value"
    done = cli(
        "databricks", "connect", "--host", f"https://127.0.0.1:{port}", "--client-id", "x",
        "--client-secret-env", "LG_UNUSED_SECRET",
    )  # fmt: skip
    said = _said(done.output)
    assert done.code == 1, said
    assert f"The workspace https://127.0.0.1:{port} could not be reached" in said
    assert "connection refused" in said and "--host" in said
    assert "token_url" not in said and "DNS" not in said
    assert not cli.project.exists()


def test_a_pasted_browser_address_is_refused_with_the_url_to_write(cli: Cli) -> None:
    assert cli("init").code == 0
    done = cli(
        "connector", "add", "azure", "--base-url", "https://adb-1.2.azuredatabricks.net/?o=1"
    )
    said = _said(done.output)
    assert done.code == 2 and "?o=1" in said and "write https://adb-1.2.azuredatabricks.net" in said
    assert "`auth`" not in said
