"""SIGKILL at random points: files are always a complete version; the workspace recovers."""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from _support import client_token
from lakegate.copilot.audit import AuditLog, read_records
from lakegate.project import Action, Connector, Project, load_project
from lakegate.secrets import SecretStore

from . import crash_child

KILLS = 20
CHILD = Path(crash_child.__file__)


def kill_at_random(kind: str, folder: Path, rng: random.Random, check: object) -> dict:
    """Start the child, SIGKILL it after a random delay, check the files; KILLS times."""
    checks, delays = 0, []
    start = 1
    for _ in range(KILLS):
        proc = subprocess.Popen(
            [sys.executable, str(CHILD), kind, str(folder), str(start)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        delay = rng.uniform(0.005, 0.25)
        delays.append(delay)
        time.sleep(delay)  # the kill point: anywhere inside the save loop
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        start = check(folder) + 1  # type: ignore[operator]
        checks += 1
    return {"kills": checks, "versions": start - 1, "max_delay": max(delays)}


def check_project(folder: Path) -> int:
    project = load_project(folder / "lakegate.yaml")  # parseable, valid
    found = project.actions["ping"].description or ""
    n = int(found.split()[0][1:])
    assert found == crash_child.description(n) or n == 0
    return n


def check_secrets(folder: Path) -> int:
    path = folder / ".lakegate" / "secrets.json"
    json.loads(path.read_text())  # parseable
    value = SecretStore(folder / ".lakegate").get("canary") or "v0-"
    n = int(value.split("-")[0][1:])
    assert n == 0 or value == crash_child.secret_value(n)
    assert path.stat().st_mode & 0o077 == 0
    return n


TORN: list[int] = []  # torn lines seen (a record whose write the kill interrupted)


def check_audit(folder: Path) -> int:
    """Every completed record whole, in order, none twice, none missing, across rotations.

    A SIGKILL inside write(2) may tear the record being written (Linux stops at a page
    boundary); that record was never completed, the reader skips it, and the next append
    starts on a fresh line, so no other record is harmed.
    """
    numbers, torn = [], 0
    log = AuditLog(folder / ".lakegate" / "audit.jsonl")
    for file in log.files():
        lines = file.read_text().splitlines() if file.exists() else []
        for line in lines:
            try:
                record = json.loads(line)
            except ValueError:
                torn += 1
                continue
            assert record == crash_child.audit_record(record["n"])
            numbers.append(record["n"])
    TORN.append(torn)
    assert [r["n"] for r in read_records(log.path)] == numbers
    if not numbers:
        return 0
    # rotation drops the oldest files, so the sequence may start late, but has no gap
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers))), "lost or doubled"
    return numbers[-1]


def test_sigkill_while_saving_project_secrets_and_audit(tmp_path: Path) -> None:
    rng = random.Random(8)
    project = Project.new(tmp_path / "lakegate.yaml")
    project.set_connector("api", Connector(name="api", base_url="https://api.example.com"))
    project.set_action(
        "ping", Action(name="ping", connector="api", path="/ping", description="v0 start")
    )
    project.save()
    started = time.monotonic()
    figures = {
        "lakegate.yaml": kill_at_random("project", tmp_path, rng, check_project),
        "secrets.json": kill_at_random("secrets", tmp_path, rng, check_secrets),
        "audit.jsonl": kill_at_random("audit", tmp_path, rng, check_audit),
    }
    # Temporary files of saves killed before their rename (rotated audit files are not strays).
    strays: dict[str, int] = {}
    for path in [*tmp_path.iterdir(), *(tmp_path / ".lakegate").iterdir()]:
        if path.name.endswith(".tmp"):
            kind = path.name.lstrip(".").split(".")[0]
            strays[kind] = strays.get(kind, 0) + 1
    print(
        f"\ncrash: {figures}; stray temporary files left by killed saves: {strays}; "
        f"torn audit lines (interrupted records, skipped): {max(TORN)}; "
        f"{time.monotonic() - started:.1f} s"
    )
    for name, found in figures.items():
        assert found["kills"] == KILLS and found["versions"] > KILLS, (name, found)
    assert max(TORN) <= KILLS  # at most the one record in flight at each kill


HOST = re.compile(r"http://127\.0\.0\.1:\d+")


def serve(state_dir: Path, log: Path) -> tuple[subprocess.Popen, str]:
    """`lakegate workspace serve` on `state_dir`; the process and its workspace URL."""
    out = log.open("a")
    proc = subprocess.Popen(
        [sys.executable, "-m", "lakegate", "workspace", "serve", "--state-dir", str(state_dir),
         "--port", "0", "--account-port", "0"],
        stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    mark = log.stat().st_size
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = HOST.search(log.read_text()[mark:])
        if found:
            return proc, found.group(0)
        assert proc.poll() is None, log.read_text()
        time.sleep(0.05)
    raise AssertionError("the workspace did not start in 30 s")


def api(host: str, state_dir: Path) -> httpx.Client:
    creds = json.loads((state_dir / "credentials.json").read_text())
    token = client_token(host, creds["client_id"], creds["client_secret"])
    return httpx.Client(base_url=host, headers={"Authorization": f"Bearer {token}"}, timeout=30)


LONG_SQL = "SELECT count(*) FROM range(20000000000) a"


def test_workspace_killed_mid_statement_and_run_restarts_consistent(tmp_path: Path) -> None:
    state_dir, log = tmp_path / "ws", tmp_path / "serve.log"
    proc, host = serve(state_dir, log)
    try:
        with api(host, state_dir) as http:
            warehouse = http.get("/api/2.0/sql/warehouses").json()["warehouses"][0]["id"]
            done = http.post(
                "/api/2.0/sql/statements",
                json={"statement": "SELECT 1", "warehouse_id": warehouse, "wait_timeout": "30s"},
            ).json()
            assert done["status"]["state"] == "SUCCEEDED", done
            running = http.post(
                "/api/2.0/sql/statements",
                json={"statement": LONG_SQL, "warehouse_id": warehouse, "wait_timeout": "0s"},
            ).json()
            job = http.post(
                "/api/2.2/jobs/create",
                json={"name": "long", "tasks": [{"task_key": "t", "notebook_task": {
                    "notebook_path": "/x", "base_parameters": {"duration_s": "600"}}}]},
            ).json()  # fmt: skip
            run = http.post("/api/2.2/jobs/run-now", json={"job_id": job["job_id"]}).json()
            deadline = time.monotonic() + 20
            while True:  # both really in flight before the kill
                stmt = http.get(f"/api/2.0/sql/statements/{running['statement_id']}").json()
                life = http.get("/api/2.2/jobs/runs/get", params={"run_id": run["run_id"]}).json()
                if stmt["status"]["state"] == "RUNNING" and life["state"]["life_cycle_state"] in (
                    "RUNNING",
                    "PENDING",
                ):
                    break
                assert time.monotonic() < deadline, (stmt, life)
                time.sleep(0.05)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    proc, host = serve(state_dir, log)
    try:
        with api(host, state_dir) as http:
            after = http.get(f"/api/2.0/sql/statements/{running['statement_id']}").json()
            earlier = http.get(f"/api/2.0/sql/statements/{done['statement_id']}").json()
            life = http.get("/api/2.2/jobs/runs/get", params={"run_id": run["run_id"]}).json()
            jobs = http.get("/api/2.2/jobs/list").json().get("jobs") or []
            fresh = http.post(
                "/api/2.0/sql/statements",
                json={"statement": "SELECT 2", "warehouse_id": warehouse, "wait_timeout": "30s"},
            ).json()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    print(
        f"\nworkspace crash: statement {after['status']['state']} "
        f"({after['status'].get('error', {}).get('message', '')}); finished statement "
        f"{earlier['status']['state']}; run {life['state']['life_cycle_state']}; "
        f"{len(jobs)} job(s) kept; a new statement {fresh['status']['state']}"
    )
    assert after["status"]["state"] in ("FAILED", "CANCELED")
    assert earlier["status"]["state"] in ("SUCCEEDED", "CLOSED")  # not vanished
    assert life["state"]["life_cycle_state"] == "INTERNAL_ERROR"
    assert [j["job_id"] for j in jobs] == [job["job_id"]]
    assert fresh["status"]["state"] == "SUCCEEDED"
