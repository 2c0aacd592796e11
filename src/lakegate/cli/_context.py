"""Options shared by every command (the project file), set once by the app callback."""

from __future__ import annotations

import os
from pathlib import Path

_project: Path | None = None


def set_project(path: Path | None) -> None:
    global _project
    _project = path


def project_path() -> Path:
    """The project file: `--project`, else `$LAKEGATE_PROJECT`, else ./lakegate.yaml."""
    if _project is not None:
        return _project
    env = os.environ.get("LAKEGATE_PROJECT")
    return Path(env) if env else Path.cwd() / "lakegate.yaml"
