"""What every Studio form shares: name checks and the models' refusals placed next to their
fields."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lakegate.project import NAME_PATTERN

if TYPE_CHECKING:
    from collections.abc import Iterable

    from lakegate.authconfig import FieldProblem

__all__ = ["check_name", "chosen_name", "note_problems"]

RESERVED = {"new"}  # a connector or action called `new` would hide behind /connectors/new


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


def chosen_name(
    errors: dict[str, str], original: str | None, typed: str, taken: Iterable[str], kind: str
) -> str:
    """The name a form saves under: the edited one's own, or the `typed` new one, checked against
    the names `taken` (its problem goes under `errors["name"]`)."""
    if original:
        return original
    problem = check_name(typed, {*taken, *RESERVED}, kind)
    if problem:
        errors["name"] = problem
    return typed


def note_problems(errors: dict[str, str], problems: list[FieldProblem], shown: set[str]) -> None:
    """Each problem next to its form field (under `_form` when the form does not show that field);
    a field keeps the first message it got."""
    for problem in problems:
        where = problem.field if problem.field in shown else "_form"
        errors.setdefault(where, "Required." if problem.missing else problem.sentence)
