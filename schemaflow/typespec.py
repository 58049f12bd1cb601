"""Column types as written in changesets (`string(50)`, `enum(a,b, name=x)`), parsed and dumped."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

GENERIC_TYPES = (
    "integer",
    "bigint",
    "smallint",
    "string",
    "char",
    "text",
    "boolean",
    "date",
    "datetime",
    "time",
    "float",
    "numeric",
    "json",
    "uuid",
    "binary",
    "varbinary",
    "enum",
    "array",
    "sql",
)
# The generic integer types: what a key the database numbers (SERIAL, AUTO_INCREMENT) can be.
INTEGER_TYPES = frozenset({"smallint", "integer", "bigint"})
ALIASES = {"varchar": "string", "int": "integer", "bool": "boolean", "timestamp": "datetime"}
DIALECT_PREFIXES = ("postgresql", "mysql", "sqlite")
# Names users bring from SQL and other tools, and the type schemaflow spells them with (the
# spelling is not close enough for difflib to find: `decimal` is nothing like `numeric`).
SUGGESTIONS = {
    "decimal": "numeric", "number": "numeric", "money": "numeric",
    "double": "float", "real": "float", "float8": "float", "float4": "float",
    "int2": "smallint", "int4": "integer", "int8": "bigint", "tinyint": "smallint",
    "mediumint": "integer", "serial": "integer", "bigserial": "bigint",
    "smallserial": "smallint", "timestamptz": "datetime(timezone=true)",
    "datetime2": "datetime", "timetz": "time(timezone=true)", "character": "char",
    "nvarchar": "string", "nchar": "char", "bytea": "binary", "blob": "binary",
    "varbinary": "binary", "longtext": "text", "mediumtext": "text", "clob": "text",
    "jsonb": "postgresql.jsonb", "bit": "boolean",
}

_TYPE_RE = re.compile(
    r"^\s*([A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z][A-Za-z0-9_]*)?)\s*(?:\((.*)\))?\s*$")

Arg = int | str


class TypeSyntaxError(ValueError):
    """A type string that does not follow the type grammar."""


@dataclass(frozen=True, slots=True)
class TypeSpec:
    """A parsed column type: a name, positional arguments and keyword arguments."""

    name: str
    args: tuple[Arg, ...] = ()
    kwargs: tuple[tuple[str, str], ...] = ()

    @property
    def dialect(self) -> str | None:
        """The dialect of a dialect-specific type (`postgresql.jsonb` → `postgresql`)."""
        return self.name.split(".", 1)[0] if "." in self.name else None

    def kwarg(self, key: str, default: str | None = None) -> str | None:
        """One keyword argument's value."""
        for k, v in self.kwargs:
            if k == key:
                return v
        return default

    def __str__(self) -> str:
        return dump_type(self)


def _split_args(text: str) -> list[str]:
    """Split on commas outside quotes."""
    parts: list[str] = []
    buf: list[str] = []
    quote: str | None = None
    depth = 0
    for ch in text:
        if quote:
            buf.append(ch)
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
            buf.append(ch)
        elif ch in "()":  # an array's element type has arguments of its own
            depth += 1 if ch == "(" else -1
            buf.append(ch)
        elif ch == "," and depth == 0:
            parts.append("".join(buf).strip())
            buf = []
        else:
            buf.append(ch)
    if quote:
        raise TypeSyntaxError("unterminated quote")
    parts.append("".join(buf).strip())
    return parts


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text


def parse_type(text: str) -> TypeSpec:
    """Parse a type string; raise TypeSyntaxError with a readable reason."""
    m = _TYPE_RE.match(text)
    if not m:
        raise TypeSyntaxError(f"'{text}' is not a type (expected e.g. integer, string(50))")
    name = m.group(1).lower()
    name = ALIASES.get(name, name)
    if "." in name:
        prefix = name.split(".", 1)[0]
        if prefix not in DIALECT_PREFIXES:
            raise TypeSyntaxError(
                f"unknown dialect '{prefix}' in type '{text}' "
                f"(dialect types are {', '.join(p + '.NAME' for p in DIALECT_PREFIXES)})"
            )
    elif name not in GENERIC_TYPES:
        close = [SUGGESTIONS[name]] if name in SUGGESTIONS else difflib.get_close_matches(
            name, [*GENERIC_TYPES, *ALIASES], n=1)
        hint = f" — did you mean '{close[0]}'?" if close else ""
        raise TypeSyntaxError(f"unknown type '{m.group(1)}'{hint}")
    args: list[Arg] = []
    kwargs: list[tuple[str, str]] = []
    inner = m.group(2)
    if inner is not None and inner.strip():
        for part in _split_args(inner):
            if not part:
                raise TypeSyntaxError(f"empty argument in type '{text}'")
            key, eq, value = part.partition("=")
            if eq and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key.strip()):
                kw = key.strip().lower()
                kw_value = _unquote(value.strip())
                # Flags are spelled as in YAML (true/false), whatever case was typed.
                kwargs.append((kw, kw_value.lower() if kw in _FLAGS else kw_value))
            elif kwargs:
                raise TypeSyntaxError(f"positional argument after keyword in type '{text}'")
            elif re.fullmatch(r"-?\d+", part):
                args.append(int(part))
            else:
                args.append(_unquote(part))
    if name == "sql":
        if len(args) != 1 or not str(args[0]).strip():
            raise TypeSyntaxError(f"sql takes the type as SQL, as in sql(VECTOR(1536)): "
                                  f"'{text}'")
        return TypeSpec(name, (str(args[0]).strip(),))
    if name == "array" and args:
        # The element type, in its one spelling (array(VARCHAR(5)) is array(string(5))).
        element = parse_type(str(args[0]))
        if element.name == "array":
            raise TypeSyntaxError(f"an array of arrays is one array with dimensions=N: '{text}'")
        if element.name == "enum":
            raise TypeSyntaxError(f"arrays of enums are not supported yet: '{text}'")
        args[0] = dump_type(element)
    if name == "binary":  # variable length is the default: one spelling
        kwargs = [kv for kv in kwargs if kv != ("fixed", "false")]
    spec = TypeSpec(name, tuple(args), tuple(kwargs))
    _check_arity(spec, text)
    return spec


_ARITY: dict[str, tuple[int, int]] = {
    "integer": (0, 0),
    "bigint": (0, 0),
    "smallint": (0, 0),
    "string": (0, 1),
    "char": (0, 1),
    "text": (0, 1),
    "boolean": (0, 0),
    "date": (0, 0),
    "datetime": (0, 1),
    "time": (0, 1),
    "float": (0, 1),
    "numeric": (0, 2),
    "json": (0, 0),
    "uuid": (0, 0),
    "binary": (0, 1),
    "varbinary": (1, 1),
}
_FLAGS = ("timezone", "native", "fixed")
_KWARGS: dict[str, tuple[str, ...]] = {
    "datetime": ("timezone",),
    "time": ("timezone",),
    "enum": ("name", "native", "length"),
    "array": ("dimensions",),
    "binary": ("fixed",),
}


def _check_arity(spec: TypeSpec, text: str) -> None:
    if spec.dialect:
        return
    if spec.name == "array":
        if len(spec.args) != 1:
            raise TypeSyntaxError(f"array takes its element type, as in array(text): '{text}'")
        dims = spec.kwarg("dimensions")
        if dims is not None and not (dims.isdigit() and int(dims) >= 1):
            raise TypeSyntaxError(f"dimensions must be a whole number from 1: '{text}'")
    elif spec.name == "enum":
        if not spec.args:
            raise TypeSyntaxError(f"enum needs at least one value, as in enum(a,b): '{text}'")
        if len(set(spec.args)) != len(spec.args):
            raise TypeSyntaxError(f"enum has a repeated value: '{text}'")
        _check_enum_options(spec, text)
    else:
        lo, hi = _ARITY[spec.name]
        if not lo <= len(spec.args) <= hi:
            raise TypeSyntaxError(
                f"{spec.name} takes {'no' if hi == 0 else f'at most {hi}'} "
                f"argument{'s' if hi != 1 else ''}: '{text}'"
            )
        if any(not isinstance(a, int) or a < 0 for a in spec.args):
            raise TypeSyntaxError(f"{spec.name} takes whole-number arguments: '{text}'")
        if spec.name in ("datetime", "time") and spec.args and int(spec.args[0]) > 6:
            raise TypeSyntaxError(f"{spec.name} keeps at most 6 fractional-second digits: "
                                  f"'{text}'")
    allowed = _KWARGS.get(spec.name, ())
    for key, value in spec.kwargs:
        if key not in allowed:
            raise TypeSyntaxError(f"{spec.name} has no option '{key}': '{text}'")
        if key in _FLAGS and value.lower() not in ("true", "false"):
            raise TypeSyntaxError(f"{key} must be true or false: '{text}'")

    if spec.name == "binary" and spec.kwarg("fixed") == "true" and not spec.args:
        raise TypeSyntaxError(f"a fixed-length binary has a length, as in "
                              f"binary(16, fixed=true): '{text}'")


def _check_enum_options(spec: TypeSpec, text: str) -> None:
    """A non-native enum is a VARCHAR: no type name, and a length that holds every value."""
    if is_native_enum(spec):
        if spec.kwarg("length") is not None:
            raise TypeSyntaxError(f"length is for a non-native enum (native=false): '{text}'")
        return
    if spec.kwarg("name") is not None:
        raise TypeSyntaxError("a non-native enum (native=false) has no type name (its CHECK, "
                              f"if any, is one of the table's checks): '{text}'")
    length = spec.kwarg("length")
    longest = max(len(str(a)) for a in spec.args)
    if length is not None and not (length.isdigit() and int(length) >= longest):
        raise TypeSyntaxError(f"length must be a whole number that holds the longest value "
                              f"({longest}): '{text}'")


def is_native_enum(spec: TypeSpec) -> bool:
    """Whether `spec` is an enum the database holds as a type of its own where it has one
    (PostgreSQL's CREATE TYPE, MySQL's ENUM); `native=false` makes it a VARCHAR everywhere."""
    return spec.name == "enum" and spec.kwarg("native", "true") != "false"


def enum_name(spec: TypeSpec, table: str, column: str) -> str:
    """A native enum's type name where enums are types of their own (PostgreSQL): the one
    given, else `<table>_<column>_enum`."""
    return spec.kwarg("name") or f"{table}_{column}_enum"


def stored_as(spec: TypeSpec) -> TypeSpec:
    """The type a database holds for `spec`: a non-native enum is a VARCHAR as long as its
    `length`, else as its longest value; every other type is itself."""
    if spec.name != "enum" or is_native_enum(spec):
        return spec
    length = spec.kwarg("length")
    return TypeSpec("string", (int(length) if length else max(len(str(a)) for a in spec.args),))


def _dump_arg(arg: Arg) -> str:
    if isinstance(arg, int):
        return str(arg)
    if re.fullmatch(r"[A-Za-z0-9_.\-]+", arg) and not re.fullmatch(r"-?\d+", arg):
        return arg
    quote = '"' if "'" in arg else "'"
    return quote + arg + quote


def dump_type(spec: TypeSpec) -> str:
    """The canonical string of a type; `parse_type(dump_type(t)) == t`."""
    if spec.name == "sql":  # as written where that reads back the same, else quoted
        raw = f"sql({spec.args[0]})"
        try:
            if parse_type(raw) == spec:
                return raw
        except TypeSyntaxError:
            pass
        return f"sql({_dump_arg(spec.args[0])})"
    parts = [str(a) if spec.name == "array" else _dump_arg(a) for a in spec.args]
    parts += [f"{k}={v}" for k, v in spec.kwargs]
    return f"{spec.name}({','.join(parts)})" if parts else spec.name


# Time types with a number of fractional digits of a second, and the keyword giving it (None:
# the first argument); a type written as SQL gives it as TIMESTAMP(n) or DATETIME(n).
_FRACTIONS = {"datetime": None, "mysql.datetime": "fsp", "mysql.timestamp": "fsp"}
_SQL_FRACTION = re.compile(r"\s*(?:TIMESTAMP|DATETIME)\s*\(\s*(\d+)\s*\)\s*", re.IGNORECASE)


def fraction_digits(spec: TypeSpec) -> int:
    """How many fractional digits of a second a time type keeps (0: none or unknown)."""
    if spec.name == "sql" and spec.args:  # (a model's TIMESTAMP(3) on MySQL, as written)
        m = _SQL_FRACTION.fullmatch(str(spec.args[0]))
        return int(m.group(1)) if m else 0
    if spec.name not in _FRACTIONS:
        return 0
    key = _FRACTIONS[spec.name]
    given = spec.kwarg(key) if key else (spec.args[0] if spec.args else None)
    return int(given) if isinstance(given, int) or (
        isinstance(given, str) and given.isdigit()) else 0
