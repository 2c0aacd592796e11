"""`lakegate demo`'s people: alice and bob ask the copilot the same question, each as themself.

On the embedded workspace (its test IdP standing in for the company's): the admin makes a table
in `main.finance` and grants alice `SELECT` on it, bob nothing. A second project's connector
exchanges the caller's token (`grant_type: token_exchange`), and `serve --http` is an OAuth
protected resource. Each person's IdP token goes through the official MCP client: alice gets
rows, bob Unity Catalog's refusal (`policy.permission_denied`), and the audit names both.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

from rich.markup import escape
from rich.table import Table

__all__ = ["ALICE", "BOB", "people_ask"]

ALICE, BOB = "alice@example.com", "bob@example.com"
TABLE = "main.finance.quarterly_revenue"
QUESTION = f"SELECT quarter, revenue FROM {TABLE} ORDER BY quarter"
SETUP = (
    "CREATE SCHEMA IF NOT EXISTS main.finance",
    f"CREATE OR REPLACE TABLE {TABLE} AS SELECT * FROM VALUES ('2026-Q1', 1250000.0), "
    "('2026-Q2', 1410000.0), ('2026-Q3', 1385000.0) AS t(quarter, revenue)",
    f"GRANT USE CATALOG ON CATALOG main TO `{ALICE}`",
    f"GRANT USE SCHEMA ON SCHEMA main.finance TO `{ALICE}`",
    f"GRANT SELECT ON TABLE {TABLE} TO `{ALICE}`",
)


async def people_ask(run: Any) -> str:
    """Ask as alice and as bob through serve --http with OAuth."""
    ws = run.workspace
    warehouse = run.results.get("warehouse_id") or await _running_warehouse(run)
    for user in (ALICE, BOB):
        ws.create_user(user)
    await _as_admin(run, warehouse)
    project = _people_project(run, warehouse)
    answers = await _ask_each(run, project)
    table = Table("person", "what the copilot got", title=QUESTION, title_justify="left")
    for user, (ok, text) in answers.items():
        table.add_row(escape(user), escape(text) if ok else f"[red]{escape(text)}[/]")
    run.show(table)
    (alice_ok, _), (bob_ok, bobs) = answers[ALICE], answers[BOB]
    if not alice_ok or bob_ok or not bobs.startswith("policy.permission_denied"):
        raise RuntimeError(f"Unity Catalog did not decide as granted: {answers}")
    audit = [r for r in _audit(project) if r.get("tool") == "execute_sql"]
    users = sorted({str(r.get("user")) for r in audit})
    if users != [ALICE, BOB]:
        raise RuntimeError(f"the audit names {users}, not alice and bob")
    return (
        "Alice and bob asked through serve --http (OAuth, each token exchanged for their own "
        f"Databricks token): Unity Catalog let alice read {TABLE} and refused bob; the audit "
        f"names {' and '.join(users)}"
    )


async def _running_warehouse(run: Any) -> str:
    result = await run.gateway.call("list_warehouses", {})
    return next(w["id"] for w in result.data if w.get("state") == "RUNNING")


async def _as_admin(run: Any, warehouse: str) -> None:
    """The admin's part: both may use the warehouse; the table, and alice's grants on it."""
    import httpx

    ws = run.workspace
    async with httpx.AsyncClient(base_url=ws.host, timeout=60) as http:
        token = await http.post(
            "/oidc/v1/token",
            data={"grant_type": "client_credentials", "scope": "all-apis"},
            auth=(ws.credentials["client_id"], ws.credentials["client_secret"]),
        )
        http.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
        acl = [{"user_name": u, "permission_level": "CAN_USE"} for u in (ALICE, BOB)]
        reply = await http.patch(
            f"/api/2.0/permissions/warehouses/{warehouse}", json={"access_control_list": acl}
        )
        reply.raise_for_status()
        for statement in SETUP:
            body = {"statement": statement, "warehouse_id": warehouse, "wait_timeout": "30s"}
            status = (await http.post("/api/2.0/sql/statements", json=body)).json()["status"]
            if status["state"] != "SUCCEEDED":
                raise RuntimeError(f"{statement}: {status.get('error', {}).get('message')}")


def _people_project(run: Any, warehouse: str) -> Any:
    """A project whose connector acts as the caller and whose copilot takes OAuth tokens."""
    from lakegate.authconfig import OAuth2Auth
    from lakegate.databricks.pack import install_pack
    from lakegate.project import Connector, CopilotPolicy, Project

    ws = run.workspace
    project = Project.new(Path(run.folder) / "people" / "lakegate.yaml")
    auth = OAuth2Auth(
        grant_type="token_exchange", token_url=f"{ws.host}/oidc/v1/token", scope="all-apis"
    )
    connector = Connector(
        name="databricks",
        description="The local workspace, as the person who asks",
        base_url=ws.host,
        auth=auth,
        read_only=True,
        defaults={"warehouse_id": warehouse},
    )
    project.set_connector("databricks", connector)
    install_pack(project, connector)
    issuer = f"{ws.account_host}/idp"
    oauth = {"type": "oauth", "issuer": issuer, "jwks_uri": f"{issuer}/jwks.json"}
    project.set_copilot(CopilotPolicy.model_validate({"auth": oauth}))
    project.save()
    return project


async def _ask_each(run: Any, project: Any) -> dict[str, tuple[bool, str]]:
    """`serve --http` for `project` on a loopback port; each person asks over MCP."""
    import asyncio  # (not at import: `lakegate --help` registers this step, and stays light)

    from lakegate.copilot.http import http_app, http_copilot, oauth_verifier, uvicorn_server
    from lakegate.gateway import Gateway
    from lakegate.secrets import SecretStore

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}/mcp"
    answers: dict[str, tuple[bool, str]] = {}
    async with Gateway(project, secret_store=SecretStore(project.state_dir)) as gateway:
        copilot = http_copilot(gateway)
        verifier = oauth_verifier(project.copilot.auth, url)
        server = uvicorn_server(http_app(copilot, token=None, port=0, verifier=verifier))
        serving = asyncio.create_task(server.serve(sockets=[sock]))
        try:
            while not server.started:
                if serving.done():
                    serving.result()  # raises what stopped it
                await asyncio.sleep(0.01)
            for user in (ALICE, BOB):
                token = run.workspace.idp_token(user, audience=[url, run.workspace.account_id])
                answers[user] = await _ask(url, token)
        finally:
            server.should_exit = True
            await serving
            await copilot.cancel_abandoned()
    return answers


async def _ask(url: str, token: str) -> tuple[bool, str]:
    import mcp_types as types
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client
    from mcp.shared._httpx_utils import create_mcp_http_client

    http = create_mcp_http_client(headers={"Authorization": f"Bearer {token}"})
    async with (
        http,
        streamable_http_client(url, http_client=http) as (read, write),
        ClientSession(
            read, write, client_info=types.Implementation(name="lakegate-demo", version="1")
        ) as client,
    ):
        await client.initialize()
        result = await client.call_tool("execute_sql", {"statement": QUESTION})
    data = result.structured_content or {}
    if result.is_error:
        error = data.get("error") or {}
        return False, f"{error.get('code')}: {error.get('message')}"
    rows = data.get("rows") or []
    if not isinstance(rows, list):  # many rows come as TSV lines
        rows = [line.split("\t") for line in str(rows).splitlines()]
    return True, "; ".join(" ".join(str(cell) for cell in row) for row in rows)


def _audit(project: Any) -> list[dict[str, Any]]:
    from lakegate.copilot.audit import AUDIT_FILE, read_records

    return list(read_records(project.state_dir / AUDIT_FILE))
