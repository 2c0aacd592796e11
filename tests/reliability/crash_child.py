"""Child process for the crash tests: save one kind of file in a loop until killed.

    python crash_child.py project|secrets|audit FOLDER START

Version N of each file is fully determined by N (see `expected_*`), so the parent can tell
a complete version from a torn one.
"""

from __future__ import annotations

import sys
from pathlib import Path

PAD = 4000  # large enough that a write takes a while, so kills land mid-write


def description(n: int) -> str:
    return f"v{n} " + "x" * (PAD + n % 7)


def secret_value(n: int) -> str:
    return f"v{n}-" + "s" * (PAD + n % 7)


def audit_record(n: int) -> dict[str, object]:
    return {"n": n, "pad": "a" * (PAD + n % 7)}


def main(kind: str, folder: Path, start: int) -> None:
    from lakegate.copilot.audit import AuditLog
    from lakegate.project import Action, load_project
    from lakegate.secrets import SecretStore

    project = load_project(folder / "lakegate.yaml") if kind == "project" else None
    store = SecretStore(folder / ".lakegate")
    audit = AuditLog(folder / ".lakegate" / "audit.jsonl")
    print("ready", flush=True)
    n = start
    while True:
        if project is not None:
            action = project.actions["ping"]
            project.set_action("ping", Action.model_validate(
                {**action.model_dump(), "description": description(n)}
            ))  # fmt: skip
            project.save()
        elif kind == "secrets":
            store.set("canary", secret_value(n))
        else:
            audit.write(audit_record(n))
        n += 1


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]))
