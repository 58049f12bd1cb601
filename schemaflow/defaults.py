"""Literal column defaults checked against the column's type (SF120): `{type: integer, default:
abc}` is refused by validate, not by the database at deploy time (and SQLite, which would
store it, never refuses it). SQL expressions (`default_sql`) are the database's business and
are not checked; nor are dialect types (`postgresql.jsonb`), whose literals only the
database knows."""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal, InvalidOperation

from . import ir
from .state import SchemaState
from .typespec import TypeSpec

Value = str | int | float | bool

_WHOLE = re.compile(r"[+-]?\d+")
HINT = "give a value of the column's type, or default_sql for an SQL expression"


def _number(value: Value) -> Decimal | None:
    """A default as a finite number (a number, or text that is one); None otherwise."""
    if isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value).strip()) if isinstance(value, str) else Decimal(value)
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def _whole(value: Value) -> bool:
    """Whether `value` is a whole number, or text that is one (not a boolean)."""
    text = value.strip() if isinstance(value, str) else value
    return not isinstance(value, bool) and (
        isinstance(text, int) or (isinstance(text, str) and _WHOLE.fullmatch(text) is not None))


def _integer(spec: TypeSpec, value: Value) -> str | None:
    if not _whole(value):
        return "is not a whole number"
    text = value.strip() if isinstance(value, str) else value
    # What no database stores in any integer column (64 bits); the range of each type on each
    # database (SQLite keeps 64 bits in a smallint) is SF333's, with the target database.
    if not -(2**63) <= int(text) < 2**63:
        return "is out of the range of a 64-bit integer"
    return None


def _float(spec: TypeSpec, value: Value) -> str | None:
    # Infinity and NaN too: a bare `inf` is no SQL literal.
    return None if _number(value) is not None else "is not a number"


def _numeric(spec: TypeSpec, value: Value) -> str | None:
    number = _number(value)
    if number is None:
        return "is not a number"
    if spec.args:
        precision = int(spec.args[0])
        scale = int(spec.args[1]) if len(spec.args) > 1 else 0
        digits = len(str(abs(int(number)))) if abs(number) >= 1 else 0
        if digits > precision - scale:
            return (f"has {digits} digits before the point; {spec} holds at most "
                    f"{precision - scale}")
    return None


def _boolean(spec: TypeSpec, value: Value) -> str | None:
    return None if isinstance(value, bool) else "is not true or false"


def _parsed(parse: Callable[[str], object], what: str) -> Callable[[TypeSpec, Value], str | None]:
    def check(spec: TypeSpec, value: Value) -> str | None:
        if not isinstance(value, str):
            return f"is not {what}"
        try:
            parse(value.strip())
        except ValueError:
            return f"is not {what}"
        return None

    return check


def _datetime_text(text: str) -> object:
    if not re.match(r"\d{4}-\d{2}-\d{2}", text):  # fromisoformat also takes 20240115
        raise ValueError(text)
    return dt.datetime.fromisoformat(text)


def _datetime(spec: TypeSpec, value: Value) -> str | None:
    why = _parsed(_datetime_text, "a date and time (YYYY-MM-DD HH:MM:SS)")(spec, value)
    if why is None and spec.kwarg("timezone") != "true" and isinstance(value, str) and (
            dt.datetime.fromisoformat(value.strip()).tzinfo is not None):
        # PostgreSQL would drop it silently, MySQL and MariaDB refuse it.
        return "has a time zone offset; a datetime without timezone=true holds none"
    return why


def _date_text(text: str) -> object:
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        raise ValueError(text)
    return dt.date.fromisoformat(text)


def _string(spec: TypeSpec, value: Value) -> str | None:
    length = int(spec.args[0]) if spec.args and spec.name != "text" else None
    if length is not None and isinstance(value, str) and len(value) > length:
        return f"is {len(value)} characters long; {spec} holds at most {length}"
    return None


def _enum(spec: TypeSpec, value: Value) -> str | None:
    allowed = [str(a) for a in spec.args]
    if isinstance(value, str) and value in allowed:
        return None
    return f"is not one of the enum's values ({', '.join(allowed)})"


def _json(spec: TypeSpec, value: Value) -> str | None:
    if not isinstance(value, str):
        return "is not JSON text (write the JSON as a string, as in default: '{}')"
    try:
        json.loads(value)
    except ValueError:
        return "is not valid JSON"
    return None


_CHECKS: dict[str, Callable[[TypeSpec, Value], str | None]] = {
    "integer": _integer, "bigint": _integer, "smallint": _integer,
    "float": _float, "numeric": _numeric, "boolean": _boolean,
    "date": _parsed(_date_text, "a date (YYYY-MM-DD)"),
    "datetime": _datetime,
    "time": _parsed(dt.time.fromisoformat, "a time (HH:MM:SS)"),
    "uuid": _parsed(uuid.UUID, "a UUID"),
    "string": _string, "char": _string, "text": _string,
    "enum": _enum, "json": _json,
}


def problem(spec: TypeSpec, value: Value) -> str | None:
    """Why `value` cannot be the literal default of a column of type `spec` (None: it can,
    or only the database can tell)."""
    check = None if spec.dialect else _CHECKS.get(spec.name)
    return check(spec, value) if check else None


def _row_number(spec: TypeSpec, value: Value) -> str | None:
    # What SQLAlchemy's Float and Numeric take (a string is converted by float()).
    try:
        float(value)
    except ValueError:
        return "is not a number"
    return None


def _row_boolean(spec: TypeSpec, value: Value) -> str | None:
    # SQLAlchemy's Boolean takes true, false, 1 and 0, and raises on anything else.
    return None if value in (True, False) and not isinstance(value, str) else (
        "is not true or false")


def _row_integer(spec: TypeSpec, value: Value) -> str | None:
    # Its range on each database is SF333's (the target database's), as a default's is.
    return None if _whole(value) else "is not a whole number"


# A row's string is checked by the target database's length (SF333), a json column's
# value is any JSON value (a string is a JSON string): those types have no row check.
_ROW_CHECKS: dict[str, Callable[[TypeSpec, Value], str | None]] = {
    **{name: check for name, check in _CHECKS.items()
       if name not in ("string", "char", "text", "json")},
    "integer": _row_integer, "bigint": _row_integer, "smallint": _row_integer,
    "float": _row_number, "numeric": _row_number, "boolean": _row_boolean,
    "array": lambda spec, value: "is not a list (an array column's value is the list of "
                                 "its elements)"}


def row_problem(spec: TypeSpec, value: Value) -> str | None:
    """Why `value` cannot be a row's value in a column of type `spec` (None: it can, or only
    the database can tell): what the type's driver conversion would raise on (a traceback),
    or a database would refuse or change (a time zone offset PostgreSQL drops)."""
    check = None if spec.dialect else _ROW_CHECKS.get(spec.name)
    return check(spec, value) if check else None


Finding = tuple[tuple[str | int, ...], str]  # (path inside the operation, message)


def findings(op: ir.Operation, before: SchemaState,
             here: Callable[[ir.Column], ir.Column] | None = None) -> Iterator[Finding]:
    """Each literal default of `op` that does not fit its column's type, with where it is
    written (a path below the operation's kind) and what is wrong. `here`: a column as the
    target database builds it (its variant there), for a column `op` does not give."""
    if isinstance(op, ir.CreateTable):
        for j, c in enumerate(op.columns):
            yield from _column(op.name, c, ("columns", j, "default"))
    elif isinstance(op, ir.AddColumn):
        yield from _column(op.table, op.column, ("column", "default"))
    elif isinstance(op, ir.AlterColumn):
        table = before.get(op.table, op.schema)
        old = table.column(op.name) if table is not None else None
        if old is not None and here is not None:
            old = here(old)
        spec = op.type or (old.type if old is not None else None)
        # The default given here, or the one the column keeps under a new type.
        value, key = (op.default, "default") if op.default is not None else (
            (old.default, "type") if op.type is not None and old is not None
            and not op.drop_default and op.default_sql is None else (None, ""))
        why = problem(spec, value) if spec is not None and value is not None else None
        if why and spec is not None and value is not None:
            kept = "" if key == "default" else " (the default it keeps)"
            yield (key,), _text(op.table, op.name, spec, value, why + kept)


def _column(table: str, c: ir.Column, path: tuple[str | int, ...]) -> Iterator[Finding]:
    why = problem(c.type, c.default) if c.default is not None else None
    if why and c.default is not None:
        yield path, _text(table, c.name, c.type, c.default, why)


def _text(table: str, column: str, spec: TypeSpec, value: Value, why: str) -> str:
    shown = json.dumps(value) if isinstance(value, (str, bool)) else repr(value)
    return f"column {table}.{column} ({spec}): the default {shown} {why}"
