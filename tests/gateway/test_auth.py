"""Every auth type against a real HTTP server: what reaches the wire, and what comes back."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from lakegate.auth import strategies
from lakegate.gateway import Gateway
from lakegate.project import Action, Connector
from lakegate.secrets import SecretStore

from .conftest import (
    API_KEY,
    CLIENT_ID,
    CLIENT_SECRET,
    PASSWORD,
    PAT,
    REFRESH_TOKEN,
    SECRETS,
    USER,
    ApiServer,
    make_project,
)


@pytest.fixture(autouse=True)
def _secrets_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "T_CLIENT_SECRET": CLIENT_SECRET,
        "T_PASSWORD": PASSWORD,
        "T_API_KEY": API_KEY,
        "T_PAT": PAT,
    }.items():
        monkeypatch.setenv(name, value)


def gateway_for(tmp_path: Path, api: ApiServer, auth: dict[str, Any], path: str) -> Gateway:
    connector = Connector.model_validate({"name": "svc", "base_url": api.url, "auth": auth})
    action = Action(name="probe", connector="svc", path=path)
    return Gateway(make_project(tmp_path, connector, [action]))


def oauth(api: ApiServer, **extra: Any) -> dict[str, Any]:
    return {
        "type": "oauth2",
        "token_url": f"{api.url}/oauth/token",
        "client_id": CLIENT_ID,
        "client_secret": "${env:T_CLIENT_SECRET}",
        **extra,
    }


def assert_no_secret(*texts: Any) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in str(text)


def test_every_auth_type_is_registered_with_its_settings() -> None:
    found = strategies()
    assert set(found) == {"none", "api_key", "bearer", "basic", "oauth2"}
    assert found["basic"].required == ("username", "password")


async def test_api_key_in_a_header_uses_the_value_pattern(tmp_path: Path, api: ApiServer) -> None:
    auth = {
        "type": "api_key",
        "key": "${env:T_API_KEY}",
        "header": "X-API-Key",
        "pattern": "Key %s",
    }
    async with gateway_for(tmp_path, api, auth, "/api/key-header") as gw:
        result = await gw.call("probe")
    assert result.ok, result.error
    assert result.request.headers["X-API-Key"] == "Key ***"
    assert_no_secret(result, result.to_dict(), result.request)


async def test_api_key_in_a_query_parameter_is_hidden_in_the_summary(
    tmp_path: Path, api: ApiServer
) -> None:
    auth = {"type": "api_key", "key": "${env:T_API_KEY}", "query_param": "api_key"}
    async with gateway_for(tmp_path, api, auth, "/api/key-param") as gw:
        result = await gw.call("probe")
    assert result.ok, result.error
    assert "api_key=***" in result.request.url
    assert_no_secret(result.to_dict())


async def test_bearer_and_basic(tmp_path: Path, api: ApiServer) -> None:
    bearer = {"type": "bearer", "token": "${env:T_PAT}"}
    async with gateway_for(tmp_path / "a", api, bearer, "/api/static-bearer") as gw:
        result = await gw.call("probe")
    assert result.ok and result.token_from_cache is None
    assert result.request.headers["Authorization"] == "Bearer ***"
    basic = {"type": "basic", "username": USER, "password": "${env:T_PASSWORD}"}
    async with gateway_for(tmp_path / "b", api, basic, "/api/basic") as gw:
        result = await gw.call("probe")
    assert result.ok and result.request.headers["Authorization"] == "Basic ***"
    assert_no_secret(result.to_dict())


async def test_a_wrong_static_credential_is_a_401_error_not_a_retry_loop(
    tmp_path: Path, api: ApiServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("T_PAT", "not-the-pat")
    async with gateway_for(
        tmp_path, api, {"type": "bearer", "token": "${env:T_PAT}"}, "/api/static-bearer"
    ) as gw:
        result = await gw.call("probe")
    assert not result.ok and result.status == 401 and result.attempts == 1
    assert result.error.code == "remote.http_error"


async def test_client_credentials_token_is_cached(tmp_path: Path, api: ApiServer) -> None:
    async with gateway_for(tmp_path, api, oauth(api, scope="read write"), "/api/whoami") as gw:
        first = await gw.call("probe")
        second = await gw.call("probe")
    assert first.ok and second.ok
    assert (first.token_from_cache, second.token_from_cache) == (False, True)
    assert len(api.state.token_requests) == 1
    sent = api.state.token_requests[0]
    assert sent["form"]["grant_type"] == "client_credentials"
    assert sent["form"]["scope"] == "read write"
    assert sent["via"] == "body" and first.client_auth_used == "request_body"
    assert_no_secret(first.to_dict(), repr(gw), repr(gw.runtime("svc").authenticator))


async def test_basic_header_client_auth(tmp_path: Path, api: ApiServer) -> None:
    api.state.client_auth = "basic"
    async with gateway_for(
        tmp_path, api, oauth(api, client_auth="basic_header"), "/api/whoami"
    ) as gw:
        result = await gw.call("probe")
    assert result.ok and result.client_auth_used == "basic_header"
    assert "client_secret" not in api.state.token_requests[0]["form"]


async def test_auto_client_auth_falls_back_to_basic_and_remembers(
    tmp_path: Path, api: ApiServer
) -> None:
    api.state.client_auth = "basic"
    api.state.expires_in = 1  # every call after a second needs a new token
    async with gateway_for(tmp_path, api, oauth(api, client_auth="auto"), "/api/whoami") as gw:
        first = await gw.call("probe")
        assert [r["via"] for r in api.state.token_requests] == ["body", "basic"]
        assert first.ok and first.client_auth_used == "basic_header"
        gw.runtime("svc").authenticator.source._token = None  # force the next token request
        second = await gw.call("probe")
    assert second.ok
    assert [r["via"] for r in api.state.token_requests] == ["body", "basic", "basic"]


async def test_auto_client_auth_keeps_the_body_when_it_works(
    tmp_path: Path, api: ApiServer
) -> None:
    api.state.client_auth = "body"
    async with gateway_for(tmp_path, api, oauth(api, client_auth="auto"), "/api/whoami") as gw:
        result = await gw.call("probe")
    assert result.ok and result.client_auth_used == "request_body"
    assert len(api.state.token_requests) == 1


async def test_password_grant(tmp_path: Path, api: ApiServer) -> None:
    auth = oauth(api, grant_type="password", username=USER, password="${env:T_PASSWORD}")
    async with gateway_for(tmp_path, api, auth, "/api/whoami") as gw:
        result = await gw.call("probe")
    assert result.ok, result.error
    assert result.data["token"].endswith("-password")
    form = api.state.token_requests[0]["form"]
    assert form["username"] == USER and form["password"] == PASSWORD


async def test_refresh_token_grant_from_the_secret_store(tmp_path: Path, api: ApiServer) -> None:
    store = SecretStore(tmp_path / ".lakegate")
    store.set("RT", REFRESH_TOKEN)
    auth = {
        "type": "oauth2",
        "grant_type": "refresh_token",
        "token_url": f"{api.url}/oauth/token",
        "refresh_token": "${secret:RT}",
    }
    connector = Connector.model_validate({"name": "svc", "base_url": api.url, "auth": auth})
    project = make_project(
        tmp_path, connector, [Action(name="probe", connector="svc", path="/api/whoami")]
    )
    async with Gateway(project) as gw:  # the default store is the project's .lakegate/
        result = await gw.call("probe")
    assert result.ok, result.error
    assert api.state.token_requests[0]["form"]["refresh_token"] == REFRESH_TOKEN


async def test_custom_token_keys_extra_params_and_string_expires_in(
    tmp_path: Path, api: ApiServer
) -> None:
    api.state.expires_in = "7200"
    auth = oauth(
        api,
        token_url=f"{api.url}/oauth/token?key=tok",
        access_token_key="tok",
        extra_token_params={"resource": "https://example.test"},
        extra_token_headers={"X-Tenant": "t1"},
    )
    async with gateway_for(tmp_path, api, auth, "/api/whoami") as gw:
        result = await gw.call("probe")
        token = gw.runtime("svc").authenticator.source._token
    assert result.ok, result.error
    assert token.ttl == 7200
    sent = api.state.token_requests[0]
    assert sent["form"]["resource"] == "https://example.test"
    assert sent["headers"]["x-tenant"] == "t1"


@pytest.mark.parametrize(
    ("change", "hint_part"),
    [
        ({"client_id": "wrong"}, "Wrong client id or secret. Check"),  # no workspace here
        ({"scope": "forbidden"}, "scope"),
        ({"token_url": "/oauth/nowhere"}, "token URL"),
        ({"token_url": "http://127.0.0.1:9/oauth/token"}, "reachable"),
    ],
)
async def test_token_failures_say_what_to_fix(
    tmp_path: Path, api: ApiServer, change: dict[str, str], hint_part: str
) -> None:
    if change.get("token_url", "").startswith("/"):
        change = {"token_url": api.url + change["token_url"]}
    async with gateway_for(tmp_path, api, oauth(api, **change), "/api/whoami") as gw:
        result = await gw.call("probe")
    assert not result.ok
    assert result.error.code == "auth.token_failed"
    assert hint_part in result.error.hint
    assert_no_secret(result.to_dict(), repr(result.error), str(result.error))


async def test_invalid_client_message_carries_the_endpoint_error(
    tmp_path: Path, api: ApiServer
) -> None:
    async with gateway_for(tmp_path, api, oauth(api, client_id="nope"), "/api/whoami") as gw:
        result = await gw.call("probe")
    assert "invalid_client: Client authentication failed" in result.error.message
    assert result.error.details["error"] == "invalid_client"


async def test_single_flight_on_a_failing_endpoint(tmp_path: Path, api: ApiServer) -> None:
    async with gateway_for(tmp_path, api, oauth(api, client_id="nope"), "/api/whoami") as gw:
        results = await asyncio.gather(*(gw.call("probe") for _ in range(50)))
    assert all(r.error.code == "auth.token_failed" for r in results)
    assert len(api.state.token_requests) == 1


async def test_a_missing_secret_is_a_config_error_naming_the_variable(
    tmp_path: Path, api: ApiServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("T_CLIENT_SECRET")
    async with gateway_for(tmp_path, api, oauth(api), "/api/whoami") as gw:
        result = await gw.call("probe")
    assert result.error.code == "config.secret_missing"
    assert "T_CLIENT_SECRET" in result.error.message
    assert api.state.token_requests == []
