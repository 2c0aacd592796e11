"""One exception hierarchy for lakegate. Every error has a stable `code` and a `hint`.

    LakegateError                     (code "lakegate.error")
    ├── ConfigError                   config.*   lakegate.yaml, names, references, usage
    │   ├── SecretError               config.secret_missing, config.secret_store_insecure, ...
    │   └── NotFoundError             config.not_found (unknown connector / action)
    ├── AuthError                     auth.*     getting or using credentials
    │   └── TokenError                auth.token_failed
    ├── RequestError                  request.*  what lakegate refused to send, or could not send
    │   ├── InputError                request.invalid_input
    │   │   └── SqlParseError         sql.parse_error (line, column, token in details)
    │   ├── GuardError                request.blocked (host change, traversal, CR/LF)
    │   └── TransportError            request.connect_failed, request.timeout
    ├── RemoteError                   remote.*   the server answered, and not with success
    │   ├── HTTPStatusError           remote.http_error
    │   └── StatementError            remote.statement_failed, remote.statement_running,
    │                                 remote.statement_canceled, sql.parse_error, sql.not_found
    └── PolicyError                   policy.*   refused by lakegate's own guardrails
        └── ReadOnlyError             policy.read_only

Messages and hints pass through the redactor before they reach anyone: an error can be
printed, logged or returned to a model as it is.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AuthError",
    "ConfigError",
    "GuardError",
    "HTTPStatusError",
    "InputError",
    "LakegateError",
    "NotFoundError",
    "PolicyError",
    "ReadOnlyError",
    "RemoteError",
    "RequestError",
    "SecretError",
    "SqlParseError",
    "SqlTooComplexError",
    "StatementError",
    "TokenError",
    "TransportError",
    "too_complex",
]


class LakegateError(Exception):
    """Base of every error lakegate raises on purpose."""

    code: str = "lakegate.error"
    hint: str = ""

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        hint: str | None = None,
        status: int | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if hint is not None:
            self.hint = hint
        self.status = status
        self.details = dict(details or {})

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r})"

    def to_dict(self) -> dict[str, Any]:
        """The error as plain data, for `--json`, tool errors and audit lines."""
        out: dict[str, Any] = {"code": self.code, "message": self.message, "hint": self.hint}
        if self.status is not None:
            out["status"] = self.status
        if self.details:
            out["details"] = self.details
        return out


class ConfigError(LakegateError):
    code = "config.invalid"
    hint = "Fix lakegate.yaml (or the command's arguments) and try again."


class SecretError(ConfigError):
    code = "config.secret_missing"
    hint = "Set the environment variable, or store the value with `lakegate secret set NAME`."


class NotFoundError(ConfigError):
    code = "config.not_found"
    hint = "List what exists with `lakegate connector list` or `lakegate action list`."


class AuthError(LakegateError):
    code = "auth.failed"
    hint = "Check the connector's credentials with `lakegate doctor`."


class TokenError(AuthError):
    code = "auth.token_failed"


class RequestError(LakegateError):
    code = "request.failed"


class InputError(RequestError):
    code = "request.invalid_input"
    hint = "Pass the inputs the action declares; `lakegate action show ACTION` lists them."


class SqlParseError(InputError):
    """SQL that lakegate's parser cannot read; `details` has its line, column and token."""

    code = "sql.parse_error"
    hint = "Fix the SQL at the line and column named, then run it again."


class SqlTooComplexError(SqlParseError):
    """SQL nested deeper than the parser follows (thousands of parentheses or subqueries)."""

    code = "sql.too_complex"
    hint = (
        "Nest fewer levels: flatten the parentheses, or move nested subqueries into WITH "
        "clauses, then run it again."
    )


def too_complex() -> SqlTooComplexError:
    return SqlTooComplexError(
        "The SQL is nested too deeply to check (the parser ran out of recursion depth)."
    )


class GuardError(RequestError):
    code = "request.blocked"
    hint = "Inputs may not change the host, leave the connector's base path or inject headers."


class TransportError(RequestError):
    code = "request.connect_failed"
    hint = "Check that the base URL is right and the host is reachable from here."


class RemoteError(LakegateError):
    code = "remote.error"


class HTTPStatusError(RemoteError):
    code = "remote.http_error"


class StatementError(RemoteError):
    code = "remote.statement_failed"
    hint = "Fix the SQL statement; the message above is Databricks' own."


class PolicyError(LakegateError):
    code = "policy.refused"
    hint = "The copilot policy in lakegate.yaml does not allow this."


class ReadOnlyError(PolicyError):
    code = "policy.read_only"
    hint = (
        "This connector is read-only: only a single SELECT, WITH ... SELECT, VALUES, SHOW, "
        "DESCRIBE or EXPLAIN may run. Set `read_only: false` on the connector to allow writes."
    )
