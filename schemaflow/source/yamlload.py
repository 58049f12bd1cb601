"""The YAML loader: libyaml's parser, and the document built from its events in one iterative
pass (no recursion, so no depth crashes the process; no node tree, so it is fast).

What it accepts is plain data: YAML 1.2 core-schema scalars (only true/false are booleans,
dates stay strings), no tags beyond null, bool, int, float, str, seq and map, no duplicate
keys. It refuses, as it reads: nesting deeper than MAX_DEPTH, an alias inside the value it
names, and aliases that together repeat more than MAX_EXPANSION values (a "billion laughs"
file is refused at the alias that crosses the line, whatever the document's own size). Every
failure is a MarkedYAMLError with the position of the offending token.

Where a value is a name or an id (the keys in NAME_KEYS, or the items of a list under one),
and in every mapping key, a plain scalar is the text written: `id: 20240115093000` is the id
"20240115093000", and `id: 73e773485570` is not the number inf. The values in rows of data
(`rows:`) keep their types.

With `positions`, it also returns where each value starts, for locating diagnostics."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

import yaml
from yaml.composer import ComposerError
from yaml.constructor import ConstructorError
from yaml.events import (
    AliasEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)

from .reading import DATA_KEYS, MAX_DEPTH, NAME_KEYS, TOO_DEEP

MAX_EXPANSION = 200_000
# An alias of a long string costs as much as this many characters per value.
_CHARS_PER_VALUE = 100

_AS_TEXT = frozenset({"int", "float", "bool"})

# libyaml's parser alone (a loader would also set up a constructor and a resolver for each
# file); without libyaml, PyYAML's pure-Python loader, of which only the parser is used.
_Parser: Any = getattr(getattr(yaml, "_yaml", None), "CParser", None) or yaml.SafeLoader
_CORE = "tag:yaml.org,2002:"
_Mark = Any  # libyaml's marks or PyYAML's: both have line and column

# Where a value starts (1-based line, col) and, for a list or a mapping, where each of its
# items starts: a mapping's entries are positioned at their key.
Pos = tuple[int, int, "dict[Any, Pos] | list[Pos] | None"]


def excerpt(text: str, limit: int = 20) -> str:
    """A short, escaped excerpt of file content for a message: at most `limit` characters,
    quoted, control characters escaped."""
    shown = repr(text[:limit])
    return shown if len(text) <= limit else shown[:-1] + "..." + shown[-1]


def _tag_words(tag: str) -> str:
    short = "!!" + tag[len(_CORE):] if tag.startswith(_CORE) else tag
    return excerpt(short, 40)


def _fail(message: str, mark: _Mark) -> ConstructorError:
    return ConstructorError(None, None, message, mark)


# --- scalars ----------------------------------------------------------------------------------

_IMPLICIT: dict[str, list[tuple[str, re.Pattern[str]]]] = {}
for _tag, _regexp, _first in (
    ("bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    ("int", r"^(?:[-+]?[0-9]+|0x[0-9a-fA-F]+|0o[0-7]+)$", "-+0123456789"),
    ("float", r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
              r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$", "-+0123456789."),
):
    for _c in _first:
        _IMPLICIT.setdefault(_c, []).append((_tag, re.compile(_regexp)))


def resolve(value: str) -> str:
    """The core-schema type of a plain scalar."""
    for tag, regexp in _IMPLICIT.get(value[:1], ()):
        if regexp.match(value):
            return tag
    return "str"


def _bool(text: str) -> bool:
    if text.lower() not in ("true", "false"):
        raise ValueError("true or false")
    return text.lower() == "true"


def _int(text: str) -> int:
    low = text.lower()
    if low.startswith(("0x", "-0x", "+0x")):
        return int(text, 16)
    if low.startswith("0o"):
        return int(text[2:], 8)
    return int(text, 10)  # a ValueError past 4,300 digits: Python's own guard


def _float(text: str) -> float:
    low = text.replace("_", "").lower()
    sign = -1.0 if low.startswith("-") else 1.0
    low = low[1:] if low[:1] in ("+", "-") else low
    if low == ".inf":
        return sign * math.inf
    if low == ".nan":
        return math.nan
    return sign * float(low)


_SCALARS: dict[str, Callable[[str], Any]] = {
    "str": str, "int": _int, "float": _float, "bool": _bool, "null": lambda _: None}
_WHAT = {"int": "a whole number of at most 4,300 digits", "float": "a number",
         "bool": "true or false", "null": "null"}


def _scalar(ev: ScalarEvent) -> Any:
    tag, value = ev.tag, ev.value
    if tag is None:
        kind = resolve(value) if ev.implicit[0] else "str"
    elif tag == "!":
        kind = "str"
    elif tag.startswith(_CORE) and tag[len(_CORE):] in _SCALARS:
        kind = tag[len(_CORE):]
    else:
        raise _not_allowed(tag, ev.start_mark)
    if kind == "str":
        return value
    return _convert(kind, value, ev.start_mark)


def _convert(kind: str, text: str, mark: _Mark) -> Any:
    """A scalar's text as a value of its core-schema type `kind`."""
    try:
        return _SCALARS[kind](text)
    except (ValueError, OverflowError):
        raise _fail(f"{excerpt(text)} is not a valid !!{kind} ({_WHAT[kind]})",
                    mark) from None


def _not_allowed(tag: str, mark: _Mark) -> ConstructorError:
    return _fail(f"the tag {_tag_words(tag)} is not allowed here: a changeset holds only "
                 "strings, numbers, true/false, null, lists and mappings", mark)


# --- the document -----------------------------------------------------------------------------

_OPEN = object()  # an anchor whose collection is still being read


class _Frame:
    """A list or mapping being read."""

    __slots__ = ("anchor", "data", "has_key", "is_map", "key", "key_at", "names", "pos",
                 "size", "start", "value")

    def __init__(self, is_map: bool, anchor: str | None, start: _Mark,
                 positions: bool, parent: _Frame | None) -> None:
        self.is_map = is_map
        # Inside rows of data: values are never read as names.
        self.data: bool = parent is not None and (parent.data or (
            parent.is_map and parent.key in DATA_KEYS))
        # A list whose scalar items are names (`parents: [1]`).
        self.names: bool = (not is_map and not self.data and parent is not None and parent.is_map
                      and parent.key in NAME_KEYS)
        self.value: Any = {} if is_map else []
        self.anchor = anchor
        self.start = start
        self.size = 1
        self.has_key = False
        self.key: Any = None
        self.key_at = (0, 0)
        self.pos: dict[Any, Pos] | list[Pos] | None = (
            ({} if is_map else []) if positions else None)


class _Builder:
    def __init__(self, positions: bool) -> None:
        self.positions = positions
        self.stack: list[_Frame] = []
        self.anchors: dict[str, Any] = {}  # name → (value, size, pos) or _OPEN
        self.expansion = 0
        self.root: Any = None
        self.root_pos: Pos | None = None

    def add(self, value: Any, size: int, pos: Pos | None, mark: _Mark) -> None:
        """A finished value: the root, an item of the open list, or a key or value of the
        open mapping."""
        if not self.stack:
            self.root, self.root_pos = value, pos
            return
        top = self.stack[-1]
        top.size += size
        if not top.is_map:
            top.value.append(value)
            if pos is not None:
                top.pos.append(pos)  # type: ignore[union-attr]
            return
        if not top.has_key:
            if isinstance(value, (list, dict)):
                raise _fail("a mapping key must be a plain value", mark)
            if value in top.value:
                raise _fail(f"the key {excerpt(str(value), 40)} appears twice", mark)
            top.key, top.key_at, top.has_key = value, (mark.line + 1, mark.column + 1), True
            return
        top.value[top.key] = value
        top.has_key = False
        if pos is not None:
            top.pos[top.key] = (*top.key_at, pos[2])  # type: ignore[index]

    def alias(self, name: str, mark: _Mark) -> None:
        entry = self.anchors.get(name)
        if entry is None:
            raise ComposerError(None, None, f"found undefined alias {excerpt(name, 40)}", mark)
        if entry is _OPEN:
            raise _fail("an alias refers to the value that contains it", mark)
        value, size, pos = entry
        self.expansion += size
        if self.expansion > MAX_EXPANSION:
            raise _fail(f"YAML aliases repeat more than {MAX_EXPANSION:,} values (aliases "
                        "repeating each other?)", mark)
        if pos is not None:
            pos = (mark.line + 1, mark.column + 1, pos[2])
        self.add(value, size, pos, mark)

    def start(self, ev: SequenceStartEvent | MappingStartEvent, is_map: bool) -> None:
        if ev.tag not in (None, "!", _CORE + ("map" if is_map else "seq")):
            raise _not_allowed(ev.tag, ev.start_mark)
        if len(self.stack) > MAX_DEPTH:
            raise _fail(TOO_DEEP, ev.start_mark)
        if ev.anchor is not None:
            self.anchors[ev.anchor] = _OPEN
        parent = self.stack[-1] if self.stack else None
        self.stack.append(_Frame(is_map, ev.anchor, ev.start_mark, self.positions, parent))

    def end(self) -> None:
        frame = self.stack.pop()
        mark = frame.start
        pos = (mark.line + 1, mark.column + 1, frame.pos) if self.positions else None
        if frame.anchor is not None:
            self.anchors[frame.anchor] = (frame.value, frame.size, pos)
        self.add(frame.value, frame.size, pos, mark)

    def scalar(self, ev: ScalarEvent) -> None:
        if len(self.stack) > MAX_DEPTH:
            raise _fail(TOO_DEEP, ev.start_mark)
        if ev.tag is None and ev.implicit[0]:
            # A plain scalar (nearly all of them): resolved once, for both questions.
            text = ev.value
            kind = resolve(text)
            if kind == "str" or (kind in _AS_TEXT and self._name_here()):
                value: Any = text
            else:
                value = _convert(kind, text, ev.start_mark)
        else:
            value = _scalar(ev)
        mark: _Mark = ev.start_mark
        size = 1 + len(ev.value) // _CHARS_PER_VALUE
        pos = (mark.line + 1, mark.column + 1, None) if self.positions else None
        if ev.anchor is not None:
            self.anchors[ev.anchor] = (value, size, pos)
        self.add(value, size, pos, mark)


    def _name_here(self) -> bool:
        """Whether a plain scalar read now stands where a name or an id goes: kept as
        written."""
        top = self.stack[-1] if self.stack else None
        if top is None:
            return False
        if top.is_map and not top.has_key:
            return True  # a key: an operation's, a field's or (in rows) a column's name
        if top.data:
            return False
        if top.is_map:
            return top.key in NAME_KEYS
        return top.names


def _build(text: str, positions: bool) -> tuple[Any, Pos | None]:
    # The builder's work for the common events (plain scalars, lists and mappings opening
    # and closing) is written out in this one loop: with a method call per event (`scalar`,
    # `add`, `resolve`, `_name_here`) building took longer than libyaml's parse itself, on
    # every file of a fresh clone. What is rare (tags, anchors, aliases, a key that repeats,
    # a failure) goes through `_Builder`'s methods, which say what each step means.
    parser = _Parser(text)
    builder = _Builder(positions)
    stack = builder.stack
    documents = 0
    implicit = _IMPLICIT
    try:
        get = parser.get_event
        while True:
            ev = get()
            kind = type(ev)
            if kind is ScalarEvent:
                if ev.anchor is not None or ev.tag is not None or not ev.implicit[0] \
                        or len(stack) > MAX_DEPTH:
                    builder.scalar(ev)
                    continue
                value: Any = ev.value
                cands = implicit.get(value[:1])
                if cands is not None:
                    for tag, regexp in cands:
                        if regexp.match(value):
                            if tag not in _AS_TEXT or not builder._name_here():
                                value = _convert(tag, value, ev.start_mark)
                            break
                if not stack:
                    builder.scalar(ev)
                    continue
                top = stack[-1]
                top.size += 1 + len(ev.value) // _CHARS_PER_VALUE
                if not top.is_map:
                    top.value.append(value)
                    if positions:
                        mark = ev.start_mark
                        top.pos.append((mark.line + 1, mark.column + 1, None))  # type: ignore[union-attr]
                elif top.has_key:
                    top.value[top.key] = value
                    top.has_key = False
                    if positions:
                        top.pos[top.key] = (*top.key_at, None)  # type: ignore[index]
                elif value in top.value:
                    builder.add(value, 1, None, ev.start_mark)  # raises: the key repeats
                else:
                    mark = ev.start_mark
                    top.key, top.key_at, top.has_key = (
                        value, (mark.line + 1, mark.column + 1), True)
            elif kind is MappingStartEvent or kind is SequenceStartEvent:
                if ev.tag is not None or ev.anchor is not None or len(stack) > MAX_DEPTH:
                    builder.start(ev, kind is MappingStartEvent)
                else:
                    stack.append(_Frame(kind is MappingStartEvent, None, ev.start_mark,
                                        positions, stack[-1] if stack else None))
            elif kind is MappingEndEvent or kind is SequenceEndEvent:
                frame = stack[-1]
                if frame.anchor is not None or len(stack) < 2:
                    builder.end()
                    continue
                stack.pop()
                top = stack[-1]
                top.size += frame.size
                if not top.is_map:
                    top.value.append(frame.value)
                    if positions:
                        mark = frame.start
                        top.pos.append((mark.line + 1, mark.column + 1, frame.pos))  # type: ignore[union-attr]
                elif top.has_key:
                    top.value[top.key] = frame.value
                    top.has_key = False
                    if positions:
                        top.pos[top.key] = (*top.key_at, frame.pos)  # type: ignore[index]
                else:
                    stack.append(frame)
                    builder.end()  # raises: a list or a mapping as a key
            elif kind is AliasEvent:
                builder.alias(ev.anchor, ev.start_mark)
            elif kind is DocumentStartEvent:
                documents += 1
                if documents > 1:
                    raise ComposerError(None, None, "expected a single document in the "
                                        "stream, but found another document", ev.start_mark)
            elif kind is StreamEndEvent or ev is None:
                break
    finally:
        parser.dispose()
    return builder.root, builder.root_pos


def load_yaml(text: str) -> Any:
    """The plain data of one YAML document (None for an empty one); a yaml.YAMLError, marked
    where a position is known, for anything else."""
    return _build(text, positions=False)[0]


def yaml_positions(text: str) -> Pos | None:
    """Where each value of the document starts (None when the text does not load)."""
    try:
        return _build(text, positions=True)[1] or (1, 1, None)
    except yaml.YAMLError:
        return None
