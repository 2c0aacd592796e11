"""`databricks setup` gets its account token from the gateway's token source: its retries on a
busy token endpoint, its error code, and setup's own hints."""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path

import pytest

from lakegate.databricks.setup import AccountAdmin, setup_service_principal
from lakegate.errors import InputError, RemoteError, TokenError
from lakegate.secrets import SecretStore
from lakegate.workspace import LocalWorkspace

from .conftest import access_log


def admin_of(
    ws: LocalWorkspace, secret: str | None = None, host: str | None = None
) -> AccountAdmin:
    creds = ws.credentials
    return AccountAdmin(
        host or ws.account_host, ws.account_id, creds["client_id"], secret or creds["client_secret"]
    )


async def setup(ws: LocalWorkspace, admin: AccountAdmin, tmp_path: Path, name: str) -> object:
    return await setup_service_principal(
        admin, workspace_id=ws.workspace_id, display_name=name,
        secret_store=SecretStore(tmp_path / ".lakegate"), secret_name=f"{name}_client_secret",
    )  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_a_busy_account_token_endpoint_is_retried(
    workspace_factory: Callable[..., LocalWorkspace], tmp_path: Path
) -> None:
    ws = workspace_factory()
    rule = {"path": "/oidc/accounts/*", "fault": "http_503", "every": 2, "retry_after": 0}
    # The 2nd token request is refused: setup's first token (the 1st) passes, so a refused
    # one must be the retried one. Two setups: the second one meets the 503 and goes on.
    ws.set_faults({"seed": 1, "rules": [rule]})
    await setup(ws, admin_of(ws), tmp_path, "first")
    report = await setup(ws, admin_of(ws), tmp_path, "second")
    ws.set_faults(None)
    assert report.application_id  # type: ignore[attr-defined]
    tokens = [e["status"] for e in access_log(ws) if e["path"].startswith("/oidc/accounts/")]
    assert 503 in tokens and tokens[-1] == 200


async def test_a_wrong_admin_secret_says_which_flags_to_fix(
    workspace: LocalWorkspace, tmp_path: Path
) -> None:
    with pytest.raises(TokenError) as caught:
        await setup(workspace, admin_of(workspace, secret="wrong-secret-0123456789"), tmp_path, "x")
    assert caught.value.code == "auth.token_failed"
    assert "--admin-client-id" in caught.value.hint
    assert "wrong-secret-0123456789" not in str(caught.value.to_dict())


async def test_an_unreachable_account_host_says_to_check_it(
    workspace: LocalWorkspace, tmp_path: Path
) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(TokenError) as caught:
        await setup(workspace, admin_of(workspace, host=nowhere), tmp_path, "y")
    assert caught.value.code == "auth.token_failed"
    assert "--account-host" in caught.value.hint


async def test_the_workspace_assignment_is_resent_under_503(
    workspace_factory: Callable[..., LocalWorkspace], tmp_path: Path
) -> None:
    ws = workspace_factory()
    rule = {"path": "/api/2.0/accounts/*/workspaces/*/permissionassignments/principals/*",
            "method": "PUT", "fault": "http_503", "every": 2, "retry_after": 0}  # fmt: skip
    # The 2nd PUT is refused: the first setup's passes, the second setup's must be resent.
    ws.set_faults({"seed": 1, "rules": [rule]})
    await setup(ws, admin_of(ws), tmp_path, "first")
    report = await setup(ws, admin_of(ws), tmp_path, "second")
    ws.set_faults(None)
    assert report.assigned  # type: ignore[attr-defined]
    puts = [e["status"] for e in access_log(ws) if e["method"] == "PUT"]
    assert puts == [200, 503, 200]


async def test_creating_a_principal_is_sent_once_under_503(
    workspace_factory: Callable[..., LocalWorkspace], tmp_path: Path
) -> None:
    ws = workspace_factory()
    rule = {"path": "/api/2.0/accounts/*/scim/v2/ServicePrincipals", "method": "POST",
            "fault": "http_503", "every": 1, "retry_after": 0}  # fmt: skip
    ws.set_faults({"seed": 1, "rules": [rule]})
    with pytest.raises(RemoteError) as caught:
        await setup(ws, admin_of(ws), tmp_path, "once")
    ws.set_faults(None)
    assert caught.value.status == 503
    posts = [e for e in access_log(ws) if e["method"] == "POST" and "/scim/" in e["path"]]
    assert len(posts) == 1  # a resent create could make a second principal


async def test_a_grant_without_the_workspace_url_is_refused_before_anything_is_created(
    workspace_factory: Callable[..., LocalWorkspace], tmp_path: Path
) -> None:
    ws = workspace_factory()
    before = len(access_log(ws))
    with pytest.raises(InputError) as caught:
        await setup_service_principal(
            admin_of(ws), workspace_id=ws.workspace_id, display_name="half",
            secret_store=SecretStore(tmp_path / ".lakegate"), secret_name="half_client_secret",
            grant_warehouse="abc123",
        )  # fmt: skip
    assert "--host" in (caught.value.hint or "")
    assert access_log(ws)[before:] == []  # no principal, no secret, no assignment
    assert not (tmp_path / ".lakegate" / "secrets.json").exists()
