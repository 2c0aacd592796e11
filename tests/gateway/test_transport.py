"""The transport under the gateway: aiohttp by default, httpx transports through the adapter.

Both must behave alike where the gateway's rules depend on them: a capped body, failures sorted
into connect / lost / timeout, URLs sent byte for byte, no cookies kept, no hidden resends.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from lakegate._transport import (
    AiohttpTransport,
    HttpClient,
    HttpxTransport,
    SendError,
    Transport,
    encode_url,
    to_transport,
)
from lakegate.gateway import Gateway
from lakegate.project import Action, Connector

from .conftest import ApiServer, make_project

KINDS: list[Callable[[], Transport]] = [AiohttpTransport, HttpxTransport]


@pytest.fixture(params=KINDS, ids=["aiohttp", "httpx"])
async def client(request: pytest.FixtureRequest) -> AsyncIterator[HttpClient]:
    async with HttpClient(request.param(), timeout=10) as http:
        yield http


@contextlib.asynccontextmanager
async def raw_server(answer: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Any]) -> Any:
    """A loopback TCP server whose connections `answer` handles (for broken HTTP)."""
    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()
        await server.wait_closed()


async def test_the_default_is_aiohttp_and_an_httpx_transport_is_adapted() -> None:
    assert isinstance(to_transport(None), AiohttpTransport)
    mock = httpx.MockTransport(lambda request: httpx.Response(204))
    assert isinstance(to_transport(mock), HttpxTransport)
    own = AiohttpTransport()
    assert to_transport(own) is own


async def test_an_in_memory_httpx_transport_serves_gateway_calls(tmp_path: Path) -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"items": [{"id": 1}, {"id": 2}]})

    connector = Connector(name="mem", base_url="http://memory.test")
    action = Action(name="list", connector="mem", path="/api/items", output="items[].id")
    project = make_project(tmp_path, connector, [action])
    async with Gateway(project, transport=httpx.MockTransport(answer)) as gw:
        result = await gw.call("list")
    assert result.ok and result.data == [1, 2]
    assert [str(r.url) for r in seen] == ["http://memory.test/api/items"]
    assert seen[0].headers["user-agent"].startswith("lakegate/")


async def test_a_body_over_the_cap_is_cut_at_the_cap(client: HttpClient, api: ApiServer) -> None:
    capped = await client.get(f"{api.url}/api/big", max_bytes=1000)
    whole = await client.get(f"{api.url}/api/xml", max_bytes=1000)
    assert len(capped.content) == 1000 and capped.status_code == 200
    assert whole.content.startswith(b"<root>")
    # The connection of a cut answer is not reused half-read: the next call still works.
    assert (await client.get(f"{api.url}/api/xml")).status_code == 200


async def test_a_chunked_body_over_the_cap_is_cut_too(client: HttpClient) -> None:
    async def chunked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        for _ in range(50):
            writer.write(b"400\r\n" + b"y" * 1024 + b"\r\n")
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        writer.close()

    async with raw_server(chunked) as url:
        reply = await client.transport.send("GET", url + "/", {}, None, 10, 5000)
    assert reply.truncated and reply.body == b"y" * 5000


async def test_failures_are_sorted_into_connect_lost_and_timeout(client: HttpClient) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    with pytest.raises(SendError) as refused:
        await client.get(f"http://127.0.0.1:{closed_port}/")
    assert refused.value.kind == "connect"

    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.close()

    async with raw_server(hang_up) as url:
        with pytest.raises(SendError) as lost:
            await client.get(url + "/")
    assert lost.value.kind == "lost"

    done = asyncio.Event()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await done.wait()
        writer.close()

    async with raw_server(silent) as url:
        with pytest.raises(SendError) as slow:
            await client.get(url + "/", timeout=0.3)
        done.set()
    assert slow.value.kind == "timeout"


async def test_urls_go_out_byte_for_byte(client: HttpClient, api: ApiServer) -> None:
    # A presigned link's signature and an encoded slash must not be re-encoded or normalised.
    path = "/api/echo/a%2Fb/%7Euser/x%20y"
    query = "X-Amz-Signature=ab%2Bcd%3D&list=a,b"
    echoed = (await client.get(f"{api.url}{path}?{query}")).json()
    assert echoed["raw_path"] == path and echoed["query"] == query


async def test_query_values_are_encoded_and_come_back_intact(api: ApiServer) -> None:
    value = "a b&c=d/é?#+%"
    url = encode_url(f"{api.url}/api/echo/q", [("v", value), ("n", "1")])
    async with HttpClient() as http:
        echoed = (await http.get(url)).json()
    from urllib.parse import parse_qsl

    assert parse_qsl(echoed["query"]) == [("v", value), ("n", "1")]


async def test_no_cookie_is_kept_between_calls() -> None:
    seen: list[bytes] = []

    async def sets_cookie(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError):
                break
            seen.append(head)
            writer.write(
                b"HTTP/1.1 200 OK\r\nSet-Cookie: session=abc; Path=/\r\nContent-Length: 2\r\n\r\nok"
            )
            await writer.drain()
        writer.close()

    async with raw_server(sets_cookie) as url, HttpClient(AiohttpTransport()) as http:
        host = url.replace("127.0.0.1", "localhost")  # a jar would skip an IP host anyway
        await http.get(host + "/one")
        await http.get(host + "/two")
    assert len(seen) == 2 and b"cookie" not in seen[1].lower()


async def test_a_dropped_keep_alive_connection_is_not_resent_behind_the_gateways_back() -> None:
    """aiohttp would resend a PUT once by itself; the gateway's rules decide, so it must not."""
    requests = 0

    async def answer_once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal requests
        await reader.readuntil(b"\r\n\r\n")
        requests += 1
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            await reader.readuntil(b"\r\n\r\n")  # the second request on this connection
            requests += 1
        writer.transport.abort()  # ... is dropped without an answer

    async with raw_server(answer_once) as url, HttpClient(AiohttpTransport()) as http:
        assert (await http.get(url + "/")).status_code == 200
        with pytest.raises(SendError) as dropped:
            await http.request("PUT", url + "/", json={"x": 1})
    assert dropped.value.kind == "lost" and requests == 2


async def test_a_gateway_shares_one_transport_for_tokens_and_calls(
    tmp_path: Path, api: ApiServer
) -> None:
    connector = Connector(name="svc", base_url=api.url)
    action = Action(name="get_xml", connector="svc", path="/api/xml")
    async with Gateway(make_project(tmp_path, connector, [action])) as gw:
        assert (await gw.call("get_xml")).ok
        runtime = gw.runtime("svc")
        assert runtime.transport is gw.transport is gw.plain_http().transport
    assert gw._transport is None  # closed with the gateway


CALL_OVER_TLS = """
import asyncio, json, sys
from lakegate.gateway import Gateway

async def main():
    async with Gateway.from_file(sys.argv[1]) as gw:
        result = await gw.call("list_warehouses")
    print(json.dumps({"ok": result.ok, "code": result.error.code if result.error else None}))

asyncio.run(main())
"""


@pytest.mark.parametrize("trusted", [True, False])
def test_https_trusts_the_ca_named_by_ssl_cert_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, trusted: bool
) -> None:
    """aiohttp reads SSL_CERT_FILE when it loads: each case runs in a fresh interpreter."""
    import json
    import os
    import subprocess
    import sys

    from lakegate.workspace import LocalWorkspace

    from .conftest import databricks_project

    with LocalWorkspace(state_dir=tmp_path / "ws", warehouse_delays=0.1, tls=True) as ws:
        project = databricks_project(tmp_path, ws, monkeypatch)
        env = {**os.environ}
        if trusted:
            env["SSL_CERT_FILE"] = str(ws.ca_file)
        else:
            env.pop("SSL_CERT_FILE", None)
        done = subprocess.run(
            [sys.executable, "-c", CALL_OVER_TLS, str(project.path)],
            capture_output=True, text=True, timeout=120, env=env,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    outcome = json.loads(done.stdout.strip().splitlines()[-1])
    assert ws.host.startswith("https://")
    if trusted:
        assert outcome == {"ok": True, "code": None}
    else:  # an unknown CA: the token request fails first, as an error, not a traceback
        assert outcome == {"ok": False, "code": "auth.token_failed"}
