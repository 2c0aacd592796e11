"""Every error code raised in src/lakegate is documented in docs/errors.md, with its class.

The source is walked, not a list kept by hand: a `code="..."` given to any call, each error
class's default `code`, and every string shaped like a code of a family (a code chosen by a helper
or a table), so a new code cannot be added without its line in the docs.
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

import lakegate.errors as errors

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "lakegate"
DOC = ROOT / "docs" / "errors.md"
# `lakegate.` strings are module names too; that family is found through `code=` and classes only.
CODE_SHAPED = re.compile(r"^(config|auth|request|remote|policy|sql)\.[a-z_]+$")
CLASSES = {
    name: cls
    for name, cls in vars(errors).items()
    if isinstance(cls, type) and issubclass(cls, errors.LakegateError)
}


def raised_codes() -> dict[str, set[str]]:
    """code -> the error classes it is given to ("" where a helper or table chooses it)."""
    found: dict[str, set[str]] = defaultdict(set)
    for path in sorted(SRC.rglob("*.py")):
        if "workspace" in path.relative_to(SRC).parts:
            continue  # the local workspace answers with Databricks' own error_code values
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call):
                func = node.func
                name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
                for keyword in node.keywords:
                    value = keyword.value
                    if keyword.arg == "code" and isinstance(value, ast.Constant):
                        found[str(value.value)].add(name if name in CLASSES else "")
            elif (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and CODE_SHAPED.match(node.value)
            ):
                found[node.value].add("")
    for name, cls in CLASSES.items():
        found[cls.code].add(name)
    return found


def documented() -> dict[str, set[str]]:
    """code -> the classes docs/errors.md says raise it."""
    rows = re.findall(r"^\| `([a-z_.]+)` \| ([^|]+) \|", DOC.read_text(), re.MULTILINE)
    assert rows, "docs/errors.md has no table of codes"
    table: dict[str, set[str]] = {}
    for code, classes in rows:
        assert code not in table, f"{code} is documented twice"
        table[code] = set(re.findall(r"`(\w+)`", classes))
    return table


def test_every_raised_code_is_documented() -> None:
    missing = sorted(set(raised_codes()) - set(documented()))
    assert not missing, f"codes raised but not in docs/errors.md: {missing}"


def test_every_documented_code_is_still_raised() -> None:
    stale = sorted(set(documented()) - set(raised_codes()))
    assert not stale, f"codes in docs/errors.md that nothing raises: {stale}"


def test_each_code_is_raised_with_the_class_the_tree_assigns() -> None:
    table = documented()
    wrong = {
        code: sorted(classes - table.get(code, set()) - {""})
        for code, classes in raised_codes().items()
        if classes - table.get(code, set()) - {""}
    }
    assert not wrong, f"codes raised with a class docs/errors.md does not give them: {wrong}"


def test_each_documented_class_belongs_to_the_codes_family() -> None:
    """The family before the dot picks the branch of the tree (sql.* is a request or remote)."""
    branch = {
        "lakegate": errors.LakegateError,
        "config": errors.ConfigError,
        "auth": errors.AuthError,
        "request": errors.RequestError,
        "remote": errors.RemoteError,
        "policy": errors.PolicyError,
        "sql": errors.RequestError | errors.RemoteError,
    }
    for code, classes in documented().items():
        for name in classes:
            assert name in CLASSES, f"{code}: no class {name} in lakegate.errors"
            assert issubclass(CLASSES[name], branch[code.split(".")[0]]), (code, name)
