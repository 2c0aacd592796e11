"""Token federation: a user signs in with a JWT from the company's identity provider (here the
workspace's own test IdP), exchanged at /oidc/v1/token as the databricks-sdk's `env-oidc` auth
does it, and Unity Catalog decides what that user's SQL may read."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from databricks.sdk import WorkspaceClient
from databricks.sdk.service.sql import StatementState
from joserfc import jwt
from joserfc.jwk import RSAKey
from workspace_http import bearer, fetch_token

from lakegate.workspace import LocalWorkspace

ALICE = "alice@example.com"
EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
JWT = "urn:ietf:params:oauth:token-type:jwt"


@pytest.fixture(scope="module")
def idp_ws() -> Any:
    with LocalWorkspace(warehouse_delays=0.1, idp=True) as ws:
        ws.create_user(ALICE)
        yield ws


def exchange(ws: LocalWorkspace, token: str, **extra: str) -> httpx.Response:
    form = {"grant_type": EXCHANGE, "subject_token": token, "subject_token_type": JWT,
            "scope": "all-apis", **extra}  # fmt: skip
    return httpx.post(f"{ws.host}/oidc/v1/token", data=form)


def test_the_sdks_env_oidc_auth_signs_alice_in_unchanged(
    idp_ws: LocalWorkspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABRICKS_OIDC_TOKEN", idp_ws.idp_token(ALICE))
    for name in ("DATABRICKS_CLIENT_ID", "DATABRICKS_CLIENT_SECRET", "DATABRICKS_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    w = WorkspaceClient(host=idp_ws.host, auth_type="env-oidc")
    me = w.current_user.me()
    assert me.user_name == ALICE
    admin = httpx.Client(base_url=idp_ws.host, headers=bearer(fetch_token(idp_ws)), timeout=60)
    listed = admin.get("/api/2.0/sql/warehouses").json()["warehouses"]
    warehouse = next(x["id"] for x in listed if x["state"] == "RUNNING")
    acl = {"access_control_list": [{"user_name": ALICE, "permission_level": "CAN_USE"}]}
    granted = admin.patch(f"/api/2.0/permissions/warehouses/{warehouse}", json=acl)
    assert granted.status_code == 200, granted.text

    def run(sql: str) -> Any:
        return w.statement_execution.execute_statement(
            statement=sql, warehouse_id=warehouse, wait_timeout="30s"
        )

    who = run("SELECT current_user()")
    if who.status.state != StatementState.SUCCEEDED:
        pytest.fail(f"alice cannot run SQL: {who.status}")
    assert who.result.data_array == [[ALICE]]
    # Unity Catalog decides: nothing in main until a grant to alice@example.com.
    body = {"statement": "CREATE TABLE IF NOT EXISTS main.default.pay AS SELECT 1 AS p",
            "warehouse_id": warehouse, "wait_timeout": "30s"}  # fmt: skip
    assert admin.post("/api/2.0/sql/statements", json=body).json()["status"]["state"] == (
        "SUCCEEDED"
    )
    refused = run("SELECT * FROM main.default.pay")
    assert refused.status.state == StatementState.FAILED
    assert "INSUFFICIENT_PERMISSIONS" in refused.status.error.message
    uc = "/api/2.1/unity-catalog/permissions"
    grant = {"changes": [{"principal": ALICE, "add": ["USE_CATALOG", "USE_SCHEMA", "SELECT"]}]}
    assert admin.patch(f"{uc}/catalog/main", json=grant).status_code == 200
    assert run("SELECT * FROM main.default.pay").result.data_array == [["1"]]
    # The access log names the person on each request.
    log = [json.loads(line) for line in idp_ws.requests_log.read_text().splitlines()]
    assert any(e.get("principal") == ALICE for e in log if e.get("path", "").startswith("/api"))


def _forged(ws: LocalWorkspace) -> str:
    other = RSAKey.generate_key(2048, parameters={"kid": "attacker"})
    now = int(time.time())
    claims = {"iss": f"{ws.account_host}/idp", "sub": ALICE, "aud": ws.account_id,
              "iat": now, "exp": now + 600}  # fmt: skip
    return jwt.encode({"alg": "RS256", "kid": "attacker"}, claims, other)


REFUSALS: dict[str, Callable[[LocalWorkspace], str]] = {
    "signed by another key": _forged,
    "expired": lambda ws: ws.idp_token(ALICE, lifetime_s=-120),
    "not valid yet": lambda ws: ws.idp_token(ALICE, nbf=int(time.time()) + 600),
    "wrong audience": lambda ws: ws.idp_token(ALICE, audience="someone-else"),
    "wrong issuer": lambda ws: ws.idp_token(ALICE, issuer="https://evil.example.com"),
    "unknown user": lambda ws: ws.idp_token("mallory@example.com"),
    "not a JWT": lambda ws: "not.a-jwt",
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_a_bad_identity_token_is_refused_and_nothing_is_issued(
    idp_ws: LocalWorkspace, case: str
) -> None:
    answer = exchange(idp_ws, REFUSALS[case](idp_ws))
    assert answer.status_code == 400, (case, answer.text)
    body = answer.json()
    assert body["error"] == "invalid_grant" and body["error_description"], body
    assert "access_token" not in body


def test_a_service_principal_policy_lets_a_workload_sign_in_as_that_principal(
    idp_ws: LocalWorkspace,
) -> None:
    sp = idp_ws.create_service_principal("ci-workload", warehouse_permission="CAN_USE")
    account = httpx.Client(
        base_url=f"{idp_ws.account_host}/api/2.0/accounts/{idp_ws.account_id}",
        headers=bearer(fetch_token(idp_ws, account=True)),
        timeout=30,
    )
    jwks = httpx.get(f"{idp_ws.account_host}/idp/jwks.json").json()
    policy = {"oidc_policy": {"issuer": f"{idp_ws.account_host}/idp",
                              "audiences": ["ci"], "subject": "repo:acme/etl:main",
                              "jwks_json": json.dumps(jwks)}}  # fmt: skip
    created = account.post(f"/servicePrincipals/{sp['id']}/federationPolicies", json=policy)
    assert created.status_code == 200, created.text
    listed = account.get(f"/servicePrincipals/{sp['id']}/federationPolicies").json()
    assert [p["policy_id"] for p in listed["policies"]] == [created.json()["policy_id"]]
    token = idp_ws.idp_token("repo:acme/etl:main", audience="ci")
    answer = exchange(idp_ws, token, client_id=sp["client_id"])
    assert answer.status_code == 200, answer.text
    me = httpx.get(f"{idp_ws.host}/api/2.0/preview/scim/v2/Me",
                   headers=bearer(answer.json()["access_token"]))  # fmt: skip
    assert me.json()["userName"] == sp["client_id"]
    wrong_subject = idp_ws.idp_token("repo:acme/other:main", audience="ci")
    refused = exchange(idp_ws, wrong_subject, client_id=sp["client_id"])
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"


def test_workspace_serve_with_idp_and_a_user_lets_that_user_sign_in(tmp_path: Any) -> None:
    import os
    import signal
    import subprocess
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-m", "lakegate", "workspace", "serve", "--port", "0", "--idp",
         "--user", ALICE, "--state-dir", str(tmp_path / "ws")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip
    try:
        shown: dict[str, str] = {}
        deadline = time.monotonic() + 60
        while "user" not in shown:
            assert time.monotonic() < deadline and proc.poll() is None, proc.stderr.read()
            words = proc.stdout.readline().split()
            if words and words[0] in ("workspace", "test", "user"):
                shown[words[0]] = words[2] if words[0] == "test" else words[1]
        minted = httpx.post(f"{shown['test']}/token",
                            data={"grant_type": "password", "username": ALICE})  # fmt: skip
        form = {"grant_type": EXCHANGE, "subject_token": minted.json()["id_token"],
                "subject_token_type": JWT}  # fmt: skip
        token = httpx.post(f"{shown['workspace']}/oidc/v1/token", data=form).json()
        me = httpx.get(f"{shown['workspace']}/api/2.0/preview/scim/v2/Me",
                       headers=bearer(token["access_token"]))  # fmt: skip
        assert me.json()["userName"] == ALICE
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=15)
    assert proc.returncode == 0 and "Traceback" not in err, err


def test_the_idp_token_endpoint_mints_for_one_audience_or_several(idp_ws: LocalWorkspace) -> None:
    url = f"{idp_ws.account_host}/idp/token"
    jwks = httpx.get(f"{idp_ws.account_host}/idp/jwks.json").json()

    def claims(form: dict[str, Any]) -> dict[str, Any]:
        reply = httpx.post(url, data=form)
        assert reply.status_code == 200, reply.text
        from joserfc.jwk import KeySet

        return jwt.decode(reply.json()["access_token"], KeySet.import_key_set(jwks)).claims

    base = {"grant_type": "password", "username": ALICE}
    assert claims(base)["aud"] == idp_ws.account_id
    mcp = "https://mcp.example/mcp"
    assert claims({**base, "audience": mcp})["aud"] == mcp
    both = {**base, "audience": [mcp, idp_ws.account_id]}  # the parameter, repeated
    assert claims(both)["aud"] == [mcp, idp_ws.account_id]
    assert exchange(idp_ws, httpx.post(url, data=both).json()["access_token"]).status_code == 200
    refused = httpx.post(url, data={"grant_type": "client_credentials"})
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_request"
