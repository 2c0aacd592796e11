"""The read-only SQL guard: only one SELECT / WITH ... SELECT / VALUES / SHOW / DESCRIBE / EXPLAIN.

Deny by default. The statement is tokenized and parsed with sqlglot (databricks dialect); anything
it cannot parse, anything it parses as a generic command, and any write node anywhere in the tree
is refused. The text between tokens is re-read under the strictest comment rules of both sqlglot
and Spark, so a comment or an odd character cannot make the two lexers disagree about what runs.
"""

from __future__ import annotations

import difflib
import logging
import re
import unicodedata
from dataclasses import dataclass
from typing import ClassVar

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokens import Token, TokenType

from lakegate._sqldepth import allow_deep_sql
from lakegate.errors import ReadOnlyError, SqlParseError, too_complex

__all__ = ["Verdict", "check_read_only", "is_read_only", "parse_error"]

_DIALECT = Dialect.get_or_raise("databricks")
allow_deep_sql()


class _Tokenizer(_DIALECT.tokenizer_class):  # type: ignore[name-defined,misc]
    """The dialect's tokenizer, but SHOW / EXPLAIN tails are tokens too, not one opaque string."""

    COMMANDS: ClassVar[set[TokenType]] = set()


_TOKENIZER = _Tokenizer(dialect=_DIALECT)


class _NoFallbackWarnings(logging.Filter):
    """sqlglot warns when it falls back to a generic Command; the guard refuses those anyway."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Falling back to parsing as a 'Command'" not in record.getMessage()


logging.getLogger("sqlglot").addFilter(_NoFallbackWarnings())
_QUERY_NODES = (exp.Select, exp.SetOperation, exp.Values, exp.Subquery)
# Nodes that write, change session state or run arbitrary text: refused wherever they appear.
_WRITE_NODE_NAMES = (
    "DML DDL Insert Update Delete Merge Copy Create Drop Alter Command Grant Revoke "
    "TruncateTable Cache Uncache Refresh Analyze Set Use Declare Transaction Commit Rollback "
    "LoadData Comment Pragma Kill Into Returning Lock Export Put Get"
)
_WRITE_NODES: tuple[type[exp.Expression], ...] = tuple(
    getattr(exp, name) for name in _WRITE_NODE_NAMES.split() if hasattr(exp, name)
)
# Spark functions that run code or reach the network from inside a SELECT.
_SIDE_EFFECT_FUNCTIONS = {"reflect", "java_method", "try_reflect", "http_request"}
# Functions that read files or URLs (Databricks and DuckDB names): refused unless the connector
# allows file reads. Any function whose name starts with read_ counts too.
_FILE_FUNCTIONS = {
    "glob", "parquet_scan", "parquet_metadata", "parquet_schema", "parquet_file_metadata",
    "parquet_kv_metadata", "sniff_csv", "csv_scan", "json_scan", "delta_scan", "iceberg_scan",
    "iceberg_metadata", "iceberg_snapshots", "cloud_files", "load_aws_credentials", "query_table",
}  # fmt: skip
# A SQL engine's own machinery, never data: the local workspace's DuckDB catalog functions and
# views (they list every catalog past Unity Catalog), functions that run SQL text no check has
# read, and checkpoints (a write). Databricks has none of them; refused on a read-only connector.
_ENGINE_FUNCTIONS = {"query", "query_table", "checkpoint", "force_checkpoint", "current_setting"}
_ENGINE_PREFIXES = ("duckdb_", "pragma_", "sqlite_", "pg_")
_ENGINE_VIEWS = {"sqlite_master", "sqlite_schema", "sqlite_temp_master", "sqlite_temp_schema"}
# A table "name" holding one of these is a path or URL (csv.`/x`, FROM '/etc/hostname').
_PATH_CHARACTERS = ("/", ":", "\\", "*", "~")
_SHOW_SUBJECTS = {
    "ALL", "CATALOGS", "COLUMNS", "CONNECTIONS", "CREATE", "CREDENTIALS", "CURRENT", "DATABASES",
    "EXTERNAL", "FUNCTIONS", "GRANT", "GRANTS", "GROUPS", "PARTITIONS", "PROVIDERS", "RECIPIENTS",
    "SCHEMAS", "SHARES", "STORAGE", "SYSTEM", "TABLE", "TABLES", "TBLPROPERTIES", "USER",
    "USERS", "VIEWS", "VOLUMES",
}  # fmt: skip
_EXPLAIN_MODES = {"EXTENDED", "CODEGEN", "COST", "FORMATTED"}
# How a read can start: SQL that starts otherwise and does not parse is refused as a write, not
# reported as a syntax error (sqlglot does not know every Databricks write).
_READ_STARTS = {"SELECT", "WITH", "VALUES", "FROM", "(", "SHOW", "DESCRIBE", "DESC", "EXPLAIN",
                "TABLE"}  # fmt: skip
# Words a statement that is not a read starts with (Databricks SQL's, and the engines' others)
# that sqlglot does not tokenize as keywords: such a statement is refused as a write. A first
# word that is neither a keyword nor one of these is a typo (SELEC, WTIH): a syntax error with
# the word it was probably meant to be, not a policy matter.
_STATEMENT_STARTS = {
    "ADD", "ALTER", "ANALYZE", "APPLY", "ATTACH", "BEGIN", "CACHE", "CALL", "CHECKPOINT", "CLEAR",
    "CLONE", "COMMENT", "COMMIT", "CONVERT", "COPY", "CREATE", "DEALLOCATE", "DECLARE", "DELETE",
    "DETACH", "DROP", "END", "EXECUTE", "EXPORT", "FSCK", "GENERATE", "GET", "GRANT", "IMPORT",
    "INSERT", "INSTALL", "KILL", "LIST", "LOAD", "LOCK", "MERGE", "MSCK", "OPTIMIZE", "PRAGMA",
    "PREPARE", "PUT", "REFRESH", "REMOVE", "REORG", "REPAIR", "REPLACE", "RESET", "RESTORE",
    "REVOKE", "ROLLBACK", "SET", "START", "SUMMARIZE", "SYNC", "TRUNCATE", "UNCACHE", "UNDROP",
    "UNLOCK", "UPDATE", "UPSERT", "USE", "VACUUM",
}  # fmt: skip
# Tokens a SHOW or DESCRIBE may carry after its keyword: names, dots, patterns, numbers.
_PLAIN_TOKENS = {TokenType.VAR, TokenType.IDENTIFIER, TokenType.DOT, TokenType.STRING,
                 TokenType.NUMBER, TokenType.STAR}  # fmt: skip
_STRING_TOKENS = {TokenType.STRING, TokenType.RAW_STRING, TokenType.NATIONAL_STRING,
                  TokenType.IDENTIFIER, TokenType.BYTE_STRING, TokenType.HEX_STRING}  # fmt: skip
_ASCII_SPACE = " \t\n\r"
# Words that never belong in the arguments of a SHOW or DESCRIBE.
_WRITE_WORDS = {
    "ALTER", "CALL", "CACHE", "COPY", "CREATE", "DELETE", "DROP", "EXECUTE", "GRANT", "INSERT",
    "MERGE", "OPTIMIZE", "REPLACE", "RESTORE", "REVOKE", "SET", "TRUNCATE", "UNCACHE", "UPDATE",
    "USE", "VACUUM",
}  # fmt: skip


@dataclass(frozen=True)
class Verdict:
    """A statement the guard let through, and what kind of read it is."""

    kind: str  # SELECT, VALUES, SHOW, DESCRIBE or EXPLAIN
    statement: str


def is_read_only(sql: str) -> bool:
    """True when `check_read_only` would let `sql` through."""
    try:
        check_read_only(sql)
    except (ReadOnlyError, SqlParseError):
        return False
    return True


def check_read_only(sql: str, *, allow_files: bool = False) -> Verdict:
    """Let through one read statement, or raise ReadOnlyError (or SqlParseError) saying why.

    Reading files or URLs (`read_text`, `read_files`, csv.`/path` ...) is refused unless
    `allow_files`.
    """
    if not isinstance(sql, str) or not sql.strip():
        raise _refuse("the statement is empty")
    try:
        return _check_read_only(sql, allow_files)
    except RecursionError:
        raise too_complex() from None


def _check_read_only(sql: str, allow_files: bool) -> Verdict:
    tokens = _tokens(sql)
    _check_gaps(sql, tokens)
    statements = _split(tokens)
    if len(statements) != 1:
        raise _refuse(
            f"it holds {len(statements)} statements; send exactly one statement per call",
            reason="multiple_statements",
        )
    return _check_statement(sql, statements[0], allow_files)


def _check_statement(sql: str, tokens: list[Token], allow_files: bool = False) -> Verdict:
    text = sql[tokens[0].start : tokens[-1].end + 1]
    first = tokens[0].text.upper()
    if first not in _READ_STARTS and tokens[0].token_type == TokenType.VAR:
        if first in _STATEMENT_STARTS:  # a statement sqlglot has no keyword for (INSTALL)
            raise _refuse(f"{first} is not a read", reason="not_a_read")
        raise _not_a_statement(tokens[0])  # not a keyword of any statement: a typo
    if first == "SHOW":
        _check_plain_tail(tokens[1:], "SHOW")
        subject = tokens[1].text.upper() if len(tokens) > 1 else ""
        if subject not in _SHOW_SUBJECTS:
            raise _refuse(f"SHOW {subject or '(nothing)'} is not a SHOW form the guard knows")
        return Verdict("SHOW", text)
    if first == "EXPLAIN":
        rest = tokens[1:]
        if rest and rest[0].token_type == TokenType.VAR and rest[0].text.upper() in _EXPLAIN_MODES:
            rest = rest[1:]
        if not rest:
            raise _refuse("EXPLAIN needs a query to explain")
        inner = _check_statement(sql, rest, allow_files)
        if inner.kind not in ("SELECT", "VALUES"):
            raise _refuse(f"only a query may be explained, not {inner.kind}")
        return Verdict("EXPLAIN", text)
    tree = _parse(sql, tokens)
    if isinstance(tree, exp.Describe):
        _check_tree(tree, allow_files)
        return Verdict("DESCRIBE", text)
    if not isinstance(tree, _QUERY_NODES) or (
        isinstance(tree, exp.Subquery) and not isinstance(tree.unnest(), _QUERY_NODES)
    ):
        name = _name(tree)
        article = "an" if name[:1] in "AEIOU" else "a"
        raise _refuse(f"it is {article} {name} statement, not a read", reason="not_a_read")
    _check_tree(tree, allow_files)
    return Verdict("VALUES" if isinstance(tree, exp.Values) else "SELECT", text)


def _parse(sql: str, tokens: list[Token]) -> exp.Expression:
    try:
        # The statement's tokens are parsed as they are: no second tokenization.
        trees = [t for t in _DIALECT.parser().parse(tokens, sql) if t is not None]
    except (ParseError, TokenError) as exc:
        if tokens[0].text.upper() in ("DESCRIBE", "DESC"):
            # sqlglot knows few DESCRIBE forms; every Databricks DESCRIBE is a read, so a
            # DESCRIBE made only of names, dots and patterns is let through.
            _check_plain_tail(tokens[1:], "DESCRIBE")
            return exp.Describe(this=exp.to_identifier("described"))
        if tokens[0].text.upper() not in _READ_STARTS:
            raise _refuse(f"{tokens[0].text.upper()} is not a read", reason="not_a_read") from None
        words = {t.text.upper() for t in tokens if t.token_type not in _STRING_TOKENS}
        if words & _WRITE_WORDS:  # a write somewhere in SQL that does not parse: refuse it
            word = min(words & _WRITE_WORDS)
            raise _refuse(f"it contains {word}", reason="write_inside") from None
        raise parse_error(exc) from None
    if len(trees) != 1:
        raise _refuse(f"it holds {len(trees)} statements; send exactly one statement per call")
    return trees[0]


def _check_tree(tree: exp.Expression, allow_files: bool = False) -> None:
    for node in tree.walk():
        if not allow_files:
            _check_file_access(node)
        if isinstance(node, _WRITE_NODES):
            where = "" if node is tree else " inside the query"
            raise _refuse(f"it contains a {_name(node)}{where}", reason="write_inside")
        if isinstance(node, exp.Select) and node.args.get("into"):
            raise _refuse("SELECT ... INTO writes a table")
        if isinstance(node, exp.Func) and _function_name(node) in _SIDE_EFFECT_FUNCTIONS:
            raise _refuse(f"it calls {_function_name(node)}(), which can run code")
        _check_engine_internals(node)


def _check_engine_internals(node: exp.Expression) -> None:
    """Refuse the SQL engine's own catalog functions and views, and functions that run text."""
    if isinstance(node, exp.Func):
        name = _function_name(node)
        if name in _ENGINE_FUNCTIONS or name.startswith(_ENGINE_PREFIXES):
            raise _refuse(
                f"it calls {name}(), the SQL engine's own machinery, not data",
                reason="engine_internals",
            )
    elif isinstance(node, exp.Table) and isinstance(node.this, exp.Identifier) and not node.catalog:
        name = node.name.lower()
        engine_schema = node.db.lower() == "pg_catalog"
        if engine_schema or name in _ENGINE_VIEWS or name.startswith(("duckdb_", "pragma_")):
            raise _refuse(
                f"{node.sql(dialect='databricks')} is the SQL engine's own catalog, not data",
                reason="engine_internals",
            )


def _check_file_access(node: exp.Expression) -> None:
    """Refuse a function or a table reference that reads a file or a URL."""
    if isinstance(node, exp.Func):
        name = _function_name(node)
        if name in _FILE_FUNCTIONS or name.startswith("read_"):
            raise _refuse(f"it calls {name}(), which reads files or URLs", reason="file_access")
    elif isinstance(node, exp.Table) and isinstance(node.this, exp.Identifier):
        parts = [node.name, node.db, node.catalog]
        if any(c in part for part in parts for c in _PATH_CHARACTERS) or "." in node.name:
            raise _refuse(
                f"the table name {node.name!r} is a file path or URL", reason="file_access"
            )


def _not_a_statement(token: Token) -> SqlParseError:
    """`SELEC 1`: no statement starts with this word; the nearest one that does, if any."""
    word = token.text.upper()
    near = difflib.get_close_matches(word, sorted(_READ_STARTS | _STATEMENT_STARTS), 1, 0.6)
    guess = f"Did you mean {near[0]}? " if near else ""
    return SqlParseError(
        f"The SQL does not parse at line {token.line}, column {token.col - len(token.text) + 1} "
        f"near {token.text!r}: no statement starts with {word}.",
        hint=f"{guess}A query starts with SELECT, WITH, VALUES, SHOW, DESCRIBE or EXPLAIN.",
        details={"line": token.line, "column": token.col - len(token.text) + 1,
                 "token": token.text},
    )  # fmt: skip


def parse_error(exc: ParseError | TokenError) -> SqlParseError:
    """A sqlglot failure as the model's error: where it is, and the token found there."""
    found = (getattr(exc, "errors", None) or [{}])[0]
    line, column, token = found.get("line"), found.get("col"), found.get("highlight")
    what = str(found.get("description") or _first_line(exc))
    missing = re.search(r"missing for <class '[\w.]*\.(\w+)'>", what)
    if missing:  # sqlglot's class names mean little to a model: name the clause
        what = f"an incomplete {missing.group(1).upper()}"
    elif what.startswith("Invalid expression"):
        what = "an unexpected token"
    if line is None:
        where = ""
    else:
        where = f" at line {line}, column {column}" + (f" near {token!r}" if token else "")
    return SqlParseError(
        f"The SQL does not parse{where}: {what}.",
        hint="Fix the SQL there (Databricks SQL syntax), then run it again.",
        details={"line": line, "column": column, "token": token},
    )


def _check_plain_tail(tokens: list[Token], keyword: str) -> None:
    """SHOW and DESCRIBE arguments: names, dots and quoted patterns only."""
    for index, token in enumerate(tokens):
        word = token.text.upper()
        if word in _WRITE_WORDS and not (keyword == "SHOW" and index == 0 and word == "CREATE"):
            raise _refuse(f"{keyword} may not carry {word}")
        plain = token.token_type in _PLAIN_TOKENS or token.text.replace("_", "").isalnum()
        if not plain:
            raise _refuse(f"{keyword} may only name objects and patterns, not {token.text!r}")


def _tokens(sql: str) -> list[Token]:
    try:
        tokens = _TOKENIZER.tokenize(sql)
    except TokenError as exc:
        first = (sql.split() or [""])[0].upper()
        if first not in _READ_STARTS:
            raise _refuse(f"it could not be tokenized ({_first_line(exc)})") from None
        raise parse_error(exc) from None
    for token in tokens:
        if token.token_type in _STRING_TOKENS or token.text.isprintable():
            continue  # isprintable: no control, format or separator character but the space
        odd = next((c for c in token.text if _is_odd(c)), None)
        if odd is not None:
            raise _refuse(
                f"it contains the invisible or unusual character U+{ord(odd):04X} outside quotes",
                reason="odd_character",
            )
    if not tokens:
        raise _refuse("the statement holds only comments")
    return tokens


def _check_gaps(sql: str, tokens: list[Token]) -> None:
    """Between tokens only ASCII whitespace and comments, read the strictest way."""
    position = 0
    for token in [*tokens, None]:
        end = len(sql) if token is None else token.start
        _check_gap(sql[position:end])
        if token is not None:
            position = token.end + 1


def _check_gap(gap: str) -> None:
    i = 0
    while i < len(gap):
        char = gap[i]
        if char in _ASCII_SPACE:
            i += 1
        elif gap.startswith("--", i):
            # Spark ends a line comment at \r or \n, but continues it after a trailing backslash.
            stop = min((p for p in (gap.find("\n", i), gap.find("\r", i)) if p >= 0), default=-1)
            body = gap[i:] if stop < 0 else gap[i:stop]
            if stop >= 0 and body.endswith("\\"):
                raise _refuse("a `--` comment ends with a backslash, which Spark continues")
            i = len(gap) if stop < 0 else stop
        elif gap.startswith("/*", i):
            i = _skip_block_comment(gap, i)
        else:
            raise _refuse(
                f"it contains the unusual character U+{ord(char):04X} between words",
                reason="odd_character",
            )


def _skip_block_comment(gap: str, start: int) -> int:
    """Spark nests bracketed comments, as sqlglot does; the comment must close inside the gap."""
    depth, i = 0, start
    while i < len(gap):
        if gap.startswith("/*", i):
            depth, i = depth + 1, i + 2
        elif gap.startswith("*/", i):
            depth, i = depth - 1, i + 2
            if depth == 0:
                return i
        else:
            i += 1
    raise _refuse("a /* comment */ is not closed where sqlglot closed it")


def _split(tokens: list[Token]) -> list[list[Token]]:
    statements: list[list[Token]] = [[]]
    for token in tokens:
        if token.token_type == TokenType.SEMICOLON:
            statements.append([])
        else:
            statements[-1].append(token)
    return [s for s in statements if s]


def _is_odd(char: str) -> bool:
    if char in _ASCII_SPACE:
        return False  # sqlglot's multi-word keywords, e.g. ORDER BY
    category = unicodedata.category(char)
    return category[0] in ("C", "Z")


def _function_name(node: exp.Func) -> str:
    name = node.name if isinstance(node, exp.Anonymous) else node.sql_name()
    return str(name).lower()


def _name(node: exp.Expression) -> str:
    if isinstance(node, exp.Command):
        return str(node.this).upper()
    kind = node.args.get("kind")
    label = node.key.upper().replace("TRUNCATETABLE", "TRUNCATE TABLE")
    return f"{label} {kind}".upper() if isinstance(kind, str) and kind else label


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__


def _refuse(why: str, *, reason: str = "not_a_read") -> ReadOnlyError:
    return ReadOnlyError(
        f"Refused on a read-only connector: {why}.",
        details={"reason": reason},
    )
