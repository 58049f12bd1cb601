"""PostgreSQL: native enum types kept in step with their columns, comments, CONCURRENTLY."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.schema import (
    AddConstraint,
    CreateIndex,
    DDLElement,
    SetColumnComment,
    SetTableComment,
)
from sqlalchemy.sql.compiler import DDLCompiler

from ... import ir
from ...plans import Step
from ...state import SchemaState, Table, apply
from ...typespec import INTEGER_TYPES, enum_name, is_native_enum
from .. import ddl
from ..render import Renderer, Steps
from ..tables import (
    SizedBinary,
    autoincrement_column,
    sa_type,
    server_default,
    standalone_index,
)
from . import casts, may_change_enums
from .enums import dependents as enum_dependents
from .enums import enum_steps


@compiles(SizedBinary, "postgresql")
def _bytea(type_: SizedBinary, compiler: Any, **kw: Any) -> str:
    return "BYTEA"  # PostgreSQL's one binary type: no length to keep


class ValidateConstraint(ddl.AlterTable):
    """`ALTER TABLE t VALIDATE CONSTRAINT c`."""

    def __init__(self, table: str, schema: str | None, name: str) -> None:
        super().__init__(table, schema)
        self.name = name


@compiles(ValidateConstraint, "postgresql")
def _validate_constraint(el: ValidateConstraint, compiler: DDLCompiler, **kw: Any) -> str:
    return f"{ddl.alter(compiler, el)} VALIDATE CONSTRAINT {ddl.col_ref(compiler, el.name)}"


class SerialSequence(ddl.AlterTable):
    """The sequence that numbers SERIAL column `column`, found by the column that owns it
    (its name is the table's name when it was made: a table renamed since keeps it): given
    the integer type `type_`, or dropped (`type_` None)."""

    def __init__(self, table: str, schema: str | None, column: str, type_: str | None) -> None:
        super().__init__(table, schema)
        self.column = column
        self.type_ = type_


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@compiles(SerialSequence, "postgresql")
def _serial_sequence(el: SerialSequence, compiler: DDLCompiler, **kw: Any) -> str:
    table = ddl.table_ref(compiler, el.table_name, el.schema)
    action = ("DROP SEQUENCE ' || s" if el.type_ is None
              else f"ALTER SEQUENCE ' || s || ' AS {el.type_}'")
    body = (f" DECLARE s text := pg_get_serial_sequence({_literal(table)}, "
            f"{_literal(el.column)}); BEGIN IF s IS NOT NULL THEN EXECUTE '{action}; "
            "END IF; END ")
    tag = next(t for t in (f"$sf{n or ''}$" for n in range(len(body) + 1)) if t not in body)
    return f"DO {tag}{body}{tag}"


class NumberColumn(ddl.AlterTable):
    """Number an existing integer key column as SERIAL would: its own sequence (OWNED BY
    it), its default drawing from it, and the sequence set past the rows already there.
    `step` 0, 1, 2: CREATE SEQUENCE, SET DEFAULT, setval."""

    def __init__(self, table: str, schema: str | None, column: str, type_: str | None,
                 step: int) -> None:
        super().__init__(table, schema)
        self.column, self.type_, self.step = column, type_, step


@compiles(NumberColumn, "postgresql")
def _number_column(el: NumberColumn, compiler: DDLCompiler, **kw: Any) -> str:
    from ..read import serial_sequence_name

    prep = compiler.preparer
    schema = prep.quote_schema(el.schema) + "." if el.schema else ""
    sequence = schema + prep.quote(serial_sequence_name(el.table_name, el.column))
    table = ddl.table_ref(compiler, el.table_name, el.schema)
    column = ddl.col_ref(compiler, el.column)
    if el.step == 0:
        typed = f" AS {el.type_}" if el.type_ else ""
        return f"CREATE SEQUENCE {sequence}{typed} OWNED BY {table}.{column}"
    if el.step == 1:
        return (f"{ddl.alter(compiler, el)} ALTER COLUMN {column} SET DEFAULT "
                f"nextval({_literal(sequence)}::regclass)")
    return (f"SELECT setval({_literal(sequence)}::regclass, COALESCE(max({column}), 0) + 1, "
            f"false) FROM {table}")


@compiles(ddl.UtcNow, "postgresql")
def _utc_now(el: ddl.UtcNow, compiler: Any, **kw: Any) -> str:
    return "(CURRENT_TIMESTAMP AT TIME ZONE 'UTC')"


class AddConstraintNotValid(DDLElement):
    """`ALTER TABLE t ADD CONSTRAINT ... NOT VALID`."""

    inherit_cache = False

    def __init__(self, constraint: Any) -> None:
        self.constraint = constraint


@compiles(AddConstraintNotValid, "postgresql")
def _add_not_valid(el: AddConstraintNotValid, compiler: DDLCompiler, **kw: Any) -> str:
    return f"{compiler.process(AddConstraint(el.constraint))} NOT VALID"


def numbered_column(t: Table) -> str | None:
    """The column of `t` CREATE TABLE makes a SERIAL: the one SQLAlchemy numbers, unless it
    is an identity, draws from a sequence or has a default of its own."""
    column = autoincrement_column(t)
    if column is None or column.identity is not None or column.default is not None \
            or column.server_default is not None:
        return None
    return column.name


class PostgreSQLRenderer(Renderer):
    """The generic statements, plus CREATE/ALTER/DROP TYPE around the columns that use enums."""

    def render(self, op: ir.Operation, before: SchemaState, *, plain: bool = False) -> Steps:
        if not may_change_enums(op, before):
            # The generic render checks `op` on the same schema when it is plain (only an
            # AlterColumn may return before its check): checked once, not twice.
            if not plain or isinstance(op, ir.AlterColumn):
                self.dialect.check(op, before)
            return super().render(op, before, plain=plain)
        self.dialect.check(op, before)
        # (as PostgreSQL builds them: a column's type, collation and default for it)
        pre, rest, post = enum_steps(self.dialect.op_here(op), self.dialect.state_here(before),
                                     self.caps.enum_add_value_in_transaction)
        return pre + (super().render(rest, before, plain=plain) if rest is not None
                      else []) + post

    def op_create_table(self, op: ir.CreateTable, before: SchemaState) -> Steps:
        steps = super().op_create_table(op, before)
        created = steps[0].sql.element
        pk = {c.name for c in created.primary_key.columns}
        # CREATE TABLE drops a UNIQUE on exactly the primary key's columns without a word;
        # added by itself afterwards, PostgreSQL keeps it, as the changeset says.
        twins = [c for c in created.constraints if isinstance(c, sa.UniqueConstraint)
                 and pk and {col.name for col in c.columns} == pk]
        for c in twins:
            created.constraints.discard(c)
        steps[1:1] = [Step(AddConstraint(c)) for c in twins]
        # The comments of the table just built (not a second build of it: they name only
        # the table and its columns).
        if created.comment:
            steps.append(Step(SetTableComment(created)))
        steps += [Step(SetColumnComment(c)) for c in created.columns if c.comment]
        return steps

    def op_add_column(self, op: ir.AddColumn, before: SchemaState) -> Steps:
        steps = super().op_add_column(op, before)
        if op.column.comment:
            t = apply(before, op).table(op.table, op.schema)
            steps.append(Step(ddl.ColumnComment(t.name, t.schema, op.column.name,
                                                op.column.comment)))
        return steps

    def op_alter_column(self, op: ir.AlterColumn, before: SchemaState) -> Steps:
        old = before.table(op.table, op.schema).column(op.name)
        if (op.type is not None and is_native_enum(op.type) and old is not None
                and is_native_enum(old.type) and op.using is None
                and enum_name(op.type, op.table, op.name) == enum_name(old.type, op.table,
                                                                       op.name)
                and set(old.type.args) <= set(op.type.args)):
            # Values added to the same type: its ADD VALUE steps (in render()) are all of
            # it; casting the column to the type it already has would rewrite the table.
            op = replace(op, type=None)
        if op.type is not None and is_native_enum(op.type) and op.using is None:
            # Text-like columns cast to the enum through text; a user `using` wins.
            op = replace(op, using=f'"{op.name}"::text::"{enum_name(op.type, op.table, op.name)}"')
        how, typed = self.conversion(op, old)
        if how == casts.EXPLICIT and op.using is None and old is not None \
                and old.computed is None:  # (PostgreSQL refuses USING on a generated column)
            # No assignment cast (text → json, and back from json when rolled back; text →
            # integer): the column is cast explicitly, as PostgreSQL's hint says (an enum
            # through text, as to an enum).
            via = "::text" if is_native_enum(old.type) else ""
            name = self.dialect.sa_dialect().identifier_preparer.quote(op.name)
            op = replace(op, using=f"{name}{via}::{typed}")
        # Neither the values nor the default convert by themselves.
        cast = how in (casts.EXPLICIT, casts.NONE)
        steps = super().op_alter_column(op, before)
        if op.type is None or old is None:
            return steps
        if (is_native_enum(op.type) or is_native_enum(old.type) or cast) and (
                old.default is not None or old.default_sql is not None):
            # PostgreSQL does not cast a column's default to an enum type with the column
            # ("cannot be cast automatically"), nor to any type without an assignment cast
            # from the old one, and one cast from an enum keeps naming the enum's type
            # (which then cannot be dropped): it is dropped first and, unless the
            # operation drops or sets it, set again after, as the column now has it.
            changed = apply(before, op).table(op.table, op.schema).column(op.name)
            default = server_default(changed) if changed is not None else None
            steps.insert(0, Step(ddl.AlterColumnDefault(op.table, op.schema, op.name, None)))
            if default is not None and not op.drop_default and (
                    op.default is None and op.default_sql is None):
                steps.insert(2, Step(ddl.AlterColumnDefault(op.table, op.schema, op.name,
                                                            default)))
        if is_native_enum(op.type) or is_native_enum(old.type):
            # An index condition or expression, or a CHECK, that compares the column with a
            # value keeps the value's old type, which PostgreSQL cannot compare with the
            # new one ("operator does not exist"): they are dropped first and made again.
            after = apply(before, op)  # (its casts to the old type rewritten: recast)
            undo, redo = enum_dependents(after, after.table(op.table, op.schema), {op.name})
            steps = [*undo, *steps, *redo]
        # The key's numbering follows its type, as CREATE TABLE makes it: a SERIAL's
        # sequence keeps the type it was made with (a key widened to bigint would still
        # stop at 2,147,483,647; an identity's sequence follows its column by itself), and
        # a key that stops or starts being an integer loses or gains its SERIAL numbering.
        t = apply(before, op).table(op.table, op.schema)
        was = numbered_column(before.table(op.table, op.schema)) == op.name
        now = numbered_column(t) == op.name
        if was and now and op.type.name in INTEGER_TYPES and old.type.name != op.type.name:
            steps.append(Step(SerialSequence(op.table, op.schema, op.name, op.type.name)))
        elif was and not now:
            # Its default goes (unless the operation gives it one of its own, which replaces
            # nextval()), then its own sequence.
            drop = Step(ddl.AlterColumnDefault(op.table, op.schema, op.name, None))
            if cast:  # dropped before the cast, which nextval() would have to take too
                steps.insert(0, drop)
            elif op.default is None and op.default_sql is None:
                steps.append(drop)
            steps.append(Step(SerialSequence(op.table, op.schema, op.name, None)))
        elif now and not was:  # SERIAL's numbering: its sequence, default and position
            kind = op.type.name if op.type.name in INTEGER_TYPES else None
            steps += [Step(NumberColumn(op.table, op.schema, op.name, kind, step))
                      for step in range(3)]
        return steps

    def conversion(self, op: ir.AlterColumn, old: ir.Column | None
                    ) -> tuple[str | None, str]:
        """How PostgreSQL converts the column's values to the type `op` gives it (a context
        of `casts`; None where `op` changes no type, or to an enum, or a type is not one
        `casts` knows), and that type's SQL."""
        if op.type is None or old is None or is_native_enum(op.type):
            return None, ""
        compiler = self.dialect.sa_dialect().type_compiler_instance
        typed = str(compiler.process(sa_type(op.type, op.table, op.name)))
        source = ("text" if is_native_enum(old.type)
                  else str(compiler.process(sa_type(old.type, op.table, op.name))))
        return casts.context(source, typed), typed

    def _add_constraint(self, op: Any, before: SchemaState) -> Steps:
        steps = super()._add_constraint(op, before)
        if getattr(op, "not_valid", False):
            return [Step(AddConstraintNotValid(s.sql.element)) for s in steps]
        return steps

    op_create_foreign_key = _add_constraint
    op_create_check_constraint = _add_constraint

    def op_validate_constraint(self, op: ir.ValidateConstraint, before: SchemaState) -> Steps:
        return [Step(ValidateConstraint(op.table, op.schema, op.name))]

    def op_create_index(self, op: ir.CreateIndex, before: SchemaState) -> Steps:
        if not op.concurrently:
            return super().op_create_index(op, before)
        t = apply(before, op).table(op.table, op.schema)
        spec = next(i for i in t.indexes if i.name == op.name)
        index: Any = standalone_index(t, spec)
        index.dialect_options["postgresql"]["concurrently"] = True
        return [Step(CreateIndex(index), transactional=False)]


@compiles(ddl.KeyPart, "postgresql")
def _key_part(el: ddl.KeyPart, compiler: Any, **kw: Any) -> str:
    return ddl.key_part_sql(compiler, el, opclass=True, nulls=True)
