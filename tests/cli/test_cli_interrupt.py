"""Ctrl-C in `lakegate call execute_sql` cancels the statement on the workspace and says so,
whether it comes during the submit's server-side wait or while the statement is polled."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest
from cli_runner import Cli

from _support import client_token
from lakegate.workspace import LocalWorkspace

# Far longer than any wait below, and interruptible on the server.
SLOW = (
    "SELECT sum(hash(a.fare_amount, b.trip_distance)) AS h /* {marker} */ "
    "FROM samples.nyctaxi.trips a CROSS JOIN samples.nyctaxi.trips b"
)


def _history(ws: LocalWorkspace, marker: str) -> dict | None:
    creds = ws.credentials
    token = client_token(ws.host, creds["client_id"], creds["client_secret"])
    listed = httpx.get(
        f"{ws.host}/api/2.0/sql/history/queries",
        params={"max_results": 1000},
        headers={"Authorization": f"Bearer {token}"},
    ).json()
    found = [q for q in listed.get("res", []) if marker in q["query_text"]]
    return found[0] if found else None


def _wait_for(ws: LocalWorkspace, marker: str, status: str) -> dict:
    deadline = time.monotonic() + 60  # generous: a busy 2-core machine
    query = _history(ws, marker)
    while (query is None or query["status"] != status) and time.monotonic() < deadline:
        time.sleep(0.1)
        query = _history(ws, marker)
    assert query is not None and query["status"] == status, query
    return query


@pytest.fixture
def connected(cli: Cli, workspace: LocalWorkspace) -> Cli:
    creds = workspace.credentials
    cli.env["LG_SECRET"] = creds["client_secret"]
    done = cli(
        "databricks", "connect", "--host", workspace.host, "--client-id", creds["client_id"],
        "--client-secret-env", "LG_SECRET",
    )  # fmt: skip
    assert done.code == 0, done.output
    return cli


@pytest.mark.timeout(300)
@pytest.mark.parametrize("after", ["running", "polling"])
def test_ctrl_c_cancels_the_statement_and_names_it(
    connected: Cli, workspace: LocalWorkspace, after: str
) -> None:
    marker = uuid.uuid4().hex
    env = {**os.environ, "LG_SECRET": workspace.credentials["client_secret"], "COLUMNS": "200"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "lakegate", "-p", str(connected.project), "call", "execute_sql",
         "-i", f"statement={SLOW.format(marker=marker)}", "-i", "deadline_s=120"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    try:
        query = _wait_for(workspace, marker, "RUNNING")
        if after == "polling":
            # Past the submit's 5 s server-side wait: the CLI is polling the statement now.
            time.sleep(6)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    said = " ".join(err.split())
    assert proc.returncode == 130, said
    assert "Traceback" not in err
    assert f"Statement {query['query_id']} was canceled on the workspace." in said
    assert re.search(r"warning", said)
    _wait_for(workspace, marker, "CANCELED")
    assert Path(connected.project).exists()
