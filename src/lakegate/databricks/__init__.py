"""The Databricks pack: SQL that answers copilots well, warehouses, catalog, jobs.

Importing the package registers its code handlers (`databricks.execute_sql`, ...).
"""

from __future__ import annotations

from lakegate.databricks import jobs, statements, warehouses  # noqa: F401  (registers handlers)
from lakegate.databricks.guard import Verdict, check_read_only, is_read_only
from lakegate.databricks.pack import PACK_ACTIONS, install_pack, pack_actions

__all__ = [
    "PACK_ACTIONS",
    "Verdict",
    "check_read_only",
    "install_pack",
    "is_read_only",
    "pack_actions",
]
