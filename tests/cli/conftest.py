"""Fixtures: `cli`, a `lakegate` runner in an empty folder; `seeded`, a project on the workspace."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cli_runner import Cli


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cli]:
    """A `lakegate` runner in an empty folder (the project is ./lakegate.yaml)."""
    monkeypatch.chdir(tmp_path)
    yield Cli(tmp_path)


@pytest.fixture
def seeded(cli: Cli, workspace) -> Callable[..., Cli]:
    """`seeded()` -> a project with the `databricks` connector on the local workspace."""

    def make(output: str | None = "warehouses[].{id: id, name: name}") -> Cli:
        creds = workspace.credentials
        cli.secrets.append(creds["client_secret"])
        cli.env["LG_TEST_CLIENT_SECRET"] = creds["client_secret"]
        assert cli("init").code == 0
        added = cli(
            "connector", "add", "databricks", "--base-url", workspace.host, "--auth", "oauth2",
            "--grant-type", "client_credentials", "--client-id", creds["client_id"],
            "--client-secret-env", "LG_TEST_CLIENT_SECRET", "--scope", "sql all-apis",
            "--token-url", f"{workspace.host}/oidc/v1/token", "--client-auth", "request_body",
        )  # fmt: skip
        assert added.code == 0, added.output
        extra = ["--output", output] if output else []
        action = cli(
            "action", "add", "list_warehouses", "--connector", "databricks", "--method", "GET",
            "--path", "/api/2.0/sql/warehouses", *extra,
        )  # fmt: skip
        assert action.code == 0, action.output
        return cli

    return make
