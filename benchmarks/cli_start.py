"""How fast the CLI starts: wall time of whole `lakegate` processes, beside `python -c pass`.

Against a local workspace in its own process, with a project made by `databricks connect`:
`lakegate version`, `lakegate --help` and `lakegate call list_warehouses`, each run 10 times
(the disk cache warm after one unmeasured run), alternated round by round; median and spread.
Every process runs with its bytecode cached, as an installed CLI's is after its first run: the
script gives them a cache of their own (PYTHONPYCACHEPREFIX) that the unmeasured run fills, so a
PYTHONDONTWRITEBYTECODE=1 in the caller's environment cannot make them compile modules each time.

python benchmarks/cli_start.py [--quick] [--markdown]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import row, served_workspace, spread

LAKEGATE = str(Path(sys.executable).with_name("lakegate"))
GOALS = {"version": 0.25, "--help": 0.25, "call list_warehouses": 0.6}


def timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, timeout=120)
    took = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{cmd} failed: {done.stderr.decode()[-500:]}")
    return took


def run(quick: bool) -> list[dict]:
    runs = 3 if quick else 10
    with served_workspace() as info, tempfile.TemporaryDirectory(prefix="lg-bench-pyc-") as pyc:
        folder = Path(tempfile.mkdtemp(prefix="lg-bench-cli-"))
        env = {**os.environ, "LG_BENCH_SECRET": info["client_secret"]}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = pyc
        subprocess.run(
            [LAKEGATE, "databricks", "connect", "--host", info["host"], "--client-id",
             info["client_id"], "--client-secret-env", "LG_BENCH_SECRET", "--no-test"],
            cwd=folder, env=env, check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        commands = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "version": [LAKEGATE, "version"],
            "--help": [LAKEGATE, "--help"],
            "call list_warehouses": [LAKEGATE, "call", "list_warehouses"],
        }
        times: dict[str, list[float]] = {name: [] for name in commands}
        for cmd in commands.values():
            timed(cmd, folder, env)  # warm the disk cache and the token cache alike
        for _ in range(runs):
            for name, cmd in commands.items():
                times[name].append(timed(cmd, folder, env))
    floor = statistics.median(times["python -c pass"])
    out = [row("cli_start", "python -c pass", floor, "s", spread=spread(times["python -c pass"]))]
    for name, goal in GOALS.items():
        value = statistics.median(times[name])
        out.append(
            row("cli_start", f"lakegate {name}, wall (median of {runs})", value, "s",
                "python -c pass", floor, goal=f"<= {goal} s", value_at_most=goal,
                spread=spread(times[name]))
        )  # fmt: skip
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 runs per command instead of 10")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from run import table

    print(table(run(quick=args.quick), markdown=args.markdown))
