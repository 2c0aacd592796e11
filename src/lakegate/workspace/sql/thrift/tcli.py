"""The subset of TCLIService (Hive's Thrift SQL service, with Databricks' extensions) that the
SQL connector, ODBC and JDBC drivers use, declared as field tables from the public IDL.

Thrift's binary protocol is keyed by field id, so a subset is wire compatible: fields a client
sends that are not declared here are skipped, and replies carry only the fields declared.
The `thrift` runtime (and its C accelerator) does the encoding from these tables.
"""

from __future__ import annotations

from typing import Any

from thrift.protocol.TBase import TBase
from thrift.Thrift import TType
from thrift.TRecursive import fix_spec

# -- enums -----------------------------------------------------------------------------------

SUCCESS_STATUS, ERROR_STATUS, INVALID_HANDLE_STATUS = 0, 3, 4
PROTOCOL_V7, PROTOCOL_V8 = 0xA507, 0xA508  # SPARK_CLI_SERVICE_PROTOCOL_V7 / V8

# TOperationState
INITIALIZED, RUNNING, FINISHED, CANCELED, CLOSED, ERROR, PENDING = 0, 1, 2, 3, 4, 5, 7
# TOperationType
EXECUTE_STATEMENT, GET_TYPE_INFO, GET_CATALOGS, GET_SCHEMAS, GET_TABLES = 0, 1, 2, 3, 4
GET_TABLE_TYPES, GET_COLUMNS = 5, 6
# The TGetInfoType values GetInfo answers, worded as a Spark Thrift server words them
INFO = {13: "Spark SQL", 17: "Spark SQL", 18: "3.5.0"}  # SERVER_NAME, DBMS_NAME, DBMS_VER
# TSparkRowSetType
ARROW_BASED_SET, URL_BASED_SET = 0, 3
# TFetchOrientation
FETCH_NEXT, FETCH_FIRST = 0, 4

# TTypeId, by Databricks type name (ColumnInfoTypeName)
TYPE_IDS = {
    "BOOLEAN": 0,
    "BYTE": 1,
    "SHORT": 2,
    "INT": 3,
    "LONG": 4,
    "FLOAT": 5,
    "DOUBLE": 6,
    "STRING": 7,
    "TIMESTAMP": 8,
    "BINARY": 9,
    "ARRAY": 10,
    "MAP": 11,
    "STRUCT": 12,
    "DECIMAL": 15,
    "NULL": 7,  # a VOID column (SELECT NULL) is a STRING over Thrift, as Databricks types it
    "DATE": 17,
    "CHAR": 19,
    "INTERVAL": 21,
}


# -- declaring structs -----------------------------------------------------------------------


class Struct(TBase):
    """A Thrift struct whose fields are its `__slots__`; unset fields are None."""

    __slots__ = ()
    thrift_spec: tuple[Any, ...] = ()

    def __init__(self, **values: Any) -> None:
        for name in self.__slots__:
            setattr(self, name, values.pop(name, None))
        if values:
            raise TypeError(f"{type(self).__name__} has no field(s) {sorted(values)}")


_ALL: list[type[Struct]] = []
STR, BIN = (TType.STRING, "UTF8"), (TType.STRING, "BINARY")
BOOL, I16, I32, I64, DOUBLE = (
    (TType.BOOL, None),
    (TType.I16, None),
    (TType.I32, None),
    (TType.I64, None),
    (TType.DOUBLE, None),
)
STR_MAP = (TType.MAP, (TType.STRING, "UTF8", TType.STRING, "UTF8", False))


def ref(cls: type[Struct]) -> tuple[int, list[Any]]:
    return (TType.STRUCT, [cls, None])


def list_of(item: tuple[int, Any]) -> tuple[int, tuple[Any, ...]]:
    return (TType.LIST, (item[0], item[1], False))


def map_of(value: tuple[int, Any]) -> tuple[int, tuple[Any, ...]]:
    return (TType.MAP, (TType.STRING, "UTF8", value[0], value[1], False))


def struct(name: str, fields: dict[int, tuple[str, tuple[int, Any]]]) -> type[Struct]:
    """A struct class from `{field id: (name, (ttype, type args))}`."""
    spec: list[Any] = [None] * (max(fields, default=0) + 1)
    for fid, (field_name, (ttype, args)) in fields.items():
        spec[fid] = (fid, ttype, field_name, args, None)
    names = tuple(field_name for field_name, _ in fields.values())
    cls = type(name, (Struct,), {"__slots__": names, "thrift_spec": tuple(spec)})
    _ALL.append(cls)
    return cls


# -- handles and status ----------------------------------------------------------------------

THandleIdentifier = struct("THandleIdentifier", {1: ("guid", BIN), 2: ("secret", BIN)})
TSessionHandle = struct(
    "TSessionHandle",
    {1: ("sessionId", ref(THandleIdentifier)), 3329: ("serverProtocolVersion", I32)},
)
TOperationHandle = struct(
    "TOperationHandle",
    {
        1: ("operationId", ref(THandleIdentifier)),
        2: ("operationType", I32),
        3: ("hasResultSet", BOOL),
        4: ("modifiedRowCount", DOUBLE),
    },
)
TStatus = struct(
    "TStatus",
    {
        1: ("statusCode", I32),
        2: ("infoMessages", list_of(STR)),
        3: ("sqlState", STR),
        4: ("errorCode", I32),
        5: ("errorMessage", STR),
        6: ("displayMessage", STR),
        1281: ("errorDetailsJson", STR),
    },
)
TNamespace = struct("TNamespace", {1: ("catalogName", STR), 2: ("schemaName", STR)})
TSparkGetDirectResults = struct(
    "TSparkGetDirectResults", {1: ("maxRows", I64), 2: ("maxBytes", I64)}
)

# -- sessions --------------------------------------------------------------------------------

TOpenSessionReq = struct(
    "TOpenSessionReq",
    {
        1: ("client_protocol", I32),
        2: ("username", STR),
        4: ("configuration", STR_MAP),
        1282: ("client_protocol_i64", I64),
        1284: ("initialNamespace", ref(TNamespace)),
        1285: ("canUseMultipleCatalogs", BOOL),
    },
)
TOpenSessionResp = struct(
    "TOpenSessionResp",
    {
        1: ("status", ref(TStatus)),
        2: ("serverProtocolVersion", I32),
        3: ("sessionHandle", ref(TSessionHandle)),
        4: ("configuration", STR_MAP),
        1284: ("initialNamespace", ref(TNamespace)),
        1285: ("canUseMultipleCatalogs", BOOL),
    },
)
TCloseSessionReq = struct("TCloseSessionReq", {1: ("sessionHandle", ref(TSessionHandle))})
TGetInfoReq = struct(
    "TGetInfoReq", {1: ("sessionHandle", ref(TSessionHandle)), 2: ("infoType", I32)}
)
TGetInfoValue = struct("TGetInfoValue", {1: ("stringValue", STR), 4: ("integerFlag", I32)})
TGetInfoResp = struct(
    "TGetInfoResp", {1: ("status", ref(TStatus)), 2: ("infoValue", ref(TGetInfoValue))}
)
TStatusResp = struct("TStatusResp", {1: ("status", ref(TStatus))})  # Close/Cancel replies

# -- result schema and rows ------------------------------------------------------------------

TTypeQualifierValue = struct("TTypeQualifierValue", {1: ("i32Value", I32), 2: ("stringValue", STR)})
TTypeQualifiers = struct("TTypeQualifiers", {1: ("qualifiers", map_of(ref(TTypeQualifierValue)))})
TPrimitiveTypeEntry = struct(
    "TPrimitiveTypeEntry", {1: ("type", I32), 2: ("typeQualifiers", ref(TTypeQualifiers))}
)
TTypeEntry = struct("TTypeEntry", {1: ("primitiveEntry", ref(TPrimitiveTypeEntry))})
TTypeDesc = struct("TTypeDesc", {1: ("types", list_of(ref(TTypeEntry)))})
TColumnDesc = struct(
    "TColumnDesc",
    {
        1: ("columnName", STR),
        2: ("typeDesc", ref(TTypeDesc)),
        3: ("position", I32),
        4: ("comment", STR),
    },
)
TTableSchema = struct("TTableSchema", {1: ("columns", list_of(ref(TColumnDesc)))})
TRow = struct("TRow", {})  # row-based sets are never sent; `rows` is required, so always []
TSparkArrowBatch = struct("TSparkArrowBatch", {1: ("batch", BIN), 2: ("rowCount", I64)})
TSparkArrowResultLink = struct(
    "TSparkArrowResultLink",
    {
        1: ("fileLink", STR),
        2: ("expiryTime", I64),
        3: ("startRowOffset", I64),
        4: ("rowCount", I64),
        5: ("bytesNum", I64),
        6: ("httpHeaders", STR_MAP),
    },
)
TRowSet = struct(
    "TRowSet",
    {
        1: ("startRowOffset", I64),
        2: ("rows", list_of(ref(TRow))),
        1281: ("arrowBatches", list_of(ref(TSparkArrowBatch))),
        1282: ("resultLinks", list_of(ref(TSparkArrowResultLink))),
    },
)

# -- operations ------------------------------------------------------------------------------

TSparkParameterValue = struct(
    "TSparkParameterValue",
    {1: ("stringValue", STR), 2: ("doubleValue", DOUBLE), 3: ("booleanValue", BOOL)},
)
# One element of an ARRAY or MAP parameter; its own `arguments` nest (ARRAY<MAP<...>>).
TSparkParameterValueArg = struct(
    "TSparkParameterValueArg",
    {1: ("type", STR), 2: ("value", STR), 3: ("arguments", list_of(ref(Struct)))},
)
TSparkParameterValueArg.thrift_spec = (
    *TSparkParameterValueArg.thrift_spec[:3],
    (3, TType.LIST, "arguments", (TType.STRUCT, [TSparkParameterValueArg, None], False), None),
)
TSparkParameter = struct(
    "TSparkParameter",
    {
        1: ("ordinal", I32),
        2: ("name", STR),
        3: ("type", STR),
        4: ("value", ref(TSparkParameterValue)),
        5: ("arguments", list_of(ref(TSparkParameterValueArg))),
    },
)
TSparkArrowTypes = struct(
    "TSparkArrowTypes",
    {
        1: ("timestampAsArrow", BOOL),
        2: ("decimalAsArrow", BOOL),
        3: ("complexTypesAsArrow", BOOL),
        4: ("intervalTypesAsArrow", BOOL),
        5: ("nullTypeAsArrow", BOOL),
    },
)
TExecuteStatementReq = struct(
    "TExecuteStatementReq",
    {
        1: ("sessionHandle", ref(TSessionHandle)),
        2: ("statement", STR),
        3: ("confOverlay", STR_MAP),
        4: ("runAsync", BOOL),
        5: ("queryTimeout", I64),
        1281: ("getDirectResults", ref(TSparkGetDirectResults)),
        1282: ("canReadArrowResult", BOOL),
        1283: ("canDownloadResult", BOOL),
        1284: ("canDecompressLZ4Result", BOOL),
        1286: ("useArrowNativeTypes", ref(TSparkArrowTypes)),
        1287: ("resultRowLimit", I64),
        1288: ("parameters", list_of(ref(TSparkParameter))),
    },
)
_META_REQ = {
    1: ("sessionHandle", ref(TSessionHandle)),
    1281: ("getDirectResults", ref(TSparkGetDirectResults)),
    1282: ("runAsync", BOOL),
}
TGetCatalogsReq = struct("TGetCatalogsReq", _META_REQ)
TGetTableTypesReq = struct("TGetTableTypesReq", _META_REQ)
TGetTypeInfoReq = struct("TGetTypeInfoReq", _META_REQ)
TGetSchemasReq = struct(
    "TGetSchemasReq", {**_META_REQ, 2: ("catalogName", STR), 3: ("schemaName", STR)}
)
TGetTablesReq = struct(
    "TGetTablesReq",
    {
        **_META_REQ,
        2: ("catalogName", STR),
        3: ("schemaName", STR),
        4: ("tableName", STR),
        5: ("tableTypes", list_of(STR)),
    },
)
TGetColumnsReq = struct(
    "TGetColumnsReq",
    {
        **_META_REQ,
        2: ("catalogName", STR),
        3: ("schemaName", STR),
        4: ("tableName", STR),
        5: ("columnName", STR),
    },
)
_BY_HANDLE = {1: ("operationHandle", ref(TOperationHandle))}
TGetOperationStatusReq = struct("TGetOperationStatusReq", _BY_HANDLE)
TGetResultSetMetadataReq = struct("TGetResultSetMetadataReq", _BY_HANDLE)
TCancelOperationReq = struct("TCancelOperationReq", _BY_HANDLE)
TCloseOperationReq = struct("TCloseOperationReq", _BY_HANDLE)
TGetOperationStatusResp = struct(
    "TGetOperationStatusResp",
    {
        1: ("status", ref(TStatus)),
        2: ("operationState", I32),
        3: ("sqlState", STR),
        4: ("errorCode", I32),
        5: ("errorMessage", STR),
        7: ("operationStarted", I64),
        8: ("operationCompleted", I64),
        9: ("hasResultSet", BOOL),
        11: ("numModifiedRows", I64),
        1281: ("displayMessage", STR),
        1282: ("diagnosticInfo", STR),
    },
)
TGetResultSetMetadataResp = struct(
    "TGetResultSetMetadataResp",
    {
        1: ("status", ref(TStatus)),
        2: ("schema", ref(TTableSchema)),
        1281: ("resultFormat", I32),
        1282: ("lz4Compressed", BOOL),
        1283: ("arrowSchema", BIN),
        1287: ("isStagingOperation", BOOL),
    },
)
TFetchResultsReq = struct(
    "TFetchResultsReq",
    {
        1: ("operationHandle", ref(TOperationHandle)),
        2: ("orientation", I32),
        3: ("maxRows", I64),
        4: ("fetchType", I16),
        1281: ("maxBytes", I64),
        1282: ("startRowOffset", I64),
        1283: ("includeResultSetMetadata", BOOL),
    },
)
TFetchResultsResp = struct(
    "TFetchResultsResp",
    {
        1: ("status", ref(TStatus)),
        2: ("hasMoreRows", BOOL),
        3: ("results", ref(TRowSet)),
        1281: ("resultSetMetadata", ref(TGetResultSetMetadataResp)),
    },
)
TSparkDirectResults = struct(
    "TSparkDirectResults",
    {
        1: ("operationStatus", ref(TGetOperationStatusResp)),
        2: ("resultSetMetadata", ref(TGetResultSetMetadataResp)),
        3: ("resultSet", ref(TFetchResultsResp)),
        4: ("closeOperation", ref(TStatusResp)),
    },
)
# ExecuteStatement and every Get* metadata call answer with this shape.
TOperationResp = struct(
    "TOperationResp",
    {
        1: ("status", ref(TStatus)),
        2: ("operationHandle", ref(TOperationHandle)),
        1281: ("directResults", ref(TSparkDirectResults)),
    },
)

# Request type of each TCLIService method served; every reply is a struct starting with status.
REQUESTS: dict[str, type[Struct]] = {
    "OpenSession": TOpenSessionReq,
    "CloseSession": TCloseSessionReq,
    "GetInfo": TGetInfoReq,
    "ExecuteStatement": TExecuteStatementReq,
    "GetOperationStatus": TGetOperationStatusReq,
    "GetResultSetMetadata": TGetResultSetMetadataReq,
    "FetchResults": TFetchResultsReq,
    "CancelOperation": TCancelOperationReq,
    "CloseOperation": TCloseOperationReq,
    "GetCatalogs": TGetCatalogsReq,
    "GetSchemas": TGetSchemasReq,
    "GetTables": TGetTablesReq,
    "GetColumns": TGetColumnsReq,
    "GetTypeInfo": TGetTypeInfoReq,
    "GetTableTypes": TGetTableTypesReq,
}

# The reply struct of each method; every one starts with `status`, so any can carry an error.
REPLIES: dict[str, type[Struct]] = {
    "OpenSession": TOpenSessionResp,
    "CloseSession": TStatusResp,
    "GetInfo": TGetInfoResp,
    "ExecuteStatement": TOperationResp,
    "GetOperationStatus": TGetOperationStatusResp,
    "GetResultSetMetadata": TGetResultSetMetadataResp,
    "FetchResults": TFetchResultsResp,
    "CancelOperation": TStatusResp,
    "CloseOperation": TStatusResp,
    "GetCatalogs": TOperationResp,
    "GetSchemas": TOperationResp,
    "GetTables": TOperationResp,
    "GetColumns": TOperationResp,
    "GetTypeInfo": TOperationResp,
    "GetTableTypes": TOperationResp,
}
# The envelopes: `<Method>_args` holds the request as field 1, `<Method>_result` the reply as 0.
ARGS = {name: struct(f"{name}_args", {1: ("req", ref(cls))}) for name, cls in REQUESTS.items()}
RESULTS = {
    name: struct(f"{name}_result", {0: ("success", ref(cls))}) for name, cls in REPLIES.items()
}

fix_spec(_ALL)
