"""Fixtures for the pack: projects connected to a local workspace, a recording transport."""

from __future__ import annotations

import itertools
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from _support import access_log as access_log  # the pack's tests import it from here
from lakegate.databricks.connect import connect
from lakegate.project import Project
from lakegate.secrets import SecretStore
from lakegate.workspace import LocalWorkspace

Hook = Callable[[httpx.Request, int], Awaitable[httpx.Response | None]]


@dataclass
class Seen:
    method: str
    url: httpx.URL
    headers: httpx.Headers
    body: Any


class Recorder(httpx.AsyncBaseTransport):
    """A real transport that records every request and may answer some itself (`hook`)."""

    def __init__(self, hook: Hook | None = None) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.seen: list[Seen] = []
        self.hook = hook

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        content = await request.aread()
        try:
            body = json.loads(content) if content else None
        except ValueError:
            body = content.decode(errors="replace")
        self.seen.append(Seen(request.method, request.url, request.headers, body))
        if self.hook is not None:
            answer = await self.hook(request, len(self.seen))
            if answer is not None:
                return answer
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()

    def posts(self, path: str) -> list[Seen]:
        return [s for s in self.seen if s.method == "POST" and s.url.path == path]


ProjectOn = Callable[..., Awaitable[Project]]


@pytest.fixture
def project_on(tmp_path: Path) -> ProjectOn:
    """`await project_on(ws, allow_writes=False, ...)`: a project connected with `connect()`."""
    counter = itertools.count()

    async def make(
        ws: LocalWorkspace,
        *,
        client_id: str | None = None,
        client_secret: str | None = None,
        run_test: bool = True,
        **kwargs: Any,
    ) -> Project:
        folder = tmp_path / f"project{next(counter)}"
        folder.mkdir()
        project = Project.new(folder / "lakegate.yaml")
        SecretStore(project.state_dir).set(
            "db_secret", client_secret or ws.credentials["client_secret"]
        )
        args = dict(host=ws.host, client_id=client_id or ws.credentials["client_id"],
                    client_secret="${secret:db_secret}", **kwargs)  # fmt: skip
        report = await connect(project, run_test=run_test, **args)
        if not report.saved:  # connect writes nothing when Test fails: a broken setup, untested
            await connect(project, run_test=False, **args)
        return project

    return make
