"""Handlers are found through an explicit table of built-in packs, never by guessing module names.

Each check runs in a fresh interpreter: the test process has imported the pack's modules already.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from ruamel.yaml import YAML

PACK = Path(__file__).resolve().parents[2] / "src" / "lakegate" / "databricks" / "pack.yaml"


def run(code: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    return json.loads(done.stdout)


def test_every_handler_the_pack_names_is_found_through_the_table() -> None:
    actions = YAML(typ="safe").load(PACK.read_text())["actions"]
    names = sorted({a["handler"] for a in actions.values() if a.get("handler")})
    assert names
    found = run(
        "import json, sys\n"
        "from lakegate import handlers\n"
        f"names = {names!r}\n"
        "found = {}\n"
        "for name in names:\n"
        "    found[name] = handlers.lookup(name) is not None\n"
        "print(json.dumps(found))\n"
    )
    assert found == dict.fromkeys(names, True)


def test_a_light_handler_does_not_load_the_sql_guard() -> None:
    loaded = run(
        "import json, sys\n"
        "from lakegate import handlers\n"
        "handlers.lookup('databricks.list_warehouses')\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('lakegate.databricks'))))\n"
    )
    assert "lakegate.databricks.warehouses" in loaded
    assert "lakegate.databricks.guard" not in loaded


def test_an_unknown_pack_imports_nothing() -> None:
    loaded = run(
        "import json, sys\n"
        "from lakegate import handlers\n"
        "before = set(sys.modules)\n"
        "for name in ('nosuch.thing', 'os.system', 'databricks_x.run', ''):\n"
        "    handlers.lookup(name)\n"
        "print(json.dumps(sorted(set(sys.modules) - before)))\n"
    )
    assert loaded == []
