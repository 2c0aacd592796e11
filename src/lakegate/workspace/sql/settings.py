"""`SET` and `RESET`, as a Databricks SQL warehouse answers them, and the session settings
they change.

A SQL warehouse has a short list of configuration parameters (ANSI_MODE, TIMEZONE,
STATEMENT_TIMEOUT, ...); `SET key = value` checks the value and answers the `key`/`value` row,
`SET key` answers the current value, bare `SET` every parameter, `SET TIME ZONE ...` sets
TIMEZONE, and `RESET` puts them back. Any other key (Spark's `spark.sql.*` confs included) is
`CONFIG_NOT_AVAILABLE`, as on Databricks SQL. Inside a session (Thrift, or an SEA session) the
new value holds for the statements that follow; TIMEZONE and ANSI_MODE change what they answer
(the engine's time zone, division by zero and casts).
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Mapping

from lakegate.workspace.sql.plan import Plan, SqlError

__all__ = ["DEFAULTS", "ansi", "apply", "checked", "duckdb_zone", "translate"]

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


def translate(text: str, confs: Mapping[str, str] | None = None) -> Plan | None:
    """The plan answering a SET / RESET statement, or None for any other statement. `confs`
    holds the session's settings (upper-case keys); the plan's `settings` what it changes."""
    current = {**DEFAULTS, **(confs or {})}
    reset = re.fullmatch(r"RESET(?:\s+(?P<key>[\w.]+))?", text, re.I)
    if reset is not None:
        key = (reset.group("key") or "").upper()
        if key and key not in DEFAULTS:
            raise _not_available(reset.group("key"))
        cleared: dict[str, str | None] = {k: None for k in ([key] if key else DEFAULTS)}
        return Plan("SELECT NULL::VARCHAR AS key WHERE false", statement_type="OTHER",
                    settings=cleared)  # fmt: skip
    found = _SET.match(text)
    if found is None:
        return None
    body = (found.group("body") or "").strip()
    if body in ("", "-v", "-V"):
        values = ", ".join(f"('{k}', '{v}')" for k, v in sorted(current.items()))
        return _rows(f"SELECT * FROM (VALUES {values}) AS t(key, value) ORDER BY 1")
    zone = _TIME_ZONE.match(body)
    if zone is not None:
        value = _unquoted(zone.group("zone").strip())
        value = "Etc/UTC" if value.upper() == "LOCAL" else _check("TIMEZONE", value)
        return _echo("TIMEZONE", value, changed=True)
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
        raise _not_available(key)
    if assigned.group("value") is None:
        return _echo(key, current[known])
    value = _check(known, _unquoted(assigned.group("value").strip()))
    return _echo(key, value, changed=True)


def checked(confs: Mapping[str, object]) -> dict[str, str]:
    """A client's session configuration (Thrift `configuration`, SEA `session_confs`) as
    settings: the warehouse's parameters by upper-case key, values checked. Other keys (the
    connector's own `spark.thriftserver.*` flags) are not settings and are left out."""
    kept: dict[str, str] = {}
    for key, value in confs.items():
        known = str(key).upper()
        if known in DEFAULTS and value is not None:
            kept[known] = _check(known, _unquoted(str(value).strip()))
    return kept


def apply(confs: dict[str, str], changed: Mapping[str, str | None]) -> None:
    """A session's settings after a SET / RESET: a new value, or (None) back to the default."""
    for key, value in changed.items():
        if value is None:
            confs.pop(key, None)
        else:
            confs[key] = value


def ansi(confs: Mapping[str, str] | None) -> bool:
    """Whether ANSI_MODE is on (the default) in these settings."""
    return (confs or {}).get("ANSI_MODE", DEFAULTS["ANSI_MODE"]).lower() != "false"


def duckdb_zone(value: str) -> str:
    """The engine's name for a TIMEZONE value: a region as it is, an offset (+08:00) as the
    fixed zone of that offset (Etc/GMT-8)."""
    if value.upper() in ("UTC", "Z", "GMT"):
        return "Etc/UTC"
    offset = _OFFSET.match(value)
    if offset is None:
        return value
    hours = int(offset.group(1))
    sign = "-" if value.startswith("+") else "+"  # POSIX: Etc/GMT-8 is eight hours ahead
    return "Etc/UTC" if hours == 0 else f"Etc/GMT{sign}{hours}"


def _not_available(key: str) -> SqlError:
    return SqlError(
        f"[CONFIG_NOT_AVAILABLE] Configuration {key} is not available. SQLSTATE: 42K0I",
        sql_state="42K0I",
    )


def _check(key: str, value: str) -> str:
    ok = True
    if key in _BOOLEAN:
        ok = value.lower() in ("true", "false")  # kept as written: SET echoes it so
    elif key == "STATEMENT_TIMEOUT":
        ok = value.isdigit() and int(value) <= 172800
    elif key == "LEGACY_TIME_PARSER_POLICY":
        ok, value = value.upper() in ("EXCEPTION", "LEGACY", "CORRECTED"), value.upper()
    elif key == "TIMEZONE":
        offset = _OFFSET.match(value)
        # The engine keeps whole-hour offsets (Etc/GMT-8); +05:30 has no fixed zone there.
        ok = (offset is not None and offset.group(2) in (None, ":00")) or _zone(value)
        ok = ok or value.upper() in ("UTC", "Z")
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


def _echo(key: str, value: str, *, changed: bool = False) -> Plan:
    planned = _rows("SELECT $k AS key, $v AS value", {"k": key, "v": value})
    if changed:
        planned.settings = {key.upper(): value}
    return planned


def _rows(sql: str, params: dict[str, str] | None = None) -> Plan:
    return Plan(sql, params or {}, statement_type="OTHER")
