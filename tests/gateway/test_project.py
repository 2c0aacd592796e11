"""lakegate.yaml: round trips keep comments and order, errors point at the line and the fix."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lakegate.errors import ConfigError, NotFoundError
from lakegate.project import (
    Action,
    Connector,
    CopilotPolicy,
    OAuth2Auth,
    Project,
    load_project,
)

SEED = """\
# Production project  (top comment)
connectors:
  databricks:   # the workspace
    description: Production workspace
    base_url: https://dbc-a1b2c3-d4e5.cloud.databricks.com
    auth:
      type: oauth2
      grant_type: client_credentials
      client_id: 5f0c-client            # not a secret
      client_secret: ${env:DATABRICKS_CLIENT_SECRET}
      scope: sql all-apis
      token_url: https://dbc-a1b2c3-d4e5.cloud.databricks.com/oidc/v1/token
      client_auth: request_body
    read_only: false
actions:
  # what a copilot may list
  list_warehouses:
    connector: databricks
    description: List the SQL warehouses this service principal can manage.
    method: GET
    path: /api/2.0/sql/warehouses
    risk: read
    output: "warehouses[].{id: id, name: name, state: state}"
"""


@pytest.fixture
def seed(tmp_path: Path) -> Path:
    path = tmp_path / "lakegate.yaml"
    path.write_text(SEED)
    return path


def test_load_the_design_example(seed: Path) -> None:
    project = load_project(seed)
    conn = project.connectors["databricks"]
    assert isinstance(conn.auth, OAuth2Auth) and conn.auth.scope == "sql all-apis"
    assert project.actions["list_warehouses"].risk == "read"
    assert project.copilot == CopilotPolicy()
    assert project.state_dir == seed.parent.resolve() / ".lakegate"


def test_saving_unchanged_is_byte_identical(seed: Path) -> None:
    project = load_project(seed)
    project.save()
    assert seed.read_text() == SEED


def test_edits_keep_comments_order_and_untouched_keys(seed: Path) -> None:
    project = load_project(seed)
    conn = project.connectors["databricks"].model_copy(deep=True)
    conn.auth.scope = "all-apis"
    project.set_connector("databricks", conn)
    project.set_action(
        "get_warehouse",
        Action.model_validate(
            {
                "name": "get_warehouse",
                "connector": "databricks",
                "path": "/api/2.0/sql/warehouses/{{id}}",
                "inputs": {"id": {"required": True}},
            }
        ),
    )
    project.save()
    text = seed.read_text()
    assert text.startswith("# Production project  (top comment)\n")
    assert "databricks:   # the workspace" in text
    assert "client_id: 5f0c-client            # not a secret" in text
    assert "  # what a copilot may list\n  list_warehouses:" in text
    assert "scope: all-apis\n" in text
    assert "read_only: false" in text  # written out at its default by a person: kept
    assert text.index("list_warehouses:") < text.index("get_warehouse:")
    again = load_project(seed)
    assert again.actions["get_warehouse"].inputs["id"].required is True


def test_remove_and_atomic_save_leaves_no_temp_files(seed: Path) -> None:
    project = load_project(seed)
    with pytest.raises(ConfigError, match="used by action"):
        project.remove_connector("databricks")
    project.remove_action("list_warehouses")
    project.remove_connector("databricks")
    project.save()
    assert load_project(seed).connectors == {}
    assert sorted(p.name for p in seed.parent.iterdir()) == [".lakegate", "lakegate.yaml"]
    # `.lakegate/` holds the writers' lock, nothing else: no temp file is left anywhere
    assert [p.name for p in (seed.parent / ".lakegate").iterdir()] == ["lakegate.yaml.lock"]


def test_new_project_round_trip(tmp_path: Path) -> None:
    project = Project.new(tmp_path / "lakegate.yaml")
    project.set_connector("api", Connector(name="api", base_url="https://x.test/"))
    project.set_copilot(CopilotPolicy(profile="operator", tools=["list_warehouses"]))
    project.save()
    loaded = load_project(tmp_path / "lakegate.yaml")
    assert loaded.connectors["api"].base_url == "https://x.test"
    assert loaded.copilot.profile == "operator" and loaded.copilot.tools == ["list_warehouses"]
    with pytest.raises(NotFoundError) as caught:
        loaded.set_action("a1", Action(name="a1", connector="apx", path="/x"))
    assert "Did you mean 'api'?" in caught.value.hint


def errors_of(path: Path) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load_project(path)
    return caught.value


def test_unknown_keys_get_a_did_you_mean_with_the_line(seed: Path) -> None:
    seed.write_text(SEED.replace("scope: sql", "scopes: sql").replace("risk: read", "rsik: read"))
    error = errors_of(seed)
    assert "lakegate.yaml:11: connectors.databricks.auth.scopes: unknown key" in error.message
    assert "lakegate.yaml:22: actions.list_warehouses.rsik: unknown key" in error.message
    assert "did you mean `scope`?" in error.hint and "did you mean `risk`?" in error.hint
    assert error.details["errors"][0]["line"] == 11


def test_a_literal_secret_is_refused_without_echoing_it(seed: Path) -> None:
    seed.write_text(SEED.replace("${env:DATABRICKS_CLIENT_SECRET}", "dose-very-secret-1234"))
    error = errors_of(seed)
    assert "lakegate.yaml:10: connectors.databricks.auth.client_secret" in error.message
    assert "literal secret" in error.message
    assert "lakegate secret set" in error.hint and "${env:" in error.hint
    assert "dose-very-secret-1234" not in repr(error.to_dict()) + str(error) + error.hint


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("  list_warehouses:", "  list-warehouses:", "name 'list-warehouses' is not allowed"),
        ("type: oauth2", "type: oauth", "did you mean `oauth2`?"),
        ("method: GET", "method: FETCH", "method 'FETCH' is not known"),
        ("path: /api/2.0/sql/warehouses", "path: /api/{{id}}", "`inputs` does not declare it"),
        ("base_url: https://dbc", "base_url: ftp://dbc", "not an http(s) URL"),
        ("connector: databricks", "connector: databrick", "Did you mean 'databricks'?"),
        ("      client_id: 5f0c-client            # not a secret\n", "", "needs client_id"),
        ('output: "warehouses[]', 'output: "warehouses[[', "not a JMESPath expression"),
    ],
)
def test_invalid_files_say_what_and_how(seed: Path, old: str, new: str, expected: str) -> None:
    assert old in SEED
    seed.write_text(SEED.replace(old, new))
    error = errors_of(seed)
    assert expected in f"{error.message}\n{error.hint}"
    assert error.message.startswith("lakegate.yaml")


def test_yaml_syntax_errors_and_missing_files(tmp_path: Path) -> None:
    bad = tmp_path / "lakegate.yaml"
    bad.write_text("connectors:\n  x: [unclosed\n")
    error = errors_of(bad)
    assert "not valid YAML" in error.message and error.details["line"] == 3
    missing = errors_of(tmp_path / "nope.yaml")
    assert missing.code == "config.project_missing" and "lakegate init" in missing.hint


def test_save_keeps_the_file_mode(seed: Path) -> None:
    os.chmod(seed, 0o640)
    load_project(seed).save()
    assert seed.stat().st_mode & 0o777 == 0o640
