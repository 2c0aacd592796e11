"""User-to-machine OAuth on the local workspace: the databricks-sdk's own consent flow
(authorization code with PKCE S256) signs alice in through the workspace's sign-in page, refresh
tokens rotate, and every misuse is refused as RFC 6749 says."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from databricks.sdk.oauth import OAuthClient

from _support import sign_in
from lakegate.workspace import LocalWorkspace

ALICE = "alice@example.com"
REDIRECT = "http://localhost:8020"


@pytest.fixture(scope="module")
def ws() -> Iterator[LocalWorkspace]:
    with LocalWorkspace(warehouse_delays=0.1) as ws:
        ws.create_user(ALICE)
        yield ws


def consent(ws: LocalWorkspace) -> Any:
    client = OAuthClient.from_host(ws.host, client_id="databricks-cli", redirect_url=REDIRECT,
                                   scopes=["all-apis", "offline_access"])  # fmt: skip
    return client.initiate_consent()


def me(ws: LocalWorkspace, token: str) -> str:
    reply = httpx.get(f"{ws.host}/api/2.0/preview/scim/v2/Me",
                      headers={"Authorization": f"Bearer {token}"})  # fmt: skip
    return str(reply.json().get("userName"))


def test_the_sdks_consent_flow_signs_alice_in_and_refresh_tokens_rotate(
    ws: LocalWorkspace,
) -> None:
    flow = consent(ws)
    back = sign_in(ws, flow.authorization_url, ALICE)
    assert back.status_code == 302 and back.headers["location"].startswith(REDIRECT)
    query = {k: v[0] for k, v in parse_qs(urlsplit(back.headers["location"]).query).items()}
    assert set(query) == {"code", "state"}
    credentials = flow.exchange_callback_parameters(query)  # the SDK checks state and PKCE
    token = credentials.token()
    assert me(ws, token.access_token) == ALICE
    assert token.refresh_token
    form = {"grant_type": "refresh_token", "refresh_token": token.refresh_token,
            "client_id": "databricks-cli"}  # fmt: skip
    renewed = httpx.post(f"{ws.host}/oidc/v1/token", data=form)
    assert renewed.status_code == 200, renewed.text
    body = renewed.json()
    assert me(ws, body["access_token"]) == ALICE and body["refresh_token"] != token.refresh_token
    again = httpx.post(f"{ws.host}/oidc/v1/token", data=form)  # the old one was used up
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


def _code(ws: LocalWorkspace, **overrides: str) -> tuple[str, Any]:
    flow = consent(ws)
    back = sign_in(ws, flow.authorization_url, ALICE)
    code = parse_qs(urlsplit(back.headers["location"]).query)["code"][0]
    return code, flow


def _redeem(ws: LocalWorkspace, code: str, verifier: str, **extra: str) -> httpx.Response:
    form = {"grant_type": "authorization_code", "code": code, "code_verifier": verifier,
            "redirect_uri": REDIRECT, "client_id": "databricks-cli", **extra}  # fmt: skip
    return httpx.post(f"{ws.host}/oidc/v1/token", data=form)


def test_a_code_needs_its_verifier_its_client_and_works_once(ws: LocalWorkspace) -> None:
    code, flow = _code(ws)
    wrong = _redeem(ws, code, "x" * 43)
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    assert "PKCE" in wrong.json()["error_description"]
    assert _redeem(ws, code, flow._verifier).status_code == 400  # burnt by the failed try
    code, flow = _code(ws)
    assert _redeem(ws, code, flow._verifier, client_id="databricks-sql-python").status_code == 400
    code, flow = _code(ws)
    assert _redeem(ws, code, flow._verifier).status_code == 200
    assert _redeem(ws, code, flow._verifier).status_code == 400  # used once


@pytest.mark.parametrize(
    ("change", "expect"),
    [
        ({"client_id": "evil-app"}, "page"),
        ({"redirect_uri": "https://evil.example/cb"}, "page"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"response_type": "token"}, "unsupported_response_type"),
    ],
)
def test_a_bad_authorize_request_is_refused(
    ws: LocalWorkspace, change: dict[str, str], expect: str
) -> None:
    url = urlsplit(consent(ws).authorization_url)
    params = {k: v[0] for k, v in parse_qs(url.query).items()}
    reply = httpx.get(f"{ws.host}{url.path}", params={**params, **change})
    if expect == "page":  # nothing is sent to a redirect_uri that was not checked
        assert reply.status_code == 400 and "location" not in reply.headers
    else:
        assert reply.status_code == 302
        sent = parse_qs(urlsplit(reply.headers["location"]).query)
        assert sent["error"] == [expect] and sent["state"] == [params["state"]]


def test_an_unknown_user_stays_on_the_page_and_gets_no_code(ws: LocalWorkspace) -> None:
    back = sign_in(ws, consent(ws).authorization_url, "mallory@example.com")
    assert back.status_code == 200 and "location" not in back.headers
    assert re.search(r"No active user", back.text)
    assert "<script" not in sign_in(ws, consent(ws).authorization_url, "<script>").text


def test_discovery_names_the_flow(ws: LocalWorkspace) -> None:
    meta = httpx.get(f"{ws.host}/oidc/.well-known/oauth-authorization-server").json()
    assert {"authorization_code", "refresh_token"} <= set(meta["grant_types_supported"])
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert meta["authorization_endpoint"] == f"{ws.host}/oidc/v1/authorize"
