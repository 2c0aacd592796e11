"""The workspace's admin settings (`/api/2.0/workspace-conf`), as `w.workspace_conf` uses them.

`GET ?keys=a,b` answers each key's value as a string, or null while it was never set;
`PATCH {"key": "value"}` sets them (workspace admins only), all or none. The keys are the
documented ones; their values are kept in the state store and checked (booleans are "true" or
"false", `maxTokenLifetimeDays` a whole number of days), not acted on.
"""

from __future__ import annotations

import re
from typing import Protocol

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from lakegate.workspace.http import fail, json_body
from lakegate.workspace.identity.principals import Identity
from lakegate.workspace.store import Store

PATH = "/api/2.0/workspace-conf"
_BOOLEAN_KEYS = frozenset(
    {
        "enableTokensConfig", "enableIpAccessLists", "enableResultsDownloading",
        "enableExportNotebook", "enableNotebookTableClipboard", "enableDbfsFileBrowser",
        "enableWebTerminal", "enableWorkspaceFilesystem", "enforceUserIsolation",
        "enableDeprecatedGlobalInitScripts", "enableUploadDataUis", "enableVerboseAuditLogs",
        "storeInteractiveNotebookResultsInCustomerAccount", "enableProjectTypeInWorkspace",
    }
)  # fmt: skip
_NUMBER_KEYS = frozenset({"maxTokenLifetimeDays"})
KEYS = _BOOLEAN_KEYS | _NUMBER_KEYS


class ConfHost(Protocol):
    """What the workspace-conf routes need of the workspace: who calls, and where to keep it."""

    identity: Identity
    store: Store


def routes(ws: ConfHost) -> list[BaseRoute]:
    async def get(request: Request) -> Response:
        await ws.identity.authenticate(request)
        raw = request.query_params.get("keys")
        if not raw or not raw.strip():
            raise fail(
                "INVALID_PARAMETER_VALUE",
                "keys is required: a comma-separated list of settings, e.g. "
                "?keys=enableTokensConfig,maxTokenLifetimeDays.",
            )
        wanted = [k.strip() for k in raw.split(",") if k.strip()]
        _known(wanted)
        return JSONResponse(
            {k: (ws.store.get("workspace_conf", k) or {}).get("value") for k in wanted}
        )

    async def patch(request: Request) -> Response:
        principal = await ws.identity.authenticate(request)
        if not principal.is_admin:
            raise fail("PERMISSION_DENIED", "Only workspace admins can change workspace settings.")
        body = await json_body(request)
        _known(list(body))
        for key, value in body.items():
            _check(key, value)
        for key, value in body.items():  # all checked first: a bad value changes nothing
            ws.store.put("workspace_conf", key, {"value": value})
        return Response(status_code=204)

    return [Route(PATH, get, methods=["GET"]), Route(PATH, patch, methods=["PATCH"])]


def _known(keys: list[str]) -> None:
    unknown = [k for k in keys if k not in KEYS]
    if unknown:
        raise fail(
            "INVALID_PARAMETER_VALUE",
            f"Invalid keys: {unknown}. Known settings: {', '.join(sorted(KEYS))}.",
        )


def _check(key: str, value: object) -> None:
    if not isinstance(value, str):
        raise fail("INVALID_PARAMETER_VALUE", f'The value of {key} must be a string, e.g. "true".')
    if key in _BOOLEAN_KEYS and value not in ("true", "false"):
        raise fail("INVALID_PARAMETER_VALUE", f'{key} must be "true" or "false", not {value!r}.')
    if key in _NUMBER_KEYS and not re.fullmatch(r"\d{0,5}", value):  # "" lifts the limit
        raise fail(
            "INVALID_PARAMETER_VALUE", f"{key} must be a whole number of days, not {value!r}."
        )
