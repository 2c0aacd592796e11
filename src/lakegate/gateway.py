"""The gateway: render an action, authenticate, send, retry what is safe, map the response.

One transport (a keep-alive pool, `_transport.py`) per gateway and one authenticator per
connector, created on first use and shared by every concurrent call. Every front (CLI, copilot
server, Studio) calls actions through here.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jmespath

from lakegate._exchange import Exchange, Runtime, Trace, exchange, user_agent
from lakegate._transport import HttpClient, Response, Transport, to_transport
from lakegate.auth import build_authenticator
from lakegate.errors import LakegateError, NotFoundError
from lakegate.handlers import (
    DEFAULT_BUDGET_S,
    HANDLER_MAX_BYTES,
    ActionContext,
    Progress,
    handler,
    handlers,
    lookup,
)
from lakegate.project import Action, Connector, Project, load_project
from lakegate.render import render, resolve_inputs, url_for
from lakegate.results import (
    ActionResult,
    RequestSummary,
    Retrying,
    decode_body,
    response_cap,
    status_error,
    too_large_error,
    unprojectable_text,
)
from lakegate.secrets import MemorySecretStore, SecretStore

__all__ = [
    "DEFAULT_BUDGET_S",
    "DEFAULT_MAX_BYTES",
    "ActionContext",
    "ActionResult",
    "Gateway",
    "RequestSummary",
    "Retrying",
    "SyncGateway",
    "handler",
    "handlers",
]

DEFAULT_MAX_BYTES = 1024 * 1024


class Gateway:
    """Calls a project's actions. Use as `async with Gateway.from_file(path) as gw:`."""

    def __init__(
        self,
        project: Project,
        *,
        secret_store: SecretStore | None = None,
        transport: Transport | Any = None,
        budget_s: float = DEFAULT_BUDGET_S,
        max_response_bytes: int = DEFAULT_MAX_BYTES,
        on_retry: Callable[[Retrying], None] | None = None,
    ) -> None:
        self.project = project
        self.on_retry = on_retry  # told before each retry's wait (a CLI shows it live)
        self.secret_store = secret_store or SecretStore(project.state_dir)
        self.budget_s = budget_s
        self.max_response_bytes = max_response_bytes
        self._given_transport = transport  # None (aiohttp), an httpx transport, or a Transport
        self._transport: Transport | None = None
        self._runtimes: dict[str, Runtime] = {}
        self._plain: HttpClient | None = None
        self._cleanups: set[asyncio.Task[str | None]] = set()
        # What the clean-up of cancelled calls did ("statement X was canceled on the server"):
        # the latest few, for a front to print (a long-running server keeps no more).
        self.cancel_notes: collections.deque[str] = collections.deque(maxlen=_KEPT_NOTES)

    def __repr__(self) -> str:
        return f"Gateway(project={str(self.project.path)!r})"

    @classmethod
    def from_file(cls, path: str | Path, **kwargs: Any) -> Gateway:
        """A gateway over the project file at `path`."""
        return cls(load_project(path), **kwargs)

    @classmethod
    def over(
        cls, connectors: list[Connector], *, secrets: dict[str, str] | None = None, **kwargs: Any
    ) -> Gateway:
        """A gateway over connectors held in memory, their `${secret:NAME}` references read
        from `secrets` (setup's account admin): no project file, nothing written."""
        project = Project.new(Path("<in-memory>"))
        for connector in connectors:
            project.set_connector(connector.name, connector)
        return cls(project, secret_store=MemorySecretStore(secrets), **kwargs)

    async def __aenter__(self) -> Gateway:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close every connection and token source, once the clean-up of cancelled calls (a
        statement cancel on its way) has finished or had `_CLEANUP_BUDGET_S`."""
        if self._cleanups:
            await asyncio.wait(set(self._cleanups), timeout=_CLEANUP_BUDGET_S)
        runtimes, self._runtimes = list(self._runtimes.values()), {}
        for runtime in runtimes:
            await runtime.authenticator.aclose()
        transport, self._transport, self._plain = self._transport, None, None
        if transport is not None:
            await transport.aclose()

    @property
    def transport(self) -> Transport:
        """The HTTP transport every request of this gateway goes through (tokens too)."""
        if self._transport is None:
            self._transport = to_transport(self._given_transport)
        return self._transport

    def connector(self, name: str) -> Connector:
        return self.project.connector(name)

    def actions(self) -> list[Action]:
        """The project's actions, in file order."""
        return list(self.project.actions.values())

    def runtime(self, connector: str | Connector) -> Runtime:
        """The connector's client and authenticator (created on first use)."""
        conn = self.connector(connector) if isinstance(connector, str) else connector
        found = self._runtimes.get(conn.name)
        if found is None or found.connector is not conn:
            auth = build_authenticator(conn, self.secret_store, self.plain_http())
            found = self._runtimes[conn.name] = Runtime.create(conn, auth, self.transport)
            found.on_retry = self.on_retry
        return found

    async def call(
        self,
        name: str,
        inputs: dict[str, Any] | None = None,
        *,
        caller: dict[str, Any] | None = None,
        progress: Progress | None = None,
        deadline_s: float | None = None,
    ) -> ActionResult:
        """Call an action. Failures come back as `ok=False` with `error`, never raised."""
        started = time.monotonic()
        deadline = started + min(deadline_s or self.budget_s, self.budget_s)
        result = ActionResult(ok=False, action=name)
        trace = Trace()
        try:
            action = self.project.action(name)
            connector = self.connector(action.connector)
            values = resolve_inputs(action, connector, dict(inputs or {}))
            if action.handler:
                ctx = ActionContext(self, connector, action, values, caller, progress, deadline)
                ctx._trace = trace
                await self._run_handler(result, ctx)
            else:
                await self._run_http(result, connector, action, values, deadline, trace)
        except LakegateError as exc:
            result.ok, result.error = False, exc
        except TimeoutError:
            from lakegate.errors import TransportError

            result.ok = False
            result.error = TransportError(
                f"Action {name!r} did not finish within its deadline.",
                code="request.timeout",
                hint="Raise `timeout_s` on the action, or narrow the request.",
            )
        result.status = trace.status
        result.request = trace.summary
        result.attempts = trace.attempts
        result.truncated = trace.truncated
        result.token_from_cache = trace.token_from_cache
        result.client_auth_used = trace.client_auth_used
        result._headers = trace.response_headers
        result.elapsed_ms = (time.monotonic() - started) * 1000
        return result

    async def test(
        self, name: str, inputs: dict[str, Any] | None = None, **kwargs: Any
    ) -> ActionResult:
        """The Test button: `call` with each missing input taken from its `example`."""
        given = dict(inputs or {})
        action = self.project.actions.get(name)
        if action is not None:
            for key, spec in action.inputs.items():
                if given.get(key) is None and spec.example is not None:
                    given[key] = spec.example
        return await self.call(name, given, **kwargs)

    async def _run_http(
        self,
        result: ActionResult,
        connector: Connector,
        action: Action,
        values: dict[str, Any],
        deadline: float,
        trace: Trace,
    ) -> None:
        pagination, raw, page_token = action.pagination, None, None
        while True:
            page_values = dict(values)
            request = render(connector, action, page_values)
            if page_token is not None and pagination is not None:
                _set_page_token(request, pagination.request_param, page_token)
            found = await self._exchange(
                connector,
                request.method,
                request.url,
                params=request.params,
                headers=request.headers,
                json_body=request.json,
                has_body=request.has_body,
                idempotent=action.is_idempotent,
                timeout_s=action.timeout_s,
                auth=True,
                deadline=deadline,
                max_bytes=response_cap(action, connector, self.max_response_bytes),
                trace=trace,
            )
            body = decode_body(found.body, found.headers.get("content-type", ""), found.truncated)
            if not 200 <= found.status < 300:
                raise status_error(found.status, found.reason, body, found.attempts)
            if found.truncated:
                cap = response_cap(action, connector, self.max_response_bytes)
                raise too_large_error(action.name, cap, found.headers.get("content-length"))
            result.pages += 1
            raw = body if raw is None else _merge_pages(raw, body, pagination)
            page_token = _next_token(body, pagination) if pagination else None
            if not page_token or found.truncated or result.pages >= pagination.max_pages:
                break
        result.raw = raw
        result.data = _project(action, raw)
        result.ok = True

    async def _run_handler(self, result: ActionResult, ctx: ActionContext) -> None:
        action = ctx.action
        fn = lookup(action.handler or "")
        if fn is None:
            raise NotFoundError(
                f"Action {action.name!r} uses handler {action.handler!r}, which is not registered.",
                hint=f"Registered handlers: {', '.join(sorted(handlers())) or 'none'}.",
            )
        remaining = max(ctx.deadline - time.monotonic(), 0)
        raw = await asyncio.wait_for(fn(ctx, ctx.inputs), remaining)
        result.raw = raw
        result.data = _project(action, raw)
        result.ok = True

    async def request(
        self,
        connector: str | Connector,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | list[tuple[str, Any]] | None = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
        idempotent: bool | None = None,
        timeout_s: float = 30.0,
        auth: bool = True,
        deadline_s: float | None = None,
    ) -> Response:
        """One request on a connector outside any action (setup, connect, doctor), with an
        action's credentials, token refresh, safe retries and URL guards; any status.

        `connector` may be one this gateway's project does not hold (an account API, a host
        being discovered): its secrets are looked up in the gateway's secret store.
        """
        conn = self.connector(connector) if isinstance(connector, str) else connector
        return await self.send(
            conn,
            method,
            path,
            params=params,
            json=json,
            headers=headers,
            idempotent=idempotent,
            timeout_s=timeout_s,
            auth=auth,
            deadline=time.monotonic() + min(deadline_s or self.budget_s, self.budget_s),
            trace=Trace(),
            what=f"{method} {path}",
        )

    async def send(
        self,
        connector: Connector,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | list[tuple[str, Any]] | None,
        json: Any,
        headers: dict[str, str] | None,
        idempotent: bool | None,
        timeout_s: float,
        auth: bool,
        deadline: float,
        trace: Trace,
        what: str,
    ) -> Response:
        """The one path of `request` and of `ActionContext.send` (the gateway is the handlers'
        `Sender`); a cut-off 2xx body is an error named after `what`, never handed on as data."""
        method = method.upper()
        if idempotent is None:
            idempotent = method in ("GET", "HEAD", "OPTIONS")
        found = await self._exchange(
            connector,
            method,
            url_for(connector, path),
            params=_pairs(params),
            headers=dict(headers or {}),
            json_body=json,
            has_body=json is not None,
            idempotent=idempotent,
            timeout_s=timeout_s,
            auth=auth,
            deadline=deadline,
            max_bytes=HANDLER_MAX_BYTES,
            trace=trace,
        )
        if found.truncated and 200 <= found.status < 300:
            raise too_large_error(what, HANDLER_MAX_BYTES, None)
        return found.response()

    async def _exchange(self, connector: Connector, method: str, url: str, **kw: Any) -> Exchange:
        runtime = self.runtime(connector)
        return await exchange(runtime, method, url, **kw)

    def on_cancel(self, work: Any) -> None:
        """See `Sender.on_cancel`."""
        task: asyncio.Task[str | None] = asyncio.ensure_future(work)
        self._cleanups.add(task)
        task.add_done_callback(self._cleaned_up)

    def _cleaned_up(self, task: asyncio.Task[str | None]) -> None:
        self._cleanups.discard(task)
        if not task.cancelled() and task.exception() is None and task.result():
            self.cancel_notes.append(str(task.result()))

    def plain_http(self) -> HttpClient:
        """A client without credentials on the gateway's transport (tokens, presigned links)."""
        if self._plain is None:
            self._plain = HttpClient(self.transport, headers={"User-Agent": user_agent(None)})
        return self._plain


class SyncGateway:
    """The gateway for scripts and notebooks: the same calls, without `async`.

    `with SyncGateway.from_file("lakegate.yaml") as gw: gw.call("list_warehouses").data`. The
    gateway runs on an event loop of its own in a background thread, so its token cache and
    connections live across calls, and it works where a loop already runs (Jupyter). Ctrl-C in
    a call cancels it as a cancelled `Gateway.call` would (a running statement is cancelled).
    """

    def __init__(self, project: Project | Gateway, **kwargs: Any) -> None:
        self.gateway = project if isinstance(project, Gateway) else Gateway(project, **kwargs)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._calls: set[asyncio.Task[Any]] = set()  # touched on the loop's thread only

    def __repr__(self) -> str:
        return f"SyncGateway(project={str(self.gateway.project.path)!r})"

    @classmethod
    def from_file(cls, path: str | Path, **kwargs: Any) -> SyncGateway:
        """A gateway over the project file at `path`."""
        return cls(load_project(path), **kwargs)

    def __enter__(self) -> SyncGateway:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def call(self, name: str, inputs: dict[str, Any] | None = None, **kwargs: Any) -> ActionResult:
        """`Gateway.call`: failures come back as `ok=False` with `error`, never raised."""
        return self._run(self.gateway.call(name, inputs, **kwargs))

    def test(self, name: str, inputs: dict[str, Any] | None = None, **kwargs: Any) -> ActionResult:
        """`Gateway.test`: the Test button, missing inputs taken from their examples."""
        return self._run(self.gateway.test(name, inputs, **kwargs))

    def actions(self) -> list[Action]:
        """The project's actions, in file order."""
        return self.gateway.actions()

    def close(self) -> None:
        """Close connections and token sources, and stop the background loop."""
        with self._lock:
            loop, thread, self._loop, self._thread = self._loop, self._thread, None, None
        if loop is None or thread is None:
            return
        asyncio.run_coroutine_threadsafe(self._aclose(), loop).result()
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()

    async def _aclose(self) -> None:
        if self._calls:  # a call cancelled by Ctrl-C registers its clean-up as it unwinds
            await asyncio.wait(set(self._calls), timeout=_CLEANUP_BUDGET_S)
        await self.gateway.aclose()

    async def _tracked(self, coroutine: Any) -> Any:
        task = asyncio.current_task()
        assert task is not None
        self._calls.add(task)
        try:
            return await coroutine
        finally:
            self._calls.discard(task)

    def _run(self, coroutine: Any) -> Any:
        with self._lock:
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
                self._thread = threading.Thread(
                    target=self._loop.run_forever, name="lakegate-gateway", daemon=True
                )
                self._thread.start()
            loop = self._loop
        future = asyncio.run_coroutine_threadsafe(self._tracked(coroutine), loop)
        try:
            return future.result()
        except KeyboardInterrupt:
            # The call is cancelled on the loop; its clean-up (a statement's cancel on the
            # server) runs there, and `close` waits for it.
            future.cancel()
            raise


_KEPT_NOTES = 32
# How long closing a gateway waits for the clean-up of cancelled calls (a statement's cancel).
_CLEANUP_BUDGET_S = 10.0


def _project(action: Action, raw: Any) -> Any:
    if action.output is None or raw is None:
        return raw
    if isinstance(raw, str):  # a projection is never skipped silently: JSON sent as text is fine
        raw = unprojectable_text(action.name, action.output, raw)
    return _compiled(action.output).search(raw)


@functools.lru_cache(maxsize=512)
def _compiled(expression: str) -> Any:
    """A parsed JMESPath expression, kept: parsing is a third of a small call's CPU."""
    return jmespath.compile(expression)


def _pairs(params: dict[str, Any] | list[tuple[str, Any]] | None) -> list[tuple[str, str]]:
    if not params:
        return []
    items = params.items() if isinstance(params, dict) else params
    out: list[tuple[str, str]] = []
    for key, value in items:
        if value is None:
            continue
        for item in value if isinstance(value, list | tuple) else [value]:
            out.append((key, "true" if item is True else "false" if item is False else str(item)))
    return out


def _set_page_token(request: Any, param: str, token: str) -> None:
    if request.method in ("GET", "HEAD", "DELETE") or not isinstance(request.json, dict):
        request.params = [(k, v) for k, v in request.params if k != param] + [(param, token)]
    else:
        request.json = {**request.json, param: token}


def _next_token(body: Any, pagination: Any) -> str | None:
    if not isinstance(body, dict):
        return None
    token = body.get(pagination.response_field)
    return str(token) if token not in (None, "") else None


def _merge_pages(merged: Any, page: Any, pagination: Any) -> Any:
    """Lists of the next page appended to the first page's lists; other keys from the last page."""
    if not isinstance(merged, dict) or not isinstance(page, dict):
        return merged
    out = dict(merged)
    for key, value in page.items():
        mergeable = pagination.items is None or key == pagination.items
        if mergeable and isinstance(value, list) and isinstance(out.get(key), list):
            out[key] = out[key] + value
        elif not (mergeable and isinstance(value, list)) or key not in out:
            out[key] = value
    if pagination.response_field not in page:
        out.pop(pagination.response_field, None)
    return out
