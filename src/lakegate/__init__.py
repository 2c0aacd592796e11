"""lakegate: connect AI copilots to Databricks through declared, tested, guarded actions."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from lakegate.errors import *  # noqa: F403
from lakegate.errors import __all__ as _errors_all

try:
    __version__ = version("lakegate")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = ["__version__", *_errors_all]
