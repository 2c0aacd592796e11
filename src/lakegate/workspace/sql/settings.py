"""`SET` and `RESET`, as a Databricks SQL warehouse answers them.

A SQL warehouse has a short list of configuration parameters (ANSI_MODE, TIMEZONE,
STATEMENT_TIMEOUT, ...); `SET key = value` checks the value and answers the `key`/`value` row,
`SET key` answers the current value, bare `SET` every parameter, `SET TIME ZONE ...` sets
TIMEZONE, and `RESET` answers nothing. Any other key (Spark's `spark.sql.*` confs included) is
`CONFIG_NOT_AVAILABLE`, as on Databricks SQL. The values are checked and echoed; the local
engine applies none of them yet (it always runs in UTC with ANSI semantics where DuckDB has them).
"""

from __future__ import annotations

import re
import zoneinfo

from lakegate.workspace.sql.plan import Plan, SqlError

__all__ = ["DEFAULTS", "translate"]

DEFAULTS = {
    "ANSI_MODE": "true",
    "ENABLE_PHOTON": "true",
    "LEGACY_TIME_PARSER_POLICY": "EXCEPTION",
    "MAX_FILE_PARTITION_BYTES": "128m",
    "READ_ONLY_EXTERNAL_METASTORE": "false",
    "STATEMENT_TIMEOUT": "172800",
    "TIMEZONE": "Etc/UTC",
    "USE_CACHED_RESULT": "true",
}
_BOOLEAN = frozenset({"ANSI_MODE", "ENABLE_PHOTON", "READ_ONLY_EXTERNAL_METASTORE",
                      "USE_CACHED_RESULT"})  # fmt: skip
_SET = re.compile(r"^SET(?:\s+(?P<body>.*))?$", re.I | re.S)
_TIME_ZONE = re.compile(r"^TIME\s+ZONE\s+(?P<zone>.+)$", re.I | re.S)
_ASSIGN = re.compile(r"^(?P<key>[A-Za-z_][\w.]*)\s*(?:=\s*(?P<value>.*))?$", re.S)
_OFFSET = re.compile(r"^[+-](0?\d|1[0-8])(:[0-5]\d)?$")


def translate(text: str) -> Plan | None:
    """The plan answering a SET / RESET statement, or None for any other statement."""
    if re.fullmatch(r"RESET(\s+[\w.]+)?", text, re.I):
        return Plan("SELECT NULL::VARCHAR AS key WHERE false", statement_type="OTHER")
    found = _SET.match(text)
    if found is None:
        return None
    body = (found.group("body") or "").strip()
    if body in ("", "-v", "-V"):
        values = ", ".join(f"('{k}', '{v}')" for k, v in DEFAULTS.items())
        return _rows(f"SELECT * FROM (VALUES {values}) AS t(key, value) ORDER BY 1")
    zone = _TIME_ZONE.match(body)
    if zone is not None:
        value = _unquoted(zone.group("zone").strip())
        value = "Etc/UTC" if value.upper() == "LOCAL" else _check("TIMEZONE", value)
        return _echo("TIMEZONE", value)
    assigned = _ASSIGN.match(body)
    if assigned is None:
        raise SqlError(
            f"[PARSE_SYNTAX_ERROR] Syntax error at or near '{body.split()[0]}': write SET "
            "key = value, SET key or SET. SQLSTATE: 42601",
            sql_state="42601",
        )
    key = assigned.group("key")
    known = key.upper()
    if known not in DEFAULTS:
        raise SqlError(
            f"[CONFIG_NOT_AVAILABLE] Configuration {key} is not available. SQLSTATE: 42K0I",
            sql_state="42K0I",
        )
    if assigned.group("value") is None:
        return _echo(key, DEFAULTS[known])
    return _echo(key, _check(known, _unquoted(assigned.group("value").strip())))


def _check(key: str, value: str) -> str:
    ok = True
    if key in _BOOLEAN:
        ok, value = value.lower() in ("true", "false"), value.lower()
    elif key == "STATEMENT_TIMEOUT":
        ok = value.isdigit() and int(value) <= 172800
    elif key == "LEGACY_TIME_PARSER_POLICY":
        ok, value = value.upper() in ("EXCEPTION", "LEGACY", "CORRECTED"), value.upper()
    elif key == "TIMEZONE":
        ok = bool(_OFFSET.match(value)) or _zone(value)
    if not ok:
        raise SqlError(
            f"[INVALID_CONF_VALUE] The value '{value}' in the config \"{key}\" is invalid. "
            "SQLSTATE: 22022",
            sql_state="22022",
        )
    return value


def _zone(value: str) -> bool:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _unquoted(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"`":
        return value[1:-1]
    return value


def _echo(key: str, value: str) -> Plan:
    return _rows("SELECT $k AS key, $v AS value", {"k": key, "v": value})


def _rows(sql: str, params: dict[str, str] | None = None) -> Plan:
    return Plan(sql, params or {}, statement_type="OTHER")
