"""The project file, `lakegate.yaml`: pydantic models of connectors, actions and copilot policy.

Loading keeps the ruamel.yaml document, so saving keeps comments and key order; saves are
atomic. Validation problems become one ConfigError naming file, line, field, problem and fix.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import jmespath
import jmespath.exceptions
from pydantic import BaseModel, Field, model_validator

from lakegate._projectfile import ProjectDocument, entry_changes, locked
from lakegate.authconfig import (
    NAME_PATTERN,
    ApiKeyAuth,
    AuthConfig,
    BasicAuth,
    BearerAuth,
    Name,
    NoAuth,
    OAuth2Auth,
    ProjectModel,
    check_http_url,
    config_problem,
)
from lakegate.errors import ConfigError, NotFoundError
from lakegate.paths import PLACEHOLDER, path_problem

__all__ = [
    "NAME_PATTERN",
    "PLACEHOLDER",
    "Action",
    "ApiKeyAuth",
    "Audit",
    "AuthConfig",
    "BasicAuth",
    "BearerAuth",
    "Caps",
    "Connector",
    "CopilotPolicy",
    "Input",
    "NoAuth",
    "OAuth2Auth",
    "Pagination",
    "Pinned",
    "Project",
    "load_project",
]

INPUT_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]{0,63}$")
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
READ_METHODS = ("GET", "HEAD", "OPTIONS")
MAX_RESPONSE_CAP = 1024 * 1024 * 1024  # 1 GiB: the most `max_response_bytes` may allow


# --- connectors and actions ---------------------------------------------------------------------


# Hosts of Databricks workspaces (AWS, Azure, GCP, GovCloud): their APIs hang off the root.
_DATABRICKS_HOST = re.compile(
    r"\.(cloud\.databricks\.(com|us)|azuredatabricks\.net|gcp\.databricks\.com)$", re.IGNORECASE
)


class Connector(ProjectModel):
    """A base URL plus how to authenticate to it."""

    name: Name
    description: str = ""
    base_url: str
    auth: AuthConfig = Field(default_factory=NoAuth)
    read_only: bool = False
    # On a read-only connector SQL may not read files or URLs (read_csv, read_text, glob ...)
    # unless this is set: a copilot could otherwise read whatever the warehouse can reach.
    allow_file_reads: bool = False
    defaults: dict[str, Any] = Field(default_factory=dict)
    user_agent_extra: str | None = None
    # The largest response body read for this connector's actions (default: the gateway's 1 MiB).
    max_response_bytes: int | None = Field(default=None, ge=1024, le=MAX_RESPONSE_CAP)

    @model_validator(mode="after")
    def _url(self) -> Connector:
        check_http_url(self.base_url, "base_url")
        if self.base_url.endswith("/"):
            self.__dict__["base_url"] = self.base_url.rstrip("/")
        parts = urlsplit(self.base_url)
        if _DATABRICKS_HOST.search(parts.hostname or "") and parts.path.strip("/"):
            # A page of the web UI (/sql/editor, /browse): every API is under /api from the root.
            origin = f"{parts.scheme}://{parts.netloc}"
            raise config_problem(
                f"a Databricks workspace's base_url is its address without a path, not "
                f"{self.base_url} (the path {parts.path} is a page of the web UI)",
                f"write base_url: {origin}",
                "base_url",
            )
        return self


InputType = Literal["string", "integer", "number", "boolean", "array", "object"]


class Input(ProjectModel):
    """One typed input of an action; together they form the JSON Schema a copilot sees."""

    type: InputType = "string"
    required: bool = False
    enum: list[Any] | None = None
    default: Any = None
    example: Any = None
    description: str = ""

    def schema(self) -> dict[str, Any]:
        """This input as a JSON Schema 2020-12 property."""
        out: dict[str, Any] = {"type": self.type}
        if self.description:
            out["description"] = self.description
        if self.enum is not None:
            out["enum"] = list(self.enum)
        if self.default is not None:
            out["default"] = self.default
        if self.example is not None:
            out["examples"] = [self.example]
        return out


class Pagination(ProjectModel):
    """Token pagination: send `request_param`, read the next token from `response_field`."""

    request_param: str = "page_token"
    response_field: str = "next_page_token"
    items: str | None = None  # the list field to merge; None merges every top-level list
    max_pages: int = Field(default=10, ge=1, le=1000)


class Action(ProjectModel):
    """A declared request on a connector (or a registered code handler)."""

    name: Name
    connector: Name
    description: str = ""
    method: str = "GET"
    path: str | None = None
    query: dict[str, Any] = Field(default_factory=dict)
    headers: dict[str, str] = Field(default_factory=dict)
    body: Any = None
    inputs: dict[str, Input] = Field(default_factory=dict)
    output: str | None = None
    risk: Literal["read", "write", "destructive"] | None = None
    idempotent: bool | None = None
    timeout_s: float = Field(default=30.0, gt=0, le=3600)
    pagination: Pagination | None = None
    handler: str | None = None
    # The largest response body read for this action; overrides the connector's setting.
    max_response_bytes: int | None = Field(default=None, ge=1024, le=MAX_RESPONSE_CAP)

    @model_validator(mode="after")
    def _consistent(self) -> Action:
        method = self.method.upper()
        if method not in METHODS:
            raise config_problem(
                f"method {self.method!r} is not known", f"use one of {', '.join(METHODS)}", "method"
            )
        self.__dict__["method"] = method
        if self.risk is None:
            self.__dict__["risk"] = "read" if method in READ_METHODS else "write"
        if self.handler is None and self.path is None:
            raise config_problem(
                "the action has neither `path` nor `handler`", "add `path: /api/...`", "path"
            )
        if self.path is not None and not self.path.startswith("/"):
            raise config_problem(
                f"path {self.path!r} must start with '/'",
                "write the path relative to the connector's base_url, e.g. /api/2.0/sql/warehouses",
                "path",
            )
        if self.path is not None:
            problem = path_problem(self.path)
            if problem:
                raise config_problem(
                    f"path {self.path!r} is not safe: {problem}",
                    "write a plain path under the base_url, e.g. /api/2.0/sql/warehouses",
                    "path",
                )
        for name in self.inputs:
            if not INPUT_NAME.match(name):
                raise config_problem(
                    f"input name {name!r} is not allowed", "use letters, digits and '_'", "inputs"
                )
        unknown = sorted(set(self.placeholders()) - set(self.inputs))
        if unknown:
            raise config_problem(
                f"the templates use {', '.join('{{' + n + '}}' for n in unknown)} but "
                "`inputs` does not declare it",
                "declare each under `inputs:` (e.g. `id: {type: string, required: true}`)",
                "inputs",
            )
        if self.output is not None:
            try:
                jmespath.compile(self.output)
            except jmespath.exceptions.JMESPathError as exc:
                raise config_problem(
                    f"output is not a JMESPath expression ({exc})", "fix `output`", "output"
                ) from None
        return self

    def placeholders(self) -> list[str]:
        """Names used as `{{name}}` in path, query, headers and body."""
        found: list[str] = []
        _collect(self.path, found)
        _collect(self.query, found)
        _collect(self.headers, found)
        _collect(self.body, found)
        return found

    def input_schema(self, defaults: dict[str, Any] | None = None) -> dict[str, Any]:
        """The inputs as JSON Schema 2020-12 (inputs with a connector default are optional)."""
        defaults = defaults or {}
        required = [n for n, i in self.inputs.items() if i.required and n not in defaults]
        return {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "properties": {name: spec.schema() for name, spec in self.inputs.items()},
            "required": required,
            "additionalProperties": False,
        }

    @property
    def is_idempotent(self) -> bool:
        """Safe to resend: GET/HEAD/OPTIONS, or declared `idempotent: true`."""
        if self.idempotent is not None:
            return self.idempotent
        return self.method in READ_METHODS


def _collect(template: Any, found: list[str]) -> None:
    if isinstance(template, str):
        found.extend(PLACEHOLDER.findall(template))
    elif isinstance(template, dict):
        for key, value in template.items():
            _collect(key, found)
            _collect(value, found)
    elif isinstance(template, list):
        for value in template:
            _collect(value, found)


# --- copilot policy (MCP owns the semantics) ------------------------------------------------------


class Pinned(ProjectModel):
    warehouse_id: str | None = None
    catalogs: list[str] = Field(default_factory=list)
    schemas: list[str] = Field(default_factory=list)


class Caps(ProjectModel):
    max_rows: int = Field(default=200, ge=1)
    max_bytes: int = Field(default=65536, ge=1024)
    deadline_s: float = Field(default=45, gt=0)


class Audit(ProjectModel):
    max_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)


class CopilotAuth(ProjectModel):
    """How `serve --http` knows its callers (`copilot.auth`): a static bearer token (default),
    or OAuth: the company IdP's JWTs, issued for this server, naming the person."""

    type: Literal["bearer", "oauth"] = "bearer"
    issuer: str | None = None
    audience: str | None = None  # this server as a resource; default: its own /mcp URL
    jwks_uri: str | None = None
    jwks_file: str | None = None
    required_scopes: list[str] = Field(default_factory=list)
    user_claim: str = "email"

    @model_validator(mode="after")
    def _complete(self) -> CopilotAuth:
        if self.type == "oauth":
            if not self.issuer:
                raise ValueError("copilot.auth.type oauth needs issuer: the IdP's issuer URL")
            if not (self.jwks_uri or self.jwks_file):
                raise ValueError(
                    "copilot.auth.type oauth needs jwks_uri (or jwks_file): the IdP's signing keys"
                )
        return self


class CopilotPolicy(ProjectModel):
    """What the copilot may call (`copilot:` in lakegate.yaml)."""

    profile: Literal["readonly", "operator", "admin"] = "readonly"
    tools: list[str] | None = None
    allow_writes: bool = False
    # Under the readonly profile a statement on a warehouse that is not RUNNING is refused, as
    # starting one costs money and is an operator's decision; true lets SQL start it.
    allow_warehouse_start: bool = False
    pinned: Pinned = Field(default_factory=Pinned)
    caps: Caps = Field(default_factory=Caps)
    audit: Audit = Field(default_factory=Audit)
    auth: CopilotAuth = Field(default_factory=CopilotAuth)


class ProjectFile(ProjectModel):
    """The whole file, as validated."""

    version: int = 1
    connectors: dict[str, Connector] = Field(default_factory=dict)
    actions: dict[str, Action] = Field(default_factory=dict)
    copilot: CopilotPolicy = Field(default_factory=CopilotPolicy)

    @model_validator(mode="before")
    @classmethod
    def _names_from_keys(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = dict(data)
            for section in ("connectors", "actions"):
                entries = data.get(section)
                if isinstance(entries, dict):
                    data[section] = {
                        key: {**value, "name": key} if isinstance(value, dict) else value
                        for key, value in entries.items()
                    }
        return data


# --- the project --------------------------------------------------------------------------------


class Project:
    """A loaded `lakegate.yaml`: models to read and edit, and a document that saves faithfully."""

    def __init__(self, path: Path, document: ProjectDocument, parsed: ProjectFile) -> None:
        self.path = path
        self._document = document
        self.connectors: dict[str, Connector] = dict(parsed.connectors)
        self.actions: dict[str, Action] = dict(parsed.actions)
        self.copilot: CopilotPolicy = parsed.copilot
        document.remember(self._sections())

    def __repr__(self) -> str:
        return (
            f"Project(path={str(self.path)!r}, connectors={sorted(self.connectors)}, "
            f"actions={sorted(self.actions)})"
        )

    @classmethod
    def new(cls, path: str | Path) -> Project:
        """An empty project at `path` (not written until `save()`)."""
        path = Path(path)
        return cls(path, ProjectDocument.empty(path), ProjectFile())

    @classmethod
    def load(cls, path: str | Path) -> Project:
        """Read and validate `path`."""
        path = Path(path)
        document = ProjectDocument.read(path)
        parsed = document.validate(ProjectFile)
        project = cls(path, document, parsed)
        project._check_references()
        return project

    @property
    def state_dir(self) -> Path:
        """The `.lakegate/` folder beside the project file (secrets, audit, caches)."""
        return self.path.resolve().parent / ".lakegate"

    def connector(self, name: str) -> Connector:
        """The connector called `name`, or NotFoundError."""
        try:
            return self.connectors[name]
        except KeyError:
            raise NotFoundError(
                f"There is no connector {name!r} in {self.path.name}.",
                hint=_known("connector", name, self.connectors),
            ) from None

    def action(self, name: str) -> Action:
        """The action called `name`, or NotFoundError."""
        try:
            return self.actions[name]
        except KeyError:
            raise NotFoundError(
                f"There is no action {name!r} in {self.path.name}.",
                hint=_known("action", name, self.actions),
            ) from None

    def set_connector(self, name: str, connector: Connector) -> None:
        """Add or replace a connector (its `name` becomes `name`)."""
        self.connectors[name] = connector.model_copy(update={"name": _valid_name(name)})

    def remove_connector(self, name: str) -> None:
        """Remove a connector no action uses."""
        self.connector(name)
        users = sorted(a.name for a in self.actions.values() if a.connector == name)
        if users:
            raise ConfigError(
                f"Connector {name!r} is used by action(s) {', '.join(users)}.",
                code="config.in_use",
                hint="Remove those actions first (`lakegate action remove NAME`).",
            )
        del self.connectors[name]

    def set_action(self, name: str, action: Action) -> None:
        """Add or replace an action; its connector must exist."""
        if action.connector not in self.connectors:
            raise NotFoundError(
                f"Action {name!r} names connector {action.connector!r}, which does not exist.",
                hint=_known("connector", action.connector, self.connectors),
            )
        self.actions[name] = action.model_copy(update={"name": _valid_name(name)})

    def remove_action(self, name: str) -> None:
        """Remove an action."""
        self.action(name)
        del self.actions[name]

    def set_copilot(self, policy: CopilotPolicy) -> None:
        """Replace the copilot policy."""
        self.copilot = policy

    def save(self) -> None:
        """Write the file atomically, keeping comments and the order of untouched keys.

        Under an inter-process lock the file is read again first: what another writer saved
        meanwhile is kept, and a change to the same entry as ours refuses the save.
        """
        self._check_references()
        with locked(self.path):
            self._rebase()
            self._check_references()
            self._document.write(self.path, self._sections())
            self._document.remember(self._sections())

    def _rebase(self) -> None:
        """Take in what another writer saved since this project was read (under the lock)."""
        try:
            on_disk: str | None = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            on_disk = None
        if on_disk is None or on_disk == self._document.text:
            return
        theirs = Project.load(self.path)
        before, mine, now = self._document.snapshot, self._sections(), theirs._sections()
        clashes: list[str] = []
        for section in ("connectors", "actions"):
            ours, merged = getattr(self, section), getattr(theirs, section)
            take, clash = entry_changes(
                before.get(section, {}),
                {n: full for n, (_, full) in mine[section].items()},
                {n: full for n, (_, full) in now[section].items()},
            )
            clashes += [f"{section[:-1]} {name!r}" for name in sorted(clash)]
            for name in take:
                if name in ours:
                    merged[name] = ours[name]
                else:
                    merged.pop(name, None)
        single = {"copilot": before.get("copilot")}
        take, clash = entry_changes(
            single, {"copilot": mine["copilot"][1]}, {"copilot": now["copilot"][1]}
        )
        clashes += ["the copilot policy"] if clash else []
        if clashes:
            raise ConfigError(
                f"{self.path.name} was changed by another writer since it was read here, in "
                f"{', '.join(clashes)} too; nothing was saved.",
                code="config.changed_meanwhile",
                hint="Run the command again (it reads the file anew), or reload the page in the "
                "Studio and redo the edit.",
                details={"file": str(self.path)},
            )
        if take:
            theirs.copilot = self.copilot
        self._document = theirs._document
        self.connectors, self.actions, self.copilot = (
            theirs.connectors,
            theirs.actions,
            theirs.copilot,
        )

    def to_yaml(self) -> str:
        """The file as it would be saved."""
        return self._document.render(self._sections())

    def _sections(self) -> dict[str, Any]:
        return {
            "connectors": {n: _dump(c) for n, c in self.connectors.items()},
            "actions": {n: _dump(a) for n, a in self.actions.items()},
            "copilot": _dump(self.copilot),
        }

    def _check_references(self) -> None:
        for action in self.actions.values():
            if action.connector not in self.connectors:
                line = self._document.line_of(("actions", action.name, "connector"))
                where = f"{self.path.name}:{line}: " if line else ""
                raise ConfigError(
                    f"{where}actions.{action.name}.connector: there is no connector "
                    f"{action.connector!r}.",
                    hint=_known("connector", action.connector, self.connectors),
                    details={"file": str(self.path), "line": line},
                )


def load_project(path: str | Path) -> Project:
    """Read and validate a `lakegate.yaml`."""
    return Project.load(path)


def _dump(model: BaseModel) -> tuple[dict[str, Any], dict[str, Any]]:
    """(slim, full): the model without defaults (what a new entry shows), and in full."""
    full = model.model_dump(mode="json", exclude={"name"})
    slim = model.model_dump(mode="json", exclude={"name"}, exclude_defaults=True)
    # Always show what kind of auth and input this is, even when it is the default kind.
    if "auth" in full:
        slim["auth"] = {"type": full["auth"]["type"], **slim.get("auth", {})}
    if "path" in full and full.get("path") is not None:
        slim = {"connector": full["connector"], "method": full["method"], **slim}
    for name, spec in full.get("inputs", {}).items():
        slim.setdefault("inputs", {})[name] = {"type": spec["type"], **slim["inputs"].get(name, {})}
    return slim, full


def _valid_name(name: str) -> str:
    if not NAME_PATTERN.match(name or ""):
        raise ConfigError(
            f"{name!r} is not a valid name.",
            code="config.invalid_name",
            hint="Use 2-64 letters, digits or '_', starting with a letter (e.g. list_warehouses).",
        )
    return name


def _known(kind: str, name: str, known: dict[str, Any]) -> str:
    import difflib

    close = difflib.get_close_matches(name, list(known), n=1)
    if close:
        return f"Did you mean {close[0]!r}? See `lakegate {kind} list`."
    if known:
        return f"Known {kind}s: {', '.join(sorted(known))}."
    return f"Add one with `lakegate {kind} add`."
