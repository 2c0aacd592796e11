"""A destructive call approved by the person too, through the client's form when it has one.

`confirm: true` in the arguments is the model's word; elicitation asks the user directly.
"""

from __future__ import annotations

from typing import Any

import mcp_types as types
from mcp.server.context import ServerRequestContext

from lakegate.copilot.policy import ToolPlan
from lakegate.errors import PolicyError
from lakegate.secrets import redact

__all__ = ["confirm_with_user"]

APPROVAL_FORM = {
    "type": "object",
    "properties": {
        "approve": {
            "type": "boolean",
            "title": "Approve",
            "description": "Run this destructive action now.",
        }
    },
    "required": ["approve"],
}


async def confirm_with_user(
    ctx: ServerRequestContext[Any], plan: ToolPlan, inputs: dict[str, Any]
) -> None:
    """Ask the person too when the client can show a form: `confirm` alone is the model."""
    capability = types.ClientCapabilities(elicitation=types.ElicitationCapability())
    if not ctx.session.check_client_capability(capability) or not ctx.session.can_send_request:
        return
    shown = ", ".join(f"{k}={v!r}" for k, v in sorted(inputs.items()))
    try:
        reply = await ctx.session.elicit_form(
            redact(f"The copilot wants to run the destructive action {plan.name} ({shown})."),
            APPROVAL_FORM,
            related_request_id=ctx.request_id,
        )
    except Exception as exc:
        raise PolicyError(
            f"{plan.name} needs the user's approval, and asking for it failed "
            f"({type(exc).__name__}).",
            code="policy.confirm_failed",
            hint="Try again; the user must approve destructive actions.",
        ) from None
    content = reply.content or {}
    if reply.action != "accept" or content.get("approve") is not True:
        raise PolicyError(
            f"The user did not approve {plan.name}.",
            code="policy.declined",
            hint="Do not retry unless the user asks for it again.",
        )
