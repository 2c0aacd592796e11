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
def served_workspace(
    token_ttl: int = 3600,
    faults: dict[str, Any] | None = None,
    *,
    tls: bool = False,
    extra_args: tuple[str, ...] = (),
) -> Iterator[dict[str, Any]]:
    """`lakegate workspace serve` in a subprocess (so its CPU is not the client's GIL), yielded
    once it answers HTTP; with `tls`, over HTTPS with its own CA (`info["ca_file"]`)."""
    import httpx

    state = Path(tempfile.mkdtemp(prefix="lg-bench-"))
    extra: list[str] = [*(["--tls"] if tls else []), *extra_args]
    if faults is not None:
        (state / "faults.json").write_text(json.dumps(faults))  # JSON is YAML
        extra += ["--faults", str(state / "faults.json")]
    proc = subprocess.Popen(
        [sys.executable, "-m", "lakegate", "workspace", "serve", "--port", "0",
         "--state-dir", str(state), "--token-ttl", str(token_ttl), *extra],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        creds = state / "credentials.json"
        deadline = time.monotonic() + 60
        while True:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("the local workspace did not start")
            try:
                info = json.loads(creds.read_text())
                verify = info.get("ca_file", True)
                httpx.get(f"{info['host']}/.well-known/databricks-config", verify=verify)
                break
            except (OSError, ValueError, KeyError, httpx.HTTPError):
                time.sleep(0.05)  # not written, or not listening yet
        info["requests_log"] = state / "requests.jsonl"
        yield info
    finally:
        proc.terminate()
        proc.wait(10)


def spread(values: list[float]) -> str:
    """`min-max` of a figure's rounds, printed beside its median."""
    if not values:
        return ""
    low, high = min(values), max(values)
    return f"{low:,.3g}-{high:,.3g}" if abs(high) < 100 else f"{low:,.0f}-{high:,.0f}"


def row(
    benchmark: str,
    figure: str,
    value: Any,
    unit: str,
    baseline: str = "",
    base: Any = None,
    *,
    goal: str = "",
    at_most: float | None = None,
    at_least: float | None = None,
    value_at_most: float | None = None,
    met: bool | None = None,
    spread: str = "",
    ratio: float | bool | None = None,
) -> dict[str, Any]:
    """One line of the table; `met` is worked out from the goal's bound when one is given.

    `ratio` is value / base unless given; False leaves it out (the base is another unit)."""
    if ratio is None and isinstance(base, int | float) and isinstance(value, int | float) and base:
        ratio = value / base
    elif ratio is False:
        ratio = None
    if met is None and ratio is not None and at_most is not None:
        met = ratio <= at_most
    if met is None and ratio is not None and at_least is not None:
        met = ratio >= at_least
    if met is None and value_at_most is not None:
        met = value <= value_at_most
    return {
        "benchmark": benchmark, "figure": figure, "value": value, "unit": unit,
        "spread": spread, "baseline": baseline, "baseline_value": base, "ratio": ratio,
        "goal": goal, "met": "" if met is None else ("met" if met else "NOT met"),
    }  # fmt: skip
