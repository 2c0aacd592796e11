"""Databricks functions whose DuckDB translation by sqlglot runs but answers differently.

Each rewrite takes a node of a tree parsed with `read="databricks"` and returns the node that
gives Databricks' answer under DuckDB (same value and, where it shows, the same type). Applied
by `translate.plan` before its own rewrites; docs/workspace.md lists them (coverage table).
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import sqlglot
from sqlglot import exp

from lakegate.workspace.sql import decimals, settings

# What sqlglot fills in for `unix_timestamp(x)` without a format: Spark's default pattern.
_DEFAULT_UNIX_FORMAT = sqlglot.parse_one("unix_timestamp(x)", read="databricks").args.get("format")

# Databricks' trunc/date_trunc unit spellings -> DuckDB's.
_UNITS = {
    "YEAR": "year", "YYYY": "year", "YY": "year",
    "QUARTER": "quarter",
    "MONTH": "month", "MM": "month", "MON": "month",
    "WEEK": "week",
    "DAY": "day", "DD": "day",
    "HOUR": "hour", "MINUTE": "minute", "SECOND": "second",
    "MILLISECOND": "millisecond", "MICROSECOND": "microsecond",
}  # fmt: skip
_DATETIME_LETTERS = frozenset("yMdHhmsSaEDL")
_INT_FIELDS = frozenset({"YEAR", "QUARTER", "MONTH", "WEEK", "DAY", "DOY", "HOUR", "MINUTE"})
_DATES = (exp.Cast, exp.TsOrDsToDate, exp.CurrentDate, exp.DateFromParts)


def databricks_semantics(
    tree: exp.Expression,
    confs: Mapping[str, str] | None = None,
    columns: decimals.ColumnTypes | None = None,
) -> exp.Expression:
    """`tree` with every such function rewritten, innermost first (rewrites nest), under the
    session's settings `confs` (ANSI_MODE, TIMEZONE; settings.py); `columns` types the table
    columns a division reads."""
    ansi = settings.ansi(confs)
    zone = (confs or {}).get("TIMEZONE", settings.DEFAULTS["TIMEZONE"])
    for node in reversed(list(tree.walk())):  # breadth-first, reversed: children first
        if isinstance(node, exp.Div):  # typed before _by_zero wraps the divisor
            operands = (
                decimals.type_of(node.this, columns),
                decimals.type_of(node.expression, columns),
            )
            new = decimals.divided(_by_zero(node, ansi), *operands)
        elif isinstance(node, _BY_ZERO):
            new = _by_zero(node, ansi)
        elif isinstance(node, exp.CurrentTimezone):
            new = exp.Literal.string(zone)  # as SET wrote it ("+08:00"), not the engine's name
        else:
            new = _rewritten(node)
        if not ansi and type(new) is exp.Cast:  # ANSI off: a cast that cannot convert is NULL
            new = exp.TryCast(**new.args)
        if new is node:
            continue
        if node is tree:
            tree = new
        else:
            node.replace(new)
    return tree


# x / 0, x div 0 and x % 0: DuckDB answers inf (/) or fails in its own words (div, %).
_BY_ZERO = (exp.Div, exp.IntDiv, exp.Mod)
_ZERO_ERRORS = {
    exp.Div: ("DIVIDE_BY_ZERO", "Division by zero", "try_divide"),
    exp.IntDiv: ("DIVIDE_BY_ZERO", "Division by zero", "try_divide"),
    exp.Mod: ("REMAINDER_BY_ZERO", "Remainder by zero", "try_mod"),
}


def _by_zero(node: exp.Expression, ansi: bool) -> exp.Expression:
    """ANSI mode fails as Databricks does; without it the answer is NULL."""
    divisor = node.expression
    if isinstance(divisor, exp.Literal) and divisor.is_number and float(divisor.name) != 0:
        return node
    if not ansi:
        node.set("expression", exp.Nullif(this=divisor.copy(), expression=exp.Literal.number(0)))
        return node
    error_class, what, tolerant = _ZERO_ERRORS[type(node)]
    message = (
        f"[{error_class}] {what}. Use `{tolerant}` to tolerate divisor being 0 and return NULL "
        'instead. If necessary set "ansi_mode" to "false" to bypass this error. SQLSTATE: 22012'
    )
    fails = exp.Anonymous(this="error", expressions=[exp.Literal.string(message)])
    zero = exp.EQ(this=divisor.copy(), expression=exp.Literal.number(0))
    checked = exp.Case(ifs=[exp.If(this=zero, true=fails)], default=divisor.copy())
    node.set("expression", checked)
    return node


def _rewritten(node: exp.Expression) -> exp.Expression:
    rewrite = _REWRITES.get(type(node))
    if rewrite is None and isinstance(node, exp.Anonymous):
        rewrite = _BY_NAME.get(node.name.lower())
    return rewrite(node) if rewrite is not None else node


def _date_add(node: exp.Expression) -> exp.Expression:
    # date_add(d, n) / date_sub(d, n) answer a DATE; DATE + INTERVAL is a TIMESTAMP in DuckDB.
    unit = node.args.get("unit")
    if unit is not None and unit.name.upper() != "DAY":
        return node
    days = exp.cast(node.expression, exp.DataType.build("INT"))
    return exp.Add(this=exp.cast(node.this, exp.DataType.build("DATE")), expression=days)


def _percentile(node: exp.Expression) -> exp.Expression:
    # percentile() interpolates (2.5 for 1..4); DuckDB's quantile() picks a row (2).
    return exp.Anonymous(this="quantile_cont", expressions=[node.this, node.args["quantile"]])


def _format_string(node: exp.Expression) -> exp.Expression:
    # format_string/printf take printf patterns; DuckDB's format() takes {} patterns.
    return exp.Anonymous(this="printf", expressions=[node.this, *node.expressions])


def _to_char(node: exp.Expression) -> exp.Expression:
    # to_char(datetime, 'yyyy-MM') formats like date_format; sqlglot drops the pattern.
    pattern = node.args.get("format")
    if not isinstance(pattern, exp.Literal) or not _DATETIME_LETTERS & set(pattern.name):
        return node
    formatted = sqlglot.parse_one(f"date_format(x, {pattern.sql()})", read="databricks")
    formatted.find(exp.Column).replace(node.this)  # type: ignore[union-attr]
    return formatted


def _day_of_week(node: exp.Expression) -> exp.Expression:
    # Databricks numbers Sunday 1 .. Saturday 7; DuckDB Sunday 0 .. Saturday 6.
    return _int(exp.Add(this=node.copy(), expression=exp.Literal.number(1)))


def _int(node: exp.Expression) -> exp.Expression:
    return exp.cast(node, exp.DataType.build("INT"))


def _date_part(node: exp.Expression) -> exp.Expression:
    # year(), month(), ... are INT in Databricks, BIGINT in DuckDB.
    return _int(node.copy())


def _extract(node: exp.Expression) -> exp.Expression:
    unit = node.this.name.upper()
    if unit in ("DAYOFWEEK", "DOW"):
        return _day_of_week(node)
    return _int(node.copy()) if unit in _INT_FIELDS else node


def _date_plus_months(node: exp.Expression) -> exp.Expression:
    # DATE +/- INTERVAL n MONTH|YEAR is a DATE in Databricks, a TIMESTAMP in DuckDB. Only when
    # the date is visibly a DATE: a column's type is not known here.
    interval = node.expression
    if not isinstance(interval, exp.Interval) or not isinstance(node.this, _DATES):
        return node
    if isinstance(node.this, exp.Cast) and not node.this.to.is_type("date"):
        return node
    unit = interval.args.get("unit")
    if unit is None or unit.name.upper().rstrip("S") not in ("YEAR", "QUARTER", "MONTH"):
        return node
    return exp.cast(node.copy(), exp.DataType.build("DATE"))


def _unit(unit: exp.Expression | None) -> exp.Expression | None:
    if unit is None:
        return None
    spelled = _UNITS.get(unit.name.upper())
    return exp.Literal.string(spelled) if spelled else None


def _trunc(node: exp.Expression) -> exp.Expression:
    # trunc(date, 'MM') answers a DATE (NULL for an unknown unit); DuckDB spells units out.
    unit = _unit(node.args.get("unit"))
    if unit is None:
        return exp.Null()
    truncated = exp.Anonymous(this="date_trunc", expressions=[unit, node.this])
    return exp.cast(truncated, exp.DataType.build("DATE"))


def _timestamp_trunc(node: exp.Expression) -> exp.Expression:
    # date_trunc('MM', ts): Databricks' short unit names, which DuckDB does not know; and a
    # TIMESTAMP (with time zone) even for a DATE, where DuckDB answers one without.
    unit = _unit(node.args.get("unit"))
    if unit is None:
        return exp.Null()
    truncated = exp.Anonymous(this="date_trunc", expressions=[unit, node.this])
    return exp.cast(truncated, exp.DataType.build("TIMESTAMPTZ"))


def _unix_timestamp(node: exp.Expression) -> exp.Expression:
    # unix_timestamp(ts) takes a timestamp too; sqlglot only handles strings (strptime).
    if node.args.get("format") != _DEFAULT_UNIX_FORMAT:
        return node
    value = exp.cast(node.this, exp.DataType.build("TIMESTAMP"))
    return exp.cast(exp.Anonymous(this="epoch", expressions=[value]), exp.DataType.build("BIGINT"))


# Spark's string -> DATE / TIMESTAMP forms: `yyyy`, `yyyy-[m]m`, `yyyy-[m]m-[d]d`, then for a
# TIMESTAMP ` ` or `T`, `[h]h[:[m]m[:[s]s[.fraction]]]` and a zone (Z, +hh[:mm], UTC, a region);
# a DATE ignores whatever follows the day. DuckDB takes only the full forms.
_SPARK_DATETIME = re.compile(
    r"^\s*(?P<y>\d{4})(?:-(?P<m>\d{1,2})(?:-(?P<d>\d{1,2})(?P<rest>(?:[ T].*)?))?)?\s*$", re.S
)
_SPARK_TIME = re.compile(
    r"^[ T](?P<h>\d{1,2})(?::(?P<mi>\d{1,2})(?::(?P<s>\d{1,2})(?:\.(?P<f>\d{1,9}))?)?)?"
    r"\s*(?P<zone>Z|UTC|GMT|[+-]\d{1,2}(?::?\d{2})?|(?:UTC|GMT)[+-]\d{1,2}(?::?\d{2})?"
    r"|[A-Za-z_]+/[A-Za-z_/+-]+)?\s*$"
)


_DATETIMES = (
    exp.DataType.Type.DATE,  # first: a DATE takes no time of day
    exp.DataType.Type.TIMESTAMP,
    exp.DataType.Type.TIMESTAMPTZ,
    exp.DataType.Type.TIMESTAMPNTZ,
)


def _spark_datetime_literal(text: str, to_date: bool) -> str | None:
    """A Spark date/timestamp string in the full form DuckDB reads (same instant, same zone
    text), or None when Spark would not read it either (left to fail or be NULL as the cast
    does under ANSI_MODE)."""
    found = _SPARK_DATETIME.match(text)
    if found is None:
        return None
    try:
        day = datetime.date(int(found["y"]), int(found["m"] or 1), int(found["d"] or 1))
    except ValueError:
        return None
    if to_date or not found["rest"]:
        return day.isoformat()
    time = _SPARK_TIME.match(found["rest"])
    if time is None:
        return None
    hour, minute, second = int(time["h"]), int(time["mi"] or 0), int(time["s"] or 0)
    if hour > 23 or minute > 59 or second > 59:
        return None
    fraction = (time["f"] or "0")[:6].ljust(6, "0")
    zone = time["zone"] or ""
    if zone and zone[0] in "+-" and ":" not in zone:  # +4, +0400 -> +04:00
        digits = zone[1:].rjust(2, "0") if len(zone) <= 3 else zone[1:]
        zone = f"{zone[0]}{digits[:2]}:{digits[2:4] or '00'}"
    elif zone.upper() in ("Z", "UTC", "GMT"):
        zone = "+00:00"
    elif zone.upper().startswith(("UTC", "GMT")):
        return None  # UTC+4 spellings: left to the engine
    stamp = f"{day.isoformat()} {hour:02d}:{minute:02d}:{second:02d}.{fraction}"
    return f"{stamp}{zone}" if zone.startswith(("+", "-")) else f"{stamp} {zone}".rstrip()


def lenient_datetimes(tree: exp.Expression) -> TimestampStrings | None:
    """For an INSERT ... VALUES with strings Spark could read as timestamps: their respelling,
    for the engine to use when the statement as written fails to convert one."""
    if not isinstance(tree, exp.Insert) or not isinstance(tree.expression, exp.Values):
        return None
    found = any(
        literal.is_string and _SPARK_TIME_PART.search(literal.name)
        for literal in tree.expression.find_all(exp.Literal)
    )  # fmt: skip
    return TimestampStrings(tree.copy()) if found else None


@dataclass(frozen=True)
class TimestampStrings:
    """An INSERT ... VALUES whose strings go into TIMESTAMP columns as Spark reads them
    (`'2023-09-06 03:14:27.000843 +0000'`, which DuckDB's implicit cast refuses): each one in a
    timestamp column respelled as DuckDB reads it; a STRING column keeps its text as written.
    Only the engine knows the columns' types, so it asks for them when the statement as
    written fails to convert."""

    tree: exp.Insert

    def target(self) -> str:
        """The table written, in DuckDB's SQL."""
        target = self.tree.this
        table = target.this if isinstance(target, exp.Schema) else target
        return table.sql(dialect="duckdb")

    def respelled(self, columns: list[tuple[str, str]]) -> str | None:
        """The statement with the timestamps respelled, given the table's (name, DuckDB type)
        columns in order; None when nothing would change."""
        target = self.tree.this
        named = [c.name.lower() for c in target.expressions] if isinstance(
            target, exp.Schema) else [n.lower() for n, _ in columns]  # fmt: skip
        kinds = {n.lower(): t.upper() for n, t in columns}
        stamps = [kinds.get(name, "").startswith("TIMESTAMP") for name in named]
        tree = self.tree.copy()
        changed = False
        for row in tree.expression.expressions:
            values = row.expressions if isinstance(row, exp.Tuple) else [row]
            for value, stamp in zip(values, stamps, strict=False):
                if not (stamp and isinstance(value, exp.Literal) and value.is_string):
                    continue
                spelled = _spark_datetime_literal(value.name, False)
                if spelled is not None and spelled != value.name:
                    value.replace(exp.Literal.string(spelled))
                    changed = True
        return tree.sql(dialect="duckdb") if changed else None


_SPARK_TIME_PART = re.compile(r"\d[ T]\d{1,2}:\d")


def _timestamp(node: exp.Expression) -> exp.Expression:
    # to_timestamp(s[, fmt]) is a TIMESTAMP (with the session's time zone) in Databricks, as
    # CAST(s AS TIMESTAMP) already is here; sqlglot gives DuckDB's zone-less TIMESTAMP.
    literal = isinstance(node, exp.Cast) and isinstance(node.this, exp.Literal)
    if literal and node.this.is_string and node.to.is_type(*_DATETIMES):
        spelled = _spark_datetime_literal(node.this.name, node.to.is_type(_DATETIMES[0]))
        if spelled is not None:
            node.set("this", exp.Literal.string(spelled))
    if isinstance(node, exp.Cast) and not node.to.is_type(exp.DataType.Type.TIMESTAMP):
        return node
    if isinstance(node, exp.Cast):
        return exp.Cast(this=node.this, to=exp.DataType.build("TIMESTAMPTZ"))
    return exp.cast(node.copy(), exp.DataType.build("TIMESTAMPTZ"))


def _bround(node: exp.Anonymous) -> exp.Expression:
    # HALF_EVEN rounding.
    digits = node.expressions[1] if len(node.expressions) > 1 else exp.Literal.number(0)
    return exp.Anonymous(this="round_even", expressions=[node.expressions[0], digits])


def _pmod(node: exp.Anonymous) -> exp.Expression:
    # The positive remainder, which DuckDB has no function for.
    a, b = node.expressions[:2]
    remainder = exp.Paren(this=exp.Mod(this=a, expression=b))
    shifted = exp.Paren(this=exp.Add(this=remainder, expression=b.copy()))
    return exp.Paren(this=exp.Mod(this=shifted, expression=b.copy()))


def _format_number(node: exp.Anonymous) -> exp.Expression:
    # format_number(x, 2) -> '1,234,567.89'; a pattern as second argument is not translated.
    if len(node.expressions) != 2 or not node.expressions[1].is_int:
        return node
    digits = int(node.expressions[1].name)
    pattern = exp.Literal.string("{:,." + str(digits) + "f}")
    return exp.Anonymous(this="format", expressions=[pattern, node.expressions[0]])


def _zeroifnull(node: exp.Anonymous) -> exp.Expression:
    return exp.Coalesce(this=node.expressions[0], expressions=[exp.Literal.number(0)])


def _nullifzero(node: exp.Anonymous) -> exp.Expression:
    return exp.Nullif(this=node.expressions[0], expression=exp.Literal.number(0))


def _some(node: exp.Anonymous) -> exp.Expression:
    # some(cond) is the bool_or aggregate.
    return exp.Anonymous(this="bool_or", expressions=node.expressions)


def _every(node: exp.Anonymous) -> exp.Expression:
    return exp.Anonymous(this="bool_and", expressions=node.expressions)


def _parse_json(node: exp.Expression) -> exp.Expression:
    # parse_json() is a VARIANT in Databricks; DuckDB's JSON() a JSON text.
    return exp.cast(node.copy(), exp.DataType.build("VARIANT"))


_REWRITES: dict[type[exp.Expression], Callable[[exp.Expression], exp.Expression]] = {
    exp.ParseJSON: _parse_json,
    exp.TsOrDsAdd: _date_add,
    exp.Quantile: _percentile,
    exp.Format: _format_string,
    exp.ToChar: _to_char,
    exp.DayOfWeek: _day_of_week,
    exp.Year: _date_part,
    exp.Quarter: _date_part,
    exp.Month: _date_part,
    exp.Day: _date_part,
    exp.DayOfMonth: _date_part,
    exp.DayOfYear: _date_part,
    exp.WeekOfYear: _date_part,
    exp.Hour: _date_part,
    exp.Minute: _date_part,
    exp.Extract: _extract,
    exp.Add: _date_plus_months,
    exp.Sub: _date_plus_months,
    exp.DateTrunc: _trunc,
    exp.TimestampTrunc: _timestamp_trunc,
    exp.StrToUnix: _unix_timestamp,
    exp.Cast: _timestamp,
    exp.StrToTime: _timestamp,
}
_BY_NAME: dict[str, Callable[[exp.Anonymous], exp.Expression]] = {
    "bround": _bround,
    "pmod": _pmod,
    "format_number": _format_number,
    "zeroifnull": _zeroifnull,
    "nullifzero": _nullifzero,
    "some": _some,
    "every": _every,
}
