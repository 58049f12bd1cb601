"""Identifiers inside SQL expressions (checks, index predicates), outside string literals."""

from __future__ import annotations

import re
from collections.abc import Callable


def _word(name: str) -> re.Pattern[str]:
    return re.compile(r"(?<![A-Za-z0-9_])" + re.escape(name) + r"(?![A-Za-z0-9_])")


_STRING_LITERAL = re.compile(r"'(?:[^']|'')*'")


def outside_literals(expression: str) -> list[tuple[bool, str]]:
    """The expression cut into (is_literal, text) pieces; string literals are not names."""
    pieces: list[tuple[bool, str]] = []
    pos = 0
    for m in _STRING_LITERAL.finditer(expression):
        pieces += [(False, expression[pos:m.start()]), (True, m.group(0))]
        pos = m.end()
    return [*pieces, (False, expression[pos:])]


def mentions(expression: str, column: str) -> bool:
    """Whether `expression` names the identifier `column` (string literals aside)."""
    word = _word(column)
    return any(not lit and word.search(text) for lit, text in outside_literals(expression))


def rename_in(expression: str, old: str, new: str) -> str:
    """`expression` with the identifier `old` renamed to `new` (string literals untouched)."""
    word = _word(old)
    return "".join(text if lit else word.sub(lambda _m: new, text)
                   for lit, text in outside_literals(expression))


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
