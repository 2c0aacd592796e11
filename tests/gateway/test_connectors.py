"""One connector builder for every front: secret names, key=value pairs, unset auth fields."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from lakegate.connectors import build_connector, parse_pair, secret_name, secret_reference
from lakegate.databricks.connect import databricks_connector
from lakegate.project import load_project
from lakegate.secrets import SecretStore


def test_one_secret_naming_rule() -> None:
    assert secret_name("db", "client_secret") == "db_client_secret"
    assert secret_reference("svc", "key") == "${secret:svc_key}"


@pytest.mark.parametrize(
    ("text", "pair"),
    [("a=1", ("a", "1")), (" a = 1 ", ("a", "1")), ("b=x=y", ("b", "x=y")), ("c=", ("c", ""))],
)
def test_pairs_are_stripped_on_both_sides(text: str, pair: tuple[str, str]) -> None:
    assert parse_pair(text) == pair


@pytest.mark.parametrize("text", ["no separator", "=value", "  =value"])
def test_a_pair_needs_a_key_and_a_separator(text: str) -> None:
    assert parse_pair(text) is None


def test_unset_auth_fields_take_their_defaults() -> None:
    connector = build_connector(
        "svc",
        base_url="https://api.example.com",
        auth={"type": "api_key", "key": "${env:SVC_KEY}", "header": "X-Key", "query_param": "",
              "pattern": None, "extra": {}},
    )  # fmt: skip
    assert connector.auth.type == "api_key" and connector.auth.header == "X-Key"
    assert connector.auth.query_param is None and connector.auth.pattern == "%s"


def test_the_models_validate_what_the_builder_is_given() -> None:
    with pytest.raises(ValidationError) as caught:
        build_connector("svc", base_url="https://api.example.com", auth={"type": "oauth2"})
    assert "token_url" in str(caught.value)


def test_databricks_connect_builds_through_it() -> None:
    host = "https://dbc-1.cloud.databricks.com"
    secret = secret_reference("db", "client_secret")
    connector = databricks_connector(
        "db", host, "client-id", secret, token_url=f"{host}/oidc/v1/token", warehouse_id="abc"
    )
    assert connector.auth.client_secret == "${secret:db_client_secret}"
    assert connector.read_only and connector.defaults == {"warehouse_id": "abc"}


def test_the_cli_stores_a_typed_secret_under_the_same_name_as_the_studio(tmp_path: Path) -> None:
    def lakegate(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "lakegate", *args], cwd=tmp_path, input=stdin,
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip

    assert lakegate("init").returncode == 0
    added = lakegate(
        "connector", "add", "svc", "--base-url", "https://api.example.com",
        "--api-key-stdin", "--api-key-header", "X-Key", stdin="typed-api-key-0123456789\n",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    connector = load_project(tmp_path / "lakegate.yaml").connectors["svc"]
    assert connector.auth.key == secret_reference("svc", "key")  # the model's field: `key`
    assert SecretStore(tmp_path / ".lakegate").get(secret_name("svc", "key")) == (
        "typed-api-key-0123456789"
    )
