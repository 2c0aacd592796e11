"""The `copilot:` policy: which actions a copilot sees, with what schema, and what a call may do.

Pure functions over the project's models (`CopilotPolicy`, `Action`): no I/O, no MCP types.
The MCP server, `lakegate tools export` and the Studio all ask this module the same questions.
"""

from __future__ import annotations

import copy
import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any

from lakegate.copilot.arguments import check_arguments
from lakegate.copilot.scope import (
    check_pair,
    check_securable,
    check_sql_scope,
    filter_listing,
    scope_show,
)
from lakegate.errors import PolicyError

__all__ = [
    "CAP_ARGUMENTS",
    "SQL_ANSWER_TOOLS",
    "CallPlan",
    "ToolPlan",
    "check_sql_scope",
    "exposure",
    "filter_listing",
    "plan_tool",
    "plan_tools",
    "prepare_call",
    "returns_rows",
    "tool_kind",
]

PROFILES = ("readonly", "operator", "admin")
# Inputs that name a warehouse, catalog, schema or SQL text, by the names actions use for them.
WAREHOUSE_INPUTS = ("warehouse_id",)
CATALOG_INPUTS = ("catalog", "catalog_name")
SCHEMA_INPUTS = ("schema", "schema_name")
SQL_INPUTS = ("statement", "sql", "query")
# Inputs that name a securable by its full name, whatever the action does with them.
FULL_NAME_INPUTS = ("full_name", "table_full_name", "full_table_name")
# Where an action puts an input into a Unity Catalog path: what kind of name it is.
_UC_PATH_INPUT = re.compile(
    r"/unity-catalog/(?P<kind>catalogs|schemas|tables|volumes|functions|models)/"
    r"\{\{\s*(?P<input>\w+)\s*\}\}"
)
_TEMPLATE = re.compile(r"^\s*\{\{\s*(\w+)\s*\}\}\s*$")
# Action inputs that already bound an answer: capped like the server's own arguments.
CAP_ALIASES = {
    "max_rows": ("max_rows", "row_limit"),
    "max_bytes": ("max_bytes", "byte_limit"),
    "deadline_s": ("deadline_s", "timeout_s"),
}
# Arguments the server adds to read tools so a model can ask for less than the caps. Only row
# caps are shown, and only on tools that answer with a list: bytes and time stay enforced.
CAP_ARGUMENTS = ("max_rows",)
CAP_MINIMUMS = {"max_rows": 1, "max_bytes": 1024}
# Tools that answer in the SQL answer contract (their handler bounds the answer itself).
SQL_ANSWER_TOOLS = ("execute_sql", "get_statement", "fetch_rows")
CONFIRM = "confirm"


@dataclass(frozen=True)
class ToolPlan:
    """What a copilot sees of one action: exposed or not (and why), schema, pins, caps."""

    name: str
    action: Any
    exposed: bool
    reason: str
    input_schema: dict[str, Any] = field(default_factory=dict)
    forced: dict[str, Any] = field(default_factory=dict)
    enums: dict[str, list[str]] = field(default_factory=dict)
    cap_inputs: dict[str, str] = field(default_factory=dict)  # action input -> cap name
    server_caps: tuple[str, ...] = ()  # cap arguments the server consumes itself
    confirm_required: bool = False
    own_statements_only: bool = False  # exposed as execute_sql's companion: its statements only

    @property
    def risk(self) -> str:
        return str(getattr(self.action, "risk", "read") or "read")


@dataclass(frozen=True)
class CallPlan:
    """One validated call: the inputs to send and the bounds of its answer."""

    inputs: dict[str, Any]
    max_rows: int
    max_bytes: int
    deadline_s: float


# -- exposure ---------------------------------------------------------------------------------


def _profile(policy: Any) -> str:
    profile = str(getattr(policy, "profile", "readonly") or "readonly")
    return profile if profile in PROFILES else "readonly"


def writes_allowed(policy: Any) -> bool:
    return _profile(policy) in ("operator", "admin") or bool(getattr(policy, "allow_writes", False))


def exposure(policy: Any, action: Any) -> tuple[bool, str]:
    """Whether the policy exposes `action` as a tool, and the reason in words."""
    name = action.name
    allow = getattr(policy, "tools", None)
    if allow is not None and name not in allow:
        return False, "not in copilot.tools"
    risk = str(getattr(action, "risk", "read") or "read")
    profile = _profile(policy)
    if risk == "write" and not writes_allowed(policy):
        return False, f"write tool; profile {profile} does not allow writes"
    if risk == "destructive" and profile != "admin":
        return False, f"destructive tool; only profile admin exposes it (profile is {profile})"
    if allow is not None:
        return True, "listed in copilot.tools"
    return True, f"{risk} tool under profile {profile}"


# -- schemas ----------------------------------------------------------------------------------


def _pins(policy: Any) -> Any:
    return getattr(policy, "pinned", None)


def _caps(policy: Any) -> tuple[int, int, float]:
    caps = getattr(policy, "caps", None)
    return (
        int(getattr(caps, "max_rows", 200) or 200),
        int(getattr(caps, "max_bytes", 65536) or 65536),
        float(getattr(caps, "deadline_s", 45) or 45),
    )


def _allowed_catalogs(policy: Any) -> list[str]:
    return list(getattr(_pins(policy), "catalogs", None) or [])


def _allowed_schemas(policy: Any) -> list[str]:
    return list(getattr(_pins(policy), "schemas", None) or [])


def _bare_schemas(policy: Any) -> list[str]:
    names = [s.rsplit(".", 1)[-1] for s in _allowed_schemas(policy)]
    return sorted(dict.fromkeys(names))


def plan_tool(policy: Any, action: Any, defaults: dict[str, Any] | None = None) -> ToolPlan:
    """The tool a copilot would see for `action` under `policy` (exposed or not).

    `defaults` are the connector's default inputs: inputs they cover are optional.
    """
    exposed, reason = exposure(policy, action)
    schema = copy.deepcopy(action.input_schema(defaults or {}))
    schema.setdefault("type", "object")
    props: dict[str, Any] = schema.setdefault("properties", {})
    required: list[str] = list(schema.get("required", []))
    forced, enums = _pin_scope(policy, props, required)
    cap_inputs, server_caps = _bound_answers(policy, action, props)
    confirm_required = action_risk(action) == "destructive"
    if confirm_required:
        props[CONFIRM] = {
            "type": "boolean",
            "description": (
                "Must be true. Set it only after the user explicitly approved this destructive "
                "action in the conversation."
            ),
        }
    schema["required"] = required
    if not required:
        schema.pop("required")
    return ToolPlan(
        name=action.name,
        action=action,
        exposed=exposed,
        reason=reason,
        input_schema=schema,
        forced=forced,
        enums=enums,
        cap_inputs=cap_inputs,
        server_caps=server_caps,
        confirm_required=confirm_required,
    )


def _pin_scope(
    policy: Any, props: dict[str, Any], required: list[str]
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Pin the warehouse, catalog and schema inputs to the policy's scope (edits the schema).

    Returns the inputs forced to their single allowed value and those narrowed to an enum.
    """
    forced: dict[str, Any] = {}
    enums: dict[str, list[str]] = {}

    def pin(names: tuple[str, ...], allowed: list[str]) -> None:
        for input_name in names:
            if input_name not in props or not allowed:
                continue
            if len(allowed) == 1:  # a single allowed value is forced and hidden from the model
                forced[input_name] = allowed[0]
                props.pop(input_name)
                if input_name in required:
                    required.remove(input_name)
            else:
                enums[input_name] = allowed
                props[input_name] = {**props[input_name], "enum": allowed}

    warehouse = getattr(_pins(policy), "warehouse_id", None)
    pin(WAREHOUSE_INPUTS, [warehouse] if warehouse else [])
    sql_schema = any(n in props for n in SQL_INPUTS) and not _bare_schemas(policy)
    if sql_schema and any(n in props for n in SCHEMA_INPUTS):
        # A forced catalog without a schema makes the warehouse look for <catalog>.default,
        # which need not exist: SQL names its catalog (the scope check asks for it) instead.
        for name in CATALOG_INPUTS:
            if name in props and _allowed_catalogs(policy):
                enums[name] = _allowed_catalogs(policy)
                props[name] = {**props[name], "enum": enums[name]}
    else:
        pin(CATALOG_INPUTS, _allowed_catalogs(policy))
    pin(SCHEMA_INPUTS, _bare_schemas(policy))
    return forced, enums


def _bound_answers(
    policy: Any, action: Any, props: dict[str, Any]
) -> tuple[dict[str, str], tuple[str, ...]]:
    """Cap the inputs that bound an answer at the policy's caps, and add the server's own.

    Returns the capped inputs (input -> cap name) and the cap arguments the server consumes.
    """
    max_rows, max_bytes, deadline_s = _caps(policy)
    limits = {"max_rows": max_rows, "max_bytes": max_bytes, "deadline_s": deadline_s}
    cap_inputs: dict[str, str] = {}
    for cap, aliases in CAP_ALIASES.items():
        for alias in aliases:
            if alias in props:
                cap_inputs[alias] = cap
                prop = props[alias] = dict(props[alias])
                if cap in CAP_MINIMUMS:
                    prop["minimum"] = CAP_MINIMUMS[cap]
                else:
                    prop["exclusiveMinimum"] = 0
                prop["maximum"] = limits[cap]
                if "default" in prop and prop["default"] is not None:
                    prop["default"] = min(prop["default"], limits[cap])
    server_caps: tuple[str, ...] = ()
    if action_risk(action) == "read" and returns_rows(action):
        covered = set(cap_inputs.values())
        server_caps = tuple(c for c in CAP_ARGUMENTS if c not in covered and c not in props)
        for cap in server_caps:
            props[cap] = _cap_property(cap, limits[cap])
    return cap_inputs, server_caps


def _cap_property(cap: str, limit: float) -> dict[str, Any]:
    return {"type": "integer", "minimum": 1, "maximum": limit, "description": "Most items."}


def returns_rows(action: Any) -> bool:
    """Whether the action answers with rows or a list (the only tools row caps apply to)."""
    if tool_kind(action) in SQL_ANSWER_TOOLS and getattr(action, "handler", None):
        return True
    if getattr(action, "pagination", None):
        return True
    output = str(getattr(action, "output", "") or "").strip()
    return re.match(r"^[\w.]*\[\*?\]", output) is not None  # a projection of a list


def action_risk(action: Any) -> str:
    return str(getattr(action, "risk", "read") or "read")


def tool_kind(action: Any) -> str:
    """What a tool is for the server's own logic: its handler's name, else the action's."""
    handler = getattr(action, "handler", None)
    return handler.rsplit(".", 1)[-1] if handler else action.name


def plan_tools(project: Any) -> list[ToolPlan]:
    """Plans for every action of a project, exposed or not, in the project's order.

    A copilot that may run SQL may also cancel the statements it started: `cancel_statement`
    (a write) is exposed beside an exposed `execute_sql`, limited to the server's own statements.
    """
    plans = []
    for action in project.actions.values():
        connector = project.connectors.get(action.connector)
        defaults = dict(getattr(connector, "defaults", None) or {})
        plans.append(plan_tool(project.copilot, action, defaults))
    runs_sql = any(p.exposed and tool_kind(p.action) == "execute_sql" for p in plans)
    allow = getattr(project.copilot, "tools", None)
    for index, plan in enumerate(plans):
        companion = tool_kind(plan.action) == "cancel_statement" and plan.risk == "write"
        if companion and runs_sql and not plan.exposed and allow is None:
            plans[index] = dataclasses.replace(
                plan,
                exposed=True,
                reason="companion of execute_sql: cancels only statements this server started",
                own_statements_only=True,
            )
    return plans


# -- calls ------------------------------------------------------------------------------------


def prepare_call(plan: ToolPlan, policy: Any, arguments: dict[str, Any] | None) -> CallPlan:
    """Validate a model's arguments and turn them into gateway inputs and answer bounds.

    Raises InputError for arguments that do not fit the schema and PolicyError for refusals.
    """
    if not plan.exposed:
        raise PolicyError(
            f"The tool {plan.name} is not available to copilots ({plan.reason}).",
            code="policy.not_exposed",
        )
    args = dict(arguments or {})
    _refuse_pinned(plan, args)
    check_arguments(plan.name, plan.input_schema, args)
    if plan.confirm_required and args.get(CONFIRM) is not True:
        raise PolicyError(
            f"{plan.name} is destructive and needs confirm: true.",
            code="policy.confirm_required",
            hint="Ask the user to approve this exact action, then call again with confirm: true.",
        )
    args.pop(CONFIRM, None)
    bounds = _answer_bounds(plan, policy, args)
    inputs = {**args, **plan.forced}
    _check_scope(plan, policy, inputs)
    return CallPlan(
        inputs=inputs,
        max_rows=int(bounds["max_rows"]),
        max_bytes=int(bounds["max_bytes"]),
        deadline_s=float(bounds["deadline_s"]),
    )


def _refuse_pinned(plan: ToolPlan, args: dict[str, Any]) -> None:
    """A pinned input is not in the schema: say so rather than "unknown property"."""
    overridden = sorted(k for k in args if k in plan.forced)
    if overridden:
        raise PolicyError(
            f"{plan.name}: {', '.join(overridden)} is pinned by the copilot policy and cannot "
            "be set.",
            code="policy.pinned",
            hint="Leave the argument out; lakegate supplies the pinned value.",
        )


def _answer_bounds(plan: ToolPlan, policy: Any, args: dict[str, Any]) -> dict[str, float]:
    """The policy's caps, lowered to what the call asks for (edits `args`).

    The server's own cap arguments leave `args`; a capping input left out is set to its cap.
    """
    max_rows, max_bytes, deadline_s = _caps(policy)
    bounds = {"max_rows": max_rows, "max_bytes": max_bytes, "deadline_s": deadline_s}
    for cap in plan.server_caps:
        if cap in args:
            bounds[cap] = min(bounds[cap], args.pop(cap))
    for input_name, cap in plan.cap_inputs.items():
        value = args.get(input_name)
        if isinstance(value, int | float) and not isinstance(value, bool):
            bounds[cap] = min(bounds[cap], value)
        elif value is None and cap != "deadline_s":  # ask the remote for no more than the cap
            args[input_name] = bounds[cap]
    return bounds


def _first(inputs: dict[str, Any], names: tuple[str, ...]) -> Any:
    return next((inputs[n] for n in names if inputs.get(n) is not None), None)


def securable_inputs(action: Any) -> dict[str, str]:
    """The action's inputs that name a Unity Catalog securable, and its kind (`catalogs`,
    `schemas`, `tables` ... or `securable`), read from where the action sends them. A schema
    name alone is checked with its catalog (SCHEMA_INPUTS)."""
    found = {name: "securable" for name in FULL_NAME_INPUTS if name in action.inputs}
    for match in _UC_PATH_INPUT.finditer(action.path or ""):
        found[match.group("input")] = match.group("kind")
    for key, value in (action.query or {}).items():
        template = _TEMPLATE.match(value) if isinstance(value, str) else None
        if template is None:
            continue
        if key in CATALOG_INPUTS:
            found[template.group(1)] = "catalogs"
        elif key in FULL_NAME_INPUTS:
            found[template.group(1)] = "securable"
    return found


def _check_scope(plan: ToolPlan, policy: Any, inputs: dict[str, Any]) -> None:
    catalogs, schemas = _allowed_catalogs(policy), _allowed_schemas(policy)
    if not catalogs and not schemas:
        return
    catalog = _first(inputs, CATALOG_INPUTS)
    schema = _first(inputs, SCHEMA_INPUTS)
    if catalog is not None or schema is not None:
        check_pair(catalog, schema, catalogs, schemas)
    for name, kind in securable_inputs(plan.action).items():
        value = inputs.get(name)
        if isinstance(value, str):
            check_securable(kind, value, catalogs, schemas)
    for key in SQL_INPUTS:
        sql = inputs.get(key)
        if not isinstance(sql, str):
            continue
        check_sql_scope(
            sql,
            catalogs=catalogs,
            schemas=schemas,
            default_catalog=catalog,
            default_schema=schema,
        )
        # SHOW CATALOGS / SCHEMAS / TABLES stay allowed, narrowed to the scope.
        inputs[key] = scope_show(sql, catalogs, schemas, default_catalog=catalog)
