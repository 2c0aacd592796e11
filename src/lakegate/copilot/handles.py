"""Signed statement handles: how a stateless replica knows "a statement this server started".

In `serve --http --stateless` no replica remembers anything between requests, so the
`statement_id` a copilot gets back is wrapped: `lgs2.<statement_id>.<expires>.<who>.<mac>`, an
HMAC over the id, its expiry and its owner with a key kept in the secret store (every replica
reads the same store). `who` is a keyed fingerprint of the person who started the statement (the
OAuth caller; `-` without one), so a handle opens only for its owner: bob cannot poll, fetch or
cancel alice's statement with her handle, and the fingerprint does not reveal her name. A
forged or expired handle is refused. Every answer carrying the statement hands out a fresh
handle, so a client that keeps polling keeps it alive.
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
PREFIX = "lgs2."
_NOBODY = "-"  # the owner of a statement started without an OAuth caller
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

    def seal(self, statement_id: str, user: str | None = None) -> str:
        """A handle for `statement_id`, started by `user` (None: no OAuth caller)."""
        expires, who = str(int(self._clock() + self.ttl_s)), self._who(user)
        return f"{PREFIX}{statement_id}.{expires}.{who}.{self._mac(statement_id, expires, who)}"

    def open(self, handle: Any, user: str | None = None) -> str:
        """The statement id inside `handle`; PolicyError when it is forged, expired or was
        sealed for someone other than `user`."""
        if not isinstance(handle, str) or not handle.startswith(PREFIX):
            raise _refused("is not a statement handle this server issued")
        body, _, mac = handle[len(PREFIX) :].rpartition(".")
        body, _, who = body.rpartition(".")
        statement_id, _, expires = body.rpartition(".")
        if (
            not statement_id
            or not expires.isdigit()
            or not hmac.compare_digest(mac, self._mac(statement_id, expires, who))
        ):
            raise _refused("was not issued by this server (its signature does not match)")
        if not hmac.compare_digest(who, self._who(user)):
            raise PolicyError(
                "This statement was started by someone else; only they can read or cancel it.",
                code="policy.not_yours",
                hint="Pass a statement_id that execute_sql returned to you.",
            )
        if int(expires) < self._clock():
            raise PolicyError(
                "This statement handle expired: nobody polled it for "
                f"{self.ttl_s / 60:g} minutes, so the statement was cancelled.",
                code="policy.handle_expired",
                hint="Run the statement again with execute_sql.",
            )
        return statement_id

    def open_arguments(
        self, arguments: dict[str, Any], user: str | None = None
    ) -> tuple[dict[str, Any], str | None]:
        """`arguments` with a handle in `statement_id` opened, and the id (None if absent)."""
        handle = arguments.get("statement_id")
        if handle is None:
            return arguments, None
        statement_id = self.open(handle, user)
        return {**arguments, "statement_id": statement_id}, statement_id

    def seal_text(self, text: str, statement_id: str, user: str | None = None) -> str:
        """`text` with every mention of `statement_id` replaced by a fresh handle."""
        return text.replace(statement_id, self.seal(statement_id, user))

    def seal_data(self, data: Any, statement_id: str, user: str | None = None) -> Any:
        """A copy of an answer's data with `statement_id` fields (at any depth) sealed."""
        handle = self.seal(statement_id, user)

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

    def _mac(self, statement_id: str, expires: str, who: str) -> str:
        return self._digest(f"{statement_id}.{expires}.{who}", 18)

    def _who(self, user: str | None) -> str:
        """The owner's fingerprint: keyed, so a handle does not tell whose it is."""
        return self._digest(f"who:{user.casefold()}", 9) if user else _NOBODY

    def _digest(self, text: str, size: int) -> str:
        digest = hmac.new(self._key, text.encode(), hashlib.sha256).digest()[:size]
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _refused(why: str) -> PolicyError:
    return PolicyError(
        f"The statement_id {why}.",
        code="policy.bad_handle",
        hint="Pass the statement_id exactly as execute_sql or get_statement returned it.",
    )
