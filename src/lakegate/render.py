"""Action + inputs -> request: input validation, `{{name}}` templates, encoding and URL guards.

Values are placed, never parsed: a path value is percent-encoded as one segment, a query value
goes through httpx's encoder, a header value may not contain a line break. `check_url` then
verifies the final URL against the connector as defense in depth.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, urlsplit

from lakegate.errors import GuardError, InputError
from lakegate.paths import LINE_BREAK as _LINE_BREAK
from lakegate.paths import PLACEHOLDER, path_problem
from lakegate.paths import dot_segment as _dot_segment
from lakegate.project import Action, Connector
from lakegate.secrets import redact

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator

__all__ = ["RenderedRequest", "check_url", "path_problem", "render", "resolve_inputs", "url_for"]

_ABSENT = object()
_EXACT = re.compile(r"^\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}$")


@dataclass
class RenderedRequest:
    """A request ready to send: absolute URL, query params, headers, optional JSON body."""

    method: str
    url: str
    params: list[tuple[str, str]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    json: Any = None
    has_body: bool = False


def resolve_inputs(action: Action, connector: Connector, inputs: dict[str, Any]) -> dict[str, Any]:
    """Inputs completed with connector `defaults`, then the action's defaults, and validated."""
    if not inputs and not action.inputs:
        return {}
    unknown = sorted(set(inputs) - set(action.inputs))
    if unknown:
        allowed = ", ".join(sorted(action.inputs)) or "none"
        raise InputError(
            f"Action {action.name!r} has no input {', '.join(map(repr, unknown))}.",
            hint=f"Inputs it declares: {allowed}.",
        )
    values: dict[str, Any] = {}
    for name, spec in action.inputs.items():
        if inputs.get(name) is not None:
            values[name] = _coerce(spec.type, inputs[name], name)
        elif connector.defaults.get(name) is not None:
            values[name] = _coerce(spec.type, connector.defaults[name], name)
        elif spec.default is not None:
            values[name] = spec.default
    if not values and not any(spec.required for spec in action.inputs.values()):
        return values  # nothing to check: spares loading jsonschema in a short CLI call
    problems = sorted(
        _validator(action).iter_errors(values), key=lambda e: [str(p) for p in e.absolute_path]
    )
    if problems:
        lines = list(dict.fromkeys(_plain(err) for err in problems))  # one per missing set
        declared = ", ".join(
            f"{n} ({spec.type}{', required' if spec.required else ''})"
            for n, spec in action.inputs.items()
        )
        raise InputError(
            redact(f"Inputs for {action.name!r}: " + "; ".join(lines) + "."),
            hint=f"Its inputs: {declared}. See `lakegate action show {action.name}`.",
            details={"errors": [redact(line) for line in lines]},
        )
    return values


def _plain(err: Any) -> str:
    """A JSON Schema problem in the words of the action's inputs, not of JSON Schema."""
    path = [str(p) for p in err.absolute_path]
    name = repr(path[0]) if path else ""
    inner = f" (at {'.'.join(path[1:])})" if len(path) > 1 else ""
    if err.validator == "required" and not path:
        missing = [repr(n) for n in err.validator_value if n not in (err.instance or {})]
        if len(missing) == 1:
            return f"input {missing[0]} is required but was not given"
        return f"inputs {', '.join(missing[:-1])} and {missing[-1]} are required but were not given"
    if err.validator == "type" and path:
        kinds = (
            err.validator_value if isinstance(err.validator_value, list) else [err.validator_value]
        )
        wanted = " or ".join(f"{_article(k)} {k}" for k in kinds)
        return f"input {name}{inner} must be {wanted}, not {err.instance!r}"
    if err.validator == "enum" and path:
        allowed = ", ".join(map(repr, err.validator_value))
        return f"input {name}{inner} must be one of {allowed}, not {err.instance!r}"
    return f"input {name}{inner}: {err.message}" if path else err.message


def render(connector: Connector, action: Action, values: dict[str, Any]) -> RenderedRequest:
    """The request `action` makes with validated `values`."""
    if not action.inputs:
        # No inputs, nothing to place: the request is the same every time (a copy, it is mutable).
        key = (id(connector), id(action))
        cached = _STATIC.get(key)
        if cached is None or cached[0] is not connector or cached[1] is not action:
            if len(_STATIC) > 4096:
                _STATIC.clear()
            cached = _STATIC[key] = (connector, action, _render(connector, action, values))
        found = cached[2]
        return RenderedRequest(
            found.method, found.url, list(found.params), dict(found.headers),
            copy.deepcopy(found.json), found.has_body,
        )  # fmt: skip
    return _render(connector, action, values)


_STATIC: dict[tuple[int, int], tuple[Connector, Action, RenderedRequest]] = {}


def _render(connector: Connector, action: Action, values: dict[str, Any]) -> RenderedRequest:
    path = "/".join(_segment(seg, values) for seg in (action.path or "/").split("/"))
    params: list[tuple[str, str]] = []
    for key, template in action.query.items():
        value = _fill(template, values)
        if value is _ABSENT or value is None:
            continue  # an absent query parameter is dropped, not sent empty
        for item in value if isinstance(value, list) else [value]:
            params.append((key, _text(item)))
    headers: dict[str, str] = {}
    for key, template in action.headers.items():
        value = _fill(template, values)
        if value is _ABSENT or value is None:
            continue
        text = _text(value)
        if _LINE_BREAK.search(text) or _LINE_BREAK.search(key):
            raise GuardError(
                f"Header {key!r} of action {action.name!r} would contain a line break.",
                hint="Header values may not contain CR, LF or NUL; fix the input.",
            )
        headers[key] = text
    body = _fill(action.body, values) if action.body is not None else _ABSENT
    url = url_for(connector, path)
    return RenderedRequest(
        method=action.method,
        url=url,
        params=params,
        headers=headers,
        json=None if body is _ABSENT else body,
        has_body=body is not _ABSENT,
    )


def url_for(connector: Connector, path: str) -> str:
    """`path` (relative to the base URL, or an absolute URL on it) as a checked absolute URL."""
    if path.startswith(("http://", "https://")):
        url = path
    else:
        if not path.startswith("/"):
            path = "/" + path
        url = connector.base_url + path
    check_url(connector, url)
    return url


def check_url(connector: Connector, url: str) -> None:
    """Refuse a URL that leaves the connector: other scheme, host or port, or base path."""
    if _LINE_BREAK.search(url) or "\\" in url:
        raise _guard(connector, "the URL contains a line break or backslash")
    base, final = _split(connector.base_url), urlsplit(url)
    if (final.scheme, final.hostname, _port(final)) != (base.scheme, base.hostname, _port(base)):
        raise _guard(connector, f"the URL would leave {base.scheme}://{base.netloc}")
    if final.username is not None or final.password is not None or "@" in final.netloc:
        raise _guard(connector, "the URL would carry credentials in its host part")
    if any(_dot_segment(segment) for segment in final.path.split("/")):
        raise _guard(connector, "the path contains a '.' or '..' segment")
    base_path = base.path.rstrip("/")
    if base_path and not (final.path == base_path or final.path.startswith(base_path + "/")):
        raise _guard(connector, f"the path would leave the base path {base_path}")


@lru_cache(maxsize=256)
def _split(url: str) -> Any:
    return urlsplit(url)


def _guard(connector: Connector, why: str) -> GuardError:
    return GuardError(f"Request blocked for connector {connector.name!r}: {why}.")


def _port(parts: Any) -> int | None:
    try:
        return parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    except ValueError:
        return -1  # an unparsable port never matches


def _segment(template: str, values: dict[str, Any]) -> str:
    """One path segment: each value percent-encoded whole, so '/', '?', '#', '@' stay data."""
    missing: list[str] = []

    def place(match: re.Match[str]) -> str:
        value = values.get(match.group(1))
        if value is None:
            missing.append(match.group(1))
            return ""
        return quote(_text(value), safe="")

    segment = PLACEHOLDER.sub(place, template)
    if missing:
        raise InputError(
            f"The path needs input {', '.join(map(repr, missing))}.",
            hint="Pass it, or give it a `default` (or a connector default).",
        )
    if template != segment and (segment in ("", ".", "..") or unquote(segment) in (".", "..")):
        raise GuardError(
            "A path input would make an empty, '.' or '..' segment.",
            hint="Inputs may not leave the connector's base path; pass a plain identifier.",
        )
    return segment


def _fill(template: Any, values: dict[str, Any]) -> Any:
    """Typed substitution: an exact `{{name}}` keeps the value's type; text is interpolated."""
    if isinstance(template, str):
        exact = _EXACT.match(template)
        if exact:
            value = values.get(exact.group(1))
            return _ABSENT if value is None else value
        absent = False

        def place(match: re.Match[str]) -> str:
            nonlocal absent
            value = values.get(match.group(1))
            if value is None:
                absent = True
                return ""
            return _text(value)

        text = PLACEHOLDER.sub(place, template)
        return _ABSENT if absent else text
    if isinstance(template, dict):
        out = {}
        for key, item in template.items():
            value = _fill(item, values)
            if value is not _ABSENT:
                out[key] = value
        return out
    if isinstance(template, list):
        return [v for v in (_fill(item, values) for item in template) if v is not _ABSENT]
    return template


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


_BOOLEANS = {"true": True, "1": True, "yes": True, "on": True,
             "false": False, "0": False, "no": False, "off": False}  # fmt: skip


def typed_value(kind: str, text: str) -> Any:
    """Text a person typed (a CLI `-i` value, a `--declare` or Studio example) as an input of
    type `kind`: the one reading every front shares. ValueError says what the text is not."""
    if kind == "integer":
        try:
            return int(text)
        except ValueError:
            raise ValueError(f"{text!r} is not an integer") from None
    if kind == "number":
        try:  # 5 stays 5 (a URL gets "5", not "5.0"); NaN and infinity are no JSON numbers
            return float(text) if any(c in text for c in ".eE") else int(text)
        except ValueError:
            raise ValueError(f"{text!r} is not a number") from None
    if kind == "boolean":
        lowered = text.strip().lower()
        if lowered not in _BOOLEANS:
            raise ValueError(f"{text!r} is not true or false")
        return _BOOLEANS[lowered]
    if kind in ("array", "object"):
        try:
            found = json.loads(text)
        except ValueError:
            found = None
        if not isinstance(found, list if kind == "array" else dict):
            raise ValueError(f"{text!r} is not a JSON {kind}")
        return found
    return text


def _coerce(kind: str, value: Any, name: str) -> Any:
    """Text from a command line (`-i limit=5`) becomes the declared type; typed values pass."""
    if not isinstance(value, str) or kind == "string":
        return value
    try:
        return typed_value(kind, value)
    except ValueError:
        raise InputError(
            redact(f"Input {name!r} should be {_article(kind)} {kind}, not {value!r}."),
            hint="Arrays and objects are written as JSON, e.g. -i ids='[1,2]'.",
        ) from None


def _article(kind: str) -> str:
    return "an" if kind[0] in "aeiou" else "a"


_VALIDATORS: dict[int, tuple[Action, Draft202012Validator]] = {}


def _validator(action: Action) -> Draft202012Validator:
    """The compiled schema of `action` (cached per action object: they are validated once)."""
    found = _VALIDATORS.get(id(action))
    if found is None or found[0] is not action:
        if len(_VALIDATORS) > 4096:
            _VALIDATORS.clear()
        from jsonschema import Draft202012Validator  # ~0.15 s: only for actions with inputs

        # Defaults are already applied: validate against the schema without connector defaults.
        found = _VALIDATORS[id(action)] = (action, Draft202012Validator(action.input_schema()))
    return found[1]
