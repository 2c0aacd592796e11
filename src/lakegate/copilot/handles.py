"""Signed statement handles: how a stateless replica knows "a statement this server started".

In `serve --http --stateless` no replica remembers anything between requests, so the
`statement_id` a copilot gets back is wrapped: `lgs1.<statement_id>.<expires>.<mac>`, an HMAC
over the id and its expiry with a key kept in the secret store (every replica reads the same
store). A replica opens a handle it is given; a forged or expired one is refused. Every answer
carrying the statement hands out a fresh handle, so a client that keeps polling keeps it alive.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from typing import Any

from lakegate.errors import PolicyError
from lakegate.secrets import SecretStore

__all__ = ["KEY_SECRET", "PREFIX", "HandleSigner", "signing_key"]

KEY_SECRET = "lakegate_handle_key"  # noqa: S105 - the secret's name in the store
PREFIX = "lgs1."
_HANDLE_FIELDS = ("statement_id",)


def signing_key(store: SecretStore) -> bytes:
    """The replicas' shared HMAC key, created in the secret store on first use."""
    stored = store.get(KEY_SECRET) or store.setdefault(KEY_SECRET, secrets.token_urlsafe(32))
    return stored.encode()


class HandleSigner:
    """Wraps statement ids into expiring signed handles and opens them again."""

    def __init__(self, key: bytes, ttl_s: float, *, clock: Callable[[], float] = time.time) -> None:
        self._key = key
        self.ttl_s = ttl_s
        self._clock = clock

    def __repr__(self) -> str:
        return f"HandleSigner(ttl_s={self.ttl_s:g}, key='***')"

    def seal(self, statement_id: str) -> str:
        expires = str(int(self._clock() + self.ttl_s))
        return f"{PREFIX}{statement_id}.{expires}.{self._mac(statement_id, expires)}"

    def open(self, handle: Any) -> str:
        """The statement id inside `handle`; PolicyError when it is forged or expired."""
        if not isinstance(handle, str) or not handle.startswith(PREFIX):
            raise _refused("is not a statement handle this server issued")
        body, _, mac = handle[len(PREFIX) :].rpartition(".")
        statement_id, _, expires = body.rpartition(".")
        if (
            not statement_id
            or not expires.isdigit()
            or not hmac.compare_digest(mac, self._mac(statement_id, expires))
        ):
            raise _refused("was not issued by this server (its signature does not match)")
        if int(expires) < self._clock():
            raise PolicyError(
                "This statement handle expired: nobody polled it for "
                f"{self.ttl_s / 60:g} minutes, so the statement was cancelled.",
                code="policy.handle_expired",
                hint="Run the statement again with execute_sql.",
            )
        return statement_id

    def open_arguments(self, arguments: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
        """`arguments` with a handle in `statement_id` opened, and the id (None if absent)."""
        handle = arguments.get("statement_id")
        if handle is None:
            return arguments, None
        statement_id = self.open(handle)
        return {**arguments, "statement_id": statement_id}, statement_id

    def seal_text(self, text: str, statement_id: str) -> str:
        """`text` with every mention of `statement_id` replaced by a fresh handle."""
        return text.replace(statement_id, self.seal(statement_id))

    def seal_data(self, data: Any, statement_id: str) -> Any:
        """A copy of an answer's data with `statement_id` fields (at any depth) sealed."""
        handle = self.seal(statement_id)

        def walk(value: Any) -> Any:
            if isinstance(value, dict):
                return {
                    k: handle if k in _HANDLE_FIELDS and v == statement_id else walk(v)
                    for k, v in value.items()
                }
            if isinstance(value, list):
                return [walk(v) for v in value]
            return value

        return walk(data)

    def _mac(self, statement_id: str, expires: str) -> str:
        digest = hmac.new(self._key, f"{statement_id}.{expires}".encode(), hashlib.sha256)
        return base64.urlsafe_b64encode(digest.digest()[:18]).decode().rstrip("=")


def _refused(why: str) -> PolicyError:
    return PolicyError(
        f"The statement_id {why}.",
        code="policy.bad_handle",
        hint="Pass the statement_id exactly as execute_sql or get_statement returned it.",
    )
