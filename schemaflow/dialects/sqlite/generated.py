"""SQLite's generated columns as written. Its Inspector finds a generated column's expression
in the CREATE TABLE text with a pattern that stops at a comma in the column's type
(`NUMERIC(12, 2)`: an empty expression), takes the column's name inside a longer one, runs on
to the last parenthesis of the line, and needs GENERATED ALWAYS; each is read here from the
column's own definition instead."""

from __future__ import annotations

import re
from typing import Any

_QUOTED = r"""'(?:[^']|'')*'|"(?:[^"]|"")*"|`(?:[^`]|``)*`|\[[^\]]*\]"""
# Quoted text kept whole (group 1), a comment to drop (to the line's end, or `*/` or the end).
_COMMENT = re.compile(rf"({_QUOTED})|--[^\n]*|/\*.*?(?:\*/|$)", re.DOTALL)
_TOKEN = re.compile(rf"{_QUOTED}|\w+|\S")


def uncommented(sql: str) -> str:
    """`sql` with each comment a space, quoted text as it is."""
    return _COMMENT.sub(lambda m: m.group(1) or " ", sql)


def generated(definition: str) -> tuple[str, bool] | None:
    """The expression, as written, and whether it is stored, of the `[GENERATED ALWAYS] AS
    (...) [STORED | VIRTUAL]` clause of a column's definition (what follows its name, without
    comments); None without one, or where it does not end."""
    tokens = list(_TOKEN.finditer(definition))
    depth, start = 0, -1
    for n, token in enumerate(tokens):
        text = token.group()
        if text == "(":
            depth += 1
        elif text == ")":
            depth -= 1
            if depth == 0 and start >= 0:
                kind = tokens[n + 1].group().upper() if n + 1 < len(tokens) else ""
                return definition[start:token.start()].strip(), kind == "STORED"
        elif (depth == 0 and start < 0 and text.upper() == "AS" and n + 1 < len(tokens)
              and tokens[n + 1].group() == "("):
            start = tokens[n + 1].end()
    return None


def complete(columns: list[dict[str, Any]], definitions: dict[str, str]) -> None:
    """Each generated column of `columns` (one table's, as the Inspector read them) with the
    expression and kind of its definition in `definitions` (name → what follows it); an
    empty expression where it cannot be read, or its kind is not the one SQLite reports,
    which reflection refuses."""
    for c in columns:
        computed = c.get("computed")
        if not computed:
            continue
        read = generated(definitions.get(str(c["name"]), ""))
        stored = bool(computed.get("persisted"))
        c["computed"] = {"sqltext": read[0] if read and read[1] == stored else "",
                         "persisted": stored}
