"""Turn a pasted `curl ...` command into the parts of an action: method, path, query, headers, body.

Credentials in the command (`-u`, `Authorization`, API-key headers or query parameters) are never
copied into the action: they belong to the connector's auth, and a warning says so.
"""

from __future__ import annotations

import codecs
import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote_plus, urlsplit

from lakegate.errors import ConfigError

__all__ = ["CurlImport", "looks_like_credential", "parse_curl"]

# Header and query names that carry credentials: never copied into an action.
_SENSITIVE_NAME = re.compile(
    r"authorization|api[-_]?key|apikey|token|secret|password|passwd|cookie|session|signature|"
    r"^x-amz-|^auth$|^key$",
    re.IGNORECASE,
)
# ...except pagination cursors, which only look like credentials.
_CURSOR_NAME = re.compile(r"^(next[-_]?)?(page|continuation|sync|cursor)[-_]?token$", re.IGNORECASE)
# Headers the gateway computes itself.
_DROPPED_HEADERS = {"content-length", "host", "connection", "accept-encoding"}

# Flags that change nothing an action declares (output, verbosity, transport): ignored quietly.
_QUIET_FLAGS = {
    "-s", "--silent", "-S", "--show-error", "-v", "--verbose", "-i", "--include",
    "-L", "--location", "-f", "--fail", "--fail-with-body", "--compressed", "-#",
    "--progress-bar", "-N", "--no-buffer", "--http1.1", "--http2", "-g", "--globoff",
    "--no-progress-meter", "-q", "--disable",
}  # fmt: skip
# Flags with an argument that lakegate handles elsewhere (timeouts, output): ignored quietly.
_QUIET_ARG_FLAGS = {
    "-o", "--output", "-w", "--write-out", "-m", "--max-time", "--connect-timeout",
    "--retry", "--retry-delay", "--retry-max-time", "-D", "--dump-header", "--trace",
    "--trace-ascii", "--stderr", "--max-redirs",
}  # fmt: skip
# Flags with an argument lakegate cannot express in an action: ignored with a warning.
_WARN_ARG_FLAGS = {
    "-A", "--user-agent", "-b", "--cookie", "-c", "--cookie-jar", "-e", "--referer",
    "-x", "--proxy", "-U", "--proxy-user", "-E", "--cert", "--key", "--cacert",
    "-F", "--form", "--oauth2-bearer", "-r", "--range", "-T", "--upload-file",
    "--resolve", "--connect-to", "-K", "--config", "--aws-sigv4",
}  # fmt: skip
_ARG_FLAGS = {
    "-X", "--request", "-H", "--header", "-d", "--data", "--data-ascii", "--data-raw",
    "--data-binary", "--data-urlencode", "--json", "-u", "--user", "--url",
} | _QUIET_ARG_FLAGS | _WARN_ARG_FLAGS  # fmt: skip
_DATA_FLAGS = {"-d", "--data", "--data-ascii", "--data-raw", "--data-binary", "--data-urlencode"}


@dataclass
class CurlImport:
    """What a curl command asks for, split into the fields of an action."""

    method: str
    base_url: str  # scheme://host[:port] of the URL
    path: str
    query: dict[str, str | list[str]] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    body_format: str | None = None  # "json" | "form" | "text" | None
    suggested_auth: str | None = None  # "basic" | "bearer" | "api_key" when credentials were seen
    username: str | None = None  # from `-u USER[:PASSWORD]`; the password is never kept
    warnings: list[str] = field(default_factory=list)

    def path_for(self, base_url: str, connector: str = "the connector") -> str:
        """The action path relative to a connector's base URL; an error if the URL is elsewhere."""
        base = urlsplit(base_url.rstrip("/"))
        if _origin(base.scheme, base.netloc) != self.base_url:
            raise ConfigError(
                f"The curl URL {self.base_url}{self.path} is not on {connector}'s base URL "
                f"{base_url}.",
                code="config.curl_origin",
                hint=(
                    f"Import it against a connector whose base URL is {self.base_url}, or create "
                    f"one: lakegate connector add NAME --base-url {self.base_url} --auth ..."
                ),
            )
        prefix = base.path.rstrip("/")
        if not prefix:
            return self.path
        if self.path == prefix or self.path.startswith(prefix + "/"):
            return self.path[len(prefix) :] or "/"
        raise ConfigError(
            f"The curl path {self.path} is not under {connector}'s base path {prefix}.",
            code="config.curl_origin",
            hint=f"Use a connector whose base URL is {self.base_url} (without a path).",
        )


def parse_curl(command: str) -> CurlImport:
    """Parse a curl command line as a shell would; raise ConfigError when it is not one."""
    try:
        tokens = shlex.split(_normalise(command))
    except ValueError as exc:
        raise ConfigError(
            f"The curl command could not be read: {exc}.",
            code="config.curl_invalid",
            hint="Paste the whole command in single quotes, e.g. 'curl -X GET https://...'.",
        ) from None
    if tokens and tokens[0] in ("curl", "curl.exe"):
        tokens = tokens[1:]
    return _Parser().parse(tokens)


def _normalise(command: str) -> str:
    """Join `\\` line continuations and turn bash `$'...'` strings into plain quoted words."""
    text = re.sub(r"\\\r?\n", " ", command.strip())
    return re.sub(r"\$'((?:[^'\\]|\\.)*)'", _ansi_c_word, text)


def _ansi_c_word(match: re.Match[str]) -> str:
    raw = match.group(1)
    try:
        decoded = codecs.decode(raw.encode("latin-1", "backslashreplace"), "unicode_escape")
        value = decoded.encode("latin-1").decode("utf-8")
    except (UnicodeError, ValueError):
        value = raw.replace("\\'", "'")
    return shlex.quote(value)


def _origin(scheme: str, netloc: str) -> str:
    host = netloc.rsplit("@", 1)[-1].lower()
    default_port = {"http": ":80", "https": ":443"}.get(scheme.lower())
    if default_port and host.endswith(default_port):
        host = host[: -len(default_port)]
    return f"{scheme.lower()}://{host}"


class _Parser:
    """One pass over the tokens, collecting what each flag says."""

    def __init__(self) -> None:
        self.method: str | None = None
        self.urls: list[str] = []
        self.headers: list[str] = []
        self.data: list[str] = []
        self.json_data: list[str] = []
        self.get = False
        self.head = False
        self.user: str | None = None
        self.warnings: list[str] = []

    def parse(self, tokens: list[str]) -> CurlImport:
        it = iter(_expand_short_clusters(tokens))
        for word in it:
            if word == "--":
                self.urls.extend(it)
                break
            if not word.startswith("-") or word == "-":
                self.urls.append(word)
                continue
            flag, _, inline = word.partition("=") if word.startswith("--") else (word, "", "")
            if flag in _ARG_FLAGS:
                value = inline or next(it, None)
                if value is None:
                    raise ConfigError(
                        f"curl flag {flag} needs a value.",
                        code="config.curl_invalid",
                        hint=f"Give it one, e.g. {flag} VALUE.",
                    )
                self._flag_with_value(flag, value)
            else:
                self._flag(flag)
        return self._build()

    def _flag_with_value(self, flag: str, value: str) -> None:
        if flag in ("-X", "--request"):
            self.method = value.upper()
        elif flag in ("-H", "--header"):
            self.headers.append(value)
        elif flag in _DATA_FLAGS:
            self.data.append(_data_value(flag, value))
        elif flag == "--json":
            self.json_data.append(_read_at_file(value) if value.startswith("@") else value)
        elif flag in ("-u", "--user"):
            self.user = value
        elif flag == "--url":
            self.urls.append(value)
        elif flag in _WARN_ARG_FLAGS:
            self.warnings.append(f"{flag} is not part of an action and was ignored.")

    def _flag(self, flag: str) -> None:
        if flag in ("-G", "--get"):
            self.get = True
        elif flag in ("-I", "--head"):
            self.head = True
        elif flag in ("-k", "--insecure"):
            self.warnings.append(f"{flag} was ignored: lakegate always verifies TLS certificates.")
        elif flag not in _QUIET_FLAGS:
            self.warnings.append(f"Unknown curl flag {flag} was ignored.")

    def _build(self) -> CurlImport:
        if not self.urls:
            raise ConfigError(
                "The curl command has no URL.",
                code="config.curl_invalid",
                hint="Paste the whole command, e.g. 'curl https://host/api/2.0/sql/warehouses'.",
            )
        url, *extra = self.urls
        if extra:
            self.warnings.append(f"Only the first URL was imported; ignored: {' '.join(extra)}.")
        if "://" not in url:
            url = "https://" + url
            self.warnings.append(f"The URL had no scheme; assumed {url}.")
        parts = urlsplit(url)
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            raise ConfigError(
                f"{url!r} is not an http(s) URL.",
                code="config.curl_invalid",
                hint="The curl command must call an http:// or https:// URL.",
            )
        result = CurlImport(
            method="GET",
            base_url=_origin(parts.scheme, parts.netloc),
            path=parts.path or "/",
            warnings=self.warnings,
        )
        if "@" in parts.netloc:
            result.suggested_auth = "basic"
            self.warnings.append(
                "Credentials in the URL were not imported: use a connector with --auth basic."
            )
        self._query(result, parse_qsl(parts.query, keep_blank_values=True))
        self._headers(result)
        self._body(result)
        self._user(result)
        result.method = self._method(result)
        return result

    def _method(self, result: CurlImport) -> str:
        if self.method:
            return self.method
        if self.head:
            return "HEAD"
        return "POST" if result.body is not None else "GET"

    def _query(self, result: CurlImport, pairs: list[tuple[str, str]]) -> None:
        for name, value in pairs:
            if looks_like_credential(name):
                result.suggested_auth = result.suggested_auth or "api_key"
                self.warnings.append(
                    f"Query parameter {name!r} looks like a credential and was not imported: use "
                    f"a connector with --auth api_key --api-key-query {name} instead."
                )
                continue
            existing = result.query.get(name)
            if existing is None:
                result.query[name] = value
            elif isinstance(existing, list):
                existing.append(value)
            else:
                result.query[name] = [existing, value]

    def _headers(self, result: CurlImport) -> None:
        for line in self.headers:
            if line.startswith("@"):
                self.warnings.append(f"Headers from a file ({line}) were not imported.")
                continue
            name, sep, value = line.partition(":")
            if not sep:
                name, sep, _ = line.partition(";")  # `Name;` sends an empty header
                value = ""
            name, value = name.strip(), value.strip()
            if not sep or not name:
                self.warnings.append(f"Header {line!r} was not understood and was ignored.")
                continue
            if name.lower() in _DROPPED_HEADERS:
                continue
            if looks_like_credential(name):
                self._credential_header(result, name, value)
                continue
            result.headers[name] = value

    def _credential_header(self, result: CurlImport, name: str, value: str) -> None:
        scheme = value.split(" ", 1)[0].lower()
        if name.lower() == "authorization" and scheme in ("basic", "bearer"):
            result.suggested_auth = scheme
            how = f"--auth {scheme}"
        else:
            result.suggested_auth = "api_key"
            how = f"--auth api_key --api-key-header {name}"
        self.warnings.append(
            f"Header {name!r} carries a credential and was not copied into the action: "
            f"use connector auth instead ({how})."
        )

    def _body(self, result: CurlImport) -> None:
        if self.json_data:
            text = "".join(self.json_data)
            result.headers.setdefault("Content-Type", "application/json")
            result.headers.setdefault("Accept", "application/json")
            result.body, result.body_format = _json_or_text(text, self.warnings)
            return
        if not self.data:
            return
        text = "&".join(self.data)
        if self.get:
            self._query(result, parse_qsl(text, keep_blank_values=True))
            return
        content_type = _header(result.headers, "content-type").lower()
        stripped = text.lstrip()
        if "json" in content_type or stripped.startswith(("{", "[")):
            result.body, result.body_format = _json_or_text(text, self.warnings)
        elif "=" in text and (not content_type or "form-urlencoded" in content_type):
            result.body = dict(parse_qsl(text, keep_blank_values=True))
            result.body_format = "form"
            result.headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        else:
            result.body, result.body_format = text, "text"

    def _user(self, result: CurlImport) -> None:
        if self.user is None:
            return
        username = self.user.split(":", 1)[0]
        result.username = username or None
        result.suggested_auth = "basic"
        who = f" --username {username}" if username else ""
        self.warnings.append(
            "-u credentials were not copied into the action: use a connector with basic auth, "
            f"e.g. lakegate connector add NAME --base-url {result.base_url} --auth basic{who} "
            "--password-env VAR."
        )


def looks_like_credential(name: str) -> bool:
    """True for a header or query parameter name that carries a credential (not a page token)."""
    return bool(_SENSITIVE_NAME.search(name)) and not _CURSOR_NAME.match(name)


def _expand_short_clusters(tokens: list[str]) -> list[str]:
    """`-sSL` -> `-s -S -L`; `-XPOST` -> `-X POST` (as curl reads them)."""
    out: list[str] = []
    for token in tokens:
        if not token.startswith("-") or token.startswith("--") or len(token) <= 2:
            out.append(token)
            continue
        for index, char in enumerate(token[1:], start=1):
            flag = "-" + char
            out.append(flag)
            if flag in _ARG_FLAGS:
                if index + 1 < len(token):
                    out.append(token[index + 1 :])
                break
    return out


def _data_value(flag: str, value: str) -> str:
    if flag == "--data-urlencode":
        return _urlencode(value)
    if flag in ("--data-raw",) or not value.startswith("@"):
        return value
    text = _read_at_file(value)
    # curl -d strips newlines from files; --data-binary keeps them.
    return text if flag == "--data-binary" else text.replace("\r", "").replace("\n", "")


def _urlencode(value: str) -> str:
    """curl's --data-urlencode forms: `content`, `=content`, `name=content`, `@file`, `a@file`."""
    if value.startswith("="):
        return quote_plus(value[1:])
    name, eq, content = value.partition("=")
    if eq and "@" not in name:
        return f"{name}={quote_plus(content)}"
    name, at, filename = value.partition("@")
    if at:
        content = _read_at_file("@" + filename)
        return f"{name}={quote_plus(content)}" if name else quote_plus(content)
    return quote_plus(value)


def _read_at_file(value: str) -> str:
    path = Path(value[1:])
    if value == "@-":
        raise ConfigError(
            "The curl command reads its body from stdin (@-), which cannot be imported.",
            code="config.curl_invalid",
            hint='Put the body in the command itself, e.g. -d \'{"key": "value"}\'.',
        )
    try:
        return path.read_text()
    except OSError as exc:
        raise ConfigError(
            f"The curl body file {path} could not be read: {exc.strerror}.",
            code="config.curl_invalid",
            hint="Run the import from the folder the curl command was written for, or inline it.",
        ) from None


def _json_or_text(text: str, warnings: list[str]) -> tuple[Any, str]:
    try:
        return json.loads(text), "json"
    except ValueError:
        warnings.append("The body is not valid JSON; it was imported as text.")
        return text, "text"


def _header(headers: dict[str, str], name: str) -> str:
    return next((v for k, v in headers.items() if k.lower() == name), "")
