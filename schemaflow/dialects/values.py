"""What a database can store as written: integers within their column type's range, strings
within their column's length, and identifiers of a length and of characters it accepts.

Each `Dialect` says what it holds (`integer_range`, `name_refused`, its identifier limit);
the checks here ask it for every value and name an operation writes. They run in
`Dialect.check`, so `validate --dialect` reports them and a renderer refuses them before
anything runs: a database that would fail half-way (PostgreSQL, MySQL in strict mode),
fail in the driver (SQLite's 64-bit binding) or store something else without a word
(SQLite turns a larger literal into an approximate REAL, MySQL outside strict mode clamps a
number and cuts a string, PostgreSQL truncates a long name) never sees them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from .. import ir
from ..errors import UsageError
from ..typespec import TypeSpec

if TYPE_CHECKING:
    from ..rules import Finding, LintContext, OpContext
    from ..state import SchemaState
    from .base import Dialect


def signed(bits: int) -> tuple[int, int]:
    """The range of a signed integer of `bits` bits."""
    return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1


def unsigned(bits: int) -> tuple[int, int]:
    """The range of an unsigned integer of `bits` bits."""
    return 0, 2**bits - 1


# The generic integer types as PostgreSQL and MySQL hold them (SQLite: every one is 64-bit).
INTEGER_BITS = {"smallint": 16, "integer": 32, "bigint": 64}


class Unstorable(UsageError):
    """A value the target database cannot store as written (the linter's SF333)."""


# (where, for a message; the path inside the operation's document; the column type; the value)
Stored = tuple[str, tuple[object, ...], TypeSpec, object]


def _rows(op: ir.InsertRows | ir.DeleteRows, before: SchemaState) -> Iterator[Stored]:
    t = before.get(op.table, op.schema)
    if t is None:
        return  # reported as the operation's own fit
    columns = {c.name: c for c in t.columns}  # seed data may hold many thousand rows
    for n, row in enumerate(op.rows, 1):
        for key, value in row.items():
            c = columns.get(key)
            if c is not None and value is not None:
                yield (f"row {n}, column '{t.name}.{key}' ({c.type})", ("rows", n - 1, key),
                       c.type, value)


def _default(table: str, c: ir.Column, path: tuple[object, ...]) -> Iterator[Stored]:
    if c.default is not None:
        yield f"the default of column '{table}.{c.name}' ({c.type})", path, c.type, c.default


def values(op: ir.Operation, before: SchemaState) -> Iterator[Stored]:
    """Every value `op` stores (row values, defaults), with where it goes and its column's
    type."""
    if isinstance(op, (ir.InsertRows, ir.DeleteRows)):
        yield from _rows(op, before)
    elif isinstance(op, ir.CreateTable):
        for i, c in enumerate(op.columns):
            yield from _default(op.name, c, ("columns", i, "default"))
    elif isinstance(op, ir.AddColumn):
        yield from _default(op.table, op.column, ("column", "default"))
    elif isinstance(op, ir.AlterColumn) and (op.default is not None or op.type is not None):
        # A new type must hold the default the column keeps.
        from ..errors import StateError
        from ..state import apply

        try:
            altered = apply(before, op).table(op.table, op.schema).column(op.name)
        except StateError:
            return
        if altered is not None:
            yield from _default(op.table, altered, ("default",) if op.default is not None
                                else ("type",))


VALUES_HINT = ("write a value that fits, or give the column a type that holds it (numeric: "
               "integers of any size; text: strings of any length)")


def unstorable(dialect: Dialect, op: ir.Operation,
               before: SchemaState) -> Iterator[tuple[str, tuple[object, ...]]]:
    """Every value `op` stores that its column cannot hold here: a message, and the path
    inside the operation's document."""
    for where, path, spec, value in values(op, before):
        if isinstance(value, int) and not isinstance(value, bool):
            bounds = dialect.integer_range(spec)
            if bounds is not None and not bounds[0] <= value <= bounds[1]:
                yield (f"{where}: {value} is out of range on {dialect.name}, which stores "
                       f"{bounds[0]} to {bounds[1]} there"), path
        elif (isinstance(value, str) and dialect.caps.string_lengths
              and not isinstance(op, ir.DeleteRows)  # a WHERE compares it all the same
              and spec.name in ("string", "char") and spec.args
              and isinstance(spec.args[0], int) and len(value) > spec.args[0]):
            shown = repr(value) if len(value) <= 30 else repr(value[:27]) + "..."
            yield (f"{where}: {shown} is {len(value)} characters, more than the "
                   f"{spec.args[0]} it holds on {dialect.name}"), path
        elif (isinstance(value, float) and not math.isfinite(value)
              and isinstance(op, ir.InsertRows)):  # (a default's is SF120's)
            message = _nonfinite(dialect, spec, value)
            if message is not None:
                yield f"{where}: {message}", path


def _nonfinite(dialect: Dialect, spec: TypeSpec, value: float) -> str | None:
    """Why a NaN or an infinity cannot be stored in a column of type `spec` here (None: it
    can, as written)."""
    caps = dialect.caps
    nan = value != value
    shown = "NaN" if nan else ("infinity" if value > 0 else "-infinity")
    held = caps.nan_types if nan else caps.infinity_types
    if spec.name in held:
        return None
    if held:
        return (f"{shown} is held on {dialect.name} only by a column of type "
                f"{' or '.join(held)}")
    if nan and caps.nan_as_null:
        return f"{shown} is not a value {dialect.name} stores: it writes NULL instead"
    return f"{shown} is not a value {dialect.name} stores"


def check_values(dialect: Dialect, op: ir.Operation, before: SchemaState) -> None:
    """Raise Unstorable for the first value `op` stores that its column cannot hold."""
    for message, _path in unstorable(dialect, op, before):
        raise Unstorable(message, hint=VALUES_HINT)


def stored_values(op: ir.Operation, before: SchemaState, oc: OpContext,
                  ctx: LintContext) -> Iterator[Finding]:
    """SF333: every value `op` stores that the target database cannot hold as written."""
    if ctx.support is not None:
        for message, path in unstorable(ctx.support, ctx.support.op_here(op), before):
            yield "SF333", f"{op.kind} on {ctx.support.name}: {message}", VALUES_HINT, path


def check_names(dialect: Dialect, names: Iterable[str]) -> None:
    """Raise UsageError for a name written out (`names`, those an operation creates: see
    `support.names_created`) that this database refuses or changes: too long (the names
    schemaflow makes up fit), or with characters it does not take."""
    limit, in_bytes = dialect.caps.max_identifier_length, dialect.caps.identifier_bytes
    for name in names:
        size = len(name.encode()) if in_bytes else len(name)
        if size > limit:
            raise UsageError(
                f"the name '{name}' is {size} {'bytes' if in_bytes else 'characters'}; "
                f"{dialect.name} allows {limit}", hint="choose a shorter name")
        refused = dialect.name_refused(name)
        if refused:
            raise UsageError(f"{dialect.name} refuses the name {name!r}: {refused}",
                             hint="choose a name without it")


def nul_refused(name: str) -> str | None:
    """U+0000, which no database takes in a name (PostgreSQL's text cannot hold it, SQLite's
    driver refuses the statement, MySQL's identifiers exclude it)."""
    return "it contains the character U+0000" if "\x00" in name else None
