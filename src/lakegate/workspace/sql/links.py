"""External links: HMAC-signed, expiring URLs on the workspace server that behave like cloud
storage presigned URLs (no Authorization header allowed, S3-style XML errors)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from lakegate.workspace.sql.results import Chunk

STORAGE = "/storage/statements"
MEDIA_TYPES = {
    "JSON_ARRAY": "application/json",
    "ARROW_STREAM": "application/vnd.apache.arrow.stream",
    "CSV": "text/csv",
}


class ResultLinks:
    """Signs and checks chunk URLs; the key is new per process, like short-lived credentials."""

    def __init__(self, host: str) -> None:
        self.host = host
        self._key = secrets.token_bytes(32)

    def url(self, ident: str, index: int, expires: float) -> str:
        stamp = str(int(expires))
        return (
            f"{self.host}{STORAGE}/{ident}/chunks/{index}"
            f"?X-Expires={stamp}&X-Signature={self._sign(ident, index, stamp)}"
        )

    def _sign(self, ident: str, index: int, stamp: str) -> str:
        message = f"{ident}/{index}/{stamp}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def refusal(self, request: Request, ident: str, index: int) -> Response | None:
        """The storage error for this download, or None when it may proceed."""
        stamp = request.query_params.get("X-Expires", "")
        signature = request.query_params.get("X-Signature", "")
        if "authorization" in request.headers:
            return storage_error(
                400,
                "InvalidArgument",
                "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, "
                "Signature query string parameter or the Authorization header should be specified",
            )
        if not stamp.isdigit() or not hmac.compare_digest(
            signature, self._sign(ident, index, stamp)
        ):
            return storage_error(403, "SignatureDoesNotMatch", "The request signature is invalid.")
        if int(stamp) < time.time():
            return storage_error(403, "AccessDenied", "Request has expired")
        return None


def storage_error(status: int, code: str, message: str) -> Response:
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    )
    return Response(xml, status, media_type="application/xml")


def stream(chunk: Chunk, media_type: str) -> StreamingResponse:
    """The chunk in pieces of a few MB, so asyncio never memmoves one huge write buffer."""

    async def pieces() -> AsyncIterator[bytes | memoryview]:
        for piece in chunk.pieces():
            yield piece

    return StreamingResponse(
        pieces(), media_type=media_type, headers={"content-length": str(chunk.wire_bytes)}
    )
