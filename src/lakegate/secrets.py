"""Secret references (`${env:NAME}`, `${secret:NAME}`, `${databrickscfg:PROFILE.KEY}`), the local
secret store, and redaction.

A secret is write-only: it is resolved at the moment a request needs it, registered with the
redactor, and every front passes what it prints, logs or returns through `redact`.
"""

from __future__ import annotations

import configparser
import contextlib
import json
import os
import re
import stat
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus, urlsplit

from lakegate._locking import held
from lakegate.errors import AuthError, SecretError

__all__ = [
    "REFERENCE_PATTERN",
    "MemorySecretStore",
    "SecretStore",
    "databrickscfg_path",
    "has_value",
    "is_reference",
    "origin_of",
    "parse_reference",
    "read_databrickscfg",
    "redact",
    "redact_data",
    "register_secret",
    "resolve",
]

REFERENCE_PATTERN = re.compile(
    r"^\$\{(env|secret|databrickscfg):([A-Za-z_][A-Za-z0-9_.\-]{0,127})\}$"
)
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]{0,127}$")
_REDACTED = "***"
# Values this short are too likely to occur in ordinary text to be replaced blindly.
_MIN_SECRET_LEN = 4
# Tokens rotate forever in a long-running server; old ones stay redacted for a long while.
_MAX_REGISTERED = 4096


def is_reference(value: object) -> bool:
    """True when `value` is a `${env:NAME}`, `${secret:NAME}` or `${databrickscfg:P.KEY}`
    reference."""
    return isinstance(value, str) and REFERENCE_PATTERN.match(value) is not None


def parse_reference(ref: str) -> tuple[str, str]:
    """Split a reference into (kind, name): `${env:X}` -> ("env", "X")."""
    match = REFERENCE_PATTERN.match(ref)
    if match is None:
        raise SecretError(
            "This value is not a secret reference.",
            code="config.secret_reference",
            hint="Write `${env:VARIABLE}` or `${secret:NAME}` (stored with `lakegate secret set`).",
        )
    return match.group(1), match.group(2)


def databrickscfg_path(env: Mapping[str, str] | None = None) -> Path:
    """The Databricks CLI and SDK config file: $DATABRICKS_CONFIG_FILE (of `env`, default this
    process's environment), else ~/.databrickscfg."""
    env = os.environ if env is None else env
    return Path(env.get("DATABRICKS_CONFIG_FILE") or "~/.databrickscfg").expanduser()


def read_databrickscfg(path: Path | None = None) -> dict[str, dict[str, str]] | None:
    """The profiles of a Databricks config file as databricks-sdk reads them, or None when
    there is no file: each profile on its own ([DEFAULT]'s keys are not folded into the others,
    as configparser would), [DEFAULT] only when it has keys, `__settings__` kept apart."""
    file = path or databrickscfg_path()
    # A default section nobody names: [DEFAULT] becomes a profile like any other.
    parser = configparser.ConfigParser(interpolation=None, default_section="\x00")
    try:
        parser.read_string(file.read_text(encoding="utf-8"), source=str(file))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, configparser.Error) as exc:
        raise SecretError(
            f"Cannot read {file}: {' '.join(str(exc).split())}.",
            code="config.databrickscfg",
            hint="Fix the file (INI: [profile] lines, then key = value).",
        ) from None
    profiles = {name: dict(parser[name]) for name in parser.sections()}
    if not profiles.get("DEFAULT"):
        profiles.pop("DEFAULT", None)
    return profiles


def _databrickscfg_value(ref: str, name: str) -> tuple[str, list[str]]:
    """A `${databrickscfg:PROFILE.KEY}` value, read now (so rotation in the file is followed),
    and the origins it may go to: the profile's host (and Entra ID for an Azure profile)."""
    profile, _, key = name.rpartition(".")
    file = databrickscfg_path()
    profiles = read_databrickscfg(file)
    where = f"{key} of profile {profile!r} in {file} ({ref})"
    section = (profiles or {}).get(profile)
    value = (section or {}).get(key, "").strip()
    if not profile or not value:
        cause = (
            f"there is no {file}" if profiles is None
            else f"{file} has no profile {profile!r}" if section is None
            else f"profile {profile!r} has no {key}"
        )  # fmt: skip
        raise SecretError(
            f"Cannot read the {where}: {cause}.",
            hint="Add it to the profile (`databricks auth login`, or edit the file), or point "
            "$DATABRICKS_CONFIG_FILE at the file the connector was made from.",
            details={"reference": ref},
        )
    host = (section or {}).get("host", "").strip()
    if host and "://" not in host:
        host = "https://" + host
    origins = [origin_of(host)] if host else []
    if origins and section and section.get("azure_tenant_id"):
        origins.append("https://login.microsoftonline.com")
    return value, origins


def origin_of(url: str) -> str:
    """Where a secret may go: `HTTPS://Host:443/path?q` -> `https://host` (scheme, host, port)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return url
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    default = {"http": 80, "https": 443}.get(scheme)
    return f"{scheme}://{host}" + (f":{port}" if port and port != default else "")


def resolve(ref: str, store: SecretStore | None, destination: str | None = None) -> str:
    """The secret behind `ref`, registered with the redactor; SecretError when it is missing.

    With `destination` (the URL it is about to be sent to), a stored secret must have been
    stored for that origin (or is bound to it now, on its first use): AuthError
    `auth.secret_origin` otherwise, and nothing is sent. `${env:...}` secrets are not bound.
    """
    kind, name = parse_reference(ref)
    if kind == "databrickscfg":
        return _resolve_databrickscfg(ref, name, destination)
    if kind == "env":
        value = os.environ.get(name)
        if not value:
            raise SecretError(
                f"The environment variable {name} ({ref}) is not set.",
                hint=f"Export it first (`export {name}=...`), or store the value with "
                f"`lakegate secret set {name}` and write `${{secret:{name}}}` instead.",
                details={"reference": ref},
            )
    else:
        value = store.get(name) if store is not None else None
        if not value:
            raise SecretError(
                f"The secret {name} ({ref}) is not in the local secret store.",
                hint=f"Store it with `lakegate secret set {name}` (stdin or a hidden prompt).",
                details={"reference": ref},
            )
        if destination is not None and store is not None:
            _check_origin(store, name, ref, destination)
    register_secret(value)
    return value


def has_value(ref: str, store: SecretStore | None) -> bool:
    """Whether `ref` would resolve now (without resolving or binding it)."""
    kind, name = parse_reference(ref)
    if kind == "env":
        return bool(os.environ.get(name))
    if kind == "secret":
        return store is not None and name in store.names()
    try:
        _databrickscfg_value(ref, name)
    except SecretError:
        return False
    return True


def _resolve_databrickscfg(ref: str, name: str, destination: str | None) -> str:
    value, origins = _databrickscfg_value(ref, name)
    register_secret(value)
    target = origin_of(destination) if destination is not None else None
    if target is not None and origins and target not in origins:
        raise AuthError(
            f"The {ref} secret belongs to {' and '.join(origins)} (the profile's host), but "
            f"the connector sends it to {target}; nothing was sent.",
            code="auth.secret_origin",
            hint="Point the connector at the profile's workspace, or use the profile that "
            f"belongs to {target}.",
            details={"reference": ref, "stored_for": origins, "destination": target},
        )
    return value


def _check_origin(store: SecretStore, name: str, ref: str, destination: str) -> None:
    target = origin_of(destination)
    allowed = store.bind(name, target)
    if target not in allowed:
        raise AuthError(
            f"The secret {name} ({ref}) was stored for {' and '.join(allowed)}, but the "
            f"connector now sends it to {target}; nothing was sent.",
            code="auth.secret_origin",
            hint=f"If {target} is right, enter the secret again for it (`lakegate secret set "
            f"{name}`, or type it in the Studio's connector form); if not, put the connector's "
            "URL back in lakegate.yaml.",
            details={"reference": ref, "stored_for": allowed, "destination": target},
        )


class _Redactor:
    """Every registered secret, and one compiled pattern that replaces them all."""

    def __init__(self) -> None:
        self._values: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()
        self._pattern: re.Pattern[str] | None = None

    def register(self, value: str) -> None:
        if not isinstance(value, str) or len(value) < _MIN_SECRET_LEN:
            return
        # Secrets travel URL-encoded in forms and query strings too.
        forms = {value, quote(value, safe=""), quote_plus(value)}
        with self._lock:
            changed = False
            for form in forms:
                if form in self._values:
                    self._values.move_to_end(form)
                else:
                    self._values[form] = None
                    changed = True
            while len(self._values) > _MAX_REGISTERED:
                self._values.popitem(last=False)
            if changed:
                self._pattern = None

    def redact(self, text: str) -> str:
        pattern = self._pattern
        if pattern is None:
            with self._lock:
                if not self._values:
                    return text
                # Longest first, so a secret containing another is replaced whole.
                ordered = sorted(self._values, key=len, reverse=True)
                pattern = self._pattern = re.compile("|".join(map(re.escape, ordered)))
        return pattern.sub(_REDACTED, text)


_redactor = _Redactor()


def register_secret(value: str) -> None:
    """Remember `value` so that `redact` replaces it everywhere from now on."""
    _redactor.register(value)


def redact(text: str) -> str:
    """`text` with every registered secret and token replaced by `***`."""
    if not isinstance(text, str):
        text = str(text)
    return _redactor.redact(text)


def redact_data(value: Any) -> Any:
    """A copy of JSON-like data with every string passed through `redact`."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {redact(str(k)): redact_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_data(v) for v in value]
    return value


class SecretStore:
    """The local secret store: `.lakegate/secrets.json`, mode 0600, written atomically.

    Every change is a read-modify-write under an inter-process lock, so processes that store
    secrets at once (parallel `secret set`, replicas creating a shared key) lose none.
    """

    def __init__(self, state_dir: str | os.PathLike[str]) -> None:
        self.state_dir = Path(state_dir)
        self.path = self.state_dir / "secrets.json"

    def __repr__(self) -> str:
        return f"SecretStore(path={str(self.path)!r})"

    def get(self, name: str) -> str | None:
        """The stored value, or None."""
        value = self._read().get(name)
        if value is not None:
            register_secret(value)
        return value

    def set(self, name: str, value: str, *, origin: str | None = None) -> None:
        """Store `value` under `name` (replacing any previous value), for `origin` (a URL the
        secret may be sent to) when known; else it is bound to where it is first sent."""
        _check_name(name)
        if not isinstance(value, str) or not value:
            raise SecretError(
                f"The value for secret {name} is empty.",
                code="config.secret_empty",
                hint="Pipe the value on stdin or type it at the hidden prompt.",
            )
        register_secret(value)
        with self._locked():
            data = self._read()
            data[name] = value
            self._write(data)
            origins = self._read_origins()
            before = origins.get(name)
            if origin:
                origins[name] = [origin_of(origin)]
            else:
                origins.pop(name, None)  # entered anew: bound where it is first sent
            if origins.get(name) != before:
                self._write_origins(origins)

    def origins(self, name: str) -> list[str]:
        """The origins `name` may be sent to ([] while it has not been bound to one)."""
        return list(self._read_origins().get(name, []))

    def allow(self, name: str, *origins: str) -> None:
        """Let `name` go to each of `origins` too (bound to the first if it had no origin yet):
        a second host that accepts the same secret, as a Databricks service principal's secret
        is accepted by its account's host. Only code that knows such a host calls this."""
        with self._locked():
            found = self._read_origins()
            allowed = found.setdefault(name, [])
            for origin in map(origin_of, origins):
                if origin not in allowed:
                    allowed.append(origin)
            self._write_origins(found)

    def bind(self, name: str, origin: str) -> list[str]:
        """The origins `name` may be sent to, binding it to `origin` if it had none yet."""
        found = self.origins(name)
        if found:
            return found
        with self._locked():
            origins = self._read_origins()
            if not origins.get(name):
                origins[name] = [origin_of(origin)]
                self._write_origins(origins)
            return list(origins[name])

    def setdefault(self, name: str, value: str) -> str:
        """The value stored under `name`, or `value` stored now: however many processes ask at
        once, they all get the one value that was stored first."""
        _check_name(name)
        register_secret(value)
        with self._locked():
            data = self._read()
            if data.get(name):
                return data[name]
            data[name] = value
            self._write(data)
            return value

    def remove(self, name: str) -> bool:
        """Forget `name`; False when it was not stored."""
        with self._locked():
            data = self._read()
            if name not in data:
                return False
            del data[name]
            self._write(data)
            origins = self._read_origins()
            if origins.pop(name, None) is not None:
                self._write_origins(origins)
            return True

    def names(self) -> list[str]:
        """Stored secret names, sorted (never the values)."""
        return sorted(self._read())

    def _read(self) -> dict[str, str]:
        try:
            mode = self.path.stat().st_mode
        except FileNotFoundError:
            return {}
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise SecretError(
                f"The secret store {self.path} is readable by other users "
                f"(mode {stat.S_IMODE(mode):o}); lakegate refuses to read it.",
                code="config.secret_store_insecure",
                hint=f"Restrict it with `chmod 600 {self.path}`, then rotate any secret in it.",
            )
        try:
            data = json.loads(self.path.read_text(encoding="utf-8") or "{}")
        except (OSError, ValueError) as exc:
            raise SecretError(
                f"The secret store {self.path} cannot be read ({type(exc).__name__}).",
                code="config.secret_store_invalid",
                hint="Remove the file and store the secrets again with `lakegate secret set`.",
            ) from None
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            raise SecretError(
                f"The secret store {self.path} is not a JSON object of strings.",
                code="config.secret_store_invalid",
                hint="Remove the file and store the secrets again with `lakegate secret set`.",
            )
        for value in data.values():
            register_secret(value)
        return data

    def _locked(self) -> contextlib.AbstractContextManager[None]:
        """Hold the store's inter-process lock (`secrets.json.lock`, beside it)."""
        return held(
            self.path.with_name(self.path.name + ".lock"),
            lambda waited: SecretError(
                f"The secret store {self.path} stayed locked by another lakegate process for "
                f"{waited:g} s.",
                code="config.store_busy",
                hint="Wait for the other lakegate command to finish, then run this one again.",
            ),
        )

    def _write(self, data: dict[str, str]) -> None:
        self._write_private(self.path, data)

    @property
    def _origins_path(self) -> Path:
        return self.path.with_name("secrets.origins.json")

    def _read_origins(self) -> dict[str, list[str]]:
        """{name: [origin, ...]}: where each stored secret may be sent (not secret itself)."""
        try:
            data = json.loads(self._origins_path.read_text(encoding="utf-8") or "{}")
        except FileNotFoundError:
            return {}
        except (OSError, ValueError):
            raise SecretError(
                f"{self._origins_path} cannot be read.",
                code="config.secret_store_invalid",
                hint="Remove it and enter the secrets again (each is bound to where it is sent).",
            ) from None
        if not isinstance(data, dict):
            return {}
        return {
            k: [o for o in v if isinstance(o, str)] for k, v in data.items() if isinstance(v, list)
        }

    def _write_origins(self, origins: dict[str, list[str]]) -> None:
        self._write_private(self._origins_path, origins)

    def _write_private(self, path: Path, data: Any) -> None:
        self.state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        payload = json.dumps(data, indent=2, sort_keys=True) + "\n"
        # mkstemp creates the file 0600: the secret is never readable by others, not even briefly.
        fd, tmp = tempfile.mkstemp(dir=self.state_dir, prefix=".secrets.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(payload)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


class MemorySecretStore(SecretStore):
    """Secrets held in this process only (setup's admin credentials): never written to disk."""

    def __init__(self, values: dict[str, str] | None = None) -> None:
        self._values: dict[str, str] = {}
        self._origins: dict[str, list[str]] = {}
        for name, value in (values or {}).items():
            self.set(name, value)

    def __repr__(self) -> str:
        return f"MemorySecretStore(names={self.names()})"

    def _read(self) -> dict[str, str]:
        return dict(self._values)

    def _locked(self) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()  # one process's memory: nothing to share

    def bind(self, name: str, origin: str) -> list[str]:
        """Held in memory from the caller's own flags or environment: not bound, like `${env:}`."""
        return [origin_of(origin)]

    def _read_origins(self) -> dict[str, list[str]]:
        return {k: list(v) for k, v in self._origins.items()}

    def _write_origins(self, origins: dict[str, list[str]]) -> None:
        self._origins = {k: list(v) for k, v in origins.items()}

    def _write(self, data: dict[str, str]) -> None:
        self._values = dict(data)


def _check_name(name: str) -> None:
    if not _NAME.match(name or ""):
        raise SecretError(
            f"{name!r} is not a valid secret name.",
            code="config.secret_name",
            hint="Use letters, digits, '_', '.' or '-', starting with a letter or '_' "
            "(for example DATABRICKS_CLIENT_SECRET).",
        )
