"""The automatic inverse of each operation, computed from the schema as it stood before it."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from types import MappingProxyType
from typing import Any

from . import ir
from .state import (
    SchemaState,
    Table,
    apply,
    create_check_op,
    create_fk_op,
    create_table_op,
    dependents,
    find_constraint,
)

Inverse = tuple[ir.Operation, ...] | None


class Irreversible(Exception):
    """An operation (or changeset) whose inverse cannot be known."""

    def __init__(self, message: str, index: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.index = index


def recreate_parts(t: Table) -> tuple[ir.Operation, ...]:
    """Operations that add back every constraint and index of `t` (columns excluded)."""
    ops: list[ir.Operation] = []
    s = t.schema
    if t.primary_key:
        ops.append(ir.CreatePrimaryKey(name=t.primary_key.name or "", table=t.name, schema=s,
                                       columns=t.primary_key.columns))
    ops += [ir.CreateUniqueConstraint(name=u.name or "", table=t.name, schema=s,
                                      columns=u.columns) for u in t.uniques]
    ops += [create_check_op(t, c) for c in t.checks]
    ops += [create_fk_op(t, f) for f in t.foreign_keys]
    ops += [ir.CreateIndex.of(i, t.name, s) for i in t.indexes]
    return tuple(ops)


def _column(op: ir.DropColumn | ir.AlterColumn, before: SchemaState) -> tuple[Table, ir.Column]:
    """The table and column `op` names, or the StateError its transition raises (an
    operation that does not fit has no inverse to know: an import's, on a column an earlier
    revision added as SQL)."""
    t = before.table(op.table, op.schema)
    col = t.column(op.name)
    if col is None:
        apply(before, op)  # (raises, naming the column)
        raise AssertionError(f"{op.kind} fits a table without its column")
    return t, col


def _drop_column(op: ir.DropColumn, before: SchemaState) -> Inverse:
    t, col = _column(op, before)
    add = ir.AddColumn(table=t.name, schema=t.schema, column=col)
    return (add, *recreate_parts(dependents(t, op.name)))


def _alter_column(op: ir.AlterColumn, before: SchemaState) -> Inverse:
    _, c = _column(op, before)
    kw: dict[str, Any] = {}
    if op.type is not None:
        kw.update(type=c.type, variants=c.variants, collation=c.collation)
    if op.nullable is not None:
        kw["nullable"] = c.is_nullable
    if op.drop_default or op.default is not None or op.default_sql is not None:
        kw.update(c.default_change())
    if op.comment is not None:
        kw["comment"] = c.comment or ""
    return (ir.AlterColumn(table=op.table, name=op.name, schema=op.schema, **kw),)


def _drop_constraint(op: ir.DropConstraint, before: SchemaState) -> Inverse:
    t = before.table(op.table, op.schema)
    c = find_constraint(t, op.name, op.type)
    part = replace(t, primary_key=None, uniques=(), foreign_keys=(), checks=(), indexes=())
    if op.type == "primary_key":
        part = replace(part, primary_key=c)
    elif op.type == "unique":
        part = replace(part, uniques=(c,))
    elif op.type == "check":
        part = replace(part, checks=(c,))
    else:
        part = replace(part, foreign_keys=(c,))
    return recreate_parts(part)


def _create_primary_key(op: ir.CreatePrimaryKey, before: SchemaState) -> Inverse:
    # Adding the key made its columns NOT NULL; dropping it does not undo that by itself.
    t = before.table(op.table, op.schema)
    relax = tuple(ir.AlterColumn(table=op.table, schema=op.schema, name=c.name, nullable=True)
                  for c in t.columns if c.name in op.columns and c.is_nullable)
    return (ir.DropConstraint(name=op.name, table=op.table, type="primary_key",
                              schema=op.schema), *relax)


def _insert_rows(op: ir.InsertRows, before: SchemaState) -> Inverse:
    t = before.table(op.table, op.schema)
    if t.primary_key is None:
        return None
    pk = t.primary_key.columns
    if any(any(k not in row for k in pk) for row in op.rows):
        return None
    return (ir.DeleteRows(table=op.table, schema=op.schema,
                          rows=tuple({k: row[k] for k in pk} for row in reversed(op.rows))),)


_REVERSE: Mapping[type[ir.Operation], Callable[[Any, SchemaState], Inverse]] = MappingProxyType({
    ir.CreateTable: lambda op, b: (ir.DropTable(name=op.name, schema=op.schema),),
    ir.DropTable: lambda op, b: (create_table_op(b.table(op.name, op.schema)),),
    ir.RenameTable: lambda op, b: (ir.RenameTable(name=op.new_name, new_name=op.name,
                                                  schema=op.schema),),
    ir.AlterTable: lambda op, b: (ir.AlterTable(
        name=op.name, schema=op.schema,
        comment=None if op.comment is None else b.table(op.name, op.schema).comment or "",
        sqlite_autoincrement=None if op.sqlite_autoincrement is None
        else b.table(op.name, op.schema).sqlite_autoincrement),),
    ir.AddColumn: lambda op, b: (ir.DropColumn(table=op.table, name=op.column.name,
                                               schema=op.schema),),
    ir.DropColumn: _drop_column,
    ir.RenameColumn: lambda op, b: (ir.RenameColumn(table=op.table, name=op.new_name,
                                                    new_name=op.name, schema=op.schema),),
    ir.AlterColumn: _alter_column,
    ir.CreateIndex: lambda op, b: (ir.DropIndex(name=op.name, table=op.table,
                                                schema=op.schema),),
    ir.DropIndex: lambda op, b: recreate_parts(replace(
        b.table(op.table, op.schema), primary_key=None, uniques=(), foreign_keys=(), checks=(),
        indexes=tuple(i for i in b.table(op.table, op.schema).indexes if i.name == op.name))),
    ir.CreateUniqueConstraint: lambda op, b: (ir.DropConstraint(
        name=op.name, table=op.table, type="unique", schema=op.schema),),
    ir.CreateForeignKey: lambda op, b: (ir.DropConstraint(
        name=op.name, table=op.table, type="foreign_key", schema=op.schema),),
    ir.CreateCheckConstraint: lambda op, b: (ir.DropConstraint(
        name=op.name, table=op.table, type="check", schema=op.schema),),
    ir.CreatePrimaryKey: _create_primary_key,
    ir.DropConstraint: _drop_constraint,
    # Validating proves existing rows; there is nothing to undo.
    ir.ValidateConstraint: lambda op, b: (),
    ir.Sql: lambda op, b: (ir.Sql(up=op.down, down=op.up, dialects=op.dialects),)
    if op.down is not None else None,
    ir.InsertRows: _insert_rows,
    ir.DeleteRows: lambda op, b: None,
    ir.CreateSequence: lambda op, b: (ir.DropSequence(name=op.name, schema=op.schema),),
    ir.DropSequence: lambda op, b: (b.sequence(op.name, op.schema),),
})


def reverse(op: ir.Operation, before: SchemaState) -> Inverse:
    """The operations that undo `op` given the state before it, or None if unknowable."""
    return _REVERSE[type(op)](op, before)


def reverse_changeset(ops: Sequence[ir.Operation], before: SchemaState) -> tuple[ir.Operation, ...]:
    """The automatic rollback of a list of operations; raises Irreversible naming the culprit."""
    groups: list[tuple[ir.Operation, ...]] = []
    state = before
    for i, op in enumerate(ops):
        inv = reverse(op, state)
        if inv is None:
            why = ("sql without down" if isinstance(op, ir.Sql)
                   else "insert_rows into a table without a primary key (or rows without it)"
                   if isinstance(op, ir.InsertRows) else f"{op.kind} has no automatic inverse")
            raise Irreversible(why, i)
        groups.append(inv)
        state = apply(state, op)
    return tuple(o for g in reversed(groups) for o in g)
