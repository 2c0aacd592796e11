"""~/.databrickscfg read as databricks-sdk reads it: the same profile, the same values, no keys
shared between profiles, and a connector that follows the file instead of copying its secret."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from cli_runner import Cli, Run

from _support import client_token
from lakegate.databricks.config import resolve_config
from lakegate.errors import ConfigError
from lakegate.project import load_project
from lakegate.secrets import SecretStore, resolve
from lakegate.workspace import LocalWorkspace

FILE = """\
[__settings__]
{settings}

[DEFAULT]
host = https://default.cloud.databricks.com
client_id = default-id
client_secret = default-secret

[prod]
host = prod.cloud.databricks.com
client_id = prod-id

[pat]
host = https://pat.cloud.databricks.com/
token = dapi-pat-token

[acct]
host = https://accounts.cloud.databricks.com
account_id = 123
"""
_ENV = (
    "DATABRICKS_HOST", "DATABRICKS_CLIENT_ID", "DATABRICKS_CLIENT_SECRET", "DATABRICKS_TOKEN",
    "DATABRICKS_CONFIG_PROFILE", "DATABRICKS_CONFIG_FILE", "ARM_TENANT_ID",
    "DATABRICKS_ACCOUNT_ID", "DATABRICKS_USERNAME", "DATABRICKS_PASSWORD", "ARM_CLIENT_ID",
)  # fmt: skip


def _sdk(profile: str | None, flags: dict[str, str]) -> dict[str, Any]:
    """What databricks-sdk's Config resolves from the same flags, environment and file: its
    own loading steps, without the authentication that would need a real host."""
    from databricks.sdk.config import Config

    config = Config.__new__(Config)
    config._inner = {}
    config._set_inner_config({**flags, "profile": profile})
    config._load_from_env()
    config._known_file_config_loader()
    config._fix_host_if_needed()
    keys = ("host", "client_id", "client_secret", "token", "account_id")
    return {key: getattr(config, key) for key in keys}


def _ours(profile: str | None, flags: dict[str, str]) -> dict[str, Any]:
    found = resolve_config(profile=profile, **flags)
    out = {
        "host": found.host,
        "client_id": found.client_id,
        "account_id": found.account_id,
    }
    for key in ("client_secret", "token"):
        ref = getattr(found, key)
        out[key] = resolve(ref, None) if ref else None
    return out


CASES = [
    # (name, settings line, profile flag, flags, environment)
    ("DEFAULT without --profile", "", None, {}, {}),
    ("profile from the environment", "", None, {}, {"DATABRICKS_CONFIG_PROFILE": "prod"}),
    ("--profile over the environment's", "", "pat", {}, {"DATABRICKS_CONFIG_PROFILE": "prod"}),
    ("no bleeding from DEFAULT", "", "prod", {}, {}),
    ("environment over the profile", "", "prod", {}, {"DATABRICKS_CLIENT_ID": "env-id"}),
    ("env secret fills the profile", "", "prod", {}, {"DATABRICKS_CLIENT_SECRET": "env-s3cret"}),
    ("a host in the env skips the file", "", None, {}, {"DATABRICKS_HOST": "https://e.com"}),
    ("a token in the env skips the file", "", None, {}, {"DATABRICKS_TOKEN": "dapi-env"}),
    ("a --host flag skips the file", "", None, {"host": "https://flag.com"}, {}),
    ("a --client-id flag skips the file", "", None, {"client_id": "flag-id"}, {}),
    ("flags over the profile", "", "prod", {"host": "https://flag.com"}, {}),
    ("settings' default profile", "default_profile = pat", None, {}, {}),
    ("account profile", "", "acct", {}, {}),
]


@pytest.mark.parametrize(
    ("settings", "profile", "flags", "env"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_resolution_matches_the_sdk_on_the_same_file(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    settings: str,
    profile: str | None,
    flags: dict[str, str],
    env: dict[str, str],
) -> None:
    cfg = tmp_path / "databrickscfg"
    cfg.write_text(FILE.format(settings=settings))
    for name in _ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", str(cfg))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert _ours(profile, flags) == _sdk(profile, flags)


def test_a_missing_profile_is_named_with_every_profile_including_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = tmp_path / "databrickscfg"
    cfg.write_text(FILE.format(settings=""))
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", str(cfg))
    monkeypatch.delenv("DATABRICKS_CONFIG_PROFILE", raising=False)
    with pytest.raises(ValueError, match="has no staging profile"):
        _sdk("staging", {})
    with pytest.raises(ConfigError) as caught:
        resolve_config(profile="staging")
    assert "no profile 'staging'" in caught.value.message
    assert caught.value.hint == "Profiles in it: DEFAULT, prod, pat, acct."


def _cli(project: Path, cfg: Path, *args: str, secrets: tuple[str, ...] = ()) -> Run:
    env: dict[str, str | None] = {name: None for name in _ENV}
    env["DATABRICKS_CONFIG_FILE"] = str(cfg)
    return Cli(project.parent, list(secrets), env)("-p", str(project), *args)


def test_connect_reads_default_and_follows_the_file_for_the_secret(
    workspace: LocalWorkspace, tmp_path: Path
) -> None:
    creds, cfg, project = workspace.credentials, tmp_path / "databrickscfg", tmp_path / "l.yaml"

    def write(secret: str) -> None:
        cfg.write_text(
            f"[DEFAULT]\nhost = {workspace.host}\nclient_id = {creds['client_id']}\n"
            f"client_secret = {secret}\n\n[other]\nhost = https://other.example.com\n"
        )

    write(creds["client_secret"])
    done = _cli(project, cfg, "databricks", "connect", secrets=(creds["client_secret"],))
    assert done.code == 0, done.output
    assert "${databrickscfg:DEFAULT.client_secret}" in done.output
    auth = load_project(project).connectors["databricks"].auth
    assert auth.client_secret == "${databrickscfg:DEFAULT.client_secret}"
    assert creds["client_secret"] not in project.read_text() + done.output
    assert SecretStore(project.parent / ".lakegate").names() == []

    # Rotated in the file, the connector follows: a wrong secret there fails, the right one works.
    write("not-the-secret-any-more")
    failed = _cli(project, cfg, "call", "list_warehouses", secrets=("not-the-secret-any-more",))
    assert failed.code == 1, failed.output
    write(creds["client_secret"])
    assert _cli(project, cfg, "call", "list_warehouses").code == 0
    shown = _cli(project, cfg, "connector", "show", "databricks")
    assert "read from the client_secret of profile DEFAULT" in " ".join(shown.output.split())


def test_a_pat_only_profile_connects_with_its_token_not_defaults_client(
    workspace: LocalWorkspace, tmp_path: Path
) -> None:
    creds = workspace.credentials
    admin = client_token(workspace.host, creds["client_id"], creds["client_secret"])
    created = httpx.post(
        f"{workspace.host}/api/2.0/token/create",
        headers={"Authorization": f"Bearer {admin}"},
        json={"comment": "cfg", "lifetime_seconds": 600},
    )
    pat = created.json()["token_value"]
    cfg, project = tmp_path / "databrickscfg", tmp_path / "l.yaml"
    cfg.write_text(
        f"[DEFAULT]\nclient_id = someone-else\nclient_secret = not-this\n\n"
        f"[mine]\nhost = {workspace.host}\ntoken = {pat}\n"
    )
    done = _cli(project, cfg, "databricks", "connect", "--profile", "mine", secrets=(pat,))
    assert done.code == 0, done.output
    assert "Personal access token from ${databrickscfg:mine.token}" in done.output
    assert pat not in done.output + project.read_text()
    auth = load_project(project).connectors["databricks"].auth
    assert (auth.type, auth.token) == ("bearer", "${databrickscfg:mine.token}")


def test_a_profile_secret_goes_only_to_its_own_host(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = tmp_path / "databrickscfg"
    cfg.write_text("[p]\nhost = dbc-1.cloud.databricks.com\nclient_secret = s3cret-value\n")
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", str(cfg))
    ref = "${databrickscfg:p.client_secret}"
    assert resolve(ref, None, "https://dbc-1.cloud.databricks.com/oidc/v1/token") == "s3cret-value"
    with pytest.raises(Exception, match="nothing was sent") as caught:
        resolve(ref, None, "https://evil.example.com/token")
    assert getattr(caught.value, "code", "") == "auth.secret_origin"


def test_an_account_profile_or_nothing_to_use_is_a_clear_usage_error(
    workspace: LocalWorkspace, tmp_path: Path
) -> None:
    cfg, project = tmp_path / "databrickscfg", tmp_path / "l.yaml"
    cfg.write_text(FILE.format(settings=""))
    account = _cli(project, cfg, "databricks", "connect", "--profile", "acct")
    said = " ".join(account.output.split())
    assert account.code == 2
    assert "is the account console, not a workspace" in said
    assert "profile [acct]" in said
    missing = _cli(project, cfg, "databricks", "connect", "--profile", "nope")
    assert missing.code == 2 and "DEFAULT, prod, pat, acct" in " ".join(missing.output.split())
    nothing = _cli(project, tmp_path / "absent.cfg", "databricks", "connect")
    assert nothing.code == 2 and "No workspace URL" in nothing.output
    assert not project.exists()
