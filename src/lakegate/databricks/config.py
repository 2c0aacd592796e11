"""Which workspace and credentials a command means, resolved as databricks-sdk's `Config` does.

Order, as the SDK and the databricks CLI read it: flags, then `DATABRICKS_*` environment
variables, then one profile of `~/.databrickscfg` (`$DATABRICKS_CONFIG_FILE`), filling only what
is still unset. The profile is `--profile`, else `$DATABRICKS_CONFIG_PROFILE`, else
`[__settings__] default_profile`, else `[DEFAULT]` when it has keys; with no profile named and a
host or credentials already given, the file is not read. Profiles do not share keys: a
`client_secret` in `[DEFAULT]` is not one of `[prod]`'s.

Secrets come back as references (`${env:DATABRICKS_CLIENT_SECRET}`,
`${databrickscfg:prod.client_secret}`), never values: a connector made from a profile reads the
file at each token request, so rotating the secret there reaches lakegate.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from lakegate.errors import ConfigError
from lakegate.secrets import databrickscfg_path, read_databrickscfg

__all__ = ["DatabricksConfig", "resolve_config"]

# The attributes lakegate uses, each with its environment variable (as the SDK names them).
_ENV = {
    "host": "DATABRICKS_HOST",
    "client_id": "DATABRICKS_CLIENT_ID",
    "client_secret": "DATABRICKS_CLIENT_SECRET",
    "token": "DATABRICKS_TOKEN",
    "azure_tenant_id": "ARM_TENANT_ID",
    "account_id": "DATABRICKS_ACCOUNT_ID",
}
_SECRET_KEYS = ("client_secret", "token")
# Set in the environment, any of these means "credentials given": the SDK then skips the file.
_AUTH_ENV = (
    "DATABRICKS_TOKEN", "DATABRICKS_CLIENT_ID", "DATABRICKS_CLIENT_SECRET",
    "DATABRICKS_USERNAME", "DATABRICKS_PASSWORD", "DATABRICKS_AZURE_RESOURCE_ID",
    "ARM_USE_MSI", "ARM_CLIENT_SECRET", "ARM_CLIENT_ID", "ARM_TENANT_ID",
    "DATABRICKS_GOOGLE_SERVICE_ACCOUNT", "GOOGLE_CREDENTIALS", "DATABRICKS_OIDC_TOKEN_ENV",
    "DATABRICKS_OIDC_TOKEN_FILE",
)  # fmt: skip
_SETTINGS = "__settings__"


@dataclass
class DatabricksConfig:
    """A resolved configuration: plain values, and secrets as references."""

    host: str | None = None
    client_id: str | None = None
    client_secret: str | None = None  # a reference
    token: str | None = None  # a reference
    azure_tenant_id: str | None = None
    account_id: str | None = None
    profile: str | None = None  # the profile read, if one was
    file: Path = field(default_factory=databrickscfg_path)
    sources: dict[str, str] = field(default_factory=dict)  # attribute -> "flag", "env", profile

    @property
    def is_account(self) -> bool:
        """An account console host (the SDK's test): not a workspace."""
        return (self.host or "").startswith(("https://accounts.", "https://accounts-dod."))

    def describe(self, attribute: str) -> str:
        """Where an attribute came from, for messages: `--host`, `$DATABRICKS_HOST`, ..."""
        source = self.sources.get(attribute)
        if source == "flag":
            return f"--{attribute.replace('_', '-')}"
        if source == "env":
            return f"${_ENV[attribute]}"
        return f"profile [{self.profile}] of {self.file}"


def resolve_config(
    *,
    profile: str | None = None,
    env: Mapping[str, str] | None = None,
    **flags: str | None,
) -> DatabricksConfig:
    """The configuration `flags` (host=, client_id=, ...), the environment and the config file
    give, in the SDK's order; ConfigError for a profile that is named but missing."""
    env = os.environ if env is None else env
    found = DatabricksConfig(file=databrickscfg_path(env))
    for attribute, value in flags.items():
        if value:
            _set(found, attribute, value, "flag")
    for attribute, variable in _ENV.items():
        if getattr(found, attribute) is None and env.get(variable):
            value = f"${{env:{variable}}}" if attribute in _SECRET_KEYS else env[variable]
            _set(found, attribute, value, "env")
    profile = profile or env.get("DATABRICKS_CONFIG_PROFILE") or None
    configured = found.host or any(env.get(v) for v in _AUTH_ENV) or flags.get("client_id")
    if profile is None and configured:
        return found  # the SDK skips the file when a host or credentials are already given
    profiles = read_databrickscfg(found.file)
    if profiles is None:
        if profile is not None:
            raise ConfigError(
                f"There is no {found.file} to read profile {profile!r} from.",
                hint="Create it with `databricks auth login` (or `databricks configure`), or "
                "pass --host and --client-id.",
            )
        return found
    settings = profiles.pop(_SETTINGS, {})
    name, named = _profile_name(profile, settings.get("default_profile", "").strip(), profiles)
    if name is None:
        return found
    if name not in profiles:
        if not named:
            return found
        known = ", ".join(profiles) or "none"
        raise ConfigError(
            f"{found.file} has no profile {name!r}.", hint=f"Profiles in it: {known}."
        )
    found.profile = name
    for attribute in _ENV:
        value = (profiles[name].get(attribute) or "").strip()
        if getattr(found, attribute) is None and value:
            if attribute in _SECRET_KEYS:
                value = f"${{databrickscfg:{name}.{attribute}}}"
            _set(found, attribute, value, name)
    return found


def _profile_name(
    requested: str | None, default: str, profiles: dict[str, dict[str, str]]
) -> tuple[str | None, bool]:
    """(the profile to read, whether it was named): the SDK's `_resolve_profile`."""
    if requested is not None:
        return requested, True
    if default:
        return default, True
    return ("DEFAULT", False) if "DEFAULT" in profiles else (None, False)


def _set(found: DatabricksConfig, attribute: str, value: str, source: str) -> None:
    if attribute == "host" and "://" not in value:
        value = "https://" + value  # as the SDK fixes a bare host name
    setattr(found, attribute, value.rstrip("/") if attribute == "host" else value)
    found.sources[attribute] = source
