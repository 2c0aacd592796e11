"""One inter-process lock for every read-modify-write of a file lakegate shares between
processes (lakegate.yaml, the secret store)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

from lakegate.errors import LakegateError

__all__ = ["LOCK_TIMEOUT_S", "held"]

LOCK_TIMEOUT_S = 30.0


@contextlib.contextmanager
def held(lock_path: Path, busy: Callable[[float], LakegateError]) -> Iterator[None]:
    """Hold the lock file `lock_path` (its folder made private if missing); `busy(seconds)` is
    raised when another process held it for `LOCK_TIMEOUT_S`."""
    # filelock imports asyncio: loaded here, not at `lakegate --help`'s start
    from filelock import FileLock, Timeout

    lock_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    lock = FileLock(lock_path, mode=0o600)
    try:
        lock.acquire(timeout=LOCK_TIMEOUT_S)
    except Timeout:
        raise busy(LOCK_TIMEOUT_S) from None
    try:
        yield
    finally:
        lock.release()
