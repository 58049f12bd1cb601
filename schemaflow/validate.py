"""The JSON Schema check of changeset documents, turned into Diagnostics with positions."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .errors import Diagnostic
from .source import DocPath, SourceFile

# `import schemaflow` imports this module (see __init__): what only a failing document needs
# (yaml, difflib, importlib.resources) is imported where it is used.

SCHEMA_FILES = ("changeset.schema.json", "config.schema.json")


def schema_path(name: str) -> Path:
    """The packaged JSON Schema, or the repository's copy in a development checkout."""
    from importlib import resources

    packaged = resources.files("schemaflow").joinpath("schemas", name)
    if packaged.is_file():
        return Path(str(packaged))
    return Path(__file__).resolve().parent.parent / "schemas" / name


@functools.cache
def load_schema(name: str) -> Any:
    """A JSON Schema document (read once per process; it never changes while running)."""
    return json.loads(schema_path(name).read_text(encoding="utf-8"))


@functools.cache
def _validator(name: str) -> Any:
    # One compiled validator, reused: a fresh validate() per file is ~30x slower.
    from jsonschema import Draft7Validator

    return Draft7Validator(load_schema(name))


@functools.cache
def fast_check(name: str) -> Callable[[Any], bool] | None:
    """The schema compiled into one predicate (`schemacheck`), true exactly when jsonschema
    finds no error; None when the schema uses what the compiler does not implement."""
    from .schemacheck import Unsupported, compile_schema

    try:
        return compile_schema(load_schema(name))
    except Unsupported:
        return None


def describe_path(path: DocPath) -> str:
    """`operations[2].create_table.columns[0]` for a document path."""
    out = ""
    for step in path:
        out += f"[{step}]" if isinstance(step, int) else (f".{step}" if out else step)
    return out or "the document"


def _kind_of(path: DocPath) -> str:
    """What the object at `path` is, in words, for messages."""
    strs = [s for s in path if isinstance(s, str)]
    if not strs:
        return "the changeset"
    last = strs[-1]
    if last in ("operations", "rollback") and isinstance(path[-1], int):
        return "an operation"
    if last == "columns" and isinstance(path[-1], int) and len(strs) >= 2:
        return "a column"
    if last == "column":
        return "a column"
    return f"'{last}'"


def _type_words(t: Any) -> str:
    names = {"string": "a string", "integer": "a whole number", "number": "a number",
             "boolean": "true or false", "array": "a list", "object": "a mapping",
             "null": "null"}
    if isinstance(t, list):
        return " or ".join(names.get(x, str(x)) for x in t)
    return names.get(t, str(t))


def _value_words(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "null"
    if isinstance(v, dict):
        return "a mapping"
    if isinstance(v, list):
        return "a list"
    from .source.yamlload import excerpt

    return excerpt(v) if isinstance(v, str) else excerpt(repr(v))[1:-1]


def _value_kind(v: Any) -> str:
    """What a value is, in words, without any of its content."""
    if isinstance(v, str):
        return "text"
    if v is None:
        return "nothing"
    return _value_words(v) if isinstance(v, (list, dict)) else "a single value"


def _key_words(key: Any) -> str:
    """A key as a message quotes it: whole when short, else a short escaped excerpt."""
    text = str(key)
    if len(text) <= 60 and text.isprintable():
        return text
    from .source.yamlload import excerpt

    return excerpt(text, 40)[1:-1]


def _messages(err: Any) -> list[tuple[DocPath, str, str | None]]:
    """(path, message, hint) triples for one jsonschema error."""
    path: list[str | int] = list(err.absolute_path)
    where = describe_path(path)
    v = err.validator
    if v == "additionalProperties":
        import difflib

        allowed = list(err.schema.get("properties", {}))
        out: list[tuple[DocPath, str, str | None]] = []
        for key in err.instance:
            if key in allowed:
                continue
            what = "operation" if _kind_of(path) == "an operation" else "key"
            close = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.6)
            msg = f"unknown {what} '{_key_words(key)}'"
            if close:
                msg += f" — did you mean '{close[0]}'?"
            elif what == "key":
                msg += f" in {_kind_of(path)}"
            hint = None if close else f"allowed: {', '.join(allowed)}"
            out.append(([*path, key], msg, hint))
        return out
    if v == "required":
        # jsonschema reports each missing key as an error of its own, all alike: one message
        # names them all (the copies are dropped by the caller).
        missing = [k for k in err.validator_value if k not in err.instance]
        named = ", ".join(f"'{k}'" for k in missing or err.validator_value[:1])
        return [(path, f"{_kind_of(path)} is missing the required "
                 f"key{'s' if len(missing) > 1 else ''} {named}", None)]
    if v == "type":
        quote = None
        if err.validator_value == "string" and isinstance(err.instance, (int, float)):
            quote = "write it in quotes (in TOML an unquoted number is a number)"
        return [(path, f"{where} must be {_type_words(err.validator_value)}, "
                 f"not {_value_words(err.instance)}", quote)]
    if v == "enum":
        choices = ", ".join(str(x) for x in err.validator_value)
        return [(path, f"{where} must be one of {choices}, not {_value_words(err.instance)}",
                 None)]
    if v == "const":
        return [(path, f"{where} must be {err.validator_value!r}", None)]
    if v in ("minProperties", "maxProperties") and _kind_of(path) == "an operation":
        return [(path, "an operation is a mapping with exactly one key, the operation's name "
                 f"(found {len(err.instance)})", None)]
    if v == "minItems" or (v == "minProperties" and err.validator_value == 1):
        return [(path, f"{where} must not be empty", None)]
    if v == "uniqueItems":
        return [(path, f"{where} lists the same item twice", None)]
    if v == "pattern":
        desc = err.schema.get("description", "")
        return [(path, f"{where}: {_value_words(err.instance)} is not valid", desc or None)]
    if v in ("minLength", "maxLength"):
        if err.validator_value == 1 and v == "minLength":
            return [(path, f"{where} must not be empty", None)]
        bound = "at least" if v == "minLength" else "at most"
        return [(path, f"{where} must be {bound} {err.validator_value} characters long", None)]
    if v == "anyOf" and isinstance(err.instance, dict):
        keys = sorted({k for s in err.validator_value for k in s.get("required", [])
                       if k not in err.instance})
        return [(path, f"{where} needs one of: {', '.join(keys)}", None)]
    if v == "dependencies" and isinstance(err.instance, dict):
        needs = [(k, [d for d in need if d not in err.instance])
                 for k, need in err.validator_value.items() if k in err.instance]
        for key, missing in needs:
            if missing:
                return [([*path, key], f"{where}: '{key}' goes with "
                         f"{', '.join(repr(m) for m in missing)}", None)]
    # jsonschema's own message quotes the whole value: never that (it may be anything).
    return [(path, f"{where}: {_value_words(err.instance)} is not valid here ({v})", None)]


def _not_a_changeset(src: SourceFile) -> Diagnostic | None:
    """One diagnostic for a file that is no changeset at all (a stray file, a secret behind a
    symbolic link): it says what the file is, never what it holds, not even its keys."""
    if isinstance(src.doc, dict) and "schemaflow" in src.doc:
        return None
    what = ("a mapping without the key 'schemaflow'" if isinstance(src.doc, dict)
            else _value_kind(src.doc))
    return Diagnostic(code="SF002", file=src.path, line=1, col=1,
                      message=f"the file is not a changeset: it holds {what}",
                      hint="a changeset is a mapping that starts with `schemaflow: 1`, then "
                           "id, parents, message and operations")


def check_document(src: SourceFile, schema: str = "changeset.schema.json") -> list[Diagnostic]:
    """Every schema violation of one loaded document, positioned and in file order."""
    if schema == "changeset.schema.json":
        stray = _not_a_changeset(src)
        if stray:
            return [stray]
    # Nearly every document is valid: the compiled predicate says so ~20x faster than
    # jsonschema, which only runs to explain a document the predicate refuses. (A predicate
    # stricter than jsonschema would only cost time: the messages come from jsonschema.)
    fast = fast_check(schema)
    if fast is not None and fast(src.doc):
        return []
    validator = _validator(schema)
    from .source.positions import locate

    diags: list[tuple[int, int, Diagnostic]] = []
    seen: set[tuple[str, str]] = set()
    for err in validator.iter_errors(src.doc):
        # By the kind of error, so that rewording a message never changes its code.
        code = "SF003" if err.validator == "additionalProperties" else "SF002"
        for path, msg, hint in _messages(err):
            if (repr(path), msg) in seen:
                continue
            seen.add((repr(path), msg))
            line, col = locate(src, path)
            diags.append((line or 0, col or 0, Diagnostic(
                code=code, message=msg, file=src.path, line=line, col=col, hint=hint)))
    diags.sort(key=lambda t: (t[0], t[1]))
    return [d for _, _, d in diags]
