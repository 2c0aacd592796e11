"""Package attributes imported on first use, so that importing a package stays cheap."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["lazy_attributes"]


def lazy_attributes(
    package: str, table: dict[str, str], space: dict[str, Any]
) -> Callable[[str], Any]:
    """A module `__getattr__` importing `table[name]` (a module path) on first access of `name`
    and keeping the value in `space` (the package's globals) for the next one."""

    def __getattr__(name: str) -> Any:
        module = table.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        import importlib

        value = space[name] = getattr(importlib.import_module(module), name)
        return value

    return __getattr__
