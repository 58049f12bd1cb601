"""Splitting a string of SQL into statements, as the database's own client would.

A `sql:` operation may hold several statements in one string; drivers run one statement per
call (PyMySQL reports error 1064 for the rest, sqlite3 refuses them), so each is sent alone.
A semicolon ends a statement only outside:

- quoted text: '...' ('' inside; with `backslash_escapes`, \\' too, as MySQL; E'...' strings
  with `escape_strings`, as PostgreSQL), "..." and `...` identifiers, [..] with `brackets`;
- comments: `-- ...` (MySQL wants a space after the dashes), `#` with `hash_comments`,
  /* ... */ (nested with `nested_comments`, as PostgreSQL);
- dollar-quoted bodies with `dollar_quotes` ($$ ... $$, $tag$ ... $tag$);
- the BEGIN ... END body of CREATE TRIGGER / PROCEDURE / FUNCTION / EVENT (SQLite and MySQL
  triggers, MySQL routines, PostgreSQL's BEGIN ATOMIC), with IF / CASE / LOOP / WHILE /
  REPEAT blocks nested in it.

With `delimiter_command` (MySQL), a line `DELIMITER //` changes the delimiter, as the mysql
client does. Statements are returned stripped, without their delimiter; a piece holding only
comments is dropped (MySQL refuses an empty query)."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SqlSyntax:
    """What a database's SQL text allows, as far as finding where statements end goes."""

    backslash_escapes: bool = False
    escape_strings: bool = False
    hash_comments: bool = False
    dash_comment_space: bool = False  # `--` starts a comment only before white space
    nested_comments: bool = False
    dollar_quotes: bool = False
    brackets: bool = False
    delimiter_command: bool = False


_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")
_DOLLAR = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$")
_DELIMITER = re.compile(r"DELIMITER[ \t]+(\S+)[ \t]*(?:\r?\n|$)", re.I)
_ROUTINES = frozenset({"TRIGGER", "PROCEDURE", "FUNCTION", "EVENT"})
# Object kinds that end the search for a routine keyword after CREATE (`CREATE TABLE event`).
_OTHER_KINDS = frozenset({"TABLE", "VIEW", "INDEX", "SEQUENCE", "TYPE", "SCHEMA", "DATABASE",
                          "EXTENSION", "DOMAIN", "ROLE", "USER", "POLICY", "RULE", "UNIQUE",
                          "MATERIALIZED", "SERVER", "COLLATION", "STATISTICS", "TABLESPACE"})
_BLOCKS = frozenset({"IF", "CASE", "LOOP", "WHILE", "REPEAT"})


class _Statement:
    """Where the statement being read stands: its words so far and its block depth."""

    __slots__ = ("depth", "kind", "words")

    def __init__(self) -> None:
        self.words = 0
        self.kind = ""  # "create", "routine" once CREATE ... TRIGGER etc. is seen, "other"
        self.depth = 0

    def word(self, word: str, after: str, call: bool) -> bool:
        """Count one word (`after`: the next word, `call`: a "(" follows); True when the next
        word is part of this one (the IF of END IF) and must be skipped."""
        upper = word.upper()
        self.words += 1
        if self.words == 1:
            self.kind = "create" if upper == "CREATE" else "other"
        elif self.kind == "create":
            if upper in _ROUTINES:
                self.kind = "routine"
            elif upper in _OTHER_KINDS:
                self.kind = "other"
        elif self.kind == "routine":
            if upper == "BEGIN":
                self.depth += 1
            elif upper == "END":
                self.depth = max(0, self.depth - 1)
                return after in _BLOCKS
            elif upper in _BLOCKS and self.depth > 0 and not call and (
                    after not in ("EXISTS", "NOT")):
                self.depth += 1
        return False


def _skip_quoted(text: str, i: int, quote: str, backslash: bool) -> int:
    """The index after the quoted text starting at `i` (its opening quote)."""
    n = len(text)
    j = i + 1
    while j < n:
        c = text[j]
        if backslash and c == "\\":
            j += 2
            continue
        if c == quote:
            if j + 1 < n and text[j + 1] == quote:
                j += 2
                continue
            return j + 1
        j += 1
    return n


def _skip_block_comment(text: str, i: int, nested: bool) -> int:
    depth, j, n = 0, i, len(text)
    while j < n:
        if text.startswith("/*", j):
            depth = depth + 1 if nested or depth == 0 else depth
            j += 2
        elif text.startswith("*/", j):
            depth -= 1
            j += 2
            if depth == 0:
                return j
        else:
            j += 1
    return n


def _line_comment(text: str, i: int, syntax: SqlSyntax) -> bool:
    """Whether a comment that runs to the end of the line starts at `i`."""
    if text.startswith("--", i):
        return not syntax.dash_comment_space or i + 2 >= len(text) or text[i + 2].isspace()
    return text[i] == "#" and syntax.hash_comments


def _only_comments(piece: str, syntax: SqlSyntax) -> bool:
    """Whether a piece holds nothing but comments and white space."""
    i, n = 0, len(piece)
    while i < n:
        c = piece[i]
        if c.isspace():
            i += 1
        elif _line_comment(piece, i, syntax):
            end = piece.find("\n", i)
            i = n if end < 0 else end + 1
        elif piece.startswith("/*", i):
            i = _skip_block_comment(piece, i, syntax.nested_comments)
        else:
            return False
    return True


def split_sql(text: str, syntax: SqlSyntax = SqlSyntax()) -> list[str]:
    """The statements in `text`, in order."""
    out: list[str] = []
    delimiter = ";"
    start = 0
    i, n = 0, len(text)
    stmt = _Statement()

    def cut(end: int, resume: int) -> None:
        nonlocal start, stmt
        piece = text[start:end].strip()
        if piece and not _only_comments(piece, syntax):
            out.append(piece)
        start = resume
        stmt = _Statement()

    while i < n:
        c = text[i]
        if syntax.delimiter_command and stmt.words == 0 and (i == 0 or text[i - 1] == "\n"):
            m = _DELIMITER.match(text, i)
            if m and not text[start:i].strip():
                delimiter = m.group(1)
                i = start = m.end()
                continue
        if text.startswith(delimiter, i) and stmt.depth == 0:
            cut(i, i + len(delimiter))
            i += len(delimiter)
            continue
        if c in "'\"`":
            backslash = syntax.backslash_escapes or (
                c == "'" and syntax.escape_strings and i > 0 and text[i - 1] in "eE"
                and (i < 2 or not (text[i - 2].isalnum() or text[i - 2] == "_")))
            i = _skip_quoted(text, i, c, backslash and c != "`")
        elif c == "[" and syntax.brackets:
            end = text.find("]", i + 1)
            i = n if end < 0 else end + 1
        elif _line_comment(text, i, syntax):
            end = text.find("\n", i)
            i = n if end < 0 else end + 1
        elif text.startswith("/*", i):
            i = _skip_block_comment(text, i, syntax.nested_comments)
        elif c == "$" and syntax.dollar_quotes and not (
                i > 0 and (text[i - 1].isalnum() or text[i - 1] == "_")):
            m = _DOLLAR.match(text, i)
            if m:
                end = text.find(m.group(0), m.end())
                i = n if end < 0 else end + len(m.group(0))
            else:
                i += 1
        elif c.isalpha() or c == "_":
            m = _WORD.match(text, i)
            assert m is not None
            i = m.end()
            gap = len(text) - len(text[i:].lstrip()) if i < n else n
            following = _WORD.match(text, gap)
            after = following.group(0).upper() if following else ""
            if stmt.word(m.group(0), after, text.startswith("(", gap)) and following:
                i = following.end()
        else:
            i += 1
    cut(n, n)
    return out
