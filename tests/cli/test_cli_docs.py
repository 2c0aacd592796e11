"""docs/cli.md lists every command of the real app, generated from the commands themselves."""

from __future__ import annotations

import importlib.util
import shlex
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from cli_runner import Cli

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


def test_docs_are_up_to_date_with_the_commands() -> None:
    gen = generator()
    current = (DOCS / "cli.md").read_text(encoding="utf-8")
    assert gen.render(current) == current, "run `uv run python docs/gen_cli.py`"


def test_every_option_has_help_and_every_listing_has_json() -> None:
    from typer.core import TyperArgument

    blank, no_json = [], []
    for path, command in generator().commands():
        for param in command.params:
            hidden = getattr(param, "hidden", False) or param.name == "help"
            if not hidden and not isinstance(param, TyperArgument) and not param.help:
                blank.append(f"{' '.join(path)} {param.opts[0]}")
        opts = {opt for param in command.params for opt in getattr(param, "opts", [])}
        if path[-1] in ("list", "tail", "stats") and "--json" not in opts:
            no_json.append(" ".join(path))
    assert not blank, f"options without help text: {blank}"
    assert not no_json, f"listings without --json: {no_json}"


def test_the_inputs_example_in_docs_runs(seeded: Callable[..., Cli]) -> None:
    cli = seeded()
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    block = text.split("## Inputs", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    commands = [
        shlex.split(line, comments=True) for line in block.replace("\\\n", " ").splitlines()
    ]
    for argv in [c for c in commands if c]:
        assert argv[0] == "lakegate"
        run = cli(*argv[1:])
        assert run.code == 0, (argv, run.output)
    tables = cli("test", "search_tables")
    assert tables.code == 0 and "samples.nyctaxi." in tables.stdout, tables.output
