"""docs/cli.md lists every command of the real app, generated from the commands themselves."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

DOCS = Path(__file__).resolve().parents[2] / "docs"


def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_cli", DOCS / "gen_cli.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_command_is_in_docs_cli_md() -> None:
    gen = generator()
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    names = ["lakegate " + " ".join(path) for path, _ in gen.commands()]
    assert "lakegate connector add" in names and "lakegate demo" in names
    missing = [name for name in names if f"### `{name}`" not in text]
    assert not missing, f"not in docs/cli.md: {missing}; run `uv run python docs/gen_cli.py`"


def test_the_reference_shows_each_command_help_and_options() -> None:
    reference = generator().reference()
    assert "### `lakegate action import-curl`" in reference
    assert "| `--client-secret-env VAR` |" in reference
    assert "| `--auth none\\|api_key\\|bearer\\|basic\\|oauth2` |" in reference
    assert "lakegate test list_warehouses" in reference  # the examples from --help
