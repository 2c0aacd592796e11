"""Path template rules shared by the project model (checked on save and load) and the renderer
(checked on every call), so an unsafe path is refused the same way in both places."""

from __future__ import annotations

import re
from urllib.parse import unquote

__all__ = ["LINE_BREAK", "PLACEHOLDER", "dot_segment", "path_problem"]

# `{{name}}` in a path, query, header or body template.
PLACEHOLDER = re.compile(r"\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}")
LINE_BREAK = re.compile(r"[\r\n\x00]")


def path_problem(path: str) -> str | None:
    """What makes an action's path template unsafe, by the rules `check_url` applies at call
    time: run when an action is saved or loaded, so a bad path never waits for its first call."""
    static = PLACEHOLDER.sub("x", path)
    if static.startswith("//"):
        return "it starts with '//', which would name another host"
    if LINE_BREAK.search(static) or "\\" in static:
        return "it contains a line break or backslash"
    if any(dot_segment(segment) for segment in static.split("?", 1)[0].split("/")):
        return "it contains a '.' or '..' segment (also when written %2e%2e), which leaves the path"
    return None


def dot_segment(segment: str) -> bool:
    """`.` or `..`, decoded twice: a server may decode `%252e%252e` once more on its way to a
    file system."""
    return unquote(unquote(segment)) in (".", "..")
