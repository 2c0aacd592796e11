"""How `--help` shows options and what it loads: flags show no `<bool>` placeholder, and typer's
help module comes without rich's Markdown and Traceback, which lakegate never uses."""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

from typer.core import TyperOption

_show_type = TyperOption.display_type_rich


def _type_unless_flag(self: TyperOption, ctx: Any) -> str | None:
    if self.is_flag or self.count:
        return None
    return _show_type(self, ctx)


TyperOption.display_type_rich = _type_unless_flag  # type: ignore[method-assign]


class _OnFirstUse(type):
    """Stands for a rich class in typer's help module; the real one is imported when first used."""

    home: str

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        return cls.real()(*args, **kwargs)

    def __getattr__(cls, name: str) -> Any:
        if name.startswith("_"):  # typing and copy probe dunders; those must not import it
            raise AttributeError(name)
        return getattr(cls.real(), name)

    def real(cls) -> type:
        return getattr(importlib.import_module(cls.home), cls.__name__)


# typer.rich_utils imports these at its top for markdown help (lakegate's markup is rich's) and
# pretty tracebacks (pretty_exceptions_enable=False): markdown-it and pygments, about a quarter
# of what `lakegate --help` imported.
_UNUSED = {"rich.markdown": "Markdown", "rich.traceback": "Traceback"}


def _import_typer_help() -> None:
    if "typer.rich_utils" in sys.modules:
        return
    stand_ins = {}
    for module, name in _UNUSED.items():
        if module not in sys.modules:
            stand_ins[module] = types.ModuleType(module)
            setattr(stand_ins[module], name, _OnFirstUse(name, (), {"home": module}))
    sys.modules.update(stand_ins)
    try:
        importlib.import_module("typer.rich_utils")
    except ImportError:  # a typer that wants more of them: imported below with the real ones
        pass
    finally:
        for module in stand_ins:
            del sys.modules[module]  # whoever imports them next gets the real ones
    importlib.import_module("typer.rich_utils")


_import_typer_help()
