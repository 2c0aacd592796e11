"""Code handlers: the registry of named handlers and the context each call hands them.

An action declaring `handler: databricks.execute_sql` runs that function instead of a templated
request; the function sends its own requests through `ActionContext.send`, which goes through
the gateway's exchange (credentials, token refresh, safe retries, guards).
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from lakegate._exchange import Trace
from lakegate._transport import HttpClient, Response
from lakegate.project import Action, Connector
from lakegate.results import decoded_or_error

__all__ = [
    "BUILTIN_PACKS",
    "DEFAULT_BUDGET_S",
    "HANDLER_MAX_BYTES",
    "ActionContext",
    "Handler",
    "Progress",
    "Sender",
    "handler",
    "handlers",
    "lookup",
]

DEFAULT_BUDGET_S = 60.0
HANDLER_MAX_BYTES = 64 * 1024 * 1024  # what a code handler may read in one response

Progress = Callable[[float, float | None, str], Awaitable[None]]
Handler = Callable[["ActionContext", dict[str, Any]], Awaitable[Any]]
_HANDLERS: dict[str, Handler] = {}
# The packs shipped with lakegate: a handler name's prefix -> the module whose `load_handler`
# imports the code registering it (imported on a handler's first call, so `list_warehouses`
# does not load the SQL guard). A pack outside lakegate registers with `@handler` on import.
BUILTIN_PACKS = {"databricks": "lakegate.databricks.handlers"}


def handler(name: str) -> Callable[[Handler], Handler]:
    """Register a code handler for actions declaring `handler: name`."""

    def register(fn: Handler) -> Handler:
        _HANDLERS[name] = fn
        return fn

    return register


def handlers() -> dict[str, Handler]:
    """Every registered code handler, by name."""
    return dict(_HANDLERS)


class Sender(Protocol):
    """What a handler's requests go through: the gateway's exchange, and a plain client."""

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
        """One request on `connector` (auth, refresh, safe retries, guards); any status."""
        ...

    def plain_http(self) -> HttpClient:
        """A client without credentials (token requests, presigned links)."""
        ...

    def on_cancel(self, work: Awaitable[str | None]) -> None:
        """The clean-up of a cancelled call (a statement to cancel on the server): it runs in
        the background, the gateway waits for it (bounded) before it closes, and what it says
        it did is kept for the front to print."""
        ...


@dataclass
class ActionContext:
    """What a code handler gets: the call's connector, action, inputs, caller and deadline."""

    sender: Sender
    connector: Connector
    action: Action
    inputs: dict[str, Any]
    caller: dict[str, Any] | None = None
    progress: Progress | None = None
    deadline: float = field(default_factory=lambda: time.monotonic() + DEFAULT_BUDGET_S)
    _trace: Trace = field(default_factory=Trace, repr=False)

    async def send(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | list[tuple[str, Any]] | None = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
        idempotent: bool | None = None,
        timeout_s: float | None = None,
        auth: bool = True,
    ) -> Response:
        """One request on the connector (auth, refresh, safe retries, guards); any status."""
        return await self.sender.send(
            self.connector,
            method,
            path,
            params=params,
            json=json,
            headers=headers,
            idempotent=idempotent,
            timeout_s=timeout_s or self.action.timeout_s,
            auth=auth,
            deadline=self.deadline,
            trace=self._trace,
            what=self.action.name,
        )

    def on_cancel(self, work: Awaitable[str | None]) -> None:
        """See `Sender.on_cancel`."""
        self.sender.on_cancel(work)

    async def json(self, method: str, path: str, **kwargs: Any) -> Any:
        """Like `send`, but the decoded JSON; HTTPStatusError on a non-2xx answer."""
        return decoded_or_error(await self.send(method, path, **kwargs))

    @property
    def http(self) -> HttpClient:
        """A plain client WITHOUT credentials (for presigned external links)."""
        return self.sender.plain_http()


def lookup(name: str) -> Handler | None:
    """The handler registered as `name`, importing the built-in pack module that defines it."""
    if name not in _HANDLERS:
        _load_builtin(name)
    return _HANDLERS.get(name)


def _load_builtin(name: str) -> None:
    """Import the built-in pack's module that registers `name` (`databricks.execute_sql`)."""
    module = BUILTIN_PACKS.get(name.split(".", 1)[0])
    if module is not None:
        # The pack says which of its modules defines `name`: a call imports only that one.
        importlib.import_module(module).load_handler(name)
