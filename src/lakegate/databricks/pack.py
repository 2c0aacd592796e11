"""The pack's actions (pack.yaml), bound to a connector, ready to add to a project."""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from typing import Any

from lakegate.project import Action, Connector

__all__ = ["PACK_ACTIONS", "install_pack", "pack_actions"]


@cache
def _definitions() -> dict[str, dict[str, Any]]:
    from ruamel.yaml import YAML

    text = files("lakegate.databricks").joinpath("pack.yaml").read_text(encoding="utf-8")
    return dict(YAML(typ="safe").load(text)["actions"])


PACK_ACTIONS: tuple[str, ...] = tuple(_definitions())


def pack_actions(connector: Connector) -> dict[str, Action]:
    """Every pack action on `connector`. On a read-only connector `execute_sql` is a read."""
    out: dict[str, Action] = {}
    for name, spec in _definitions().items():
        spec = {**spec, "name": name, "connector": connector.name}
        if name == "execute_sql" and connector.read_only:
            spec["risk"] = "read"  # the guard lets only reads through
            spec["idempotent"] = True
        out[name] = Action.model_validate(spec)
    return out


def install_pack(project: Any, connector: Connector, *, prefix: str = "") -> list[str]:
    """Add (or refresh) the pack's actions on `connector` in `project`; their names."""
    names = []
    for name, action in pack_actions(connector).items():
        project.set_action(prefix + name, action)
        names.append(prefix + name)
    return names
