"""Re-apply issue 15's mutations to a copy of the committed tree; see which tests catch them.

    .venv/bin/python tests/mutations.py            # every mutation, the tests named for it
    .venv/bin/python tests/mutations.py --only old # only the tests that existed before issue 15
    .venv/bin/python tests/mutations.py redact_identity

Each mutation breaks one line (a regex replace in a copy of `git archive HEAD` in a temporary
folder, never in the work tree), runs its tests there with PYTHONPATH on the copy's src, and prints
`caught` (some test failed) or `SURVIVED` (all passed); `BROKEN` when the tests already fail on the
unmutated copy (the control run), which would make every mutation look caught. See
tests/mutations.md.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Mutation:
    name: str
    file: str
    pattern: str
    replacement: str
    old_tests: tuple[str, ...]  # what existed when the mutation was found to survive
    new_tests: tuple[str, ...]  # what issue 15 added to catch it


MUTATIONS = (
    Mutation(
        "export_guard_removed",
        "src/lakegate/databricks/export.py",
        r"is_read = guard\(ctx, statement\)",
        "is_read = False",
        ("tests/pack/test_export.py::test_cli_query_writes_the_file",),
        ("tests/pack/test_export_guard.py",),
    ),
    Mutation(
        "execute_sql_write_idempotent",
        "src/lakegate/databricks/statements.py",
        r"response = await runner\.run\(body, idempotent=is_read\)",
        "response = await runner.run(body, idempotent=True)",
        ("tests/reliability/test_faults.py", "tests/pack/test_guard.py"),
        ("tests/reliability/test_writes_once.py",),
    ),
    Mutation(
        "redact_identity",
        "src/lakegate/secrets.py",
        r"return _redactor\.redact\(text\)",
        "return text",
        ("tests/reliability/test_secrets.py",),
        ("tests/reliability/test_redaction_echo.py",),
    ),
    Mutation(
        "credential_header_masking_off",
        "src/lakegate/results.py",
        r"if key\.lower\(\) in _SECRET_HEADERS or key in secret_names:",
        "if False:",
        ("tests/gateway/test_auth.py", "tests/gateway/test_workspace.py"),
        ("tests/gateway/test_request_summary.py",),
    ),
    Mutation(
        "setup_assignment_not_resent",
        "src/lakegate/databricks/setup.py",
        r'idempotent=method in \("GET", "PUT"\)',
        'idempotent=method in ("GET",)',
        ("tests/pack/test_connect_setup.py",),
        ("tests/pack/test_setup_tokens.py::test_the_workspace_assignment_is_resent_under_503",),
    ),
    Mutation(
        "setup_create_resent",
        "src/lakegate/databricks/setup.py",
        r'idempotent=method in \("GET", "PUT"\)',
        "idempotent=True",
        ("tests/pack/test_connect_setup.py",),
        ("tests/pack/test_setup_tokens.py::test_creating_a_principal_is_sent_once_under_503",),
    ),
    Mutation(
        "doctor_api_not_retried",
        "src/lakegate/databricks/doctor_checks.py",
        r"return await self\.gw\.request\(self\.connector, method, path, \*\*kwargs\)",
        "return await self.gw.request(self.connector, method, path, idempotent=False, **kwargs)",
        ("tests/pack/test_doctor.py",),
        ("tests/pack/test_doctor_gateway.py",),
    ),
)


def copy_of_head(into: Path) -> None:
    """The committed src/, tests/ and pyproject.toml (others' uncommitted edits stay out)."""
    archive = subprocess.run(
        ["git", "archive", "HEAD", "src", "tests", "pyproject.toml"],
        cwd=ROOT, capture_output=True, check=True,
    ).stdout  # fmt: skip
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")


def mutate(tree: Path, mutation: Mutation) -> None:
    path = tree / mutation.file
    text = path.read_text()
    changed, count = re.subn(mutation.pattern, mutation.replacement, text)
    if count == 0:
        raise SystemExit(f"{mutation.name}: the pattern no longer matches {mutation.file}")
    path.write_text(changed)


def run_tests(tree: Path, tests: tuple[str, ...]) -> tuple[bool, str]:
    """True when every test passed (the mutation survived); the last lines of pytest's output."""
    env = {**os.environ, "PYTHONPATH": str(tree / "src")}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *tests],
        cwd=tree, env=env, capture_output=True, text=True,
    )  # fmt: skip
    tail = (done.stdout.strip().splitlines() or [""])[-1]
    return done.returncode == 0, tail


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="mutations to run (default: all)")
    parser.add_argument("--only", choices=("old", "new", "all"), default="all",
                        help="which tests to run against each mutation")  # fmt: skip
    args = parser.parse_args()
    chosen = [m for m in MUTATIONS if not args.names or m.name in args.names]
    survived = 0
    print(f"{'mutation':32} {'tests':5} result    pytest")
    for mutation in chosen:
        tests = {
            "old": mutation.old_tests,
            "new": mutation.new_tests,
            "all": mutation.old_tests + mutation.new_tests,
        }[args.only]
        with tempfile.TemporaryDirectory(prefix="lakegate-mutant-") as tmp:
            tree = Path(tmp)
            copy_of_head(tree)
            # The control: a test that fails unmutated would "catch" every mutation.
            sound, tail = run_tests(tree, tests)
            if sound:
                mutate(tree, mutation)
                passed, tail = run_tests(tree, tests)
        survived += not sound or passed
        verdict = "BROKEN" if not sound else "SURVIVED" if passed else "caught"
        print(f"{mutation.name:32} {args.only:5} {verdict:9} {tail}", flush=True)
    return 1 if survived else 0


if __name__ == "__main__":
    sys.exit(main())
