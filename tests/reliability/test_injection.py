"""Injection: no input moves a request off the connector's origin and path; no write slips
through a read-only connector."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from lakegate.gateway import Gateway
from lakegate.project import Action, Connector, OAuth2Auth, Project
from lakegate.secrets import SecretStore
from lakegate.workspace import LocalWorkspace

from .conftest import access_log, pack_project

BASE_PATH = "/api/2.0/sql/warehouses"
TOKEN_PATH = "/oidc/v1/token"
STATEMENTS = "/api/2.0/sql/statements"

CORPUS = [
    "../../../../etc/passwd",
    "..",
    ".",
    "%2e%2e",
    "%2e%2e%2f%2e%2e%2fadmin",
    "%252e%252e",
    "..%2f..%2f",
    "..\\..\\windows",
    "//evil.example.com/x",
    "//evil.example.com",
    "@evil.example.com",
    "user:pw@evil.example.com",
    "http://evil.example.com/",
    "https://evil.example.com/api",
    "file:///etc/passwd",
    "x\r\nHost: evil.example.com",
    "x\r\n\r\nGET /admin HTTP/1.1",
    "a\nb",
    "\x00",
    "?admin=true",
    "#fragment",
    "a/b/c",
    "/api/2.0/token/create",
    "%0d%0aSet-Cookie:%20x",
    "ab" * 40_000,  # oversized: 80 kB in one path segment
    "é/ü/☃",
    "{{id}}",
    " ",
]


class Recorder(httpx.AsyncBaseTransport):
    """The real transport, recording every URL the gateway asks it to send."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.urls: list[httpx.URL] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.urls.append(request.url)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def injection_project(folder: Path, ws: LocalWorkspace) -> Project:
    """A connector scoped to the warehouses API, an action with path, query and header inputs."""
    folder.mkdir()
    project = Project.new(folder / "lakegate.yaml")
    SecretStore(project.state_dir).set("db_secret", ws.credentials["client_secret"])
    project.set_connector(
        "wh",
        Connector(
            name="wh",
            base_url=ws.host + BASE_PATH,
            auth=OAuth2Auth(
                grant_type="client_credentials",
                token_url=ws.host + TOKEN_PATH,
                client_id=ws.credentials["client_id"],
                client_secret="${secret:db_secret}",
                scope="all-apis",
                client_auth="request_body",
            ),
        ),
    )
    project.set_action(
        "get",
        Action.model_validate(
            {
                "name": "get",
                "connector": "wh",
                "method": "GET",
                "path": "/{{id}}",
                "query": {"q": "{{q}}"},
                "headers": {"X-Note": "{{q}}"},
                "inputs": {"id": {"type": "string", "required": True}, "q": {"type": "string"}},
            }
        ),
    )
    project.save()
    return project


async def test_injection_corpus_never_leaves_the_connector(
    workspace_factory: Callable[..., LocalWorkspace], tmp_path: Path
) -> None:
    ws = workspace_factory()
    project = injection_project(tmp_path / "p", ws)
    recorder = Recorder()
    outcomes: dict[str, int] = {}
    async with Gateway(project, transport=recorder) as gw:
        for value in CORPUS:
            for inputs in ({"id": value}, {"id": "w1", "q": value}, {"id": value, "q": value}):
                result = await gw.call("get", inputs)
                key = "blocked" if result.error is not None and result.status is None else "sent"
                if result.error is not None and result.error.code.startswith("guard"):
                    key = "guard"
                outcomes[key] = outcomes.get(key, 0) + 1
    origin = urlsplit(ws.host)
    sent = [u for u in recorder.urls if u.path != TOKEN_PATH]
    served = [e for e in access_log(ws) if e["path"] != TOKEN_PATH]
    print(
        f"\ninjection: {len(CORPUS)} values x 3 placements = {3 * len(CORPUS)} calls; "
        f"outcomes {outcomes}; {len(sent)} requests sent, {len(served)} served; "
        f"0 off-origin expected"
    )
    assert len(sent) > 0
    for url in recorder.urls:
        assert (url.scheme, url.host, url.port) == (origin.scheme, origin.hostname, origin.port)
        raw_path = url.raw_path.decode().split("?")[0]
        assert raw_path == TOKEN_PATH or raw_path.startswith(BASE_PATH + "/"), raw_path
        assert "/../" not in raw_path + "/" and "/./" not in raw_path + "/"
        assert "\r" not in str(url) and "\n" not in str(url)
    for entry in served:
        assert entry["path"].startswith(BASE_PATH + "/"), entry["path"]


READ_ONLY_CORPUS = [
    "DROP TABLE samples.nyctaxi.trips",
    "DELETE FROM samples.nyctaxi.trips",
    "INSERT INTO t VALUES (1)",
    "UPDATE t SET a = 1",
    "CREATE TABLE t AS SELECT 1",
    "SELECT 1; DROP TABLE t",
    "select 1;drop table t",
    "WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x",
    "/* SELECT */ DROP TABLE t",
    "-- comment\nDROP TABLE t",
    "MERGE INTO t USING s ON t.a = s.a WHEN MATCHED THEN DELETE",
    "TRUNCATE TABLE t",
    "ALTER TABLE t ADD COLUMN b INT",
    "GRANT SELECT ON TABLE t TO `x`",
    "OPTIMIZE t",
    "COPY INTO t FROM '/x'",
    "SET spark.x = 1",
    "USE CATALOG main",
    "CALL system.x()",
    "EXPLAIN DELETE FROM t",
    "  dRoP   tAbLe t",
    "SELECT 1 \u037e DROP TABLE t",
]


async def test_read_only_connector_sends_no_write(
    workspace_factory: Callable[..., LocalWorkspace], tmp_path: Path
) -> None:
    ws = workspace_factory()
    project = await pack_project(tmp_path / "p", ws, allow_writes=False)
    async with Gateway(project) as gw:
        before = len(access_log(ws))
        refused = []
        for sql in READ_ONLY_CORPUS:
            result = await gw.call("execute_sql", {"statement": sql})
            refused.append(not result.ok)
            assert result.error is not None and result.error.code == "policy.read_only", (
                sql,
                result.error,
            )
        after = access_log(ws)[before:]
        control = await gw.call("execute_sql", {"statement": "SELECT 1 AS one"})
    posts = [e for e in after if e["method"] == "POST" and e["path"].startswith(STATEMENTS)]
    print(
        f"\nread-only SQL: {len(READ_ONLY_CORPUS)} write attempts, {sum(refused)} refused, "
        f"{len(posts)} statement requests reached the workspace; control SELECT ok={control.ok}"
    )
    assert posts == []
    assert control.ok, control.error  # the measurement can see a statement that does go through
    assert len(access_log(ws)) > before
