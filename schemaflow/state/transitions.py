"""`apply(state, op)`: each operation's state transition, refusing what does not fit."""

from __future__ import annotations

import types
import weakref
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import Any

from .. import ir
from ..errors import StateError
from ..typespec import enum_name, is_native_enum
from .expressions import mentions
from .naming import ix_name, uq_name
from .rows import rows_fit
from .schema import SchemaState, Table, TableKey, column_with, nearest, qual, table_with
from .tables import (
    check_table,
    need_columns,
    need_refs,
    not_numbered,
    plain_column,
    recast,
    rename_columns,
    table_from_create,
)


def _create_table(state: SchemaState, op: ir.CreateTable) -> SchemaState:
    if state.get(op.name, op.schema) is not None:
        raise StateError(f"table '{qual(op.schema, op.name)}' already exists", code="SF105")
    table = table_from_create(op)
    need_refs(state, table, table.foreign_keys)
    _new_sequences(state, op.columns)
    # Index names are checked per table here; whether they must also be unique across the
    # schema is the target database's rule (Dialect.check, and SF334 without a database).
    return state.with_table(table)


def _drop_table(state: SchemaState, op: ir.DropTable) -> SchemaState:
    t = state.table(op.name, op.schema)
    for key in state.referrers.get(t.key, ()):
        if key == t.key:
            continue
        other = state.tables[key]
        for f in other.foreign_keys:
            if (f.references.schema, f.references.table) == t.key:
                raise StateError(f"table '{t.name}' is referenced by the foreign key "
                                 f"'{f.name}' of '{other.name}'; drop that constraint first",
                                 code="SF110")
    return state.without(t.key)


def _rename_table(state: SchemaState, op: ir.RenameTable) -> SchemaState:
    t = state.table(op.name, op.schema)
    if state.get(op.new_name, op.schema) is not None:
        raise StateError(f"table '{op.new_name}' already exists", code="SF105")
    new = state.with_table(table_with(t, name=op.new_name), remove=t.key)
    # Databases repoint foreign keys at the renamed table; so does the state.
    return _map_fks(new, t.key, lambda f: replace(
        f, references=replace(f.references, table=op.new_name)))


def _map_fks(state: SchemaState, target: TableKey,
             fn: Callable[[ir.ForeignKeyDef], ir.ForeignKeyDef]) -> SchemaState:
    """`fn` applied to every foreign key that references `target`."""
    for key in sorted(state.referrers.get(target, ()), key=str):
        t = state.tables[key]
        fks = tuple(fn(f) if (f.references.schema, f.references.table) == target else f
                    for f in t.foreign_keys)
        if fks != t.foreign_keys:
            state = state.with_table(table_with(t, foreign_keys=fks))
    return state


def _alter_table(state: SchemaState, op: ir.AlterTable) -> SchemaState:
    t = state.table(op.name, op.schema)
    changes: dict[str, Any] = {}
    if op.comment is not None:
        changes["comment"] = op.comment or None
    if op.sqlite_autoincrement is not None:
        changes["sqlite_autoincrement"] = op.sqlite_autoincrement
    return state.with_table(table_with(t, **changes))


def _add_column(state: SchemaState, op: ir.AddColumn) -> SchemaState:
    t = state.table(op.table, op.schema)
    c = op.column
    if t.column(c.name) is not None:
        raise StateError(f"column '{op.table}.{c.name}' already exists", code="SF106")
    if c.primary_key:
        raise StateError("add_column cannot add a primary-key column; add the column, then "
                         "create_primary_key", code="SF109")
    if c.autoincrement:
        raise not_numbered(op.table, c.name)
    _new_sequences(state, (c,))
    new = table_with(t, columns=(*t.columns, plain_column(c, False)))
    if c.unique:
        new = table_with(new, uniques=(*new.uniques, ir.UniqueDef(
            columns=(c.name,), name=uq_name(t.name, (c.name,)))))
    if c.index:
        ix = ir.IndexDef(name=ix_name(t.name, (c.name,)), columns=(c.name,))
        new = table_with(new, indexes=(*new.indexes, ix))
    check_table(new)
    return state.with_table(new)


def dependents(t: Table, column: str) -> Table:
    """The parts of `t` that name `column` (what dropping the column also drops)."""
    def uses(cols: tuple[str, ...]) -> bool:
        return column in cols
    names = [c.name for c in t.columns]
    return table_with(
        t,
        columns=(),
        primary_key=t.primary_key if t.primary_key and uses(t.primary_key.columns) else None,
        uniques=tuple(u for u in t.uniques if uses(u.columns)),
        foreign_keys=tuple(f for f in t.foreign_keys if uses(f.columns)),
        checks=tuple(c for c in t.checks if mentions(c.expression, column, names)),
        indexes=tuple(i for i in t.indexes if uses(i.column_names)
                      or any(mentions(e, column, names) for e in _exprs(i))),
    )


def _exprs(i: ir.IndexDef) -> list[str]:
    """The SQL expressions of an index: its expression key parts and its predicate."""
    found = [k.expression for k in i.columns
             if isinstance(k, ir.IndexColumn) and k.expression is not None]
    return found + ([i.where] if i.where else [])


def _drop_column(state: SchemaState, op: ir.DropColumn) -> SchemaState:
    t = state.table(op.table, op.schema)
    if t.column(op.name) is None:
        raise StateError(f"column '{op.table}.{op.name}' does not exist at this point",
                         code="SF102", hint=nearest(op.name, [c.name for c in t.columns]))
    if len(t.columns) == 1:
        raise StateError(f"cannot drop '{op.name}', the only column of '{op.table}'; drop the "
                         "table instead", code="SF112")
    referenced = _referencing(state, t, op.name)
    if referenced:
        raise StateError(f"column '{op.table}.{op.name}' is referenced by foreign key "
                         f"'{referenced}'; drop that constraint first", code="SF111")
    users = [c.name for c in t.columns if c.computed is not None and c.name != op.name
             and mentions(c.computed.expression, op.name, [x.name for x in t.columns])]
    if users:
        raise StateError(f"column '{op.table}.{op.name}' is used by generated column(s) "
                         f"{', '.join(users)}; drop or change them first", code="SF119")
    dep = dependents(t, op.name)
    return state.with_table(table_with(
        t,
        columns=tuple(c for c in t.columns if c.name != op.name),
        primary_key=None if dep.primary_key else t.primary_key,
        uniques=tuple(u for u in t.uniques if u not in dep.uniques),
        foreign_keys=tuple(f for f in t.foreign_keys if f not in dep.foreign_keys),
        checks=tuple(c for c in t.checks if c not in dep.checks),
        indexes=tuple(i for i in t.indexes if i not in dep.indexes),
    ))


def _referencing(state: SchemaState, t: Table, column: str) -> str | None:
    for key in sorted(state.referrers.get(t.key, ()), key=str):
        other = state.tables[key]
        for f in other.foreign_keys:
            ref = f.references
            # A self-reference on the dropped column itself goes with the column.
            if other.key == t.key and column in f.columns:
                continue
            if (ref.schema, ref.table) == t.key and column in ref.columns:
                return f"{other.name}.{f.name}"
    return None


def _rename_column(state: SchemaState, op: ir.RenameColumn) -> SchemaState:
    t = state.table(op.table, op.schema)
    if t.column(op.name) is None:
        raise StateError(f"column '{op.table}.{op.name}' does not exist at this point",
                         code="SF102", hint=nearest(op.name, [c.name for c in t.columns]))
    if t.column(op.new_name) is not None:
        raise StateError(f"column '{op.table}.{op.new_name}' already exists", code="SF106")

    def ren(cols: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(op.new_name if c == op.name else c for c in cols)

    new = rename_columns(t, {op.name: op.new_name})
    state = state.with_table(new)
    return _map_fks(state, t.key, lambda f: replace(f, references=replace(
        f.references, columns=ren(f.references.columns))))


def _alter_column(state: SchemaState, op: ir.AlterColumn) -> SchemaState:
    t = state.table(op.table, op.schema)
    c = t.column(op.name)
    if c is None:
        raise StateError(f"column '{op.table}.{op.name}' does not exist at this point",
                         code="SF102", hint=nearest(op.name, [x.name for x in t.columns]))
    if (op.type, op.nullable, op.default, op.default_sql, op.comment) == (None,) * 5 and not (
        op.drop_default
    ):
        raise StateError("alter_column changes nothing: give type, nullable, default, "
                         "default_sql, drop_default or comment", code="SF113")
    if op.drop_default and (op.default is not None or op.default_sql is not None):
        raise StateError("alter_column cannot both set and drop the default", code="SF114")
    if op.default is not None and op.default_sql is not None:
        raise StateError("give default or default_sql, not both", code="SF115")
    if op.nullable and t.primary_key and c.name in t.primary_key.columns:
        raise StateError(f"column '{c.name}' is in the primary key and cannot be nullable",
                         code="SF109")
    # One new column with every change (what replacing them one by one would end with; its
    # __post_init__ refuses the same things, with the same message, as the first of those
    # steps that would: no later step changes what an earlier one checked).
    changes: dict[str, Any] = {}
    if op.type is not None:
        changes.update(type=op.type, variants=op.variants, collation=op.collation)
    if op.nullable is not None:
        changes["nullable"] = op.nullable
    if op.drop_default:
        changes.update(default=None, default_sql=None)
    elif op.default is not None:
        changes.update(default=op.default, default_sql=None)
    elif op.default_sql is not None:
        changes.update(default_sql=op.default_sql, default=None)
    if op.comment is not None:
        changes["comment"] = op.comment or None
    new = column_with(c, **changes)
    t = table_with(t, columns=tuple(new if x is c else x for x in t.columns))
    if op.type is not None and is_native_enum(c.type):
        before, after = enum_name(c.type, t.name, c.name), (
            enum_name(op.type, t.name, c.name) if is_native_enum(op.type) else None)
        if before != after:  # (what compares the column with a value cast to its type)
            t = recast(t, before, after)
    return state.with_table(t)


def _create_index(state: SchemaState, op: ir.CreateIndex) -> SchemaState:
    t = state.table(op.table, op.schema)
    ix = op.definition
    return _with_part(state, table_with(t, indexes=(*t.indexes, ix)))


def _with_part(state: SchemaState, new: Table) -> SchemaState:
    check_table(new)
    return state.with_table(new)


def _find_index(t: Table, name: str) -> ir.IndexDef:
    for i in t.indexes:
        if i.name == name:
            return i
    raise StateError(f"index '{name}' does not exist on '{t.name}' at this point", code="SF103",
                     hint=nearest(name, [i.name for i in t.indexes]))


def _drop_index(state: SchemaState, op: ir.DropIndex) -> SchemaState:
    t = state.table(op.table, op.schema)
    ix = _find_index(t, op.name)
    return state.with_table(table_with(t, indexes=tuple(i for i in t.indexes if i is not ix)))


def _create_unique(state: SchemaState, op: ir.CreateUniqueConstraint) -> SchemaState:
    t = state.table(op.table, op.schema)
    return _with_part(state, table_with(t, uniques=(*t.uniques, ir.UniqueDef(
        columns=op.columns, name=op.name))))


def _create_fk(state: SchemaState, op: ir.CreateForeignKey) -> SchemaState:
    t = state.table(op.table, op.schema)
    fk = op.definition
    need_refs(state, t, [fk])
    return _with_part(state, table_with(t, foreign_keys=(*t.foreign_keys, fk)))


def _create_check(state: SchemaState, op: ir.CreateCheckConstraint) -> SchemaState:
    t = state.table(op.table, op.schema)
    return _with_part(state, table_with(t, checks=(*t.checks, ir.CheckDef(
        expression=op.expression, name=op.name, not_valid=op.not_valid,
        dialects=op.dialects))))


def _validate_constraint(state: SchemaState, op: ir.ValidateConstraint) -> SchemaState:
    t = state.table(op.table, op.schema)
    if op.name not in {c.name for c in t.checks} | {f.name for f in t.foreign_keys}:
        raise StateError(f"no check or foreign key named '{op.name}' on '{t.name}' at this "
                         "point", code="SF104",
                         hint=nearest(op.name, [c.name or "" for c in t.checks]))
    return state.with_table(table_with(t, checks=tuple(
        replace(c, not_valid=False) if c.name == op.name else c for c in t.checks)))


def _create_pk(state: SchemaState, op: ir.CreatePrimaryKey) -> SchemaState:
    t = state.table(op.table, op.schema)
    if t.primary_key is not None:
        raise StateError(f"table '{t.name}' already has a primary key "
                         f"'{t.primary_key.name}'", code="SF109")
    need_columns(t, op.columns, f"primary key '{op.name}'")
    cols = tuple(column_with(c, nullable=False) if c.name in op.columns else c for c in t.columns)
    return _with_part(state, table_with(t, columns=cols, primary_key=ir.PrimaryKeyDef(
        columns=op.columns, name=op.name)))


def find_constraint(t: Table, name: str, kind: str) -> Any:
    """The named constraint of that type, or a StateError."""
    pool: tuple[Any, ...] = {
        "unique": t.uniques,
        "foreign_key": t.foreign_keys,
        "check": t.checks,
        "primary_key": (t.primary_key,) if t.primary_key else (),
    }[kind]
    for c in pool:
        if c.name == name:
            return c
    return_hint = nearest(name, [c.name for c in pool if c.name])
    raise StateError(f"{kind.replace('_', ' ')} constraint '{name}' does not exist on "
                     f"'{t.name}' at this point", code="SF104", hint=return_hint)


def _drop_constraint(state: SchemaState, op: ir.DropConstraint) -> SchemaState:
    t = state.table(op.table, op.schema)
    c = find_constraint(t, op.name, op.type)
    if op.type == "primary_key":
        return state.with_table(table_with(t, primary_key=None))
    if op.type == "unique":
        return state.with_table(table_with(t, uniques=tuple(x for x in t.uniques if x is not c)))
    if op.type == "check":
        return state.with_table(table_with(t, checks=tuple(x for x in t.checks if x is not c)))
    return state.with_table(table_with(t, foreign_keys=tuple(x for x in t.foreign_keys
                                                         if x is not c)))


def _sql(state: SchemaState, op: ir.Sql) -> SchemaState:
    # Raw SQL is opaque to the replayed schema; schema changes belong in typed operations.
    return state


def _create_sequence(state: SchemaState, op: ir.CreateSequence) -> SchemaState:
    _new_sequence(state, op.schema, op.name)
    return state.with_sequences(state.sequences.set((op.schema, op.name), op))


def _new_sequence(state: SchemaState, schema: str | None, name: str) -> None:
    """SF118 when a sequence of that name exists: one of its own, or a column's."""
    taken = (schema, name) in state.sequences or any(
        c.sequence is not None and (c.sequence.schema, c.sequence.name) == (schema, name)
        for t in state.tables.values() for c in t.columns)
    if taken:
        raise StateError(f"sequence '{qual(schema, name)}' already exists", code="SF118")


def _new_sequences(state: SchemaState, columns: Iterable[ir.Column]) -> None:
    """SF118 for a column's sequence named as a sequence of its own, or as another column's
    of the same operation. (Another table's column sequence is not looked for: that would
    read every table of a long history's schema for each such column; the database refuses
    the CREATE SEQUENCE.)"""
    seen: set[tuple[str | None, str]] = set()
    for c in columns:
        if c.sequence is None:
            continue
        key = (c.sequence.schema, c.sequence.name)
        if key in seen:
            raise StateError(f"sequence '{qual(*key)}' is given to two columns", code="SF118")
        seen.add(key)
        if key in state.sequences:
            raise StateError(f"sequence '{qual(*key)}' already exists", code="SF118")


def _drop_sequence(state: SchemaState, op: ir.DropSequence) -> SchemaState:
    state.sequence(op.name, op.schema)
    return state.with_sequences(state.sequences.delete((op.schema, op.name)))


_APPLY: Mapping[type[ir.Operation], Callable[[SchemaState, Any], SchemaState]] = (
    types.MappingProxyType({
        ir.CreateTable: _create_table,
        ir.DropTable: _drop_table,
        ir.RenameTable: _rename_table,
        ir.AlterTable: _alter_table,
        ir.AddColumn: _add_column,
        ir.DropColumn: _drop_column,
        ir.RenameColumn: _rename_column,
        ir.AlterColumn: _alter_column,
        ir.CreateIndex: _create_index,
        ir.DropIndex: _drop_index,
        ir.CreateUniqueConstraint: _create_unique,
        ir.CreateForeignKey: _create_fk,
        ir.CreateCheckConstraint: _create_check,
        ir.CreatePrimaryKey: _create_pk,
        ir.DropConstraint: _drop_constraint,
        ir.ValidateConstraint: _validate_constraint,
        ir.Sql: _sql,
        ir.InsertRows: rows_fit,
        ir.DeleteRows: rows_fit,
        ir.CreateSequence: _create_sequence,
        ir.DropSequence: _drop_sequence,
    })
)


def apply(state: SchemaState, op: ir.Operation) -> SchemaState:
    """The state after `op`; raises StateError when `op` does not fit `state`.

    A state remembers the last operation applied to it and the state that gave while that
    state is in use: the history check applies each operation to the same state up to three
    times (its replay, its automatic inverse, the values it stores)."""
    memo = state.next
    if memo is not None and memo[0] is op:
        after = memo[1]()
        if after is not None:
            return after
    after = _APPLY[type(op)](state, op)
    object.__setattr__(state, "next", (op, weakref.ref(after)))
    return after


def apply_all(state: SchemaState, ops: Iterable[ir.Operation]) -> SchemaState:
    """The state after every operation in order."""
    for op in ops:
        state = apply(state, op)
    return state
