"""JSON with comments and trailing commas (JSONC), as VS Code writes `settings.json`: read it,
and add a member to an object in it without touching the rest of the text (the user's
comments, order and layout stay as they were)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

# A string, a comment, or one character of anything else (whitespace is skipped).
_TOKEN = re.compile(r'"(?:[^"\\\n]|\\.)*"|//[^\n]*|/\*.*?\*/|\S', re.S)


class JsoncError(ValueError):
    """Text that is not JSON even with comments and trailing commas allowed."""


def _tokens(text: str) -> Iterator[tuple[str, int]]:
    """The significant tokens (comments left out) and where each starts."""
    pos = 0
    while True:
        m = _TOKEN.search(text, pos)
        if m is None:
            return
        token = m.group(0)
        if token == "/":  # the start of a comment that never ends
            raise JsoncError("an unterminated comment")
        if not token.startswith(("//", "/*")):
            yield token, m.start()
        pos = m.end()


def loads(text: str) -> Any:
    """The value of a JSONC text (an empty text is an empty object)."""
    tokens = list(_tokens(text))
    if not tokens:
        return {}
    kept = [t for i, (t, _) in enumerate(tokens)
            if not (t == "," and i + 1 < len(tokens) and tokens[i + 1][0] in "]}")]
    try:
        return json.loads("".join(kept))
    except json.JSONDecodeError as exc:
        raise JsoncError(exc.msg) from None


def add_member(text: str, parent: str | None, key: str, value: Any) -> str:
    """`text` with `"key": value` added first in the object under the top-level key `parent`
    (None: the top-level object itself), creating that object when it is missing."""
    tokens = list(_tokens(text))
    if not tokens:
        text, tokens = "{}\n", [("{", 0), ("}", 1)]
    if tokens[0][0] != "{":
        raise JsoncError("the settings are not a JSON object")
    target = 0  # the index of the `{` to insert after
    indent = "  "
    member = f"{json.dumps(key)}: {json.dumps(value)}"
    if parent is not None:
        found = _top_level_value(tokens, parent)
        if found is None:
            member = f"{json.dumps(parent)}: {{\n    {member}\n  }}"
        elif tokens[found][0] != "{":
            raise JsoncError(f'"{parent}" is not an object')
        else:
            target, indent = found, "    "
    at = tokens[target][1] + 1
    comma = "" if tokens[target + 1][0] == "}" else ","
    return f"{text[:at]}\n{indent}{member}{comma}{text[at:]}"


def _top_level_value(tokens: list[tuple[str, int]], key: str) -> int | None:
    """The index of the token that starts the value of `key` in the top-level object."""
    depth = 0
    for i, (token, _) in enumerate(tokens):
        if token in "{[":
            depth += 1
        elif token in "}]":
            depth -= 1
        elif (depth == 1 and token.startswith('"') and i + 2 < len(tokens)
              and tokens[i + 1][0] == ":" and json.loads(token) == key):
            return i + 2
    return None
