"""Where the pack's code handlers live, so the gateway imports only the module a call needs.

`list_warehouses` should not load sqlglot (the SQL guard) and the answer renderer; a name not
listed here makes every handler module load, so a new handler works before it is listed.
"""

from __future__ import annotations

import importlib

__all__ = ["load_handler"]

_MODULES = {
    "databricks.list_warehouses": "lakegate.databricks.warehouses",
    "databricks.start_warehouse": "lakegate.databricks.warehouses",
    "databricks.run_job": "lakegate.databricks.jobs",
    "databricks.wait_for_run": "lakegate.databricks.jobs",
}
_EVERY = (
    "lakegate.databricks.warehouses",
    "lakegate.databricks.jobs",
    "lakegate.databricks.statements",
)


def load_handler(name: str) -> None:
    """Import the module registering handler `name` (every handler module if it is unknown)."""
    for module in (_MODULES[name],) if name in _MODULES else _EVERY:
        importlib.import_module(module)
