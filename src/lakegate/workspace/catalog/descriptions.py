"""What Unity Catalog keeps about a securable that the engine does not: its owner, comment and
properties, and who made and last changed it, when.

DuckDB holds the objects themselves (a catalog is an attached database file, a schema a DuckDB
schema) but cannot comment on a schema or catalog, so these documents live in the state store,
keyed by the securable type and the lower-cased full name (Unity Catalog names are
case-insensitive). A securable without a document is the workspace admin's, made when the
workspace was.
"""

from __future__ import annotations

import time
from typing import Any

from lakegate.workspace.store import Store

__all__ = ["KIND", "Descriptions"]

KIND = "uc_securable"
_GRANTS = "uc_grant"  # catalog.grants' documents, keyed the same way


class Descriptions:
    """Owner, comment, properties and audit fields of catalogs, schemas and tables."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def get(self, kind: str, full_name: str) -> dict[str, Any]:
        return self.store.get(KIND, _key(kind, full_name)) or {}

    def made(self, kind: str, full_name: str, by: str) -> None:
        """A new securable, made by `by` (an application id or user name), who owns it."""
        now = int(time.time() * 1000)
        body = {"owner": by, "created_at": now, "created_by": by,
                "updated_at": now, "updated_by": by}  # fmt: skip
        self.store.put(KIND, _key(kind, full_name), body)

    def change(self, kind: str, full_name: str, by: str, **fields: Any) -> None:
        """Set the given fields (None: leave as is), and who changed them, when."""
        body = self.get(kind, full_name)
        body.update({k: v for k, v in fields.items() if v is not None})
        body.update(updated_at=int(time.time() * 1000), updated_by=by)
        self.store.put(KIND, _key(kind, full_name), body)

    def forget(self, kind: str, full_name: str) -> None:
        """A dropped securable, and everything it contained: its documents and its grants go,
        so an object made later under the same name starts with neither."""
        name = full_name.lower()
        for store_kind in (KIND, _GRANTS):
            for ident, _ in list(self.store.all(store_kind)):
                held_kind, _, held = ident.partition(":")
                inside = held.startswith(name + ".") and kind != "TABLE"
                if (held_kind == kind and held == name) or inside:
                    self.store.delete(store_kind, ident)


def _key(kind: str, full_name: str) -> str:
    return f"{kind.upper()}:{full_name.lower()}"
