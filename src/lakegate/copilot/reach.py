"""Where a SHOW or DESCRIBE statement reaches: every catalog and schema it names or lists.

sqlglot models few of Databricks' SHOW and DESCRIBE forms, so they are read here from the
dialect's tokens, form by form (including the `IN CATALOG c SCHEMA LIKE 'p'` and `IN ALL
CATALOGS` forms the SQL connectors send for metadata). A form not known here, or one with
tokens left over, is unknown: the scope check refuses it rather than guess what it lists.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar

from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import TokenError
from sqlglot.tokens import Token, TokenType

__all__ = ["Reach", "UnknownForm", "reaches"]

_DIALECT = Dialect.get_or_raise("databricks")


class _Tokenizer(_DIALECT.tokenizer_class):  # type: ignore[name-defined,misc]
    """The dialect's tokenizer, but a SHOW tail is tokens too, not one opaque string."""

    COMMANDS: ClassVar[set[TokenType]] = set()


_TOKENIZER = _Tokenizer(dialect=_DIALECT)
_WORD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Words that end a name: they are the grammar's, never a name part unless quoted.
_STRUCTURE = {"IN", "FROM", "LIKE", "ON", "AS", "PARTITION", "SCHEMA", "TABLE", "CATALOG"}
# A LIKE pattern with one of these may list names the scope does not allow.
_WILDCARDS = ("*", "%", "|", "_", "?", "[")
# Securables outside every catalog: their grants are not the scope's to show.
_NOT_IN_A_CATALOG = {
    "METASTORE", "SHARE", "RECIPIENT", "PROVIDER", "CONNECTION", "EXTERNAL", "STORAGE",
    "CREDENTIAL", "SERVICE", "CLEAN",
}  # fmt: skip
_QUERY_STARTS = {"SELECT", "WITH", "VALUES", "FROM", "TABLE", "("}


class UnknownForm(Exception):
    """A SHOW or DESCRIBE whose reach cannot be told (not a form this module reads)."""


@dataclass(frozen=True)
class Reach:
    """One place a statement lists or describes.

    `catalog` / `schema` None mean the call's default; `every_catalog` / `every_schema` mean all
    of them; `catalog_only` is a statement about the catalog itself (its schemas, its grants).
    """

    catalog: str | None = None
    schema: str | None = None
    every_catalog: bool = False
    every_schema: bool = False
    catalog_only: bool = False


@dataclass(frozen=True)
class Query:
    """DESCRIBE QUERY <query>: the query's own tables are the reach (checked as SQL)."""

    sql: str


def reaches(sql: str) -> list[Reach] | Query | None:
    """The reach of a SHOW / DESCRIBE statement, or None when `sql` is neither."""
    try:
        tokens = [t for t in _TOKENIZER.tokenize(sql) if t.token_type != TokenType.SEMICOLON]
    except TokenError as exc:
        raise UnknownForm(f"it could not be tokenized ({str(exc)[:120]})") from None
    words = _Words(sql, tokens)
    if words.take("SHOW"):
        found = _show(words)
    elif words.take("DESCRIBE", "DESC"):
        found = _describe(words)
    else:
        return None
    if isinstance(found, list):
        words.trailer()
    return found


class _Words:
    def __init__(self, sql: str, tokens: list[Token]) -> None:
        self.sql = sql
        self.tokens = tokens
        self.i = 0

    def peek(self) -> str:
        """The next token as an upper-cased word ("" at the end or for a quoted name)."""
        if self.i >= len(self.tokens):
            return ""
        token = self.tokens[self.i]
        return "" if token.token_type == TokenType.IDENTIFIER else token.text.upper()

    def take(self, *words: str) -> str:
        word = self.peek()
        if word and word in words:
            self.i += 1
            return word
        return ""

    def expect(self, *words: str) -> str:
        word = self.take(*words)
        if not word:
            raise UnknownForm(f"expected {' or '.join(words)} at {self._here()!r}")
        return word

    def name(self) -> list[str]:
        """A dotted name: its parts as written (quoted or not)."""
        parts = [self._part()]
        while self.i < len(self.tokens) and self.tokens[self.i].token_type == TokenType.DOT:
            self.i += 1
            parts.append(self._part())
        return parts

    def _part(self) -> str:
        if self.i >= len(self.tokens):
            raise UnknownForm("a name is missing at the end")
        token = self.tokens[self.i]
        quoted = token.token_type == TokenType.IDENTIFIER
        if not quoted and (not _WORD.match(token.text) or token.text.upper() in _STRUCTURE):
            raise UnknownForm(f"expected a name at {token.text!r}")
        self.i += 1
        return token.text

    def string(self) -> str | None:
        if self.i < len(self.tokens) and self.tokens[self.i].token_type == TokenType.STRING:
            self.i += 1
            return self.tokens[self.i - 1].text
        return None

    def pattern(self) -> str | None:
        """`[LIKE] 'pattern'`, if it comes next."""
        liked = self.take("LIKE")
        found = self.string()
        if liked and found is None:
            raise UnknownForm("LIKE needs a quoted pattern")
        return found

    def rest(self) -> str:
        if self.i >= len(self.tokens):
            return ""
        return self.sql[self.tokens[self.i].start :]

    def trailer(self, *, names: bool = False) -> None:
        """What may follow the part that reaches: patterns, AS SERDE, a PARTITION spec."""
        while self.i < len(self.tokens):
            if self.pattern() is not None:
                continue
            if self.take("AS"):
                self.expect("SERDE")
            elif self.take("PARTITION") or self.tokens[self.i].token_type == TokenType.L_PAREN:
                self._skip_parentheses()
            elif names:
                self.name()
            else:
                raise UnknownForm(f"unexpected {self._here()!r}")

    def _skip_parentheses(self) -> None:
        if self.i >= len(self.tokens) or self.tokens[self.i].token_type != TokenType.L_PAREN:
            raise UnknownForm("expected (")
        depth = 0
        while self.i < len(self.tokens):
            kind = self.tokens[self.i].token_type
            depth += (kind == TokenType.L_PAREN) - (kind == TokenType.R_PAREN)
            self.i += 1
            if depth == 0:
                return
        raise UnknownForm("a parenthesis is not closed")

    def _here(self) -> str:
        return self.tokens[self.i].text if self.i < len(self.tokens) else "the end"


def _table(parts: list[str]) -> Reach:
    """A table, view, function or volume name: [[catalog.]schema.]name."""
    if len(parts) > 3:
        raise UnknownForm(f"{'.'.join(parts)} has more than three parts")
    if len(parts) == 3:
        return Reach(parts[0], parts[1])
    return Reach(None, parts[0] if len(parts) == 2 else None)


def _schema(parts: list[str]) -> Reach:
    if len(parts) > 2:
        raise UnknownForm(f"{'.'.join(parts)} is not a [catalog.]schema name")
    return Reach(parts[0], parts[1]) if len(parts) == 2 else Reach(None, parts[0])


def _catalog(parts: list[str]) -> Reach:
    if len(parts) != 1:
        raise UnknownForm(f"{'.'.join(parts)} is not a catalog name")
    return Reach(parts[0], catalog_only=True)


def _in_catalog(words: _Words) -> Reach:
    """After IN CATALOG: `c [SCHEMA LIKE 'p']` (the form Databricks' connectors send)."""
    catalog = _catalog(words.name()).catalog
    if words.take("SCHEMA"):
        pattern = words.pattern()
        if pattern is None:
            raise UnknownForm("SCHEMA LIKE needs a quoted pattern")
        if not any(c in pattern for c in _WILDCARDS):
            return Reach(catalog, pattern)
    return Reach(catalog, every_schema=True)


def _show(words: _Words) -> list[Reach]:
    if words.take("CATALOGS"):
        return []  # narrowed to the scope by scope_show
    if words.take("SCHEMAS", "DATABASES"):
        if not words.take("IN", "FROM"):
            return [Reach(None, catalog_only=True)]
        if words.take("ALL"):
            words.expect("CATALOGS")
            return [Reach(every_catalog=True)]
        return [_catalog(words.name())]
    if words.take("TABLE"):
        words.expect("EXTENDED")
        return [_listing(words)]
    kind = words.take("USER", "SYSTEM", "ALL")
    if kind:
        words.expect("FUNCTIONS")
        if kind == "SYSTEM":
            words.trailer()
            return []
        return [_listing(words), *_function_pattern(words)]
    if words.take("FUNCTIONS"):
        return [_listing(words), *_function_pattern(words)]
    if words.take("TABLES", "VIEWS", "VOLUMES"):
        return [_listing(words)]
    if words.take("COLUMNS"):
        words.expect("IN", "FROM")
        if words.take("CATALOG"):
            reach = _in_catalog(words)
            if words.take("TABLE"):
                words.pattern()
            return [reach]
        table = words.name()
        if words.take("IN", "FROM"):
            if len(table) != 1:
                raise UnknownForm("SHOW COLUMNS IN <qualified table> IN <schema> names two places")
            schema = _schema(words.name())
            return [schema]
        return [_table(table)]
    if words.take("CREATE"):
        words.expect("TABLE")
        return [_table(words.name())]
    if words.take("TBLPROPERTIES", "PARTITIONS"):
        return [_table(words.name())]
    if words.take("GRANTS", "GRANT"):
        if words.peek() != "ON":
            words.name()  # the principal
        words.expect("ON")
        if words.peek() in _NOT_IN_A_CATALOG:
            raise UnknownForm(f"grants on {words.peek()} are not inside a catalog")
        if words.take("CATALOG"):
            return [_catalog(words.name())]
        if words.take("SCHEMA", "DATABASE"):
            return [_schema(words.name())]
        words.take("TABLE", "VIEW", "FUNCTION", "VOLUME")
        return [_table(words.name())]
    raise UnknownForm(f"SHOW {words.peek() or '(nothing)'} is not a form the scope check reads")


def _listing(words: _Words) -> Reach:
    """`[{IN|FROM} (ALL CATALOGS | CATALOG c [SCHEMA LIKE 'p'] | [catalog.]schema)]`."""
    if not words.take("IN", "FROM"):
        return Reach()
    if words.take("ALL"):
        words.expect("CATALOGS")
        return Reach(every_catalog=True)
    if words.take("CATALOG"):
        return _in_catalog(words)
    return _schema(words.name())


def _function_pattern(words: _Words) -> list[Reach]:
    """SHOW FUNCTIONS [LIKE] main.x.f: a qualified pattern names a schema too."""
    words.take("LIKE")
    if words.i < len(words.tokens) and words.tokens[words.i].token_type != TokenType.STRING:
        parts = words.name()
        return [_table(parts)] if len(parts) > 1 else []
    return []


def _describe(words: _Words) -> list[Reach] | Query:
    if words.take("CATALOG"):
        words.take("EXTENDED")
        return [_catalog(words.name())]
    if words.take("SCHEMA", "DATABASE"):
        words.take("EXTENDED")
        return [_schema(words.name())]
    if words.take("FUNCTION"):
        words.take("EXTENDED")
        return [_table(words.name())]
    if words.take("VOLUME", "HISTORY", "DETAIL"):
        return [_table(words.name())]
    if words.take("QUERY") or (words.peek() in _QUERY_STARTS and words.peek() != "TABLE"):
        return Query(words.rest())
    words.take("TABLE")
    words.take("EXTENDED", "FORMATTED")
    reach = _table(words.name())
    words.trailer(names=True)  # PARTITION (...) and a column name may follow
    return [reach]
