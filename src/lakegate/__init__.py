"""lakegate: connect AI copilots to Databricks through declared, tested, guarded actions.

from lakegate import Gateway
async with Gateway.from_file("lakegate.yaml") as gw:
    result = await gw.call("list_warehouses", {})

from lakegate import SyncGateway          # scripts and notebooks
with SyncGateway.from_file("lakegate.yaml") as gw:
    result = gw.call("list_warehouses")
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lakegate.errors import *  # noqa: F403
from lakegate.errors import __all__ as _errors_all

if TYPE_CHECKING:
    from lakegate.gateway import ActionResult, Gateway, SyncGateway  # noqa: F401
    from lakegate.handlers import ActionContext, handler  # noqa: F401
    from lakegate.project import (  # noqa: F401
        Action,
        Connector,
        CopilotPolicy,
        Project,
        load_project,
    )
    from lakegate.secrets import SecretStore, redact  # noqa: F401

# Imported on first use: the CLI imports `lakegate` and should start fast.
_LAZY = {
    "Gateway": "lakegate.gateway",
    "ActionResult": "lakegate.gateway",
    "SyncGateway": "lakegate.gateway",
    "ActionContext": "lakegate.handlers",
    "handler": "lakegate.handlers",
    "Project": "lakegate.project",
    "Connector": "lakegate.project",
    "Action": "lakegate.project",
    "CopilotPolicy": "lakegate.project",
    "load_project": "lakegate.project",
    "SecretStore": "lakegate.secrets",
    "redact": "lakegate.secrets",
}

__all__ = ["__version__", *_LAZY, *_errors_all]  # noqa: F405 (`__version__`: __getattr__)


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from lakegate._version import version

        found = globals()["__version__"] = version()
        return found
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'lakegate' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
