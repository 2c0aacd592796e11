"""Tools as a copilot sees them: descriptions written for a model, annotations, bounded answers.

Everything here is plain data; `server.py` wraps it in MCP types, `lakegate tools export` in
OpenAI / Anthropic shapes.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from lakegate.copilot.policy import SQL_ANSWER_TOOLS, ToolPlan, returns_rows, tool_kind
from lakegate.errors import LakegateError
from lakegate.secrets import redact, redact_data

__all__ = [
    "Answer",
    "annotations_for",
    "answer_for",
    "default_warehouse",
    "describe",
    "export_tools",
    "instructions",
    "model_hint",
    "output_schema",
    "returns_rows",
    "shape_answer",
    "statement_state",
    "tool_kind",
]

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


def describe(
    plan: ToolPlan,
    policy: Any,
    exposed: set[str] | None = None,
    warehouse: str | None = None,
) -> str:
    """The tool's description, written for a model, from the action and the effective policy.

    `warehouse` names the default SQL warehouse (e.g. "Starter (abc123)") for tools running SQL.
    """
    action = plan.action
    base = (getattr(action, "description", "") or "").strip()
    if not base:
        where = action.path or action.handler or ""
        base = f"Calls {action.method} {where} on the {action.connector} connector."
    parts = [base if base.endswith((".", "!", "?")) else base + "."]
    risk = plan.risk
    if risk == "destructive":  # read or write is in the annotations
        parts.append(
            "DESTRUCTIVE: describe the effect to the user, get their explicit approval, then "
            "call with confirm: true."
        )
    kind = tool_kind(action)
    pinned = getattr(policy, "pinned", None)
    pins = []
    if kind == "execute_sql" and warehouse:
        forced = "warehouse_id" in plan.forced
        pins.append(f"runs on the {'pinned' if forced else 'default'} SQL warehouse {warehouse}")
    elif getattr(pinned, "warehouse_id", None) and "warehouse_id" in plan.forced:
        pins.append(f"runs on the pinned SQL warehouse {warehouse or pinned.warehouse_id}")
    if _scoped(plan):
        if getattr(pinned, "catalogs", None):
            pins.append(f"catalogs allowed: {', '.join(pinned.catalogs)}")
        if getattr(pinned, "schemas", None):
            pins.append(f"schemas allowed: {', '.join(pinned.schemas)}")
    if pins:
        parts.append(_sentence("; ".join(pins)))
    others = exposed or set()
    caps = getattr(policy, "caps", None)
    if kind == "execute_sql":
        deadline = (
            f"default {min(caps.deadline_s, 45):g} s, at most {caps.deadline_s:g} s"
            if caps is not None
            else "default 45 s"
        )
        follow = [t for t in ("get_statement", "cancel_statement") if t in others]
        parts.append(
            f"Past deadline_s ({deadline}) a running statement is not canceled: the "
            "answer is its statement_id" + (f", for {' or '.join(follow)}." if follow else ".")
        )
    if caps is not None and returns_rows(plan.action):
        items = "rows" if kind in SQL_ANSWER_TOOLS else "items"
        parts.append(f"At most {caps.max_rows} {items}, {caps.max_bytes} bytes per answer.")
    return " ".join(parts)


_SCOPE_INPUTS = {"catalog", "catalog_name", "schema", "schema_name", "statement", "sql", "query"}


def _scoped(plan: ToolPlan) -> bool:
    """Whether the pinned catalogs/schemas matter to this tool (it names or browses them)."""
    names = set(plan.input_schema.get("properties", {})) | set(plan.forced)
    path = str(getattr(plan.action, "path", "") or "")
    return bool(names & _SCOPE_INPUTS) or path.endswith(("/catalogs", "/schemas", "/tables"))


def output_schema(plan: ToolPlan) -> dict[str, Any] | None:
    """The JSON Schema of the tool's structured answer, for the SQL answer contract."""
    kind = tool_kind(plan.action)
    if kind not in SQL_ANSWER_TOOLS or not getattr(plan.action, "handler", None):
        return None
    from lakegate.databricks.answer import ANSWER_SCHEMA, SQL_OUTPUT_SCHEMA

    return ANSWER_SCHEMA if kind == "fetch_rows" else SQL_OUTPUT_SCHEMA


def default_warehouse(project: Any, exposed: list[ToolPlan]) -> str | None:
    """The warehouse SQL runs on: the pinned one, else the SQL connector's default."""
    pinned = getattr(project.copilot.pinned, "warehouse_id", None)
    if pinned:
        return str(pinned)
    for plan in exposed:
        if tool_kind(plan.action) == "execute_sql":
            connector = project.connectors.get(plan.action.connector)
            found = (getattr(connector, "defaults", None) or {}).get("warehouse_id")
            return str(found) if found else None
    return None


def instructions(policy: Any, exposed: list[ToolPlan], warehouse: str | None) -> str:
    """The server's `instructions`: where SQL runs and how its answers read."""
    names = {tool_kind(p.action) for p in exposed}
    parts = ["Databricks and other APIs as tools, guarded by lakegate."]
    if "execute_sql" in names:
        if warehouse:
            parts.append(f"SQL runs on the SQL warehouse {warehouse}.")
        parts.append(
            "Every SQL answer has columns (name, type), rows (an array of arrays, or a TSV "
            "string without header for many rows), row_count, total_row_count, truncated and "
            "truncated_reason; when truncated, pass its `next` object to fetch_rows for more. "
            "A statement still running answers with statement_id and state: call get_statement."
        )
    pinned = getattr(policy, "pinned", None)
    if getattr(pinned, "catalogs", None):
        parts.append(f"Only these catalogs may be used: {', '.join(pinned.catalogs)}.")
    parts.append("Errors come back as tool results with a code, a message and a hint: follow it.")
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
            tool = {
                "name": plan.name,
                "description": description,
                "inputSchema": schema,
                "annotations": annotations_for(plan),
            }
            if output_schema(plan) is not None:
                tool["outputSchema"] = output_schema(plan)
            out.append(tool)
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


def answer_for(plan: ToolPlan, data: Any, *, max_rows: int, max_bytes: int) -> Answer:
    """The answer to hand on: SQL answers are already bounded by their handler (redacted only,
    never cut again: a second cut would break rows or the contract); the rest is shaped here."""
    kind = tool_kind(plan.action)
    if kind == "list_warehouses" and data == []:  # say why, or a model concludes there is none
        data = {"warehouses": [], "note": NO_WAREHOUSE}
    if kind not in SQL_ANSWER_TOOLS or not isinstance(data, dict) or not plan.action.handler:
        return shape_answer(data, max_rows=max_rows, max_bytes=max_bytes)
    sid, state = statement_state(data)
    if "rows" in data:  # a result: its id only matters in `next`, which carries it
        data = {k: v for k, v in data.items() if k != "statement_id"}
    shaped, text = _redacted_copy(data)
    rows = shaped.get("row_count")
    return Answer(shaped, bool(shaped.get("truncated")), rows, sid, state, None, text)


NO_WAREHOUSE = (
    "No SQL warehouse is visible to this principal: Databricks lists only warehouses it may "
    "manage, and no default warehouse is set or usable. Tell the user: an administrator must "
    "grant CAN_USE on a warehouse and make it the default."
)
# Hints written for a person at a terminal: commands, flags, lakegate.yaml keys.
_PERSON_WORDS = re.compile(
    r"`lakegate |lakegate (doctor|action|connector|secret|databricks|serve|call|test|tools)\b"
    r"|lakegate\.yaml|\.yaml\b|`[a-z_]+:|--[a-z]|action's path|copilot\.|read_only"
    r"|timeout_s|max_response_bytes",
    re.IGNORECASE,
)
_NOT_FOUND_HINT = (
    "Check the name or id: list_catalogs, list_schemas and list_tables show what exists, "
    "describe_table a table's columns."
)
_FAMILY_HINTS = {
    "auth": "lakegate could not sign in to the service: tell the user; an administrator must "
    "fix the connection (retrying will not help).",
    "config": "lakegate is not set up for this: tell the user; an administrator must fix it.",
    "request": "Check the arguments against the tool's inputSchema, then try again.",
    "remote": "The service refused the request: check the arguments, or ask for less.",
    "policy": "The copilot's policy does not allow this; do not retry it.",
}


def model_hint(error: LakegateError) -> str:
    """The hint a model reads: what to change in its own call, never a command or a yaml key."""
    code, hint = error.code, error.hint or ""
    reason = error.details.get("reason")
    if code == "policy.read_only":
        if reason == "multiple_statements":
            return "Send exactly one SQL statement per call."
        if reason == "file_access":
            return "Files and URLs cannot be read through SQL here; query tables instead."
        return "This copilot may only read data: rewrite it as one SELECT (or SHOW, DESCRIBE)."
    if code == "remote.http_error" and (
        error.status == 404
        or error.details.get("error_code") in ("RESOURCE_DOES_NOT_EXIST", "NOT_FOUND")
    ):
        return _NOT_FOUND_HINT
    if code == "policy.warehouse_stopped":
        return (
            "Run it on a warehouse that is RUNNING (list_warehouses shows each one's state), or "
            "tell the user an operator must start this one; do not try to start it yourself."
        )
    if code == "request.timeout":
        return "Ask for less (filters, aggregates, LIMIT), or try again."
    if code == "remote.response_too_large":
        return "Ask for less: filter, aggregate, or ask for fewer items."
    if hint and not _PERSON_WORDS.search(hint):
        return hint
    return _FAMILY_HINTS.get(code.split(".", 1)[0], "Try a different request.")


def error_text(error: dict[str, Any]) -> str:
    """An error as a model reads it: code, message, and what to do next."""
    lines = [f"error {error.get('code', 'lakegate.error')}: {error.get('message', '')}"]
    status = error.get("status")
    if isinstance(status, int) and status >= 300:  # a failed statement's answer was a 200
        lines.append(f"status: {status}")
    if error.get("hint"):
        lines.append(f"hint: {error['hint']}")
    return redact("\n".join(lines))
