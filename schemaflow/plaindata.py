"""Frozen dataclasses (a schema's tables and what they hold) to and from plain JSON data, for
caches that must not run anything they read: each object is the list of its field values in
field order, and every value read back is checked against its field's type (ValueError when
it does not fit). Decoders are built once per class from the field types."""

from __future__ import annotations

import dataclasses
import functools
import operator
import types
import typing
from collections.abc import Callable
from typing import Any, Literal, Union

from .typespec import TypeSpec, TypeSyntaxError, dump_type, parse_type

Decode = Callable[[Any], Any]
_SCALARS = (str, int, float, bool)


def encode(obj: Any) -> Any:
    """A dataclass (or a value inside one) as plain lists, strings, numbers, booleans, None."""
    kind = type(obj)
    if kind in _PLAIN:
        return obj
    how = _ENCODERS.get(kind)
    if how is None:
        how = _encoder(kind)
    return how(obj)


# What `encode` does with a value depends on its type alone, so it is worked out once per
# type: the schemas apply stores (the memo's state files) hold hundreds of thousands of
# values, and asking each one what it is took most of the time to write them.
_PLAIN = frozenset({str, int, float, bool, type(None)})
_ENCODERS: dict[type, Callable[[Any], Any]] = {}


def _encode_items(values: Any) -> list[Any]:
    plain = _PLAIN
    return [v if type(v) in plain else encode(v) for v in values]


def _encoder(kind: type) -> Callable[[Any], Any]:
    """How `encode` writes a value of type `kind`: a type as its text, a tuple as a list, a
    dataclass as the list of its field values, anything else as it is."""
    how: Callable[[Any], Any]
    if issubclass(kind, TypeSpec):
        how = dump_type
    elif issubclass(kind, tuple):
        how = _encode_items
    elif dataclasses.is_dataclass(kind) and not issubclass(kind, type):
        names = _names(kind)
        if len(names) > 1:
            fields = operator.attrgetter(*names)
            how = lambda obj: _encode_items(fields(obj))  # noqa: E731
        else:
            how = lambda obj: _encode_items([getattr(obj, n) for n in names])  # noqa: E731
    else:
        how = _same
    _ENCODERS[kind] = how
    return how


def _same(obj: Any) -> Any:
    return obj


def decode(cls: type, data: Any) -> Any:
    """The `cls` instance that `encode` gave `data` for; ValueError when it does not fit."""
    return _record(cls)(data)


@functools.cache
def _names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


def _fail(what: str, value: Any) -> typing.NoReturn:
    raise ValueError(f"expected {what}, got {type(value).__name__}")


@functools.cache
def _record(cls: type) -> Decode:
    hints = typing.get_type_hints(cls)
    names = _names(cls)
    decoders = tuple(_decoder(hints[name]) for name in names)
    count = len(names)

    def record(value: Any) -> Any:
        if type(value) is not list or len(value) != count:
            _fail(f"{cls.__name__} fields", value)
        return cls(**{n: d(v) for n, d, v in zip(names, decoders, value, strict=True)})

    return record


@functools.cache
def _type(text: str) -> TypeSpec:
    try:
        return parse_type(text)
    except TypeSyntaxError as exc:
        raise ValueError(str(exc)) from None


def _decoder(tp: Any) -> Decode:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (Union, types.UnionType) and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        inner = _decoder(rest[0] if len(rest) == 1 else Union[tuple(rest)])  # noqa: UP007
        return lambda v: None if v is None else inner(v)
    if origin in (Union, types.UnionType):
        records = [a for a in args if dataclasses.is_dataclass(a)]
        if len(records) == 1 and all(a is str or a in records for a in args):
            # A name or a mapping (an index key part): a list is the record's fields.
            record = _record(typing.cast(type, records[0]))
            return lambda v: v if type(v) is str else record(v)
        if not all(a in _SCALARS for a in args):
            raise TypeError(f"no plain-data decoder for {tp}")
        kinds = tuple(args)
        return lambda v: v if isinstance(v, kinds) else _fail("a scalar", v)
    if tp is TypeSpec:
        return lambda v: _type(v) if type(v) is str else _fail("a type", v)
    if tp in _SCALARS:
        exact = tp
        return lambda v: v if type(v) is exact else _fail(exact.__name__, v)
    if origin is Literal:
        allowed = frozenset(args)
        return lambda v: v if v in allowed and type(v) is str else _fail("a known word", v)
    if origin is tuple:
        item = _decoder(args[0])
        return lambda v: tuple(map(item, v)) if type(v) is list else _fail("a list", v)
    if dataclasses.is_dataclass(tp):
        return _record(typing.cast(type, tp))
    raise TypeError(f"no plain-data decoder for {tp}")
