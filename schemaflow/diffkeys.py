"""What two schemas are compared by: each column type, default (an interval's as the months,
days and seconds PostgreSQL keeps), generated expression, foreign key, index and index
condition reduced to a key that is equal exactly when the two mean the same (spelling,
casts, case and spacing set aside). `diff` and a baseline's `modelwords` compare these."""

from __future__ import annotations

import contextlib
import re
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from . import ir
from .ir.parts import deferral
from .state.expressions import outside_literals
from .typespec import INTEGER_TYPES, TypeSpec, parse_type, stored_as

if TYPE_CHECKING:
    from .state import Table


def type_key(spec: TypeSpec) -> tuple[Any, ...]:
    """What a type means, for comparison (`VARCHAR(50)` and `String(50)` are one; a
    non-native enum is the VARCHAR it is: its values are its CHECK's, if it has one)."""
    spec = stored_as(spec)
    if spec.name == "enum":
        return ("enum", tuple(str(a) for a in spec.args))
    if spec.name == "float":
        return ("float",)
    if spec.name == "text":
        return ("text",)
    if spec.name == "sql":  # as the database writes it: case and spacing aside
        return ("sql", "".join(str(spec.args[0]).lower().split()))
    if spec.name == "array":  # PostgreSQL keeps no dimensions: an int[][] is an int[]
        return ("array", type_key(parse_type(str(spec.args[0]))))
    tz = spec.kwarg("timezone", "false") == "true"
    return (spec.name, tuple(spec.args), tz)


def column_type_key(c: ir.Column) -> tuple[Any, ...]:
    """What a column's type means on every database: the type, its variants, its collation."""
    return (type_key(c.type), tuple((v.dialect, type_key(v.type)) for v in c.variants),
            collation_key(c.collation))


def collation_key(collation: ir.Collation) -> Any:
    """A collation per database as the collation each database gets (`{mysql: x, mariadb:
    x}` is `{mysql: x}`, and one naming every database alike is that one name)."""
    if not isinstance(collation, ir.Collations):
        return collation
    from .dialects import by_name, names

    each = tuple(collation.on(by_name(n).variant_names) for n in names())
    return each[0] if len(set(each)) == 1 else each


_CASTS = re.compile(r"::\s*[a-z_][a-z0-9_ ]*(\[\])?")


def sql_key(text: str | None) -> str | None:
    """An SQL expression with casts, parentheses, quoting of names, case and spacing taken
    out, string literals kept as written: `'Active'` and `'active'`, `'in progress'` and
    `'inprogress'` are other values (a CHECK, a default, an index's condition changed)."""
    if text is None:
        return None
    t = "".join(piece if literal else _sql_words(piece)
                for literal, piece in outside_literals(text))
    return {"current_timestamp": "current_timestamp", "now": "current_timestamp"}.get(t, t)


def _sql_words(text: str) -> str:
    return re.sub(r"[()\s`\"]", "", _CASTS.sub("", text.lower()))


def default_key(c: ir.Column) -> tuple[str, Any] | None:
    """What a column's default means, for comparison."""
    if c.default is not None:
        value = c.default
        text = str(int(value)) if isinstance(value, bool) else str(value)
        if c.type.name == "postgresql.interval":  # '0' is given back as '00:00:00'
            seconds = _interval_seconds(text)
            if seconds is not None:
                return ("literal", seconds)
        if c.type.name in ("integer", "bigint", "smallint", "numeric", "float") or not (
                isinstance(value, str)):
            with contextlib.suppress(InvalidOperation):  # 0.00, 0.0 and 0 are one number
                text = format(Decimal(text).normalize(), "f")
        return ("literal", text)
    if isinstance(c.default_sql, ir.SqlDefaults):
        # Per database: the default each database gets (`{mysql: x, mariadb: x}` is `{mysql:
        # x}`, and one naming every database alike is that one), as collations are compared.
        from .dialects import by_name, names

        each = tuple(sql_key(c.default_sql.on(by_name(n).variant_names)) for n in names())
        return ("sql", each[0]) if len(set(each)) == 1 and each[0] else ("sql", each)
    key = sql_key(c.default_sql)
    return ("sql", key) if key else None


# PostgreSQL's interval as it gives one back, or as a person writes one: [@] then amounts of
# units (1 year 2 mons 3 days, 1 hour 30 minutes) and a clock ([-]HH:MM[:SS[.ffffff]]), in
# any of those parts, then [ago].
_AMOUNT = re.compile(r"([+-]?\d+(?:\.\d+)?) ?([a-z]+)")
_CLOCK = re.compile(r"([+-])?(\d+):(\d{2})(?::(\d{2}(?:\.\d+)?))?")
# Each unit as PostgreSQL keeps it apart: months, days or seconds (a day is no 24 hours
# across a change of daylight saving time, nor a month 30 days), and how many.
_UNITS: dict[str, tuple[int, Decimal]] = {
    **dict.fromkeys(("year", "years", "yr", "yrs"), (0, Decimal(12))),
    **dict.fromkeys(("mon", "mons", "month", "months"), (0, Decimal(1))),
    **dict.fromkeys(("week", "weeks"), (1, Decimal(7))),
    **dict.fromkeys(("day", "days"), (1, Decimal(1))),
    **dict.fromkeys(("hour", "hours", "hr", "hrs"), (2, Decimal(3600))),
    **dict.fromkeys(("minute", "minutes", "min", "mins"), (2, Decimal(60))),
    **dict.fromkeys(("second", "seconds", "sec", "secs"), (2, Decimal(1))),
    **dict.fromkeys(("millisecond", "milliseconds", "ms"), (2, Decimal("0.001"))),
    **dict.fromkeys(("microsecond", "microseconds", "us"), (2, Decimal("0.000001")))}


def _interval_seconds(text: str) -> str | None:
    """An interval written as a number of seconds, as PostgreSQL gives it back, or in units,
    as the months, days and seconds PostgreSQL keeps (None: another way of writing one, or a
    fraction of a month or a day, compared as written)."""
    text = " ".join(text.lower().split()).removeprefix("@").strip()
    with contextlib.suppress(InvalidOperation):
        return _interval_text([Decimal(0), Decimal(0), Decimal(text)])
    ago = text.endswith(" ago")
    text = text.removesuffix(" ago")
    parts, at = [Decimal(0), Decimal(0), Decimal(0)], 0
    for m in _AMOUNT.finditer(text):
        if text[at:m.start()].strip() or m.group(2) not in _UNITS:
            break
        slot, per = _UNITS[m.group(2)]
        amount = Decimal(m.group(1)) * per
        if slot < 2 and amount != amount.to_integral_value():
            return None  # (PostgreSQL spills a fraction of a month into days, and so on)
        parts[slot] += amount
        at = m.end()
    rest = text[at:].strip()
    if rest:
        clock = _CLOCK.fullmatch(rest)
        if clock is None:
            return None
        sign, hours, minutes, secs = clock.groups()
        part = int(hours) * 3600 + int(minutes) * 60 + Decimal(secs or 0)
        parts[2] += -part if sign == "-" else part
    elif not at:
        return None
    return _interval_text([-x for x in parts] if ago else parts)


def _interval_text(parts: list[Decimal]) -> str:
    months, days, seconds = (format(x.normalize(), "f") for x in parts)
    return f"{months} months {days} days {seconds} seconds"


def key_numbering(t: Table) -> tuple[tuple[str, ...], str | None] | None:
    """The table's primary key and the column of it the database numbers (SERIAL,
    AUTO_INCREMENT), if any. A sole integer key is numbered as `autoincrement` says, and
    left to the default unless it has a foreign key or a default of its own (SQLAlchemy's
    "auto", which the format follows and create_all() builds: a joined-inheritance child's
    key is its parent's, not numbered); of a key of several columns, only the column
    `autoincrement: true` names is. None without a key, or with a sole key that is no
    integer or is an identity or generated column (compared as such)."""
    pk = t.primary_key.columns if t.primary_key else ()
    if len(pk) > 1:
        told = [c.name for c in map(t.column, pk)
                if c is not None and c.autoincrement and not (c.identity or c.computed)]
        return pk, (told[0] if told else None)
    c = t.column(pk[0]) if pk else None
    if c is None or c.type.name not in INTEGER_TYPES or c.identity or c.computed:
        return None
    if c.autoincrement is not None:
        return pk, c.name if c.autoincrement else None
    own = c.default is not None or c.default_sql is not None or any(
        c.name in f.columns for f in t.foreign_keys)
    return pk, None if own else c.name


def sequence_key(s: ir.CreateSequence) -> tuple[Any, ...]:
    """What a sequence's options mean, those left out read as every database reads them (an
    ascending count from 1, a descending one from -1, starting at its first value); its
    bounds and cache left out are the database's own, compared as left out."""
    increment = 1 if s.increment is None else s.increment
    low = s.minvalue if s.minvalue is not None else 1 if increment > 0 else None
    high = s.maxvalue if s.maxvalue is not None else -1 if increment < 0 else None
    start = s.start if s.start is not None else low if increment > 0 else high
    return start, increment, low, high, bool(s.cycle), s.cache


def generated_key(c: ir.Column) -> tuple[Any, ...]:
    """What makes a column generated (its expression, or its identity), for comparison."""
    computed = c.computed
    return ((sql_key(computed.expression), computed.stored) if computed else None,
            (c.identity.always, tuple(sorted(c.identity.options.items())))
            if c.identity else None)


def _action(value: str | None) -> str | None:
    return None if value in (None, "NO ACTION", "RESTRICT") else value


def fk_key(f: ir.ForeignKeyDef) -> tuple[Any, ...]:
    """What a foreign key means (names aside)."""
    ref = f.references
    return (f.columns, ref.schema, ref.table, ref.columns, _action(f.ondelete),
            _action(f.onupdate), deferral(f.deferrable, f.initially))


def where_key(where: str | None) -> str | None:
    return sql_key(where) if where else None


def index_key(i: ir.IndexDef) -> tuple[Any, ...]:
    """What an index means (its name aside): its key parts, uniqueness, condition and the
    databases it applies on, method, INCLUDE columns and the databases it exists on."""
    keys = tuple(k if isinstance(k, str) else (
        k.name, sql_key(k.expression), k.order, k.nulls, k.opclass, k.length)
        for k in ir.normal_keys(i.columns))
    return (keys, i.unique, where_key(i.where), _where_scope(i), i.using or "btree",
            i.include, _scope(i.dialects))


def _scope(dialects: tuple[str, ...] | None) -> tuple[str, ...] | None:
    if dialects is None:  # (most indexes: the registry is not imported for them)
        return None
    from .dialects.columns import scope_key

    return scope_key(dialects)


def _where_scope(i: ir.IndexDef) -> tuple[str, ...] | None:
    if i.where_dialects is None:  # (most indexes: the registry is not imported for them)
        return None
    from .dialects.columns import where_scope

    return where_scope(i)
