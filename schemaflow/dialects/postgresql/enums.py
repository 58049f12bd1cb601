"""PostgreSQL's native enum types kept in step with the columns that use them: created with
their first column, extended with ADD VALUE, renamed with the table or column their default
name follows, dropped with their last column, and narrowed.

PostgreSQL cannot remove a value from an enum type (and so cannot simply undo an ADD VALUE):
the type is replaced. The old one steps aside under a temporary name, the new one is created
under the name, every column using it is cast to it through text (its default dropped first,
since a default typed with the old type cannot be cast, and set again after), and the old
type is dropped. The new type takes the name before the columns move, so that a `using:`
expression written with the type's name casts to the new type. A row still holding a removed
value makes the cast fail, with PostgreSQL's message naming the value, and the changeset's
transaction is rolled back.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ENUM
from sqlalchemy.dialects.postgresql.named_types import CreateEnumType, DropEnumType
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.schema import AddConstraint, CreateIndex, DDLElement, DropIndex
from sqlalchemy.sql.compiler import DDLCompiler

from ... import ir
from ...plans import Step
from ...state import SchemaState, Table, apply
from ...state.expressions import mentions
from ...typespec import enum_name
from .. import ddl
from ..render import Steps
from ..tables import sa_type, server_default, standalone_index, table_with_refs
from . import enum_types


class RenameEnumType(DDLElement):
    """`ALTER TYPE old RENAME TO new`."""

    inherit_cache = False

    def __init__(self, old: str, new: str) -> None:
        self.old = old
        self.new = new


@compiles(RenameEnumType, "postgresql")
def _rename_enum(el: RenameEnumType, compiler: DDLCompiler, **kw: Any) -> str:
    return (f"ALTER TYPE {ddl.col_ref(compiler, el.old)} RENAME TO "
            f"{ddl.col_ref(compiler, el.new)}")


class EnumAddValue(DDLElement):
    """`ALTER TYPE name ADD VALUE 'v' [BEFORE 'w']`."""

    inherit_cache = False

    def __init__(self, name: str, value: str, before: str | None = None) -> None:
        self.name = name
        self.value = value
        self.before = before


@compiles(EnumAddValue, "postgresql")
def _enum_add_value(el: EnumAddValue, compiler: DDLCompiler, **kw: Any) -> str:
    value = compiler.sql_compiler.render_literal_value(el.value, sa.String())
    text = f"ALTER TYPE {ddl.col_ref(compiler, el.name)} ADD VALUE {value}"
    if el.before is None:
        return text
    return f"{text} BEFORE {compiler.sql_compiler.render_literal_value(el.before, sa.String())}"


def quote(name: str) -> str:
    """`name` as a PostgreSQL quoted identifier."""
    return '"' + name.replace('"', '""') + '"'


def _aside(name: str, taken: set[str]) -> str:
    """The temporary name of a type being replaced: `<name>_old` where it fits in 63 bytes
    and is free, else one made from a hash of the name."""
    candidate = f"{name}_old"
    if len(candidate.encode()) <= 63 and candidate not in taken:
        return candidate
    return f"sf_old_{hashlib.sha1(name.encode()).hexdigest()[:16]}"


def enum_steps(op: ir.Operation, before: SchemaState, add_value_in_transaction: bool
               ) -> tuple[Steps, ir.Operation | None, Steps]:
    """What keeps the enum types in step around `op`: the steps before it, `op` as left to
    render (less what the steps here did; None: nothing), and the steps after it."""
    after = apply(before, op)
    old, new = enum_types(before), enum_types(after)
    rest: ir.Operation | None = op
    # A type whose default name followed a renamed table or column is renamed with it.
    renamed: dict[str, str] = {}
    if isinstance(op, (ir.RenameTable, ir.RenameColumn)):
        for gone in [n for n in old if n not in new]:
            match = next((n for n, v in new.items() if n not in old and v == old[gone]
                          and n not in renamed.values()), None)
            if match:
                renamed[gone] = match
    pre: Steps = [Step(RenameEnumType(a, b)) for a, b in renamed.items()]
    for name, values in new.items():
        if name in renamed.values():
            continue
        if name not in old:
            pre.append(Step(CreateEnumType(ENUM(*values, name=name))))
        elif [v for v in values if v in old[name]] != list(old[name]):
            # A value removed, or the values kept in another order (which ORDER BY and `<`
            # follow): the type is replaced.
            pre += _replace_type(name, values, op, before, after, set(old) | set(new))
            rest = _rest(op)
        else:
            # Each new value where the list puts it: before the first value after it that
            # the type has already (at the end where none follows).
            pre += [Step(EnumAddValue(name, v, next((w for w in values[i + 1:]
                                                      if w in old[name]), None)),
                         transactional=add_value_in_transaction)
                    for i, v in enumerate(values) if v not in old[name]]
    post = [Step(DropEnumType(ENUM(*values, name=name)))
            for name, values in old.items() if name not in new and name not in renamed]
    return pre, rest, post


def _replace_type(name: str, values: tuple[str, ...], op: ir.Operation, before: SchemaState,
                  after: SchemaState, taken: set[str]) -> Steps:
    """The type `name` replaced by one of `values`, every column using it moved over."""
    aside = _aside(name, taken)
    steps: Steps = [Step(RenameEnumType(name, aside)),
                    Step(CreateEnumType(ENUM(*values, name=name)))]
    moved: Steps = []
    redone: Steps = []
    for t in after.tables.values():
        columns = [c for c in t.columns
                   if c.type.name == "enum" and enum_name(c.type, t.name, c.name) == name]
        if not columns:
            continue
        undo, redo = dependents(after, t, {c.name for c in columns})
        steps += undo
        redone += redo
        for c in columns:
            moved += _move(t, c, before, op, name)
    return [*steps, *moved, *redone, Step(DropEnumType(ENUM(name=aside)))]


def _move(t: Table, c: ir.Column, before: SchemaState, op: ir.Operation,
          name: str) -> Steps:
    """Column `c` cast to the new type `name`, its default dropped first and set again."""
    steps: Steps = []
    was = before.get(t.name, t.schema)
    old = was.column(c.name) if was is not None else None
    if old is not None and (old.default is not None or old.default_sql is not None):
        steps.append(Step(ddl.AlterColumnDefault(t.name, t.schema, c.name, None)))
    using = f"{quote(c.name)}::text::{quote(name)}"
    if isinstance(op, ir.AlterColumn) and op.using is not None and (
            op.schema, op.table, op.name) == (t.schema, t.name, c.name):
        using = op.using  # the one written for this column
    steps.append(Step(ddl.AlterColumnType(t.name, t.schema, c.name,
                                          sa_type(c.type, t.name, c.name), using)))
    default = server_default(c)
    if default is not None:
        steps.append(Step(ddl.AlterColumnDefault(t.name, t.schema, c.name, default)))
    return steps


def dependents(after: SchemaState, t: Table, columns: set[str]) -> tuple[Steps, Steps]:
    """Dropping and recreating the indexes and CHECKs whose expressions use `columns`: a
    comparison with a value of the old type has no operator once the column has the new
    one, so the cast would fail while they exist."""
    def uses(expression: str | None) -> bool:
        return expression is not None and any(mentions(expression, c) for c in columns)

    indexes = [i for i in t.indexes if uses(i.where) or any(
        not isinstance(k, str) and uses(k.expression) for k in i.columns)]
    table = table_with_refs(after, t)
    checks = [c for c in table.constraints if isinstance(c, sa.CheckConstraint)
              and any(uses(k.expression) for k in t.checks if k.name == c.name)]
    undo: Steps = [Step(DropIndex(standalone_index(t, i))) for i in indexes]
    undo += [Step(ddl.DropConstraint(c)) for c in checks]
    redo: Steps = [Step(CreateIndex(standalone_index(t, i))) for i in indexes]
    redo += [Step(AddConstraint(c)) for c in checks]
    return undo, redo


def _rest(op: ir.Operation) -> ir.Operation | None:
    """An alter_column whose type change (and default, set again after the cast) the type's
    replacement has done: what is left of it (its nullability, its comment)."""
    if not isinstance(op, ir.AlterColumn):
        return op
    if op.nullable is None and op.comment is None:
        return None
    return replace(op, type=None, using=None, default=None, default_sql=None,
                   drop_default=False)
