"""How fast a local workspace is ready to answer SQL on `samples`: `LocalWorkspace.start()` plus
the wait for the samples catalog, in a fresh process each time (no per-process copy to reuse).

Alternated rounds of: a new state dir (the samples are generated: nyctaxi and the eight TPC-H
tables at the default scale 0.01), and a state dir that has them already (the baseline: the same
start without generating). Median and spread; goal: ready in at most 2 s with generation. The
CPU time of the process (all threads) is printed too: on a shared machine it moves less than wall
time does.

python benchmarks/workspace_startup.py [--quick]
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import row, spread

GOAL_S = 2.0
CHILD = """
import json, resource, sys, time
from lakegate.workspace import LocalWorkspace
def cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)  # every thread of the process
    return usage.ru_utime + usage.ru_stime
started, cpu_started = time.perf_counter(), cpu()
ws = LocalWorkspace(state_dir=sys.argv[1]).start()
up = time.perf_counter()
info = ws.wait_samples(120)
ready, cpu_ready = time.perf_counter(), cpu()
ws.stop()
print(json.dumps({"start": up - started, "ready": ready - started, "source": info.source,
                  "generated": info.seconds, "cpu": cpu_ready - cpu_started}))
"""


def measure(state_dir: Path) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(state_dir)], capture_output=True, text=True, timeout=300
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-800:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(quick: bool) -> list[dict]:
    rounds = 2 if quick else 7
    kept_dir = Path(tempfile.mkdtemp(prefix="lg-bench-start-"))
    measure(kept_dir)  # makes the samples once; every later start there keeps them
    fresh: list[dict] = []
    kept: list[dict] = []
    for _ in range(rounds):
        new_dir = Path(tempfile.mkdtemp(prefix="lg-bench-start-"))
        try:
            fresh.append(measure(new_dir))
        finally:
            shutil.rmtree(new_dir, ignore_errors=True)
        kept.append(measure(kept_dir))
    shutil.rmtree(kept_dir, ignore_errors=True)
    assert {r["source"] for r in fresh} == {"generated"} and {r["source"] for r in kept} == {"kept"}
    ready = [r["ready"] for r in fresh]
    base = [r["ready"] for r in kept]
    generated = [r["generated"] for r in fresh]
    cpu, cpu_base = [r["cpu"] for r in fresh], [r["cpu"] for r in kept]
    return [
        row("workspace_startup", "start(), samples kept", statistics.median(base), "s",
            spread=spread(base)),
        row("workspace_startup", "start() until samples ready, generated (scale 0.01)",
            statistics.median(ready), "s", "samples kept", statistics.median(base),
            goal=f"<= {GOAL_S} s", value_at_most=GOAL_S, spread=spread(ready)),
        row("workspace_startup", "of which generating the samples", statistics.median(generated),
            "s", spread=spread(generated)),
        row("workspace_startup", "CPU time until ready (all threads), generated",
            statistics.median(cpu), "s", "samples kept", statistics.median(cpu_base),
            spread=spread(cpu)),
    ]  # fmt: skip


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from run import table

    print(table(run(quick="--quick" in sys.argv), markdown="--markdown" in sys.argv))
