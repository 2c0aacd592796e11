"""The connector form: what the user typed, kept whole across re-renders, and turned into a model.

A draft is the form's state, not the model's: it holds invalid values too, so a page that
shows an error shows everything the user typed. Secrets are the exception: the page never
carries one; a typed secret waits in the session (`Session.keep`) until the connector is saved.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from starlette.datastructures import FormData

from lakegate.authconfig import field_problems
from lakegate.connectors import build_connector, parse_pair, secret_destination, typed_secret
from lakegate.project import Connector
from lakegate.secrets import (
    SecretStore,
    has_value,
    is_reference,
    origin_of,
    parse_reference,
    register_secret,
)
from lakegate.studio.forms import note_problems
from lakegate.studio.security import Session
from lakegate.studio.shortcut import workspace_url

__all__ = ["AUTH_TYPES", "LABELS", "ConnectorDraft", "SecretSlot"]

AUTH_TYPES = (
    ("oauth2", "OAuth 2.0"),
    ("api_key", "API key"),
    ("bearer", "Bearer token"),
    ("basic", "Basic (user and password)"),
    ("none", "No authentication"),
)
GRANT_TYPES = (
    ("client_credentials", "Client credentials"),
    ("refresh_token", "Refresh token"),
    ("password", "Password"),
)
CLIENT_AUTH = (
    ("request_body", "Request body"),
    ("basic_header", "Basic header"),
    ("auto", "Auto (try body, then header)"),
)
SECRET_LABELS = {
    "client_secret": "Client secret",
    "refresh_token": "Refresh token",
    "password": "Password",
    "key": "API key",
    "token": "Token",
}
# form field -> (its label, the id the error summary links to)
LABELS = {
    "name": ("Name", "f-name"),
    "description": ("Description", "f-description"),
    "base_url": ("Base URL", "f-base_url"),
    "databricks_host": ("Databricks workspace URL", "f-databricks_host"),
    "auth_type": ("Auth type", "f-auth_type"),
    "grant_type": ("Grant type", "f-grant_type"),
    "token_url": ("Token URL", "f-token_url"),
    "client_id": ("Client ID", "f-client_id"),
    "scope": ("Scope", "f-scope"),
    "client_auth": ("Client authentication", "f-client_auth"),
    "username": ("Username", "f-username"),
    "header": ("Header", "f-header"),
    "query_param": ("Query parameter", "f-query_param"),
    "pattern": ("Value pattern", "f-pattern"),
    "extra_token_params": ("Extra token request parameters", "f-extra_token_params"),
    **{key: (label, f"f-{key}") for key, label in SECRET_LABELS.items()},
}
_PLAIN = (
    "description", "base_url", "grant_type", "token_url", "client_id", "scope", "client_auth",
    "username", "header", "query_param", "pattern", "extra_token_params", "databricks_host",
)  # fmt: skip


@dataclass
class SecretSlot:
    """How a write-only field looks: its status, never its value."""

    field: str
    label: str
    required: bool
    status: str  # "set" | "not set" | "new value entered" | "uses ${env:X}"
    reference: str | None
    pending_key: str | None

    @property
    def is_set(self) -> bool:
        return self.status != "not set"


@dataclass
class ConnectorDraft:
    """The connector form's state."""

    name: str = ""
    description: str = ""
    base_url: str = ""
    read_only: bool = False
    auth_type: str = "oauth2"
    grant_type: str = "client_credentials"
    token_url: str = ""
    client_id: str = ""
    scope: str = ""
    client_auth: str = "request_body"
    username: str = ""
    header: str = ""
    query_param: str = ""
    pattern: str = "%s"
    extra_token_params: str = ""  # one `key=value` per line
    databricks_host: str = ""
    pending: dict[str, str] = field(default_factory=dict)  # secret field -> session draft key
    errors: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @classmethod
    def from_connector(cls, connector: Connector) -> ConnectorDraft:
        auth = connector.auth
        values: dict[str, Any] = {}
        for key in _PLAIN:
            value = getattr(auth, key, None)
            if isinstance(value, str):
                values[key] = value
        params = getattr(auth, "extra_token_params", None) or {}
        return cls(
            name=connector.name,
            description=connector.description,
            base_url=connector.base_url,
            read_only=connector.read_only,
            auth_type=auth.type,
            **{k: v for k, v in values.items() if k not in ("description", "base_url")},
            extra_token_params="\n".join(f"{k}={v}" for k, v in params.items()),
        )

    @classmethod
    def from_form(cls, form: FormData, session: Session) -> ConnectorDraft:
        """The draft as submitted; typed secrets move into the session at once."""
        values = {key: str(form.get(key) or "").strip() for key in _PLAIN}
        auth_type = str(form.get("auth_type") or "oauth2")
        draft = cls(
            name=str(form.get("name") or "").strip(),
            read_only=form.get("read_only") == "on",
            auth_type=auth_type if auth_type in dict(AUTH_TYPES) else "oauth2",
            **values,
        )
        if draft.grant_type not in dict(GRANT_TYPES):
            draft.grant_type = "client_credentials"
        if draft.client_auth not in dict(CLIENT_AUTH):
            draft.client_auth = "request_body"
        for secret in SECRET_LABELS:
            typed = str(form.get(secret) or "")
            key = str(form.get(f"pending_{secret}") or "")
            if typed.strip():
                if not is_reference(typed.strip()):
                    register_secret(typed)
                draft.pending[secret] = session.keep(typed.strip())
            elif key in session.pending:
                draft.pending[secret] = key
        return draft

    def databricks_pending(self) -> bool:
        """A workspace URL was typed in the shortcut and not applied yet."""
        url, _, problem = workspace_url(self.databricks_host)
        return bool(self.databricks_host.strip()) and (bool(problem) or url != self.base_url)

    def apply_databricks(self) -> None:
        """The Databricks shortcut: everything the seed guide fills in, from the workspace URL.

        A value the user typed that the shortcut changes is named in a note, never replaced
        silently."""
        url, workspace_id, problem = workspace_url(self.databricks_host)
        if problem:
            self.errors["databricks_host"] = problem
            return
        self.databricks_host = url
        wanted = {
            "base_url": url,
            "token_url": f"{url}/oidc/v1/token",
            "auth_type": "oauth2",
            "grant_type": "client_credentials",
            "scope": "sql all-apis",
            "client_auth": "request_body",
        }
        defaults = ConnectorDraft()
        replaced = [
            f"{LABELS[key][0]} (was “{getattr(self, key)}”)"
            for key, value in wanted.items()
            if getattr(self, key) not in ("", getattr(defaults, key), value)
        ]
        for key, value in wanted.items():
            setattr(self, key, value)
        if not self.description:
            self.description = "Databricks workspace" + (f" {workspace_id}" if workspace_id else "")
        note = (
            f"Filled for Databricks from {url}: Base URL, Token URL, Scope and "
            "Client authentication."
        )
        if workspace_id:
            note += f" The ?o={workspace_id} part is the Azure workspace id, not needed in URLs."
        if replaced:
            note += " Replaced what you had typed: " + "; ".join(replaced) + "."
        self.notes.append(note)

    def hidden_fields(self) -> dict[str, str]:
        """Typed values the chosen auth type does not show, carried along so none is lost."""
        oauth = {
            "grant_type",
            "token_url",
            "client_id",
            "scope",
            "client_auth",
            "extra_token_params",
        }
        if self.grant_type == "password":
            oauth.add("username")
        shown = {"oauth2": oauth, "api_key": {"header", "query_param", "pattern"},
                 "basic": {"username"}}.get(self.auth_type, set())  # fmt: skip
        auth_keys = [k for k in _PLAIN if k not in ("description", "base_url", "databricks_host")]
        out = {k: getattr(self, k) for k in auth_keys if k not in shown and getattr(self, k)}
        visible = {name for name, _ in self.secret_fields()}
        out.update({f"pending_{k}": v for k, v in self.pending.items() if k not in visible})
        return out

    def secret_fields(self) -> list[tuple[str, bool]]:
        """(secret field, required) for the chosen auth type and grant."""
        if self.auth_type == "oauth2":
            if self.grant_type == "client_credentials":
                return [("client_secret", True)]
            needed = "refresh_token" if self.grant_type == "refresh_token" else "password"
            return [(needed, True), ("client_secret", False)]
        return {"api_key": [("key", True)], "bearer": [("token", True)]}.get(
            self.auth_type, [("password", True)] if self.auth_type == "basic" else []
        )

    def slots(
        self, existing: Connector | None, store: SecretStore, session: Session
    ) -> list[SecretSlot]:
        """The write-only fields with their status."""
        out = []
        for name, required in self.secret_fields():
            reference = self._saved_reference(existing, name)
            key = self.pending.get(name)
            value = session.pending.get(key) if key else None
            if value is not None:
                status = f"uses {value}" if is_reference(value) else "new value entered"
            elif reference is None:
                status = "not set"
            else:
                status = "set" if has_value(reference, store) else "not set"
            out.append(SecretSlot(name, SECRET_LABELS[name], required, status, reference, key))
        return out

    def _saved_reference(self, existing: Connector | None, name: str) -> str | None:
        if existing is None or existing.auth.type != self.auth_type:
            return None
        value = getattr(existing.auth, name, None)
        return value if isinstance(value, str) else None

    def build(
        self, name: str, existing: Connector | None, session: Session
    ) -> tuple[Connector | None, dict[str, str]]:
        """The connector this draft describes, and the secrets to store ({store name: value})."""
        auth: dict[str, Any] = {"type": self.auth_type}
        to_store: dict[str, str] = {}
        for secret, _required in self.secret_fields():
            key = self.pending.get(secret)
            value = session.pending.get(key) if key else None
            if value is not None:
                auth[secret], stored = typed_secret(name, secret, value)
                to_store |= stored
            elif (saved := self._saved_reference(existing, secret)) is not None:
                auth[secret] = saved
        auth.update(self._auth_fields())
        try:
            params = _key_values(self.extra_token_params)
        except ValueError as exc:
            self.errors["extra_token_params"] = str(exc)
            params = {}
        if self.auth_type == "oauth2" and params:
            auth["extra_token_params"] = params
        # What the form does not show is kept as it was.
        kept = (
            {"defaults": existing.defaults, "user_agent_extra": existing.user_agent_extra}
            if existing
            else {}
        )
        self._check_base_url()
        if self.auth_type == "oauth2" and not self.token_url:
            needed = "Required: the token endpoint, e.g. https://<host>/oidc/v1/token."
            self.errors["token_url"] = needed
        databricks_m2m = self.grant_type == "client_credentials" and self.token_url.rstrip(
            "/"
        ).endswith("/oidc/v1/token")
        if self.auth_type == "oauth2" and databricks_m2m and not self.scope.strip():
            # Databricks issues no token without a scope: the Test would fail with invalid_scope.
            self.errors["scope"] = (
                "Required by a Databricks token URL: sql all-apis (SQL and the REST APIs), or "
                "all-apis."
            )
        try:
            connector = build_connector(
                name,
                description=self.description,
                base_url=self.base_url,
                auth=auth,
                read_only=self.read_only,
                **kept,
            )
        except ValidationError as exc:  # the CLI reads the same problems, flag by flag
            shown = {*_PLAIN, *SECRET_LABELS, "name"}
            note_problems(self.errors, field_problems(exc, Connector), shown)
            return None, {}
        if self.errors:
            return None, {}
        return connector, to_store

    def check_secret_origins(
        self, connector: Connector, to_store: dict[str, str], store: SecretStore
    ) -> None:
        """A stored secret kept from before goes only where it was entered for: when the edit
        points the connector elsewhere (another token URL or base URL), it must be typed again."""
        target = origin_of(secret_destination(connector))
        for secret, _required in self.secret_fields():
            value = getattr(connector.auth, secret, None)
            if not is_reference(value):
                continue
            kind, name = parse_reference(value)
            if kind != "secret" or name in to_store:
                continue
            allowed = store.origins(name)
            if allowed and target not in allowed:
                where = "token URL" if getattr(connector.auth, "token_url", None) else "base URL"
                self.errors[secret] = (
                    f"The {where} now points at {target}, but this secret was entered for "
                    f"{', '.join(allowed)}. Type it again to send it to {target}: a stored "
                    "secret is only sent where it was entered for."
                )

    def _check_base_url(self) -> None:
        """The base URL on its own, so its error shows even while the auth fields have some."""
        if not self.base_url:
            self.errors["base_url"] = (
                "Required: the API's root, e.g. https://dbc-1234.cloud.databricks.com."
            )
            return
        try:
            Connector(name="probe", base_url=self.base_url)
        except ValidationError as exc:
            note_problems(self.errors, field_problems(exc, Connector), {"base_url"})

    def _auth_fields(self) -> dict[str, Any]:
        if self.auth_type == "oauth2":
            fields: dict[str, Any] = {
                "grant_type": self.grant_type,
                "token_url": self.token_url,
                "client_auth": self.client_auth,
            }
            for key in ("client_id", "scope") + (
                ("username",) if self.grant_type == "password" else ()
            ):
                if getattr(self, key):
                    fields[key] = getattr(self, key)
            return fields
        if self.auth_type == "api_key":
            place = {"header": self.header} if self.header else {}
            if self.query_param:
                place["query_param"] = self.query_param
            return {**place, "pattern": self.pattern or "%s"}
        if self.auth_type == "basic":
            return {"username": self.username}
        return {}


def _key_values(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        pair = parse_pair(line)
        if pair is None:
            raise ValueError(f"Line {number} is not `key=value`.")
        out[pair[0]] = pair[1]
    return out
