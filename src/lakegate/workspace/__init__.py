"""A local Databricks workspace: OAuth M2M, SQL warehouses, account API, fault injection.

with LocalWorkspace() as ws:
    ws.host, ws.account_host, ws.credentials
"""

from lakegate.workspace.http import ApiError, api_error
from lakegate.workspace.identity.principals import Principal
from lakegate.workspace.server import LocalWorkspace
from lakegate.workspace.state import Settings, WorkspaceState

__all__ = ["ApiError", "LocalWorkspace", "Principal", "Settings", "WorkspaceState", "api_error"]
