"""The Databricks pack: SQL that answers copilots well, warehouses, catalog, jobs.

Its code handlers (`databricks.execute_sql`, ...) are registered by `lakegate.databricks.handlers`,
which the gateway imports on first use; the names below are imported on first access, so a
command that only needs `demo_steps` or `connect` does not load sqlglot and the gateway.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lakegate._lazy import lazy_attributes

if TYPE_CHECKING:
    from lakegate.databricks.guard import Verdict, check_read_only, is_read_only
    from lakegate.databricks.pack import PACK_ACTIONS, install_pack, pack_actions

_LAZY = {
    "Verdict": "lakegate.databricks.guard",
    "check_read_only": "lakegate.databricks.guard",
    "is_read_only": "lakegate.databricks.guard",
    "PACK_ACTIONS": "lakegate.databricks.pack",
    "install_pack": "lakegate.databricks.pack",
    "pack_actions": "lakegate.databricks.pack",
}


__getattr__ = lazy_attributes(__name__, _LAZY, globals())

__all__ = [
    "PACK_ACTIONS",
    "Verdict",
    "check_read_only",
    "install_pack",
    "is_read_only",
    "pack_actions",
]
