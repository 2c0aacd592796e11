"""What the identity routes need of the workspace they serve (the app's state provides it)."""

from __future__ import annotations

from typing import Protocol

from lakegate.workspace.identity.principals import Identity, Principal
from lakegate.workspace.store import Store

__all__ = ["IdentityHost"]


class IdentityHost(Protocol):
    """One account with one workspace: its ids and hosts, its admin and its principals."""

    host: str
    account_host: str
    account_id: str
    workspace_id: str
    admin: Principal
    identity: Identity
    store: Store
