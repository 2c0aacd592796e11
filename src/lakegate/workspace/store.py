"""SQLite persistence for the local workspace's metadata: JSON documents by kind and id.

Each domain (identity, warehouses, permissions) keeps its working set in memory for speed
and writes every change through to this store, so a restart on the same state dir keeps
everything.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    kind TEXT NOT NULL,
    id   TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (kind, id)
);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


class Store:
    """JSON documents in one SQLite file; safe to use from the server and the test thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        # Hashes only, but still nobody else's business: create the file owner-only.
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        # WAL + NORMAL: durable across process restarts, without an fsync per token.
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def get(self, kind: str, ident: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute(
                "SELECT body FROM documents WHERE kind = ? AND id = ?", (kind, ident)
            ).fetchone()
        return json.loads(row[0]) if row else None

    def all(self, kind: str) -> Iterator[tuple[str, dict[str, Any]]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, body FROM documents WHERE kind = ? ORDER BY rowid", (kind,)
            ).fetchall()
        for ident, body in rows:
            yield ident, json.loads(body)

    def put(self, kind: str, ident: str, body: dict[str, Any]) -> None:
        text = json.dumps(body, separators=(",", ":"))
        with self._lock:
            self._db.execute(
                "INSERT INTO documents (kind, id, body) VALUES (?, ?, ?) "
                "ON CONFLICT (kind, id) DO UPDATE SET body = excluded.body",
                (kind, ident, text),
            )

    def delete(self, kind: str, ident: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM documents WHERE kind = ? AND id = ?", (kind, ident))

    def next_id(self, name: str, start: int) -> int:
        """A persistent counter, for numeric ids (SCIM ids, token ids)."""
        with self._lock:
            self._db.execute(
                "INSERT INTO counters (name, value) VALUES (?, ?) ON CONFLICT (name) "
                "DO UPDATE SET value = value + 1",
                (name, start),
            )
            (value,) = self._db.execute(
                "SELECT value FROM counters WHERE name = ?", (name,)
            ).fetchone()
        return int(value)

    def close(self) -> None:
        with self._lock:
            self._db.close()
