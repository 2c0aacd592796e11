"""A stored secret goes only where it was stored for: a connector whose token URL (or base URL)
was changed to another origin is refused at call time with `auth.secret_origin`, and the other
origin receives nothing. `${env:...}` secrets are not bound."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from _support import databricks_connector, list_warehouses_action
from lakegate.gateway import Gateway
from lakegate.project import Connector, Project, load_project
from lakegate.secrets import SecretStore, origin_of

SECRET = "databricks_client_secret"


class Catcher:
    """A server on another loopback port that records every request it receives."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, bytes]] = []
        catcher = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                catcher.requests.append(("POST", self.path, self.rfile.read(length)))
                self.send_response(400)
                self.end_headers()

            do_GET = do_POST

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def catcher() -> Iterator[Catcher]:
    found = Catcher()
    yield found
    found.server.shutdown()


def seed(tmp_path: Path, workspace: Any, *, bound: bool) -> Project:
    project = Project.new(tmp_path / "lakegate.yaml")
    connector = databricks_connector(workspace, f"${{secret:{SECRET}}}")
    project.set_connector("databricks", connector)
    project.set_action("list_warehouses", list_warehouses_action())
    project.save()
    origin = str(connector.auth.token_url) if bound else None  # type: ignore[union-attr]
    SecretStore(project.state_dir).set(
        SECRET, workspace.credentials["client_secret"], origin=origin
    )
    return project


def point_token_url_at(project: Project, url: str) -> None:
    """What a hand edit of lakegate.yaml (or a forged Studio form) does."""
    text = project.path.read_text()
    fresh = load_project(project.path)
    old = str(fresh.connectors["databricks"].auth.token_url)  # type: ignore[union-attr]
    project.path.write_text(text.replace(old, f"{url}/oidc/v1/token"))


@pytest.mark.parametrize("bound", [True, False], ids=["bound-when-stored", "bound-on-first-use"])
async def test_a_secret_is_not_sent_to_a_changed_token_url(
    tmp_path: Path, workspace: Any, catcher: Catcher, bound: bool
) -> None:
    project = seed(tmp_path, workspace, bound=bound)
    async with Gateway.from_file(project.path) as gw:
        first = await gw.call("list_warehouses")
    assert first.ok, first.error
    store = SecretStore(project.state_dir)
    assert store.origins(SECRET) == [origin_of(workspace.host)]

    point_token_url_at(project, catcher.url)
    async with Gateway.from_file(project.path) as gw:
        refused = await gw.call("list_warehouses")
    assert not refused.ok
    assert refused.error is not None and refused.error.code == "auth.secret_origin"
    assert origin_of(catcher.url) in refused.error.message
    assert origin_of(workspace.host) in refused.error.message
    assert "secret set" in refused.error.hint
    assert catcher.requests == []  # nothing at all reached the other origin
    assert workspace.credentials["client_secret"] not in str(refused.to_dict())


async def test_entering_the_secret_again_moves_it(
    tmp_path: Path, workspace: Any, catcher: Catcher
) -> None:
    project = seed(tmp_path, workspace, bound=True)
    point_token_url_at(project, catcher.url)
    SecretStore(project.state_dir).set(SECRET, "typed-again-for-the-new-host")
    async with Gateway.from_file(project.path) as gw:
        result = await gw.call("list_warehouses")
    assert not result.ok and result.error is not None
    assert result.error.code == "auth.token_failed"  # sent, and refused by that server
    assert len(catcher.requests) == 1 and b"typed-again-for-the-new-host" in catcher.requests[0][2]
    assert SecretStore(project.state_dir).origins(SECRET) == [origin_of(catcher.url)]


async def test_an_env_secret_is_not_bound(
    tmp_path: Path, workspace: Any, catcher: Catcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORIGIN_TEST_SECRET", "env-secret-value-1234")
    project = Project.new(tmp_path / "lakegate.yaml")
    project.set_connector(
        "databricks", databricks_connector(workspace, "${env:ORIGIN_TEST_SECRET}")
    )
    project.set_action("list_warehouses", list_warehouses_action())
    project.save()
    point_token_url_at(project, catcher.url)
    async with Gateway.from_file(project.path) as gw:
        await gw.call("list_warehouses")
    assert len(catcher.requests) == 1  # documented: ${env:...} follows the file


async def test_header_auth_secrets_are_bound_to_the_base_url(
    tmp_path: Path, catcher: Catcher
) -> None:
    store = SecretStore(tmp_path / ".lakegate")
    store.set("api_token", "bearer-token-value-5678", origin="https://api.example.com/v1")
    project = Project.new(tmp_path / "lakegate.yaml")
    project.set_connector(
        "api",
        Connector.model_validate(
            {
                "name": "api",
                "base_url": catcher.url,
                "auth": {"type": "bearer", "token": "${secret:api_token}"},
            }
        ),
    )
    project.set_action(
        "ping", list_warehouses_action().model_copy(update={"connector": "api", "output": None})
    )
    project.save()
    async with Gateway.from_file(project.path) as gw:
        result = await gw.call("ping")
    assert result.error is not None and result.error.code == "auth.secret_origin"
    assert "https://api.example.com" in result.error.message
    assert catcher.requests == []


def test_origins_compare_scheme_host_and_port() -> None:
    assert origin_of("HTTPS://Dbc-1.Cloud.Databricks.com:443/oidc/v1/token?x=1") == (
        "https://dbc-1.cloud.databricks.com"
    )
    assert origin_of("http://127.0.0.1:8080/x") == "http://127.0.0.1:8080"
    assert origin_of("https://h.example.com") != origin_of("http://h.example.com")
    assert origin_of("https://h.example.com:8443") != origin_of("https://h.example.com")
