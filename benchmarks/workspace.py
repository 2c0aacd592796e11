"""GET /api/2.0/sql/warehouses with a valid token at concurrency 32: the local workspace vs a
bare Starlette endpoint returning the same JSON, both under uvicorn (h11) on loopback.

    python benchmarks/workspace.py [--quick]

Each server runs in its own process; the load generator is a minimal keep-alive HTTP/1.1
client (32 connections) in this process, so the figures measure the servers, not httpx.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

PATH = "/api/2.0/sql/warehouses"
CONCURRENCY = 32
GOAL = 0.5


def serve_bare(payload_file: str) -> None:
    """Child process: a one-route Starlette app, served exactly like the workspace."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from lakegate.workspace.server import bind_socket

    payload = json.loads(Path(payload_file).read_text())

    async def warehouses(request: Request) -> JSONResponse:
        return JSONResponse(payload)

    app = Starlette(routes=[Route(PATH, warehouses, methods=["GET"])])
    sock = bind_socket("127.0.0.1", 0)
    config = uvicorn.Config(
        app, http="h11", ws="none", lifespan="off", log_config=None, access_log=False,
        server_header=False,
    )  # fmt: skip
    server = uvicorn.Server(config)

    async def main() -> None:
        serving = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started:  # noqa: ASYNC110 - uvicorn exposes a flag, not an event
            await asyncio.sleep(0.01)
        print(f"bare http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
        await serving

    asyncio.run(main())


def _start(args: list[str], prefix: str) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [sys.executable, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = proc.stdout.readline() if proc.stdout else ""
        if line.startswith(prefix):
            return proc, line.split()[1]
        if proc.poll() is not None:
            break
    proc.kill()
    raise RuntimeError(f"server {args} did not start")


async def _load(url: str, headers: dict[str, str], seconds: float) -> tuple[int, int]:
    """(ok responses, failures) over `seconds` with CONCURRENCY keep-alive connections."""
    host, port = url.removeprefix("http://").split(":")
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    request = f"GET {PATH} HTTP/1.1\r\nHost: {host}\r\n{head}\r\n".encode()
    stop_at = time.perf_counter() + seconds
    counts = [0, 0]

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            while time.perf_counter() < stop_at:
                writer.write(request)
                status_line = await reader.readline()
                length = 0
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                await reader.readexactly(length)
                counts[0 if b" 200 " in status_line else 1] += 1
        finally:
            writer.close()

    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return counts[0], counts[1]


def _rate(url: str, headers: dict[str, str], seconds: float) -> float:
    asyncio.run(_load(url, headers, min(0.5, seconds / 3)))  # warm-up
    started = time.perf_counter()
    ok, failed = asyncio.run(_load(url, headers, seconds))
    if failed:
        raise RuntimeError(f"{failed} non-200 answers from {url}")
    return ok / (time.perf_counter() - started)


def run(quick: bool) -> list[dict]:
    seconds, rounds = (1.0, 1) if quick else (4.0, 3)
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp) / "ws"
        workspace, host = _start(
            ["-m", "lakegate", "workspace", "serve", "--port", "0", "--state-dir", str(state)],
            "workspace",
        )
        bare = None
        try:
            creds = json.loads((state / "credentials.json").read_text())
            token = httpx.post(
                f"{host}/oidc/v1/token",
                data={"grant_type": "client_credentials", "scope": "sql"},
                auth=(creds["client_id"], creds["client_secret"]),
            ).json()["access_token"]
            auth = {"Authorization": f"Bearer {token}"}
            payload = Path(tmp) / "payload.json"
            payload.write_text(httpx.get(host + PATH, headers=auth).text)
            bare, bare_url = _start([__file__, "--serve-bare", str(payload)], "bare")
            ours, theirs = [], []
            for _ in range(rounds):  # interleaved, best of each: noise on a shared machine
                theirs.append(_rate(bare_url, {}, seconds))
                ours.append(_rate(host, auth, seconds))
        finally:
            for proc in (workspace, bare):
                if proc is not None:
                    proc.terminate()
                    proc.wait(timeout=10)
    value, baseline = max(ours), max(theirs)
    return [
        {
            "benchmark": "workspace",
            "figure": f"GET {PATH} (token + permission checks), c={CONCURRENCY}",
            "value": value,
            "unit": "req/s",
            "baseline": "bare Starlette endpoint, same JSON, same uvicorn/h11",
            "baseline_value": baseline,
            "ratio": value / baseline,
            "goal": f">= {GOAL}",
        }
    ]


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--serve-bare":
        serve_bare(sys.argv[2])
    else:
        for row in run(quick="--quick" in sys.argv):
            print(json.dumps(row))
