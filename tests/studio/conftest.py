"""Studio fixtures: a headless Chromium (Debian's, through Playwright), a Studio server started
in-process on a random loopback port over an empty project, and a record of every HTML body the
server sent, so that tests can prove a secret never reached a page."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lakegate.studio import StudioServer

# An upper bound on waiting for a condition (a swap, a page), not a delay: generous, because
# 8 jobs may share 2 cores. Passing assertions return as soon as the condition holds.
expect.set_options(timeout=20_000)

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    found = os.environ.get("LAKEGATE_CHROMIUM") or shutil.which("chromium")
    if not found:
        raise RuntimeError(
            "Debian's chromium is needed for the Studio tests: "
            "apt-get install -y --no-install-recommends chromium (or set LAKEGATE_CHROMIUM)."
        )
    return found


# Module scope: the sync Playwright API keeps an event loop running on the main thread while it
# is open, which would break the async tests of other folders collected after this one.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One headless Chromium for the session (Playwright gives it a fresh temporary profile);
    each test opens its own context, so cookies never carry over."""
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


class HtmlRecorder:
    """ASGI middleware keeping every text/html body the Studio sends (pages and htmx partials)."""

    def __init__(self, app: ASGIApp, sink: list[str]) -> None:
        self.app = app
        self.sink = sink

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state: dict[str, Any] = {"html": False, "chunks": []}

        async def record(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = dict(message.get("headers", []))
                state["html"] = headers.get(b"content-type", b"").startswith(b"text/html")
            elif message["type"] == "http.response.body" and state["html"]:
                state["chunks"].append(message.get("body", b""))
                if not message.get("more_body"):
                    self.sink.append(b"".join(state["chunks"]).decode("utf-8", "replace"))
            await send(message)

        await self.app(scope, receive, record)


@dataclass
class RunningStudio:
    server: StudioServer
    project: Path
    html: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.server.url

    def login_url(self) -> str:
        return self.server.login_url()

    def client(self) -> httpx.Client:
        """An HTTP client signed in through a one-time login link."""
        client = httpx.Client(base_url=self.url, timeout=30)
        response = client.get(self.login_url())
        assert response.status_code == 303 and "lakegate_studio" in client.cookies
        return client

    def csrf(self, client: httpx.Client, path: str = "/") -> str:
        page = client.get(path)
        match = re.search(r'name="csrf_token" value="([^"]+)"', page.text) or re.search(
            r'"X-CSRF-Token": "([^"]+)"', page.text
        )
        assert match, "the page carries no CSRF token"
        return match.group(1)

    def assert_never_sent(self, *secrets: str) -> None:
        """No HTML body the server sent contained any of `secrets`."""
        assert self.html, "no HTML was recorded"
        for body in self.html:
            for secret in secrets:
                assert secret not in body, "a secret reached a page's HTML"


@pytest.fixture
def studio(tmp_path: Path) -> Iterator[RunningStudio]:
    """`lakegate studio --no-browser` in-process over an empty project in tmp_path."""
    project = tmp_path / "lakegate.yaml"
    server = StudioServer(project, port=0)
    running = RunningStudio(server, project)
    server.app.add_middleware(HtmlRecorder, sink=running.html)
    server.start()
    try:
        yield running
    finally:
        server.stop()


@pytest.fixture
def page(browser: Browser, studio: RunningStudio) -> Iterator[Page]:
    """A signed-in page in a fresh browser context; fails the test on any browser error
    (a CSP violation, a script error, a missing resource)."""
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    problems: list[str] = []

    def on_console(message: Any) -> None:
        # A 422 is a form re-rendered with its errors: expected, and shown to the user.
        if message.type == "error" and "status of 422" not in message.text:
            problems.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.goto(studio.login_url())
    yield page
    context.close()
    assert not problems, f"browser errors: {problems}"
