"""lakegate's installed version, read once: modules below the package ask here, not upward."""

from __future__ import annotations

from functools import cache

__all__ = ["version"]


@cache
def version() -> str:
    # importlib.metadata costs 30-60 ms to import: only when the version is asked for.
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("lakegate")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0.0.0"
