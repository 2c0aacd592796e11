"""`lakegate login`: a person signs in in a browser (OAuth U2M with PKCE) and the connector acts
as them from then on, in every later process; rotated refresh tokens are kept in the store."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from _support import sign_in
from lakegate._transport import HttpClient
from lakegate.authconfig import OAuth2Auth
from lakegate.project import Action, Connector, Project, load_project
from lakegate.secrets import SecretStore, resolve
from lakegate.tokens import TokenSource
from lakegate.workspace import LocalWorkspace

ALICE = "alice@example.com"


@pytest.fixture(scope="module")
def ws() -> Iterator[LocalWorkspace]:
    with LocalWorkspace(warehouse_delays=0.1) as ws:
        ws.create_user(ALICE)
        yield ws


def browser(ws: LocalWorkspace, url: str, user: str = ALICE) -> None:
    """What the person does: sign in, and land back on lakegate's listener."""
    back = sign_in(ws, url, user)
    assert back.status_code == 302, back.text
    assert "Signed in" in httpx.get(back.headers["location"]).text


def project_for(ws: LocalWorkspace, folder: Path) -> Project:
    project = Project.new(folder / "lakegate.yaml")
    auth = OAuth2Auth(grant_type="client_credentials", token_url=f"{ws.host}/oidc/v1/token",
                      client_id="sp", client_secret="${env:UNUSED_SECRET}")  # fmt: skip
    project.set_connector("databricks", Connector(name="databricks", base_url=ws.host, auth=auth))
    project.set_action("whoami", Action(name="whoami", connector="databricks",
                       path="/api/2.0/preview/scim/v2/Me", output="userName"))  # fmt: skip
    project.save()
    return project


def cli(project: Path, *args: str, **popen: object) -> subprocess.Popen[str]:
    env = {**os.environ, "COLUMNS": "300"}
    return subprocess.Popen([sys.executable, "-m", "lakegate", "--project", str(project), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            **popen)  # type: ignore[call-overload]  # fmt: skip


def test_login_makes_the_connector_act_as_the_person_in_every_later_process(
    ws: LocalWorkspace, tmp_path: Path
) -> None:
    project = project_for(ws, tmp_path)
    proc = cli(project.path, "login", "--no-browser", "--port", "0", "--timeout-s", "120")
    assert proc.stderr is not None
    lines: list[str] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not any("/oidc/v1/authorize?" in x for x in lines):
        lines.append(proc.stderr.readline())
    url = next(x for x in lines if "/oidc/v1/authorize?" in x).strip()
    helper = threading.Thread(target=browser, args=(ws, url))
    helper.start()
    out, err = proc.communicate(timeout=120)
    helper.join(30)
    assert proc.returncode == 0, err
    assert f"Signed in as {ALICE}" in out and "${secret:databricks_refresh_token}" in out
    text = project.path.read_text()
    assert "grant_type: refresh_token" in text and "client_id: databricks-cli" in text
    store = SecretStore(project.state_dir)
    first = store.get("databricks_refresh_token")
    assert first and first not in text + out + err
    assert stat.S_IMODE((project.state_dir / "secrets.json").stat().st_mode) == 0o600
    for _ in range(2):  # each process refreshes, the workspace rotates, the store follows
        call = cli(project.path, "call", "whoami")
        called, why = call.communicate(timeout=120)
        assert call.returncode == 0 and called.strip() == ALICE, why
    assert SecretStore(project.state_dir).get("databricks_refresh_token") != first
    log = [json.loads(x) for x in ws.requests_log.read_text().splitlines()]
    assert ALICE in {e.get("principal") for e in log if e.get("path", "").endswith("/Me")}


def test_a_refresh_token_another_process_rotated_is_taken_from_the_store(
    ws: LocalWorkspace, tmp_path: Path
) -> None:
    project = project_for(ws, tmp_path)
    store = SecretStore(project.state_dir)

    async def flow() -> None:
        import asyncio

        from lakegate.databricks.login import login

        def open_browser(url: str) -> object:
            return asyncio.to_thread(browser, ws, url)

        await login(project, "databricks", open_browser=open_browser, secret_store=store,
                    port=0, timeout_s=60)  # fmt: skip
        config = load_project(project.path).connectors["databricks"].auth
        assert isinstance(config, OAuth2Auth)
        name = "databricks_refresh_token"

        def source() -> TokenSource:
            return TokenSource(config, HttpClient(), lambda ref: resolve(ref, store, None),
                               keep_rotated=lambda v: store.set(name, v))  # fmt: skip

        one, two = source(), source()
        await one.token()  # one rotates R0 -> R1 (stored)
        await two.token()  # two starts from the store: R1 -> R2 (stored)
        one.invalidate((await one.token())[0])
        renewed, _ = await one.token()  # one still holds R1, now used: it takes R2 from the store
        assert renewed.value
        assert one.requests == 3  # R1 refused once, then R2 accepted

    import asyncio

    asyncio.run(flow())


def test_login_to_an_unknown_connector_opens_nothing(tmp_path: Path, ws: LocalWorkspace) -> None:
    project = project_for(ws, tmp_path)
    done = cli(project.path, "login", "nope", "--no-browser", "--port", "0")
    out, err = done.communicate(timeout=60)
    assert done.returncode == 2 and "nope" in err and "authorize" not in err + out
    assert "Traceback" not in err
