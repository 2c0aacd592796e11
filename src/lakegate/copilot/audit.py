"""The audit log: one JSON line per tool call in `.lakegate/audit.jsonl`, rotated by size.

Lines never interleave, even with several servers writing: each line is one `write()` on an
`O_APPEND` descriptor, under a thread lock and an advisory file lock that also guards rotation.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import threading
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lakegate.secrets import redact

__all__ = ["AuditLog", "read_records", "scrub_arguments", "stats"]

AUDIT_FILE = "audit.jsonl"
KEEP_ROTATED = 3
MAX_VALUE_CHARS = 256
HEAD_CHARS = 96
# Argument keys whose values are never written, whatever they hold.
SECRET_KEY = re.compile(r"secret|token|password|passwd|authorization|api[_-]?key|credential", re.I)
OUTCOMES = ("ok", "error", "invalid", "refused", "cancelled", "unauthorized")


def _truncate(text: str) -> str:
    if len(text) <= MAX_VALUE_CHARS:
        return text
    digest = hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()[:16]
    return f"{text[:HEAD_CHARS]}…[{len(text)} chars, sha256:{digest}]"


def scrub_arguments(value: Any, *, key: str = "") -> Any:
    """Arguments fit for the audit log: secrets redacted, long strings truncated and hashed."""
    if key and SECRET_KEY.search(key):
        return "***"
    if isinstance(value, str):
        return _truncate(redact(value))
    if isinstance(value, dict):
        return {str(k): scrub_arguments(v, key=str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        items = [scrub_arguments(v) for v in value[:50]]
        if len(value) > 50:
            items.append(f"…[{len(value) - 50} more items]")
        return items
    if value is None or isinstance(value, bool | int | float):
        return value
    return _truncate(redact(repr(value)))


class AuditLog:
    """Append-only JSON lines with size-based rotation (`audit.jsonl.1` .. `.3`)."""

    def __init__(self, path: str | os.PathLike[str], *, max_bytes: int = 10 * 1024 * 1024) -> None:
        self.path = Path(path)
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._lock_path = self.path.with_name(self.path.name + ".lock")

    def __repr__(self) -> str:
        return f"AuditLog(path={str(self.path)!r})"

    @classmethod
    def for_project(cls, project: Any) -> AuditLog:
        """The audit log beside a project (`.lakegate/audit.jsonl`), sized by its policy."""
        audit = getattr(getattr(project, "copilot", None), "audit", None)
        max_bytes = int(getattr(audit, "max_bytes", 0) or 10 * 1024 * 1024)
        return cls(Path(project.state_dir) / AUDIT_FILE, max_bytes=max_bytes)

    def write(self, record: dict[str, Any]) -> None:
        """Append one record as one line (redacted once more as a whole, as a last net)."""
        line = redact(json.dumps(record, ensure_ascii=False, default=str, separators=(",", ":")))
        data = (line.replace("\n", " ") + "\n").encode("utf-8")
        with self._lock:
            try:
                lock_fd = os.open(self._lock_path, os.O_WRONLY | os.O_CREAT, 0o600)
            except FileNotFoundError:  # no folder yet: made here, not checked on every call
                self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                lock_fd = os.open(self._lock_path, os.O_WRONLY | os.O_CREAT, 0o600)
            try:
                fcntl.flock(lock_fd, fcntl.LOCK_EX)
                self._rotate_if_needed(len(data))
                fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
                try:
                    # A process killed inside write(2) can leave a torn last line (Linux stops
                    # copying at a page boundary on SIGKILL): end it, so this record stays whole.
                    size = os.fstat(fd).st_size
                    if size and os.pread(fd, 1, size - 1) != b"\n":
                        data = b"\n" + data
                    view = memoryview(data)
                    while view:  # a short write is legal; finish the line
                        view = view[os.write(fd, view) :]
                finally:
                    os.close(fd)
            finally:
                os.close(lock_fd)  # closing releases the flock

    def _rotate_if_needed(self, incoming: int) -> None:
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return
        if size == 0 or size + incoming <= self.max_bytes:
            return
        for index in range(KEEP_ROTATED - 1, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{index}")
            if older.exists():
                os.replace(older, self.path.with_name(f"{self.path.name}.{index + 1}"))
        os.replace(self.path, self.path.with_name(f"{self.path.name}.1"))

    def files(self) -> list[Path]:
        """The log and its rotated files, oldest first."""
        rotated = [self.path.with_name(f"{self.path.name}.{i}") for i in range(KEEP_ROTATED, 0, -1)]
        return [p for p in [*rotated, self.path] if p.exists()]


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def call_record(
    *,
    client: dict[str, Any] | None,
    tool: str,
    arguments: dict[str, Any] | None,
    outcome: str,
    elapsed_ms: float,
    status: int | None = None,
    error: dict[str, Any] | None = None,
    statement_id: str | None = None,
    run_id: Any = None,
    row_count: int | None = None,
    truncated: bool = False,
    session: str | None = None,
    user: str | None = None,
) -> dict[str, Any]:
    """One audit record for a tool call, in the documented field order (`user`: the person
    behind an OAuth request, absent with a static token)."""
    record: dict[str, Any] = {
        "ts": now_iso(),
        "client": client or {"name": None, "version": None},
        "session": session,
        "tool": tool,
        "arguments": scrub_arguments(arguments or {}),
        "outcome": outcome,
        "status": status,
        "statement_id": statement_id,
        "run_id": run_id,
        "row_count": row_count,
        "truncated": truncated,
        "elapsed_ms": round(elapsed_ms, 2),
    }
    if user:
        record["user"] = user
    if error:
        record["error"] = {
            "code": error.get("code"),
            "message": _truncate(redact(str(error.get("message", "")))),
        }
    return record


def read_records(path: str | os.PathLike[str], *, rotated: bool = True) -> Iterator[dict[str, Any]]:
    """Records from the log (and its rotated files), oldest first; unreadable lines skipped."""
    log = AuditLog(path)
    for file in log.files() if rotated else [log.path]:
        try:
            handle = file.open(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            continue
        with handle:
            for line in handle:
                line = line.strip()
                if not line:
                    continue
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                if isinstance(record, dict):
                    yield record


def _percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    # Nearest rank: the smallest value with at least q of the values at or below it.
    rank = max(1, -(-len(sorted_values) * q // 1))
    return sorted_values[int(rank) - 1]


STATS_BY = ("tool", "user")
NOBODY = "-"  # the `user` of calls made without an OAuth caller (static token, stdio)


def stats(records: Iterable[dict[str, Any]], *, by: str = "tool") -> list[dict[str, Any]]:
    """Per tool (or per `user`): calls, errors (every outcome but ok), p50 and p95 of
    elapsed_ms. Only tool calls count; by user, calls without one are grouped as "-"."""
    if by not in STATS_BY:
        raise ValueError(f"stats by {by!r}: expected one of {', '.join(STATS_BY)}")
    groups: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        if record.get("tool"):
            groups.setdefault(str(record.get(by) or NOBODY), []).append(record)
    rows = []
    for key, items in sorted(groups.items()):
        times = sorted(float(r.get("elapsed_ms") or 0) for r in items)
        rows.append(
            {
                by: key,
                "calls": len(items),
                "errors": sum(1 for r in items if r.get("outcome") != "ok"),
                "p50_ms": round(_percentile(times, 0.50), 2),
                "p95_ms": round(_percentile(times, 0.95), 2),
            }
        )
    return rows
