"""Operation + state before → statements: the generic (ANSI / PostgreSQL-like) forms that each
database's renderer overrides where it differs; and compiling them to SQL text."""

from __future__ import annotations

import copy
import re
import warnings
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.schema import (
    AddConstraint,
    CreateIndex,
    CreateTable,
    DropIndex,
    DropTable,
    DropTableComment,
    SetTableComment,
)

from .. import ir
from ..plans import Step
from ..sqlsplit import split_sql
from ..state import SchemaState, Table, apply, find_constraint
from . import ddl
from .base import Capabilities, Dialect
from .tables import (
    lightweight_table,
    literal_default,
    row_values,
    sa_column,
    sa_index,
    sa_sequence,
    standalone_index,
    table_with_refs,
)

Steps = list[Step]


class Renderer:
    """Renders operations for one database (its `dialect` says what it can do at all);
    subclasses override the operations their database does apart."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect

    @property
    def name(self) -> str:
        """The database's name."""
        return self.dialect.name

    @property
    def caps(self) -> Capabilities:
        """What the database can do at its server version."""
        return self.dialect.caps

    @property
    def transactional_ddl(self) -> bool:
        """Whether DDL runs inside a transaction here."""
        return self.dialect.transactional_ddl

    def render(self, op: ir.Operation, before: SchemaState, *, plain: bool = False) -> Steps:
        """The statements that carry out `op` on a database whose schema is `before`.
        `plain`: the caller knows that no column of `before` has type variants (see
        `columns.has_variants`), so `before` is not looked through for them: a plan keeps
        track of that from operation to operation instead of looking at every column of
        the schema for every operation."""
        if self.dialect.elsewhere(op, before):  # (an index of other databases only)
            return []
        # Types as this database builds them (its variants); the rest never sees variants.
        op = self.dialect.op_here(op)
        if not plain:
            before = self.dialect.state_here(before)
        if isinstance(op, ir.AlterColumn) and op.type is not None:
            old = before.table(op.table, op.schema).column(op.name)
            if old is not None and (old.type, old.collation) == (op.type, op.collation):
                # Only another database's variant changes: nothing to do here.
                op = replace(op, type=None, collation=None)
                if op == ir.AlterColumn(table=op.table, name=op.name, schema=op.schema):
                    return []
        self.dialect.check(op, before)
        here = self._here(op, before)
        if here is None:
            return []
        method: Callable[[Any, SchemaState], Steps] = getattr(self, "op_" + op.kind)
        steps = method(*here)
        return self._column_sequences(op, before, steps) if self.caps.sequences else steps

    def _column_sequences(self, op: ir.Operation, before: SchemaState, steps: Steps) -> Steps:
        """`steps` with the sequences of the columns `op` creates made before them, and
        those of the columns it drops dropped after them (as create_all() and drop_all()
        do where the database has sequences)."""
        if isinstance(op, ir.CreateTable):
            made = [c.sequence for c in op.columns if c.sequence is not None]
            return [Step(sa.schema.CreateSequence(sa_sequence(s))) for s in made] + steps
        if isinstance(op, ir.AddColumn) and op.column.sequence is not None:
            return [Step(sa.schema.CreateSequence(sa_sequence(op.column.sequence))), *steps]
        if isinstance(op, (ir.DropTable, ir.DropColumn)):
            t = before.table(op.table if isinstance(op, ir.DropColumn) else op.name, op.schema)
            gone = [c.sequence for c in t.columns if c.sequence is not None and (
                not isinstance(op, ir.DropColumn) or c.name == op.name)]
            return steps + [Step(sa.schema.DropSequence(sa_sequence(s))) for s in gone]
        return steps

    def _here(self, op: ir.Operation, before: SchemaState
              ) -> tuple[ir.Operation, SchemaState] | None:
        """`op` and `before` as this database has them: the checks that exist on other
        databases only left out (an operation on one of them does nothing here)."""
        holds = self.dialect.holds
        if isinstance(op, ir.CreateTable):
            if all(holds(c.dialects) for c in op.checks):
                return op, before
            return replace(op, checks=tuple(c for c in op.checks if holds(c.dialects))), before
        if isinstance(op, ir.CreateCheckConstraint) and not holds(op.dialects):
            return None
        name = getattr(op, "table", None) or getattr(op, "name", None)
        t = before.tables.get((getattr(op, "schema", None), name)) if name else None
        if t is None or all(holds(c.dialects) for c in t.checks):
            return op, before
        elsewhere = {c.name for c in t.checks if not holds(c.dialects)}
        if isinstance(op, (ir.DropConstraint, ir.ValidateConstraint)) and (
                op.name in elsewhere and getattr(op, "type", "check") == "check"):
            return None
        return op, before.with_table(self.dialect.held_checks(t))

    # --- sequences -----------------------------------------------------------------------

    def op_create_sequence(self, op: ir.CreateSequence, before: SchemaState) -> Steps:
        return [Step(sa.schema.CreateSequence(sa_sequence(op)))]

    def op_drop_sequence(self, op: ir.DropSequence, before: SchemaState) -> Steps:
        return [Step(sa.schema.DropSequence(sa_sequence(before.sequence(op.name, op.schema))))]

    # --- tables --------------------------------------------------------------------------

    def op_create_table(self, op: ir.CreateTable, before: SchemaState) -> Steps:
        after = apply(before, op)
        t = after.table(op.name, op.schema)
        table = table_with_refs(after, t, with_indexes=False)
        steps = [Step(CreateTable(table))]
        steps += [Step(CreateIndex(sa_index(i, table))) for i in t.indexes]
        return steps

    def op_drop_table(self, op: ir.DropTable, before: SchemaState) -> Steps:
        t = before.table(op.name, op.schema)
        return [Step(DropTable(sa.Table(t.name, sa.MetaData(), schema=t.schema)))]

    def op_rename_table(self, op: ir.RenameTable, before: SchemaState) -> Steps:
        return [Step(ddl.RenameTable(op.name, op.schema, op.new_name))]

    def op_alter_table(self, op: ir.AlterTable, before: SchemaState) -> Steps:
        # (`sqlite_autoincrement` changes nothing here: SQLite's renderer rebuilds for it.)
        if not self.caps.comments or op.comment is None:
            return []  # nothing to keep it in, or to change
        t = before.table(op.name, op.schema)
        table = sa.Table(t.name, sa.MetaData(), schema=t.schema, comment=op.comment or None)
        return [Step(SetTableComment(table) if op.comment else DropTableComment(table))]

    # --- columns -------------------------------------------------------------------------

    def bound_column(self, t: Table, c: ir.Column) -> sa.Column[Any]:
        """A column attached to a throwaway copy of its table (for column specifications)."""
        col = sa_column(c, t.name)
        sa.Table(t.name, sa.MetaData(), col, schema=t.schema)
        return col

    def op_add_column(self, op: ir.AddColumn, before: SchemaState) -> Steps:
        after = apply(before, op)
        t = after.table(op.table, op.schema)
        c = t.column(op.column.name)
        assert c is not None
        steps = [Step(ddl.AddColumn(self.bound_column(t, c)))]
        return steps + self._new_parts(before.table(op.table, op.schema), t, after)

    def _new_parts(self, old: Table, new: Table, after: SchemaState) -> Steps:
        """Constraints and indexes `new` has that `old` lacks, as ADD/CREATE statements."""
        steps: Steps = []
        uniques = [u for u in new.uniques if u not in old.uniques]
        if uniques:
            table = table_with_refs(after, new)
            steps += [Step(AddConstraint(self._constraint(table, u.name))) for u in uniques]
        steps += [Step(CreateIndex(standalone_index(new, i))) for i in new.indexes
                  if i not in old.indexes]
        return steps

    @staticmethod
    def _constraint(table: sa.Table, name: str | None) -> Any:
        for c in table.constraints:
            if c.name == name:
                return c
        raise LookupError(name)

    def op_drop_column(self, op: ir.DropColumn, before: SchemaState) -> Steps:
        return [Step(ddl.DropColumn(op.table, op.schema, op.name))]

    def op_rename_column(self, op: ir.RenameColumn, before: SchemaState) -> Steps:
        return [Step(ddl.RenameColumn(op.table, op.schema, op.name, op.new_name))]

    def op_alter_column(self, op: ir.AlterColumn, before: SchemaState) -> Steps:
        t = before.table(op.table, op.schema)
        steps: Steps = []
        if op.type is not None:
            # The type as the column has it from now on: with its variants and collation.
            changed = apply(before, op).table(op.table, op.schema).column(op.name)
            assert changed is not None
            steps.append(Step(ddl.AlterColumnType(
                t.name, t.schema, op.name, sa_column(changed, t.name).type, op.using)))
        if op.nullable is not None:
            steps.append(Step(ddl.AlterColumnNullable(t.name, t.schema, op.name, op.nullable)))
        if op.drop_default:
            steps.append(Step(ddl.AlterColumnDefault(t.name, t.schema, op.name, None)))
        elif op.default is not None or op.default_sql is not None:
            # (a default per database: `op_here` gave this database's)
            value = sa.text(str(op.default_sql)) if op.default_sql else literal_default(
                op.default)
            steps.append(Step(ddl.AlterColumnDefault(t.name, t.schema, op.name, value)))
        if op.comment is not None:
            steps.append(Step(ddl.ColumnComment(t.name, t.schema, op.name, op.comment or None)))
        return steps

    # --- indexes and constraints ---------------------------------------------------------

    def op_create_index(self, op: ir.CreateIndex, before: SchemaState) -> Steps:
        t = apply(before, op).table(op.table, op.schema)
        spec = next(i for i in t.indexes if i.name == op.name)
        return [Step(CreateIndex(standalone_index(t, spec)), transactional=not op.concurrently)]

    def op_drop_index(self, op: ir.DropIndex, before: SchemaState) -> Steps:
        t = before.table(op.table, op.schema)
        spec = next(i for i in t.indexes if i.name == op.name)
        return [Step(DropIndex(standalone_index(t, spec)))]

    def _add_constraint(self, op: Any, before: SchemaState) -> Steps:
        after = apply(before, op)
        t = after.table(op.table, op.schema)
        return [Step(AddConstraint(self._constraint(table_with_refs(after, t), op.name)))]

    op_create_unique_constraint = _add_constraint
    op_create_foreign_key = _add_constraint
    op_create_check_constraint = _add_constraint
    op_create_primary_key = _add_constraint

    def op_drop_constraint(self, op: ir.DropConstraint, before: SchemaState) -> Steps:
        t = before.table(op.table, op.schema)
        find_constraint(t, op.name, op.type)
        table = table_with_refs(before, t)
        return [Step(ddl.DropConstraint(self._constraint(table, op.name)))]

    def op_validate_constraint(self, op: ir.ValidateConstraint, before: SchemaState) -> Steps:
        # Only PostgreSQL adds constraints NOT VALID; elsewhere they were checked when added.
        return []

    # --- data and raw SQL ----------------------------------------------------------------

    def op_sql(self, op: ir.Sql, before: SchemaState) -> Steps:
        if not self.dialect.runs_sql(op):
            return []
        # One statement per call: drivers refuse several (MySQL's error 1064, sqlite3). One
        # the database refuses inside a transaction block runs alone, outside any.
        refuses = self.dialect.refuses_transaction
        return [Step(s, transactional=not refuses(s)) for text in op.up
                for s in split_sql(text, self.dialect.sql_syntax)]

    def op_insert_rows(self, op: ir.InsertRows, before: SchemaState) -> Steps:
        t = before.table(op.table, op.schema)
        table = lightweight_table(t)
        return [Step(sa.insert(table).values(row_values(t, row))) for row in op.rows]

    def op_delete_rows(self, op: ir.DeleteRows, before: SchemaState) -> Steps:
        t = before.table(op.table, op.schema)
        table = lightweight_table(t)
        steps: Steps = []
        for row in op.rows:
            values = row_values(t, row)
            cond = [table.c[k].is_(None) if v is None else table.c[k] == v
                    for k, v in values.items()]
            steps.append(Step(sa.delete(table).where(*cond)))
        return steps


def literal_dialect(dialect: Any) -> Any:
    """`dialect`, writing SQL that runs as it stands, without parameters: a percent sign
    stays single. (Drivers with %s placeholders need it doubled only when parameters are
    passed, and schemaflow runs its statements, like the offline script, without any.)"""
    if not dialect.identifier_preparer._double_percents:
        return dialect
    literal = copy.copy(dialect)
    preparer = copy.copy(dialect.identifier_preparer)
    preparer.dialect = literal
    preparer._strings = {}  # quoted names memoised with doubled percents
    preparer._double_percents = False
    literal.identifier_preparer = preparer
    return literal


# The statements of the data language: on a database without transactional DDL they still
# commit or roll back with their transaction (the statements that commit implicitly, DDL,
# LOCK, SET autocommit, CALL of a routine, start with other words). An executable comment
# (`/*! ... */`) is not looked into: such a statement counts as DDL.
_DATA_WORDS = frozenset({"SELECT", "INSERT", "UPDATE", "DELETE", "REPLACE", "WITH", "VALUES"})
_LEADING = re.compile(r"(?:\s+|--[^\n]*(?:\n|$)|#[^\n]*(?:\n|$)|/\*(?!!)[\s\S]*?\*/|\()*")


def data_sql(text: str) -> bool:
    """Whether raw SQL is a data statement (SELECT, INSERT, UPDATE, DELETE, ...)."""
    lead = _LEADING.match(text)
    word = re.match(r"[A-Za-z]+", text[lead.end():] if lead else text)
    return word is not None and word.group(0).upper() in _DATA_WORDS


def commits_with_transaction(step: Step, transactional_ddl: bool) -> bool:
    """Whether `step` takes effect only when the transaction it runs in commits (so that it
    can commit together with a row that records it): any statement that accepts a
    transaction where DDL is transactional, else only data statements."""
    if not step.transactional:
        return False
    if transactional_ddl:
        return True
    if isinstance(step.sql, str):
        return data_sql(step.sql)
    return isinstance(step.sql, sa.sql.dml.UpdateBase)


def compile_step(step: Step, dialect: Any) -> str:
    """The SQL text of a step for `dialect`, with values inlined."""
    if isinstance(step.sql, str):
        return step.sql.strip()
    return str(step.sql.compile(dialect=dialect, compile_kwargs={"literal_binds": True})).strip()


# A generated column whose kind is left to the database (`stored` omitted) is STORED on
# PostgreSQL before 18 and VIRTUAL from 18, as the format says: SQLAlchemy's warning about
# it (once per column, with a line of schemaflow's source) would only reach the terminal.
warnings.filterwarnings("ignore", "Computed column .* is being created as 'STORED'",
                        sa.exc.SAWarning)
