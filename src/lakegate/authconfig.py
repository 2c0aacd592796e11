"""The `auth:` section of a connector, and the validation helpers every project model shares.

Secret fields are `SecretRef`s: a `${env:NAME}` or `${secret:NAME}` reference, never a value.
"""

from __future__ import annotations

import ipaddress
import re
from functools import cache
from typing import Annotated, Any, Literal, NamedTuple, get_args
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

from lakegate.secrets import is_reference, register_secret

__all__ = [
    "NAME_PATTERN",
    "ApiKeyAuth",
    "AuthConfig",
    "BasicAuth",
    "BearerAuth",
    "FieldProblem",
    "Name",
    "NoAuth",
    "OAuth2Auth",
    "ProjectModel",
    "SecretRef",
    "check_http_url",
    "config_problem",
    "field_problems",
]

NAME_PATTERN = re.compile(r"^[a-zA-Z][a-zA-Z0-9_]{1,63}$")


def config_problem(problem: str, fix: str, at: str = "") -> PydanticCustomError:
    """A validation problem with its fix; `at` names the key a model-level check is about."""
    return PydanticCustomError("lakegate", "{problem}", {"problem": problem, "fix": fix, "at": at})


class FieldProblem(NamedTuple):
    """One reason a project model refused its input, tied to the field it is about."""

    field: str  # a field of the model or of a model it nests (`base_url`, `token_url` ...); or ""
    problem: str
    fix: str  # what to do about it, in lakegate.yaml's terms; may be ""
    missing: bool  # a required field was not given
    under: str  # the model's own field the problem sits in (`auth` for any auth problem)

    @property
    def sentence(self) -> str:
        """`problem — fix.`, for a message shown next to the field."""
        return self.problem + (f" — {self.fix}." if self.fix else ".")


def field_problems(exc: ValidationError, model: type[BaseModel]) -> list[FieldProblem]:
    """What `model` refused, problem by problem: a model-level check names its field itself
    (`config_problem`'s `at`); any other problem is about the deepest field in its location.

    Each front names the field in its own terms (a CLI flag, a form field)."""
    known = _field_names(model)
    out = []
    for err in exc.errors():
        ctx = err.get("ctx") or {}
        loc = [str(part) for part in err["loc"]]
        field = ctx.get("at") or next((part for part in reversed(loc) if part in known), "")
        problem, fix = ctx.get("problem") or err["msg"], ctx.get("fix", "")
        out.append(FieldProblem(field, problem, fix, err["type"] == "missing", (loc or [""])[0]))
    return out


@cache
def _field_names(model: type[BaseModel]) -> frozenset[str]:
    """The fields of `model` and of the models its fields hold (an auth union, dict[str, Input])."""
    names: set[str] = set()
    seen: set[type[BaseModel]] = set()
    todo = [model]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        for name, info in current.model_fields.items():
            names.add(name)
            todo.extend(_models_in(info.annotation))
    return frozenset(names)


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [model for arg in get_args(annotation) for model in _models_in(arg)]


def _check_name(value: str) -> str:
    if not NAME_PATTERN.match(value):
        raise config_problem(
            f"name {value!r} is not allowed",
            "use 2-64 letters, digits or '_', starting with a letter (e.g. list_warehouses)",
        )
    return value


def _check_secret_ref(value: str) -> str:
    if not is_reference(value):
        register_secret(value)  # it may be printed by someone else's traceback: redact it anyway
        raise config_problem(
            "holds a literal secret; lakegate.yaml must never contain secrets",
            "store it with `lakegate secret set NAME` and write `${secret:NAME}`, or export it "
            "and write `${env:VARIABLE}`; then rotate the exposed secret",
        )
    return value


Name = Annotated[str, AfterValidator(_check_name)]
SecretRef = Annotated[str, AfterValidator(_check_secret_ref)]


class ProjectModel(BaseModel):
    # Inputs are hidden in pydantic's own messages: a rejected value may be a secret.
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True, validate_assignment=True)


# --- auth -------------------------------------------------------------------------------------


class NoAuth(ProjectModel):
    """No credentials."""

    type: Literal["none"] = "none"


class ApiKeyAuth(ProjectModel):
    """An API key in a header (with a value pattern like `Bearer %s`) or a query parameter."""

    type: Literal["api_key"] = "api_key"
    key: SecretRef
    header: str | None = None
    query_param: str | None = None
    pattern: str = "%s"

    @model_validator(mode="after")
    def _one_place(self) -> ApiKeyAuth:
        if (self.header is None) == (self.query_param is None):
            raise config_problem(
                "api_key auth needs exactly one of `header` or `query_param`",
                "add `header: X-API-Key` (or `query_param: api_key`)",
                "header",
            )
        if "%s" not in self.pattern:
            raise config_problem(
                "`pattern` has no `%s`", "write e.g. `pattern: Bearer %s`", "pattern"
            )
        return self


class BearerAuth(ProjectModel):
    """A fixed bearer token (e.g. a personal access token)."""

    type: Literal["bearer"] = "bearer"
    token: SecretRef


class BasicAuth(ProjectModel):
    """HTTP Basic: user name and password."""

    type: Literal["basic"] = "basic"
    username: str
    password: SecretRef


class OAuth2Auth(ProjectModel):
    """OAuth2 token endpoint: client credentials, refresh token or password grant, or
    `token_exchange`: the caller's identity token exchanged for this connector's (RFC 8693)."""

    type: Literal["oauth2"] = "oauth2"
    grant_type: Literal["client_credentials", "refresh_token", "password", "token_exchange"] = (
        "client_credentials"
    )
    token_url: str
    client_id: str | None = None
    client_secret: SecretRef | None = None
    scope: str | None = None
    client_auth: Literal["request_body", "basic_header", "auto"] = "request_body"
    extra_token_params: dict[str, str] = Field(default_factory=dict)
    extra_token_headers: dict[str, str] = Field(default_factory=dict)
    access_token_key: str = "access_token"  # noqa: S105 - a key name
    expires_in_key: str = "expires_in"
    refresh_token: SecretRef | None = None
    username: str | None = None
    password: SecretRef | None = None

    @model_validator(mode="after")
    def _grant_needs(self) -> OAuth2Auth:
        check_http_url(self.token_url, "token_url", query_ok=True)  # e.g. Azure B2C `?p=policy`
        needs = {
            "client_credentials": ("client_id", "client_secret"),
            "refresh_token": ("refresh_token",),
            "password": ("username", "password"),
            "token_exchange": (),
        }[self.grant_type]
        missing = [key for key in needs if getattr(self, key) in (None, "")]
        if missing:
            raise config_problem(
                f"grant_type {self.grant_type} needs {', '.join(missing)}",
                "add "
                + ", ".join(f"`{key}:`" for key in missing)
                + " (secrets as `${env:VAR}` or `${secret:NAME}`)",
                missing[0],
            )
        return self


AuthConfig = Annotated[
    NoAuth | ApiKeyAuth | BearerAuth | BasicAuth | OAuth2Auth, Field(discriminator="type")
]


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 (bracketed or not) and localhost."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_http_url(url: str, field: str, *, query_ok: bool = False) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise config_problem(
            f"{field} {url!r} is not an http(s) URL",
            f"write the full URL, e.g. `{field}: https://dbc-1234.cloud.databricks.com`",
            field,
        )
    origin = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{parts.path}"
    if parts.username or parts.password:
        raise config_problem(
            f"{field} may not carry credentials (user:password@)",
            f"write {origin} and put the credentials in the connector's auth",
            field,
        )
    if (parts.query and not query_ok) or parts.fragment:
        extra = ("?" + parts.query if parts.query else "") + (
            "#" + parts.fragment if parts.fragment else ""
        )
        raise config_problem(
            f"{field} may not carry a query or fragment ({extra}: a browser address's part, "
            "such as Azure's ?o= workspace id)",
            f"write {origin}",
            field,
        )
    return url
