"""A JSON Schema (draft 7) compiled into one Python predicate: does a document satisfy it?

jsonschema walks the schema for every value it checks (a new validator object per step,
references looked up each time): about half a millisecond per changeset, most of the time
`validate` takes on a fresh clone. Almost every document is valid, and a valid document
needs no message: this predicate answers "valid?" about 20 times faster, and only a
document it refuses goes through jsonschema, which explains what is wrong (`validate`).

The predicate must say "valid" exactly when jsonschema finds no error. So each keyword
below is jsonschema's own rule for Draft7Validator (no format checker), the same type
tests (`bool` is no number), JSON Schema's equality (`json_key`: `1` equals `1.0`, `true`
equals neither; a value it cannot decide, such as NaN, is "not valid" here and left to
jsonschema), and `$ref` ignoring its
sibling keywords as draft 7 says. A schema with anything else (a draft-7 keyword not
listed here, a reference outside the document, a nested `$id`) is not compiled:
`compile_schema` raises Unsupported, and every document goes through jsonschema.
tests/test_schemacheck.py runs both on every document the tests know and on fuzzed ones.
"""

from __future__ import annotations

import numbers
import re
from collections.abc import Callable
from typing import Any

Check = Callable[[Any], bool]

# Keywords that assert nothing (annotations, containers of subschemas reached by $ref).
_ANNOTATIONS = frozenset({"$schema", "$id", "$comment", "title", "description", "default",
                          "examples", "definitions", "readOnly", "writeOnly",
                          "contentMediaType", "contentEncoding"})
# Every keyword Draft7Validator asserts; those not compiled below make a schema Unsupported.
DRAFT7_KEYWORDS = frozenset({
    "$ref", "additionalItems", "additionalProperties", "allOf", "anyOf", "const", "contains",
    "dependencies", "enum", "exclusiveMaximum", "exclusiveMinimum", "format", "if", "items",
    "maxItems", "maxLength", "maxProperties", "maximum", "minItems", "minLength",
    "minProperties", "minimum", "multipleOf", "not", "oneOf", "pattern",
    "patternProperties", "properties", "propertyNames", "required", "type", "uniqueItems"})
# Keywords about a mapping's entries: compiled together, into one pass over them.
_OBJECT_KEYWORDS = frozenset({"properties", "additionalProperties", "required", "minProperties",
                              "maxProperties", "propertyNames", "dependencies"})


class Unsupported(Exception):
    """The schema uses something this compiler does not implement exactly."""


# --- equality as JSON Schema defines it ---------------------------------------------------

class _Unsure(Exception):
    """A value whose comparison this module does not decide (NaN, a non-text key, an object
    that is not JSON): the predicate then says "not valid" and jsonschema decides."""


def json_key(v: Any) -> Any:
    """A hashable form of a JSON value: two values are equal in JSON Schema's sense (`true`
    is not `1`, `1` is `1.0`, arrays item by item, objects entry by entry) exactly when their
    forms are equal."""
    if v is True or v is False:
        return ("bool", v)
    if v is None:
        return ("null",)
    kind = type(v)
    if kind is str:
        return ("str", v)
    if kind is int or kind is float:
        if v != v:
            raise _Unsure
        return ("num", v)
    if kind is list or kind is tuple:
        return ("list", tuple(json_key(i) for i in v))
    if kind is dict:
        if any(type(k) is not str for k in v):
            raise _Unsure
        return ("map", frozenset((k, json_key(i)) for k, i in v.items()))
    raise _Unsure


def decided(value: Any) -> bool:
    """Whether every value inside `value` is one `json_key` compares (no NaN, no key that is
    not text, only JSON's kinds): where it is not, the predicate may say "not valid" for a
    document jsonschema accepts, never the other way round."""
    try:
        json_key(value)
    except _Unsure:
        return False
    return True


def _keys(values: Any) -> list[Any] | None:
    try:
        return [json_key(v) for v in values]
    except _Unsure:
        return None


# --- types ----------------------------------------------------------------------------------

def _is_integer(v: Any) -> bool:
    if isinstance(v, bool):
        return False
    return isinstance(v, int) or (isinstance(v, float) and v.is_integer())


def _is_number(v: Any) -> bool:
    return not isinstance(v, bool) and isinstance(v, numbers.Number)


_TYPES: dict[str, Check] = {
    "array": lambda v: isinstance(v, list),
    "boolean": lambda v: isinstance(v, bool),
    "integer": _is_integer,
    "null": lambda v: v is None,
    "number": _is_number,
    "object": lambda v: isinstance(v, dict),
    "string": lambda v: isinstance(v, str),
}


def _type_check(types: Any) -> Check:
    names = [types] if isinstance(types, str) else types
    if not isinstance(names, list) or not names or any(n not in _TYPES for n in names):
        raise Unsupported(f"type {types!r}")
    if names == ["object"]:
        return lambda v: isinstance(v, dict)
    if names == ["array"]:
        return lambda v: isinstance(v, list)
    if names == ["string"]:
        return lambda v: isinstance(v, str)
    tests = [_TYPES[n] for n in names]
    return lambda v: any(t(v) for t in tests)


# --- the compiler ---------------------------------------------------------------------------

class _Compiler:
    def __init__(self, root: Any) -> None:
        self.root = root
        self.refs: dict[str, list[Check]] = {}  # a reference → a cell holding its check

    def ref(self, ref: Any) -> Check:
        if not isinstance(ref, str):
            raise Unsupported(f"reference {ref!r}")
        cell = self.refs.get(ref)
        if cell is None:
            cell = self.refs[ref] = []
            cell.append(self.schema(self._resolve(ref)))
        if cell:  # compiled: its check itself, one call less for every value it checks
            return cell[0]
        # Through the cell: a reference met while it is being compiled (a recursive one).
        return lambda v: cell[0](v)

    def _resolve(self, ref: str) -> Any:
        base = self.root.get("$id", "") if isinstance(self.root, dict) else ""
        if ref.startswith(base) and base:
            ref = ref[len(base):]
        if not ref.startswith("#"):
            raise Unsupported(f"reference {ref!r}")
        from urllib.parse import unquote

        node = self.root
        for part in filter(None, unquote(ref[1:]).split("/")):
            part = part.replace("~1", "/").replace("~0", "~")
            if isinstance(node, list) and part.isdigit():
                node = node[int(part)]
            elif isinstance(node, dict) and part in node:
                node = node[part]
            else:
                raise Unsupported(f"reference {ref!r}")
        return node

    def schema(self, schema: Any) -> Check:
        if schema is True:
            return lambda v: True
        if schema is False:
            return lambda v: False
        if not isinstance(schema, dict):
            raise Unsupported(f"a schema that is {type(schema).__name__}")
        if "$ref" in schema:  # draft 7: the siblings of $ref are ignored
            return self.ref(schema["$ref"])
        if schema is not self.root and "$id" in schema:
            raise Unsupported("a nested $id")
        checks: list[Check] = []
        if "type" in schema:
            checks.append(_type_check(schema["type"]))
        for key in schema:
            if key in _ANNOTATIONS or key == "type":
                continue
            if key not in DRAFT7_KEYWORDS:
                continue  # jsonschema ignores what it does not know
            if key in _OBJECT_KEYWORDS:
                continue  # compiled together below
            build = _KEYWORDS.get(key)
            if build is None:
                raise Unsupported(f"keyword {key!r}")
            checks.append(build(self, schema[key], schema))
        if any(k in schema for k in _OBJECT_KEYWORDS):
            checks.append(self._object(schema))
        if not checks:
            return lambda v: True
        if len(checks) == 1:
            return checks[0]
        if len(checks) == 2:
            a, b = checks
            return lambda v: a(v) and b(v)
        return lambda v: all(c(v) for c in checks)

    def _object(self, schema: dict[str, Any]) -> Check:
        """properties, additionalProperties, required, min/maxProperties, propertyNames and
        dependencies: one pass over the mapping's entries."""
        if "patternProperties" in schema:
            raise Unsupported("patternProperties")
        props = {k: self.schema(s) for k, s in schema.get("properties", {}).items()}
        extra = schema.get("additionalProperties", True)
        extra_check = None if extra is True else self.schema(extra)
        required = list(schema.get("required", []))
        low = schema.get("minProperties")
        high = schema.get("maxProperties")
        names = self.schema(schema["propertyNames"]) if "propertyNames" in schema else None
        deps: list[tuple[str, list[str] | None, Check | None]] = []
        for key, dep in schema.get("dependencies", {}).items():
            if isinstance(dep, list):
                deps.append((key, list(dep), None))
            else:
                deps.append((key, None, self.schema(dep)))

        if low is None and high is None and names is None and not deps:
            # The common mapping (properties, additionalProperties, required): only that.
            def plain(v: Any) -> bool:
                if not isinstance(v, dict):
                    return True
                for key in required:
                    if key not in v:
                        return False
                for key, item in v.items():
                    sub = props.get(key)
                    if sub is not None:
                        if not sub(item):
                            return False
                    elif extra_check is not None and not extra_check(item):
                        return False
                return True

            return plain

        def check(v: Any) -> bool:
            if not isinstance(v, dict):
                return True
            if low is not None and len(v) < low:
                return False
            if high is not None and len(v) > high:
                return False
            for key in required:
                if key not in v:
                    return False
            for key, item in v.items():
                sub = props.get(key)  # never None for a key of `props`
                if sub is not None:
                    if not sub(item):
                        return False
                elif extra_check is not None and not extra_check(item):
                    return False
                if names is not None and not names(key):
                    return False
            for key, needs, sub in deps:
                if key in v:
                    if needs is not None:
                        if any(each not in v for each in needs):
                            return False
                    elif sub is not None and not sub(v):
                        return False
            return True

        return check


def _items(c: _Compiler, items: Any, schema: dict[str, Any]) -> Check:
    if "additionalItems" in schema:
        raise Unsupported("additionalItems")
    if isinstance(items, list):
        each = [c.schema(s) for s in items]
        return lambda v: not isinstance(v, list) or all(
            t(x) for t, x in zip(each, v, strict=False))
    one = c.schema(items)
    return lambda v: not isinstance(v, list) or all(one(x) for x in v)


def _enum(c: _Compiler, enums: Any, schema: dict[str, Any]) -> Check:
    if not isinstance(enums, list):
        raise Unsupported("enum")
    if all(type(e) is str for e in enums):
        texts = frozenset(enums)
        return lambda v: type(v) is str and v in texts
    keys = _keys(enums)
    if keys is None:
        raise Unsupported("enum")
    allowed = frozenset(keys)
    return lambda v: (found := _keys((v,))) is not None and found[0] in allowed


def _const(c: _Compiler, const: Any, schema: dict[str, Any]) -> Check:
    keys = _keys((const,))
    if keys is None:
        raise Unsupported("const")
    return lambda v: _keys((v,)) == keys


def _pattern(c: _Compiler, pattern: Any, schema: dict[str, Any]) -> Check:
    search = re.compile(pattern).search
    return lambda v: not isinstance(v, str) or search(v) is not None


def _min_length(c: _Compiler, n: Any, schema: dict[str, Any]) -> Check:
    return lambda v: not isinstance(v, str) or len(v) >= n


def _max_length(c: _Compiler, n: Any, schema: dict[str, Any]) -> Check:
    return lambda v: not isinstance(v, str) or len(v) <= n


def _min_items(c: _Compiler, n: Any, schema: dict[str, Any]) -> Check:
    return lambda v: not isinstance(v, list) or len(v) >= n


def _minimum(c: _Compiler, n: Any, schema: dict[str, Any]) -> Check:
    return lambda v: not _is_number(v) or not v < n


def _unique(c: _Compiler, flag: Any, schema: dict[str, Any]) -> Check:
    if not flag:
        return lambda v: True

    def check(v: Any) -> bool:
        if not isinstance(v, list):
            return True
        if all(type(x) is str for x in v):
            return len(set(v)) == len(v)
        keys = _keys(v)
        return keys is not None and len(set(keys)) == len(keys)

    return check


def _any_of(c: _Compiler, subs: Any, schema: dict[str, Any]) -> Check:
    checks = [c.schema(s) for s in subs]
    return lambda v: any(t(v) for t in checks)


def _one_of(c: _Compiler, subs: Any, schema: dict[str, Any]) -> Check:
    checks = [c.schema(s) for s in subs]
    return lambda v: sum(1 for t in checks if t(v)) == 1


_KEYWORDS: dict[str, Callable[[_Compiler, Any, dict[str, Any]], Check]] = {
    "items": _items, "enum": _enum, "const": _const, "pattern": _pattern,
    "minLength": _min_length, "maxLength": _max_length, "minItems": _min_items,
    "minimum": _minimum, "uniqueItems": _unique, "anyOf": _any_of, "oneOf": _one_of,
}


def compile_schema(schema: Any) -> Check:
    """A predicate true exactly for the documents jsonschema's Draft7Validator finds no
    error in; Unsupported for a schema using what is not implemented here."""
    return _Compiler(schema).schema(schema)
