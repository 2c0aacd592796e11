"""Tools as a copilot sees them: descriptions written for a model, annotations, bounded answers.

Everything here is plain data; `server.py` wraps it in MCP types, `lakegate tools export` in
OpenAI / Anthropic shapes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from lakegate.copilot.policy import ToolPlan, tool_kind
from lakegate.secrets import redact, redact_data

__all__ = [
    "Answer",
    "annotations_for",
    "describe",
    "export_tools",
    "shape_answer",
    "statement_state",
    "tool_kind",
]

# Statement states that end a statement; a handle in any other state is still running.
TERMINAL_STATES = frozenset({"SUCCEEDED", "FAILED", "CANCELED", "CLOSED"})
STATEMENT_TOOLS = ("execute_sql", "get_statement", "fetch_rows", "cancel_statement")


def _title(name: str) -> str:
    return name.replace("_", " ").capitalize()


def annotations_for(plan: ToolPlan) -> dict[str, Any]:
    """MCP tool annotations from the action's risk and idempotency."""
    risk = plan.risk
    idempotent = getattr(plan.action, "idempotent", None)
    if idempotent is None:
        idempotent = bool(getattr(plan.action, "is_idempotent", risk == "read"))
    return {
        "title": _title(plan.name),
        "readOnlyHint": risk == "read",
        "destructiveHint": risk == "destructive",
        "idempotentHint": bool(idempotent),
        # Answers carry data other people wrote (table rows, job output): treat them as open world.
        "openWorldHint": True,
    }


def describe(plan: ToolPlan, policy: Any, exposed: set[str] | None = None) -> str:
    """The tool's description, written for a model: what it does, when, what it returns."""
    action = plan.action
    base = (getattr(action, "description", "") or "").strip()
    if not base:
        where = action.path or action.handler or ""
        base = f"Calls {action.method} {where} on the {action.connector} connector."
    parts = [base if base.endswith((".", "!", "?")) else base + "."]
    risk = plan.risk
    if risk == "read":
        parts.append("Read-only.")
    elif risk == "write":
        parts.append("Changes state in the remote system.")
    else:
        parts.append(
            "DESTRUCTIVE: describe the effect to the user, get their explicit approval, then "
            "call with confirm: true."
        )
    pinned = getattr(policy, "pinned", None)
    pins = []
    if getattr(pinned, "warehouse_id", None) and "warehouse_id" in plan.forced:
        pins.append(f"runs on the pinned SQL warehouse {pinned.warehouse_id}")
    if getattr(pinned, "catalogs", None):
        pins.append(f"catalogs allowed: {', '.join(pinned.catalogs)}")
    if getattr(pinned, "schemas", None):
        pins.append(f"schemas allowed: {', '.join(pinned.schemas)}")
    if pins:
        parts.append(_sentence("; ".join(pins)))
    kind = tool_kind(action)
    others = exposed or set()
    if kind == "execute_sql":
        follow = [t for t in ("get_statement", "fetch_rows", "cancel_statement") if t in others]
        parts.append(
            "Waits for the result until the deadline; if the statement is still running it "
            "returns its statement_id and state instead"
            + (f" (continue with {', '.join(follow)})." if follow else ".")
        )
    caps = getattr(policy, "caps", None)
    if risk == "read" and caps is not None:
        parts.append(
            f"Returns JSON, at most {caps.max_rows} rows/items and {caps.max_bytes} bytes "
            "(the answer says truncated: true when cut)."
        )
    return " ".join(parts)


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + "."


def export_tools(plans: list[ToolPlan], policy: Any, fmt: str) -> list[dict[str, Any]]:
    """Exposed tools in the shape another platform takes: `mcp`, `openai` or `anthropic`."""
    shown = [p for p in plans if p.exposed]
    names = {p.name for p in shown}
    out = []
    for plan in shown:
        description = describe(plan, policy, names)
        schema = {k: v for k, v in plan.input_schema.items() if k != "$schema"}
        if fmt == "openai":
            out.append(
                {
                    "type": "function",
                    "function": {
                        "name": plan.name,
                        "description": description,
                        "parameters": schema,
                    },
                }
            )
        elif fmt == "anthropic":
            out.append({"name": plan.name, "description": description, "input_schema": schema})
        else:
            out.append(
                {
                    "name": plan.name,
                    "description": description,
                    "inputSchema": schema,
                    "annotations": annotations_for(plan),
                }
            )
    return out


# -- answers ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """A tool's answer, bounded in rows and bytes, as data and as the JSON text a model reads."""

    data: Any
    truncated: bool
    row_count: int | None
    statement_id: str | None
    state: str | None
    run_id: Any
    text: str = ""


def statement_state(data: Any) -> tuple[str | None, str | None]:
    """(statement_id, state) when the data describes a SQL statement."""
    if not isinstance(data, dict):
        return None, None
    sid = data.get("statement_id")
    state = data.get("state")
    status = data.get("status")
    if state is None and isinstance(status, dict):
        state = status.get("state")
    return (str(sid) if sid else None), (str(state) if state else None)


def _row_count(data: Any) -> int | None:
    if isinstance(data, list):
        return len(data)
    if isinstance(data, dict):
        for key in ("row_count", "total_row_count"):
            if isinstance(data.get(key), int):
                return data[key]
        lists = [v for v in data.values() if isinstance(v, list)]
        if lists:
            return max(len(v) for v in lists)
    return None


def _cap_rows(data: Any, max_rows: int, depth: int = 0) -> tuple[Any, bool]:
    if isinstance(data, list):
        cut = len(data) > max_rows
        return data[:max_rows], cut
    if isinstance(data, dict) and depth < 2:
        cut = False
        out = {}
        for key, value in data.items():
            out[key], was_cut = _cap_rows(value, max_rows, depth + 1)
            cut = cut or was_cut
        return out, cut
    return data, False


def _dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, default=str, separators=(",", ":"))


def _longest_list(data: Any, depth: int = 0) -> list[Any] | None:
    best: list[Any] | None = data if isinstance(data, list) and len(data) > 1 else None
    children = data.values() if isinstance(data, dict) else []
    if depth < 2:
        for child in children:
            found = _longest_list(child, depth + 1)
            if found is not None and (best is None or len(found) > len(best)):
                best = found
    return best


def _redacted_copy(data: Any) -> tuple[Any, str]:
    """A redacted deep copy of `data` and its JSON text, from one serialisation."""
    text = _dumps(data)
    if "\\" in text:  # escaped characters: a secret may hide behind an escape, redact per string
        data = redact_data(data)
        text = _dumps(data)
    else:  # one regex pass over the text is far cheaper than one per string
        text = redact(text)
    return json.loads(text), text


def shape_answer(data: Any, *, max_rows: int, max_bytes: int) -> Answer:
    """Redact, then cut lists to `max_rows` and the whole to `max_bytes` of JSON."""
    sid, state = statement_state(data)
    run_id = data.get("run_id") if isinstance(data, dict) else None
    rows = _row_count(data)
    shaped, text = _redacted_copy(data)
    shaped, truncated = _cap_rows(shaped, max_rows)
    if truncated:
        text = _dumps(shaped)
    while len(text.encode()) > max_bytes:
        longest = _longest_list(shaped)
        truncated = True
        if longest is None:
            shaped = {"text": text[: max(0, max_bytes - 64)], "truncated": True}
            text = _dumps(shaped)
            break
        del longest[max(1, len(longest) // 2) :]
        text = _dumps(shaped)
    if truncated and isinstance(shaped, dict) and "truncated" not in shaped:
        shaped["truncated"] = True
        text = _dumps(shaped)
    elif truncated and not isinstance(shaped, dict):
        text += "\n(truncated: the answer was cut to the copilot policy's caps)"
    return Answer(shaped, truncated, rows, sid, state, run_id, text)


def error_text(error: dict[str, Any]) -> str:
    """An error as a model reads it: code, message, and what to do next."""
    lines = [f"error {error.get('code', 'lakegate.error')}: {error.get('message', '')}"]
    if error.get("status"):
        lines.append(f"status: {error['status']}")
    if error.get("hint"):
        lines.append(f"hint: {error['hint']}")
    return redact("\n".join(lines))
