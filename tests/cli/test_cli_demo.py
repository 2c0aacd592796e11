"""`lakegate demo` runs the seed flow end to end on an embedded workspace, quickly."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cli_runner import Cli

from lakegate.cli import demo


@pytest.mark.timeout(900)  # a whole demo in a child process, on a machine that may be busy
def test_demo_as_a_subprocess_exits_0_and_shows_the_warehouses() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "lakegate", "demo"], capture_output=True, text=True, timeout=600
    )
    assert out.returncode == 0, out.stderr
    assert "Starter Warehouse" in out.stdout
    assert out.stdout.count("✓") == len(demo.STEPS)
    assert "lakegate databricks connect" in out.stdout
    # alice and bob through serve --http with OAuth: Unity Catalog decides, the audit names them
    assert "2026-Q1 1250000.0" in out.stdout and "policy.permission_denied" in out.stdout
    assert "the audit names alice@example.com and bob@example.com" in " ".join(out.stdout.split())
    assert "Traceback" not in out.stderr and "Warning" not in out.stderr
    # (no wall-clock bound: the suite runs on busy machines)


def test_demo_in_process_prints_no_secret_or_token(cli: Cli) -> None:
    run = cli("demo")  # the runner asserts no registered secret/token appears in the output
    assert run.code == 0, run.output
    assert "${secret:databricks_client_secret}" in run.stdout
    assert "client_secret: ${secret:databricks_client_secret}" in run.stdout  # the saved yaml
    assert "Starter Warehouse" in run.stdout


def test_a_failing_step_reports_and_exits_1(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken(run: demo.DemoRun) -> str:
        """Break on purpose."""
        raise RuntimeError("boom")

    monkeypatch.setattr(demo, "STEPS", [*demo.STEPS[:2], broken, *demo.STEPS[2:]])
    run = cli("demo")
    assert run.code == 1
    assert "✗ Break on purpose failed" in run.stderr and "boom" in run.stderr
    assert run.stdout.count("✓") == 2


def test_steps_can_be_appended(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    async def count_warehouses(run: demo.DemoRun) -> str:
        """Count the warehouses."""
        result = await run.gateway.call("list_warehouses", {})
        return f"{len(result.data)} warehouses seen by an appended step"

    monkeypatch.setattr(demo, "STEPS", [*demo.STEPS, count_warehouses])
    run = cli("demo")
    assert run.code == 0
    assert "2 warehouses seen by an appended step" in run.stdout


@pytest.mark.timeout(900)  # a demo, a call and a clean stop, each in a child process
def test_keep_leaves_a_usable_project_until_ctrl_c() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "lakegate", "demo", "--keep"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # Ctrl-C as in a terminal, even when this suite runs in the background (where SIGINT is
        # inherited as ignored and the demo would never stop).
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        assert proc.stdout is not None
        project = None
        deadline = time.monotonic() + 300  # generous: the suite runs on busy 2-core machines
        while project is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:  # the demo ended without printing it: fail now, with its stderr
                break
            if "export LAKEGATE_PROJECT=" in line:
                project = line.split("=", 1)[1].strip()
        assert project, "the demo never said where its project is"
        called = subprocess.run(
            [sys.executable, "-m", "lakegate", "--project", project, "call", "list_warehouses"],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert called.returncode == 0, called.stderr
        assert "Starter Warehouse" in called.stdout
    finally:
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0
    assert "Stopped." in rest
    assert not Path(project).exists()  # the throwaway project is cleaned up
