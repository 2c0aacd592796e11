"""The action editor's state: method, path, tables of query params, headers and inputs, body,
output and risk, plus Import cURL and the Test panel's input values. Invalid values are kept,
so a page with an error still shows everything the user typed."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import jmespath
from pydantic import ValidationError
from starlette.datastructures import FormData

from lakegate.authconfig import field_problems
from lakegate.curl import parse_curl
from lakegate.errors import ConfigError
from lakegate.project import METHODS, Action, Connector, Input
from lakegate.render import typed_value
from lakegate.studio.connection import form_terms
from lakegate.studio.forms import note_problems

__all__ = ["INPUT_TYPES", "LABELS", "ActionDraft", "InputRow"]

INPUT_TYPES = ("string", "integer", "number", "boolean", "array", "object")
RISKS = (("", "Automatic (from the method)"), ("read", "read"), ("write", "write"),
         ("destructive", "destructive"))  # fmt: skip
TABLES = ("query", "headers", "inputs")
_FIELDS = {"name", "description", "connector", "method", "path", "body", "output", "risk",
           "query", "headers", "inputs", "curl"}  # fmt: skip
# form field -> (its label, the id the error summary links to)
LABELS = {
    "name": ("Name", "f-name"), "connector": ("Connector", "f-connector"),
    "description": ("Description", "f-description"), "method": ("Method", "f-method"),
    "path": ("Path", "f-path"), "curl": ("Import cURL", "f-curl"),
    "query": ("Params", "tab-params"), "headers": ("Headers", "tab-headers"),
    "body": ("Body", "f-body"), "inputs": ("Inputs", "tab-inputs"),
    "output": ("Output projection", "f-output"), "risk": ("Risk", "f-risk"),
}  # fmt: skip


@dataclass
class InputRow:
    name: str = ""
    type: str = "string"
    required: bool = False
    description: str = ""
    example: str = ""


@dataclass
class ActionDraft:
    """The action form's state."""

    name: str = ""
    description: str = ""
    connector: str = ""
    method: str = "GET"
    path: str = ""
    body: str = ""
    output: str = ""
    risk: str = ""
    query: list[tuple[str, str]] = field(default_factory=list)
    headers: list[tuple[str, str]] = field(default_factory=list)
    inputs: list[InputRow] = field(default_factory=list)
    curl: str = ""
    test_values: dict[str, str] = field(default_factory=dict)
    confirmed: bool = False  # the user agreed to send a write request from the Test panel
    blank: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TABLES, 1))
    errors: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @classmethod
    def from_action(cls, action: Action) -> ActionDraft:
        return cls(
            name=action.name,
            description=action.description,
            connector=action.connector,
            method=action.method,
            path=action.path or "",
            body="" if action.body is None else json.dumps(action.body, indent=2),
            output=action.output or "",
            risk=action.risk or "",
            query=[(k, _text(v)) for k, v in action.query.items()],
            headers=list(action.headers.items()),
            inputs=[
                InputRow(n, i.type, i.required, i.description, _text(i.example))
                for n, i in action.inputs.items()
            ],
        )

    @classmethod
    def from_form(cls, form: FormData) -> ActionDraft:
        def text(key: str) -> str:
            return str(form.get(key) or "").strip()

        required = set(form.getlist("input_required"))
        rows = zip(
            form.getlist("input_name"),
            form.getlist("input_type"),
            form.getlist("input_description"),
            form.getlist("input_example"),
            strict=False,
        )
        draft = cls(
            name=text("name"),
            description=text("description"),
            connector=text("connector"),
            method=text("method").upper() or "GET",
            path=text("path"),
            body=str(form.get("body") or ""),
            output=text("output"),
            risk=text("risk"),
            query=_pairs(form.getlist("query_name"), form.getlist("query_value")),
            headers=_pairs(form.getlist("header_name"), form.getlist("header_value")),
            inputs=[
                InputRow(str(n).strip(), str(t), str(i) in required, str(d).strip(), str(e))
                for i, (n, t, d, e) in enumerate(rows)
                if str(n).strip() or str(d).strip() or str(e).strip()
            ],
            curl=str(form.get("curl") or ""),
            test_values={
                key[len("test__") :]: str(value)
                for key, value in form.multi_items()
                if key.startswith("test__")
            },
            confirmed=form.get("confirm_write") == "1",
        )
        intent = str(form.get("intent") or "")
        if intent.startswith("add_") and intent[4:] in TABLES:
            draft.blank[intent[4:]] += 1
        return draft

    def test_inputs(self) -> dict[str, Any]:
        """The Test panel's values (typed, else the example); empty ones are left out."""
        out: dict[str, Any] = {}
        for row in self.inputs:
            text = self.test_values.get(row.name, row.example)
            if row.name and text.strip():
                out[row.name] = text.strip()
        return out

    def build(self, name: str, existing: Action | None) -> Action | None:
        """The action this draft describes, or None with `errors` filled in: all of them at once,
        so one save shows every field to fix."""
        fields: dict[str, Any] = {
            "name": name,
            "connector": self.connector,
            "description": self.description,
            "method": self.method,
            "path": self.path or None,
            "query": {k: _value(v) for k, v in self.query},
            "headers": dict(self.headers),
            "output": self.output or None,
            "risk": self.risk or None,
        }
        handler = existing.handler if existing is not None else None
        if existing is not None:  # what the editor does not show is kept as it was
            for key in ("idempotent", "timeout_s", "pagination", "handler"):
                fields[key] = getattr(existing, key)
        if self.body.strip():
            try:
                fields["body"] = json.loads(self.body)
            except ValueError as exc:
                self.errors["body"] = (
                    f'The body is not JSON ({exc}); write e.g. {{"key": "{{{{name}}}}"}}.'
                )
        fields["inputs"] = self._inputs(existing)
        if not self.connector:
            self.errors["connector"] = "Choose a connector (create one first if the list is empty)."
        if self.method not in METHODS:
            self.errors["method"] = f"Choose one of {', '.join(METHODS)}."
        if handler is None and not self.path:
            self.errors["path"] = "Required: the request's path, e.g. /api/2.0/sql/warehouses."
        elif self.path and not self.path.startswith("/"):
            self.errors["path"] = "Start the path with / (it is relative to the base URL)."
        if self.output:
            try:
                jmespath.compile(self.output)
            except jmespath.exceptions.JMESPathError as exc:
                self.errors["output"] = f"Not a JMESPath expression ({exc})."
        # The model's own checks (placeholders without an input, ...) on what is valid so far.
        probe = {
            **fields,
            "connector": self.connector or "probe",
            "method": self.method if "method" not in self.errors else "GET",
            "path": fields["path"] if "path" not in self.errors else (None if handler else "/"),
            "output": None if "output" in self.errors else fields["output"],
        }
        try:
            action = Action(**probe)
        except ValidationError as exc:
            note_problems(self.errors, field_problems(exc, Action), _FIELDS)
            return None
        return None if self.errors else action

    def is_write(self) -> bool:
        """A Test of this request may change something: it asks first."""
        risk = self.risk or ("read" if self.method in ("GET", "HEAD", "OPTIONS") else "write")
        return risk != "read"

    def import_curl(self, connectors: dict[str, Connector]) -> None:
        """Fill method, path, query, headers and body from the pasted curl command: all of it,
        or on any problem nothing (the pasted text stays, with the error)."""
        try:
            parsed = parse_curl(self.curl)
        except ConfigError as exc:
            self.errors["curl"] = form_terms(f"{exc.message} {exc.hint}")
            return
        same_host = [c for c in connectors.values() if _origin(c.base_url) == parsed.base_url]
        chosen = connectors.get(self.connector)
        connector = chosen if chosen in same_host else (same_host[0] if same_host else None)
        if connector is None:
            self.errors["curl"] = (
                f"No connector has the base URL {parsed.base_url}: nothing was imported. Create "
                "a connector for it first (Connectors & actions > New connector), or paste a "
                "command for " + (", ".join(c.base_url for c in connectors.values()) or "it") + "."
            )
            return
        try:
            path = parsed.path_for(connector.base_url, connector.name)
        except ConfigError as exc:
            self.errors["curl"] = form_terms(f"{exc.message} {exc.hint}")
            return
        self.connector, self.method, self.path = connector.name, parsed.method, path
        self.query = [(k, _text(v)) for k, v in parsed.query.items()]
        self.headers = list(parsed.headers.items())
        if parsed.body is not None:
            self.body = json.dumps(parsed.body, indent=2)
        self.notes.append(f"Imported {parsed.method} {path} on {connector.name}.")
        self.notes.extend(form_terms(warning) for warning in parsed.warnings)
        self.curl = ""  # consumed; and it may carry a credential that must not come back

    def _inputs(self, existing: Action | None) -> dict[str, Input]:
        out: dict[str, Input] = {}
        for row in self.inputs:
            if not row.name:
                self.errors["inputs"] = "Every input needs a name."
                continue
            if row.name in out:
                self.errors["inputs"] = f"Input {row.name!r} is declared twice."
                continue
            before = existing.inputs.get(row.name) if existing else None
            try:
                example = _typed(row.type, row.example)
                out[row.name] = Input(
                    type=row.type if row.type in INPUT_TYPES else "string",
                    required=row.required,
                    description=row.description,
                    example=example,
                    enum=before.enum if before else None,
                    default=before.default if before else None,
                )
            except (ValueError, ValidationError) as exc:
                self.errors["inputs"] = f"Input {row.name!r}: {exc}"
        return out


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _pairs(names: list[Any], values: list[Any]) -> list[tuple[str, str]]:
    return [
        (str(n).strip(), str(v))
        for n, v in zip(names, values, strict=False)
        if str(n).strip() or str(v).strip()
    ]


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value)


def _value(text: str) -> Any:
    """A query value: text, or a JSON list for a repeated parameter."""
    if text.startswith("["):
        try:
            found = json.loads(text)
        except ValueError:
            return text
        return found if isinstance(found, list) else text
    return text


def _typed(kind: str, text: str) -> Any:
    """An example typed as the input's type (as the CLI types it); ValueError says what is
    wrong."""
    text = text.strip()
    if not text:
        return None
    try:
        return typed_value(kind, text)
    except ValueError as exc:
        raise ValueError(f"the example {exc}") from None
