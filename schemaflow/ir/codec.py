"""`parse` and `dump` between documents and the IR, driven by each dataclass's field types
(the changeset `checksum` over the dump is in `checksums`)."""

from __future__ import annotations

import dataclasses
import functools
import reprlib
import types
import typing
from collections.abc import Mapping
from typing import Any, Literal, Union

from ..typespec import TypeSpec, TypeSyntaxError, dump_type, parse_type
from .changeset import Changeset
from .operations import OPERATIONS, Operation
from .parts import Dialect, IRError, Variant

_ROW_VALUE = (str, int, float, bool, type(None))
_JSON_DEPTH = 64  # (the loader allows deeper documents; a JSON value this deep is a mistake)
# A value in a message: short, and never the whole of a long or deep one.
_SHORT = reprlib.Repr()
_SHORT.maxstring = _SHORT.maxother = 40
_SHORT.maxlist = _SHORT.maxdict = 4
_SHORT.maxlevel = 2


@functools.cache
def _hints(cls: type) -> Mapping[str, Any]:
    # Once per class, on its first parse: get_type_hints is too slow to call per parse, and
    # commands that only list changesets never parse one.
    return types.MappingProxyType(typing.get_type_hints(cls))


def _is_optional(tp: Any) -> tuple[bool, Any]:
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) < len(typing.get_args(tp)):
            return True, (args[0] if len(args) == 1 else Union[tuple(args)])  # noqa: UP007
    return False, tp


_Path = tuple[str | int, ...]
_Parse = typing.Callable[[Any, _Path], Any]


def _parse_value(tp: Any, value: Any, path: _Path) -> Any:
    return _parser(tp)(value, path)


@functools.cache
def _parser(tp: Any) -> _Parse:
    """The parse of a value of type `tp`, the type inspected once (per type, not per value):
    each check below, in this order, with these messages."""
    optional, inner = _is_optional(tp)
    body = _body_parser(inner)

    def parse(value: Any, path: _Path) -> Any:
        if value is None:
            if optional:
                return None
            raise IRError("must not be null", path)
        return body(value, path)

    return parse


def _body_parser(tp: Any) -> _Parse:
    origin = typing.get_origin(tp)
    if tp is TypeSpec:
        def typespec(value: Any, path: _Path) -> Any:
            if not isinstance(value, str):
                raise IRError("a type must be a string such as integer or string(50)", path)
            try:
                return parse_type(value)
            except TypeSyntaxError as exc:
                raise IRError(str(exc), path) from None
        return typespec
    if tp is str:
        def text(value: Any, path: _Path) -> Any:
            if not isinstance(value, str):
                raise IRError(f"must be a string, not {_SHORT.repr(value)}", path)
            return value
        return text
    if tp is bool:
        def flag(value: Any, path: _Path) -> Any:
            if not isinstance(value, bool):
                raise IRError(f"must be true or false, not {_SHORT.repr(value)}", path)
            return value
        return flag
    if origin is Literal:
        choices = typing.get_args(tp)

        def literal(value: Any, path: _Path) -> Any:
            if value not in choices:
                allowed = ", ".join(map(str, choices))
                raise IRError(f"must be one of {allowed}, not {_SHORT.repr(value)}", path)
            return value
        return literal
    if origin is tuple:
        item_tp = typing.get_args(tp)[0]
        if item_tp is Variant:
            return _parse_variants
        item = _parser(item_tp)

        def many(value: Any, path: _Path) -> Any:
            if isinstance(value, str) and item_tp is str and path and path[-1] in ("up", "down"):
                return (value,)
            if not isinstance(value, list):
                raise IRError(f"must be a list, not {_SHORT.repr(value)}", path)
            return tuple(item(v, (*path, i)) for i, v in enumerate(value))
        return many
    if origin is dict:
        def row(value: Any, path: _Path) -> Any:
            if not isinstance(value, dict):
                raise IRError("must be a mapping of column to value", path)
            for k, v in value.items():
                if not isinstance(k, str) or not (isinstance(v, _ROW_VALUE) or is_json(v)):
                    raise IRError(f"{_SHORT.repr(k)}: a row value must be a string, number, "
                                  "boolean or null, or (for a json column) a mapping or list "
                                  "of them", path)
            return dict(value)
        return row
    if dataclasses.is_dataclass(tp):
        cls = typing.cast(type, tp)
        return lambda value, path: _parse_fields(cls, value, path)
    if origin in (Union, types.UnionType) and any(
            dataclasses.is_dataclass(a) for a in typing.get_args(tp)):
        args = typing.get_args(tp)

        def name_or_mapping(value: Any, path: _Path) -> Any:
            # A name or a mapping (an index key part): the mapping's class decides.
            for arg in args:
                if dataclasses.is_dataclass(arg) and isinstance(value, dict):
                    return _parse_fields(typing.cast(type, arg), value, path)
                if arg is str and isinstance(value, str):
                    return value
            raise IRError(f"must be a name or a mapping, not {value!r}", path)
        return name_or_mapping
    if tp is int:
        def whole(value: Any, path: _Path) -> Any:
            if not isinstance(value, int) or isinstance(value, bool):
                raise IRError(f"must be a whole number, not {value!r}", path)
            return value
        return whole

    def scalar(value: Any, path: _Path) -> Any:
        if isinstance(value, (str, int, float, bool)):
            return value
        raise IRError(f"must be a string, number or boolean, not {_SHORT.repr(value)}", path)
    return scalar


def is_json(value: Any, depth: int = 0) -> bool:
    """Whether `value` is a JSON object or array (a json column's row value): mappings with
    text keys and lists, down to strings, numbers, booleans and nulls."""
    if depth > _JSON_DEPTH:
        return False
    if isinstance(value, dict):
        return all(isinstance(k, str) and (isinstance(v, _ROW_VALUE) or is_json(v, depth + 1))
                   for k, v in value.items())
    if isinstance(value, list):
        return all(isinstance(v, _ROW_VALUE) or is_json(v, depth + 1) for v in value)
    return False


def _parse_variants(value: Any, path: tuple[str | int, ...]) -> tuple[Variant, ...]:
    """`{postgresql: postgresql.jsonb, ...}` → variants in database-name order."""
    if not isinstance(value, dict):
        raise IRError("must be a mapping of database to type, such as "
                      "{postgresql: postgresql.jsonb}", path)
    known = typing.get_args(Dialect)
    out = []
    for key in sorted(value, key=str):
        if key not in known:
            raise IRError(f"unknown database '{key}' (variants are for "
                          f"{', '.join(known)})", (*path, key))
        out.append(Variant(dialect=key, type=_parse_value(TypeSpec, value[key], (*path, key))))
    return tuple(out)


@functools.cache
def _fields_of(cls: type) -> tuple[frozenset[str], tuple[tuple[str, _Parse, bool], ...]]:
    """A dataclass's field names, and for each field in order: its name, its parse, and
    whether the document must give it (no default)."""
    hints = _hints(cls)
    fields = dataclasses.fields(cls)
    return frozenset(f.name for f in fields), tuple(
        (f.name, _parser(hints[f.name]),
         f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING)
        for f in fields)


def _parse_fields(cls: type, doc: Any, path: tuple[str | int, ...]) -> Any:
    if not isinstance(doc, dict):
        raise IRError(f"must be a mapping, not {_SHORT.repr(doc)}", path)
    names, table = _fields_of(cls)
    for key in doc:
        if key not in names:
            raise IRError(f"unknown key '{key}'", (*path, key))
    kwargs: dict[str, Any] = {}
    for name, parse, required in table:
        if name in doc:
            kwargs[name] = parse(doc[name], (*path, name))
        elif required:
            raise IRError(f"missing required key '{name}'", path)
    try:
        return cls(**kwargs)
    except IRError as exc:  # a class's own check of its fields together
        if exc.path:
            raise
        raise IRError(exc.message, path) from None


def parse_operation(doc: Any, path: tuple[str | int, ...] = ()) -> Operation:
    """Parse one `{kind: {...}}` mapping into its operation."""
    if not isinstance(doc, dict) or len(doc) != 1:
        raise IRError("an operation is a mapping with exactly one key, its name", path)
    ((kind, body),) = doc.items()
    cls = OPERATIONS.get(kind)
    if cls is None:
        raise IRError(f"unknown operation '{kind}'", (*path, kind))
    op: Operation = _parse_fields(cls, body if body is not None else {}, (*path, kind))
    return op


def _parse_ops(doc: Any, path: tuple[str | int, ...]) -> tuple[Operation, ...]:
    if not isinstance(doc, list):
        raise IRError("must be a list of operations", path)
    return tuple(parse_operation(d, (*path, i)) for i, d in enumerate(doc))


_CHANGESET_KEYS = (
    "schemaflow",
    "id",
    "parents",
    "message",
    "author",
    "depends_on",
    "branch_labels",
    "tag",
    "transactional",
    "operations",
    "rollback",
    "lint",
    "replaces",
)


def parse(doc: Any, path: str | None = None) -> Changeset:
    """Parse a whole changeset document (already loaded from YAML or TOML)."""
    if not isinstance(doc, dict):
        raise IRError("a changeset must be a mapping at the top level")
    for key in doc:
        if key not in _CHANGESET_KEYS:
            raise IRError(f"unknown key '{key}'", (key,))
    for key in ("schemaflow", "id", "parents", "message", "operations"):
        if key not in doc:
            raise IRError(f"missing required key '{key}'")
    if doc["schemaflow"] != 1 or isinstance(doc["schemaflow"], bool):
        raise IRError("unsupported format version (this schemaflow reads 1)", ("schemaflow",))
    hints = _hints(Changeset)
    kwargs: dict[str, Any] = {"path": path}
    for key in ("id", "parents", "message", "author", "depends_on", "branch_labels", "tag",
                "transactional", "replaces"):
        if key in doc:
            kwargs[key] = _parse_value(hints[key], doc[key], (key,))
    kwargs["operations"] = _parse_ops(doc["operations"], ("operations",))
    if doc.get("rollback") is not None:
        kwargs["rollback"] = _parse_ops(doc["rollback"], ("rollback",))
    lint = doc.get("lint")
    if lint is not None:
        if not isinstance(lint, dict) or set(lint) - {"ignore"}:
            raise IRError("lint takes only 'ignore: [codes]'", ("lint",))
        kwargs["lint_ignore"] = _parse_value(tuple[str, ...], lint.get("ignore", []),
                                             ("lint", "ignore"))
    return Changeset(**kwargs)


def _dump_value(value: Any) -> Any:
    if isinstance(value, TypeSpec):
        return dump_type(value)
    if isinstance(value, tuple) and value and isinstance(value[0], Variant):
        return {v.dialect: dump_type(v.type) for v in value}
    if isinstance(value, tuple):
        return [_dump_value(v) for v in value]
    if isinstance(value, dict):
        return dict(value)
    if dataclasses.is_dataclass(value):
        return _dump_fields(value)
    return value


# What `_dump_value` gives back as it is: tested inline, without a call.
_LEAF = frozenset({str, int, float, bool, type(None)})


def _dump_fields(obj: Any) -> dict[str, Any]:
    kind: Any = type(obj)
    return _dumper(kind)(obj)


@functools.cache
def _dumper(cls: type) -> typing.Callable[[Any], dict[str, Any]]:
    """The mapping of an object of `cls`: each field that counts in comparisons, in order,
    but one equal to its default (and of its type); a one-statement `up` or `down` as that
    statement. One function per class, written from its fields: a loop over them for every
    object took as long as parsing them, on every file of a fresh clone."""
    scope: dict[str, Any] = {"_dump_value": _dump_value, "_LEAF": _LEAF}
    lines = ["def dump(o):", "    out = {}"]
    for k, (name, default) in enumerate(_compared_fields(cls)):
        lines.append(f"    v = o.{name}")
        indent = "    "
        if default is not dataclasses.MISSING:
            scope[f"D{k}"] = default
            lines.append(f"    if not (v == D{k} and type(v) is type(D{k})):")
            indent += "    "
        if name in ("up", "down"):
            lines += [f"{indent}if isinstance(v, tuple) and len(v) == 1:",
                      f"{indent}    out[{name!r}] = v[0]",
                      f"{indent}else:",
                      f"{indent}    out[{name!r}] = v if type(v) in _LEAF else _dump_value(v)"]
        else:
            lines.append(f"{indent}out[{name!r}] = v if type(v) in _LEAF else _dump_value(v)")
    lines.append("    return out")
    exec("\n".join(lines), scope)  # our own source, from our own classes; no data in it
    return typing.cast(typing.Callable[[Any], dict[str, Any]], scope["dump"])


@functools.cache
def _compared_fields(cls: type) -> tuple[tuple[str, Any], ...]:
    """(name, default) of each field of a dataclass that counts in comparisons, in order."""
    return tuple((f.name, f.default) for f in dataclasses.fields(cls) if f.compare)


def dump_operation(op: Operation) -> dict[str, Any]:
    """The `{kind: {...}}` mapping of an operation; `parse_operation(dump_operation(o)) == o`."""
    return {op.kind: _dump_fields(op)}


def dump(cs: Changeset) -> dict[str, Any]:
    """The document of a changeset, in the contract's key order."""
    doc: dict[str, Any] = {"schemaflow": 1, "id": cs.id, "parents": list(cs.parents),
                           "message": cs.message}
    if cs.author is not None:
        doc["author"] = cs.author
    for key in ("depends_on", "branch_labels", "replaces"):
        if getattr(cs, key):
            doc[key] = list(getattr(cs, key))
    if cs.tag is not None:
        doc["tag"] = cs.tag
    if cs.transactional is not None:
        doc["transactional"] = cs.transactional
    if cs.lint_ignore:
        doc["lint"] = {"ignore": list(cs.lint_ignore)}
    doc["operations"] = [dump_operation(op) for op in cs.operations]
    if cs.rollback is not None:
        doc["rollback"] = [dump_operation(op) for op in cs.rollback]
    return doc
