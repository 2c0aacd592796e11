"""Validation of a Statement Execution request, with Databricks' 400 messages."""

from __future__ import annotations

import re
from typing import Any

from lakegate.workspace.http import ApiError, fail
from lakegate.workspace.http import field as body_field
from lakegate.workspace.sql.translate import Parameter, check_param_type

FORMATS = ("JSON_ARRAY", "ARROW_STREAM", "CSV")
MAX_STATEMENT_BYTES = 16 * 1024 * 1024
_WAIT = re.compile(r"^(\d+)s$")
# A parameter's name: an identifier, or anything a backticked marker (:`a name`) can spell.
_PARAM_NAME = re.compile(r"^[^`\x00-\x1f\x7f]{1,255}$")


def _invalid(message: str) -> ApiError:
    return fail("INVALID_PARAMETER_VALUE", message)


def validated(
    body: dict[str, Any], *, positional: bool = False
) -> tuple[dict[str, Any], list[Parameter], float, str]:
    """The request's fields, its parameters, the wait in seconds and `on_wait_timeout`.
    `positional`: parameters may come without a name, for `?` markers (the Thrift protocol
    carries them; the REST API names every parameter)."""
    text = body_field(body, "statement", str)
    if not text or not text.strip():
        raise _invalid("statement is required and must not be empty.")
    if len(text.encode()) > MAX_STATEMENT_BYTES:
        raise _invalid("The statement text exceeds the maximum size of 16 MiB.")
    if not body_field(body, "warehouse_id", str):
        raise _invalid("warehouse_id is required.")
    for name in ("catalog", "schema"):
        body_field(body, name, str)
    disposition = body_field(body, "disposition", str, default="INLINE")
    if disposition not in ("INLINE", "EXTERNAL_LINKS"):
        raise _invalid(f"Invalid disposition {disposition!r}; use INLINE or EXTERNAL_LINKS.")
    fmt = body_field(body, "format", str, default="JSON_ARRAY")
    if fmt not in FORMATS:
        raise _invalid(f"Invalid format {fmt!r}; use JSON_ARRAY, ARROW_STREAM or CSV.")
    if disposition == "INLINE" and fmt != "JSON_ARRAY":
        raise _invalid("The format field must be JSON_ARRAY when the disposition field is INLINE.")
    compression = body_field(body, "result_compression", str)
    if compression not in (None, "NONE", "LZ4_FRAME"):
        raise _invalid(f"Invalid result_compression {compression!r}; use LZ4_FRAME or NONE.")
    body_field(body, "session_id", str)
    for name in ("row_limit", "byte_limit"):
        value = body_field(body, name, int)
        if value is not None and value < 0:
            raise _invalid(f"{name} must be a non-negative integer.")
    wait = body_field(body, "wait_timeout", str, default="10s")
    match = _WAIT.match(wait)
    seconds = int(match.group(1)) if match else -1
    if seconds != 0 and not 5 <= seconds <= 50:
        raise _invalid(
            f"wait_timeout {wait!r} is not valid: use 0s (do not wait) or a value between "
            "5s and 50s."
        )
    on_timeout = body_field(body, "on_wait_timeout", str, default="CONTINUE")
    if on_timeout not in ("CONTINUE", "CANCEL"):
        raise _invalid(f"Invalid on_wait_timeout {on_timeout!r}; use CONTINUE or CANCEL.")
    return body, _parameters(body, positional), float(seconds), on_timeout


_COMPLEX = ("ARRAY", "MAP")


def _items(item: dict[str, Any], name: str) -> list[Parameter]:
    """The elements of an ARRAY or MAP parameter (Thrift's `arguments`), validated alike."""
    found: list[Parameter] = []
    arguments = item.get("arguments") or []
    if not isinstance(arguments, list):
        raise _invalid(f"The elements of parameter {name!r} must be a list.")
    for element in arguments:
        kind, value = element.get("type"), element.get("value")
        if isinstance(kind, str) and kind.upper() in _COMPLEX:
            found.append(Parameter("", None, kind.upper(), _items(element, name)))
            continue
        if kind is not None and (not isinstance(kind, str) or not check_param_type(kind)):
            raise _invalid(f"Invalid type {kind!r} in parameter {name!r}.")
        if value is not None and not isinstance(value, str):
            raise _invalid(f"An element of parameter {name!r} must be a string or null.")
        found.append(Parameter("", value, kind))
    if str(item.get("type") or "").upper() == "MAP" and len(found) % 2:
        raise _invalid(f"The MAP parameter {name!r} needs a value for every key.")
    return found


def _parameters(body: dict[str, Any], positional: bool) -> list[Parameter]:
    raw = body_field(body, "parameters", list, default=[])
    params: list[Parameter] = []
    for item in raw:
        if not isinstance(item, dict):
            raise _invalid("Each parameter must be an object with name, value and type.")
        name, value, kind = item.get("name"), item.get("value"), item.get("type")
        if name is None and positional:
            name = ""  # bound to the next `?`, in order
        elif not isinstance(name, str) or not _PARAM_NAME.match(name):
            raise _invalid(
                f"Invalid parameter name {name!r}: give 1 to 255 characters, no control "
                "characters or backticks (write the marker :`name` for a name that is not an "
                "identifier)."
            )
        if value is not None and not isinstance(value, str):
            raise _invalid(f"The value of parameter {name!r} must be a string or null.")
        if positional and isinstance(kind, str) and kind.upper() in _COMPLEX:
            params.append(Parameter(name, None, kind.upper(), _items(item, name)))
            continue
        if kind is not None and (not isinstance(kind, str) or not check_param_type(kind)):
            raise _invalid(f"Invalid type {kind!r} for parameter {name!r}.")
        if name and any(p.name.lower() == name.lower() for p in params):
            raise _invalid(f"Parameter {name!r} is given more than once.")
        params.append(Parameter(name, value, kind))
    return params
