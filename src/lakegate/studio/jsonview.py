"""JSON as folded, highlighted HTML: `<details>` for objects and arrays, CSS classes for the rest.

No script and no inline style, so it works under the Studio's Content-Security-Policy. Every
string passes through the redactor and is escaped; long lists stop after `MAX_ITEMS`.
"""

from __future__ import annotations

import json
from typing import Any

from markupsafe import Markup, escape

from lakegate.secrets import redact

__all__ = ["json_html"]

MAX_ITEMS = 200
OPEN_DEPTH = 12  # expanded by default: a response is read, not explored; deeper ones fold


def json_html(value: Any) -> Markup:
    """The value as a tree of `<details>`; the root always open."""
    parts: list[str] = []
    _node(value, 0, parts)
    # Safe: every piece of data in `parts` went through `escape` in `_node` / `_leaf`.
    return Markup(f'<div class="json">{"".join(parts)}</div>')  # noqa: S704


def _node(value: Any, depth: int, out: list[str], key: str | None = None) -> None:
    label = f'<span class="j-key">{escape(redact(key))}</span>: ' if key is not None else ""
    if isinstance(value, dict | list) and value:
        is_dict = isinstance(value, dict)
        count = len(value)
        summary = (
            f"{{…}} {count} key{'s' if count != 1 else ''}"
            if is_dict
            else f"[…] {count} item{'s' if count != 1 else ''}"
        )
        opened = " open" if depth < OPEN_DEPTH else ""
        out.append(
            f'<details{opened}><summary>{label}<span class="j-fold">{summary}</span></summary>'
            '<div class="j-body">'
        )
        items = list(value.items()) if is_dict else list(enumerate(value))
        for item_key, item in items[:MAX_ITEMS]:
            _node(item, depth + 1, out, str(item_key) if is_dict else None)
        if len(items) > MAX_ITEMS:
            out.append(f'<div class="j-more">… {len(items) - MAX_ITEMS} more</div>')
        out.append("</div></details>")
        return
    out.append(f'<div class="j-line">{label}{_leaf(value)}</div>')


def _leaf(value: Any) -> str:
    if value is None:
        return '<span class="j-null">null</span>'
    if isinstance(value, bool):
        return f'<span class="j-bool">{"true" if value else "false"}</span>'
    if isinstance(value, int | float):
        return f'<span class="j-num">{escape(json.dumps(value))}</span>'
    if isinstance(value, dict):
        return '<span class="j-punct">{}</span>'
    if isinstance(value, list):
        return '<span class="j-punct">[]</span>'
    return (
        f'<span class="j-str">{escape(json.dumps(redact(str(value)), ensure_ascii=False))}</span>'
    )
