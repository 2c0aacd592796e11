"""LocalWorkspace: the workspace and account servers on loopback, in a background thread."""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import anyio
import uvicorn

from lakegate._serving import TimedH11Protocol
from lakegate.workspace.app import (
    Settings,
    WorkspaceState,
    create_account_app,
    create_workspace_app,
)
from lakegate.workspace.compute.warehouses import delays_from
from lakegate.workspace.faults import TRANSPORT_KEY, FaultPlan, load_plan, parse_plan
from lakegate.workspace.identity.idp import idp as test_idp
from lakegate.workspace.samples.data import SamplesInfo
from lakegate.workspace.samples.tpch import DEFAULT_SCALE, check_scale
from lakegate.workspace.tls import TlsFiles, ensure_tls

T = TypeVar("T")
CREDENTIALS_FILE = "credentials.json"


class ResettableH11Protocol(TimedH11Protocol):
    """uvicorn's h11 protocol with read timeouts, exposing the transport so a fault can reset
    the connection."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        inner = self.app

        async def app(scope: Any, receive: Any, send: Any) -> None:
            scope[TRANSPORT_KEY] = transport
            await inner(scope, receive, send)

        self.app = app


def bind_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio only sets TCP_NODELAY on accepted sockets whose proto
    # says TCP, and without it every response waits ~40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise OSError(exc.errno, f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.set_inheritable(True)
    return sock


def _url(host: str, sock: socket.socket, scheme: str = "http") -> str:
    port = sock.getsockname()[1]
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
    return f"{scheme}://[{shown}]:{port}" if ":" in shown else f"{scheme}://{shown}:{port}"


def write_private_json(path: Path, data: dict[str, Any]) -> None:
    """Write `data` atomically to a file only the owner can read."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(data, out, indent=2)
        out.write("\n")
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


class LocalWorkspace:
    """A local Databricks workspace (and its account host) for tests, demos and development."""

    def __init__(
        self,
        state_dir: str | Path | None = None,
        token_ttl: int = 3600,
        faults: dict[str, Any] | str | Path | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        warehouse_delays: float | dict[str, float] | None = None,
        account_port: int | None = None,
        samples_scale: float = DEFAULT_SCALE,
        tls: bool = False,
        idp: bool = False,
    ) -> None:
        self.tls = tls  # HTTPS with a certificate from the state dir's own CA (see tls.py)
        self.idp = idp  # a test identity provider the account trusts (identity/idp.py)
        self._tls_files: TlsFiles | None = None
        self.samples_scale = check_scale(samples_scale)
        self._own_dir = state_dir is None
        self.state_dir = Path(state_dir) if state_dir is not None else Path()
        self.token_ttl = token_ttl
        self._faults = faults
        self._bind_host = host
        self._port = port
        self._account_port = account_port if account_port is not None else (port + 1 if port else 0)
        self._delays = delays_from(warehouse_delays)
        self.state: WorkspaceState | None = None
        self.credentials: dict[str, str] = {}
        self._servers: list[uvicorn.Server] = []
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._failure: BaseException | None = None

    # -- what tests read ---------------------------------------------------------------------

    @property
    def host(self) -> str:
        return self.credentials["host"]

    @property
    def account_host(self) -> str:
        return self.credentials["account_host"]

    @property
    def account_id(self) -> str:
        return self.credentials["account_id"]

    @property
    def workspace_id(self) -> str:
        return self.credentials["workspace_id"]

    @property
    def requests_log(self) -> Path:
        return self.state_dir / "requests.jsonl"

    @property
    def ca_file(self) -> Path | None:
        """The CA certificate HTTPS clients trust (None when serving plain HTTP)."""
        return self._tls_files.ca if self._tls_files else None

    @property
    def credentials_path(self) -> Path:
        return self.state_dir / CREDENTIALS_FILE

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> LocalWorkspace:
        plan = self._plan(self._faults)
        if self._own_dir:
            self.state_dir = Path(tempfile.mkdtemp(prefix="lakegate-workspace-"))
        self.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        sockets = [
            bind_socket(self._bind_host, self._port),
            bind_socket(self._bind_host, self._account_port),
        ]
        try:
            scheme = "http"
            if self.tls:
                self._tls_files, scheme = ensure_tls(self.state_dir, (self._bind_host,)), "https"
            settings = Settings(
                state_dir=self.state_dir,
                host=_url(self._bind_host, sockets[0], scheme),
                account_host=_url(self._bind_host, sockets[1], scheme),
                token_ttl=self.token_ttl,
                delays=self._delays,
                samples_scale=self.samples_scale,
                idp=self.idp,
            )
            self.state = state = WorkspaceState(settings)
            apps = [create_workspace_app(state), create_account_app(state)]
            state.set_fault_plan(plan)
            self.credentials = self._write_credentials(state)
            self._servers = [uvicorn.Server(self._config(app)) for app in apps]
            self._thread = threading.Thread(
                target=self._run, args=(sockets,), name="lakegate-workspace", daemon=True
            )
            self._thread.start()
            self._wait_started()
        except BaseException:
            for sock in sockets:
                sock.close()
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for server in self._servers:
            server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        if self.state is not None:
            self.state.close()
            self.state = None
        if self._own_dir and self.state_dir != Path():
            shutil.rmtree(self.state_dir, ignore_errors=True)

    def __enter__(self) -> LocalWorkspace:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def __aenter__(self) -> LocalWorkspace:
        return await anyio.to_thread.run_sync(self.start)

    async def __aexit__(self, *exc: object) -> None:
        await anyio.to_thread.run_sync(self.stop)

    def _config(self, app: Any) -> uvicorn.Config:
        tls = self._tls_files
        return uvicorn.Config(
            app,
            http=ResettableH11Protocol,
            ws="none",
            lifespan="off",
            loop="asyncio",
            log_config=None,
            access_log=False,
            server_header=False,
            timeout_graceful_shutdown=2,
            ssl_certfile=str(tls.cert) if tls else None,
            ssl_keyfile=str(tls.key) if tls else None,
        )

    def _run(self, sockets: list[socket.socket]) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            await asyncio.gather(
                *(
                    server.serve(sockets=[sock])
                    for server, sock in zip(self._servers, sockets, strict=True)
                )
            )

        try:
            asyncio.run(main())
        except BaseException as exc:  # reported to the starting thread
            self._failure = exc
        finally:
            for sock in sockets:
                sock.close()

    def _wait_started(self) -> None:
        deadline = time.monotonic() + 15
        while not all(s.started for s in self._servers):
            if self._failure is not None or (self._thread and not self._thread.is_alive()):
                raise RuntimeError(f"the local workspace failed to start: {self._failure!r}")
            if time.monotonic() > deadline:
                raise RuntimeError("the local workspace did not start within 15 s")
            time.sleep(0.002)

    def _write_credentials(self, state: WorkspaceState) -> dict[str, str]:
        """credentials.json (0600); the admin secret is kept across restarts if it still works."""
        admin = state.admin
        secret = None
        if self.credentials_path.exists():
            try:
                old = json.loads(self.credentials_path.read_text())
            except (OSError, ValueError):
                old = {}
            kept = (
                old.get("client_secret") if old.get("client_id") == admin.application_id else None
            )
            if kept and state.identity.matching_secret(admin, kept) is not None:
                secret = kept
        if secret is None:
            live = state.identity.secrets_of(admin.id)
            if len(live) >= 5:
                state.identity.delete_secret(live[0].id)
            _, secret = state.identity.create_secret(admin)
        credentials = {
            "host": state.host,
            "account_host": state.account_host,
            "account_id": state.account_id,
            "workspace_id": state.workspace_id,
            "client_id": admin.application_id,
            "client_secret": secret,
        }
        if self._tls_files is not None:
            credentials["ca_file"] = str(self._tls_files.ca)
        write_private_json(self.credentials_path, credentials)
        return credentials

    # -- test conveniences -------------------------------------------------------------------

    @staticmethod
    def _plan(faults: dict[str, Any] | str | Path | None) -> FaultPlan | None:
        if isinstance(faults, str | Path):
            return load_plan(Path(faults))
        return parse_plan(faults)

    def set_faults(self, faults: dict[str, Any] | None) -> None:
        """Replace the fault plan (same structure as the --faults YAML); None clears it."""
        plan = self._plan(faults)
        self.call(lambda: self._require_state().set_fault_plan(plan))

    def call(self, fn: Callable[[], T | Awaitable[T]]) -> T:
        """Run `fn` on the server's event loop (awaiting it if it returns an awaitable)."""
        if self._loop is None or self._thread is None:
            raise RuntimeError("the local workspace is not running")

        async def run() -> T:
            result = fn()
            if inspect.isawaitable(result):
                return await result
            return result  # type: ignore[return-value]

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout=30)

    def create_service_principal(
        self,
        name: str,
        *,
        admin: bool = False,
        assign: bool = True,
        warehouse_permission: str | dict[str, str] | None = None,
        account_admin: bool = False,
        scopes: list[str] | None = None,
    ) -> dict[str, str]:
        """A new service principal with one OAuth secret: `{id, client_id, client_secret}`.

        `warehouse_permission` is a level granted on every warehouse, or `{warehouse_id: level}`.
        """

        def create() -> dict[str, str]:
            state = self._require_state()
            permissions = ["ADMIN"] if admin else ["USER"] if assign else []
            principal = state.identity.create_principal(
                name, account_admin=account_admin, workspace_permissions=permissions
            )
            _, secret = state.identity.create_secret(principal, scopes=scopes)
            grants = warehouse_permission
            if isinstance(grants, str):
                grants = dict.fromkeys(state.warehouses.ids(), grants)
            for warehouse_id, level in (grants or {}).items():
                state.permissions.grant(
                    "warehouses",
                    warehouse_id,
                    "service_principal_name",
                    principal.application_id,
                    level,
                )
            return {
                "id": principal.id,
                "client_id": principal.application_id,
                "client_secret": secret,
            }

        return self.call(create)

    def create_user(self, user_name: str, *, display_name: str = "") -> dict[str, str]:
        """A user of the account and workspace (SCIM), who signs in through token federation:
        `{id, user_name}`."""

        def create() -> dict[str, str]:
            state = self._require_state()
            found = state.identity.user_named(user_name)
            if found is None:
                found = {"id": str(state.store.next_id("scim_user_id", 6_000_000_000_000_001)),
                         "userName": user_name, "displayName": display_name or user_name,
                         "active": True}  # fmt: skip
                state.store.put("scim_user", found["id"], found)
            return {"id": found["id"], "user_name": user_name}

        return self.call(create)

    def idp_token(self, subject: str, **claims: Any) -> str:
        """An ID token of the test identity provider (`idp=True`) for `subject`; `claims`
        override or add (`audience=`, `lifetime_s=`, `issuer=`, any claim)."""
        if not self.idp:
            raise RuntimeError("Start the workspace with idp=True to mint identity tokens.")
        return test_idp(self._require_state()).mint(subject, **claims)

    def wait_samples(self, timeout_s: float) -> SamplesInfo | None:
        """How the `samples` catalog was made (scale, seconds), or None while it is still being
        generated after `timeout_s`; SqlError if it failed."""
        from lakegate.workspace.sql.statements import service

        engine = service(self._require_state()).engine
        if not engine.samples_ready(timeout_s):
            return None
        engine.wait_ready(0)
        return engine.samples

    def _require_state(self) -> WorkspaceState:
        if self.state is None:
            raise RuntimeError("the local workspace is not running")
        return self.state
