"""Test connection on a connector page and the Copilot page's warehouse list: one cheap call
through the Gateway (which gets the token), the doctor's diagnosis when it fails, and every
message in the form's terms rather than the CLI's or the YAML's."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup, escape

from lakegate.databricks.doctor import Step, diagnose
from lakegate.errors import LakegateError
from lakegate.gateway import Gateway
from lakegate.project import Action, Connector, OAuth2Auth, Project
from lakegate.secrets import SecretStore, redact
from lakegate.studio.connector_form import LABELS

__all__ = [
    "ConnectionCheck",
    "check_connection",
    "form_terms",
    "is_databricks",
    "step_view",
    "warehouses",
]

PROBE = "studio_connection_probe"  # an in-memory action: never saved
WAREHOUSES = "/api/2.0/sql/warehouses"
PROBE_BUDGET_S = 10.0  # a page waits for these calls: an unreachable host must not hang it

# What the CLI and the YAML call a thing -> (the form's label, the field's id on the page).
_LINKED = ("base_url", "token_url", "client_id", "client_secret", "client_auth", "scope")
FIELDS = {
    **{key: LABELS[key] for key in _LINKED},
    "timeout_s": ("the action's timeout", ""),
}
_AUTH_LABELS = {"bearer": "Bearer token", "basic": "Basic"}
# (pattern on the escaped text, replacement), most specific first
_PHRASES: list[tuple[str, Any]] = [
    (r"try `client_auth: auto`", "set Client authentication to “Auto (try body, then header)”"),
    (r"store it: `lakegate secret set \w+` \(pipe it in\)", "type it in the Client secret field"),
    (
        r"(store it )?with `lakegate secret set( [A-Za-z_]+)?`( \([^)]*\))?",
        "by typing it in the connector's secret field (it goes to the local secret store)",
    ),
    (r"`lakegate secret set( [A-Za-z_]+)?`", "the connector's secret field"),
    (
        r"To tell a wrong secret from an unassigned principal, run again with "
        r"`--account-host` \([^)]*\)\.",
        "If the secret is right, the service principal is not assigned to this workspace: "
        "check the account console (Workspaces &gt; this workspace &gt; Permissions). "
        "`lakegate databricks doctor --account-host URL` tells the two apart.",
    ),
    (
        r"`lakegate databricks connect --warehouse-id ID`",
        'the Pinned warehouse on the <a href="/copilot">Copilot page</a>',
    ),
    (r"\(ids from `lakegate call list_warehouses`\)", ""),
    (r"`lakegate call (\w+)`", r"the \1 action"),
    (
        r"--auth api_key --api-key-(header|query) (\S+?)(?=[).]| instead)",
        r"Auth type “API key” with the \1 \2",
    ),
    (
        r"e\.g\. lakegate connector add NAME --base-url (\S+) --auth basic( --username (\S+))? "
        r"--password-env VAR\.",
        r"e.g. a new connector with Base URL \1 and Auth type “Basic”.",
    ),
    (r"--auth (bearer|basic)\b", lambda m: f"Auth type “{_AUTH_LABELS[m.group(1)]}”"),
    (
        r"e\.g\. lakegate connector add NAME --base-url (\S+) --auth \.\.\.",
        r"e.g. a new connector with Base URL \1",
    ),
    (r"lakegate connector add NAME --base-url (\S+)[^.]*", r"a new connector with Base URL \1"),
    (r" in lakegate\.yaml", ""),
    (r"under the connector's `auth:`", "in the connector's Authentication fields"),
    (r"\b(on|in) the connector\b", "in the form"),
]


def form_terms(text: str, page: str = "") -> Markup:
    """`text` escaped, with CLI and YAML wording replaced by the form's, field names linked
    (to `page`, the connector's page, when shown elsewhere)."""
    out = str(escape(redact(text)))
    for pattern, replacement in _PHRASES:
        out = re.sub(pattern, replacement, out)

    keys = "|".join(FIELDS)
    # One pass, so a link just made is never rewritten: `key: value`, `key`, a bare key_name.
    pattern = rf"`({keys}): ([^`]*)`|`({keys})`|\b({keys})\b(?!-)|`([^`]+)`"

    def term(match: re.Match[str]) -> str:
        setting, value, quoted, bare, command = match.groups()
        if setting:
            return f"{_link(setting, page)} “{value.strip()}”"
        if quoted or (bare and "_" in bare):
            return _link(quoted or bare, page)
        if bare:
            return bare  # a plain word ("scope") stays a word
        return f"<code>{command}</code>"  # what is left is a terminal command

    out = re.sub(pattern, term, out)
    return Markup(out)  # noqa: S704 - built from escaped text and fixed markup only


def _link(key: str, page: str = "") -> str:
    label, anchor = FIELDS.get(key, (key, ""))
    return f'<a href="{page}#{anchor}">{label}</a>' if anchor else label


@dataclass
class ConnectionCheck:
    """What Test connection found."""

    ok: bool
    summary: str
    error: str = ""
    hint: Markup | str = ""
    steps: list[dict[str, Any]] = field(default_factory=list)


def is_databricks(connector: Connector) -> bool:
    """The Databricks REST API is there: a workspace host, or its OIDC token endpoint."""
    auth = connector.auth
    token_url = auth.token_url if isinstance(auth, OAuth2Auth) else ""
    return "databricks" in connector.base_url or token_url.endswith("/oidc/v1/token")


def _probe(project: Project, connector: Connector) -> Action:
    """The cheapest read to prove the credentials work."""
    if is_databricks(connector):
        count = "length(warehouses || `[]`)"
        return Action(name=PROBE, connector=connector.name, path=WAREHOUSES, output=count)
    for action in project.actions.values():
        required = any(i.required and i.default is None for i in action.inputs.values())
        mine = action.connector == connector.name and action.risk == "read"
        if mine and action.path and not required:
            return action.model_copy(update={"name": PROBE})
    return Action(name=PROBE, connector=connector.name, path="/")


async def check_connection(
    project: Project, name: str, secret_store: SecretStore | None = None
) -> ConnectionCheck:
    """Token + one cheap call through the Gateway; on failure, the doctor's diagnosis.
    `secret_store` holds the secrets of a connector not saved yet (Test before Save)."""
    connector = project.connector(name)
    probe = _probe(project, connector)
    project.set_action(PROBE, probe)  # in memory only: a check never writes the file
    async with Gateway(project, budget_s=PROBE_BUDGET_S, secret_store=secret_store) as gateway:
        result = await gateway.test(PROBE, {})
    request = f"{probe.method} {probe.path}"
    if result.ok:
        token = " token obtained," if isinstance(connector.auth, OAuth2Auth) else ""
        summary = (
            f"{request} answered {result.status} in {result.elapsed_ms:.0f} ms;{token} "
            "the credentials work."
        )
        if probe.path == WAREHOUSES:
            summary += f" {result.data} SQL warehouse(s) visible."
            if not result.data:
                summary += " " + NO_WAREHOUSES
        return ConnectionCheck(True, summary)
    error = result.error
    hint = form_terms(error.hint) if error and error.hint else ""
    if result.status == 404:  # the host answered, but not at the probe's path
        hint = form_terms(
            f"The server answers, but has no {probe.path}: check that base_url is the API's "
            "root (for Databricks, the workspace URL without a path)."
        )
    check = ConnectionCheck(
        False,
        f"{request}: " + (f"status {result.status}" if result.status else _no_answer(error)),
        error=redact(error.message).replace(f"'{PROBE}'", "the connection test") if error else "",
        hint=hint,
    )
    try:
        steps = await diagnose(project, name, secret_store=secret_store)
    except LakegateError as exc:
        check.steps = [{"name": "diagnosis", "status": "failed", "detail": "",
                        "cause": redact(exc.message), "fix": form_terms(exc.hint)}]  # fmt: skip
        return check
    check.steps = [step_view(step) for step in steps]
    if any(step["status"] == "failed" and step["fix"] for step in check.steps):
        # The diagnosis tried more (both client authentications, the account...): its fix is
        # the one that holds, and a second "How to fix" above it would contradict it.
        check.hint = ""
    return check


# A principal that signs in but may manage no warehouse lists none (CAN_USE alone lists nothing).
NO_WAREHOUSES = (
    "None is visible to this principal: Databricks lists only the warehouses it may manage. "
    "Grant it CAN_USE on one (Permissions on the warehouse) and pin it on the Copilot page, "
    "or run `lakegate databricks setup --grant-warehouse ID`."
)


def _no_answer(error: LakegateError | None) -> str:
    """What stopped the call when no status came back: the token, or the connection."""
    if error is not None and error.code.startswith("auth."):
        return "no token (nothing was sent to the API)"
    return "no answer"


def step_view(step: Step, page: str = "") -> dict[str, Any]:
    return {
        "name": step.name,
        "status": step.status,
        "detail": redact(step.detail),
        "cause": redact(step.cause),
        "fix": form_terms(step.fix, page) if step.fix else "",
    }


async def warehouses(project: Project) -> tuple[list[dict[str, Any]], str]:
    """The SQL warehouses of the project's first Databricks connector, or ([], why not)."""
    found = next((c for c in project.connectors.values() if is_databricks(c)), None)
    if found is None:
        return [], "No Databricks connector yet: type the warehouse id."
    project.set_action(
        PROBE,
        Action(name=PROBE, connector=found.name, path=WAREHOUSES,
               output="warehouses[].{id: id, name: name, state: state}"),
    )  # fmt: skip
    async with Gateway(project, budget_s=PROBE_BUDGET_S) as gateway:
        result = await gateway.test(PROBE, {})
    if not result.ok or not isinstance(result.data, list):
        message = redact(result.error.message) if result.error else "no list came back"
        return [], f"Could not list the warehouses of {found.name} ({message}): type the id."
    return [w for w in result.data if isinstance(w, dict) and w.get("id")], ""
