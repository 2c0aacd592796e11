"""`POST /sql/1.0/warehouses/{id}`: one TCLIService call per HTTP request, binary protocol.

Authentication and warehouse access are HTTP-level, as on Databricks: a refusal is an HTTP
status with the reason in the headers the SQL connector reads. Anything that goes wrong inside
a call is a TStatus error in the reply, which clients raise as a DatabaseError.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from thrift.protocol.TBinaryProtocol import TBinaryProtocolAccelerated
from thrift.protocol.TProtocol import TProtocolException
from thrift.Thrift import TApplicationException, TMessageType
from thrift.transport.TTransport import TMemoryBuffer, TTransportException

from lakegate.workspace.http import ApiError
from lakegate.workspace.sql.thrift import tcli
from lakegate.workspace.sql.thrift.rowsets import failed
from lakegate.workspace.sql.thrift.service import HandleError, ThriftService
from lakegate.workspace.sql.translate import SqlError

if TYPE_CHECKING:
    from lakegate.workspace.state import WorkspaceState

log = logging.getLogger(__name__)
MEDIA_TYPE = "application/x-thrift"
_UNPRINTABLE = re.compile(r"[^\x20-\x7e]")


class ThriftEndpoint:
    """Decodes a call, checks who may make it, runs it on the ThriftService, encodes the reply."""

    def __init__(self, ws: WorkspaceState) -> None:
        self.ws = ws
        self.service = ThriftService(ws)
        ws.closers.append(self.service.close)

    async def __call__(self, request: Request) -> Response:
        warehouse_id = request.path_params["id"]
        try:
            principal = await self.ws.identity.authenticate(request, scope="sql")
            self.ws.warehouses.live(warehouse_id)
            self.ws.permissions.check(principal, "warehouses", warehouse_id, "CAN_USE")
        except ApiError as exc:
            return refusal(exc)
        try:
            name, seqid, req = decode(await request.body())
        except (TProtocolException, TTransportException, EOFError, ValueError) as exc:
            return refusal(ApiError(400, "MALFORMED_REQUEST", f"Not a Thrift call: {exc}"))
        if name not in tcli.REQUESTS:
            return _reply(unknown_method(name, seqid))
        try:
            reply = await getattr(self.service, name)(principal, warehouse_id, req)
        except HandleError as exc:
            reply = tcli.REPLIES[name](status=failed(str(exc), invalid_handle=True))
        except SqlError as exc:
            reply = tcli.REPLIES[name](status=failed(exc.message, exc.sql_state))
        except ApiError as exc:
            reply = tcli.REPLIES[name](status=failed(exc.message))
        return _reply(encode(name, seqid, reply))


def decode(payload: bytes) -> tuple[str, int, Any]:
    """`(method, seqid, request)`; the request is None for a method this server does not serve."""
    proto = TBinaryProtocolAccelerated(TMemoryBuffer(payload))
    name, kind, seqid = proto.readMessageBegin()
    if kind not in (TMessageType.CALL, TMessageType.ONEWAY):
        raise ValueError(f"message type {kind} is not a call")
    if name not in tcli.ARGS:
        return name, seqid, None
    args = tcli.ARGS[name]()
    args.read(proto)
    proto.readMessageEnd()
    return name, seqid, args.req


def encode(name: str, seqid: int, reply: Any) -> bytes:
    out = TMemoryBuffer()
    proto = TBinaryProtocolAccelerated(out)
    proto.writeMessageBegin(name, TMessageType.REPLY, seqid)
    tcli.RESULTS[name](success=reply).write(proto)
    proto.writeMessageEnd()
    return out.getvalue()


def unknown_method(name: str, seqid: int) -> bytes:
    out = TMemoryBuffer()
    proto = TBinaryProtocolAccelerated(out)
    proto.writeMessageBegin(name, TMessageType.EXCEPTION, seqid)
    message = f"The local workspace does not serve the TCLIService method {name!r}."
    TApplicationException(TApplicationException.UNKNOWN_METHOD, message).write(proto)
    proto.writeMessageEnd()
    return out.getvalue()


def _reply(payload: bytes) -> Response:
    return Response(payload, media_type=MEDIA_TYPE)


def refusal(exc: ApiError) -> Response:
    """An HTTP-level refusal; the connector puts the reason header in its RequestError."""
    response = exc.response()
    if "x-databricks-reason-phrase" not in response.headers:
        reason = _UNPRINTABLE.sub("?", exc.message)
        response.headers["x-databricks-error-or-redirect-message"] = reason
    return response
