"""How `--help` shows options and what help loads: flags show no `<bool>` placeholder, typer's help
module comes without rich's Markdown and Traceback (lakegate uses neither), and an option left
unset is not coerced through pydantic."""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

from typer._coercion import PassThroughRuntimeParam
from typer.core import TyperOption, _TyperParameter

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


_process_value = _TyperParameter.process_value


def _process_unset_without_pydantic(self: _TyperParameter, ctx: Any, value: Any) -> Any:
    # typer builds a pydantic adapter for a parameter on its first value, even an unset one
    # (None), which its coercion answers with None or () before the adapter is used: for
    # `--project` that imported pydantic (~50 ms) in `version` and every subcommand's --help.
    if value is not None or self._runtime_param is not None:
        return _process_value(self, ctx, value)
    desc = self.type_descriptor
    self._runtime_param = PassThroughRuntimeParam(
        annotation=desc.annotation, parameter_info=desc.parameter_info
    )
    try:
        return _process_value(self, ctx, value)
    finally:
        self._runtime_param = None  # a value given later still gets typer's own coercion


_TyperParameter.process_value = _process_unset_without_pydantic  # type: ignore[method-assign]
