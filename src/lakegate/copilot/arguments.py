"""A model's arguments checked against a tool's input schema, each error phrased for a model.

One compiled validator per schema object; a number out of bounds is told as the range the
schema states ("an integer from 1 to 200"), not in jsonschema's words.
"""

from __future__ import annotations

from typing import Any

import jsonschema

from lakegate.errors import InputError

__all__ = ["check_arguments"]

_BOUNDS = ("minimum", "maximum", "exclusiveMinimum", "type")
_VALIDATORS: dict[int, tuple[dict[str, Any], jsonschema.Draft202012Validator]] = {}


def check_arguments(tool: str, schema: dict[str, Any], args: dict[str, Any]) -> None:
    """Raise InputError for the first argument that does not fit `schema`, or an unknown one."""
    errors = sorted(_validator(schema).iter_errors(args), key=lambda e: list(e.absolute_path))
    if errors:
        raise _schema_error(tool, schema, errors[0])
    unknown = sorted(set(args) - set(schema.get("properties", {})))
    if unknown:
        raise InputError(
            f"{tool}: unknown argument {', '.join(unknown)}.",
            hint="Pass only the properties the tool's inputSchema declares.",
        )


def _validator(schema: dict[str, Any]) -> jsonschema.Draft202012Validator:
    """One compiled validator per schema object (plans are immutable, servers call them often)."""
    found = _VALIDATORS.get(id(schema))
    if found is None or found[0] is not schema:
        if len(_VALIDATORS) > 1024:
            _VALIDATORS.clear()
        found = (schema, jsonschema.Draft202012Validator(schema))
        _VALIDATORS[id(schema)] = found
    return found[1]


def _schema_error(
    tool: str, schema: dict[str, Any], error: jsonschema.ValidationError
) -> InputError:
    where = ".".join(str(p) for p in error.absolute_path) or "arguments"
    props = sorted(schema.get("properties", {}))
    prop = schema.get("properties", {}).get(where, {})
    bounds = _range(prop) if error.validator in _BOUNDS else None
    message = f"must be {bounds}, not {error.instance!r}" if bounds else error.message
    return InputError(
        f"{tool}: {where}: {message}",
        hint="Arguments must match the tool's inputSchema; it accepts: "
        f"{', '.join(props) or 'none'}.",
        details={"path": where},
    )


def _range(prop: dict[str, Any]) -> str | None:
    """`from 1 to 200` for a bounded number property: the same range the schema states."""
    if "maximum" not in prop:
        return None
    kind = "an integer" if prop.get("type") == "integer" else "a number"
    if "minimum" in prop:
        return f"{kind} from {_num(prop['minimum'])} to {_num(prop['maximum'])}"
    return f"{kind} above {_num(prop.get('exclusiveMinimum', 0))} and at most " + _num(
        prop["maximum"]
    )


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"
