"""The copilot server: actions as MCP tools, the copilot policy, and the audit log.

What other fronts (the Studio) may use is re-exported here; the modules behind it are this
package's own. Imported on first use: `lakegate serve` should start fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lakegate._lazy import lazy_attributes

if TYPE_CHECKING:
    from lakegate.copilot.audit import AUDIT_FILE, read_records  # noqa: F401
    from lakegate.copilot.clientconfig import (  # noqa: F401
        ClientSnippet,
        client_snippet,
        env_names,
    )
    from lakegate.copilot.policy import PROFILES, plan_tools  # noqa: F401

_LAZY = {
    "AUDIT_FILE": "lakegate.copilot.audit",
    "read_records": "lakegate.copilot.audit",
    "ClientSnippet": "lakegate.copilot.clientconfig",
    "client_snippet": "lakegate.copilot.clientconfig",
    "env_names": "lakegate.copilot.clientconfig",
    "PROFILES": "lakegate.copilot.policy",
    "plan_tools": "lakegate.copilot.policy",
}

__all__ = list(_LAZY)
__getattr__ = lazy_attributes(__name__, _LAZY, globals())
