"""Spark's exact division: `DECIMAL / DECIMAL` is a DECIMAL in Databricks, a DOUBLE in DuckDB.

Spark types `a / b` with a decimal operand as `DECIMAL(p, s)` by its precision rules (with
precision loss allowed, as Databricks runs) and rounds half up; DuckDB divides in floating
point (`7.000000000000001` where Databricks answers `7.0000000000000000`). Where both operands'
types are known (casts, literals, table columns, arithmetic and NULLIF over them), the
division is rewritten to an exact one: `decimal_divide`, registered on the engine's
connections as DECIMAL_DIVIDE, and a cast to Spark's result type. A column's type comes from
the engine's catalog (`ColumnTypes`: the tables a SELECT reads directly); a column of a
subquery or CTE is not typed, so a division by it stays DuckDB's (docs/workspace.md).
"""

from __future__ import annotations

import decimal
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlglot import exp

from lakegate.workspace.sql import plan

DECIMAL_DIVIDE = "lakegate_decimal_divide"
MAX_PRECISION = 38
_MIN_ADJUSTED_SCALE = 6
_INTEGRAL = {
    exp.DataType.Type.TINYINT: 3,
    exp.DataType.Type.SMALLINT: 5,
    exp.DataType.Type.INT: 10,
    exp.DataType.Type.BIGINT: 20,
}
# Exact to well past any DECIMAL(38, s) quotient; truncated, so the one rounding is half up.
_CONTEXT = decimal.Context(prec=120, rounding=decimal.ROUND_DOWN)


@dataclass(frozen=True)
class Exact:
    """An exact number's Spark type: DECIMAL(precision, scale), or an integer type (its
    precision as a decimal: INT is DECIMAL(10, 0) in decimal arithmetic)."""

    precision: int
    scale: int
    decimal: bool


def divided(node: exp.Div, dividend: Exact | None, divisor: Exact | None) -> exp.Expression:
    """`node` as Spark divides: exact, cast to Spark's result type, when an operand is a
    DECIMAL and both types are known; else unchanged."""
    if dividend is None or divisor is None or not (dividend.decimal or divisor.decimal):
        return node
    result = quotient_type(dividend, divisor)
    as_text = exp.DataType.build("VARCHAR")
    call = exp.Anonymous(
        this=DECIMAL_DIVIDE,
        expressions=[
            exp.cast(node.this, as_text),
            exp.cast(node.expression, as_text),
            exp.Literal.number(result.scale),
        ],
    )
    return exp.cast(call, exp.DataType.build(f"DECIMAL({result.precision}, {result.scale})"))


# A table's columns, lower-cased name -> DuckDB type (e.g. "DECIMAL(15,2)"), by its full
# name; None for a table that does not exist.
Lookup = Callable[[tuple[str, str, str]], dict[str, str] | None]


@dataclass
class ColumnTypes:
    """The types of the columns a statement reads directly from tables, asked of the engine
    (`lookup`) once per table, only when a division needs one."""

    lookup: Lookup
    catalog: str
    schema: str
    _tables: dict[tuple[str, str, str], dict[str, str] | None] = field(default_factory=dict)

    def of(self, column: exp.Column) -> Exact | None:
        select = column.find_ancestor(exp.Select)
        if select is None:
            return None
        sources = _sources(select)
        wanted = column.table.lower()
        if wanted:
            candidates = [t for alias, t in sources if alias == wanted]
        else:
            candidates = [t for _, t in sources]
        found = [
            kinds[column.name.lower()]
            for table in candidates
            if (kinds := self._columns(table)) is not None and column.name.lower() in kinds
        ]
        return _duckdb_type(found[0]) if len(found) == 1 else None

    def _columns(self, table: exp.Table) -> dict[str, str] | None:
        name = plan.resolve(table, self.catalog, self.schema)
        if name not in self._tables:
            self._tables[name] = self.lookup(name)
        return self._tables[name]


def _sources(select: exp.Select) -> list[tuple[str, exp.Table]]:
    """The tables a SELECT reads directly (FROM and JOINs), by the name its columns use."""
    found = []
    from_ = select.args.get("from_") or select.args.get("from")
    for source in [from_, *(select.args.get("joins") or [])]:
        table = source.this if source is not None else None
        if isinstance(table, exp.Table) and isinstance(table.this, exp.Identifier):
            found.append(((table.alias or table.name).lower(), table))
    return found


_DUCKDB_DECIMAL = re.compile(r"^DECIMAL\((\d+),\s*(\d+)\)$")
_DUCKDB_INTEGRAL = {"TINYINT": 3, "SMALLINT": 5, "INTEGER": 10, "BIGINT": 20}


def _duckdb_type(text: str) -> Exact | None:
    found = _DUCKDB_DECIMAL.match(text.upper())
    if found:
        return Exact(int(found[1]), int(found[2]), decimal=True)
    digits = _DUCKDB_INTEGRAL.get(text.upper())
    return Exact(digits, 0, decimal=False) if digits is not None else None


def type_of(node: exp.Expression, columns: ColumnTypes | None = None) -> Exact | None:
    """The Spark type of `node` when it is known to be an exact number: from the statement
    itself, or for a table's column from `columns`."""
    if isinstance(node, exp.Paren | exp.Neg):
        return type_of(node.this, columns)
    if isinstance(node, exp.Nullif):  # if(a = b, NULL, a): a's type
        return type_of(node.this, columns)
    if isinstance(node, exp.Cast):  # TryCast too
        return _declared(node.to)
    if isinstance(node, exp.Literal) and node.is_number:
        return _literal(node.name)
    if isinstance(node, exp.Column) and columns is not None:
        return columns.of(node)
    if isinstance(node, exp.Count):
        return Exact(_INTEGRAL[exp.DataType.Type.BIGINT], 0, decimal=False)
    if isinstance(node, exp.Sum | exp.Avg | exp.Min | exp.Max):
        return _aggregated(node, columns)
    if isinstance(node, exp.Add | exp.Sub | exp.Mul):
        left, right = type_of(node.this, columns), type_of(node.expression, columns)
        if left is None or right is None:
            return None
        if not (left.decimal or right.decimal):
            return Exact(max(left.precision, right.precision), 0, decimal=False)
        if isinstance(node, exp.Mul):
            return _adjusted(left.precision + right.precision + 1, left.scale + right.scale)
        scale = max(left.scale, right.scale)
        digits = max(left.precision - left.scale, right.precision - right.scale)
        return _adjusted(digits + scale + 1, scale)
    return None


def _aggregated(node: exp.AggFunc, columns: ColumnTypes | None) -> Exact | None:
    """Spark's result type of sum / avg / min / max over an exact number: sum(DECIMAL(p, s)) is
    DECIMAL(p + 10, s), avg(DECIMAL(p, s)) DECIMAL(p + 4, s + 4) (bounded at 38), a sum of
    integers a BIGINT, an average of integers a DOUBLE (None)."""
    argument = node.this.expressions[0] if isinstance(node.this, exp.Distinct) else node.this
    inner = type_of(argument, columns)
    if inner is None or isinstance(node, exp.Min | exp.Max):
        return inner
    if isinstance(node, exp.Sum):
        if not inner.decimal:
            return Exact(_INTEGRAL[exp.DataType.Type.BIGINT], 0, decimal=False)
        return Exact(min(MAX_PRECISION, inner.precision + 10), inner.scale, decimal=True)
    if not inner.decimal:
        return None
    return Exact(
        min(MAX_PRECISION, inner.precision + 4), min(MAX_PRECISION, inner.scale + 4), decimal=True
    )


def quotient_type(dividend: Exact, divisor: Exact) -> Exact:
    """Spark's DecimalPrecision rule for division, precision loss allowed."""
    scale = max(_MIN_ADJUSTED_SCALE, dividend.scale + divisor.precision + 1)
    digits = dividend.precision - dividend.scale + divisor.scale
    return _adjusted(digits + scale, scale)


def decimal_divide(dividend: str, divisor: str, scale: int) -> str | None:
    """The quotient rounded half up to `scale` digits, as text (the engine casts it); NULL for
    a zero divisor (ANSI mode has failed the statement before: semantics._by_zero)."""
    if not decimal.Decimal(divisor):
        return None
    quotient = _CONTEXT.divide(decimal.Decimal(dividend), decimal.Decimal(divisor))
    step = decimal.Decimal(1).scaleb(-scale)
    return str(quotient.quantize(step, rounding=decimal.ROUND_HALF_UP, context=_CONTEXT))


def _adjusted(precision: int, scale: int) -> Exact:
    if precision <= MAX_PRECISION:
        return Exact(precision, scale, decimal=True)
    digits = precision - scale
    kept = max(MAX_PRECISION - digits, min(scale, _MIN_ADJUSTED_SCALE))
    return Exact(MAX_PRECISION, kept, decimal=True)


def _declared(to: exp.DataType) -> Exact | None:
    if to.this in _INTEGRAL:
        return Exact(_INTEGRAL[to.this], 0, decimal=False)
    if to.this != exp.DataType.Type.DECIMAL:
        return None
    params = [int(p.this.name) for p in to.expressions if isinstance(p.this, exp.Literal)]
    precision, scale = (params + [10, 0][len(params) :])[:2] if params else (10, 0)
    return Exact(precision, scale, decimal=True)


def _literal(text: str) -> Exact | None:
    if "e" in text.lower():
        return None  # 1E2 is a DOUBLE
    if "." not in text:
        value = int(text)
        if -(2**31) <= value < 2**31:
            return Exact(10, 0, decimal=False)
        if -(2**63) <= value < 2**63:
            return Exact(20, 0, decimal=False)
        return Exact(len(text), 0, decimal=True) if len(text) <= MAX_PRECISION else None
    digits = decimal.Decimal(text).as_tuple()
    scale = -int(digits.exponent)
    precision = max(len(digits.digits), scale)
    return Exact(precision, scale, decimal=True) if precision <= MAX_PRECISION else None
