"""`serve --http` as an OAuth protected resource: the company IdP's JWT (here the local
workspace's test IdP), issued for this server, names the person; anything else is a 401 that
points at the Protected Resource Metadata, as the MCP authorization spec says."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from _support import serve_http
from lakegate.workspace import LocalWorkspace

from ._clients import http_session, text_of
from .conftest import build_project

ALICE = "alice@example.com"
STATIC = "static-token-0123456789abcdef-0123456789"


@pytest.fixture(scope="module")
def idp_ws() -> Iterator[LocalWorkspace]:
    with LocalWorkspace(warehouse_delays=0.1, idp=True) as ws:
        yield ws


@pytest.fixture(scope="module")
def served(idp_ws: LocalWorkspace, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    folder = tmp_path_factory.mktemp("oauth")
    issuer = f"{idp_ws.account_host}/idp"
    project = build_project(
        idp_ws,
        folder,
        auth={"type": "oauth", "issuer": issuer, "jwks_uri": f"{issuer}/jwks.json"},
    )
    with serve_http(project.path, token=STATIC) as server:
        yield {"url": server.url, "issuer": issuer, "state": project.state_dir}


def _token(ws: LocalWorkspace, served: dict, **claims: Any) -> str:
    claims.setdefault("audience", served["url"])
    return ws.idp_token(ALICE, **claims)


def test_the_protected_resource_metadata_names_the_issuer(served: dict) -> None:
    base = served["url"].removesuffix("/mcp")
    answer = httpx.get(f"{base}/.well-known/oauth-protected-resource/mcp")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["resource"] == served["url"]
    assert body["authorization_servers"] == [served["issuer"]]


def _forged(ws: LocalWorkspace, served: dict) -> str:
    key = RSAKey.generate_key(2048, parameters={"kid": "attacker"})
    now = int(time.time())
    claims = {"iss": served["issuer"], "sub": ALICE, "email": ALICE, "aud": served["url"],
              "iat": now, "exp": now + 600}  # fmt: skip
    return jwt.encode({"alg": "RS256", "kid": "attacker"}, claims, key)


@pytest.mark.parametrize(
    "bad",
    ["none", "static", "forged", "expired", "wrong audience", "wrong issuer", "not a jwt"],
)
def test_a_request_without_a_good_token_gets_401_pointing_at_the_metadata(
    idp_ws: LocalWorkspace, served: dict, bad: str
) -> None:
    tokens = {
        "none": None,
        "static": STATIC,
        "forged": _forged(idp_ws, served),
        "expired": _token(idp_ws, served, lifetime_s=-120),
        "wrong audience": _token(idp_ws, served, audience="https://other.example.com/mcp"),
        "wrong issuer": _token(idp_ws, served, issuer="https://evil.example.com"),
        "not a jwt": "abc.def.ghi",
    }
    headers = {"Accept": "application/json, text/event-stream"}
    if tokens[bad] is not None:
        headers["Authorization"] = f"Bearer {tokens[bad]}"
    init = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                       "clientInfo": {"name": "curl", "version": "0"}}}  # fmt: skip
    answer = httpx.post(served["url"], json=init, headers=headers)
    assert answer.status_code == 401, (bad, answer.text)
    challenge = answer.headers["www-authenticate"]
    assert re.search(r'resource_metadata="[^"]+/\.well-known/oauth-protected-resource/mcp"',
                     challenge), challenge  # fmt: skip


async def test_alice_calls_tools_with_the_official_client_and_the_audit_names_her(
    idp_ws: LocalWorkspace, served: dict
) -> None:
    async with http_session(served["url"], _token(idp_ws, served)) as client:
        tools = await client.list_tools()
        assert "list_warehouses" in {t.name for t in tools.tools}
        result = await client.call_tool("list_warehouses", {})
        assert not result.is_error, text_of(result)
    lines = (Path(served["state"]) / "audit.jsonl").read_text().splitlines()
    calls = [json.loads(line) for line in lines if '"tool": "list_warehouses"' in line
             or '"tool":"list_warehouses"' in line]  # fmt: skip
    assert calls and calls[-1]["user"] == ALICE


async def test_a_verified_token_is_trusted_again_only_until_it_expires(
    idp_ws: LocalWorkspace,
) -> None:
    from lakegate.copilot.oauth import VERIFIED_TTL_S, JwtVerifier

    issuer = f"{idp_ws.account_host}/idp"
    now = [time.time()]
    verifier = JwtVerifier(issuer=issuer, audience="https://mcp.example/mcp",
                           jwks_uri=f"{issuer}/jwks.json", clock=lambda: now[0])  # fmt: skip
    token = idp_ws.idp_token(ALICE, audience="https://mcp.example/mcp", lifetime_s=600)
    decoded: list[str] = []
    real = verifier._decode

    async def counted(t: str) -> dict[str, Any]:
        decoded.append(t)
        return await real(t)

    verifier._decode = counted  # type: ignore[method-assign]
    for _ in range(3):
        assert (await verifier.verify_token(token)) is not None
    assert len(decoded) == 1  # the signature was checked once, not per request
    now[0] += VERIFIED_TTL_S + 1
    assert (await verifier.verify_token(token)) is not None and len(decoded) == 2  # again
    now[0] += 600  # past exp: refused although its signature was checked a moment ago
    assert (await verifier.verify_token(token)) is None
    forged = token[:-6] + ("AAAAAA" if not token.endswith("AAAAAA") else "BBBBBB")
    assert (await verifier.verify_token(forged)) is None  # another string: checked afresh
