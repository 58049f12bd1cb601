"""A changeset's body as plain data, and back through the IR's own constructors: what the
parse cache stores (with marshal), so that reading a cache entry never names a class or a
function to call.

An object is a list `[index, field values...]`, its class found by position in `CLASSES` (the
data names no class); tuples stay tuples, and strings, numbers, booleans, None and the rows'
dicts stay as they are. Decoding calls each class with its fields as keywords, so the
constructors' own checks (every field given, none unknown) run; a field that holds an object
accepts only a list of the class the field declares (an operation, anywhere an operation
goes). Anything else raises ValueError, TypeError, KeyError or IndexError: the caller treats
that as an entry it cannot use."""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Callable
from typing import Any

from ..typespec import TypeSpec
from .changeset import Body
from .codec import _hints, _is_optional
from .operations import OPERATIONS, Operation
from .parts import (
    CheckDef,
    Collations,
    Column,
    ColumnSequence,
    Computed,
    ForeignKeyDef,
    Identity,
    IndexColumn,
    IndexDef,
    PrimaryKeyDef,
    Reference,
    SqlDefaults,
    UniqueDef,
    Variant,
)

CLASSES: tuple[type, ...] = (*OPERATIONS.values(), Column, Reference, PrimaryKeyDef, UniqueDef,
                             ForeignKeyDef, CheckDef, IndexDef, TypeSpec, IndexColumn, Computed,
                             Identity, Variant, ColumnSequence, Collations, SqlDefaults)
_INDEX = {cls: i for i, cls in enumerate(CLASSES)}
_NAMES = tuple(tuple(f.name for f in dataclasses.fields(cls)) for cls in CLASSES)


# What `_encode` gives back as it is (a row's dict too): tested inline, without a call.
_LEAF = frozenset({str, int, float, bool, type(None), dict})


def _encode(value: Any) -> Any:
    encode = _encoders().get(type(value))
    if encode is not None:
        return encode(value)
    if type(value) is tuple:
        return tuple([v if type(v) in _LEAF else _encode(v) for v in value])
    return value


@functools.cache
def _encoders() -> dict[type, Callable[[Any], list[Any]]]:
    """Class → the function that encodes an object of that class: `[index, field values...]`,
    each value encoded by `_encode` unless it is a leaf. One function per class, written
    from its field names, as `decoders` below: a loop calling `_encode` for every field
    took longer than the IR parse, on every file of a fresh clone."""
    scope: dict[str, Any] = {"_encode": _encode, "_LEAF": _LEAF}
    lines = []
    for i, names in enumerate(_NAMES):
        values = "".join(f", x if type(x := o.{name}) in _LEAF else _encode(x)"
                         for name in names)
        lines += [f"def _e{i}(o):", f"    return [{i}{values}]"]
    exec("\n".join(lines), scope)  # our own source, from our own classes; no data in it
    return {cls: scope[f"_e{i}"] for i, cls in enumerate(CLASSES)}


def encode_body(body: Body) -> tuple[Any, Any]:
    """Operations and rollback as plain data."""
    operations, rollback = body
    return _encode(operations), None if rollback is None else _encode(rollback)


def _field_source(k: int, tp: Any) -> str:
    """The expression that decodes field `k` of `v`, by the field's declared type."""
    optional, inner = _is_optional(tp)
    many = typing.get_origin(inner) is tuple
    cls = typing.get_args(inner)[0] if many else inner
    objects = [a for a in typing.get_args(cls) if a in _INDEX]
    if many and typing.get_origin(cls) in (typing.Union, types.UnionType) and objects:
        # A name or an object (an index key part): an object is a list, a name a string.
        one = f"_{_INDEX[objects[0]]}"
        return f"tuple([{one}(x) if type(x) is list else _name(x) for x in v[{k}]])"
    if not many and typing.get_origin(cls) in (typing.Union, types.UnionType) and objects:
        # A name or an object (a collation per database), or None.
        one = f"_{_INDEX[objects[0]]}"
        return f"{one}(x) if type(x := v[{k}]) is list else x"
    if cls not in _INDEX:
        return f"v[{k}]"
    one = f"_{_INDEX[cls]}"
    expr = f"tuple([{one}(x) for x in v[{k}]])" if many else f"{one}(v[{k}])"
    return f"None if v[{k}] is None else {expr}" if optional else expr


@functools.cache
def decoders() -> dict[int, Callable[[Any], Any]]:
    """Class index → the function that decodes an object of that class; the operations'."""
    # One function per class, written from its field types: a generic loop building keyword
    # dictionaries made decoding twice as slow as the loader it replaced, and `validate` on a
    # long history decodes every body. Written on first use: listings never decode a body.
    scope: dict[str, Any] = {"_name": _name}
    lines = []
    for i, (cls, names) in enumerate(zip(CLASSES, _NAMES, strict=True)):
        hints = _hints(cls)
        args = ", ".join(f"{name}={_field_source(k, hints[name])}"
                         for k, name in enumerate(names, 1))
        scope[f"C{i}"] = cls
        lines += [f"def _{i}(v):",
                  f"    if v[0] != {i} or len(v) != {len(names) + 1}:",
                  f"        raise ValueError('not a {cls.__name__}')",
                  f"    return C{i}({args})"]
    exec("\n".join(lines), scope)  # our own source, from our own classes; no data in it
    return {i: scope[f"_{i}"] for i, cls in enumerate(CLASSES) if issubclass(cls, Operation)}


def _name(value: Any) -> str:
    if type(value) is not str:
        raise TypeError("a key part is a name or an object")
    return value


def _operations(value: Any, decoders: dict[int, Callable[[Any], Any]]) -> tuple[Operation, ...]:
    if type(value) is not tuple:
        raise TypeError("operations must be a tuple")
    return tuple([decoders[v[0]](v) for v in value])


def decode_body(value: Any) -> Body:
    """Operations and rollback from `encode_body`'s data; raises on anything else."""
    operations, rollback = value
    found = decoders()
    return (_operations(operations, found),
            None if rollback is None else _operations(rollback, found))
