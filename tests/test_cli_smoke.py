"""The command line answers, from the console script and from `python -m lakegate`."""

import subprocess
import sys


def test_python_dash_m_prints_the_version() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "lakegate", "version"], capture_output=True, text=True, check=True
    )
    assert out.stdout.startswith("lakegate ")


def test_unknown_command_is_a_usage_error_not_a_traceback() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "lakegate", "no-such-command"], capture_output=True, text=True
    )
    assert out.returncode == 2
    assert "No such command" in out.stderr
    assert "Traceback" not in out.stderr
