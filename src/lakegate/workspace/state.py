"""The workspace's state: settings, the store and the services every route module shares.

Route modules import `WorkspaceState` from here; app.py imports the route modules, so the
state never imports back up into the app.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from lakegate.workspace.accesslog import AccessLog
from lakegate.workspace.compute import warehouses
from lakegate.workspace.compute.warehouses import Warehouses
from lakegate.workspace.faults import FaultInjector, FaultPlan
from lakegate.workspace.http import api_error
from lakegate.workspace.identity.permissions import Permissions
from lakegate.workspace.identity.principals import Identity, Principal
from lakegate.workspace.store import Store

__all__ = ["ADMIN_NAME", "SEED_WAREHOUSES", "Settings", "WorkspaceState"]

SEED_WAREHOUSES = (("Starter Warehouse", "RUNNING"), ("Shared Endpoint", "STOPPED"))
ADMIN_NAME = "lakegate-admin"


@dataclass
class Settings:
    """How this workspace was started."""

    state_dir: Path
    host: str
    account_host: str
    token_ttl: int = 3600
    delays: dict[str, float] = field(default_factory=warehouses.delays_from)
    samples_scale: float = 0.01  # TPC-H scale factor of samples.tpch
    idp: bool = False  # serve the test identity provider and trust it (identity/idp.py)

    @property
    def data_dir(self) -> Path:
        """Where the SQL engine keeps its DuckDB catalogs."""
        return self.state_dir


class WorkspaceState:
    """One account with one workspace: identity, permissions, warehouses, faults, access log."""

    api_error = staticmethod(api_error)

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.host = settings.host
        self.account_host = settings.account_host
        self.store = Store(settings.state_dir / "state.sqlite")
        self.identity = Identity(self.store, token_ttl=settings.token_ttl)
        self.permissions = Permissions(self.store)
        self.warehouses = Warehouses(self.store, settings.delays, settings.host)
        self.permissions.register(self.warehouses.object_type())
        self.access_log = AccessLog(settings.state_dir / "requests.jsonl")
        self.faults: list[FaultInjector] = []  # one per server, sharing the same plan
        # Services started by route modules (DuckDB engine, jobs) register how to stop; run
        # first on close.
        self.closers: list[Callable[[], None]] = []
        meta = self.store.get("meta", "workspace")
        if meta is None:
            meta = {
                "account_id": str(uuid.uuid4()),
                "workspace_id": str(random.SystemRandom().randrange(10**15, 10**16)),
            }
            self.store.put("meta", "workspace", meta)
        self.account_id: str = meta["account_id"]
        self.workspace_id: str = meta["workspace_id"]
        self.admin = self._seed()

    def _seed(self) -> Principal:
        """The admin service principal and the two seed warehouses, on first start only."""
        meta = self.store.get("meta", "admin")
        if meta is not None:
            admin = self.identity.principal(meta["principal_id"])
            if admin is not None:
                return admin
        admin = self.identity.create_principal(
            ADMIN_NAME, account_admin=True, workspace_permissions=["ADMIN"]
        )
        self.store.put("meta", "admin", {"principal_id": admin.id})
        for name, state in SEED_WAREHOUSES:
            warehouse_id = self.warehouses.create(
                {"name": name, "cluster_size": "2X-Small", "auto_stop_mins": 0},
                admin.application_id,
                state=state,
            )
            self.permissions.grant(
                "warehouses",
                warehouse_id,
                "service_principal_name",
                admin.application_id,
                "IS_OWNER",
            )
        return admin

    def set_fault_plan(self, plan: FaultPlan | None) -> None:
        for injector in self.faults:
            injector.plan = plan

    def close(self) -> None:
        for closer in reversed(self.closers):
            closer()
        self.access_log.close()
        self.store.close()
