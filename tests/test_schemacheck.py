"""The compiled schema predicate (`schemacheck`) says "valid" exactly when jsonschema finds no
error: keyword by keyword on tricky values, and on thousands of seeded random documents
built from the changeset schema and from realistic changesets, then broken at random.
(conftest's autouse guard also compares both on every document any test checks.)"""

from __future__ import annotations

import copy
import importlib
import math
import random
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import record_calls
from jsonschema import Draft7Validator

from schemaflow.schemacheck import DRAFT7_KEYWORDS, Unsupported, compile_schema, decided
from schemaflow.source.yamlload import load_yaml

ROOT = Path(__file__).resolve().parent.parent
validate = importlib.import_module("schemaflow.validate")  # the module: `schemaflow.validate` is
# also the name of the API function

# Values where Python and JSON Schema disagree about sameness and type.
TRICKY: list[Any] = [
    None, True, False, 0, 1, -1, 1.0, 0.0, 1.5, math.nan, math.inf, -math.inf, "", "a", "1",
    "true", "a" * 130, "é", [], [1], [1, 1], [1, 1.0], [1, True], [0, False], [True, True],
    ["a", "a"], ["a", "b"], [[1], [1]], [[1], [True]], [{"a": 1}, {"a": 1}],
    [{"a": 1}, {"a": True}], [{"a": 1}, {"b": 1}], [1, math.nan, 1], [math.nan, math.nan],
    [None, None], ["1", 1], {}, {"a": 1}, {"a": None}, {"b": 1}, {"a": 1, "b": 2},
    {"a": "x", "c": 3}, {1: "int key"}, {None: 1}, {"a": [1, 2]}, {"a": {"a": {}}},
]

SCHEMAS: list[Any] = [
    True, False, {}, {"type": "integer"}, {"type": "number"}, {"type": "string"},
    {"type": "boolean"}, {"type": "null"}, {"type": "array"}, {"type": "object"},
    {"type": ["string", "null"]}, {"type": ["integer", "boolean"]}, {"const": 1},
    {"const": True}, {"const": [1]}, {"const": {"a": 1}}, {"const": None}, {"const": "1"},
    {"enum": ["a", "b"]}, {"enum": [1, "a", None]}, {"enum": [True]}, {"enum": [[1], {}]},
    {"uniqueItems": True}, {"uniqueItems": False}, {"minItems": 1}, {"minLength": 1},
    {"maxLength": 3}, {"minimum": 1}, {"pattern": "^[a-z]+$"}, {"pattern": "1"},
    {"items": {"type": "integer"}}, {"items": [{"type": "integer"}, {"type": "string"}]},
    {"items": False}, {"properties": {"a": {"type": "integer"}}},
    {"properties": {"a": {"type": "integer"}}, "additionalProperties": False},
    {"additionalProperties": {"type": "integer"}}, {"required": ["a"]},
    {"required": ["a", "b"]}, {"minProperties": 1}, {"maxProperties": 1},
    {"propertyNames": {"pattern": "^a"}}, {"propertyNames": {"type": "string"}},
    {"dependencies": {"a": ["b"]}}, {"dependencies": {"a": {"required": ["c"]}}},
    {"anyOf": [{"type": "integer"}, {"type": "string"}]},
    {"oneOf": [{"type": "integer"}, {"type": "number"}]},
    {"oneOf": [{"type": "string"}, {"type": "array"}]},
    {"$ref": "#/definitions/x", "type": "string", "definitions": {"x": {"type": "integer"}}},
    {"definitions": {"node": {"type": "object", "properties": {"a": {"$ref": "#/definitions/node"}},
                              "additionalProperties": False}}, "$ref": "#/definitions/node"},
    {"type": "object", "title": "t", "description": "d", "default": 3, "unknownWord": 1},
]


def agree(schema: Any, doc: Any) -> tuple[bool, bool]:
    return compile_schema(schema)(doc), Draft7Validator(schema).is_valid(doc)


def test_every_draft7_keyword_is_known() -> None:
    assert set(Draft7Validator.VALIDATORS) == DRAFT7_KEYWORDS


@pytest.mark.parametrize("schema", SCHEMAS, ids=repr)
def test_each_keyword_agrees_with_jsonschema(schema: Any) -> None:
    for value in TRICKY:
        fast, slow = agree(schema, value)
        # Never more lenient than jsonschema; stricter only where equality is undecided.
        assert fast == slow or (slow and not decided(value)), (schema, value)


@pytest.mark.parametrize("schema", [
    {"format": "date"}, {"if": {}, "then": {}}, {"not": {}}, {"patternProperties": {"a": {}}},
    {"additionalItems": False, "items": [{}]}, {"$ref": "other.json#/x"},
    {"$ref": "#/definitions/missing"}, {"type": "thing"}, {"type": []}, {"maximum": 1},
    {"properties": {"a": {"$id": "inner", "type": "string"}}}, {"contains": {}},
])
def test_what_is_not_compiled_is_refused(schema: Any) -> None:
    with pytest.raises(Unsupported):
        compile_schema(schema)


# --- seeded random documents ------------------------------------------------------------------

SCHEMA = validate.load_schema("changeset.schema.json")
STRINGS = ["users", "t1", "id", "c_1", "", "SF101", "a b", "1x", "x" * 70, "lower(name)",
           "users.id", "sqlite", "cascade", "asc", "nulls", "é", "integer", "varchar(20)",
           "always", "by default", "%"]
ANY_VALUE: list[Any] = [None, True, False, 0, 1, -3, 2.5, "x", "", [], {}, ["x"], {"x": 1},
                        [1, 1], ["a", "a"], "x" * 200]


def _resolve(schema: Any) -> Any:
    while isinstance(schema, dict) and "$ref" in schema:
        node = SCHEMA
        for part in schema["$ref"].split("#", 1)[1].strip("/").split("/"):
            node = node[part]
        schema = node
    return schema


def _generate(schema: Any, rnd: random.Random, depth: int = 0) -> Any:
    """A value meant to satisfy `schema` most of the time (not always: both verdicts are
    wanted)."""
    schema = _resolve(schema)
    if not isinstance(schema, dict) or depth > 8:
        return rnd.choice(ANY_VALUE)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return rnd.choice(schema["enum"])
    for key in ("oneOf", "anyOf"):
        if key in schema and "type" not in schema and "properties" not in schema:
            return _generate(rnd.choice(schema[key]), rnd, depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = rnd.choice(kind)
    if kind == "object" or "properties" in schema:
        props = schema.get("properties", {})
        out = {}
        for name, sub in props.items():
            if name in schema.get("required", []) or rnd.random() < 0.25:
                out[name] = _generate(sub, rnd, depth + 1)
        if "minProperties" in schema and not out and props:
            name = rnd.choice(list(props))
            out[name] = _generate(props[name], rnd, depth + 1)
        return out
    if kind == "array" or "items" in schema:
        items = schema.get("items", {})
        n = rnd.choice([0, 1, 1, 2, 3])
        if isinstance(items, list):
            return [_generate(s, rnd, depth + 1) for s in items[:n]]
        return [_generate(items, rnd, depth + 1) for _ in range(n)]
    if kind == "string":
        return rnd.choice(STRINGS)
    if kind == "integer":
        return rnd.choice([0, 1, 2, 30, -1])
    if kind == "number":
        return rnd.choice([0, 1.5, -2])
    if kind == "boolean":
        return rnd.choice([True, False])
    if kind == "null":
        return None
    return rnd.choice(ANY_VALUE + STRINGS)


def _nodes(doc: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [path]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _nodes(v, (*path, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _nodes(v, (*path, i))
    return out


def _mutate(doc: Any, rnd: random.Random) -> Any:
    """`doc` with one random change: a value replaced, a key dropped or added, a list item
    repeated."""
    doc = copy.deepcopy(doc)
    path = rnd.choice(_nodes(doc))
    if not path:
        return rnd.choice(ANY_VALUE) if rnd.random() < 0.1 else doc
    parent = doc
    for step in path[:-1]:
        parent = parent[step]
    last = path[-1]
    action = rnd.random()
    if action < 0.5:
        parent[last] = rnd.choice(ANY_VALUE + STRINGS + [1.0, True, 2])
    elif action < 0.65 and isinstance(parent, dict):
        del parent[last]
    elif action < 0.8 and isinstance(parent, dict):
        parent[rnd.choice(["bogus", "name", "type", "columns", "1"])] = rnd.choice(ANY_VALUE)
    elif isinstance(parent, list):
        parent.append(copy.deepcopy(parent[last]))
    else:
        parent[last] = _generate({}, rnd)
    return doc


def _workload_docs(n: int) -> list[Any]:
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import workload  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(ROOT / "bench"))
    w = workload.generate(n)
    return [load_yaml(workload.changeset_yaml(cs)) for cs in w.changesets]


def test_random_documents_agree_with_jsonschema() -> None:
    rnd = random.Random(15)
    fast = compile_schema(SCHEMA)
    slow = Draft7Validator(SCHEMA)
    seeds = _workload_docs(150)
    demo = [load_yaml(p.read_text()) for p in sorted((ROOT / "changesets").glob("*.yaml"))]
    verdicts = {True: 0, False: 0}
    for i in range(3000):
        doc = _generate(SCHEMA, rnd) if i % 3 == 0 else rnd.choice(seeds + demo)
        for _ in range(rnd.choice([0, 1, 1, 2, 3])):
            doc = _mutate(doc, rnd)
        expected = slow.is_valid(doc)
        assert fast(doc) == expected or (expected and not decided(doc)), doc
        verdicts[expected] += 1
    assert verdicts[True] > 500 and verdicts[False] > 500, verdicts


def test_a_valid_document_skips_jsonschema_and_an_invalid_one_is_explained(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from schemaflow.source import SourceFile

    text = (ROOT / "changesets" / "4b7e2a9c1d30_create_users.yaml").read_text()
    good = SourceFile("c.yaml", text, "yaml", load_yaml(text))
    bad = SourceFile("c.yaml", text, "yaml", {**load_yaml(text), "bogus": 1})
    calls = record_calls(monkeypatch, validate, "_validator")
    # The predicate itself, not conftest's guard (which runs jsonschema on every document).
    monkeypatch.setattr(validate, "fast_check", lambda name: compile_schema(SCHEMA))
    assert validate.check_document(good) == []
    assert calls == []
    [diag] = validate.check_document(bad)
    assert calls == [("changeset.schema.json",)] and diag.code == "SF003"
