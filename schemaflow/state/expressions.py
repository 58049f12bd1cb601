"""Identifiers inside SQL expressions (checks, index predicates), outside string literals."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence

_STRING_LITERAL = re.compile(r"'(?:[^']|'')*'")


def outside_literals(expression: str) -> list[tuple[bool, str]]:
    """The expression cut into (is_literal, text) pieces; string literals are not names."""
    pieces: list[tuple[bool, str]] = []
    pos = 0
    for m in _STRING_LITERAL.finditer(expression):
        pieces += [(False, expression[pos:m.start()]), (True, m.group(0))]
        pos = m.end()
    return [*pieces, (False, expression[pos:])]


# A bare word, and a name (bare or quoted, maybe qualified: pg_catalog."default").
_WORD = r"(?<![A-Za-z0-9_$])[A-Za-z_][A-Za-z0-9_$]*"
_NAME = rf'''(?:"(?:[^"]|"")*"|`(?:[^`]|``)*`|{_WORD})(?:\s*\.\s*(?:"(?:[^"]|"")*"|{_WORD}))*'''
# A piece of an expression: a string literal (E'…' takes backslash escapes; U&'…'), a name
# quoted as ANSI or MySQL quote them, AT TIME ZONE, a bare word, "::", a parenthesis or a comma.
_PIECE = re.compile(r"(?<![A-Za-z0-9_$])(?:[eE]'(?:[^'\\]|''|\\.)*'|[uU]&'(?:[^']|'')*')"
                    r"""|'(?:[^']|'')*'|"(?P<ansi>(?:[^"]|"")*)"|`(?P<mysql>(?:[^`]|``)*)`"""
                    rf"|(?i:\bat\s+time\s+zone\b)|(?P<word>{_WORD})|::|[(),]")
# What "::" and COLLATE are followed by: a type (with its arguments, the words that go on
# with it: double precision, timestamp without time zone; an array's brackets), a collation.
_TYPE = re.compile(rf"\s*{_NAME}(?:\s*\([^()]*\))?(?:\s+(?:precision|varying|with|without"
                   r"|time|zone)\b(?:\s*\([^()]*\))?)*(?:\s*\[\s*\d*\s*\])*", re.I)
_AFTER = {"::": _TYPE, "collate": re.compile(rf"\s*{_NAME}")}
# Besides AS in any call (CAST(x AS …)), where a type starts that runs to the closing
# parenthesis: MySQL's CONVERT(x, …), and its CONVERT(x USING charset).
_CONVERT_TO = (("convert", ","), ("convert", "using"))
# What follows a bare word that is a function's name ("("), or a string literal's prefix or
# type ("'": x'41', N'a', _utf8mb4'a', DATE '2020-01-01', INTERVAL '1 day').
_NOT_A_COLUMN = re.compile(r"\s*[(']")
_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Words that a name cannot be written as without quotes on one of the databases (the
# reserved words of PostgreSQL, MySQL 8 and SQLite that are also plain names).
_RESERVED_WORDS = """
    add all alter analyse analyze and any array as asc asymmetric authorization between
    binary both by call cascade case cast change check collate collation column concurrently
    condition constraint continue convert create cross current_catalog current_date
    current_role current_schema current_time current_timestamp current_user cursor database
    databases default deferrable delete desc describe distinct distinctrow div do drop dual
    each else elseif end escape except exists explain false fetch for force foreign freeze
    from full fulltext generated glob grant group having if ignore ilike in index initially
    inner insert intersect interval into is isnull join key keys kill lateral leading left
    like limit localtime localtimestamp lock match mod natural not notnull null offset on
    only option or order outer over overlaps partition placing precision primary procedure
    range read references regexp rename repeat replace require restrict return returning
    revoke right rlike row rows schema select session_user set show similar some sql
    stored symmetric system_user table tablesample then to trailing trigger true union
    unique unsigned update usage user using values variadic verbose virtual when where
    while window with write xor
    bigint char cube cume_dist decimal dense_rank double empty first_value float function
    grouping groups int integer json_table lag last_value lead member nth_value ntile
    numeric of percent_rank rank real recursive row_number smallint system varchar
"""
_RESERVED = frozenset(_RESERVED_WORDS.split())


def _names(expression: str) -> Iterator[tuple[int, int, str, str]]:
    """(start, end, name, quote) of each name in `expression` that may be a column's: a
    quoted one (`quote` its quote character), or a bare word (`quote` empty). Not a
    function's name, nor a literal's prefix or type (`_NOT_A_COLUMN`), nor a type (after
    "::"; after AS or CONVERT's comma or USING, up to the closing parenthesis), nor a
    collation, nor EXTRACT's field. String literals aside."""
    calls: list[str] = []  # the piece before each open parenthesis: a function's name
    typed = 0  # the depth of the parentheses (CAST's) whose type is being read, if any
    passed = 0  # the end of the type or collation a "::" or COLLATE names
    before = ""
    for m in _PIECE.finditer(expression):
        piece, (ansi, mysql, word) = m.group().lower(), m.group("ansi", "mysql", "word")
        call = calls[-1] if calls else None
        if piece == "(":
            calls.append(before)
        elif piece == ")":
            typed = 0 if typed == len(calls) else typed
            del calls[-1:]
        elif typed or m.start() < passed:
            pass
        elif piece in _AFTER:
            found = _AFTER[piece].match(expression, m.end())
            passed = found.end() if found else passed
        elif call is not None and (piece == "as" or (call, piece) in _CONVERT_TO):
            typed = len(calls)
        elif ansi is not None:
            yield m.start(), m.end(), ansi.replace('""', '"'), '"'
        elif mysql is not None:
            yield m.start(), m.end(), mysql.replace("``", "`"), "`"
        elif word is not None and not _NOT_A_COLUMN.match(expression, m.end()) \
                and not (call == "extract" and before == "("):
            yield m.start(), m.end(), word, ""
        before = piece


def quoted_names(expression: str, quote: str) -> list[str]:
    """The names `expression` writes in `quote` quotes (string literals aside)."""
    return [name for _, _, name, q in _names(expression) if q == quote]


def _named(name: str, candidates: Iterable[str], columns: Sequence[str]) -> str | None:
    """Which of `candidates` a name written in an expression names: as written, else in
    any case (as SQLite and MySQL compare names) where that finds one column alone, among
    the table's `columns` when given (a `"Qty"` beside a `qty` is not qty)."""
    pool = list(columns) or list(candidates)
    if name in pool:
        return name if name in candidates else None
    folded = [c for c in pool if c.lower() == name.lower()]
    return folded[0] if len(folded) == 1 and folded[0] in candidates else None


def mentions(expression: str, column: str, columns: Sequence[str] = ()) -> bool:
    """Whether `expression` names the column `column` (`columns`: its table's, to tell
    names apart that differ in case only; string literals, functions and types aside)."""
    return any(_named(name, (column,), columns) == column
               for _, _, name, _ in _names(expression))


def needs_quotes(name: str) -> bool:
    """Whether `name` cannot be written bare in an expression: a keyword, or not a plain
    word (a name in mixed case is written bare, as it was before the rename: quoted,
    PostgreSQL would keep its case and MySQL would read a string)."""
    return not _PLAIN.fullmatch(name) or name.lower() in _RESERVED


def rename_in(expression: str, renames: Mapping[str, str], columns: Sequence[str] = ()) -> str:
    """`expression` with the columns of `renames` (old → new) renamed, each in one pass (a
    swap is a swap), as the databases rename them: a name as written or in any case
    (`_named`), string literals untouched. A quoted name keeps its quotes; a bare one is
    quoted where the new name needs it (`needs_quotes`), with backticks where the
    expression quotes names so (MySQL's), else double quotes."""
    if not renames:
        return expression
    found = list(_names(expression))
    backticks = any(quote == "`" for *_, quote in found)
    out: list[str] = []
    pos = 0
    for start, end, name, quote in found:
        old = _named(name, renames, columns)
        if old is None:
            continue
        new = renames[old]
        if not quote and needs_quotes(new):
            quote = "`" if backticks else '"'
        out += [expression[pos:start], quote + new.replace(quote, quote * 2) + quote
                if quote else new]
        pos = end
    return "".join(out) + expression[pos:]


# One token of an SQL expression: a string literal, a quoted name (ANSI, MySQL), a number, a
# word, a two-character operator, or any other character.
_TOKEN = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|`(?:[^`]|``)*`|\d+(?:\.\d*)?"
                    r"|[A-Za-z_][A-Za-z0-9_$]*|::|<>|!=|<=|>=|\|\||!?~~\*?|\S")
_SAME = {"!=": "<>"}
Rewrite = Callable[[list[str]], list[str]]


def expression_tokens(expression: str) -> list[str]:
    """`expression` as tokens: names unquoted and, like keywords, in lower case (a quoted
    name's case is not told apart); literals as written."""
    out = []
    for tok in _TOKEN.findall(expression):
        if tok[0] in "\"`":
            tok = tok[1:-1].replace(tok[0] * 2, tok[0]).lower()
        elif tok[0] != "'":
            tok = tok.lower()
        out.append(_SAME.get(tok, tok))
    return out


def expression_key(expression: str, rewrite: Rewrite | None = None) -> str:
    """What an SQL condition means, as far as spelling goes: quoting, case, spacing and
    parentheses left out (after `rewrite`, a database's own spellings turned into the common
    ones), for matching a check to the one a database gives back."""
    tokens = expression_tokens(expression)
    if rewrite is not None:
        tokens = rewrite(tokens)
    return " ".join(t for t in tokens if t not in "()")
