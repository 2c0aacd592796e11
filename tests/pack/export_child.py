"""One export in a fresh process, with its memory: `python export_child.py PROJECT SQL OUT`.

Prints JSON: rows, bytes downloaded, the process's RSS before and at its peak (sampled every
2 ms by a thread), and the peak of Python heap (tracemalloc) plus the Arrow memory pool.
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import time
import tracemalloc

import psutil
import pyarrow as pa

from lakegate.databricks.export import export_query
from lakegate.gateway import Gateway


def main() -> None:
    project, sql, out = sys.argv[1:4]
    process = psutil.Process()
    base = process.memory_info().rss
    peak = [base]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], process.memory_info().rss)
            time.sleep(0.002)

    threading.Thread(target=sample, daemon=True).start()
    tracemalloc.start()

    async def run() -> dict:
        async with Gateway.from_file(project) as gw:
            result = await export_query(gw, "databricks", sql, out, concurrency=2)
        return {"rows": result.rows, "bytes": result.bytes_downloaded, "chunks": result.chunks}

    report = asyncio.run(run())
    done.set()
    traced = tracemalloc.get_traced_memory()[1] + pa.default_memory_pool().max_memory()
    print(json.dumps({**report, "rss_growth": peak[0] - base, "traced_peak": traced}))


if __name__ == "__main__":
    main()
