"""`plaindata.encode`: what it writes for a value depends on its type alone, and is what the
rules say (a type as its text, a tuple as a list, a dataclass as its fields, else the value)."""

from __future__ import annotations

import dataclasses
import json
from typing import Any, NamedTuple

from schemaflow import plaindata
from schemaflow.typespec import TypeSpec, dump_type, parse_type


def _by_the_rules(obj: Any) -> Any:
    if isinstance(obj, TypeSpec):
        return dump_type(obj)
    if isinstance(obj, tuple):
        return [_by_the_rules(v) for v in obj]
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return [_by_the_rules(getattr(obj, f.name)) for f in dataclasses.fields(obj)]
    return obj


class _Text(str):
    pass


class _Pair(NamedTuple):
    a: Any
    b: Any


@dataclasses.dataclass(frozen=True)
class _One:
    only: Any


@dataclasses.dataclass(frozen=True)
class _Many:
    name: Any
    kind: Any
    items: tuple[Any, ...]
    inner: Any = None


def test_every_kind_of_value_is_written_as_the_rules_say() -> None:
    values = [
        None, True, 3, 2.5, "text", _Text("sub"), (), (1, "a", None), _Pair(1, _Text("x")),
        parse_type("numeric(10,2)"), _One(parse_type("string(50)")), _One(()),
        _Many("t", parse_type("integer"), (_One(1), _Pair(_One(None), (2, 3))),
              _Many(_Text("u"), None, ())),
        _One, TypeSpec,  # classes themselves are values as they are
    ]
    for value in values:
        assert plaindata.encode(value) == _by_the_rules(value)
        assert json.dumps(plaindata.encode(value), default=repr) == json.dumps(
            _by_the_rules(value), default=repr)
    assert plaindata.encode(values) == _by_the_rules(values)
