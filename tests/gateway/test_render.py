"""Templates, input validation and guards: checked on the wire by an echo endpoint."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lakegate.errors import GuardError, InputError
from lakegate.gateway import Gateway
from lakegate.project import Action, Connector
from lakegate.render import check_url, render, resolve_inputs

from .conftest import ApiServer, make_project

CONNECTOR = Connector(name="svc", base_url="https://api.example.test/v1", defaults={"region": "eu"})


def action(**fields: Any) -> Action:
    return Action.model_validate({"name": "echo", "connector": "svc", **fields})


ECHO = action(
    method="POST",
    path="/items/{{item}}/sub",
    query={"q": "{{q}}", "fixed": "1", "tag": "{{tags}}", "absent": "{{maybe}}"},
    headers={"X-Trace": "t-{{q}}"},
    body={"count": "{{count}}", "label": "n={{count}}", "flag": "{{flag}}", "gone": "{{maybe}}",
          "nested": {"list": ["{{count}}", "{{maybe}}"]}, "region": "{{region}}"},
    inputs={
        "item": {"type": "string", "required": True},
        "q": {"type": "string", "default": "all"},
        "count": {"type": "integer"},
        "flag": {"type": "boolean"},
        "tags": {"type": "array"},
        "maybe": {"type": "string"},
        "region": {"type": "string", "required": True},
    },
)  # fmt: skip


def test_typed_body_interpolated_strings_dropped_absent_values() -> None:
    values = resolve_inputs(
        ECHO, CONNECTOR, {"item": "x", "count": "5", "flag": "true", "tags": '["a","b"]'}
    )
    request = render(CONNECTOR, ECHO, values)
    assert request.json == {
        "count": 5,
        "label": "n=5",
        "flag": True,
        "nested": {"list": [5]},
        "region": "eu",  # the connector default
    }
    assert request.params == [("q", "all"), ("fixed", "1"), ("tag", "a"), ("tag", "b")]
    assert request.headers == {"X-Trace": "t-all"}
    assert request.url == "https://api.example.test/v1/items/x/sub"


def test_path_values_are_percent_encoded_per_segment() -> None:
    values = resolve_inputs(ECHO, CONNECTOR, {"item": "a/b?c#d@e f"})
    assert render(CONNECTOR, ECHO, values).url.endswith("/items/a%2Fb%3Fc%23d%40e%20f/sub")


@pytest.mark.parametrize("item", ["..", ".", "%2e%2e", "%2E%2e", ""])
def test_path_traversal_is_blocked(item: str) -> None:
    values = resolve_inputs(ECHO, CONNECTOR, {"item": item})
    with pytest.raises(GuardError):
        render(CONNECTOR, ECHO, values)


@pytest.mark.parametrize(
    "item", ["//evil.host", "http://evil.host/x", "user@evil.host", "evil.host:80"]
)
def test_values_cannot_change_the_host(item: str) -> None:
    values = resolve_inputs(ECHO, CONNECTOR, {"item": item})
    url = render(CONNECTOR, ECHO, values).url
    assert url.startswith("https://api.example.test/v1/items/")
    check_url(CONNECTOR, url)  # and the guard agrees


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.host/v1/x",
        "http://api.example.test/v1/x",  # scheme downgrade
        "https://api.example.test:8443/v1/x",
        "https://user@api.example.test/v1/x",
        "https://api.example.test/v2/x",  # outside the base path
        "https://api.example.test/v1/../admin",
        "https://api.example.test/v1/%2e%2e/admin",
        "https://api.example.test/v1x",
    ],
)
def test_the_guard_refuses_urls_leaving_the_connector(url: str) -> None:
    with pytest.raises(GuardError):
        check_url(CONNECTOR, url)


@pytest.mark.parametrize("value", ["a\r\nX-Injected: 1", "a\nb", "a\x00b"])
def test_line_breaks_in_headers_are_refused(value: str) -> None:
    values = resolve_inputs(ECHO, CONNECTOR, {"item": "x", "q": value})
    with pytest.raises(GuardError, match="line break"):
        render(CONNECTOR, ECHO, values)


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({}, "input 'item' is required but was not given"),
        ({"item": "x", "count": "many"}, "should be an integer"),
        ({"item": "x", "count": 1.5}, "input 'count' must be an integer, not 1.5"),
        ({"item": "x", "nope": 1}, "has no input 'nope'"),
    ],
)
def test_inputs_are_validated_before_any_request(inputs: dict[str, Any], message: str) -> None:
    with pytest.raises(InputError, match=message):
        resolve_inputs(ECHO, CONNECTOR, inputs)


def test_enum_and_json_schema() -> None:
    mode = {"type": "string", "enum": ["a", "b"], "required": True}
    act = action(path="/x", inputs={"mode": {**mode, "description": "The mode.", "example": "a"}})
    schema = act.input_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["properties"]["mode"] == {
        "type": "string",
        "description": "The mode.",
        "enum": ["a", "b"],
        "examples": ["a"],
    }
    assert schema["required"] == ["mode"] and schema["additionalProperties"] is False
    assert act.input_schema({"mode": "a"})["required"] == []  # a connector default fills it
    with pytest.raises(InputError, match="input 'mode' must be one of 'a', 'b', not 'c'"):
        resolve_inputs(act, CONNECTOR, {"mode": "c"})


async def test_the_request_on_the_wire(tmp_path: Path, api: ApiServer) -> None:
    connector = Connector(name="svc", base_url=f"{api.url}/api/echo")
    echo = ECHO.model_copy(update={"path": "/items/{{item}}/sub"})
    async with Gateway(make_project(tmp_path, connector, [echo])) as gw:
        result = await gw.call("echo", {"item": "a/b c", "count": 3, "region": "us"})
    assert result.ok, result.error
    seen = result.data
    assert seen["raw_path"] == "/api/echo/items/a%2Fb%20c/sub"
    assert seen["query"] == "q=all&fixed=1"
    assert seen["json"]["count"] == 3 and seen["json"]["region"] == "us"
    assert seen["headers"]["user-agent"].startswith("lakegate/")
    assert seen["headers"]["x-trace"] == "t-all"


async def test_xml_cap_pagination_and_output(tmp_path: Path, api: ApiServer) -> None:
    connector = Connector(name="svc", base_url=api.url)
    actions = [
        action(name="xml", path="/api/xml", output="root.item"),
        action(name="big", path="/api/big"),
        action(name="pages", path="/api/pages", pagination={"max_pages": 10}, output="items"),
        action(name="two_pages", path="/api/pages", pagination={"max_pages": 2}),
    ]
    async with Gateway(make_project(tmp_path, connector, actions)) as gw:
        xml = await gw.call("xml")
        big = await gw.call("big")
        pages = await gw.call("pages")
        two = await gw.call("two_pages")
    assert xml.data == ["1", "2"]
    # Over the 1 MiB cap: a clear failure, never `ok` with cut-off data.
    assert not big.ok and big.data is None and big.error.code == "remote.response_too_large"
    assert "2,097,152 bytes" in big.error.message and "max_response_bytes" in big.error.hint
    assert pages.data == [0, 1, 2, 3, 4, 5, 6, 7] and pages.pages == 4
    assert "next_page_token" not in pages.raw
    assert two.raw["items"] == [0, 1, 2, 3] and two.raw["next_page_token"] == "2"


async def test_redirects_keep_credentials_on_the_connector_origin(
    tmp_path: Path, api: ApiServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("T_PAT", "pat-value-for-redirects")
    connector = Connector.model_validate(
        {"name": "svc", "base_url": api.url, "auth": {"type": "bearer", "token": "${env:T_PAT}"}}
    )
    same = f"{api.url}/api/echo/same"
    other = f"http://localhost:{api.port}/api/echo/other"  # another origin, same test server
    actions = [
        action(name="same", path="/api/redirect", query={"to": same}),
        action(name="other", path="/api/redirect", query={"to": other}),
    ]
    async with Gateway(make_project(tmp_path, connector, actions)) as gw:
        kept = await gw.call("same")
        dropped = await gw.call("other")
    assert kept.data["headers"]["authorization"] == "Bearer pat-value-for-redirects"
    assert dropped.ok and dropped.data["raw_path"] == "/api/echo/other"
    assert "authorization" not in dropped.data["headers"]


async def test_timeout_s_is_enforced(tmp_path: Path, api: ApiServer) -> None:
    connector = Connector(name="svc", base_url=api.url)
    slow = action(name="slow", path="/api/slow", query={"s": "60"}, timeout_s=0.3)
    async with Gateway(make_project(tmp_path, connector, [slow])) as gw:
        result = await gw.call("slow")
    assert not result.ok and result.error.code == "request.timeout"
    assert result.elapsed_ms < 60_000  # gave up before the server's answer (after 60 s) came


async def test_unknown_action_and_bad_inputs_come_back_as_results(
    tmp_path: Path, api: ApiServer
) -> None:
    connector = Connector(name="svc", base_url=api.url)
    async with Gateway(make_project(tmp_path, connector, [ECHO])) as gw:
        missing = await gw.call("nope")
        bad = await gw.call("echo", {"count": "x"})
    assert missing.error.code == "config.not_found"
    assert bad.error.code == "request.invalid_input" and bad.attempts == 0


async def test_hints_match_their_cause(
    tmp_path: Path, api: ApiServer, workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lakegate.results import status_error

    monkeypatch.setenv("T_WRONG", "wrong-secret-for-hints")
    auth = {"type": "oauth2", "client_id": "cid-123", "client_secret": "${env:T_WRONG}"}
    other = Connector.model_validate(
        {
            "name": "svc",
            "base_url": api.url,
            "auth": {**auth, "token_url": f"{api.url}/oauth/token"},
        }
    )
    async with Gateway(
        make_project(tmp_path, other, [action(name="who", path="/api/whoami")])
    ) as gw:
        failed = await gw.call("who")
    assert failed.error.code == "auth.token_failed"
    assert "assigned" not in failed.error.hint  # no workspace behind a plain OAuth2 API
    dbx = Connector.model_validate(
        {"name": "svc", "base_url": workspace.host,
         "auth": {**auth, "token_url": f"{workspace.host}/oidc/v1/token"}}
    )  # fmt: skip
    (tmp_path / "dbx").mkdir()
    project = make_project(
        tmp_path / "dbx", dbx, [action(name="wh", path="/api/2.0/sql/warehouses")]
    )
    async with Gateway(project) as gw:
        assert "not assigned to this workspace" in (await gw.call("wh")).error.hint

    body = {"error_code": "PERMISSION_DENIED",
            "message": "Provided OAuth token does not have required scopes: all-apis"}  # fmt: skip
    assert "scope: sql all-apis" in status_error(403, "Forbidden", body).hint
    warehouse = {"error_code": "PERMISSION_DENIED", "message": "User is not allowed to use it"}
    assert "CAN_USE" in status_error(403, "Forbidden", warehouse).hint


async def test_a_projection_is_never_skipped_silently(tmp_path: Path, api: ApiServer) -> None:
    from lakegate.results import unprojectable_text

    connector = Connector(name="svc", base_url=api.url)
    text = action(name="text", path="/api/big", output="length(@)", max_response_bytes=4 << 20)
    async with Gateway(make_project(tmp_path, connector, [text])) as gw:
        result = await gw.call("text")
    assert not result.ok and result.data is None and result.error.code == "remote.not_json"
    assert "length(@)" in result.error.message and "Remove `output`" in result.error.hint
    assert unprojectable_text("a", "x", '{"x": 1}') == {"x": 1}  # JSON sent as text/plain
