"""`Cli`: runs `lakegate` in-process exactly as the console script does and scans every output
for secrets. A module of its own, not conftest: with several test folders in one run, `conftest`
names whichever folder's conftest was loaded last."""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from typer.testing import CliRunner

from lakegate.cli import main
from lakegate.secrets import redact


@dataclass
class Run:
    """One finished command: exit code and what it printed."""

    args: tuple[str, ...]
    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def assert_no_secret(text: str, *secrets: str) -> None:
    """No secret in `text`, not even wrapped across lines; no registered secret either."""
    squeezed = re.sub(r"\s+", "", text)
    for secret in secrets:
        assert secret not in text and secret not in squeezed, "a secret was printed"
    assert redact(text) == text, "a registered secret or token was printed"


@dataclass
class Cli:
    """Calls `lakegate ARGS` in `folder`; every output is checked against `secrets`."""

    folder: Path
    secrets: list[str] = field(default_factory=list)
    env: dict[str, str | None] = field(default_factory=dict)
    runs: list[Run] = field(default_factory=list)

    def __call__(
        self, *args: str, input: str | None = None, env: dict[str, str | None] | None = None
    ) -> Run:
        runner = CliRunner()
        merged = {"LAKEGATE_PROJECT": None, "COLUMNS": "100", **self.env, **(env or {})}
        argv = sys.argv
        with runner.isolation(input=input, env=merged) as (out, err, _):
            sys.argv = ["lakegate", *args]
            try:
                main()
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            finally:
                sys.argv = argv
                sys.stdout.flush()
                sys.stderr.flush()
            run = Run(args, code, out.getvalue().decode(), err.getvalue().decode())
        assert "Traceback" not in run.output, run.output
        assert_no_secret(run.output, *self.secrets)
        self.runs.append(run)
        return run

    @property
    def project(self) -> Path:
        return self.folder / "lakegate.yaml"
