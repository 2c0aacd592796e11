"""The Databricks shortcut's URL rule: what a person pastes (a browser address with a path,
`?o=` and a fragment) becomes the workspace's https origin."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

from lakegate.authconfig import is_loopback

__all__ = ["workspace_url"]

_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?"
_HOST = re.compile(rf"{_LABEL}(\.{_LABEL})*")


def workspace_url(text: str) -> tuple[str, str, str]:
    """(https://host[:port], the Azure workspace id from ?o=, problem) for a typed workspace URL.

    Only the scheme, host and port are kept: a path, query or fragment never reaches a URL."""
    text = text.strip()
    if not text:
        return "", "", "Type the workspace URL, e.g. https://dbc-1234.cloud.databricks.com."
    typed = text
    if "://" not in text:
        text = f"https://{text}"
    parts = urlsplit(text)
    host = parts.hostname or ""
    example = "e.g. https://adb-1234567890123456.7.azuredatabricks.net"
    if parts.scheme not in ("https", "http"):
        return "", "", f"Use an https:// workspace URL, not {parts.scheme}:// ({example})."
    if any(c.isspace() for c in text) or not _HOST.fullmatch(host):
        return "", "", f"“{typed}” is not a workspace URL ({example})."
    try:
        port = parts.port
    except ValueError:
        return "", "", f"The port in “{typed}” is not a valid port number."
    if parts.scheme == "http" and not is_loopback(host):
        return "", "", "Databricks workspaces answer on https only: write https://…"
    if host.lower().startswith(("accounts.", "accounts-dod.")):
        return (
            "",
            "",
            (
                f"{host} is the account console, not a workspace. Open the workspace (Workspaces, "
                "then its URL) and paste the address you see there, e.g. "
                "https://dbc-1234.cloud.databricks.com."
            ),
        )
    url = f"{parts.scheme}://{host}" + (f":{port}" if port else "")
    workspace_id = next((o for o in parse_qs(parts.query).get("o", []) if o.isdigit()), "")
    return url, workspace_id, ""
