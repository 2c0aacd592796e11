"""What `lakegate doctor` says when a step fails: the cause, the fix, what was seen."""

from __future__ import annotations

from typing import Any

from lakegate._transport import Response
from lakegate.databricks.connect import AZURE_DATABRICKS_SCOPE
from lakegate.errors import TokenError
from lakegate.project import OAuth2Auth
from lakegate.secrets import redact

__all__ = [
    "Failed",
    "Warned",
    "api_failure",
    "client_refused",
    "message_of",
    "oauth_error",
    "store_fix",
    "token_failure",
]


class Failed(Exception):
    """A failed step: what is wrong (cause), what to do (fix), and what was seen."""

    def __init__(self, cause: str, fix: str, detail: str = "") -> None:
        super().__init__(cause)
        self.cause, self.fix, self.detail = redact(cause), redact(fix), redact(detail)


class Warned(Failed):
    """A step that passed with a concern (cause and fix): shown, but the diagnosis goes on
    and `doctor` still exits 0."""


def client_refused(refusal: TokenError) -> bool:
    """The token endpoint refused the client (id or secret), not the request."""
    return "invalid_client" in oauth_error(refusal) or refusal.status == 401


def token_failure(
    auth: OAuth2Auth,
    refusal: TokenError,
    summary: str,
    *,
    right_url: str,
    account_accepts: bool | None,
) -> Failed:
    """Why no client-auth mode got a token. `account_accepts`: None when no account was asked."""
    status, error = refusal.status, oauth_error(refusal)
    if status in (404, 405):
        return Failed(
            f"There is no token endpoint at {auth.token_url} (HTTP {status}).",
            f"Set `token_url: {right_url}`.",
            summary,
        )
    if "invalid_scope" in error:
        return Failed(
            f"The token endpoint refuses the scope {auth.scope!r}.",
            f"Use `scope: sql all-apis` (Azure Entra ID: `scope: {AZURE_DATABRICKS_SCOPE}`).",
            summary,
        )
    if not client_refused(refusal):
        return Failed(
            f"The token request failed ({error}).", "Check the connector's auth settings.", summary
        )
    if account_accepts:
        return Failed(
            "The client id and secret are right (the account accepts them), but the "
            "service principal is not assigned to this workspace.",
            "Assign it: account console > Workspaces > (workspace) > Permissions > Add, "
            "or `lakegate databricks setup ... --principal-name <its name>`, which assigns it.",
            summary,
        )
    asked = account_accepts is not None
    also = "" if asked else ", or the service principal is not assigned to it"
    fix = f"Create a new OAuth secret for the service principal and {store_fix(auth)}"
    if not asked:
        fix += (
            " To tell a wrong secret from an unassigned principal, run again with "
            "`--account-host` (e.g. https://accounts.cloud.databricks.com)."
        )
    return Failed(
        f"The workspace refused the client credentials ({error}): the client secret is "
        f"wrong or expired, or the client id is wrong{also}.",
        fix,
        summary,
    )


def api_failure(response: Response, doing: str) -> Failed:
    """A workspace API call that answered, but not with success."""
    message = message_of(response.json_object()) or f"HTTP {response.status_code}"
    if "not assigned" in message:
        return Failed(
            f"The service principal is not assigned to this workspace ({message}).",
            "Assign it in the account console (Workspaces > Permissions) or with "
            "`lakegate databricks setup`.",
        )
    if "scope" in message.lower():
        return Failed(message, "Set `scope: sql all-apis` on the connector.")
    if response.status_code == 401:
        return Failed(
            f"The workspace rejected the token while {doing} ({message}).",
            "The token came from another workspace or account: check `token_url`.",
        )
    return Failed(f"{doing} failed: {message}.", "See the message; retry later if it is 5xx.")


def store_fix(auth: OAuth2Auth) -> str:
    """Where the new secret goes: where the connector reads it from."""
    kind, _, name = (auth.client_secret or "").removeprefix("${").removesuffix("}").partition(":")
    if kind == "env":
        return (
            f"put it in the environment variable the connector reads: export {name}=<the new "
            "secret> (where lakegate and the copilot run); then check client_id."
        )
    if kind == "secret":
        return f"store it: `lakegate secret set {name}` (pipe it in); then check client_id."
    if kind == "databrickscfg":
        profile, _, key = name.rpartition(".")
        return (
            f"put it in profile [{profile}] of ~/.databrickscfg (`{key} = <the new secret>`, or "
            "$DATABRICKS_CONFIG_FILE's file): the connector reads it from there; then check "
            "client_id."
        )
    return (
        "store it with `lakegate secret set NAME` and write `client_secret: ${secret:NAME}`; "
        "then check client_id."
    )


def message_of(body: dict[str, Any]) -> str:
    """`ERROR_CODE: message` of a Databricks error body."""
    parts = [str(body[k]) for k in ("error_code", "message") if body.get(k)]
    return ": ".join(parts)


def oauth_error(refusal: TokenError) -> str:
    """`HTTP 401 invalid_client <description>`, from the token endpoint's refusal."""
    said = refusal.details
    text = " ".join(str(said[k]) for k in ("error", "error_description") if said.get(k))
    return f"HTTP {refusal.status} {text}" if text else f"HTTP {refusal.status}"
