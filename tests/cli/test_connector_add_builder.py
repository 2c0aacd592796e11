"""`connector add` and the Studio's connector form build through one builder: the same inputs give
the same connector and the same stored secret, and a refused connector leaves nothing behind."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cli_runner import Cli
from pydantic import ValidationError
from starlette.datastructures import FormData

from lakegate.authconfig import field_problems
from lakegate.connectors import build_connector, typed_secret
from lakegate.project import Connector, load_project
from lakegate.studio.connector_form import ConnectorDraft
from lakegate.studio.security import Session

BASE = "https://api.example.com"
TOKEN_URL = "https://login.example.com/oauth2/token"
TYPED = "typed-secret-value-0123456789"  # what a person types at the prompt or in the form


def studio_build(form: dict[str, str]) -> tuple[Connector | None, dict[str, str], dict[str, str]]:
    """The Studio's form as submitted: (connector, secrets to store, errors by form field)."""
    session = Session(id="s", csrf="c")
    draft = ConnectorDraft.from_form(FormData(form), session)
    connector, to_store = draft.build(form["name"], None, session)
    return connector, to_store, draft.errors


def cli_add(cli: Cli, *args: str, stdin: str | None = None) -> tuple[Connector, dict[str, str]]:
    """`lakegate connector add ARGS` in a new project: (the saved connector, the secret store)."""
    assert cli("init").code == 0
    run = cli("connector", "add", *args, input=stdin)
    assert run.code == 0, run.output
    store = cli.folder / ".lakegate" / "secrets.json"
    secrets = json.loads(store.read_text()) if store.exists() else {}
    return load_project(cli.project).connectors[args[0]], secrets


def dumped(connector: Connector) -> dict[str, Any]:
    return connector.model_dump(mode="json")


# Each case: the CLI's arguments (and stdin), and the Studio form with the same inputs.
AGREEING = {
    "oauth2 client credentials, typed secret, padded key=value": (
        ["db", "--base-url", BASE, "--auth", "oauth2", "--token-url", TOKEN_URL,
         "--client-id", "app-1", "--client-secret-stdin", "--scope", "sql all-apis",
         "--token-param", "  resource =  https://r.example.com  ", "--token-param", "a=b=c"],
        TYPED + "\n",
        {"name": "db", "base_url": BASE, "auth_type": "oauth2", "token_url": TOKEN_URL,
         "client_id": "app-1", "client_secret": TYPED, "scope": "sql all-apis",
         "extra_token_params": " resource = https://r.example.com \n a=b=c"},
    ),
    "api key in a header with a pattern, typed": (
        ["svc", "--base-url", BASE, "--api-key-stdin", "--api-key-header", "X-Key",
         "--api-key-pattern", "Key %s"],
        TYPED,
        {"name": "svc", "base_url": BASE, "auth_type": "api_key", "key": TYPED,
         "header": "X-Key", "pattern": "Key %s"},
    ),
    "bearer token from the environment": (
        ["bear", "--base-url", BASE, "--token-env", "SVC_TOKEN", "--description", "The API"],
        None,
        {"name": "bear", "base_url": BASE, "auth_type": "bearer", "token": "${env:SVC_TOKEN}",
         "description": "The API"},
    ),
    "basic, typed password, read-only": (
        ["bas", "--base-url", BASE, "--username", "bob", "--password-stdin", "--read-only"],
        TYPED,
        {"name": "bas", "base_url": BASE, "auth_type": "basic", "username": "bob",
         "password": TYPED, "read_only": "on"},
    ),
    "a typed reference is used as it is, nothing stored": (
        ["ref", "--base-url", BASE, "--token-stdin"],
        "${env:SVC_TOKEN}\n",
        {"name": "ref", "base_url": BASE, "auth_type": "bearer", "token": "${env:SVC_TOKEN}"},
    ),
}  # fmt: skip


@pytest.mark.parametrize(("args", "stdin", "form"), AGREEING.values(), ids=AGREEING)
def test_the_cli_and_the_studio_build_the_same_connector_and_secret(
    cli: Cli, args: list[str], stdin: str | None, form: dict[str, str]
) -> None:
    cli.secrets.append(TYPED)
    cli.env["SVC_TOKEN"] = "svc-token-value-42"
    from_cli, stored = cli_add(cli, *args, stdin=stdin)
    from_studio, to_store, errors = studio_build(form)
    assert errors == {} and from_studio is not None
    assert dumped(from_cli) == dumped(from_studio)
    assert stored == to_store  # the same store name ({name}_{field}) and value, or nothing


def test_key_value_flags_are_stripped_on_both_sides(cli: Cli) -> None:
    connector, _ = cli_add(
        cli, "db", "--base-url", BASE, "--auth", "oauth2", "--token-url", TOKEN_URL,
        "--grant-type", "refresh_token", "--refresh-token-env", "RT",
        "--token-param", " audience = api://x ", "--token-header", "  X-Tenant :  t1 ",
        "--default", " warehouse_id = abc ",
    )  # fmt: skip
    assert connector.auth.extra_token_params == {"audience": "api://x"}
    assert connector.auth.extra_token_headers == {"X-Tenant": "t1"}
    assert connector.defaults == {"warehouse_id": "abc"}


def test_empty_flags_are_not_given_as_in_the_studio(cli: Cli) -> None:
    connector, _ = cli_add(
        cli, "db", "--base-url", BASE, "--token-url", TOKEN_URL, "--client-id", "app",
        "--client-secret-env", "S", "--scope", "",
    )  # fmt: skip
    assert connector.auth.scope is None
    assert "scope" not in cli.project.read_text()
    empty_url = cli("connector", "add", "db2", "--base-url", BASE, "--token-url", "",
                    "--client-id", "app", "--client-secret-env", "S")  # fmt: skip
    assert empty_url.code == 2 and "--auth oauth2 needs --token-url" in empty_url.stderr


REFUSED = {
    "bad name": (["x", "--base-url", BASE, "--token-stdin"], "NAME", "not allowed"),
    "bad base URL": (
        ["svc", "--base-url", "ftp://api.example.com", "--token-stdin"],
        "--base-url",
        "http(s) URL",
    ),
    "api key with no place to send it": (
        ["svc", "--base-url", BASE, "--api-key-stdin"],
        "--api-key-header/--api-key-query",
        "exactly one of",
    ),
    "password grant without a user": (
        ["svc", "--base-url", BASE, "--auth", "oauth2", "--token-url", TOKEN_URL,
         "--grant-type", "password", "--password-stdin"],
        "--username",
        "needs username",
    ),
    "pattern without %s": (
        ["svc", "--base-url", BASE, "--api-key-stdin", "--api-key-header", "X", "--api-key-pattern",
         "Key"],
        "--api-key-pattern",
        "has no `%s`",
    ),
}  # fmt: skip


@pytest.mark.parametrize(("args", "flag", "problem"), REFUSED.values(), ids=REFUSED)
def test_a_refused_connector_names_its_flag_and_writes_nothing(
    cli: Cli, args: list[str], flag: str, problem: str
) -> None:
    cli.secrets.append(TYPED)
    assert cli("init").code == 0
    assert cli("secret", "set", "other", input="other-secret-value-77").code == 0
    store = cli.folder / ".lakegate" / "secrets.json"
    yaml_before, store_before = cli.project.read_bytes(), store.read_bytes()
    run = cli("connector", "add", *args, input=TYPED)
    stderr = " ".join(run.stderr.split())  # rich wraps long lines
    assert run.code == 2, run.output
    assert "config.invalid" in stderr and problem in stderr and f"({flag})" in stderr
    assert "hint:" in stderr
    assert cli.project.read_bytes() == yaml_before
    assert store.read_bytes() == store_before  # the typed secret was not stored


def test_the_studio_and_the_cli_place_a_problem_on_the_same_field(cli: Cli) -> None:
    _, _, errors = studio_build({"name": "svc", "base_url": BASE, "auth_type": "api_key",
                                 "key": TYPED, "header": "X", "pattern": "Key"})  # fmt: skip
    assert set(errors) == {"pattern"} and "has no `%s`" in errors["pattern"]
    assert cli("init").code == 0
    run = cli("connector", "add", "svc", "--base-url", BASE, "--api-key-env", "K",
              "--api-key-header", "X", "--api-key-pattern", "Key")  # fmt: skip
    assert run.code == 2 and "(--api-key-pattern)" in " ".join(run.stderr.split())


def test_a_name_and_an_auth_problem_are_told_together(cli: Cli) -> None:
    assert cli("init").code == 0
    run = cli("connector", "add", "x", "--base-url", BASE, "--api-key-env", "K")
    stderr = " ".join(run.stderr.split())
    assert run.code == 2
    assert "The connector is not valid" in stderr
    assert "(NAME)" in stderr and "(--api-key-header/--api-key-query)" in stderr


@pytest.mark.parametrize(
    ("auth", "field", "missing"),
    [
        ({"type": "oauth2"}, "token_url", True),
        ({"type": "oauth2", "token_url": TOKEN_URL, "client_id": "a"}, "client_secret", False),
        ({"type": "api_key", "key": "${env:K}"}, "header", False),
        ({"type": "oauth2", "token_url": TOKEN_URL, "grant_type": "refresh_token",
          "refresh_token": "${env:R}", "extra_token_params": {"n": 1}},
         "extra_token_params", False),
        ({"type": "bearer", "token": "pasted-literal-token-1234"}, "token", False),
        ({"type": "kerberos"}, "auth", False),
    ],
)  # fmt: skip
def test_each_problem_is_tied_to_its_field(auth: dict[str, Any], field: str, missing: bool) -> None:
    with pytest.raises(ValidationError) as refused:
        build_connector("svc", base_url=BASE, auth=auth)
    [problem] = field_problems(refused.value, Connector)
    assert (problem.field, problem.missing, problem.under) == (field, missing, "auth")


def test_a_typed_secret_is_stored_under_the_one_name_unless_it_is_a_reference() -> None:
    assert typed_secret("db", "client_secret", TYPED) == (
        "${secret:db_client_secret}",
        {"db_client_secret": TYPED},
    )
    assert typed_secret("db", "client_secret", " ${env:DB_SECRET} ") == ("${env:DB_SECRET}", {})
