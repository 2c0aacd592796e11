"""What every Studio form shares: name checks and pydantic errors placed next to their fields."""

from __future__ import annotations

from pydantic import ValidationError

from lakegate.project import NAME_PATTERN

__all__ = ["check_name", "field_errors"]


def check_name(name: str, taken: set[str], kind: str) -> str | None:
    """The problem with a new connector or action name, or None."""
    if not name:
        return f"Give the {kind} a name."
    if not NAME_PATTERN.match(name):
        return "Use 2-64 letters, digits or '_', starting with a letter (e.g. list_warehouses)."
    if name in taken:
        article = "an" if kind[:1] in "aeiou" else "a"
        return f"There is already {article} {kind} called {name!r}; choose another name."
    return None


def field_errors(exc: ValidationError, known: set[str]) -> dict[str, str]:
    """Pydantic's errors as {form field: message}; what names no field goes under `_form`."""
    out: dict[str, str] = {}
    for err in exc.errors():
        ctx = err.get("ctx") or {}
        where = ctx.get("at") or next(
            (str(p) for p in reversed(err["loc"]) if str(p) in known), "_form"
        )
        if err["type"] == "missing":
            message = "Required."
        else:
            problem, fix = ctx.get("problem") or err["msg"], ctx.get("fix", "")
            message = problem + (f" — {fix}." if fix else ".")
        out.setdefault(where if where in known else "_form", message)
    return out
