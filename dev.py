#!/usr/bin/env python3
"""Bootstrap for a fresh machine with only Python 3.11+: installs what a task needs, runs it.

python3 dev.py demo [ARGS]    # lakegate demo on an embedded local workspace
python3 dev.py test [ARGS]    # the whole test suite (pytest ARGS)
python3 dev.py lint           # ruff
python3 dev.py bench [ARGS]   # benchmarks/run.py
python3 dev.py lakegate ARGS  # any lakegate command
python3 dev.py install        # put `lakegate` on PATH (uv tool install, into ~/.local/bin)
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
TOOLS = ROOT / ".tools"
VENV = ROOT / ".venv"


def run(*cmd: str | Path, env: dict[str, str] | None = None) -> None:
    result = subprocess.run([str(c) for c in cmd], cwd=ROOT, env=env)
    if result.returncode != 0:
        sys.exit(result.returncode)


def uv() -> str:
    """uv from PATH, else a private copy installed from PyPI into .tools/."""
    found = shutil.which("uv")
    if found:
        return found
    local = TOOLS / "bin" / "uv"
    if not local.exists():
        print("dev.py: installing uv into .tools/ ...", flush=True)
        run(sys.executable, "-m", "venv", TOOLS)
        run(TOOLS / "bin" / "python", "-m", "pip", "install", "-q", "uv>=0.5,<1")
    return str(local)


def sync(*groups: str) -> None:
    env = {**os.environ, "UV_PROJECT_ENVIRONMENT": str(VENV)}
    args = ["sync", "--locked", "--quiet"]
    args += ["--all-groups"] if groups else ["--no-dev", "--inexact"]
    run(uv(), *args, env=env)


def ensure_chromium() -> None:
    """The Studio's browser tests drive Debian's headless Chromium through Playwright."""
    if shutil.which("chromium") or os.environ.get("LAKEGATE_CHROMIUM"):
        return
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("dev.py: installing Debian's chromium for the browser tests ...", flush=True)
        quiet = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        run("apt-get", "update", "-qq", env=quiet)
        run("apt-get", "install", "-y", "-qq", "--no-install-recommends", "chromium", env=quiet)
        return
    sys.exit(
        "dev.py: the browser tests need Chromium. Install it (Debian: `sudo apt-get install "
        "chromium`) or point LAKEGATE_CHROMIUM at a Chromium binary, then run again."
    )


def main(argv: list[str]) -> None:
    if not argv or argv[0] in {"-h", "--help"}:
        print(__doc__)
        return
    task, rest = argv[0], argv[1:]
    bin_ = VENV / "bin"
    if task == "demo":
        sync()
        run(bin_ / "lakegate", "demo", *rest)
    elif task == "lakegate":
        sync()
        run(bin_ / "lakegate", *rest)
    elif task == "test":
        sync("dev")
        ensure_chromium()
        run(bin_ / "pytest", *rest)
    elif task == "lint":
        sync("dev")
        run(bin_ / "ruff", "check", ".")
        run(bin_ / "ruff", "format", "--check", ".")
    elif task == "install":
        # uv's own tool install, then its update-shell: puts ~/.local/bin on PATH in the shell's
        # startup files if it is not there yet, so a new shell finds `lakegate`.
        run(uv(), "tool", "install", "--force", "--quiet", str(ROOT), *rest)
        shell = {**os.environ, "SHELL": os.environ.get("SHELL") or "/bin/bash"}
        if subprocess.run([uv(), "tool", "update-shell"], cwd=ROOT, env=shell).returncode:
            print("dev.py: add ~/.local/bin to your PATH to run `lakegate`.")
        print("dev.py: `lakegate` is installed; open a new shell (or run `hash -r`) to use it.")
    elif task == "bench":
        sync("dev")
        run(bin_ / "python", "benchmarks/run.py", *rest)
    else:
        tasks = "demo, test, lint, bench, lakegate, install"
        sys.exit(f"dev.py: unknown task {task!r}; one of {tasks}")


if __name__ == "__main__":
    main(sys.argv[1:])
