"""Databricks-shaped HTTP errors and request parsing shared by every workspace route."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

# Databricks' error codes and the HTTP status each one travels with.
STATUS_OF: dict[str, int] = {
    "INVALID_PARAMETER_VALUE": 400,
    "MALFORMED_REQUEST": 400,
    "INVALID_STATE": 400,
    "BAD_REQUEST": 400,
    "UNAUTHENTICATED": 401,
    "PERMISSION_DENIED": 403,
    "RESOURCE_DOES_NOT_EXIST": 404,
    "ENDPOINT_NOT_FOUND": 404,
    "RESOURCE_ALREADY_EXISTS": 409,
    "RESOURCE_CONFLICT": 409,
    "REQUEST_LIMIT_EXCEEDED": 429,
    "INTERNAL_ERROR": 500,
    "TEMPORARILY_UNAVAILABLE": 503,
}


class ApiError(Exception):
    """Raised inside a route; the app turns it into `{"error_code", "message"}`."""

    def __init__(
        self,
        status: int,
        error_code: str | int,
        message: str,
        *,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code
        self.message = message
        self.headers = headers or {}

    def response(self) -> JSONResponse:
        return api_error(self.status, self.error_code, self.message, headers=self.headers)


def api_error(
    status: int,
    error_code: str | int,
    message: str,
    *,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """A Databricks-shaped error response: `{"error_code": ..., "message": ...}`."""
    return JSONResponse({"error_code": error_code, "message": message}, status, headers=headers)


def fail(error_code: str, message: str) -> ApiError:
    """An ApiError with the status Databricks pairs with `error_code`."""
    return ApiError(STATUS_OF.get(error_code, 400), error_code, message)


def not_found(kind: str, ident: str) -> ApiError:
    return fail("RESOURCE_DOES_NOT_EXIST", f"{kind} {ident} does not exist.")


async def json_body(request: Request, *, required: bool = True) -> dict[str, Any]:
    """The request's JSON object; malformed or non-object bodies are a 400, never a 500."""
    raw = await request.body()
    if not raw.strip():
        if required:
            raise fail("MALFORMED_REQUEST", "The request body is empty; send a JSON object.")
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise fail(
            "MALFORMED_REQUEST", f"Could not parse the request body as JSON: {exc}"
        ) from None
    except RecursionError:
        raise fail(
            "MALFORMED_REQUEST", "Could not parse the request body as JSON: it nests too deeply."
        ) from None
    if not isinstance(body, dict):
        raise fail("MALFORMED_REQUEST", "The request body must be a JSON object.")
    return body


def field(
    body: dict[str, Any], name: str, kind: type | tuple[type, ...], *, default: Any = None
) -> Any:
    """`body[name]` if it has the right JSON type, else a clear INVALID_PARAMETER_VALUE."""
    if name not in body or body[name] is None:
        return default
    value = body[name]
    # bool is an int in Python, but not in JSON.
    bad_bool = isinstance(value, bool) and bool not in (
        kind if isinstance(kind, tuple) else (kind,)
    )
    if bad_bool or not isinstance(value, kind):
        expected = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
        raise fail(
            "INVALID_PARAMETER_VALUE",
            f"Field '{name}' must be of type {_json_type(expected)}, got {json.dumps(value)[:60]}.",
        )
    return value


def required_field(body: dict[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    value = field(body, name, kind)
    if value is None or value == "":
        raise fail("INVALID_PARAMETER_VALUE", f"Missing required field: {name}")
    return value


def int_param(request: Request, name: str, *, default: int, low: int = 0, high: int = 10**6) -> int:
    """An integer query parameter within [low, high]."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise fail(
            "INVALID_PARAMETER_VALUE", f"Query parameter '{name}' must be an integer."
        ) from None
    if not low <= value <= high:
        raise fail(
            "INVALID_PARAMETER_VALUE", f"Query parameter '{name}' must be in [{low}, {high}]."
        )
    return value


def empty() -> Response:
    """Databricks answers most mutations with `{}`."""
    return JSONResponse({})


def _json_type(python_name: str) -> str:
    names = {
        "str": "string",
        "int": "integer",
        "float": "number",
        "bool": "boolean",
        "list": "array",
        "dict": "object",
    }
    return "/".join(names.get(part, part) for part in python_name.split("/"))
