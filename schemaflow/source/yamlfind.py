"""A value's position in a YAML text known to load, found by reading libyaml's events only up
to it (no value built, the values before it skipped): what `positions` asks first for a
finding, before it builds every position of the document (`yamlload.yaml_positions`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import yaml
from yaml.events import (
    AliasEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)

from .yamlload import _Parser, _scalar, resolve


def locate_loaded(text: str, path: Sequence[str | int]) -> tuple[int, int] | None:
    """Where `yaml_positions` puts the deepest value along `path`, for a text known to load
    (the bytes of a file the loader accepted): libyaml's events read only up to it, no value
    built, the values before it on the way skipped. A finding in a long history's fresh check
    costs a fraction of a whole parse with positions. None when the way passes an alias, an
    anchored key or one that is a list or a mapping (the whole document says where those
    lead): the caller then builds every position. On a text that does not load, the answer
    means nothing."""
    parser = _Parser(text)
    try:
        return _find(parser.get_event, path)
    except (yaml.YAMLError, _Ended):  # not expected of a text that loads
        return None
    finally:
        parser.dispose()


class _Ended(Exception):
    """The events ended inside a value."""


def _find(events: Callable[[], Any], path: Sequence[str | int]) -> tuple[int, int] | None:
    """`locate_loaded` on a parser's events."""
    ev = events()
    while type(ev) not in _NODES:
        if ev is None or type(ev) is StreamEndEvent:
            return 1, 1  # no document: `yaml_positions` says the start
        ev = events()

    def get() -> Any:
        got = events()
        if got is None or type(got) is StreamEndEvent:
            raise _Ended
        return got

    mark = ev.start_mark
    at = (mark.line + 1, mark.column + 1)
    for step in path:
        kind = type(ev)
        if kind is MappingStartEvent:
            while True:
                key = get()
                if type(key) is MappingEndEvent:
                    return at
                if type(key) is not ScalarEvent or key.anchor is not None:
                    return None
                ev = get()
                if _key_text(key) == step:
                    mark = key.start_mark  # an entry is where its key is
                    break
                _skip(get, ev)
        elif kind is SequenceStartEvent and isinstance(step, int) and step >= 0:
            for _ in range(step):
                if type(item := get()) is SequenceEndEvent:
                    return at
                _skip(get, item)
            ev = get()
            if type(ev) is SequenceEndEvent:
                return at
            mark = ev.start_mark
        else:  # a scalar, or a step that cannot lead into this list: found so far
            return at
        if type(ev) is AliasEvent:
            return None
        at = (mark.line + 1, mark.column + 1)
    return at


_NODES = (ScalarEvent, MappingStartEvent, SequenceStartEvent, AliasEvent)
_STARTS = (MappingStartEvent, SequenceStartEvent)
_ENDS = (MappingEndEvent, SequenceEndEvent)


def _key_text(ev: ScalarEvent) -> Any:
    """A mapping key as `_build` reads it: plain text (a name), null as None, a tagged or
    quoted one as its tag says."""
    if ev.tag is None and ev.implicit[0]:
        return None if resolve(ev.value) == "null" else ev.value
    return _scalar(ev)


def _skip(get: Callable[[], Any], ev: Any) -> None:
    """Read past the rest of the value that event `ev` starts."""
    if type(ev) not in _STARTS:
        return
    depth = 1
    while depth:
        kind = type(get())
        if kind in _STARTS:
            depth += 1
        elif kind in _ENDS:
            depth -= 1
