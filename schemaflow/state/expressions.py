"""Identifiers inside SQL expressions (checks, index predicates), outside string literals."""

from __future__ import annotations

import re


def _word(name: str) -> re.Pattern[str]:
    return re.compile(r"(?<![A-Za-z0-9_])" + re.escape(name) + r"(?![A-Za-z0-9_])")


_STRING_LITERAL = re.compile(r"'(?:[^']|'')*'")


def _outside_literals(expression: str) -> list[tuple[bool, str]]:
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
    return any(not lit and word.search(text) for lit, text in _outside_literals(expression))


def rename_in(expression: str, old: str, new: str) -> str:
    """`expression` with the identifier `old` renamed to `new` (string literals untouched)."""
    word = _word(old)
    return "".join(text if lit else word.sub(lambda _m: new, text)
                   for lit, text in _outside_literals(expression))
