"""`lakegate doctor`: a step-by-step diagnosis of a connector, each failure with cause and fix.

base URL -> TCP/TLS reach -> OIDC discovery -> token (both client-auth modes) -> scopes ->
list_warehouses -> visibility -> SELECT 1 -> least privilege (a warning when the principal is a
workspace admin or can write where the copilot is pinned) -> secret expiry. Connectors that are
not Databricks get the generic steps (base URL, reach, credentials, one read action).

    steps = await diagnose(project, "databricks")
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from lakegate._wire import failure_reason, reach_hint
from lakegate.authconfig import is_loopback
from lakegate.databricks.doctor_checks import Checks, Failed, Warned
from lakegate.gateway import Gateway
from lakegate.project import Connector, OAuth2Auth, Project
from lakegate.secrets import SecretStore

__all__ = ["Step", "diagnose"]

_REACH_TIMEOUT_S = 5.0


@dataclass
class Step:
    """One diagnosis step: passed, failed (with cause and fix) or skipped."""

    name: str
    status: str  # "passed", "warning" (passed, with a concern), "failed" or "skipped"
    ms: float = 0.0
    detail: str = ""
    cause: str = ""
    fix: str = ""

    @property
    def ok(self) -> bool:
        return self.status != "failed"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "ok": self.ok,
            "ms": round(self.ms, 1),
            "detail": self.detail,
            "cause": self.cause,
            "fix": self.fix,
        }


async def diagnose(
    project: Project,
    connector_name: str,
    *,
    secret_store: SecretStore | None = None,
    transport: Any = None,
    account_host: str | None = None,
) -> list[Step]:
    """Diagnose `connector_name` step by step; stops at the first failure (the rest skipped).

    Every HTTP request goes through one Gateway (its exchange and token sources).
    """
    connector = project.connector(connector_name)
    store = secret_store or SecretStore(project.state_dir)
    async with Gateway(project, secret_store=store, transport=transport) as gw:
        checks = Checks(connector, gw, account_host)
        steps = await _run(
            [
                ("base URL is https (or loopback)", lambda: _base_url(connector)),
                ("TCP/TLS reach", lambda: _reach(connector, transport)),
            ]
        )
        # Which plan follows depends on the host's discovery document: asked only of a host
        # that may be asked (https or loopback) and can be reached.
        databricks = await checks.is_databricks(probe=all(s.ok for s in steps))
        plan: list[tuple[str, Callable[[], Awaitable[str]]]]
        if databricks:
            plan = [
                ("OIDC discovery", checks.discovery),
                ("token request", checks.token),
                ("granted scopes", checks.scopes),
                ("list_warehouses", checks.list_warehouses),
                ("warehouse visibility", checks.visibility),
                ("SELECT 1 on the pinned warehouse", checks.select_one),
                ("least privilege", checks.least_privilege),
                ("secret expiry", checks.secret_expiry),
            ]
        else:
            plan = [
                ("credentials" if not isinstance(connector.auth, OAuth2Auth) else "token request",
                 checks.credentials),
                ("a read action", checks.read_action),
            ]  # fmt: skip
        return await _run(plan, steps)


async def _run(
    plan: list[tuple[str, Callable[[], Awaitable[str]]]], steps: list[Step] | None = None
) -> list[Step]:
    """Run `plan` after `steps` (already run); after a failure the rest are skipped."""
    steps = list(steps or [])
    failed = any(s.status == "failed" for s in steps)
    for name, check in plan:
        if failed:
            steps.append(Step(name, "skipped", detail="skipped: an earlier step failed"))
            continue
        started = time.monotonic()
        try:
            detail = await check()
            status = "skipped" if detail.startswith("skipped") else "passed"
            steps.append(Step(name, status, _ms(started), detail=detail))
        except Warned as exc:
            steps.append(Step(name, "warning", _ms(started), exc.detail, exc.cause, exc.fix))
        except Failed as exc:
            failed = True
            steps.append(Step(name, "failed", _ms(started), exc.detail, exc.cause, exc.fix))
    return steps


def _ms(started: float) -> float:
    return (time.monotonic() - started) * 1000


async def _base_url(connector: Connector) -> str:
    parts = urlsplit(connector.base_url)
    if parts.scheme == "https":
        return f"{parts.scheme}://{parts.netloc}"
    if is_loopback(parts.hostname or ""):
        return f"{parts.netloc} is loopback: plain http is acceptable here"
    raise Failed(
        "The base URL uses plain http on a non-loopback host: tokens would cross the network "
        "unencrypted.",
        "Use https:// in base_url (Databricks workspaces are always https).",
        connector.base_url,
    )


async def _reach(connector: Connector, transport: Any) -> str:
    parts = urlsplit(connector.base_url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    if transport is not None:
        return "skipped: a custom transport is in use"
    context = ssl.create_default_context() if parts.scheme == "https" else None
    try:
        _, writer = await asyncio.wait_for(
            asyncio.open_connection(
                host, port, ssl=context, server_hostname=host if context else None
            ),
            _REACH_TIMEOUT_S,
        )
    except ssl.SSLError as exc:
        raise Failed(
            f"TLS with {host}:{port} failed ({exc.reason or exc}).",
            "A proxy may intercept TLS: set SSL_CERT_FILE to its CA bundle, or check the host.",
        ) from None
    except TimeoutError:
        raise Failed(
            f"No answer from {host}:{port} within {_REACH_TIMEOUT_S:.0f} s.",
            "Check VPN, firewall or proxy settings, and the workspace's IP access list.",
        ) from None
    except OSError as exc:
        reason = failure_reason(exc)
        raise Failed(
            f"Cannot connect to {host}:{port}: {reason}.",
            reach_hint(f"{parts.scheme}://{parts.netloc}", reason, "base_url"),
        ) from None
    writer.close()
    return f"{host}:{port} reachable" + (" over TLS" if context else "")
