"""The YAML side of the project file: round-trip load and atomic save, and error locations.

Kept apart from the models so that `project.py` reads as the schema of `lakegate.yaml`.
"""

from __future__ import annotations

import contextlib
import difflib
import io
import os
import tempfile
import types
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from lakegate._locking import held
from lakegate.errors import ConfigError

_HEADER = (
    "# lakegate project: connectors (base URL + auth), actions on them, and the copilot policy.\n"
    "# Reference: docs/project.md. Never write a secret here: use ${env:VAR} or ${secret:NAME}.\n"
)
_SECTIONS = ("connectors", "actions")


def _yaml() -> YAML:
    yaml = YAML()  # round-trip: comments, key order and quoting survive a save
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 100
    yaml.preserve_quotes = True
    return yaml


class ProjectDocument:
    """The ruamel document of one project file, plus what it held when last loaded or saved."""

    def __init__(self, data: CommentedMap, path: Path, text: str | None = None) -> None:
        self.data = data
        self.path = path
        self.text = text  # the file as last read or written here (None: not on disk yet)
        self._snapshot: dict[str, Any] = {}

    @classmethod
    def empty(cls, path: Path) -> ProjectDocument:
        data = _yaml().load(_HEADER + "connectors:\nactions:\n")
        data["connectors"] = _block_map()
        data["actions"] = _block_map()
        return cls(data, path)

    @classmethod
    def read(cls, path: Path) -> ProjectDocument:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(
                f"There is no project file at {path}.",
                code="config.project_missing",
                hint="Create one with `lakegate init`, or point at it with --project PATH.",
            ) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(
                f"{path} cannot be read ({type(exc).__name__}).", hint="Check the file."
            ) from None
        try:
            data = _yaml().load(text)
        except MarkedYAMLError as exc:
            # Only the problem and position: ruamel's snippet could show a secret.
            mark = exc.problem_mark or exc.context_mark
            line = mark.line + 1 if mark else None
            raise ConfigError(
                f"{path.name}:{line}: not valid YAML ({exc.problem or exc.context}).",
                hint="Fix the YAML syntax at that line (indentation, quotes, a missing ':').",
                details={"file": str(path), "line": line},
            ) from None
        except YAMLError as exc:
            raise ConfigError(
                f"{path.name}: not valid YAML ({type(exc).__name__}).",
                hint="Fix the YAML syntax.",
                details={"file": str(path)},
            ) from None
        if data is None:
            data = CommentedMap()
        if not isinstance(data, CommentedMap):
            raise ConfigError(
                f"{path.name}: the file must be a mapping with `connectors:` and `actions:`.",
                hint="Start from `lakegate init`.",
                details={"file": str(path)},
            )
        return cls(data, path, text)

    def validate(self, model: type[BaseModel]) -> Any:
        """The document validated as `model`, or one ConfigError listing every problem."""
        try:
            return model.model_validate(_plain(self.data))
        except ValidationError as exc:
            problems = [self._describe(model, err) for err in exc.errors()]
        lines = [f"{self.path.name}:{p['line']}: {p['field']}: {p['problem']}" for p in problems]
        fixes = [f"{p['field']}: {p['fix']}" for p in problems if p["fix"]]
        raise ConfigError(
            f"{self.path.name} is not valid:\n  " + "\n  ".join(lines),
            hint="\n".join(fixes) or "See docs/project.md for every field.",
            details={"file": str(self.path), "errors": problems},
        )

    def line_of(self, loc: tuple[Any, ...]) -> int | None:
        """1-based line of the deepest key of `loc` found in the document."""
        node: Any = self.data
        line = None
        for part in loc:
            if isinstance(node, CommentedMap) and part in node:
                line = node.lc.key(part)[0] + 1
                node = node[part]
            elif isinstance(node, CommentedSeq) and isinstance(part, int) and part < len(node):
                line = node.lc.item(part)[0] + 1
                node = node[part]
            # Other parts (union tags, validator names) have no place in the document.
        if line is None and isinstance(node, CommentedMap):
            line = node.lc.line + 1
        return line

    @property
    def snapshot(self) -> dict[str, Any]:
        """What the models held when last loaded or saved: {section: {name: full}}, copilot."""
        return self._snapshot

    def remember(self, sections: dict[str, Any]) -> None:
        """Note what the models hold now, so a save only rewrites what changed."""
        self._snapshot = {
            "connectors": {n: full for n, (_, full) in sections["connectors"].items()},
            "actions": {n: full for n, (_, full) in sections["actions"].items()},
            "copilot": sections["copilot"][1],
        }

    def render(self, sections: dict[str, Any]) -> str:
        self._sync(sections)
        out = io.StringIO()
        _yaml().dump(self.data, out)
        return out.getvalue()

    def write(self, path: Path, sections: dict[str, Any]) -> None:
        """Atomic: a temp file in the same folder, fsync, then rename over the old file."""
        text = self.render(sections)
        path.parent.mkdir(parents=True, exist_ok=True)
        mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, mode)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        self.path = path
        self.text = text

    def _sync(self, sections: dict[str, Any]) -> None:
        for section in _SECTIONS:
            current = sections[section]
            before = self._snapshot.get(section, {})
            node = self.data.get(section)
            if not isinstance(node, CommentedMap):
                if not current and section not in self.data:
                    continue
                node = self.data[section] = _block_map()
            node.fa.set_block_style()  # `actions: {}` grows into a block, not a flow mapping
            for name in [n for n in node if n not in current]:
                del node[name]
            if not node:
                # An emptied mapping would keep its entries' comments and dump as invalid YAML.
                node = self.data[section] = _block_map()
                self.data.ca.items.pop(section, None)
            for name, (slim, full) in current.items():
                if name not in node or not isinstance(node[name], CommentedMap):
                    node[name] = _to_yaml(slim)
                elif before.get(name) != full:
                    _merge(node[name], slim, full)
        slim, full = sections["copilot"]
        if full != self._snapshot.get("copilot", full):
            if isinstance(self.data.get("copilot"), CommentedMap):
                _merge(self.data["copilot"], slim, full)
            else:
                self.data["copilot"] = _to_yaml(slim)

    def _describe(self, model: type[BaseModel], err: Any) -> dict[str, Any]:
        loc = tuple(err["loc"])
        kind, ctx = err["type"], err.get("ctx") or {}
        problem, fix = err["msg"], ctx.get("fix", "")
        if kind == "lakegate":
            problem = ctx["problem"]
            if ctx.get("at"):
                loc = (*loc, ctx["at"])
        elif kind == "extra_forbidden":
            allowed = _fields_at(model, loc[:-1])
            close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
            problem = "unknown key"
            fix = f"did you mean `{close[0]}`?" if close else "remove it"
            if allowed and not close:
                fix += f"; allowed keys: {', '.join(allowed)}"
        elif kind == "missing":
            problem = "required key is missing"
            fix = f"add `{loc[-1]}:` (see docs/project.md)"
        elif kind == "union_tag_invalid":
            tags = [t.strip(" '") for t in str(ctx.get("expected_tags", "")).split(",")]
            close = difflib.get_close_matches(str(ctx.get("tag", "")), tags, n=1)
            problem = f"type {ctx.get('tag')!r} is not known"
            fix = f"did you mean `{close[0]}`?" if close else f"use one of {', '.join(tags)}"
        elif kind == "union_tag_not_found":
            problem = "`type` is missing"
            fix = "add `type:` (none, api_key, bearer, basic or oauth2)"
        field = _field_path(self.data, loc)
        return {"line": self.line_of(loc), "field": field, "problem": problem, "fix": fix}


def _field_path(data: Any, loc: tuple[Any, ...]) -> str:
    """`loc` as the dotted path a user wrote, without pydantic's union tags."""
    node, parts = data, []
    for part in loc:
        in_list = isinstance(node, list) and isinstance(part, int) and part < len(node)
        if (isinstance(node, dict) and part in node) or in_list:
            node = node[part]
        elif isinstance(node, dict) and part in _TAGS and node.get("type") == part:
            continue  # the discriminated union's tag, not a key
        else:
            node = None
        parts.append(str(part))
    return ".".join(parts) or "(top level)"


_TAGS = {"none", "api_key", "bearer", "basic", "oauth2"}


def _fields_at(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """Field names of the model found at `loc` (for "did you mean")."""
    current: Any = model
    parts = list(loc)
    while True:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            if not parts:
                return [f for f in current.model_fields if f != "name"]
            field = current.model_fields.get(parts.pop(0))
            if field is None:
                return []
            current = field.annotation
            continue
        if not parts:
            return []
        origin, args = typing.get_origin(current), typing.get_args(current)
        part = parts.pop(0)
        if origin in (dict, list) and args:
            current = args[-1]
        elif origin in (typing.Union, types.UnionType):
            tagged = [a for a in args if _tag(a) == part]
            if not tagged:
                return []
            current = tagged[0]
        else:
            return []


def _unwrap(annotation: Any) -> Any:
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(args) != 1:
                return annotation
            annotation = args[0]
        else:
            return annotation


def _tag(cls: Any) -> Any:
    if isinstance(cls, type) and issubclass(cls, BaseModel) and "type" in cls.model_fields:
        return cls.model_fields["type"].default
    return None


def _merge(target: CommentedMap, slim: dict[str, Any], full: dict[str, Any]) -> None:
    """Update `target` in place so it says `slim`; keys written out at their default stay."""
    for key in list(target):
        if key not in slim and not (key in full and _plain(target[key]) == full[key]):
            del target[key]
    for key, value in slim.items():
        old = target.get(key)
        if isinstance(value, dict) and isinstance(old, CommentedMap):
            sub_full = full.get(key) if isinstance(full.get(key), dict) else value
            _merge(old, value, sub_full)
        elif key not in target or _plain(old) != value:
            target[key] = _to_yaml(value)


def _block_map() -> CommentedMap:
    node = CommentedMap()
    node.fa.set_block_style()
    return node


def _to_yaml(value: Any) -> Any:
    if isinstance(value, dict):
        node = _block_map()
        for key, item in value.items():
            node[key] = _to_yaml(item)
        return node
    if isinstance(value, list):
        return CommentedSeq(_to_yaml(v) for v in value)
    return value


def _plain(value: Any) -> Any:
    """ruamel's commented containers and scalar types as plain Python."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    return value


def locked(path: Path) -> contextlib.AbstractContextManager[None]:
    """Hold the inter-process lock of the project file at `path` (in `.lakegate/` beside it),
    so two writers never interleave their read-modify-write."""
    return held(
        path.resolve().parent / ".lakegate" / f"{path.name}.lock",
        lambda waited: ConfigError(
            f"{path.name} stayed locked by another lakegate process for {waited:g} s.",
            code="config.project_busy",
            hint="Wait for the other lakegate command (or the Studio's save) to finish, then "
            "run this one again.",
        ),
    )


def entry_changes(
    before: dict[str, Any], mine: dict[str, Any], theirs: dict[str, Any]
) -> tuple[set[str], set[str]]:
    """(names to take from `mine`, names both sides changed differently) for one section,
    each a {name: full dump}: what this writer changed since `before`, and where it collides
    with what another writer saved meanwhile (`theirs`)."""
    ours = {n for n in before.keys() | mine.keys() if before.get(n) != mine.get(n)}
    clashes = {n for n in ours if theirs.get(n) not in (before.get(n), mine.get(n))}
    return ours - clashes, clashes
