"""How `--help` shows options: a flag takes no value, so it shows no `<bool>` placeholder."""

from __future__ import annotations

from typing import Any

from typer.core import TyperOption

_show_type = TyperOption.display_type_rich


def _type_unless_flag(self: TyperOption, ctx: Any) -> str | None:
    if self.is_flag or self.count:
        return None
    return _show_type(self, ctx)


TyperOption.display_type_rich = _type_unless_flag  # type: ignore[method-assign]
