"""External links: HMAC-signed, expiring URLs on the workspace server that behave like cloud
storage presigned URLs (no Authorization header allowed, S3-style XML errors)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import AsyncIterator

import lz4.frame as lz4_frame
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

    def url(self, ident: str, index: int, expires: float, *, lz4: bool = False) -> str:
        """A signed link to one chunk; `lz4`: the download is LZ4-frame compressed (a Thrift
        client that can decompress asked for it), and the signature covers that."""
        stamp = str(int(expires))
        compressed = "&X-Compression=lz4" if lz4 else ""
        return (
            f"{self.host}{STORAGE}/{ident}/chunks/{index}?X-Expires={stamp}{compressed}"
            f"&X-Signature={self._sign(ident, index, stamp, lz4)}"
        )

    def _sign(self, ident: str, index: int, stamp: str, lz4: bool = False) -> str:
        message = f"{ident}/{index}/{stamp}{'/lz4' if lz4 else ''}".encode()
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
        lz4 = request.query_params.get("X-Compression") == "lz4"
        if not stamp.isdigit() or not hmac.compare_digest(
            signature, self._sign(ident, index, stamp, lz4)
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


def stream(chunk: Chunk, media_type: str, *, lz4: bool = False) -> Response:
    """The chunk in pieces of a few MB, so asyncio never memmoves one huge write buffer;
    `lz4`: compressed whole (a chunk holds a few MB), unless it was stored compressed."""
    if lz4 and chunk.uncompressed is None:
        body = lz4_frame.compress(b"".join(bytes(piece) for piece in chunk.pieces()))
        return Response(body, media_type=media_type)

    async def pieces() -> AsyncIterator[bytes | memoryview]:
        for piece in chunk.pieces():
            yield piece

    return StreamingResponse(
        pieces(), media_type=media_type, headers={"content-length": str(chunk.wire_bytes)}
    )
