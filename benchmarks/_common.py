"""Pieces the benchmarks share: the local workspace served from a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def served_workspace(token_ttl: int = 3600) -> Iterator[dict[str, Any]]:
    """`lakegate workspace serve` in a subprocess (so its CPU is not the client's GIL)."""
    state = Path(tempfile.mkdtemp(prefix="lg-bench-"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "lakegate", "workspace", "serve", "--port", "0",
         "--state-dir", str(state), "--token-ttl", str(token_ttl)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        creds = state / "credentials.json"
        deadline = time.monotonic() + 30
        while not creds.exists() or not creds.read_text().strip():
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("the local workspace did not start")
            time.sleep(0.05)
        time.sleep(0.1)
        info = json.loads(creds.read_text())
        info["requests_log"] = state / "requests.jsonl"
        yield info
    finally:
        proc.terminate()
        proc.wait(10)
