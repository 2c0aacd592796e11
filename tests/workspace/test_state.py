"""State on disk: restarts keep everything, secrets are hashed, credentials.json is private,
the access log has one line per request, and `lakegate workspace serve` runs it all."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
from workspace_http import bearer, fetch_token

from _support import access_log
from lakegate.workspace import LocalWorkspace


def test_restart_keeps_identities_tokens_warehouses_and_permissions(
    workspace_factory, tmp_path: Path
) -> None:
    first = workspace_factory(state_dir=tmp_path)
    sp = first.create_service_principal("survivor")
    access = fetch_token(first)
    headers = bearer(access)
    created = httpx.post(
        f"{first.host}/api/2.0/sql/warehouses", headers=headers, json={"name": "Kept"}
    ).json()
    grant = {"service_principal_name": sp["client_id"], "permission_level": "CAN_MANAGE"}
    httpx.patch(
        f"{first.host}/api/2.0/permissions/warehouses/{created['id']}",
        headers=headers,
        json={"access_control_list": [grant]},
    ).raise_for_status()
    pat = httpx.post(f"{first.host}/api/2.0/token/create", headers=headers, json={}).json()
    before = dict(first.credentials)
    first.stop()

    second = workspace_factory(state_dir=tmp_path)
    for key in ("account_id", "workspace_id", "client_id", "client_secret"):
        assert second.credentials[key] == before[key]
    headers = bearer(access)  # the old token is still valid
    names = [
        w["name"]
        for w in httpx.get(f"{second.host}/api/2.0/sql/warehouses", headers=headers).json()[
            "warehouses"
        ]
    ]
    assert names == ["Starter Warehouse", "Shared Endpoint", "Kept"]
    sp_token = fetch_token(second, sp["client_id"], sp["client_secret"])
    managed = httpx.get(f"{second.host}/api/2.0/sql/warehouses", headers=bearer(sp_token))
    assert [w["name"] for w in managed.json()["warehouses"]] == ["Kept"]
    me = httpx.get(f"{second.host}/api/2.0/preview/scim/v2/Me", headers=bearer(pat["token_value"]))
    assert me.status_code == 200


def test_secrets_and_tokens_are_not_stored_in_clear(workspace_factory, tmp_path: Path) -> None:
    ws = workspace_factory(state_dir=tmp_path)
    sp = ws.create_service_principal("hashed")
    access = fetch_token(ws, sp["client_id"], sp["client_secret"])
    headers = bearer(fetch_token(ws))
    pat = httpx.post(f"{ws.host}/api/2.0/token/create", headers=headers, json={}).json()
    ws.stop()
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("state.sqlite*"))
    assert sp["client_id"].encode() in stored  # the file is readable, and ids are there
    for secret in (ws.credentials["client_secret"], sp["client_secret"], access,
                   pat["token_value"]):  # fmt: skip
        assert secret.encode() not in stored
    log = (tmp_path / "requests.jsonl").read_text()
    for secret in (ws.credentials["client_secret"], sp["client_secret"], access):
        assert secret not in log


def test_credentials_json_is_owner_only_and_complete(workspace: LocalWorkspace) -> None:
    path = workspace.state_dir / "credentials.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE((workspace.state_dir / "state.sqlite").stat().st_mode) == 0o600
    data = json.loads(path.read_text())
    assert set(data) == {"host", "account_host", "account_id", "workspace_id", "client_id",
                         "client_secret"}  # fmt: skip
    assert data == workspace.credentials
    assert data["host"] == workspace.host and data["account_host"] != workspace.host


def test_access_log_has_one_line_per_request(
    workspace: LocalWorkspace, admin: httpx.Client
) -> None:
    marker = f"/api/2.0/sql/warehouses/log-marker-{time.monotonic_ns()}"
    admin.get(marker)
    httpx.get(workspace.host + marker)
    mine = [x for x in access_log(workspace) if x["path"] == marker]
    assert len(mine) == 2
    assert mine[0]["principal"] == workspace.credentials["client_id"]
    assert mine[0]["status"] == 404 and mine[0]["method"] == "GET"
    assert mine[1]["principal"] is None and mine[1]["status"] == 401
    assert {"ts", "method", "path", "status", "ms", "principal"} <= set(mine[0])
    assert isinstance(mine[0]["ms"], float)


def test_cli_serve_writes_credentials_and_serves_until_sigterm(tmp_path: Path) -> None:
    state = tmp_path / "ws"
    env = {**os.environ, "COLUMNS": "200"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "lakegate", "workspace", "serve", "--port", "0",
         "--state-dir", str(state), "--token-ttl", "60"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        host = ""
        deadline = time.monotonic() + 20
        while not host:
            assert time.monotonic() < deadline and proc.poll() is None, proc.stderr.read()
            line = proc.stdout.readline()
            if line.startswith("workspace"):
                host = line.split()[1]
        creds = json.loads((state / "credentials.json").read_text())
        assert creds["host"] == host
        response = httpx.post(
            f"{host}/oidc/v1/token",
            data={"grant_type": "client_credentials"},
            auth=(creds["client_id"], creds["client_secret"]),
        )
        assert response.json()["expires_in"] == 60
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
    assert creds["client_secret"] not in out + err
    assert "Traceback" not in err


def test_cli_bad_faults_file_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "faults.yaml"
    bad.write_text("rules:\n  - path: /x\n    fault: meteor\n    every: 1\n")
    proc = subprocess.run(
        [sys.executable, "-m", "lakegate", "workspace", "serve", "--port", "0",
         "--state-dir", str(tmp_path / "ws"), "--faults", str(bad)],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "fault must be one of" in proc.stderr
    assert "Traceback" not in proc.stderr
