"""The layering the architecture promises, checked on every test run.

The contracts live in pyproject.toml ([tool.importlinter]); the two rules that must also hold for
modules added later are checked here against the whole import graph, not a list.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parent.parent
FRONTS = ("lakegate.cli", "lakegate.copilot", "lakegate.studio")
ENTRY = "lakegate.__main__"  # `python -m lakegate`: the CLI's door


def test_import_linter_contracts_are_kept() -> None:
    done = subprocess.run(
        [str(Path(sys.executable).with_name("lint-imports")), "--no-cache"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


def graph() -> grimp.ImportGraph:
    return grimp.build_graph("lakegate", exclude_type_checking_imports=False, cache_dir=None)


def top_level(graph: grimp.ImportGraph) -> set[str]:
    return {m for m in graph.modules if m.count(".") == 1}


def test_no_module_outside_the_fronts_imports_a_front() -> None:
    g = graph()
    for module in sorted(top_level(g) - {*FRONTS, ENTRY}):
        for front in FRONTS:
            chain = g.find_shortest_chain(module, front, as_packages=True)
            assert chain is None, f"{module} reaches the front {front}: {' -> '.join(chain)}"


def test_the_workspace_imports_nothing_else_of_lakegate() -> None:
    """Nothing but `_serving`: uvicorn's protocols with read timeouts, which every HTTP server
    lakegate runs shares (it imports only uvicorn)."""
    g = graph()
    workspace = {"lakegate.workspace", *g.find_descendants("lakegate.workspace")}
    outside = {
        (module, imported)
        for module in workspace
        for imported in g.find_modules_directly_imported_by(module)
        if imported.startswith("lakegate")
        and imported not in workspace
        and imported != "lakegate._serving"
    }
    serving = g.find_modules_directly_imported_by("lakegate._serving")
    assert not {m for m in serving if m.startswith("lakegate")}, serving
    assert not outside, sorted(outside)


def test_no_package_holds_more_than_25_modules() -> None:
    """A folder past 25 modules no longer says what each part serves: split it by area."""
    src = ROOT / "src" / "lakegate"
    crowded = {
        str(folder.relative_to(src.parent)): count
        for folder in [src, *(p for p in src.rglob("*") if (p / "__init__.py").exists())]
        if (count := len(list(folder.glob("*.py")))) > 25
    }
    assert not crowded, crowded


def test_each_api_area_of_the_local_workspace_says_what_it_serves() -> None:
    workspace = ROOT / "src" / "lakegate" / "workspace"
    for area in ("identity", "compute", "sql", "catalog", "jobs", "samples", "mcp"):
        doc = (workspace / area / "__init__.py").read_text()
        assert doc.startswith('"""') and len(doc.strip().strip('"')) > 20, area
