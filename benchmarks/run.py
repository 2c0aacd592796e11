"""Run every benchmark in benchmarks/ and print one table: figure, baseline, ratio, goal.

    python benchmarks/run.py            # full run (minutes)
    python benchmarks/run.py --quick    # smoke run: small sizes, asserts nothing about time
    python benchmarks/run.py gateway sql --markdown

Each module `benchmarks/<name>.py` exposes `run(quick: bool) -> list[dict]` with rows
{benchmark, figure, value, unit, baseline, baseline_value, ratio, goal}; baselines are measured in
the same run, on the same machine, so ratios compare like with like.
"""

from __future__ import annotations

import argparse
import importlib
import platform
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
ORDER = ["workspace", "workspace_sql", "gateway", "sql", "sql_clients", "mcp_server"]


def discover() -> list[str]:
    found = {p.stem for p in HERE.glob("*.py") if p.stem not in {"run", "_common"}}
    return [n for n in ORDER if n in found] + sorted(found - set(ORDER))


def fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.3g}" if abs(value) < 100 else f"{value:,.0f}"
    return "" if value is None else str(value)


def table(rows: list[dict], markdown: bool) -> str:
    cols = ["benchmark", "figure", "value", "unit", "spread", "baseline", "baseline_value", "ratio",
            "goal", "met"]  # fmt: skip
    cells = [[fmt(r.get(c)) for c in cols] for r in rows]
    if markdown:
        head = "| " + " | ".join(cols) + " |\n|" + "---|" * len(cols) + "\n"
        return head + "\n".join("| " + " | ".join(c) + " |" for c in cells)
    widths = [max([len(c), *(len(row[i]) for row in cells)]) for i, c in enumerate(cols)]
    line = "  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True))
    body = ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join([line, "-" * len(line), *body])


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="benchmarks to run (default: all)")
    parser.add_argument("--quick", action="store_true", help="small sizes; a smoke run")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(HERE))
    names = args.names or discover()
    rows: list[dict] = []
    failed = []
    for name in names:
        started = time.perf_counter()
        print(f"== {name} ...", file=sys.stderr, flush=True)
        try:
            rows += importlib.import_module(name).run(quick=args.quick)
        except Exception:
            traceback.print_exc()
            failed.append(name)
        print(f"   {name} took {time.perf_counter() - started:.1f} s", file=sys.stderr)
    print(f"machine: {platform.machine()}, {platform.python_version()}, quick={args.quick}")
    print(table(rows, args.markdown))
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
