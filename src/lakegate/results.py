"""What a call returns: ActionResult and its redacted RequestSummary, and how responses become data
and errors (Databricks `error_code`/`message` first, HTTP status second)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from lakegate.errors import HTTPStatusError, LakegateError, RemoteError
from lakegate.secrets import redact, redact_data

__all__ = [
    "ActionResult",
    "RequestSummary",
    "Retrying",
    "decode_body",
    "decoded_or_error",
    "response_cap",
    "status_error",
    "too_large_error",
    "unprojectable_text",
]

# Headers whose value is a credential whatever it looks like.
_SECRET_HEADERS = {"authorization", "proxy-authorization", "cookie", "x-api-key", "api-key"}
_SECRET_RESPONSE_HEADERS = {"set-cookie", "www-authenticate", "authorization"}


def shown_response_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Response headers safe to show: cookies masked, every value passed through redaction."""
    return {
        key: "***" if key.lower() in _SECRET_RESPONSE_HEADERS else redact(value)
        for key, value in headers.items()
    }


@dataclass(frozen=True)
class Retrying:
    """A request about to be sent again (the gateway's `on_retry` hears it before the wait):
    what went wrong, how long the wait is, and which attempt comes next."""

    connector: str
    method: str
    host: str
    reason: str  # "HTTP 503", or why the connection failed, in words
    delay_s: float
    attempt: int  # the attempt about to be sent: 2 is the first retry
    max_attempts: int

    def __str__(self) -> str:
        return (
            f"{self.reason} from {self.host}: retrying in {self.delay_s:.1f} s "
            f"(attempt {self.attempt} of at most {self.max_attempts})"
        )


@dataclass
class RequestSummary:
    """The request as sent, safe to show: credentials replaced by `***`."""

    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(
        cls, method: str, url: str, headers: dict[str, str], secret_names: set[str]
    ) -> RequestSummary:
        shown = {}
        for key, value in headers.items():
            if key.lower() in _SECRET_HEADERS or key in secret_names:
                scheme = value.split(" ", 1)[0] if " " in value else ""
                shown[key] = f"{scheme} ***".strip()
            else:
                shown[key] = redact(value)
        if "?" in url and secret_names:
            parts = urlsplit(url)
            pairs = parse_qsl(parts.query, True)
            query = [(k, "***" if k in secret_names else v) for k, v in pairs]
            url = urlunsplit(parts._replace(query=urlencode(query, safe="*")))
        return cls(method, redact(url), shown)

    @property
    def line(self) -> str:
        """`GET https://host/path?query`."""
        return f"{self.method} {self.url}"

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "url": self.url, "headers": dict(self.headers)}


@dataclass
class ActionResult:
    """The outcome of one action call; `error` is set exactly when `ok` is False."""

    ok: bool
    action: str = ""
    status: int | None = None
    data: Any = None
    raw: Any = None
    error: LakegateError | None = None
    elapsed_ms: float = 0.0
    truncated: bool = False
    request: RequestSummary | None = None
    attempts: int = 0
    token_from_cache: bool | None = None
    client_auth_used: str | None = None
    pages: int = 0
    # As received; shown only masked, through `response_headers` (masking costs a few us a call,
    # so it is done only when someone looks).
    _headers: Mapping[str, str] = field(default_factory=dict, repr=False)

    @property
    def response_headers(self) -> dict[str, str]:
        """The answer's headers, safe to show: cookies masked, values redacted."""
        return shown_response_headers(self._headers)

    def to_dict(self) -> dict[str, Any]:
        """Plain, redacted data for `--json`, tool results and audit lines."""
        return {
            "ok": self.ok,
            "action": self.action,
            "status": self.status,
            "data": redact_data(self.data),
            "error": redact_data(self.error.to_dict()) if self.error else None,
            "elapsed_ms": round(self.elapsed_ms, 3),
            "truncated": self.truncated,
            "request": self.request.to_dict() if self.request else None,
            "attempts": self.attempts,
            "token_from_cache": self.token_from_cache,
            "client_auth_used": self.client_auth_used,
            "pages": self.pages,
            "response_headers": self.response_headers,
        }

    def __repr__(self) -> str:
        state = "ok" if self.ok else f"error={self.error!r}"
        return redact(
            f"ActionResult({self.action!r}, {state}, status={self.status}, "
            f"elapsed_ms={self.elapsed_ms:.1f}, attempts={self.attempts})"
        )


def decode_body(content: bytes, content_type: str, truncated: bool) -> Any:
    """JSON as data, XML as JSON-like data, anything else as text (truncated bodies as text)."""
    kind = content_type.split(";", 1)[0].strip().lower()
    text = content.decode(_charset(content_type), errors="replace")
    if truncated or not content:
        return text if content else None
    if kind == "application/json" or kind.endswith("+json"):
        try:
            return json.loads(text)
        except ValueError:
            return text
    if kind in ("application/xml", "text/xml") or kind.endswith("+xml"):
        import xmltodict

        try:
            return xmltodict.parse(text)
        except Exception:  # not XML after all: keep the text
            return text
    if kind == "" and text[:1] in "{[":
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


def decoded_or_error(response: Any) -> Any:
    """A whole (untruncated) response's decoded body; HTTPStatusError on a non-2xx answer."""
    body = decode_body(response.content, response.headers.get("content-type", ""), False)
    if not response.is_success:
        raise status_error(
            response.status_code, response.reason_phrase, body, getattr(response, "attempts", 1)
        )
    return body


def response_cap(action: Any, connector: Any, default: int) -> int:
    """The most response bytes one call may read: the action's setting, the connector's, or
    the gateway's default."""
    return action.max_response_bytes or connector.max_response_bytes or default


def too_large_error(action: str, cap: int, content_length: str | None) -> RemoteError:
    """A response over the cap: the call fails, rather than returning cut-off, invalid data."""
    size = f"{int(content_length):,} bytes" if (content_length or "").isdigit() else ""
    told = f"is {size}, over" if size else "is over"
    return RemoteError(
        f"The response of {action!r} {told} the {cap:,}-byte cap, so it was not read; "
        "cut-off data would not be valid.",
        code="remote.response_too_large",
        hint=f"Ask for less (filters, a smaller page size or limit), or raise the cap: set "
        f"`max_response_bytes` on the action (or its connector) in lakegate.yaml, e.g. "
        f"`max_response_bytes: {_next_power(int(content_length) if size else cap * 4)}`.",
        details={
            "max_response_bytes": cap,
            **({"content_length": int(content_length)} if size else {}),
        },
    )


def unprojectable_text(action: str, output: str, text: str) -> Any:
    """Text a projection must apply to: its JSON, else a clear failure (never the raw text)."""
    try:
        return json.loads(text)
    except ValueError:
        raise RemoteError(
            f"The response of {action!r} is not JSON, so its output expression {output!r} "
            "cannot apply.",
            code="remote.not_json",
            hint="Remove `output` from the action to get the text as it is, or check that the "
            "API answers JSON (its Content-Type and the request's Accept header).",
        ) from None


def _next_power(n: int) -> int:
    return 1 << (n - 1).bit_length()


def _charset(content_type: str) -> str:
    for part in content_type.split(";")[1:]:
        key, _, value = part.strip().partition("=")
        if key.lower() == "charset" and value:
            return value.strip('"') or "utf-8"
    return "utf-8"


_CODE_HINTS = {
    "PERMISSION_DENIED": "The service principal lacks a permission: grant it (e.g. CAN_USE on "
    "the warehouse) or use another principal.",
    "RESOURCE_DOES_NOT_EXIST": "Check the id or name in the inputs.",
    "NOT_FOUND": "Check the id or name in the inputs.",
    "INVALID_PARAMETER_VALUE": "Fix the inputs: the server rejected a value.",
    "BAD_REQUEST": "Fix the inputs: the server rejected the request.",
    "INVALID_STATE": "The resource is not in a state that allows this; check it and retry.",
    "RESOURCE_ALREADY_EXISTS": "Use another name, or update the existing resource.",
    "REQUEST_LIMIT_EXCEEDED": "Rate limited: slow down and try again later.",
    "TEMPORARILY_UNAVAILABLE": "The service is briefly unavailable; try again.",
    "UNAUTHENTICATED": "The credentials were rejected: check them with `lakegate doctor`.",
}
_STATUS_HINTS = {
    400: "Fix the inputs: the server rejected the request.",
    401: "The credentials were rejected: check them with `lakegate doctor`.",
    403: "The principal is not allowed to do this: grant the permission or use another one.",
    404: "Check the action's path and the ids in the inputs.",
    409: "The resource changed or already exists; check its state.",
    429: "Rate limited: slow down and try again later.",
}


def status_error(status: int, reason: str, body: Any, attempts: int = 1) -> HTTPStatusError:
    """An error for a non-2xx answer: Databricks' own `error_code` and `message`, verbatim,
    and how many times it was asked when retries did not help."""
    error_code = message = None
    if isinstance(body, dict):
        error_code = body.get("error_code") or (
            body.get("error") if isinstance(body.get("error"), str) else None
        )
        message = body.get("message") or body.get("error_description") or body.get("detail")
    if error_code or message:
        text = ": ".join(str(p) for p in (error_code, message) if p)
    else:
        snippet = body if isinstance(body, str) else json.dumps(body) if body else ""
        text = f"HTTP {status} {reason}".strip() + (f": {snippet[:500]}" if snippet else "")
    scope_hint = (
        "The token lacks an OAuth scope this API needs: set `scope: sql all-apis` on the "
        "connector (and allow it on the service principal's OAuth secret)."
        if "scope" in str(message or "").lower() and status in (401, 403)
        else ""
    )
    hint = (
        scope_hint
        or _CODE_HINTS.get(str(error_code or ""))
        or _STATUS_HINTS.get(status)
        or ("The server failed; try again later." if status >= 500 else "")
    )
    details: dict[str, Any] = {}
    if attempts > 1 and (status >= 500 or status == 429):
        text += f" (after {attempts} attempts, retried with backoff)"
        details["attempts"] = attempts
    if error_code:
        details["error_code"] = redact(str(error_code))
    if message:
        details["message"] = redact(str(message))
    return HTTPStatusError(redact(text), hint=hint, status=status, details=details)
