"""SQLAlchemy's own dialect compliance suite (`sqlalchemy.testing.suite`), run with
databricks-sqlalchemy against the local workspace over TLS, as the Thrift connector users run.

The suite runs in a pytest process of its own (tests/compliance: SQLAlchemy's plugin takes the
session over), with a requirements class that closes only what Databricks lacks. This test
prints the counts and holds the pass rate of what runs at or above the floor. It takes about
four minutes, more than the suite's budget allows, so it runs when asked
(`LAKEGATE_COMPLIANCE=1`), and CI (`.ci/run`) asks on every run.
"""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import httpx
import pytest
from test_sqlalchemy import personal_access_token

from lakegate.workspace import LocalWorkspace

SUITE = Path(__file__).resolve().parents[2] / "compliance"
# passed / (passed + failed + errors): a ratchet at the last measured rate (92%, 838 of 913 on
# 2026-12-06); the goal is 0.90. Raise it with each fix, never lower it.
FLOOR = 0.91


def outcomes(report: Path) -> tuple[Counter[str], list[str]]:
    """Counts by outcome from a JUnit report, and the names of what failed."""
    counts: Counter[str] = Counter()
    failed: list[str] = []
    for case in ET.parse(report).iter("testcase"):  # noqa: S314 (our own pytest wrote it)
        kinds = {child.tag for child in case}
        outcome = next((k for k in ("failure", "error", "skipped") if k in kinds), "passed")
        counts[outcome] += 1
        if outcome in ("failure", "error"):
            failed.append(f"{case.get('classname')}::{case.get('name')}")
    return counts, failed


@pytest.mark.skipif(
    not os.environ.get("LAKEGATE_COMPLIANCE"),
    reason="takes about 4 minutes; set LAKEGATE_COMPLIANCE=1 to run it (CI does)",
)
@pytest.mark.timeout(900)
def test_sqlalchemy_dialect_compliance_suite(tmp_path: Path) -> None:
    with LocalWorkspace(warehouse_delays=0, tls=True) as ws:
        assert ws.state is not None and ws.ca_file is not None
        token = personal_access_token(ws, str(ws.ca_file))
        warehouse = ws.state.warehouses.ids()[0]
        for schema in ("compliance", "test_schema", "test_schema_2"):
            body = httpx.post(
                f"{ws.host}/api/2.0/sql/statements",
                headers={"Authorization": f"Bearer {token}"},
                json={"statement": f"CREATE SCHEMA main.{schema}", "warehouse_id": warehouse},
                verify=str(ws.ca_file),
            ).json()
            assert body["status"]["state"] == "SUCCEEDED", body
        port = ws.host.rsplit(":", 1)[1]
        uri = (
            f"databricks://token:{token}@127.0.0.1?http_path=/sql/1.0/warehouses/{warehouse}"
            f"&catalog=main&schema=compliance&_port={port}&_ca={ws.ca_file}"
        )
        # LAKEGATE_COMPLIANCE_REPORT keeps the JUnit report (every test, its time and failure).
        report = Path(os.environ.get("LAKEGATE_COMPLIANCE_REPORT") or tmp_path / "report.xml")
        env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
        run = subprocess.run(
            [sys.executable, "-m", "pytest", "suite.py", "--dburi", uri, "-q", "-p", "no:randomly",
             f"--junitxml={report}", "-o", "junit_family=xunit2"],
            cwd=SUITE, env=env, capture_output=True, text=True, timeout=840,
        )  # fmt: skip
    assert report.exists(), run.stdout[-3000:] + run.stderr[-3000:]
    counts, failed = outcomes(report)
    ran = counts["passed"] + counts["failure"] + counts["error"]
    rate = counts["passed"] / ran if ran else 0.0
    print(
        f"\nSQLAlchemy compliance: {counts['passed']} passed of {ran} run ({rate:.0%}), "
        f"{counts['failure']} failed, {counts['error']} errors, {counts['skipped']} skipped"
    )
    for name in failed:
        print("  not passed:", name)
    assert ran > 500, run.stdout[-3000:]
    assert rate >= FLOOR, f"{rate:.1%} < {FLOOR:.0%}; not passed: {failed[:40]}"
